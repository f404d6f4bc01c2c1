// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {Vm} from "forge-std/Vm.sol";

import {KipSettlement} from "../src/KipSettlement.sol";
import {MockUSD} from "../src/MockUSD.sol";
import {IKipAssets} from "../src/interfaces/IKipAssets.sol";
import {IKipSettlementErrors} from "../src/interfaces/IKipSettlement.sol";
import {
    GasBurnerWallet,
    ReturnBombWallet,
    RevertingWallet,
    SignerWallet,
    WrongMagicWallet
} from "./utils/MockWallets.sol";
import {Records} from "./utils/Records.sol";
import {SettlementFixture} from "./utils/SettlementFixture.sol";

contract KipSettlementTest is SettlementFixture {
    address internal payer0;
    uint256 internal constant PAYER0_PK = PAYER_PK_BASE;
    uint256 internal constant KEY0_PK = KEY_PK_BASE;
    uint256 internal constant CAP = 1_000_000;

    function setUp() public {
        _deploy();
        payer0 = _payer(0);
        _fund(payer0, operator, 1_000_000);
    }

    /// @dev Payer 0's session over the four standard slots with one standard query.
    function _tab0() internal view returns (Tab memory t) {
        t = _openTab(0, CAP, _slots4());
        _standardQuery(t);
    }

    // ---------------------------------------------------------------- constants and hashing

    function test_constants_TypeHashesLimitsAndReasons() public view {
        assertEq(settlement.SESSION_TYPEHASH(), SESSION_TYPEHASH);
        assertEq(settlement.VOUCHER_TYPEHASH(), VOUCHER_TYPEHASH);
        assertEq(settlement.REVOKE_DELAY(), 120);
        assertEq(settlement.MAX_SESSION_SLOTS(), 32);
        (, string memory name, string memory version, uint256 chainId, address verifying,,) =
            settlement.eip712Domain();
        assertEq(name, "KIP Settlement");
        assertEq(version, "2");
        assertEq(chainId, block.chainid);
        assertEq(verifying, address(settlement));
        assertEq(settlement.domainSeparator(), _domainSeparator(settlement));
        // The TypeScript side decodes reasons by these values.
        assertEq(uint8(RejectReason.NotOperator), 1);
        assertEq(uint8(RejectReason.SessionInvalid), 2);
        assertEq(uint8(RejectReason.VoucherInvalid), 3);
        assertEq(uint8(RejectReason.Revoked), 4);
        assertEq(uint8(RejectReason.StaleVoucher), 5);
        assertEq(uint8(RejectReason.StateMismatch), 6);
        assertEq(uint8(RejectReason.BadSignature), 7);
        assertEq(uint8(RejectReason.MalformedRecords), 8);
        assertEq(uint8(RejectReason.AboveMax), 9);
        assertEq(uint8(RejectReason.SpendCapExceeded), 10);
        assertEq(uint8(RejectReason.InsufficientBalance), 11);
        assertEq(uint8(RejectReason.UnknownSlot), 12);
    }

    function test_hashSession_IsTheStructHash() public view {
        Session memory s = _sessionOf(0, CAP);
        assertEq(settlement.hashSession(s), _sessionId(s));
        s.operator = stranger;
        assertEq(settlement.hashSession(s), _sessionId(s));
        assertNotEq(settlement.hashSession(s), _sessionId(_sessionOf(0, CAP)));
    }

    function test_voucherDigest_IsTheEip712Digest() public view {
        Voucher memory v = _voucher(_tab0());
        assertEq(settlement.voucherDigest(v), _digest(settlement, _voucherHash(v)));
        v.maxAmounts[3] += 1;
        assertEq(settlement.voucherDigest(v), _digest(settlement, _voucherHash(v)));
    }

    // ---------------------------------------------------------------- constructor and views

    function test_constructor_RevertWhen_BadArguments() public {
        vm.expectRevert(abi.encodeWithSelector(IKipSettlementErrors.InvalidAddress.selector, "token"));
        new KipSettlement(IERC20(address(0)), IKipAssets(address(assets)), treasury, 0, 0, admin);
        vm.expectRevert(abi.encodeWithSelector(IKipSettlementErrors.InvalidAddress.selector, "assets"));
        new KipSettlement(IERC20(address(usd)), IKipAssets(address(0)), treasury, 0, 0, admin);
        vm.expectRevert(abi.encodeWithSelector(IKipSettlementErrors.InvalidTreasury.selector, address(0)));
        new KipSettlement(IERC20(address(usd)), IKipAssets(address(assets)), address(0), 0, 0, admin);
        vm.expectRevert(abi.encodeWithSelector(IKipSettlementErrors.FeeTooHigh.selector, 1001, 1000));
        new KipSettlement(IERC20(address(usd)), IKipAssets(address(assets)), treasury, 1001, 0, admin);
        vm.expectRevert(
            abi.encodeWithSelector(IKipSettlementErrors.WithdrawDelayTooLong.selector, 30 days + 1, 30 days)
        );
        new KipSettlement(IERC20(address(usd)), IKipAssets(address(assets)), treasury, 0, 30 days + 1, admin);
        MockUSD other = new MockUSD();
        vm.expectRevert(
            abi.encodeWithSelector(
                IKipSettlementErrors.PaymentTokenMismatch.selector, address(other), address(usd)
            )
        );
        new KipSettlement(IERC20(address(other)), IKipAssets(address(assets)), treasury, 0, 0, admin);
    }

    function test_views_Configuration() public {
        assertEq(settlement.feeBps(), FEE_BPS);
        assertEq(settlement.treasury(), treasury);
        assertEq(settlement.withdrawDelay(), DELAY);
        assertEq(settlement.paymentToken(), address(usd));
        assertEq(settlement.assets(), address(assets));
        assertEq(settlement.owner(), admin);
        KipSettlement longest =
            new KipSettlement(IERC20(address(usd)), IKipAssets(address(assets)), treasury, 0, 30 days, admin);
        assertEq(longest.withdrawDelay(), longest.MAX_WITHDRAW_DELAY());
    }

    // ---------------------------------------------------------------- deposits

    function test_deposit_CreditsBalanceWithThatOperatorOnly() public {
        usd.mint(payer0, 500);
        vm.startPrank(payer0);
        usd.approve(address(settlement), 500);
        vm.expectEmit(address(settlement));
        emit Deposited(payer0, stranger, 500, 500);
        settlement.deposit(stranger, 500);
        vm.stopPrank();
        assertEq(settlement.balanceOf(payer0, stranger), 500);
        assertEq(settlement.balanceOf(payer0, operator), 1_000_000);
        assertEq(settlement.totalDeposits(), 1_000_500);
        assertEq(usd.balanceOf(address(settlement)), 1_000_500);
    }

    function test_deposit_RevertWhen_ZeroAmountOrOperator() public {
        vm.expectRevert(IKipSettlementErrors.ZeroAmount.selector);
        settlement.deposit(operator, 0);
        vm.expectRevert(abi.encodeWithSelector(IKipSettlementErrors.InvalidAddress.selector, "operator"));
        settlement.deposit(address(0), 1);
    }

    function test_deposit_RevertWhen_TotalWouldPass128Bits() public {
        uint256 room = type(uint128).max - settlement.totalDeposits();
        vm.expectRevert(abi.encodeWithSelector(IKipSettlementErrors.AmountTooLarge.selector, room + 1));
        settlement.deposit(operator, room + 1);
        vm.expectRevert(
            abi.encodeWithSelector(IKipSettlementErrors.AmountTooLarge.selector, type(uint256).max)
        );
        settlement.deposit(operator, type(uint256).max);
    }

    function test_depositWithPermit_CreditsBalance() public {
        address payer = _payer(5);
        usd.mint(payer, 700);
        uint256 deadline = block.timestamp + 1 hours;
        bytes32 structHash = keccak256(
            abi.encode(
                keccak256(
                    "Permit(address owner,address spender,uint256 value,uint256 nonce,uint256 deadline)"
                ),
                payer,
                address(settlement),
                700,
                0,
                deadline
            )
        );
        bytes32 digest = keccak256(abi.encodePacked("\x19\x01", usd.DOMAIN_SEPARATOR(), structHash));
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(PAYER_PK_BASE + 5, digest);
        vm.prank(payer);
        settlement.depositWithPermit(operator, 700, deadline, v, r, s);
        assertEq(settlement.balanceOf(payer, operator), 700);
        // A permit already used (front-run) does not block a deposit that has the allowance.
        usd.mint(payer, 1);
        vm.prank(payer);
        usd.approve(address(settlement), 1);
        vm.prank(payer);
        settlement.depositWithPermit(operator, 1, deadline, v, r, s);
        assertEq(settlement.balanceOf(payer, operator), 701);
    }

    // ---------------------------------------------------------------- withdrawals

    function test_withdraw_AfterDelayOnly() public {
        vm.expectEmit(address(settlement));
        emit WithdrawalRequested(payer0, operator, 400, block.timestamp + DELAY);
        vm.prank(payer0);
        settlement.requestWithdraw(operator, 400);
        assertEq(settlement.withdrawalOf(payer0, operator).amount, 400);
        assertEq(settlement.withdrawalOf(payer0, operator).readyAt, block.timestamp + DELAY);
        vm.warp(block.timestamp + DELAY - 1);
        vm.expectRevert(
            abi.encodeWithSelector(
                IKipSettlementErrors.WithdrawalNotReady.selector, payer0, block.timestamp + 1
            )
        );
        vm.prank(payer0);
        settlement.withdraw(operator);
        vm.warp(block.timestamp + 1);
        vm.expectEmit(address(settlement));
        emit Withdrawn(payer0, operator, 400);
        vm.prank(payer0);
        assertEq(settlement.withdraw(operator), 400);
        assertEq(usd.balanceOf(payer0), 400);
        assertEq(settlement.balanceOf(payer0, operator), 1_000_000 - 400);
        assertEq(settlement.totalDeposits(), 1_000_000 - 400);
        assertEq(settlement.withdrawalOf(payer0, operator).amount, 0);
    }

    function test_requestWithdraw_RevertWhen_ZeroOrAboveBalance() public {
        vm.expectRevert(IKipSettlementErrors.ZeroAmount.selector);
        vm.prank(payer0);
        settlement.requestWithdraw(operator, 0);
        vm.expectRevert(
            abi.encodeWithSelector(
                IKipSettlementErrors.InsufficientBalance.selector, payer0, 1_000_000, 1_000_001
            )
        );
        vm.prank(payer0);
        settlement.requestWithdraw(operator, 1_000_001);
        // The balance with another operator is separate.
        vm.expectRevert(
            abi.encodeWithSelector(IKipSettlementErrors.InsufficientBalance.selector, payer0, 0, 1)
        );
        vm.prank(payer0);
        settlement.requestWithdraw(stranger, 1);
    }

    function test_cancelWithdraw_ClearsRequest() public {
        vm.prank(payer0);
        settlement.requestWithdraw(operator, 10);
        vm.expectEmit(address(settlement));
        emit WithdrawalCancelled(payer0, operator);
        vm.prank(payer0);
        settlement.cancelWithdraw(operator);
        assertEq(settlement.withdrawalOf(payer0, operator).amount, 0);
        vm.expectRevert(abi.encodeWithSelector(IKipSettlementErrors.NoWithdrawalRequested.selector, payer0));
        vm.prank(payer0);
        settlement.cancelWithdraw(operator);
        vm.expectRevert(abi.encodeWithSelector(IKipSettlementErrors.NoWithdrawalRequested.selector, payer0));
        vm.prank(payer0);
        settlement.withdraw(operator);
    }

    function test_withdraw_RequestsArePerOperator() public {
        _fund(payer0, stranger, 300);
        vm.prank(payer0);
        settlement.requestWithdraw(stranger, 300);
        assertEq(settlement.withdrawalOf(payer0, operator).amount, 0);
        vm.warp(block.timestamp + DELAY);
        vm.expectRevert(abi.encodeWithSelector(IKipSettlementErrors.NoWithdrawalRequested.selector, payer0));
        vm.prank(payer0);
        settlement.withdraw(operator);
        vm.prank(payer0);
        assertEq(settlement.withdraw(stranger), 300);
        assertEq(settlement.balanceOf(payer0, operator), 1_000_000);
        assertEq(settlement.balanceOf(payer0, stranger), 0);
    }

    /// The payer asks for everything back; the operator settles what it admitted within the delay; the payer
    /// then gets exactly the unspent rest, and not a moment before the delay.
    function test_withdraw_RacingSettlementPaysUnspentBalance() public {
        Tab memory t = _tab0();
        _standardQuery(t);
        vm.prank(payer0);
        settlement.requestWithdraw(operator, 1_000_000);
        vm.warp(block.timestamp + DELAY / 2);
        vm.expectRevert(
            abi.encodeWithSelector(
                IKipSettlementErrors.WithdrawalNotReady.selector, payer0, block.timestamp + DELAY / 2
            )
        );
        vm.prank(payer0);
        settlement.withdraw(operator);
        assertTrue(_settleTab(t), "the operator settles within the delay");
        vm.warp(block.timestamp + DELAY / 2);
        vm.prank(payer0);
        assertEq(settlement.withdraw(operator), 1_000_000 - 2 * STANDARD_TOTAL);
        assertEq(usd.balanceOf(payer0), 1_000_000 - 2 * STANDARD_TOTAL);
        assertEq(settlement.balanceOf(payer0, operator), 0);
        assertEq(settlement.totalDeposits(), 0);
        assertEq(usd.balanceOf(address(settlement)), 2 * STANDARD_FEES);
    }

    // ---------------------------------------------------------------- fees (owner)

    function test_setFeeBps_OwnerOnlyAndCapped() public {
        vm.expectEmit(address(settlement));
        emit FeeBpsUpdated(FEE_BPS, 1000);
        vm.prank(admin);
        settlement.setFeeBps(1000);
        assertEq(settlement.feeBps(), 1000);
        vm.expectRevert(abi.encodeWithSelector(IKipSettlementErrors.FeeTooHigh.selector, 1001, 1000));
        vm.prank(admin);
        settlement.setFeeBps(1001);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, operator));
        vm.prank(operator);
        settlement.setFeeBps(1);
    }

    function test_setTreasury_OwnerOnlyNonZero() public {
        vm.expectEmit(address(settlement));
        emit TreasuryUpdated(treasury, payer0);
        vm.prank(admin);
        settlement.setTreasury(payer0);
        assertEq(settlement.treasury(), payer0);
        vm.expectRevert(abi.encodeWithSelector(IKipSettlementErrors.InvalidTreasury.selector, address(0)));
        vm.prank(admin);
        settlement.setTreasury(address(0));
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, payer0));
        vm.prank(payer0);
        settlement.setTreasury(payer0);
    }

    function test_withdrawFees_PaysTreasury() public {
        assertEq(settlement.withdrawFees(), 0);
        _settleTab(_tab0());
        assertEq(settlement.feesAccrued(), STANDARD_FEES);
        vm.expectEmit(address(settlement));
        emit FeesWithdrawn(treasury, STANDARD_FEES);
        assertEq(settlement.withdrawFees(), STANDARD_FEES);
        assertEq(usd.balanceOf(treasury), STANDARD_FEES);
        assertEq(settlement.feesAccrued(), 0);
        assertEq(usd.balanceOf(address(settlement)), settlement.totalDeposits());
    }

    // ---------------------------------------------------------------- settle: what it does

    function test_settle_ChargesSlotsAndCreditsNet() public {
        Tab memory t = _tab0();
        bytes32 id = _id(t);
        vm.expectEmit(address(settlement));
        emit SessionRegistered(id, payer0, _key(0), operator, CAP, t.session.expiry, 1);
        vm.expectEmit(address(settlement));
        emit SessionSettled(id, payer0, 1, 1, STANDARD_TOTAL);
        vm.expectEmit(address(settlement));
        emit BatchSettled(operator, 1, 0, STANDARD_TOTAL, STANDARD_FEES);
        (uint256 settled, uint256 rejected) = _settleAs(operator, _items1(_item(t)));
        assertEq(settled, 1);
        assertEq(rejected, 0);
        uint256[] memory expected = new uint256[](4);
        expected[0] = 20_000;
        expected[1] = 12_000;
        expected[2] = 5000;
        assertEq(settlement.sessionState(id), _stateHash(1, _slots4(), expected));
        assertEq(settlement.balanceOf(payer0, operator), 1_000_000 - STANDARD_TOTAL);
        assertEq(settlement.totalDeposits(), 1_000_000 - STANDARD_TOTAL);
        // Per slot: gross less 2.5 %.
        assertEq(assets.claimable(1), 19_500);
        assertEq(assets.claimable(2), 11_700);
        assertEq(assets.claimable(3), 4875);
        assertEq(assets.claimable(4), 0);
        assertEq(assets.slotInfo(DATA_B).revenue, 0);
        assertEq(usd.balanceOf(address(assets)), STANDARD_TOTAL - STANDARD_FEES);
        assertEq(usd.balanceOf(address(settlement)), settlement.totalDeposits() + settlement.feesAccrued());
    }

    function test_settle_NextSettlementBuildsOnStateWithoutSessionSignature() public {
        Tab memory t = _tab0();
        _standardQuery(t);
        assertTrue(_settleTab(t));
        _standardQuery(t);
        _standardQuery(t);
        _standardQuery(t);
        SessionSettlement memory item = _item(t);
        assertEq(item.sessionSignature.length, 0);
        assertEq(item.prevSeq, 2);
        vm.recordLogs();
        vm.expectEmit(address(settlement));
        emit SessionSettled(_id(t), payer0, 5, 3, 3 * STANDARD_TOTAL);
        (uint256 settled,) = _settleAs(operator, _items1(item));
        assertEq(settled, 1);
        Vm.Log[] memory logs = vm.getRecordedLogs();
        for (uint256 i; i < logs.length; ++i) {
            assertNotEq(logs[i].topics[0], SessionRegistered.selector, "registered once");
        }
        _commit(t);
        assertEq(settlement.sessionState(_id(t)), _stateHash(5, t.slots, t.prevSettled));
        assertEq(t.prevSettled[0], 5 * 20_000);
        assertEq(settlement.balanceOf(payer0, operator), 1_000_000 - 5 * STANDARD_TOTAL);
        assertEq(assets.slotInfo(APP).revenue, 5 * 19_500);
    }

    function test_settle_ZeroRecordsAdvanceSeq() public {
        Tab memory t = _openTab(0, CAP, _slots4());
        _voidQuery(t);
        _voidQuery(t);
        vm.recordLogs();
        assertTrue(_settleTab(t));
        Vm.Log[] memory logs = vm.getRecordedLogs();
        for (uint256 i; i < logs.length; ++i) {
            assertNotEq(logs[i].emitter, address(assets), "nothing credited");
        }
        assertEq(settlement.sessionState(_id(t)), _stateHash(2, _slots4(), new uint256[](4)));
        assertEq(settlement.balanceOf(payer0, operator), 1_000_000);
        // The next query builds on seq 2.
        _standardQuery(t);
        assertTrue(_settleTab(t));
        assertEq(settlement.balanceOf(payer0, operator), 1_000_000 - STANDARD_TOTAL);
    }

    function test_settle_FewerRecordsThanSeqs() public {
        Tab memory t = _tab0();
        _voidQuery(t); // a failed answer: seq used, no record
        _standardQuery(t);
        assertEq(t.seq, 3);
        assertEq(t.recordCount, 2);
        vm.expectEmit(address(settlement));
        emit SessionSettled(_id(t), payer0, 3, 2, 2 * STANDARD_TOTAL);
        assertTrue(_settleTab(t));
    }

    function test_settle_SlotListGrowsAppendOnly() public {
        uint256[] memory two = new uint256[](2);
        two[0] = APP;
        two[1] = MODEL;
        Tab memory t = _openTab(0, CAP, two);
        uint256[] memory maxes = new uint256[](2);
        maxes[0] = APP_PRICE;
        maxes[1] = MODEL_MAX;
        uint64[] memory amounts = new uint64[](2);
        amounts[0] = 20_000;
        amounts[1] = 9000;
        _query(t, maxes, 0x3, amounts);
        assertTrue(_settleTab(t));
        // A dataset joins the session: appended to the list.
        _addSlot(t, DATA_B);
        maxes = new uint256[](3);
        maxes[0] = APP_PRICE;
        maxes[1] = MODEL_MAX;
        maxes[2] = DATA_PRICE;
        amounts = new uint64[](3);
        amounts[0] = 20_000;
        amounts[1] = 9000;
        amounts[2] = 5000;
        _query(t, maxes, 0x7, amounts);
        assertEq(_item(t).prevSettled.length, 2);
        assertTrue(_settleTab(t));
        assertEq(settlement.sessionState(_id(t)), _stateHash(2, t.slots, t.prevSettled));
        assertEq(assets.slotInfo(DATA_B).revenue, 4875);
    }

    function test_settle_RejectWhen_SlotListReorderedOrShrunk() public {
        Tab memory t = _tab0();
        assertTrue(_settleTab(t));
        _standardQuery(t);
        SessionSettlement memory item = _item(t);
        // Swap the two datasets (and their maxima): the stored state commits to the old order.
        (item.voucher.slots[2], item.voucher.slots[3]) = (item.voucher.slots[3], item.voucher.slots[2]);
        _resignVoucher(item, KEY0_PK);
        _assertRejected(operator, item, RejectReason.StateMismatch);
        // Drop the last slot: the previous amounts no longer fit the list.
        item = _item(t);
        item.voucher.slots = _slice(item.voucher.slots, 3);
        item.voucher.maxAmounts = _slice(item.voucher.maxAmounts, 3);
        item.records = "";
        _resignVoucher(item, KEY0_PK);
        _assertRejected(operator, item, RejectReason.StateMismatch);
        assertTrue(_settleTab(t));
    }

    function test_settle_RevertWhen_NoItems() public {
        vm.expectRevert(IKipSettlementErrors.EmptyBatch.selector);
        _settleAs(operator, new SessionSettlement[](0));
    }

    function test_settle_SameSessionTwiceInOneBatch() public {
        Tab memory t = _tab0();
        SessionSettlement memory first = _item(t);
        // Built on the same (empty) state as the first: the state has moved on by then.
        _standardQuery(t);
        SessionSettlement memory stale = _item(t);
        vm.recordLogs();
        (uint256 settled, uint256 rejected) = _settleAs(operator, _items2(first, stale));
        assertEq(settled, 1);
        assertEq(rejected, 1);
        assertEq(_rejectReasons(vm.getRecordedLogs())[0], uint8(RejectReason.StateMismatch));
        assertEq(settlement.balanceOf(payer0, operator), 1_000_000 - STANDARD_TOTAL);
        // Built on the first item's state instead, the second settles in the same batch.
        Tab memory u = _openTab(1, CAP, _slots4());
        _fund(_payer(1), operator, 1_000_000);
        _standardQuery(u);
        SessionSettlement memory a = _item(u);
        _commit(u);
        _standardQuery(u);
        (settled, rejected) = _settleAs(operator, _items2(a, _item(u)));
        assertEq(settled, 2);
        assertEq(settlement.balanceOf(_payer(1), operator), 1_000_000 - 2 * STANDARD_TOTAL);
    }

    function test_settle_SessionsOfOnePayerShareItsBalance() public {
        address payer = _payer(2);
        _fund(payer, operator, 50_000);
        Tab memory a = _openTab(2, CAP, _slots4());
        _standardQuery(a);
        Session memory s = _sessionOf(2, CAP);
        s.nonce = 2;
        Tab memory b = _openTabWith(
            settlement, s, _signSession(settlement, s, PAYER_PK_BASE + 2), KEY_PK_BASE + 2, _slots4()
        );
        _standardQuery(b);
        vm.recordLogs();
        (uint256 settled, uint256 rejected) = _settleAs(operator, _items2(_item(a), _item(b)));
        assertEq(settled, 1);
        assertEq(rejected, 1);
        assertEq(_rejectReasons(vm.getRecordedLogs())[0], uint8(RejectReason.InsufficientBalance));
        assertEq(settlement.balanceOf(payer, operator), 50_000 - STANDARD_TOTAL);
    }

    function test_settle_BalancesArePerPayerAndOperator() public {
        // Payer 0 has 1_000_000 with `operator` and nothing with `stranger`: a session naming `stranger`
        // cannot spend the deposit made for `operator`.
        Session memory s = _sessionOf(0, CAP);
        s.operator = stranger;
        Tab memory t = _openTabWith(settlement, s, _signSession(settlement, s, PAYER0_PK), KEY0_PK, _slots4());
        _standardQuery(t);
        _assertRejected(stranger, _item(t), RejectReason.InsufficientBalance);
        _fund(payer0, stranger, STANDARD_TOTAL);
        (uint256 settled,) = _settleAs(stranger, _items1(_item(t)));
        assertEq(settled, 1);
        assertEq(settlement.balanceOf(payer0, stranger), 0);
        assertEq(settlement.balanceOf(payer0, operator), 1_000_000);
        // And the other way round: `operator` cannot settle the session naming `stranger`.
        _commit(t);
        _standardQuery(t);
        _assertRejected(operator, _item(t), RejectReason.NotOperator);
    }

    // ---------------------------------------------------------------- settle: each reason

    function test_settle_RejectWhen_NotOperator() public {
        _assertRejected(stranger, _item(_tab0()), RejectReason.NotOperator);
        _assertRejected(payer0, _item(_tab0()), RejectReason.NotOperator);
        _assertRejected(_key(0), _item(_tab0()), RejectReason.NotOperator);
    }

    function test_settle_RejectWhen_SessionFieldsInvalid() public {
        SessionSettlement memory item = _item(_tab0());
        item.session.key = address(0);
        _resign(item, PAYER0_PK, KEY0_PK);
        _assertRejected(operator, item, RejectReason.SessionInvalid);

        item = _item(_tab0());
        item.session.spendCap = uint256(type(uint128).max) + 1;
        _resign(item, PAYER0_PK, KEY0_PK);
        _assertRejected(operator, item, RejectReason.SessionInvalid);

        item = _item(_tab0());
        item.session.expiry = uint256(type(uint40).max) + 1;
        _resign(item, PAYER0_PK, KEY0_PK);
        _assertRejected(operator, item, RejectReason.SessionInvalid);

        item = _item(_tab0());
        item.session.nonce = uint256(type(uint64).max) + 1;
        _resign(item, PAYER0_PK, KEY0_PK);
        _assertRejected(operator, item, RejectReason.SessionInvalid);

        // The widest values that fit are fine.
        item = _item(_tab0());
        item.session.spendCap = type(uint128).max;
        item.session.expiry = type(uint40).max;
        item.session.nonce = type(uint64).max;
        _resign(item, PAYER0_PK, KEY0_PK);
        (uint256 settled,) = _settleAs(operator, _items1(item));
        assertEq(settled, 1);
    }

    function test_settle_RejectWhen_ZeroPayer() public {
        SessionSettlement memory item = _item(_tab0());
        item.session.payer = address(0);
        _resign(item, PAYER0_PK, KEY0_PK);
        _assertRejected(operator, item, RejectReason.SessionInvalid);
    }

    function test_settle_RejectWhen_SessionSignatureMissingOrWrong() public {
        SessionSettlement memory item = _item(_tab0());
        item.sessionSignature = "";
        _assertRejected(operator, item, RejectReason.SessionInvalid);
        // Signed by someone else than the payer.
        item.sessionSignature = _signSession(settlement, item.session, PAYER_PK_BASE + 1);
        _assertRejected(operator, item, RejectReason.SessionInvalid);
        // The payer signed a smaller cap than the item claims.
        item = _item(_tab0());
        item.session.spendCap = CAP + 1;
        item.voucher.session = _sessionId(item.session);
        _resignVoucher(item, KEY0_PK);
        _assertRejected(operator, item, RejectReason.SessionInvalid);
        // Not 65 bytes.
        item = _item(_tab0());
        item.sessionSignature = bytes.concat(item.sessionSignature, hex"00");
        _assertRejected(operator, item, RejectReason.SessionInvalid);
        assertEq(settlement.sessionState(_sessionId(item.session)), bytes32(0));
    }

    function test_settle_RejectWhen_VoucherInvalid() public {
        SessionSettlement memory item = _item(_tab0());
        item.voucher.session = keccak256("another session");
        _resignVoucher(item, KEY0_PK);
        _assertRejected(operator, item, RejectReason.VoucherInvalid);

        item = _item(_tab0());
        item.voucher.maxAmounts = _slice(item.voucher.maxAmounts, 3);
        _resignVoucher(item, KEY0_PK);
        _assertRejected(operator, item, RejectReason.VoucherInvalid);

        item = _item(_tab0());
        item.voucher.slots = new uint256[](0);
        item.voucher.maxAmounts = new uint256[](0);
        item.records = "";
        _resignVoucher(item, KEY0_PK);
        _assertRejected(operator, item, RejectReason.VoucherInvalid);

        item = _item(_tab0());
        item.voucher.slots[3] = 0;
        _resignVoucher(item, KEY0_PK);
        _assertRejected(operator, item, RejectReason.VoucherInvalid);

        item = _item(_tab0());
        item.voucher.issuedAt = item.session.expiry + 1;
        _resignVoucher(item, KEY0_PK);
        _assertRejected(operator, item, RejectReason.VoucherInvalid);
    }

    function test_settle_SlotListOf32SettlesAnd33IsInvalid() public {
        uint256[] memory slots = new uint256[](32);
        for (uint256 i; i < 32; ++i) {
            slots[i] = 1 + i % 4;
        }
        Tab memory t = _openTab(0, CAP, slots);
        uint256[] memory maxes = new uint256[](32);
        maxes[31] = 100;
        _query(t, maxes, uint32(1 << 31), _u64s(100));
        SessionSettlement memory item = _item(t);
        // A 33rd slot.
        SessionSettlement memory wide = _item(t);
        wide.voucher.slots = new uint256[](33);
        wide.voucher.maxAmounts = new uint256[](33);
        for (uint256 i; i < 33; ++i) {
            wide.voucher.slots[i] = APP;
        }
        _resignVoucher(wide, KEY0_PK);
        _assertRejected(operator, wide, RejectReason.VoucherInvalid);
        (uint256 settled,) = _settleAs(operator, _items1(item));
        assertEq(settled, 1);
        assertEq(assets.slotInfo(DATA_B).revenue, 100 - 2); // slot index 31 is DATA_B; fee 2.5 rounded down
    }

    function test_settle_RejectWhen_StaleVoucher() public {
        Tab memory t = _tab0();
        _standardQuery(t);
        assertTrue(_settleTab(t));
        // The same voucher again, built on the state it created.
        t.seq = 2;
        t.records = "";
        SessionSettlement memory item = _item(t);
        assertEq(item.voucher.seq, item.prevSeq);
        _assertRejected(operator, item, RejectReason.StaleVoucher);
        // An older one.
        item.voucher.seq = 1;
        _resignVoucher(item, KEY0_PK);
        _assertRejected(operator, item, RejectReason.StaleVoucher);
    }

    function test_settle_RejectWhen_StateMismatch() public {
        Tab memory t = _tab0();
        // First settlement: there is no previous state to claim.
        SessionSettlement memory item = _item(t);
        item.prevSeq = 0;
        item.prevSettled = new uint256[](1);
        _assertRejected(operator, item, RejectReason.StateMismatch);
        _standardQuery(t);
        item = _item(t);
        item.prevSeq = 1;
        _assertRejected(operator, item, RejectReason.StateMismatch);

        t = _tab0();
        assertTrue(_settleTab(t));
        _standardQuery(t);
        // Claims that less was settled than was (to charge more later).
        item = _item(t);
        item.prevSettled[0] -= 1;
        _assertRejected(operator, item, RejectReason.StateMismatch);
        // Claims an older seq than the state's, with more records.
        item = _item(t);
        item.prevSeq = 0;
        _assertRejected(operator, item, RejectReason.StateMismatch);
        // More previous amounts than slots.
        item = _item(t);
        item.prevSettled = new uint256[](5);
        _assertRejected(operator, item, RejectReason.StateMismatch);
        assertTrue(_settleTab(t));
    }

    function test_settle_RejectWhen_BadSignature() public {
        SessionSettlement memory item = _item(_tab0());
        // Signed by another key.
        _resignVoucher(item, KEY_PK_BASE + 1);
        _assertRejected(operator, item, RejectReason.BadSignature);
        // Changed after signing.
        item = _item(_tab0());
        item.voucher.maxAmounts[0] += 1;
        _assertRejected(operator, item, RejectReason.BadSignature);
        // Not 65 bytes (the compact 64-byte form is refused too).
        item = _item(_tab0());
        bytes memory sig = item.voucherSignature;
        item.voucherSignature = bytes.concat(sig, hex"00");
        _assertRejected(operator, item, RejectReason.BadSignature);
        item.voucherSignature = _slice(sig, 64);
        _assertRejected(operator, item, RejectReason.BadSignature);
        // v out of range.
        item.voucherSignature = bytes.concat(_slice(sig, 64), bytes1(uint8(sig[64]) - 27));
        _assertRejected(operator, item, RejectReason.BadSignature);
        // The payer's wallet key is not the session key.
        item = _item(_tab0());
        _resignVoucher(item, PAYER0_PK);
        _assertRejected(operator, item, RejectReason.BadSignature);
    }

    function test_settle_RejectWhen_MalformedRecords() public {
        Tab memory t = _tab0();
        bytes memory good = t.records; // one record: 45 + 3 * 8 = 69 bytes
        assertEq(good.length, 69);

        SessionSettlement memory item = _item(t);
        item.records = _slice(good, 68); // truncated amount
        _assertRejected(operator, item, RejectReason.MalformedRecords);
        item.records = _slice(good, 44); // truncated head
        _assertRejected(operator, item, RejectReason.MalformedRecords);
        item.records = bytes.concat(good, hex"00"); // an extra byte
        _assertRejected(operator, item, RejectReason.MalformedRecords);
        item.records = bytes.concat(good, good); // two records for one seq
        _assertRejected(operator, item, RejectReason.MalformedRecords);

        // App index past the slot list (4 slots: index 4).
        bytes memory badApp = _copyBytes(good);
        badApp[0] = 0x04;
        item.records = badApp;
        _assertRejected(operator, item, RejectReason.MalformedRecords);

        // Mask bit 4 set: past the slot list (with its amount present).
        Records.Record memory r = Records.dense(0, new uint64[](5), bytes32(0));
        item.records = Records.pack(r);
        _assertRejected(operator, item, RejectReason.MalformedRecords);
        // The highest mask bit.
        r = Records.Record(0, uint32(1 << 31), 0, 0, bytes32(0), _u64s(1));
        item.records = Records.pack(r);
        _assertRejected(operator, item, RejectReason.MalformedRecords);

        // The untouched item settles.
        assertTrue(_settleTab(t));
    }

    function test_settle_RejectWhen_AboveMax() public {
        Tab memory t = _tab0();
        SessionSettlement memory item = _item(t);
        // The app was signed 20_000 for this query; the records claim 20_001.
        Records.Record memory r = Records.Record(0, 0x1, 0, 0, bytes32(0), _u64s(20_001));
        item.records = Records.pack(r);
        _assertRejected(operator, item, RejectReason.AboveMax);
        // Exactly the maximum settles.
        r.amounts[0] = 20_000;
        item.records = Records.pack(r);
        (uint256 settled,) = _settleAs(operator, _items1(item));
        assertEq(settled, 1);
    }

    function test_settle_RejectWhen_SpendCapExceeded() public {
        Tab memory t = _openTab(0, STANDARD_TOTAL * 2 - 1, _slots4());
        _standardQuery(t);
        assertTrue(_settleTab(t));
        _standardQuery(t);
        // Each slot is within its maximum; the session's total would be 2 * 37_000 > cap.
        _assertRejected(operator, _item(t), RejectReason.SpendCapExceeded);
    }

    function test_settle_RejectWhen_InsufficientBalance() public {
        address payer = _payer(3);
        _fund(payer, operator, STANDARD_TOTAL - 1);
        Tab memory t = _openTab(3, CAP, _slots4());
        _standardQuery(t);
        _assertRejected(operator, _item(t), RejectReason.InsufficientBalance);
        _fund(payer, operator, 1);
        assertTrue(_settleTab(t));
        assertEq(settlement.balanceOf(payer, operator), 0);
    }

    function test_settle_RejectWhen_UnknownSlot() public {
        uint256[] memory slots = _slots4();
        slots[3] = 99;
        Tab memory t = _openTab(0, CAP, slots);
        _standardQuery(t); // slot 99 (index 3) is signed but not charged
        assertTrue(_settleTab(t), "an unknown slot charged nothing is fine");
        uint256[] memory maxes = new uint256[](4);
        maxes[3] = 1;
        _query(t, maxes, 0x8, _u64s(1));
        _assertRejected(operator, _item(t), RejectReason.UnknownSlot);
    }

    /// Breaks a good item one check at a time, from the last check to the first: each time the newest break
    /// (the earliest check) is the reason reported.
    function test_settle_ReasonOrder_FirstFailingCheckIsReported() public {
        address payer = _payer(4);
        _fund(payer, operator, 10_000);
        uint256[] memory slots = new uint256[](2);
        slots[0] = APP;
        slots[1] = 99;
        Tab memory t = _openTab(4, CAP, slots);
        uint256[] memory maxes = new uint256[](2);
        maxes[0] = 1000;
        maxes[1] = 500;
        uint64[] memory amounts = new uint64[](2);
        amounts[0] = 1000;
        amounts[1] = 500;
        _query(t, maxes, 0x3, amounts);
        SessionSettlement memory item = _item(t);
        uint256 payerPk = PAYER_PK_BASE + 4;
        uint256 keyPk = KEY_PK_BASE + 4;
        _assertRejected(operator, item, RejectReason.UnknownSlot);

        item.voucher.maxAmounts[0] = 20_000;
        amounts[0] = 20_000;
        item.records = Records.pack(Records.Record(0, 0x3, 0, 0, bytes32(0), amounts));
        _resignVoucher(item, keyPk);
        _assertRejected(operator, item, RejectReason.InsufficientBalance);

        item.session.spendCap = 15_000;
        _resign(item, payerPk, keyPk);
        _assertRejected(operator, item, RejectReason.SpendCapExceeded);

        item.voucher.maxAmounts[0] = 19_999;
        _resignVoucher(item, keyPk);
        _assertRejected(operator, item, RejectReason.AboveMax);

        item.records = bytes.concat(item.records, hex"00");
        _assertRejected(operator, item, RejectReason.MalformedRecords);

        _resignVoucher(item, keyPk + 1);
        _assertRejected(operator, item, RejectReason.BadSignature);

        item.voucher.seq = 2;
        item.prevSeq = 1; // the session never settled: no previous state
        _assertRejected(operator, item, RejectReason.StateMismatch);

        item.prevSeq = 2;
        _assertRejected(operator, item, RejectReason.StaleVoucher);

        vm.prank(payer);
        settlement.revokeSession(item.session);
        vm.warp(block.timestamp + 120);
        item.voucher.issuedAt = block.timestamp;
        _assertRejected(operator, item, RejectReason.Revoked);

        item.voucher.session = bytes32(0);
        _assertRejected(operator, item, RejectReason.VoucherInvalid);

        item.sessionSignature[10] = item.sessionSignature[10] ^ bytes1(0x01);
        _assertRejected(operator, item, RejectReason.SessionInvalid);

        _assertRejected(stranger, item, RejectReason.NotOperator);
    }

    /// Every kind of bad item in one batch: each is skipped with its reason, the good ones settle.
    function test_settle_BadItemsAreSkippedOthersSettle() public {
        SessionSettlement[] memory items = new SessionSettlement[](8);
        for (uint256 i = 1; i <= 8; ++i) {
            _fund(_payer(i), operator, 1_000_000);
            Tab memory t = _openTab(i, CAP, _slots4());
            _standardQuery(t);
            items[i - 1] = _item(t);
        }
        items[1].records = _slice(items[1].records, 50); // truncated
        items[2].records = bytes.concat(items[2].records, hex"ff"); // extra bytes
        items[3].voucher.slots[0] = 99; // an unknown slot, charged
        _resignVoucher(items[3], KEY_PK_BASE + 4);
        items[4].sessionSignature = _signSession(settlement, items[4].session, PAYER_PK_BASE + 99);
        Records.Record memory r = Records.dense(0, new uint64[](5), bytes32(0)); // a mask bit past the slots
        items[6].records = Records.pack(r);
        vm.recordLogs();
        (uint256 settled, uint256 rejected) = _settleAs(operator, items);
        assertEq(settled, 3);
        assertEq(rejected, 5);
        uint8[] memory reasons = _rejectReasons(vm.getRecordedLogs());
        assertEq(reasons.length, 5);
        assertEq(reasons[0], uint8(RejectReason.MalformedRecords));
        assertEq(reasons[1], uint8(RejectReason.MalformedRecords));
        assertEq(reasons[2], uint8(RejectReason.UnknownSlot));
        assertEq(reasons[3], uint8(RejectReason.SessionInvalid));
        assertEq(reasons[4], uint8(RejectReason.MalformedRecords));
        uint256[9] memory charged =
            [uint256(0), STANDARD_TOTAL, 0, 0, 0, 0, STANDARD_TOTAL, 0, STANDARD_TOTAL];
        for (uint256 i = 1; i <= 8; ++i) {
            assertEq(settlement.balanceOf(_payer(i), operator), 1_000_000 - charged[i]);
        }
        assertEq(assets.slotInfo(APP).revenue, 3 * 19_500);
    }

    // ---------------------------------------------------------------- revocation

    function test_revokeSession_OnlyPayerOrKey() public {
        Session memory s = _sessionOf(0, CAP);
        bytes32 id = _sessionId(s);
        address[2] memory others = [stranger, operator];
        for (uint256 i; i < others.length; ++i) {
            vm.expectRevert(
                abi.encodeWithSelector(IKipSettlementErrors.NotPayerOrKey.selector, id, others[i])
            );
            vm.prank(others[i]);
            settlement.revokeSession(s);
        }
        assertEq(settlement.revokedAt(id), 0);
        vm.expectEmit(address(settlement));
        emit SessionRevoked(id, payer0, block.timestamp + 120);
        vm.prank(payer0);
        settlement.revokeSession(s);
        assertEq(settlement.revokedAt(id), block.timestamp + 120);
        // The key may revoke its own session too.
        s.nonce = 2;
        vm.prank(_key(0));
        settlement.revokeSession(s);
        assertEq(settlement.revokedAt(_sessionId(s)), block.timestamp + 120);
    }

    function test_revokeSession_AgainKeepsTheFirstTime() public {
        Session memory s = _sessionOf(0, CAP);
        bytes32 id = _sessionId(s);
        uint256 first = block.timestamp + 120;
        vm.prank(payer0);
        settlement.revokeSession(s);
        vm.warp(block.timestamp + 1000);
        vm.recordLogs();
        vm.prank(_key(0));
        settlement.revokeSession(s);
        vm.prank(payer0);
        settlement.revokeSession(s);
        assertEq(settlement.revokedAt(id), first);
        assertEq(vm.getRecordedLogs().length, 0);
    }

    function test_settle_RevokedSessionRefusesVouchersIssuedFromRevokedAt() public {
        Tab memory t = _tab0(); // issued at T
        vm.prank(payer0);
        settlement.revokeSession(t.session);
        uint256 effectiveAt = settlement.revokedAt(_id(t));
        assertEq(effectiveAt, block.timestamp + 120);
        // Within the grace: the operator had not seen the revocation yet.
        vm.warp(effectiveAt - 1);
        _standardQuery(t);
        SessionSettlement memory beforeRevocation = _item(t);
        // From effectiveAt on, refused.
        vm.warp(effectiveAt);
        _standardQuery(t);
        _assertRejected(operator, _item(t), RejectReason.Revoked);
        vm.warp(effectiveAt + 1 days);
        (uint256 settled,) = _settleAs(operator, _items1(beforeRevocation));
        assertEq(settled, 1, "vouchers issued before revokedAt still settle");
        assertEq(settlement.balanceOf(payer0, operator), 1_000_000 - 2 * STANDARD_TOTAL);
    }

    // ---------------------------------------------------------------- smart-wallet payers (ERC-1271)

    uint256 internal constant WALLET_OWNER_PK = 0xC0FFEE;
    uint256 internal constant WALLET_KEY_PK = KEY_PK_BASE + 7;

    /// @dev A standard-query item of `wallet`'s session, its signature by the wallet's owner key plus `extra`.
    function _walletItem(address wallet, uint256 nonce, bytes memory extra)
        internal
        view
        returns (SessionSettlement memory)
    {
        Session memory s = Session({
            payer: wallet,
            key: vm.addr(WALLET_KEY_PK),
            operator: operator,
            spendCap: CAP,
            expiry: block.timestamp + 7 days,
            nonce: nonce
        });
        bytes memory sig = bytes.concat(_signSession(settlement, s, WALLET_OWNER_PK), extra);
        Tab memory t = _openTabWith(settlement, s, sig, WALLET_KEY_PK, _slots4());
        _standardQuery(t);
        return _item(t);
    }

    function test_settle_SmartWalletPayer() public {
        SignerWallet wallet = new SignerWallet(vm.addr(WALLET_OWNER_PK));
        _fund(address(wallet), operator, 100_000);
        SessionSettlement memory item = _walletItem(address(wallet), 1, "");
        vm.expectEmit(address(settlement));
        emit SessionRegistered(
            _sessionId(item.session), address(wallet), item.session.key, operator, CAP, item.session.expiry, 1
        );
        (uint256 settled,) = _settleAs(operator, _items1(item));
        assertEq(settled, 1);
        assertEq(settlement.balanceOf(address(wallet), operator), 100_000 - STANDARD_TOTAL);
        // Longer signatures reach the wallet unchanged.
        (settled,) = _settleAs(operator, _items1(_walletItem(address(wallet), 2, new bytes(300))));
        assertEq(settled, 1);
    }

    function test_settle_SmartWalletGetsItsGasBudget() public {
        SignerWallet wallet = new SignerWallet(vm.addr(WALLET_OWNER_PK));
        _fund(address(wallet), operator, 200_000);
        wallet.setWork(settlement.SESSION_WALLET_GAS() - 15_000);
        (uint256 settled,) = _settleAs(operator, _items1(_walletItem(address(wallet), 1, "")));
        assertEq(settled, 1);
        // One that needs more than the budget fails its own session only.
        wallet.setWork(settlement.SESSION_WALLET_GAS());
        _assertRejected(operator, _walletItem(address(wallet), 2, ""), RejectReason.SessionInvalid);
        wallet.setWork(0);
        (settled,) = _settleAs(operator, _items1(_walletItem(address(wallet), 2, "")));
        assertEq(settled, 1);
    }

    function test_settle_RejectWhen_SmartWalletSaysNoOthersSettle() public {
        address[4] memory wallets = [
            address(new GasBurnerWallet()),
            address(new RevertingWallet()),
            address(new WrongMagicWallet()),
            address(new SignerWallet(makeAddr("someone else")))
        ];
        SessionSettlement[] memory items = new SessionSettlement[](5);
        for (uint256 i; i < wallets.length; ++i) {
            _fund(wallets[i], operator, 100_000);
            items[i] = _walletItem(wallets[i], 1, "");
        }
        items[4] = _item(_tab0());
        vm.recordLogs();
        uint256 before = gasleft();
        (uint256 settled, uint256 rejected) = _settleAs(operator, items);
        // Four wallet budgets plus the batch: never all the gas there is.
        assertLt(before - gasleft(), 4 * settlement.SESSION_WALLET_GAS() + 300_000);
        assertEq(settled, 1);
        assertEq(rejected, 4);
        uint8[] memory reasons = _rejectReasons(vm.getRecordedLogs());
        for (uint256 i; i < 4; ++i) {
            assertEq(reasons[i], uint8(RejectReason.SessionInvalid));
            assertEq(settlement.balanceOf(wallets[i], operator), 100_000);
        }
        assertEq(settlement.balanceOf(payer0, operator), 1_000_000 - STANDARD_TOTAL);
    }

    function test_settle_ReturnDataBombCostsOnlyTheBudget() public {
        ReturnBombWallet wallet = new ReturnBombWallet();
        _fund(address(wallet), operator, 100_000);
        uint256 before = gasleft();
        // It answers the magic value (so it approves), followed by 60 kB.
        (uint256 settled,) = _settleAs(operator, _items1(_walletItem(address(wallet), 1, "")));
        assertEq(settled, 1);
        assertLt(before - gasleft(), settlement.SESSION_WALLET_GAS() + 250_000);
    }

    function test_settle_RevertWhen_TooLittleGasForWalletCheck() public {
        SignerWallet wallet = new SignerWallet(vm.addr(WALLET_OWNER_PK));
        _fund(address(wallet), operator, 100_000);
        bytes memory data =
            abi.encodeCall(KipSettlement.settle, (_items1(_walletItem(address(wallet), 1, ""))));
        // Not a silent SessionInvalid (a gas estimate would find that): the call reverts, so an operator that
        // estimates gas always gives the wallet its whole budget.
        vm.prank(operator);
        (bool ok, bytes memory err) = address(settlement).call{gas: 90_000}(data);
        assertFalse(ok);
        assertEq(bytes4(err), IKipSettlementErrors.InsufficientGasForWalletCheck.selector);
        vm.prank(operator);
        (ok,) = address(settlement).call{gas: 500_000}(data);
        assertTrue(ok);
        assertEq(settlement.balanceOf(address(wallet), operator), 100_000 - STANDARD_TOTAL);
    }

    // ---------------------------------------------------------------- fuzz

    /// One slot, one record: it settles exactly when the amount is within the signed maximum, the cap and the
    /// balance, and then charges exactly the amount; otherwise nothing moves and the first failing check is
    /// the reason.
    function testFuzz_settle_NeverAboveMaxCapOrBalance(uint64 amount, uint64 max, uint64 cap, uint64 balance)
        public
    {
        address payer = _payer(9);
        if (balance != 0) _fund(payer, operator, balance);
        Tab memory t = _openTab(9, cap, _u256s(APP));
        _query(t, _u256s(max), 0x1, _u64s(amount));
        RejectReason expected = amount > max
            ? RejectReason.AboveMax
            : amount > cap
                ? RejectReason.SpendCapExceeded
                : amount > balance ? RejectReason.InsufficientBalance : RejectReason.None;
        if (expected != RejectReason.None) {
            _assertRejected(operator, _item(t), expected);
        } else {
            assertTrue(_settleTab(t));
            assertEq(settlement.balanceOf(payer, operator), uint256(balance) - amount);
            assertEq(assets.slotInfo(APP).revenue, uint256(amount) - uint256(amount) * FEE_BPS / 10_000);
        }
    }

    /// Up to 8 pseudo-random records (masks over the 4 slots, random amounts), then one random mutation of
    /// the bytes (none, truncate, append, overwrite a byte): the item is either malformed (nothing moves) or
    /// charged exactly what a reference decoder, written from the docs, reads.
    function testFuzz_settle_RecordsChargeExactlyTheirSum(
        uint8 count,
        uint256 seed,
        uint8 mutation,
        uint16 at
    ) public {
        count = uint8(bound(count, 0, 9)); // 9: one record more than the seqs allow
        Tab memory t = _openTab(0, type(uint128).max, _slots4());
        for (uint256 i; i < 8; ++i) {
            _voidQuery(t);
        }
        for (uint256 i; i < 4; ++i) {
            t.maxAmounts[i] = type(uint128).max / 8;
        }
        _fund(payer0, operator, type(uint128).max - settlement.totalDeposits());
        SessionSettlement memory item = _item(t);
        item.records = _randomRecords(count, seed);
        if (item.records.length != 0 || mutation % 4 == 2) {
            item.records = _mutate(item.records, mutation, at, seed);
        }
        (bool wellFormed, uint256 records, uint256[4] memory sums) = _referenceDecode(item.records, 4);
        if (!wellFormed || records > 8) {
            _assertRejected(operator, item, RejectReason.MalformedRecords);
            return;
        }
        uint256 total = sums[0] + sums[1] + sums[2] + sums[3];
        uint256 before = settlement.balanceOf(payer0, operator);
        vm.expectEmit(address(settlement));
        emit SessionSettled(_id(t), payer0, 8, records, total);
        (uint256 settled,) = _settleAs(operator, _items1(item));
        assertEq(settled, 1);
        assertEq(before - settlement.balanceOf(payer0, operator), total);
        for (uint256 i; i < 4; ++i) {
            assertEq(assets.slotInfo(i + 1).revenue, sums[i] - sums[i] * FEE_BPS / 10_000);
        }
    }

    function _randomRecords(uint256 count, uint256 seed) internal pure returns (bytes memory out) {
        for (uint256 k; k < count; ++k) {
            uint256 r = uint256(keccak256(abi.encode(seed, k)));
            uint32 mask = uint32(r % 16);
            uint64[] memory amounts = new uint64[](Records.popcount(mask));
            for (uint256 j; j < amounts.length; ++j) {
                amounts[j] = uint64(r >> (64 + 32 * j)) >> (r >> 200) % 40; // small and large amounts
            }
            out = bytes.concat(
                out, Records.pack(Records.Record(uint8((r >> 8) % 4), mask, 1, 2, bytes32(r), amounts))
            );
        }
    }

    function _mutate(bytes memory data, uint8 mutation, uint16 at, uint256 seed)
        internal
        pure
        returns (bytes memory)
    {
        uint256 kind = mutation % 4;
        if (kind == 1 && data.length != 0) return _slice(data, at % data.length); // truncate
        if (kind == 2) return bytes.concat(data, _slice(abi.encode(seed), 1 + at % 20)); // append
        if (kind == 3 && data.length != 0) {
            data[at % data.length] = bytes1(uint8(seed >> 8)); // overwrite one byte
        }
        return data;
    }

    /// Per-slot fee math over several sessions and a random fee, and conservation.
    function testFuzz_settle_FeeMathAndConservation(uint16 feeBps, uint64[4] memory amounts, uint8 sessions)
        public
    {
        feeBps = uint16(bound(feeBps, 0, 1000));
        sessions = uint8(bound(sessions, 1, 6));
        vm.prank(admin);
        settlement.setFeeBps(feeBps);
        SessionSettlement[] memory items = new SessionSettlement[](sessions);
        uint256[] memory maxes = new uint256[](4);
        uint64[] memory charged = new uint64[](4);
        for (uint256 j; j < 4; ++j) {
            maxes[j] = amounts[j];
            charged[j] = amounts[j];
        }
        uint256 perSession = uint256(amounts[0]) + amounts[1] + amounts[2] + amounts[3];
        for (uint256 i; i < sessions; ++i) {
            if (perSession != 0) _fund(_payer(10 + i), operator, perSession);
            Tab memory t = _openTab(10 + i, type(uint128).max, _slots4());
            _query(t, maxes, 0xf, charged);
            items[i] = _item(t);
        }
        (uint256 settled,) = _settleAs(operator, items);
        assertEq(settled, sessions);
        uint256 fees;
        for (uint256 j; j < 4; ++j) {
            uint256 gross = uint256(amounts[j]) * sessions;
            uint256 fee = gross * feeBps / 10_000; // per slot per batch, rounded down
            fees += fee;
            assertEq(assets.slotInfo(j + 1).revenue, gross - fee);
        }
        assertEq(settlement.feesAccrued(), fees);
        assertEq(usd.balanceOf(address(settlement)), settlement.totalDeposits() + settlement.feesAccrued());
        assertEq(usd.balanceOf(address(assets)), perSession * sessions - fees);
    }

    // ---------------------------------------------------------------- helpers

    /// @dev A second reading of the record format, written from the docs, for the fuzz test.
    function _referenceDecode(bytes memory data, uint256 slots)
        internal
        pure
        returns (bool ok, uint256 count, uint256[4] memory sums)
    {
        uint256 p;
        while (p < data.length) {
            if (p + 45 > data.length) return (false, count, sums);
            uint256 app = uint8(data[p]);
            uint256 mask;
            for (uint256 b = 1; b <= 4; ++b) {
                mask = mask << 8 | uint8(data[p + b]);
            }
            if (app >= slots) return (false, count, sums);
            p += 45;
            for (uint256 i; i < 32; ++i) {
                if ((mask >> i) & 1 == 0) continue;
                if (i >= slots || p + 8 > data.length) return (false, count, sums);
                uint256 amount;
                for (uint256 b; b < 8; ++b) {
                    amount = amount << 8 | uint8(data[p + b]);
                }
                sums[i] += amount;
                p += 8;
            }
            count++;
        }
        return (true, count, sums);
    }

    function _slice(uint256[] memory a, uint256 n) internal pure returns (uint256[] memory b) {
        b = new uint256[](n);
        for (uint256 i; i < n; ++i) {
            b[i] = a[i];
        }
    }

    function _slice(bytes memory a, uint256 n) internal pure returns (bytes memory b) {
        b = new bytes(n);
        for (uint256 i; i < n; ++i) {
            b[i] = a[i];
        }
    }

    function _copyBytes(bytes memory a) internal pure returns (bytes memory) {
        return _slice(a, a.length);
    }
}
