// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Vm} from "forge-std/Vm.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

import {KipSettlement} from "../src/KipSettlement.sol";
import {MockUSD} from "../src/MockUSD.sol";
import {IKipAssets} from "../src/interfaces/IKipAssets.sol";
import {IKipSettlementErrors, IKipSettlementEvents, IKipSettlementTypes} from "../src/interfaces/IKipSettlement.sol";
import {BatchEncoder} from "./utils/BatchEncoder.sol";
import {
    GasBurnerWallet,
    ReturnBombWallet,
    RevertingWallet,
    SignerWallet,
    WrongMagicWallet
} from "./utils/MockWallets.sol";
import {SettlementFixture} from "./utils/SettlementFixture.sol";

contract KipSettlementTest is SettlementFixture, IKipSettlementEvents {
    uint40 internal expiry;
    address internal payer0;

    function setUp() public {
        _deploy();
        expiry = uint40(block.timestamp + 7 days);
        payer0 = _payer(0);
        _fund(payer0, 1_000_000);
    }

    function _settle(BatchEncoder.SessionEntry memory s, BatchEncoder.ReceiptEntry memory r)
        internal
        returns (uint256 settled, uint256 rejected)
    {
        vm.prank(settler);
        return settlement.settle(BatchEncoder.encode(_sessions1(s), _table4(), _receipts1(r)));
    }

    function _expectRejected(uint64 nonce, IKipSettlementTypes.RejectReason reason) internal {
        vm.expectEmit(address(settlement));
        emit ReceiptRejected(payer0, nonce, uint8(reason));
    }

    /// @dev A caller that is not an authorized settler.
    address internal stranger = makeAddr("stranger");

    function _settleAs(address caller, BatchEncoder.SessionEntry memory s, BatchEncoder.ReceiptEntry memory r)
        internal
        returns (uint256 settled, uint256 rejected)
    {
        vm.prank(caller);
        return settlement.settle(BatchEncoder.encode(_sessions1(s), _table4(), _receipts1(r)));
    }

    /// @dev The standard query with the last dataset unused (charged 0 of its signed 5_000).
    function _queryUnusedDataset(uint64 nonce) internal view returns (BatchEncoder.ReceiptEntry memory r) {
        r = _query(0, 0, nonce, expiry);
        r.charges[3].amount = 0;
    }

    function _rejectReasons(Vm.Log[] memory logs) internal view returns (uint8[] memory reasons) {
        reasons = new uint8[](logs.length);
        uint256 count;
        for (uint256 i; i < logs.length; ++i) {
            if (logs[i].emitter == address(settlement) && logs[i].topics[0] == ReceiptRejected.selector) {
                reasons[count++] = abi.decode(logs[i].data, (uint8));
            }
        }
        assembly ("memory-safe") {
            mstore(reasons, count)
        }
    }

    // ---------------------------------------------------------------- constants

    function test_constants_AssemblyLiteralsMatch() public view {
        assertEq(settlement.RECEIPT_TYPEHASH(), keccak256("Receipt(address payer,uint256[] slots,uint256[] maxAmounts,uint256 nonce,uint256 deadline)"));
        assertEq(settlement.RECEIPT_TYPEHASH(), 0xec05e9934ede6a9061f468bc4208e20e01c0c697d2cdd33bf6b90921d7110382);
        assertEq(settlement.SESSION_TYPEHASH(), 0xbbb392134fe8d9c31f8c90f8814e1d0eceba9896391bdda7acc0719aad2782d5);
        assertEq(ReceiptSettled.selector, 0x3e905de398428e2ad2c1961652d94896326dfc33bee7f794d7fc6d0bd6dcc9c4);
        assertEq(ReceiptRejected.selector, 0xa18245e47675ce32fb41a4d689a513f06f3c80961756c0f7a96143c053b06571);
        assertEq(IKipSettlementErrors.MalformedBatch.selector, bytes4(0x70ac562d));
    }

    function test_constructor_RevertWhen_BadArguments() public {
        vm.expectRevert(abi.encodeWithSelector(IKipSettlementErrors.InvalidAddress.selector, "token"));
        new KipSettlement(IERC20(address(0)), IKipAssets(address(assets)), treasury, 0, 0, admin);
        vm.expectRevert(abi.encodeWithSelector(IKipSettlementErrors.InvalidAddress.selector, "assets"));
        new KipSettlement(IERC20(address(usd)), IKipAssets(address(0)), treasury, 0, 0, admin);
        vm.expectRevert(abi.encodeWithSelector(IKipSettlementErrors.InvalidTreasury.selector, address(0)));
        new KipSettlement(IERC20(address(usd)), IKipAssets(address(assets)), address(0), 0, 0, admin);
        vm.expectRevert(abi.encodeWithSelector(IKipSettlementErrors.FeeTooHigh.selector, 1001, 1000));
        new KipSettlement(IERC20(address(usd)), IKipAssets(address(assets)), treasury, 1001, 0, admin);
        // A delay that would let readyAt outgrow its uint64 field, or just lock deposits for too long.
        vm.expectRevert(abi.encodeWithSelector(IKipSettlementErrors.WithdrawDelayTooLong.selector, 30 days + 1, 30 days));
        new KipSettlement(IERC20(address(usd)), IKipAssets(address(assets)), treasury, 0, 30 days + 1, admin);
        vm.expectRevert(
            abi.encodeWithSelector(IKipSettlementErrors.WithdrawDelayTooLong.selector, type(uint256).max, 30 days)
        );
        new KipSettlement(IERC20(address(usd)), IKipAssets(address(assets)), treasury, 0, type(uint256).max, admin);
        // KipAssets pays holders in another token than the one payers deposit.
        MockUSD other = new MockUSD();
        vm.expectRevert(
            abi.encodeWithSelector(IKipSettlementErrors.PaymentTokenMismatch.selector, address(other), address(usd))
        );
        new KipSettlement(IERC20(address(other)), IKipAssets(address(assets)), treasury, 0, 0, admin);
    }

    function test_constructor_AcceptsLongestWithdrawDelay() public {
        KipSettlement s =
            new KipSettlement(IERC20(address(usd)), IKipAssets(address(assets)), treasury, 0, 30 days, admin);
        assertEq(s.withdrawDelay(), s.MAX_WITHDRAW_DELAY());
        assertFalse(s.isSettler(admin)); // nobody is a settler until the owner says so
    }

    function test_views_Configuration() public view {
        assertEq(settlement.feeBps(), FEE_BPS);
        assertEq(settlement.treasury(), treasury);
        assertEq(settlement.withdrawDelay(), DELAY);
        assertEq(settlement.paymentToken(), address(usd));
        assertEq(settlement.assets(), address(assets));
    }

    // ---------------------------------------------------------------- deposits and withdrawals

    function test_deposit_CreditsBalance() public {
        usd.mint(payer0, 500);
        vm.startPrank(payer0);
        usd.approve(address(settlement), 500);
        vm.expectEmit(address(settlement));
        emit Deposited(payer0, 500, 1_000_500);
        settlement.deposit(500);
        vm.stopPrank();
        assertEq(settlement.balanceOf(payer0), 1_000_500);
        assertEq(settlement.totalDeposits(), 1_000_500);
        assertEq(usd.balanceOf(address(settlement)), 1_000_500);
    }

    function test_deposit_RevertWhen_Zero() public {
        vm.expectRevert(IKipSettlementErrors.ZeroAmount.selector);
        settlement.deposit(0);
    }

    function test_deposit_RevertWhen_TooLarge() public {
        uint256 amount = uint256(type(uint128).max);
        vm.expectRevert(abi.encodeWithSelector(IKipSettlementErrors.AmountTooLarge.selector, amount));
        settlement.deposit(amount);
    }

    function test_depositWithPermit_CreditsBalance() public {
        address payer = _payer(5);
        usd.mint(payer, 700);
        uint256 deadline = block.timestamp + 1 hours;
        bytes32 structHash = keccak256(
            abi.encode(
                keccak256("Permit(address owner,address spender,uint256 value,uint256 nonce,uint256 deadline)"),
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
        settlement.depositWithPermit(700, deadline, v, r, s);
        assertEq(settlement.balanceOf(payer), 700);
        // A permit already used (front-run) does not block a deposit that has the allowance.
        usd.mint(payer, 1);
        vm.prank(payer);
        usd.approve(address(settlement), 1);
        vm.prank(payer);
        settlement.depositWithPermit(1, deadline, v, r, s);
        assertEq(settlement.balanceOf(payer), 701);
    }

    function test_withdraw_AfterDelay() public {
        vm.expectEmit(address(settlement));
        emit WithdrawalRequested(payer0, 400, block.timestamp + DELAY);
        vm.prank(payer0);
        settlement.requestWithdraw(400);
        assertEq(settlement.withdrawalOf(payer0).amount, 400);
        vm.expectRevert(abi.encodeWithSelector(IKipSettlementErrors.WithdrawalNotReady.selector, payer0, block.timestamp + DELAY));
        vm.prank(payer0);
        settlement.withdraw();
        vm.warp(block.timestamp + DELAY);
        vm.expectEmit(address(settlement));
        emit Withdrawn(payer0, 400);
        vm.prank(payer0);
        assertEq(settlement.withdraw(), 400);
        assertEq(usd.balanceOf(payer0), 400);
        assertEq(settlement.balanceOf(payer0), 1_000_000 - 400);
        assertEq(settlement.totalDeposits(), 1_000_000 - 400);
        assertEq(settlement.withdrawalOf(payer0).amount, 0);
    }

    function test_withdraw_PaysAtMostCurrentBalance() public {
        vm.prank(payer0);
        settlement.requestWithdraw(1_000_000);
        // A receipt signed before the request settles during the delay.
        _settle(_session(0, 1_000_000, expiry, 1, true), _query(0, 0, 1, expiry));
        vm.warp(block.timestamp + DELAY);
        vm.prank(payer0);
        assertEq(settlement.withdraw(), 1_000_000 - 40_000);
        assertEq(settlement.balanceOf(payer0), 0);
    }

    function test_requestWithdraw_Reverts() public {
        vm.expectRevert(IKipSettlementErrors.ZeroAmount.selector);
        vm.prank(payer0);
        settlement.requestWithdraw(0);
        vm.expectRevert(abi.encodeWithSelector(IKipSettlementErrors.InsufficientBalance.selector, payer0, 1_000_000, 1_000_001));
        vm.prank(payer0);
        settlement.requestWithdraw(1_000_001);
    }

    function test_cancelWithdraw_ClearsRequest() public {
        vm.prank(payer0);
        settlement.requestWithdraw(10);
        vm.expectEmit(address(settlement));
        emit WithdrawalCancelled(payer0);
        vm.prank(payer0);
        settlement.cancelWithdraw();
        assertEq(settlement.withdrawalOf(payer0).amount, 0);
        vm.expectRevert(abi.encodeWithSelector(IKipSettlementErrors.NoWithdrawalRequested.selector, payer0));
        vm.prank(payer0);
        settlement.cancelWithdraw();
        vm.expectRevert(abi.encodeWithSelector(IKipSettlementErrors.NoWithdrawalRequested.selector, payer0));
        vm.prank(payer0);
        settlement.withdraw();
    }

    // ---------------------------------------------------------------- fees

    function test_setFeeBps_OwnerOnlyAndCapped() public {
        vm.expectEmit(address(settlement));
        emit FeeBpsUpdated(FEE_BPS, 1000);
        vm.prank(admin);
        settlement.setFeeBps(1000);
        assertEq(settlement.feeBps(), 1000);
        vm.expectRevert(abi.encodeWithSelector(IKipSettlementErrors.FeeTooHigh.selector, 1001, 1000));
        vm.prank(admin);
        settlement.setFeeBps(1001);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, payer0));
        vm.prank(payer0);
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

    // ---------------------------------------------------------------- settlers

    function test_setSettler_OwnerOnlyNonZero() public {
        assertTrue(settlement.isSettler(settler));
        assertFalse(settlement.isSettler(stranger));
        vm.expectEmit(address(settlement));
        emit SettlerUpdated(stranger, true);
        vm.prank(admin);
        settlement.setSettler(stranger, true);
        assertTrue(settlement.isSettler(stranger));
        vm.expectEmit(address(settlement));
        emit SettlerUpdated(stranger, false);
        vm.prank(admin);
        settlement.setSettler(stranger, false);
        assertFalse(settlement.isSettler(stranger));
        vm.expectRevert(abi.encodeWithSelector(IKipSettlementErrors.InvalidAddress.selector, "settler"));
        vm.prank(admin);
        settlement.setSettler(address(0), true);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, stranger));
        vm.prank(stranger);
        settlement.setSettler(stranger, true);
    }

    function test_withdrawFees_PaysTreasury() public {
        assertEq(settlement.withdrawFees(), 0);
        _settle(_session(0, 1_000_000, expiry, 1, true), _query(0, 0, 1, expiry));
        // fees: 20_000 * 2.5% = 500, 10_000 -> 250, 5_000 -> 125 twice
        assertEq(settlement.feesAccrued(), 1_000);
        vm.expectEmit(address(settlement));
        emit FeesWithdrawn(treasury, 1_000);
        assertEq(settlement.withdrawFees(), 1_000);
        assertEq(usd.balanceOf(treasury), 1_000);
        assertEq(settlement.feesAccrued(), 0);
    }

    // ---------------------------------------------------------------- settle

    function test_settle_ChargesSlotsAndCreditsNet() public {
        BatchEncoder.SessionEntry memory s = _session(0, 1_000_000, expiry, 1, true);
        bytes32 sessionHash = settlement.hashSession(s.payer, s.key, s.spendCap, s.expiry, s.nonce);
        uint256[] memory charges = new uint256[](4);
        charges[0] = APP << 128 | 20_000;
        charges[1] = MODEL << 128 | 10_000;
        charges[2] = DATA_A << 128 | 5_000;
        charges[3] = DATA_B << 128 | 5_000;
        vm.expectEmit(address(settlement));
        emit SessionRegistered(sessionHash, payer0, _key(0), 1_000_000, expiry, 1);
        vm.expectEmit(address(settlement));
        emit ReceiptSettled(payer0, 7, sessionHash, charges);
        vm.expectEmit(address(settlement));
        emit BatchSettled(settler, 1, 0, 40_000, 1_000);
        (uint256 settled, uint256 rejected) = _settle(s, _query(0, 0, 7, expiry));
        assertEq(settled, 1);
        assertEq(rejected, 0);
        assertEq(settlement.balanceOf(payer0), 1_000_000 - 40_000);
        assertEq(settlement.totalDeposits(), 1_000_000 - 40_000);
        assertTrue(settlement.nonceUsed(payer0, 7));
        assertFalse(settlement.nonceUsed(payer0, 6));
        (bool registered, uint256 spent) = settlement.sessionState(sessionHash);
        assertTrue(registered);
        assertEq(spent, 40_000);
        assertEq(assets.claimable(1), 19_500);
        assertEq(assets.claimable(2), 9_750);
        assertEq(assets.claimable(3), 4_875);
        assertEq(usd.balanceOf(address(assets)), 39_000);
        assertEq(usd.balanceOf(address(settlement)), 1_000_000 - 40_000 + 1_000);
    }

    function test_settle_PartialAndZeroAmounts() public {
        uint8[] memory entries = new uint8[](3);
        uint96[] memory maxes = new uint96[](3);
        uint96[] memory amounts = new uint96[](3);
        entries[0] = 0;
        entries[1] = 2;
        entries[2] = 3;
        maxes[0] = 30_000; // above the table price: explicit max
        maxes[1] = 5_000;
        maxes[2] = 5_000;
        amounts[0] = 25_000;
        amounts[1] = 5_000;
        amounts[2] = 0; // an unused dataset
        (uint256 settled,) = _settle(
            _session(0, 1_000_000, expiry, 1, true),
            _receipt(0, 0, 1, expiry, _table4(), entries, maxes, amounts)
        );
        assertEq(settled, 1);
        assertEq(settlement.balanceOf(payer0), 1_000_000 - 30_000);
        assertEq(assets.slotInfo(DATA_B).revenue, 0);
    }

    function test_settle_AnyoneSettlesAtSignedMax() public {
        vm.expectEmit(address(settlement));
        emit BatchSettled(stranger, 1, 0, 40_000, 1_000);
        (uint256 settled,) = _settleAs(stranger, _session(0, 1_000_000, expiry, 1, true), _query(0, 0, 1, expiry));
        assertEq(settled, 1);
        assertEq(settlement.balanceOf(payer0), 1_000_000 - 40_000);
    }

    function test_settle_AnyoneSettlesExplicitAmountEqualToMax() public {
        // One charge of the app at its table price, sent with an explicit amount (ref 0x40) equal to it.
        BatchEncoder.SessionEntry memory s = _session(0, 1_000_000, expiry, 1, true);
        uint8[] memory entries = new uint8[](1);
        uint96[] memory amounts = new uint96[](1);
        amounts[0] = 20_000;
        BatchEncoder.ReceiptEntry memory r = _receipt(0, 0, 1, expiry, _table4(), entries, amounts, amounts);
        bytes memory batch = abi.encodePacked(
            uint8(1),
            uint8(1),
            abi.encodePacked(s.payer, s.key, s.spendCap, s.expiry, s.nonce, uint8(65), s.signature),
            uint64(APP),
            uint96(20_000),
            abi.encodePacked(uint8(0), r.nonce, r.deadline, uint8(1), uint8(0x40), uint96(20_000), r.signature)
        );
        vm.prank(stranger);
        (uint256 settled,) = settlement.settle(batch);
        assertEq(settled, 1);
        assertEq(settlement.balanceOf(payer0), 1_000_000 - 20_000);
    }

    function test_settle_RejectWhen_StrangerChargesBelowSignedMax() public {
        _expectRejected(1, IKipSettlementTypes.RejectReason.AmountNotSignedMax);
        (uint256 settled, uint256 rejected) =
            _settleAs(stranger, _session(0, 1_000_000, expiry, 1, true), _queryUnusedDataset(1));
        assertEq(settled, 0);
        assertEq(rejected, 1);
        // Nothing burned: the nonce is still open for the server's settlement.
        assertFalse(settlement.nonceUsed(payer0, 1));
        assertEq(settlement.balanceOf(payer0), 1_000_000);
        (uint256 settledByServer,) =
            _settleAs(settler, _session(0, 1_000_000, expiry, 1, false), _queryUnusedDataset(1));
        assertEq(settledByServer, 1);
        assertEq(settlement.balanceOf(payer0), 1_000_000 - 35_000);
    }

    function test_settle_RejectWhen_StrangerRepeatsBelowMaxChargeSet() public {
        BatchEncoder.ReceiptEntry[] memory receipts = new BatchEncoder.ReceiptEntry[](4);
        receipts[0] = _query(0, 0, 1, expiry);
        receipts[1] = _queryUnusedDataset(2);
        receipts[2] = _queryUnusedDataset(3); // a repeat (n = 0) of the previous charge set
        receipts[3] = _query(0, 0, 4, expiry);
        bytes memory batch =
            BatchEncoder.encode(_sessions1(_session(0, 1_000_000, expiry, 1, true)), _table4(), receipts);
        vm.recordLogs();
        vm.prank(stranger);
        (uint256 settled, uint256 rejected) = settlement.settle(batch);
        uint8[] memory reasons = _rejectReasons(vm.getRecordedLogs());
        assertEq(settled, 2);
        assertEq(rejected, 2);
        assertEq(reasons.length, 2);
        assertEq(reasons[0], uint8(IKipSettlementTypes.RejectReason.AmountNotSignedMax));
        assertEq(reasons[1], uint8(IKipSettlementTypes.RejectReason.AmountNotSignedMax));
        assertTrue(settlement.nonceUsed(payer0, 1));
        assertFalse(settlement.nonceUsed(payer0, 2));
        assertFalse(settlement.nonceUsed(payer0, 3));
        assertTrue(settlement.nonceUsed(payer0, 4));
    }

    function test_settle_RejectWhen_RevokedSettlerChargesBelowMax() public {
        vm.prank(admin);
        settlement.setSettler(settler, false);
        _expectRejected(1, IKipSettlementTypes.RejectReason.AmountNotSignedMax);
        (uint256 settled,) = _settleAs(settler, _session(0, 1_000_000, expiry, 1, true), _queryUnusedDataset(1));
        assertEq(settled, 0);
    }

    function test_settle_RepeatReceiptsShareChargeSet() public {
        BatchEncoder.ReceiptEntry[] memory receipts = new BatchEncoder.ReceiptEntry[](3);
        receipts[0] = _query(0, 0, 1, expiry);
        receipts[1] = _query(0, 0, 2, expiry);
        receipts[2] = _query(0, 0, 3, expiry);
        bytes memory batch = BatchEncoder.encode(_sessions1(_session(0, 1_000_000, expiry, 1, true)), _table4(), receipts);
        vm.prank(settler);
        (uint256 settled,) = settlement.settle(batch);
        assertEq(settled, 3);
        assertEq(settlement.balanceOf(payer0), 1_000_000 - 120_000);
        assertEq(assets.slotInfo(APP).revenue, 3 * 19_500);
    }

    function test_settle_RegisteredSessionNeedsNoSignature() public {
        _settle(_session(0, 1_000_000, expiry, 1, true), _query(0, 0, 1, expiry));
        (uint256 settled,) = _settle(_session(0, 1_000_000, expiry, 1, false), _query(0, 0, 2, expiry));
        assertEq(settled, 1);
    }

    function test_settle_RejectWhen_SessionNotRegistered() public {
        _expectRejected(1, IKipSettlementTypes.RejectReason.SessionInvalid);
        (, uint256 rejected) = _settle(_session(0, 1_000_000, expiry, 1, false), _query(0, 0, 1, expiry));
        assertEq(rejected, 1);
    }

    function test_settle_RejectWhen_SessionSignatureWrong() public {
        BatchEncoder.SessionEntry memory s = _session(0, 1_000_000, expiry, 1, true);
        s.spendCap = 2_000_000; // signed for 1_000_000
        _expectRejected(1, IKipSettlementTypes.RejectReason.SessionInvalid);
        _settle(s, _query(0, 0, 1, expiry));
        (bool registered,) = settlement.sessionState(settlement.hashSession(s.payer, s.key, s.spendCap, s.expiry, s.nonce));
        assertFalse(registered);
    }

    function test_settle_RejectWhen_SessionExpired() public {
        BatchEncoder.SessionEntry memory s = _session(0, 1_000_000, expiry, 1, true);
        BatchEncoder.ReceiptEntry memory r = _query(0, 0, 1, expiry);
        vm.warp(uint256(expiry) + 1);
        _expectRejected(1, IKipSettlementTypes.RejectReason.SessionExpired);
        _settle(s, r);
    }

    function test_settle_RejectWhen_ReceiptExpired() public {
        _expectRejected(1, IKipSettlementTypes.RejectReason.ReceiptExpired);
        _settle(_session(0, 1_000_000, expiry, 1, true), _query(0, 0, 1, uint40(block.timestamp - 1)));
        _expectRejected(2, IKipSettlementTypes.RejectReason.ReceiptExpired);
        _settle(_session(0, 1_000_000, expiry, 1, false), _query(0, 0, 2, expiry + 1)); // beyond the session
    }

    function test_settle_RejectWhen_Replayed() public {
        _settle(_session(0, 1_000_000, expiry, 1, true), _query(0, 0, 1, expiry));
        _expectRejected(1, IKipSettlementTypes.RejectReason.Replayed);
        (uint256 settled,) = _settle(_session(0, 1_000_000, expiry, 1, false), _query(0, 0, 1, expiry));
        assertEq(settled, 0);
        assertEq(settlement.balanceOf(payer0), 1_000_000 - 40_000);
    }

    function test_settle_RejectWhen_DuplicateInSameBatch() public {
        BatchEncoder.ReceiptEntry[] memory receipts = new BatchEncoder.ReceiptEntry[](2);
        receipts[0] = _query(0, 0, 300, expiry);
        receipts[1] = _query(0, 0, 300, expiry);
        bytes memory batch = BatchEncoder.encode(_sessions1(_session(0, 1_000_000, expiry, 1, true)), _table4(), receipts);
        vm.prank(settler);
        (uint256 settled, uint256 rejected) = settlement.settle(batch);
        assertEq(settled, 1);
        assertEq(rejected, 1);
    }

    function test_settle_RejectWhen_AmountAboveMax() public {
        BatchEncoder.ReceiptEntry memory r = _query(0, 0, 1, expiry);
        r.charges[0].amount = 20_001; // the signature covers maxAmount 20_000
        _expectRejected(1, IKipSettlementTypes.RejectReason.AmountAboveMax);
        _settle(_session(0, 1_000_000, expiry, 1, true), r);
    }

    function test_settle_RejectWhen_UnknownSlot() public {
        BatchEncoder.SlotEntry[] memory table = _table4();
        table[3].id = 99;
        uint8[] memory entries = new uint8[](1);
        uint96[] memory amounts = new uint96[](1);
        entries[0] = 3;
        amounts[0] = 5_000;
        BatchEncoder.ReceiptEntry memory r = _receipt(0, 0, 1, expiry, table, entries, amounts, amounts);
        _expectRejected(1, IKipSettlementTypes.RejectReason.UnknownSlot);
        vm.prank(settler);
        (uint256 settled, uint256 rejected) =
            settlement.settle(BatchEncoder.encode(_sessions1(_session(0, 1_000_000, expiry, 1, true)), table, _receipts1(r)));
        assertEq(settled, 0);
        assertEq(rejected, 1);
    }

    function test_settle_RejectWhen_InsufficientBalance() public {
        address poor = _payer(3);
        _fund(poor, 39_999);
        vm.expectEmit(address(settlement));
        emit ReceiptRejected(poor, 1, uint8(IKipSettlementTypes.RejectReason.InsufficientBalance));
        _settle(_session(3, 1_000_000, expiry, 1, true), _query(3, 0, 1, expiry));
    }

    function test_settle_RejectWhen_SpendCapExceeded() public {
        BatchEncoder.ReceiptEntry[] memory receipts = new BatchEncoder.ReceiptEntry[](2);
        receipts[0] = _query(0, 0, 1, expiry);
        receipts[1] = _query(0, 0, 2, expiry);
        bytes memory batch = BatchEncoder.encode(_sessions1(_session(0, 79_999, expiry, 1, true)), _table4(), receipts);
        _expectRejected(2, IKipSettlementTypes.RejectReason.SpendCapExceeded);
        vm.prank(settler);
        (uint256 settled,) = settlement.settle(batch);
        assertEq(settled, 1);
    }

    function test_settle_RejectWhen_BadSignature() public {
        BatchEncoder.ReceiptEntry memory r = _query(0, 0, 1, expiry);
        r.nonce = 2; // signed for nonce 1
        _expectRejected(2, IKipSettlementTypes.RejectReason.BadSignature);
        _settle(_session(0, 1_000_000, expiry, 1, true), r);
    }

    function test_settle_RejectWhen_SignedByOtherKey() public {
        BatchEncoder.ReceiptEntry memory r = _query(1, 0, 1, expiry); // key 1 signs for payer 1...
        BatchEncoder.ReceiptEntry memory mine = _query(0, 0, 1, expiry);
        mine.signature = r.signature; // ...and is presented for payer 0
        _expectRejected(1, IKipSettlementTypes.RejectReason.BadSignature);
        _settle(_session(0, 1_000_000, expiry, 1, true), mine);
    }

    function test_settle_RejectWhen_BadV() public {
        BatchEncoder.ReceiptEntry memory r = _query(0, 0, 1, expiry);
        r.signature[64] = bytes1(uint8(r.signature[64]) - 27); // v = 0/1
        _expectRejected(1, IKipSettlementTypes.RejectReason.BadSignature);
        _settle(_session(0, 1_000_000, expiry, 1, true), r);
    }

    // ---------------------------------------------------------------- the order reasons are reported in

    function test_settle_ReasonOrder_ReplayedBeforeChargeSetReasons() public {
        BatchEncoder.SessionEntry memory s = _session(0, 1_000_000, expiry, 1, true);
        _settle(s, _query(0, 0, 1, expiry));
        s.signature = "";
        // The settled nonce again, with an amount above its max: Replayed, not AmountAboveMax.
        BatchEncoder.ReceiptEntry memory above = _query(0, 0, 1, expiry);
        above.charges[0].amount = 20_001;
        _expectRejected(1, IKipSettlementTypes.RejectReason.Replayed);
        _settle(s, above);
        // ... and charged below its max by a stranger: Replayed, not AmountNotSignedMax.
        _expectRejected(1, IKipSettlementTypes.RejectReason.Replayed);
        _settleAs(stranger, s, _queryUnusedDataset(1));
    }

    function test_settle_ReasonOrder_ChargeSetReasons() public {
        BatchEncoder.SessionEntry memory s = _session(0, 1_000_000, expiry, 1, true);
        // Above the max on one charge and below on another: AmountAboveMax.
        BatchEncoder.ReceiptEntry memory r = _queryUnusedDataset(1);
        r.charges[0].amount = 20_001;
        _expectRejected(1, IKipSettlementTypes.RejectReason.AmountAboveMax);
        _settleAs(stranger, s, r);
        // An unknown slot and a charge below its max: UnknownSlot.
        BatchEncoder.SlotEntry[] memory table = _table4();
        table[2].id = 99;
        uint8[] memory entries = new uint8[](2);
        uint96[] memory maxes = new uint96[](2);
        uint96[] memory amounts = new uint96[](2);
        entries[1] = 2;
        maxes[0] = 20_000;
        maxes[1] = 5_000;
        amounts[0] = 10_000;
        amounts[1] = 5_000;
        BatchEncoder.ReceiptEntry memory unknown = _receipt(0, 0, 2, expiry, table, entries, maxes, amounts);
        _expectRejected(2, IKipSettlementTypes.RejectReason.UnknownSlot);
        vm.prank(stranger);
        settlement.settle(BatchEncoder.encode(_sessions1(s), table, _receipts1(unknown)));
        // Below the max and over the balance: AmountNotSignedMax (charge set before balance).
        address poor = _payer(3);
        _fund(poor, 1);
        vm.expectEmit(address(settlement));
        emit ReceiptRejected(poor, 1, uint8(IKipSettlementTypes.RejectReason.AmountNotSignedMax));
        BatchEncoder.ReceiptEntry memory poorReceipt = _query(3, 0, 1, expiry);
        poorReceipt.charges[3].amount = 0;
        _settleAs(stranger, _session(3, 1_000_000, expiry, 1, true), poorReceipt);
    }

    function test_settle_ReasonOrder_SessionChecks() public {
        // An unregistered session without a signature that has also expired: SessionExpired.
        BatchEncoder.ReceiptEntry memory r = _query(0, 0, 1, expiry);
        vm.warp(uint256(expiry) + 1);
        _expectRejected(1, IKipSettlementTypes.RejectReason.SessionExpired);
        _settle(_session(0, 1_000_000, expiry, 1, false), r);
        // A zero key: SessionInvalid even though it has expired too.
        BatchEncoder.SessionEntry memory zeroKey = _session(0, 1_000_000, expiry, 1, false);
        zeroKey.key = address(0);
        _expectRejected(1, IKipSettlementTypes.RejectReason.SessionInvalid);
        _settle(zeroKey, r);
    }

    function test_settle_ReasonOrder_ReceiptExpiredBeforeReplayed() public {
        BatchEncoder.SessionEntry memory s = _session(0, 1_000_000, expiry, 1, true);
        _settle(s, _query(0, 0, 1, expiry));
        s.signature = "";
        _expectRejected(1, IKipSettlementTypes.RejectReason.ReceiptExpired);
        _settle(s, _query(0, 0, 1, uint40(block.timestamp - 1)));
    }

    function test_settle_BadReceiptDoesNotSinkBatch() public {
        BatchEncoder.ReceiptEntry[] memory receipts = new BatchEncoder.ReceiptEntry[](3);
        receipts[0] = _query(0, 0, 1, expiry);
        receipts[1] = _query(0, 0, 2, expiry);
        receipts[1].signature[5] ^= 0x01;
        receipts[2] = _query(0, 0, 3, expiry);
        bytes memory batch = BatchEncoder.encode(_sessions1(_session(0, 1_000_000, expiry, 1, true)), _table4(), receipts);
        vm.prank(settler);
        (uint256 settled, uint256 rejected) = settlement.settle(batch);
        assertEq(settled, 2);
        assertEq(rejected, 1);
        assertFalse(settlement.nonceUsed(payer0, 2));
        assertEq(assets.slotInfo(APP).revenue, 2 * 19_500);
    }

    function test_settle_TwoSessionsOfOnePayerShareBalance() public {
        _fund(_payer(1), 0 + 1); // unrelated
        BatchEncoder.SessionEntry[] memory sessions = new BatchEncoder.SessionEntry[](2);
        sessions[0] = _session(0, 1_000_000, expiry, 1, true);
        sessions[1] = _session(0, 1_000_000, expiry, 2, true);
        BatchEncoder.ReceiptEntry[] memory receipts = new BatchEncoder.ReceiptEntry[](2);
        receipts[0] = _query(0, 0, 1, expiry);
        receipts[1] = _query(0, 1, 2, expiry);
        vm.prank(settler);
        (uint256 settled,) = settlement.settle(BatchEncoder.encode(sessions, _table4(), receipts));
        assertEq(settled, 2);
        assertEq(settlement.balanceOf(payer0), 1_000_000 - 80_000);
    }

    function test_settle_NoncesAcrossBitmapWords() public {
        BatchEncoder.ReceiptEntry[] memory receipts = new BatchEncoder.ReceiptEntry[](3);
        receipts[0] = _query(0, 0, 255, expiry);
        receipts[1] = _query(0, 0, 256, expiry);
        receipts[2] = _query(0, 0, 255, expiry); // back to the first word: still a replay
        bytes memory batch = BatchEncoder.encode(_sessions1(_session(0, 1_000_000, expiry, 1, true)), _table4(), receipts);
        vm.prank(settler);
        (uint256 settled, uint256 rejected) = settlement.settle(batch);
        assertEq(settled, 2);
        assertEq(rejected, 1);
        assertTrue(settlement.nonceUsed(payer0, 255));
        assertTrue(settlement.nonceUsed(payer0, 256));
    }

    function test_settle_EmptyBatchSettlesNothing() public {
        vm.prank(settler);
        (uint256 settled, uint256 rejected) = settlement.settle(hex"0000");
        assertEq(settled + rejected, 0);
    }

    // ---------------------------------------------------------------- malformed batches

    function _expectMalformed(bytes memory batch, uint256 offset) internal {
        vm.expectRevert(abi.encodeWithSelector(IKipSettlementErrors.MalformedBatch.selector, offset));
        settlement.settle(batch);
    }

    function test_settle_RevertWhen_MalformedBatch() public {
        _expectMalformed(hex"00", 0);
        // slotCount > 64
        _expectMalformed(hex"0041", 1);
        // truncated session
        _expectMalformed(abi.encodePacked(uint8(1), uint8(0), bytes20(payer0)), 2);
        bytes memory good = BatchEncoder.encode(
            _sessions1(_session(0, 1_000_000, expiry, 1, true)), _table4(), _receipts1(_query(0, 0, 1, expiry))
        );
        // truncated signature of the last receipt
        bytes memory cut = new bytes(good.length - 1);
        for (uint256 i; i < cut.length; ++i) {
            cut[i] = good[i];
        }
        uint256 receiptAt = 2 + 70 + 65 + 4 * 20;
        _expectMalformed(cut, receiptAt);
        // session index out of range
        bytes memory badIndex = bytes.concat(good);
        badIndex[receiptAt] = 0x01;
        _expectMalformed(badIndex, receiptAt);
        // slot index out of the table
        bytes memory badSlot = bytes.concat(good);
        badSlot[receiptAt + 15] = 0x05;
        _expectMalformed(badSlot, receiptAt);
        // a sigLen that runs past the end of the batch
        bytes memory badSigLen = bytes.concat(good);
        badSigLen[2 + 69] = 0xff;
        _expectMalformed(badSigLen, 2);
        // a first receipt that repeats nothing
        bytes memory leadingRepeat = bytes.concat(good);
        leadingRepeat[receiptAt + 14] = 0x00;
        _expectMalformed(leadingRepeat, receiptAt);
    }

    function test_settle_RevertWhen_SessionListedTwice() public {
        BatchEncoder.SessionEntry[] memory sessions = new BatchEncoder.SessionEntry[](2);
        sessions[0] = _session(0, 1_000_000, expiry, 1, true);
        sessions[1] = _session(0, 1_000_000, expiry, 1, true);
        bytes memory batch = BatchEncoder.encode(sessions, _table4(), new BatchEncoder.ReceiptEntry[](0));
        _expectMalformed(batch, 2 + 70 + 65);
    }

    // ---------------------------------------------------------------- session signatures

    uint256 internal constant WALLET_OWNER_PK = 0xC0FFEE;

    /// @dev A session of smart wallet `wallet`, signed by its owner key, with `extra` bytes after the signature.
    function _walletSession(address wallet, uint64 nonce, bytes memory extra)
        internal
        view
        returns (BatchEncoder.SessionEntry memory s)
    {
        s = BatchEncoder.SessionEntry({
            payer: wallet, key: _key(7), spendCap: 1_000_000, expiry: expiry, nonce: nonce, signature: ""
        });
        bytes32 digest = settlement.hashTypedData(settlement.hashSession(wallet, s.key, s.spendCap, expiry, nonce));
        (uint8 v, bytes32 r, bytes32 sig) = vm.sign(WALLET_OWNER_PK, digest);
        s.signature = abi.encodePacked(r, sig, v, extra);
    }

    function _walletReceipt(address wallet, uint64 nonce) internal view returns (BatchEncoder.ReceiptEntry memory) {
        uint8[] memory entries = new uint8[](1);
        uint96[] memory amounts = new uint96[](1);
        amounts[0] = 20_000;
        ReceiptSpec memory spec = ReceiptSpec(0, nonce, expiry, entries, amounts, amounts);
        return _receiptFor(settlement, KEY_PK_BASE + 7, wallet, _table4(), spec);
    }

    function _settleWallet(BatchEncoder.SessionEntry memory s, uint64 nonce, IKipSettlementTypes.RejectReason reason)
        internal
        returns (uint256 settled)
    {
        if (reason != IKipSettlementTypes.RejectReason.None) {
            vm.expectEmit(address(settlement));
            emit ReceiptRejected(s.payer, nonce, uint8(reason));
        }
        vm.prank(settler);
        (settled,) = settlement.settle(BatchEncoder.encode(_sessions1(s), _table4(), _receipts1(_walletReceipt(s.payer, nonce))));
    }

    function test_settle_SessionSignedWithVZeroOrOne() public {
        BatchEncoder.SessionEntry memory s = _session(0, 1_000_000, expiry, 1, true);
        s.signature[64] = bytes1(uint8(s.signature[64]) - 27);
        (uint256 settled,) = _settle(s, _query(0, 0, 1, expiry));
        assertEq(settled, 1);
    }

    function test_settle_RejectWhen_EoaSessionSignatureNot65Bytes() public {
        BatchEncoder.SessionEntry memory s = _session(0, 1_000_000, expiry, 1, true);
        s.signature = bytes.concat(s.signature, hex"00"); // 66 bytes: only a smart wallet may send these
        _expectRejected(1, IKipSettlementTypes.RejectReason.SessionInvalid);
        _settle(s, _query(0, 0, 1, expiry));
    }

    function test_settle_SmartWalletSession() public {
        SignerWallet wallet = new SignerWallet(vm.addr(WALLET_OWNER_PK));
        _fund(address(wallet), 100_000);
        BatchEncoder.SessionEntry memory s = _walletSession(address(wallet), 1, "");
        bytes32 sessionHash = settlement.hashSession(s.payer, s.key, s.spendCap, s.expiry, s.nonce);
        vm.expectEmit(address(settlement));
        emit SessionRegistered(sessionHash, address(wallet), s.key, s.spendCap, s.expiry, s.nonce);
        assertEq(_settleWallet(s, 1, IKipSettlementTypes.RejectReason.None), 1);
        (bool registered,) = settlement.sessionState(sessionHash);
        assertTrue(registered);
        assertEq(settlement.balanceOf(address(wallet)), 80_000);
    }

    function test_settle_SmartWalletSessionSignatureOfOtherLengths() public {
        SignerWallet wallet = new SignerWallet(vm.addr(WALLET_OWNER_PK));
        _fund(address(wallet), 100_000);
        // 255 bytes, the longest the format carries, and 64 (too short for this wallet: it says no).
        assertEq(_settleWallet(_walletSession(address(wallet), 1, new bytes(190)), 1, IKipSettlementTypes.RejectReason.None), 1);
        BatchEncoder.SessionEntry memory short = _walletSession(address(wallet), 2, "");
        short.signature = new bytes(64);
        assertEq(_settleWallet(short, 2, IKipSettlementTypes.RejectReason.SessionInvalid), 0);
    }

    function test_settle_SmartWalletGetsItsGasBudget() public {
        SignerWallet wallet = new SignerWallet(vm.addr(WALLET_OWNER_PK));
        _fund(address(wallet), 100_000);
        wallet.setWork(settlement.SESSION_WALLET_GAS() - 15_000);
        assertEq(_settleWallet(_walletSession(address(wallet), 1, ""), 1, IKipSettlementTypes.RejectReason.None), 1);
        // One that needs more than the budget fails its own session only.
        wallet.setWork(settlement.SESSION_WALLET_GAS());
        assertEq(_settleWallet(_walletSession(address(wallet), 2, ""), 2, IKipSettlementTypes.RejectReason.SessionInvalid), 0);
        // The same session settles once the wallet fits its budget again.
        wallet.setWork(0);
        assertEq(_settleWallet(_walletSession(address(wallet), 2, ""), 3, IKipSettlementTypes.RejectReason.None), 1);
    }

    function test_settle_RejectWhen_SmartWalletSaysNo() public {
        address[4] memory wallets = [
            address(new GasBurnerWallet()),
            address(new RevertingWallet()),
            address(new WrongMagicWallet()),
            address(new SignerWallet(makeAddr("someone else")))
        ];
        for (uint256 i; i < wallets.length; ++i) {
            _fund(wallets[i], 100_000);
            uint256 before = gasleft();
            assertEq(_settleWallet(_walletSession(wallets[i], 1, ""), 1, IKipSettlementTypes.RejectReason.SessionInvalid), 0);
            // The wallet's budget, plus the batch: never all the gas there is.
            assertLt(before - gasleft(), settlement.SESSION_WALLET_GAS() + 150_000);
            assertEq(settlement.balanceOf(wallets[i]), 100_000);
        }
    }

    function test_settle_ReturnDataBombCostsOnlyTheBudget() public {
        ReturnBombWallet wallet = new ReturnBombWallet();
        _fund(address(wallet), 100_000);
        uint256 before = gasleft();
        // It answers the magic value (so it approves), followed by 60 kB the contract never copies.
        assertEq(_settleWallet(_walletSession(address(wallet), 1, ""), 1, IKipSettlementTypes.RejectReason.None), 1);
        assertLt(before - gasleft(), settlement.SESSION_WALLET_GAS() + 150_000);
    }

    function test_settle_RevertWhen_TooLittleGasForWalletCheck() public {
        SignerWallet wallet = new SignerWallet(vm.addr(WALLET_OWNER_PK));
        _fund(address(wallet), 100_000);
        bytes memory batch = BatchEncoder.encode(
            _sessions1(_walletSession(address(wallet), 1, "")), _table4(), _receipts1(_walletReceipt(address(wallet), 1))
        );
        // Not a silent SessionInvalid (gas estimation would find that): the call reverts, so a settler that
        // estimates gas always gives the wallet its full budget.
        vm.prank(settler);
        (bool ok, bytes memory err) = address(settlement).call{gas: 90_000}(abi.encodeCall(KipSettlement.settle, (batch)));
        assertFalse(ok);
        assertEq(bytes4(err), IKipSettlementErrors.InsufficientGasForWalletCheck.selector);
        vm.prank(settler);
        (ok,) = address(settlement).call{gas: 400_000}(abi.encodeCall(KipSettlement.settle, (batch)));
        assertTrue(ok);
        assertTrue(settlement.nonceUsed(address(wallet), 1));
    }

    // ---------------------------------------------------------------- fuzz

    function testFuzz_settle_NeverChargesAboveSignedMax(uint96 maxApp, uint96 amountApp, uint96 cap) public {
        maxApp = uint96(bound(maxApp, 0, 500_000));
        amountApp = uint96(bound(amountApp, 0, 600_000));
        cap = uint96(bound(cap, 0, 1_000_000));
        uint8[] memory entries = new uint8[](1);
        uint96[] memory maxes = new uint96[](1);
        uint96[] memory amounts = new uint96[](1);
        maxes[0] = maxApp;
        amounts[0] = amountApp;
        (uint256 settled,) =
            _settle(_session(0, cap, expiry, 1, true), _receipt(0, 0, 1, expiry, _table4(), entries, maxes, amounts));
        uint256 charged = 1_000_000 - settlement.balanceOf(payer0);
        if (settled == 1) {
            assertLe(amountApp, maxApp);
            assertLe(amountApp, cap);
            assertEq(charged, amountApp);
        } else {
            assertEq(charged, 0);
            assertTrue(amountApp > maxApp || amountApp > cap);
        }
    }

    function testFuzz_settle_StrangerChargesExactlySignedMax(uint96 maxApp, uint96 amountApp, bool authorized) public {
        maxApp = uint96(bound(maxApp, 0, 500_000));
        amountApp = uint96(bound(amountApp, 0, 500_000));
        uint8[] memory entries = new uint8[](1);
        uint96[] memory maxes = new uint96[](1);
        uint96[] memory amounts = new uint96[](1);
        maxes[0] = maxApp;
        amounts[0] = amountApp;
        address caller = authorized ? settler : stranger;
        (uint256 settled,) = _settleAs(
            caller, _session(0, 1_000_000, expiry, 1, true), _receipt(0, 0, 1, expiry, _table4(), entries, maxes, amounts)
        );
        bool allowed = authorized ? amountApp <= maxApp : amountApp == maxApp;
        assertEq(settled, allowed ? 1 : 0);
        assertEq(1_000_000 - settlement.balanceOf(payer0), allowed ? amountApp : 0);
        assertEq(settlement.nonceUsed(payer0, 1), allowed);
    }

    function testFuzz_settle_RandomBytesNeverMoveFunds(bytes calldata junk) public {
        vm.assume(junk.length < 400);
        uint256 before = settlement.balanceOf(payer0);
        try settlement.settle(junk) returns (uint256 settled, uint256) {
            assertEq(settled, 0);
        } catch {}
        assertEq(settlement.balanceOf(payer0), before);
    }

    function testFuzz_settle_ConservesTokens(uint8 count, uint16 feeBps) public {
        count = uint8(bound(count, 1, 20));
        vm.prank(admin);
        settlement.setFeeBps(bound(feeBps, 0, 1000));
        BatchEncoder.ReceiptEntry[] memory receipts = new BatchEncoder.ReceiptEntry[](count);
        for (uint256 i; i < count; ++i) {
            receipts[i] = _query(0, 0, uint64(i * 37), expiry);
        }
        vm.recordLogs();
        vm.prank(settler);
        settlement.settle(BatchEncoder.encode(_sessions1(_session(0, 1_000_000, expiry, 1, true)), _table4(), receipts));
        Vm.Log[] memory logs = vm.getRecordedLogs();
        assertGt(logs.length, 0);
        uint256 claimable = assets.claimable(1) + assets.claimable(2) + assets.claimable(3) + assets.claimable(4);
        assertEq(
            usd.balanceOf(address(settlement)) + usd.balanceOf(address(assets)),
            settlement.totalDeposits() + settlement.feesAccrued() + claimable
        );
    }
}
