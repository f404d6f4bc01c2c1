// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {Vm} from "forge-std/Vm.sol";

import {KipSettlement} from "../src/KipSettlement.sol";
import {SettlementItems} from "../src/SettlementItems.sol";
import {MockUSD} from "../src/MockUSD.sol";
import {IKipAssets, IKipAssetsTypes} from "../src/interfaces/IKipAssets.sol";
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

/// @dev Unit tests of KipSettlement v3: deposits and withdrawals per (payer, operator) account, sessions and
/// their revocation, `settle` (what it charges and credits, every reject reason, batches), smart-wallet
/// payers, fees and admin. Signatures and hashes come from the fixture, which computes them from the type
/// strings independently of the contract.
contract KipSettlementTest is SettlementFixture {
    address internal payer0;
    uint256 internal constant PAYER0_PK = PAYER_PK_BASE;
    uint256 internal constant KEY0_PK = KEY_PK_BASE;
    uint256 internal constant CAP = 1_000_000;
    uint256 internal constant FUNDS = 1_000_000;
    /// @dev secp256k1 group order.
    uint256 internal constant SECP256K1_N =
        0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141;

    function setUp() public {
        _deploy();
        payer0 = _payer(0);
        _fund(payer0, operator, FUNDS);
    }

    /// @dev Payer 0's account with one standard query.
    function _tab0() internal view returns (Tab memory t) {
        t = _openTab(0, CAP);
        _standardQuery(t);
    }

    // ---------------------------------------------------------------- constants, hashing, domain

    /// @dev The type hashes are the EIP-712 type strings' hashes, the limits are the documented ones, and the
    /// reject reasons keep the values the TypeScript side decodes.
    function test_constants_TypeHashesLimitsAndReasons() public view {
        assertEq(settlement.SESSION_TYPEHASH(), SESSION_TYPEHASH);
        assertEq(settlement.VOUCHER_TYPEHASH(), VOUCHER_TYPEHASH);
        assertEq(settlement.REVOKE_DELAY(), 120);
        assertEq(settlement.MAX_FEE_BPS(), 1000);
        assertEq(settlement.MAX_WITHDRAW_DELAY(), 30 days);
        assertEq(settlement.MAX_BATCH_SLOTS(), 256);
        assertEq(settlement.SESSION_WALLET_GAS(), 100_000);
        assertEq(settlement.REVOKED_UNTIL_SHIFT(), 17);
        assertEq(uint8(RejectReason.None), 0);
        assertEq(uint8(RejectReason.SessionInvalid), 1);
        assertEq(uint8(RejectReason.VoucherInvalid), 2);
        assertEq(uint8(RejectReason.BadSignature), 3);
        assertEq(uint8(RejectReason.Revoked), 4);
        assertEq(uint8(RejectReason.StaleVoucher), 5);
        assertEq(uint8(RejectReason.BadSessionSignature), 6);
        assertEq(uint8(RejectReason.MalformedRecords), 7);
        assertEq(uint8(RejectReason.AboveMax), 8);
        assertEq(uint8(RejectReason.SpendCapExceeded), 9);
        assertEq(uint8(RejectReason.InsufficientBalance), 10);
        assertEq(uint8(RejectReason.UnknownSlot), 11);
    }

    /// @dev The EIP-712 domain is name "KIP Settlement", version "3", this chain and this contract; the
    /// separator equals the fixture's, and follows the chain id if the chain forks.
    function test_eip712Domain_Version3WithChainId() public {
        (, string memory name, string memory version, uint256 chainId, address verifying,,) =
            settlement.eip712Domain();
        assertEq(name, "KIP Settlement");
        assertEq(version, "3");
        assertEq(chainId, block.chainid);
        assertEq(verifying, address(settlement));
        assertEq(settlement.domainSeparator(), _domainSeparator(settlement));
        bytes32 before = settlement.domainSeparator();
        vm.chainId(block.chainid + 1);
        assertNotEq(settlement.domainSeparator(), before);
        assertEq(settlement.domainSeparator(), _domainSeparator(settlement));
    }

    /// @dev hashSession is the fixture's struct hash of every field (each field changes it).
    function test_hashSession_EqualsTheFixturesStructHash() public view {
        Session memory s = _sessionOf(0, CAP);
        bytes32 id = _sessionId(s);
        assertEq(settlement.hashSession(s), id);
        s.payer = stranger;
        assertEq(settlement.hashSession(s), _sessionId(s));
        assertNotEq(_sessionId(s), id);
        s = _sessionOf(0, CAP);
        s.key = stranger;
        assertNotEq(settlement.hashSession(s), id);
        s = _sessionOf(0, CAP);
        s.operator = stranger;
        assertNotEq(settlement.hashSession(s), id);
        s = _sessionOf(0, CAP + 1);
        assertNotEq(settlement.hashSession(s), id);
        s = _sessionOf(0, CAP);
        s.expiry += 1;
        assertNotEq(settlement.hashSession(s), id);
        s = _sessionOf(0, CAP);
        s.nonce = 2;
        assertEq(settlement.hashSession(s), _sessionId(s));
        assertNotEq(settlement.hashSession(s), id);
    }

    /// @dev voucherDigest is the fixture's EIP-712 digest of the voucher, and every field is in it.
    function test_voucherDigest_EqualsTheFixturesDigest() public view {
        Voucher memory v = _voucher(_tab0());
        bytes32 digest = _digest(settlement, _voucherHash(v));
        assertEq(settlement.voucherDigest(v), digest);
        v.seq += 1;
        assertEq(settlement.voucherDigest(v), _digest(settlement, _voucherHash(v)));
        assertNotEq(settlement.voucherDigest(v), digest);
        v = _voucher(_tab0());
        v.issuedAt += 1;
        assertNotEq(settlement.voucherDigest(v), digest);
        v = _voucher(_tab0());
        v.cumulativeMax += 1;
        assertNotEq(settlement.voucherDigest(v), digest);
        v = _voucher(_tab0());
        v.charges = keccak256("other charges");
        assertEq(settlement.voucherDigest(v), _digest(settlement, _voucherHash(v)));
        assertNotEq(settlement.voucherDigest(v), digest);
        v = _voucher(_tab0());
        v.session = keccak256("another session");
        assertNotEq(settlement.voucherDigest(v), digest);
    }

    /// @dev The same voucher has another digest on another deployment: a voucher cannot be replayed there.
    function test_voucherDigest_DiffersPerDeployment() public {
        KipSettlement other = _newSettlement(assets);
        Voucher memory v = _voucher(_tab0());
        assertEq(other.voucherDigest(v), _digest(other, _voucherHash(v)));
        assertNotEq(other.voucherDigest(v), settlement.voucherDigest(v));
    }

    // ---------------------------------------------------------------- constructor and views

    /// @dev The constructor refuses a zero token, assets or treasury, a fee above 10 %, a delay above 30
    /// days, and a token other than the one KipAssets pays in.
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
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableInvalidOwner.selector, address(0)));
        new KipSettlement(IERC20(address(usd)), IKipAssets(address(assets)), treasury, 0, 0, address(0));
    }

    /// @dev The views return the configuration; the limits themselves (10 %, 30 days) are accepted.
    function test_views_Configuration() public {
        assertEq(settlement.feeBps(), FEE_BPS);
        assertEq(settlement.treasury(), treasury);
        assertEq(settlement.withdrawDelay(), DELAY);
        assertEq(settlement.paymentToken(), address(usd));
        assertEq(settlement.assets(), address(assets));
        assertEq(settlement.owner(), admin);
        assertEq(settlement.feesAccrued(), 0);
        assertEq(settlement.totalDeposits(), FUNDS);
        KipSettlement widest = new KipSettlement(
            IERC20(address(usd)), IKipAssets(address(assets)), treasury, 1000, 30 days, admin
        );
        assertEq(widest.withdrawDelay(), widest.MAX_WITHDRAW_DELAY());
        assertEq(widest.feeBps(), widest.MAX_FEE_BPS());
    }

    // ---------------------------------------------------------------- deposits

    /// @dev A deposit credits the (payer, operator) account only, emits Deposited with the new balance, and
    /// moves the tokens here; the account's seq and charged total start at 0.
    function test_deposit_CreditsThatAccountOnly() public {
        usd.mint(payer0, 500);
        vm.startPrank(payer0);
        usd.approve(address(settlement), 500);
        vm.expectEmit(address(settlement));
        emit Deposited(payer0, stranger, 200, 200);
        settlement.deposit(stranger, 200);
        vm.expectEmit(address(settlement));
        emit Deposited(payer0, stranger, 300, 500);
        settlement.deposit(stranger, 300);
        vm.stopPrank();
        AccountState memory account = settlement.accountOf(payer0, stranger);
        assertEq(account.balance, 500);
        assertEq(account.seq, 0);
        assertEq(account.charged, 0);
        assertEq(settlement.balanceOf(payer0, stranger), 500);
        assertEq(settlement.balanceOf(payer0, operator), FUNDS);
        assertEq(settlement.balanceOf(stranger, payer0), 0);
        assertEq(settlement.totalDeposits(), FUNDS + 500);
        assertEq(usd.balanceOf(address(settlement)), FUNDS + 500);
        assertEq(usd.balanceOf(payer0), 0);
    }

    /// @dev A zero amount or zero operator is refused; without an allowance the token's transfer fails.
    function test_deposit_RevertWhen_ZeroAmountOperatorOrNoAllowance() public {
        vm.expectRevert(IKipSettlementErrors.ZeroAmount.selector);
        settlement.deposit(operator, 0);
        vm.expectRevert(abi.encodeWithSelector(IKipSettlementErrors.InvalidAddress.selector, "operator"));
        settlement.deposit(address(0), 1);
        usd.mint(stranger, 10);
        vm.prank(stranger);
        vm.expectRevert();
        settlement.deposit(operator, 10);
        assertEq(settlement.balanceOf(stranger, operator), 0);
    }

    /// @dev A balance holds up to type(uint96).max: a deposit to exactly that settles, one unit more (or
    /// any amount past 2**96) is AmountTooLarge; the balance with another operator is its own.
    function test_deposit_RevertWhen_BalancePastUint96() public {
        uint256 room = type(uint96).max - FUNDS;
        usd.mint(payer0, room + 1);
        vm.startPrank(payer0);
        usd.approve(address(settlement), type(uint256).max);
        vm.expectRevert(abi.encodeWithSelector(IKipSettlementErrors.AmountTooLarge.selector, room + 1));
        settlement.deposit(operator, room + 1);
        vm.expectRevert(
            abi.encodeWithSelector(IKipSettlementErrors.AmountTooLarge.selector, type(uint256).max)
        );
        settlement.deposit(operator, type(uint256).max);
        settlement.deposit(operator, room);
        assertEq(settlement.balanceOf(payer0, operator), type(uint96).max);
        vm.expectRevert(abi.encodeWithSelector(IKipSettlementErrors.AmountTooLarge.selector, 1));
        settlement.deposit(operator, 1);
        // The full balance did not spill into seq or charged.
        AccountState memory account = settlement.accountOf(payer0, operator);
        assertEq(account.seq, 0);
        assertEq(account.charged, 0);
        // Another operator's balance is a separate word.
        settlement.deposit(stranger, 1);
        vm.stopPrank();
        assertEq(settlement.balanceOf(payer0, stranger), 1);
        assertEq(settlement.totalDeposits(), uint256(type(uint96).max) + 1);
    }

    /// @dev The sum of all balances holds up to type(uint112).max: a deposit past it is AmountTooLarge even
    /// when the payer's own balance has room. (The total is set near the cap in storage: filling it with
    /// deposits would take 2**16 full balances.) It sits in the low 112 bits of storage slot 5, beside the fees
    /// and the fee rate, which a deposit leaves alone.
    function test_deposit_RevertWhen_TotalPastUint112() public {
        bytes32 slot = bytes32(uint256(5));
        uint256 word = uint256(vm.load(address(settlement), slot));
        assertEq(word & type(uint112).max, FUNDS, "totals.deposits is the low 112 bits of slot 5");
        assertEq(word >> 240, FEE_BPS, "totals.feeBps is the top 16 bits");
        uint256 total = type(uint112).max - 1000;
        vm.store(address(settlement), slot, bytes32((word >> 112 << 112) | total));
        assertEq(settlement.totalDeposits(), total);
        address last = makeAddr("last whale");
        usd.mint(last, 1001);
        vm.startPrank(last);
        usd.approve(address(settlement), 1001);
        vm.expectRevert(abi.encodeWithSelector(IKipSettlementErrors.AmountTooLarge.selector, 1001));
        settlement.deposit(operator, 1001);
        settlement.deposit(operator, 1000);
        vm.stopPrank();
        assertEq(settlement.totalDeposits(), type(uint112).max);
        assertEq(settlement.feeBps(), FEE_BPS);
        assertEq(settlement.feesAccrued(), 0);
    }

    function _permit(uint256 pk, uint256 value, uint256 deadline)
        internal
        view
        returns (uint8, bytes32, bytes32)
    {
        address owner_ = vm.addr(pk);
        bytes32 structHash = keccak256(
            abi.encode(
                keccak256(
                    "Permit(address owner,address spender,uint256 value,uint256 nonce,uint256 deadline)"
                ),
                owner_,
                address(settlement),
                value,
                usd.nonces(owner_),
                deadline
            )
        );
        return vm.sign(pk, keccak256(abi.encodePacked("\x19\x01", usd.DOMAIN_SEPARATOR(), structHash)));
    }

    /// @dev depositWithPermit deposits with a permit instead of an approval.
    function test_depositWithPermit_CreditsBalance() public {
        address payer = _payer(5);
        usd.mint(payer, 700);
        uint256 deadline = block.timestamp + 1 hours;
        (uint8 v, bytes32 r, bytes32 s) = _permit(PAYER_PK_BASE + 5, 700, deadline);
        vm.expectEmit(address(settlement));
        emit Deposited(payer, operator, 700, 700);
        vm.prank(payer);
        settlement.depositWithPermit(operator, 700, deadline, v, r, s);
        assertEq(settlement.balanceOf(payer, operator), 700);
        assertEq(usd.balanceOf(address(settlement)), FUNDS + 700);
        assertEq(usd.allowance(payer, address(settlement)), 0);
    }

    /// @dev A permit someone submitted first (front-run) does not block the deposit: the allowance it set is
    /// used. Without any allowance the deposit still fails.
    function test_depositWithPermit_FrontRunPermitDoesNotBlock() public {
        address payer = _payer(5);
        usd.mint(payer, 700);
        uint256 deadline = block.timestamp + 1 hours;
        (uint8 v, bytes32 r, bytes32 s) = _permit(PAYER_PK_BASE + 5, 700, deadline);
        // An observer submits the permit from the mempool first.
        vm.prank(stranger);
        usd.permit(payer, address(settlement), 700, deadline, v, r, s);
        vm.prank(payer);
        settlement.depositWithPermit(operator, 700, deadline, v, r, s);
        assertEq(settlement.balanceOf(payer, operator), 700);
        // The used permit again, with no allowance left: the transfer fails.
        usd.mint(payer, 1);
        vm.prank(payer);
        vm.expectRevert();
        settlement.depositWithPermit(operator, 1, deadline, v, r, s);
        assertEq(settlement.balanceOf(payer, operator), 700);
    }

    // ---------------------------------------------------------------- withdrawals

    /// @dev A request is payable only once the delay has passed, pays the requested amount, clears the
    /// request and lowers the balance and the deposits.
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
        assertEq(settlement.balanceOf(payer0, operator), FUNDS - 400);
        assertEq(settlement.totalDeposits(), FUNDS - 400);
        assertEq(settlement.withdrawalOf(payer0, operator).amount, 0);
        assertEq(settlement.withdrawalOf(payer0, operator).readyAt, 0);
        vm.expectRevert(abi.encodeWithSelector(IKipSettlementErrors.NoWithdrawalRequested.selector, payer0));
        vm.prank(payer0);
        settlement.withdraw(operator);
    }

    /// @dev A zero request or one above the balance (with that operator) is refused.
    function test_requestWithdraw_RevertWhen_ZeroOrAboveBalance() public {
        vm.expectRevert(IKipSettlementErrors.ZeroAmount.selector);
        vm.prank(payer0);
        settlement.requestWithdraw(operator, 0);
        vm.expectRevert(
            abi.encodeWithSelector(
                IKipSettlementErrors.InsufficientBalance.selector, payer0, FUNDS, FUNDS + 1
            )
        );
        vm.prank(payer0);
        settlement.requestWithdraw(operator, FUNDS + 1);
        vm.expectRevert(
            abi.encodeWithSelector(IKipSettlementErrors.InsufficientBalance.selector, payer0, 0, 1)
        );
        vm.prank(payer0);
        settlement.requestWithdraw(stranger, 1);
        // The whole balance may be requested.
        vm.prank(payer0);
        settlement.requestWithdraw(operator, FUNDS);
        assertEq(settlement.withdrawalOf(payer0, operator).amount, FUNDS);
    }

    /// @dev A new request replaces the earlier one, amount and ready time.
    function test_requestWithdraw_ReplacesEarlierRequest() public {
        vm.prank(payer0);
        settlement.requestWithdraw(operator, 100);
        vm.warp(block.timestamp + DELAY / 2);
        vm.prank(payer0);
        settlement.requestWithdraw(operator, 250);
        assertEq(settlement.withdrawalOf(payer0, operator).amount, 250);
        assertEq(settlement.withdrawalOf(payer0, operator).readyAt, block.timestamp + DELAY);
        vm.warp(block.timestamp + DELAY / 2);
        vm.prank(payer0);
        vm.expectRevert(
            abi.encodeWithSelector(
                IKipSettlementErrors.WithdrawalNotReady.selector, payer0, block.timestamp + DELAY / 2
            )
        );
        settlement.withdraw(operator);
        vm.warp(block.timestamp + DELAY / 2);
        vm.prank(payer0);
        assertEq(settlement.withdraw(operator), 250);
    }

    /// @dev cancelWithdraw clears the request (emitting WithdrawalCancelled); with none it reverts, and
    /// withdraw has nothing to pay.
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
        vm.warp(block.timestamp + DELAY);
        vm.expectRevert(abi.encodeWithSelector(IKipSettlementErrors.NoWithdrawalRequested.selector, payer0));
        vm.prank(payer0);
        settlement.withdraw(operator);
        assertEq(settlement.balanceOf(payer0, operator), FUNDS);
    }

    /// @dev Requests are per (payer, operator): a request with one operator neither pays nor touches the
    /// balance with another.
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
        assertEq(settlement.balanceOf(payer0, operator), FUNDS);
        assertEq(settlement.balanceOf(payer0, stranger), 0);
    }

    /// @dev The payer asks for everything back; the operator settles what it admitted within the delay (the
    /// requested funds stay spendable); the withdrawal then pays min(requested, balance): the unspent rest.
    /// The account's seq and charged total are kept.
    function test_withdraw_AfterSettlementPaysMinOfRequestAndBalance() public {
        Tab memory t = _tab0();
        _standardQuery(t);
        vm.prank(payer0);
        settlement.requestWithdraw(operator, FUNDS);
        vm.warp(block.timestamp + DELAY / 2);
        assertTrue(_settleTab(t), "the operator settles within the delay");
        vm.warp(block.timestamp + DELAY / 2);
        vm.expectEmit(address(settlement));
        emit Withdrawn(payer0, operator, FUNDS - 2 * STANDARD_TOTAL);
        vm.prank(payer0);
        assertEq(settlement.withdraw(operator), FUNDS - 2 * STANDARD_TOTAL);
        assertEq(usd.balanceOf(payer0), FUNDS - 2 * STANDARD_TOTAL);
        AccountState memory account = settlement.accountOf(payer0, operator);
        assertEq(account.balance, 0);
        assertEq(account.seq, 2);
        assertEq(account.charged, 2 * STANDARD_TOTAL);
        assertEq(settlement.totalDeposits(), 0);
        assertEq(usd.balanceOf(address(settlement)), 2 * STANDARD_FEES);
        assertEq(settlement.feesAccrued(), 2 * STANDARD_FEES);
    }

    /// @dev A request smaller than what is left after a settlement pays the request in full.
    function test_withdraw_PartialRequestBelowBalancePaysRequest() public {
        assertTrue(_settleTab(_tab0()));
        vm.prank(payer0);
        settlement.requestWithdraw(operator, 1000);
        vm.warp(block.timestamp + DELAY);
        vm.prank(payer0);
        assertEq(settlement.withdraw(operator), 1000);
        assertEq(settlement.balanceOf(payer0, operator), FUNDS - STANDARD_TOTAL - 1000);
        assertEq(settlement.accountOf(payer0, operator).charged, STANDARD_TOTAL);
    }

    /// @dev If a settlement spent the whole balance, the request pays 0 (no transfer) and is cleared.
    function test_withdraw_PaysZeroWhenSettlementSpentEverything() public {
        address payer = _payer(3);
        _fund(payer, operator, STANDARD_TOTAL);
        Tab memory t = _openTab(3, CAP);
        _standardQuery(t);
        vm.prank(payer);
        settlement.requestWithdraw(operator, STANDARD_TOTAL);
        assertTrue(_settleTab(t));
        vm.warp(block.timestamp + DELAY);
        vm.expectEmit(address(settlement));
        emit Withdrawn(payer, operator, 0);
        vm.prank(payer);
        assertEq(settlement.withdraw(operator), 0);
        assertEq(usd.balanceOf(payer), 0);
        assertEq(settlement.withdrawalOf(payer, operator).amount, 0);
    }

    // ---------------------------------------------------------------- revocation

    /// @dev Only the session's payer or its key may revoke it (NotPayerOrKey otherwise, the operator too);
    /// revoking sets revokedAt to now + REVOKE_DELAY and emits SessionRevoked.
    function test_revokeSession_OnlyPayerOrKey() public {
        Session memory s = _sessionOf(0, CAP);
        bytes32 id = _sessionId(s);
        address[3] memory others = [stranger, operator, _key(1)];
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
        assertEq(settlement.revokedAt(id), block.timestamp + settlement.REVOKE_DELAY());
        // The key may revoke its own session too.
        s.nonce = 2;
        vm.expectEmit(address(settlement));
        emit SessionRevoked(_sessionId(s), payer0, block.timestamp + 120);
        vm.prank(_key(0));
        settlement.revokeSession(s);
        assertEq(settlement.revokedAt(_sessionId(s)), block.timestamp + 120);
        assertEq(settlement.revokedAt(id), block.timestamp + 120);
    }

    /// @dev Revoking again (by the payer or the key, later) keeps the first time and emits nothing.
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

    /// @dev A voucher issued before the revocation's effective time still settles, even long after; one
    /// issued at or after it is Revoked. Revocation is per session: the account goes on through another.
    function test_settle_RevokedSessionRefusesVouchersIssuedFromRevokedAt() public {
        Tab memory t = _tab0();
        vm.prank(payer0);
        settlement.revokeSession(t.session);
        uint256 effectiveAt = settlement.revokedAt(_id(t));
        assertEq(effectiveAt, block.timestamp + 120);
        vm.warp(effectiveAt - 1);
        _standardQuery(t);
        Settlement memory beforeRevocation = _item(t);
        assertEq(beforeRevocation.issuedAt, effectiveAt - 1);
        vm.warp(effectiveAt);
        _standardQuery(t);
        _assertRejected(operator, _item(t), RejectReason.Revoked);
        vm.warp(effectiveAt + 1 days);
        _standardQuery(t);
        _assertRejected(operator, _item(t), RejectReason.Revoked);
        (uint256 settled,) = _settleAs(operator, _items1(beforeRevocation));
        assertEq(settled, 1, "vouchers issued before revokedAt still settle");
        assertEq(settlement.balanceOf(payer0, operator), FUNDS - 2 * STANDARD_TOTAL);
        assertEq(settlement.accountOf(payer0, operator).seq, 2);
        // Another session of the payer carries the account on.
        Session memory s2 = _sessionOf(0, CAP);
        s2.key = _key(1);
        s2.nonce = 2;
        s2.expiry = block.timestamp + 7 days;
        Tab memory u = _openTabWith(settlement, s2, _signSession(settlement, s2, PAYER0_PK), KEY_PK_BASE + 1);
        u.seq = 2;
        u.settledSeq = 2;
        u.charged = 2 * STANDARD_TOTAL;
        _standardQuery(u);
        assertTrue(_settleTab(u));
        assertEq(settlement.accountOf(payer0, operator).seq, 3);
    }

    /// @dev Storage slot of `_revokedAt[id]` (the mapping is at slot 8).
    function _revokedAtSlot(bytes32 id) internal pure returns (bytes32) {
        return keccak256(abi.encode(id, uint256(8)));
    }

    /// @dev Whether settling `item` as the operator read the session's revocation.
    function _settleReadsRevocation(Settlement memory item) internal returns (bool read, uint256 settled) {
        bytes32 slot = _revokedAtSlot(_sessionId(item.session));
        vm.record();
        (settled,) = _settleAs(operator, _items1(item));
        (bytes32[] memory reads,) = vm.accesses(address(settlement));
        for (uint256 i; i < reads.length; ++i) {
            if (reads[i] == slot) read = true;
        }
    }

    /// @dev Revoking a session raises its account's revokedUntil to 1 + (expiry >> 17), and never lowers it;
    /// deposits, withdrawals and settlements keep it. An account with no revoked session never reads the
    /// revocation mapping; one with a revoked session reads it for vouchers issued before that mark.
    function test_revokeSession_RaisesTheAccountsRevokedUntil() public {
        Tab memory t = _tab0();
        assertEq(settlement.accountOf(payer0, operator).revokedUntil, 0);
        (bool read, uint256 settled) = _settleReadsRevocation(_item(t));
        assertEq(settled, 1);
        assertFalse(read, "no revoked session: the revocation is not read");
        _commit(t);
        // Revoke another session of the account (a later expiry): the mark covers it.
        Session memory other = _sessionOf(0, CAP);
        other.nonce = 7;
        other.expiry = block.timestamp + 30 days;
        vm.prank(payer0);
        settlement.revokeSession(other);
        uint256 mark = (other.expiry >> 17) + 1;
        assertEq(settlement.accountOf(payer0, operator).revokedUntil, mark);
        // A session expiring earlier does not lower it; nor do deposits, withdrawals or settlement.
        vm.prank(_key(0));
        settlement.revokeSession(_sessionOf(0, 1));
        assertEq(settlement.accountOf(payer0, operator).revokedUntil, mark);
        _fund(payer0, operator, 10);
        vm.prank(payer0);
        settlement.requestWithdraw(operator, 10);
        vm.warp(block.timestamp + DELAY);
        vm.prank(payer0);
        settlement.withdraw(operator);
        _standardQuery(t);
        (read, settled) = _settleReadsRevocation(_item(t));
        assertEq(settled, 1, "a session that is not revoked settles");
        assertTrue(read, "issued before the mark: the revocation is read");
        _commit(t);
        AccountState memory account = settlement.accountOf(payer0, operator);
        assertEq(account.revokedUntil, mark);
        assertEq(account.seq, 2);
        assertEq(account.charged, 2 * STANDARD_TOTAL);
        // Another account of the payer is not marked.
        assertEq(settlement.accountOf(payer0, stranger).revokedUntil, 0);
    }

    /// @dev At and around the mark: a voucher issued at t is checked against revocation iff
    /// t >> 17 < revokedUntil. A revoked session's vouchers issued from revokedAt up to its expiry (the
    /// last second it may sign, here the last uint40 second) are all refused; past the mark, a voucher of a
    /// session that is not revoked settles without the read.
    function test_settle_RevokedUntilBoundaries() public {
        uint256 maxExpiry = type(uint40).max;
        Session memory s = _sessionOf(0, CAP);
        s.expiry = maxExpiry;
        Tab memory t = _openTabWith(settlement, s, _signSession(settlement, s, PAYER0_PK), KEY0_PK);
        vm.prank(payer0);
        settlement.revokeSession(s);
        uint256 mark = (maxExpiry >> 17) + 1;
        assertEq(mark, 2 ** 23, "the highest mark fits the 24-bit field");
        assertEq(settlement.accountOf(payer0, operator).revokedUntil, mark);
        uint256 revokedAt = settlement.revokedAt(_id(t));
        _standardQuery(t);
        Settlement memory item = _item(t);
        uint256[4] memory times = [revokedAt, revokedAt + 1, maxExpiry - 1, maxExpiry];
        for (uint256 i; i < times.length; ++i) {
            item.issuedAt = times[i];
            _resignVoucher(item, KEY0_PK);
            _assertRejected(operator, item, RejectReason.Revoked);
        }
        item.issuedAt = revokedAt - 1;
        _resignVoucher(item, KEY0_PK);
        Settlement memory early = item;

        // A session revoked with an expiry past uint40 (it can never be settled) marks up to the last second.
        Session memory wide = _sessionOf(1, CAP);
        wide.expiry = uint256(type(uint40).max) + 12_345;
        vm.prank(_payer(1));
        settlement.revokeSession(wide);
        assertEq(settlement.accountOf(_payer(1), operator).revokedUntil, mark);

        // Payer 2: a revoked session expiring at E; an unrevoked one settles a voucher issued in the last
        // unit before the mark with the read, and one issued from the mark on without it.
        _fund(_payer(2), operator, FUNDS);
        Session memory gone = _sessionOf(2, CAP);
        gone.nonce = 9;
        vm.prank(_payer(2));
        settlement.revokeSession(gone);
        uint256 mark2 = (gone.expiry >> 17) + 1;
        assertEq(settlement.accountOf(_payer(2), operator).revokedUntil, mark2);
        Session memory live = _sessionOf(2, CAP);
        live.expiry = type(uint40).max;
        Tab memory u = _openTabWith(settlement, live, _signSession(settlement, live, PAYER_PK_BASE + 2), KEY_PK_BASE + 2);
        _standardQuery(u);
        Settlement memory before = _item(u);
        before.issuedAt = (mark2 << 17) - 1;
        _resignVoucher(before, KEY_PK_BASE + 2);
        (bool read, uint256 settled) = _settleReadsRevocation(before);
        assertEq(settled, 1);
        assertTrue(read, "issued in the last unit below the mark");
        _commit(u);
        _standardQuery(u);
        Settlement memory atMark = _item(u);
        atMark.issuedAt = mark2 << 17;
        _resignVoucher(atMark, KEY_PK_BASE + 2);
        (read, settled) = _settleReadsRevocation(atMark);
        assertEq(settled, 1);
        assertFalse(read, "issued at the mark: the read is skipped");

        // The voucher payer 0 issued before its revocation still settles.
        (settled,) = _settleAs(operator, _items1(early));
        assertEq(settled, 1);
    }

    /// @dev Under any expiry, revocation time and issue time, a revoked session's voucher settles iff it was
    /// issued before revokedAt (and by the expiry): the mark never lets a refused voucher through.
    function testFuzz_settle_RevokedSessionExactlyAsRevokedAt(uint40 expiry, uint40 revokeAt, uint40 issuedAt)
        public
    {
        revokeAt = uint40(bound(revokeAt, block.timestamp, type(uint40).max - 200));
        expiry = uint40(bound(expiry, 1, type(uint40).max));
        issuedAt = uint40(bound(issuedAt, 0, expiry));
        Session memory s = _sessionOf(0, CAP);
        s.expiry = expiry;
        Tab memory t = _openTabWith(settlement, s, _signSession(settlement, s, PAYER0_PK), KEY0_PK);
        _standardQuery(t);
        Settlement memory item = _item(t);
        item.issuedAt = issuedAt;
        _resignVoucher(item, KEY0_PK);
        vm.warp(revokeAt);
        vm.prank(payer0);
        settlement.revokeSession(s);
        uint256 effectiveAt = uint256(revokeAt) + 120;
        if (issuedAt >= effectiveAt) {
            _assertRejected(operator, item, RejectReason.Revoked);
        } else {
            (uint256 settled,) = _settleAs(operator, _items1(item));
            assertEq(settled, 1);
        }
    }

    // ---------------------------------------------------------------- fees and admin (owner)

    /// @dev setFeeBps: owner only, at most MAX_FEE_BPS, emits FeeBpsUpdated; 0 is allowed.
    function test_setFeeBps_OwnerOnlyAndCapped() public {
        vm.expectEmit(address(settlement));
        emit FeeBpsUpdated(FEE_BPS, 1000);
        vm.prank(admin);
        settlement.setFeeBps(1000);
        assertEq(settlement.feeBps(), 1000);
        vm.expectRevert(abi.encodeWithSelector(IKipSettlementErrors.FeeTooHigh.selector, 1001, 1000));
        vm.prank(admin);
        settlement.setFeeBps(1001);
        address[3] memory others = [operator, payer0, treasury];
        for (uint256 i; i < others.length; ++i) {
            vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, others[i]));
            vm.prank(others[i]);
            settlement.setFeeBps(1);
        }
        vm.prank(admin);
        settlement.setFeeBps(0);
        assertEq(settlement.feeBps(), 0);
    }

    /// @dev setTreasury: owner only, non-zero, emits TreasuryUpdated; fees then go to the new treasury.
    function test_setTreasury_OwnerOnlyNonZero() public {
        vm.expectRevert(abi.encodeWithSelector(IKipSettlementErrors.InvalidTreasury.selector, address(0)));
        vm.prank(admin);
        settlement.setTreasury(address(0));
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, stranger));
        vm.prank(stranger);
        settlement.setTreasury(stranger);
        address newTreasury = makeAddr("new treasury");
        vm.expectEmit(address(settlement));
        emit TreasuryUpdated(treasury, newTreasury);
        vm.prank(admin);
        settlement.setTreasury(newTreasury);
        assertEq(settlement.treasury(), newTreasury);
        assertTrue(_settleTab(_tab0()));
        settlement.withdrawFees();
        assertEq(usd.balanceOf(newTreasury), STANDARD_FEES);
        assertEq(usd.balanceOf(treasury), 0);
    }

    /// @dev Ownership moves in two steps (Ownable2Step): the new owner administers only once it accepted.
    function test_ownership_TwoStep() public {
        vm.prank(admin);
        settlement.transferOwnership(stranger);
        assertEq(settlement.owner(), admin);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, stranger));
        vm.prank(stranger);
        settlement.setFeeBps(1);
        vm.prank(stranger);
        settlement.acceptOwnership();
        assertEq(settlement.owner(), stranger);
        vm.prank(stranger);
        settlement.setFeeBps(1);
        assertEq(settlement.feeBps(), 1);
    }

    /// @dev withdrawFees (anyone may call it) pays every accrued fee to the treasury, emits FeesWithdrawn,
    /// and keeps conservation; with nothing accrued it pays 0 and emits nothing.
    function test_withdrawFees_PaysTreasury() public {
        vm.recordLogs();
        assertEq(settlement.withdrawFees(), 0);
        assertEq(vm.getRecordedLogs().length, 0);
        assertTrue(_settleTab(_tab0()));
        assertEq(settlement.feesAccrued(), STANDARD_FEES);
        vm.expectEmit(address(settlement));
        emit FeesWithdrawn(treasury, STANDARD_FEES);
        vm.prank(stranger);
        assertEq(settlement.withdrawFees(), STANDARD_FEES);
        assertEq(usd.balanceOf(treasury), STANDARD_FEES);
        assertEq(settlement.feesAccrued(), 0);
        assertEq(usd.balanceOf(address(settlement)), settlement.totalDeposits());
        assertEq(settlement.withdrawFees(), 0);
        assertEq(usd.balanceOf(treasury), STANDARD_FEES);
    }

    // ---------------------------------------------------------------- settle helpers

    /// @dev Settles `items` as `caller` with the slot table `table`.
    function _settleWith(address caller, Settlement[] memory items, uint256[] memory table)
        internal
        returns (uint256 settled, uint256 rejected)
    {
        vm.prank(caller);
        return settlement.settle(_encode(items), table);
    }

    /// @dev `_assertRejected` with a slot table of the test's choice (the fixture's lists only known slots).
    function _assertRejectedWith(
        address caller,
        Settlement memory item,
        uint256[] memory table,
        RejectReason reason
    ) internal {
        bytes32 id = _sessionId(_asOperator(item.session, caller));
        AccountState memory before = settlement.accountOf(item.session.payer, item.session.operator);
        uint256 deposits = settlement.totalDeposits();
        uint256 fees = settlement.feesAccrued();
        uint256 held = usd.balanceOf(address(assets));
        vm.expectEmit(address(settlement));
        emit SessionRejected(0, id, reason);
        (uint256 settled, uint256 rejected) = _settleWith(caller, _items1(item), table);
        assertEq(settled, 0, "settled");
        assertEq(rejected, 1, "rejected");
        AccountState memory after_ = settlement.accountOf(item.session.payer, item.session.operator);
        assertEq(after_.balance, before.balance, "balance moved");
        assertEq(after_.seq, before.seq, "seq moved");
        assertEq(after_.charged, before.charged, "charged moved");
        assertEq(after_.revokedUntil, before.revokedUntil, "revokedUntil moved");
        assertEq(settlement.totalDeposits(), deposits, "deposits moved");
        assertEq(settlement.feesAccrued(), fees, "fees moved");
        assertEq(usd.balanceOf(address(assets)), held, "revenue moved");
    }

    /// @dev One packed record: app entry `app`, and `amounts[k]` to table entry `indexes[k]`.
    function _record(uint8 app, uint8[] memory indexes, uint64[] memory amounts)
        internal
        pure
        returns (bytes memory)
    {
        return Records.pack(
            Records.Record(app, 1000, 200, keccak256(abi.encode(app, indexes, amounts)), indexes, amounts)
        );
    }

    function _record1(uint8 app, uint8 index, uint64 amount) internal pure returns (bytes memory) {
        uint8[] memory indexes = new uint8[](1);
        uint64[] memory amounts = new uint64[](1);
        indexes[0] = index;
        amounts[0] = amount;
        return _record(app, indexes, amounts);
    }

    function _record2(uint8 app, uint8 i0, uint64 a0, uint8 i1, uint64 a1)
        internal
        pure
        returns (bytes memory)
    {
        uint8[] memory indexes = new uint8[](2);
        uint64[] memory amounts = new uint64[](2);
        (indexes[0], indexes[1]) = (i0, i1);
        (amounts[0], amounts[1]) = (a0, a1);
        return _record(app, indexes, amounts);
    }

    /// @dev Net revenue of the standard query's slots after `n` standard queries settled in one batch.
    function _assertStandardRevenue(uint256 n) internal view {
        assertEq(assets.slotInfo(APP).revenue, n * 20_000 - n * 20_000 * FEE_BPS / 10_000, "app revenue");
        assertEq(assets.slotInfo(MODEL).revenue, n * 12_000 - n * 12_000 * FEE_BPS / 10_000, "model revenue");
        assertEq(assets.slotInfo(DATA_A).revenue, n * 5000 - n * 5000 * FEE_BPS / 10_000, "data A revenue");
        assertEq(assets.slotInfo(DATA_B).revenue, 0, "data B revenue");
    }

    function _assertConservation() internal view {
        assertEq(
            usd.balanceOf(address(settlement)),
            settlement.totalDeposits() + settlement.feesAccrued(),
            "conservation"
        );
    }

    // ---------------------------------------------------------------- settle: what it does

    /// @dev The happy path: one standard query debits exactly 37_000, sets the account's seq and charged
    /// total, credits each slot its gross less 2.5 % (rounded down) to KipAssets, accrues the 925 of fees,
    /// emits BatchSettled and no SessionRejected / SessionApproved, and keeps conservation.
    function test_settle_ChargesAccountAndCreditsNetPerSlot() public {
        Tab memory t = _tab0();
        assertEq(t.cumulativeMax, STANDARD_MAX);
        vm.recordLogs();
        vm.expectEmit(address(settlement));
        emit BatchSettled(operator, 1, 0, STANDARD_TOTAL, STANDARD_FEES);
        (uint256 settled, uint256 rejected) = _settleAs(operator, _items1(_item(t)));
        assertEq(settled, 1);
        assertEq(rejected, 0);
        Vm.Log[] memory logs = vm.getRecordedLogs();
        for (uint256 i; i < logs.length; ++i) {
            assertNotEq(logs[i].topics[0], SessionRejected.selector);
            assertNotEq(logs[i].topics[0], SessionApproved.selector);
        }
        AccountState memory account = settlement.accountOf(payer0, operator);
        assertEq(account.balance, FUNDS - STANDARD_TOTAL);
        assertEq(account.seq, 1);
        assertEq(account.charged, STANDARD_TOTAL);
        assertEq(settlement.balanceOf(payer0, operator), FUNDS - STANDARD_TOTAL);
        assertEq(settlement.totalDeposits(), FUNDS - STANDARD_TOTAL);
        assertEq(assets.slotInfo(APP).revenue, 19_500);
        assertEq(assets.slotInfo(MODEL).revenue, 11_700);
        assertEq(assets.slotInfo(DATA_A).revenue, 4875);
        assertEq(assets.slotInfo(DATA_B).revenue, 0);
        assertEq(assets.claimable(1), 19_500);
        assertEq(settlement.feesAccrued(), STANDARD_FEES);
        assertEq(usd.balanceOf(address(assets)), STANDARD_TOTAL - STANDARD_FEES);
        assertEq(usd.balanceOf(address(settlement)), FUNDS - STANDARD_TOTAL + STANDARD_FEES);
        _assertConservation();
        assertFalse(settlement.walletApproved(_id(t)), "an EOA payer needs no approval record");
    }

    /// @dev settle returns how many items settled and how many were rejected, the counts BatchSettled
    /// reports; BatchSettled's gross and fees cover the settled item only.
    function test_settle_ReturnsCounts() public {
        _fund(_payer(1), operator, FUNDS);
        Tab memory a = _tab0();
        Tab memory b = _openTab(1, CAP);
        _standardQuery(b);
        Settlement memory bad = _item(b);
        bad.cumulativeMax = 1;
        vm.expectEmit(address(settlement));
        emit BatchSettled(operator, 1, 1, STANDARD_TOTAL, STANDARD_FEES);
        (uint256 settled, uint256 rejected) = _settleAs(operator, _items2(_item(a), bad));
        assertEq(settled, 1);
        assertEq(rejected, 1);
    }

    /// @dev Successive batches build on the account: each settles only the records since the last settled
    /// seq, seq and charged accumulate, and the revenue adds up over the batches.
    function test_settle_SuccessiveBatches() public {
        Tab memory t = _tab0();
        assertTrue(_settleTab(t));
        _standardQuery(t);
        _standardQuery(t);
        _standardQuery(t);
        Settlement memory item = _item(t);
        assertEq(item.seq, 4);
        // Charged 37_000, two queries pending, the third's maxima.
        assertEq(item.cumulativeMax, STANDARD_TOTAL + 2 * STANDARD_TOTAL + STANDARD_MAX);
        vm.expectEmit(address(settlement));
        emit BatchSettled(operator, 1, 0, 3 * STANDARD_TOTAL, 3 * STANDARD_FEES);
        assertTrue(_settleTab(t));
        _standardQuery(t);
        assertTrue(_settleTab(t));
        AccountState memory account = settlement.accountOf(payer0, operator);
        assertEq(account.seq, 5);
        assertEq(account.charged, 5 * STANDARD_TOTAL);
        assertEq(account.balance, FUNDS - 5 * STANDARD_TOTAL);
        _assertStandardRevenue(5);
        assertEq(settlement.feesAccrued(), 5 * STANDARD_FEES);
        _assertConservation();
    }

    /// @dev Two items of one account in one batch: the second builds on the account as the first left it
    /// (balance, seq, charged). The same voucher twice: the second is Stale, the account charged once.
    function test_settle_TwoItemsOfOneAccountInOneBatch() public {
        Tab memory t = _tab0();
        Settlement memory first = _item(t);
        _commit(t);
        _standardQuery(t);
        _standardQuery(t);
        Settlement memory second = _item(t);
        (uint256 settled, uint256 rejected) = _settleAs(operator, _items2(first, second));
        assertEq(settled, 2);
        assertEq(rejected, 0);
        AccountState memory account = settlement.accountOf(payer0, operator);
        assertEq(account.seq, 3);
        assertEq(account.charged, 3 * STANDARD_TOTAL);
        assertEq(account.balance, FUNDS - 3 * STANDARD_TOTAL);
        _assertStandardRevenue(3);

        // The same voucher twice in a batch.
        _fund(_payer(1), operator, FUNDS);
        Tab memory u = _openTab(1, CAP);
        _standardQuery(u);
        Settlement memory once = _item(u);
        vm.expectEmit(address(settlement));
        emit SessionRejected(1, _id(u), RejectReason.StaleVoucher);
        (settled, rejected) = _settleAs(operator, _items2(once, once));
        assertEq(settled, 1);
        assertEq(rejected, 1);
        assertEq(settlement.balanceOf(_payer(1), operator), FUNDS - STANDARD_TOTAL);
        assertEq(settlement.accountOf(_payer(1), operator).charged, STANDARD_TOTAL);
    }

    /// @dev Two items of one account out of order: the newer settles its own records and the older one,
    /// now behind the account's seq, is Stale.
    function test_settle_TwoItemsOfOneAccountOutOfOrder() public {
        Tab memory t = _tab0();
        Settlement memory first = _item(t);
        _commit(t);
        _standardQuery(t);
        Settlement memory second = _item(t);
        vm.expectEmit(address(settlement));
        emit SessionRejected(1, _id(t), RejectReason.StaleVoucher);
        (uint256 settled, uint256 rejected) = _settleAs(operator, _items2(second, first));
        assertEq(settled, 1);
        assertEq(rejected, 1);
        assertEq(settlement.accountOf(payer0, operator).seq, 2);
        assertEq(settlement.accountOf(payer0, operator).charged, STANDARD_TOTAL);
    }

    /// @dev Two sessions (two keys, two devices) of one payer feed one account sequence: queries 1-2 come
    /// through key 0, query 3 through key 1; key 1's newest voucher (seq 3) settles all three records, and
    /// key 0's older voucher is then Stale. Key 0 signs on at seq 4 and settles on top.
    function test_settle_TwoSessionsOfOnePayerShareTheAccountSequence() public {
        Tab memory t = _tab0();
        _standardQuery(t);
        Session memory s0 = t.session;
        bytes memory sig0 = t.sessionSignature;
        Settlement memory olderOfKey0 = _item(t);
        Session memory s1 = _sessionOf(0, CAP);
        s1.key = _key(1);
        s1.nonce = 2;
        bytes memory sig1 = _signSession(settlement, s1, PAYER0_PK);
        _useSession(t, s1, sig1, KEY_PK_BASE + 1);
        _standardQuery(t);
        Settlement memory newest = _item(t);
        assertEq(newest.seq, 3);
        assertEq(newest.records.length, 3 * 67);
        assertTrue(_settleTab(t));
        AccountState memory account = settlement.accountOf(payer0, operator);
        assertEq(account.seq, 3);
        assertEq(account.charged, 3 * STANDARD_TOTAL);
        assertEq(account.balance, FUNDS - 3 * STANDARD_TOTAL);
        _assertStandardRevenue(3);
        _assertRejected(operator, olderOfKey0, RejectReason.StaleVoucher);
        // Back on key 0's session.
        _useSession(t, s0, sig0, KEY0_PK);
        _standardQuery(t);
        assertTrue(_settleTab(t));
        assertEq(settlement.accountOf(payer0, operator).seq, 4);
        assertEq(settlement.accountOf(payer0, operator).charged, 4 * STANDARD_TOTAL);
        // Both sessions also settle in one batch, in sequence.
        _standardQuery(t);
        Settlement memory a = _item(t);
        _commit(t);
        _useSession(t, s1, sig1, KEY_PK_BASE + 1);
        _standardQuery(t);
        (uint256 settled,) = _settleAs(operator, _items2(a, _item(t)));
        assertEq(settled, 2);
        assertEq(settlement.accountOf(payer0, operator).seq, 6);
        assertEq(settlement.accountOf(payer0, operator).charged, 6 * STANDARD_TOTAL);
    }



    function test_settle_BalancesArePerPayerAndOperator() public {
        Session memory s = _sessionOf(0, CAP);
        s.operator = stranger;
        Tab memory t = _openTabWith(settlement, s, _signSession(settlement, s, PAYER0_PK), KEY0_PK);
        _standardQuery(t);
        _assertRejected(operator, _item(t), RejectReason.BadSignature);
        _assertRejected(stranger, _item(t), RejectReason.InsufficientBalance);
        _fund(payer0, stranger, STANDARD_TOTAL);
        (uint256 settled,) = _settleAs(stranger, _items1(_item(t)));
        assertEq(settled, 1);
        assertEq(settlement.balanceOf(payer0, stranger), 0);
        assertEq(settlement.accountOf(payer0, stranger).seq, 1);
        AccountState memory other = settlement.accountOf(payer0, operator);
        assertEq(other.balance, FUNDS);
        assertEq(other.seq, 0);
        assertEq(other.charged, 0);
    }

    /// @dev Zero records with seq advancing (failed queries): the seq moves, nothing is charged or credited
    /// (no transfer, no `credit` call), BatchSettled reports 0; the next query builds on that seq.
    function test_settle_ZeroRecordsAdvanceSeq() public {
        Tab memory t = _openTab(0, CAP);
        _voidQuery(t);
        _voidQuery(t);
        assertEq(t.records.length, 0);
        vm.recordLogs();
        vm.expectEmit(address(settlement));
        emit BatchSettled(operator, 1, 0, 0, 0);
        assertTrue(_settleTab(t));
        Vm.Log[] memory logs = vm.getRecordedLogs();
        for (uint256 i; i < logs.length; ++i) {
            assertNotEq(logs[i].emitter, address(assets), "nothing credited");
            assertNotEq(logs[i].emitter, address(usd), "nothing transferred");
        }
        AccountState memory account = settlement.accountOf(payer0, operator);
        assertEq(account.seq, 2);
        assertEq(account.charged, 0);
        assertEq(account.balance, FUNDS);
        _standardQuery(t);
        assertTrue(_settleTab(t));
        assertEq(settlement.accountOf(payer0, operator).seq, 3);
        assertEq(settlement.balanceOf(payer0, operator), FUNDS - STANDARD_TOTAL);
    }

    /// @dev Fewer records than seqs (a failed query between two paid ones) settle; the seq jumps to the
    /// voucher's.
    function test_settle_FewerRecordsThanSeqs() public {
        Tab memory t = _tab0();
        _voidQuery(t);
        _standardQuery(t);
        assertEq(t.seq, 3);
        assertEq(t.recordCount, 2);
        assertTrue(_settleTab(t));
        assertEq(settlement.accountOf(payer0, operator).seq, 3);
        assertEq(settlement.accountOf(payer0, operator).charged, 2 * STANDARD_TOTAL);
    }

    /// @dev A record may name the app without charging it, charge a slot with 0, or charge one entry twice;
    /// the debit is the sum of its amounts and each entry gets its own sum.
    function test_settle_RecordShapes() public {
        Tab memory t = _openTab(0, CAP);
        _voidQuery(t); // cumulativeMax 45_000
        t.records = bytes.concat(
            _record(2, new uint8[](0), new uint64[](0)), // names entry 2 as app, charges nothing
            _record1(0, 3, 0) // charges entry 3 with 0
        );
        _voidQuery(t);
        _voidQuery(t);
        Settlement memory item = _item(t);
        item.records = bytes.concat(item.records, _record2(0, 1, 1000, 1, 3000));
        (uint256 settled,) = _settleAs(operator, _items1(item));
        assertEq(settled, 1);
        assertEq(settlement.accountOf(payer0, operator).charged, 4000);
        assertEq(assets.slotInfo(MODEL).revenue, 4000 - 100);
        assertEq(assets.slotInfo(APP).revenue, 0);
        assertEq(assets.slotInfo(DATA_B).revenue, 0);
    }

    /// @dev The batch must have items; the slot table at most MAX_BATCH_SLOTS entries (257 reverts).
    function test_settle_RevertWhen_EmptyBatchOrSlotTableTooLong() public {
        Settlement[] memory none = new Settlement[](0);
        Settlement[] memory one = _items1(_item(_tab0()));
        uint256[] memory table = _table();
        uint256[] memory tooLong = new uint256[](257);
        vm.expectRevert(IKipSettlementErrors.EmptyBatch.selector);
        _settleWith(operator, none, table);
        vm.expectRevert(abi.encodeWithSelector(IKipSettlementErrors.SlotTableTooLong.selector, 257));
        _settleWith(operator, one, tooLong);
        vm.expectRevert(IKipSettlementErrors.EmptyBatch.selector);
        _settleWith(operator, none, tooLong);
        // Anyone gets the same reverts: they come before any item is looked at.
        vm.expectRevert(IKipSettlementErrors.EmptyBatch.selector);
        _settleWith(stranger, none, table);
        assertEq(settlement.accountOf(payer0, operator).seq, 0);
    }

    /// @dev A batch whose last item ends past the batch (cut in its head, its signature or its records)
    /// reverts whole with MalformedBatch(offset of that item): nothing of the good item before it applies.
    /// Bytes after the last item are read as another item, so they revert too.
    function test_settle_RevertWhen_ItemCutShort() public {
        _fund(_payer(1), operator, FUNDS);
        Tab memory b = _openTab(1, CAP);
        _standardQuery(b);
        bytes memory first = _encodeItem(_item(_tab0()));
        bytes memory second = _encodeItem(_item(b));
        uint256[] memory table = _table();
        // 185 + 64 + 3 + 67 bytes: cut in the head, the signature, the records length and the records.
        uint256[5] memory cuts = [uint256(1), 100, 300, 70, 66];
        for (uint256 i; i < cuts.length; ++i) {
            bytes memory batch = bytes.concat(first, _slice(second, second.length - cuts[i]));
            vm.expectRevert(abi.encodeWithSelector(SettlementItems.MalformedBatch.selector, first.length));
            vm.prank(operator);
            settlement.settle(batch, table);
        }
        vm.expectRevert(abi.encodeWithSelector(SettlementItems.MalformedBatch.selector, first.length + second.length));
        vm.prank(operator);
        settlement.settle(bytes.concat(first, second, hex"00"), table);
        assertEq(settlement.accountOf(payer0, operator).seq, 0);
        vm.prank(operator);
        (uint256 settled,) = settlement.settle(bytes.concat(first, second), table);
        assertEq(settled, 2);
    }

    /// @dev A table of exactly 256 entries is accepted and a record may name its last entry (index 255).
    function test_settle_SlotTableOf256Entries() public {
        uint256[] memory table = new uint256[](256);
        for (uint256 j; j < 256; ++j) {
            table[j] = 1 + j % 4;
        }
        Tab memory t = _openTab(0, CAP);
        _voidQuery(t);
        Settlement memory item = _item(t);
        item.records = _record2(255, 255, 100, 254, 200); // entry 255: slot 4, entry 254: slot 3
        (uint256 settled,) = _settleWith(operator, _items1(item), table);
        assertEq(settled, 1);
        assertEq(assets.slotInfo(DATA_B).revenue, 100 - 2);
        assertEq(assets.slotInfo(DATA_A).revenue, 200 - 5);
    }

    /// @dev An empty slot table works for items without charges (zero records).
    function test_settle_EmptySlotTable() public {
        Tab memory t = _openTab(0, CAP);
        _voidQuery(t);
        (uint256 settled,) = _settleWith(operator, _items1(_item(t)), new uint256[](0));
        assertEq(settled, 1);
        assertEq(settlement.accountOf(payer0, operator).seq, 1);
        // With a record, its app index is past the (empty) table.
        _standardQuery(t);
        _assertRejectedWith(operator, _item(t), new uint256[](0), RejectReason.MalformedRecords);
    }

    // ---------------------------------------------------------------- settle: each reject reason

    /// @dev Only the session's operator settles it: the batch does not carry the operator, the contract
    /// hashes the session with the caller as operator, so for anyone else (a stranger, the payer, the key,
    /// the admin) the voucher's signature does not verify: BadSignature, naming the session as that caller
    /// would have it, and nothing of either account moves.
    function test_settle_RejectWhen_SessionOfAnotherOperator() public {
        Settlement memory item = _item(_tab0());
        _fund(payer0, stranger, FUNDS);
        _assertRejected(stranger, item, RejectReason.BadSignature);
        _assertRejected(payer0, item, RejectReason.BadSignature);
        _assertRejected(_key(0), item, RejectReason.BadSignature);
        _assertRejected(admin, item, RejectReason.BadSignature);
        assertEq(settlement.balanceOf(payer0, stranger), FUNDS);
        (uint256 settled,) = _settleAs(operator, _items1(item));
        assertEq(settled, 1, "its own operator settles it");
    }

    /// @dev A key cannot move its session to another operator: a voucher the key signs for the session
    /// with the caller as operator verifies, but the payer signed the session for `operator`
    /// (BadSessionSignature); nor does a session signature verify for another operator than it names.
    function test_settle_RejectWhen_KeySignsForAnotherOperator() public {
        _fund(payer0, stranger, FUNDS);
        Settlement memory item = _item(_tab0());
        Session memory moved = _asOperator(item.session, stranger);
        Voucher memory v = Voucher({
            session: _sessionId(moved),
            seq: item.seq,
            issuedAt: item.issuedAt,
            cumulativeMax: item.cumulativeMax,
            charges: item.charges
        });
        (item.r, item.vs) = _signCompact(KEY0_PK, _digest(settlement, _voucherHash(v)));
        _assertRejected(stranger, item, RejectReason.BadSessionSignature);
        // The payer's signature for the session naming `stranger` lets `stranger` settle it.
        item.sessionSignature = _signSession(settlement, moved, PAYER0_PK);
        (uint256 settled,) = _settleAs(stranger, _items1(item));
        assertEq(settled, 1);
        assertEq(settlement.balanceOf(payer0, stranger), FUNDS - STANDARD_TOTAL);
        assertEq(settlement.balanceOf(payer0, operator), FUNDS);
    }

    /// @dev SessionInvalid: a zero payer or key, even when properly signed. The batch gives spendCap,
    /// expiry and nonce 12, 5 and 8 bytes, so no wider value can be sent; the widest that fit settle.
    function test_settle_RejectWhen_SessionInvalid() public {
        Settlement memory item = _item(_tab0());
        item.session.payer = address(0);
        _resign(item, PAYER0_PK, KEY0_PK);
        _assertRejected(operator, item, RejectReason.SessionInvalid);

        item = _item(_tab0());
        item.session.key = address(0);
        _resign(item, PAYER0_PK, KEY0_PK);
        _assertRejected(operator, item, RejectReason.SessionInvalid);

        item = _item(_tab0());
        item.session.spendCap = type(uint96).max;
        item.session.expiry = type(uint40).max;
        item.session.nonce = type(uint64).max;
        _resign(item, PAYER0_PK, KEY0_PK);
        (uint256 settled,) = _settleAs(operator, _items1(item));
        assertEq(settled, 1);
        // The fixture's encoder refuses what the format cannot carry (it would otherwise be cut).
        item.session.spendCap = uint256(type(uint96).max) + 1;
        vm.expectRevert("fixture: a field wider than the batch format");
        this.encodeOne(item);
    }

    /// @dev The fixture's encoder, called externally so that a test can expect its revert.
    function encodeOne(Settlement memory item) external pure returns (bytes memory) {
        return _encodeItem(item);
    }

    /// @dev VoucherInvalid: seq 0, or issuedAt after the session's expiry (each signed by the key);
    /// issuedAt == expiry, and the widest seq (uint40) and cumulativeMax (uint96) the batch carries settle.
    function test_settle_RejectWhen_VoucherInvalid() public {
        Settlement memory item = _item(_tab0());
        item.seq = 0;
        item.records = "";
        _resignVoucher(item, KEY0_PK);
        _assertRejected(operator, item, RejectReason.VoucherInvalid);

        item = _item(_tab0());
        item.issuedAt = item.session.expiry + 1;
        _resignVoucher(item, KEY0_PK);
        _assertRejected(operator, item, RejectReason.VoucherInvalid);

        // Issued at the expiry itself, and settled long after it: fine.
        item = _item(_tab0());
        item.issuedAt = item.session.expiry;
        _resignVoucher(item, KEY0_PK);
        vm.warp(item.session.expiry + 30 days);
        (uint256 settled,) = _settleAs(operator, _items1(item));
        assertEq(settled, 1);
        assertEq(settlement.accountOf(payer0, operator).seq, 1);

        // The widest seq and cumulativeMax.
        item = _item(_tab0());
        item.session.expiry = type(uint40).max;
        item.seq = type(uint40).max;
        item.cumulativeMax = type(uint96).max;
        _resign(item, PAYER0_PK, KEY0_PK);
        (settled,) = _settleAs(operator, _items1(item));
        assertEq(settled, 1);
        AccountState memory account = settlement.accountOf(payer0, operator);
        assertEq(account.seq, type(uint40).max);
        assertEq(account.charged, 2 * STANDARD_TOTAL);
        assertEq(account.balance, FUNDS - 2 * STANDARD_TOTAL);
        assertEq(account.revokedUntil, 0, "seq at its width did not spill into the next field");
        // The account is at the last seq: nothing can follow it.
        item.seq = type(uint40).max;
        item.records = "";
        _resignVoucher(item, KEY0_PK);
        _assertRejected(operator, item, RejectReason.StaleVoucher);
    }

    /// @dev Revoked (issuedAt == revokedAt is refused, one second before settles) is covered at the
    /// boundary here; see also test_settle_RevokedSessionRefusesVouchersIssuedFromRevokedAt.
    function test_settle_RejectWhen_Revoked() public {
        Tab memory t = _tab0();
        vm.prank(_key(0));
        settlement.revokeSession(t.session);
        uint256 effectiveAt = settlement.revokedAt(_id(t));
        Settlement memory item = _item(t);
        item.issuedAt = effectiveAt;
        _resignVoucher(item, KEY0_PK);
        _assertRejected(operator, item, RejectReason.Revoked);
        item.issuedAt = effectiveAt - 1;
        _resignVoucher(item, KEY0_PK);
        (uint256 settled,) = _settleAs(operator, _items1(item));
        assertEq(settled, 1);
    }

    /// @dev StaleVoucher: a voucher whose seq equals the account's settled seq (the same voucher again, or
    /// another built on the same seq) or is below it.
    function test_settle_RejectWhen_StaleVoucher() public {
        Tab memory t = _tab0();
        _standardQuery(t);
        Settlement memory settledItem = _item(t);
        assertTrue(_settleTab(t));
        _assertRejected(operator, settledItem, RejectReason.StaleVoucher);
        Settlement memory item = _item(t); // seq 2, no records
        assertEq(item.seq, settlement.accountOf(payer0, operator).seq);
        _assertRejected(operator, item, RejectReason.StaleVoucher);
        item.seq = 1;
        _resignVoucher(item, KEY0_PK);
        _assertRejected(operator, item, RejectReason.StaleVoucher);
    }

    /// @dev BadSignature: the voucher signed by another key (another payer's, or the payer's own wallet key),
    /// a field changed after signing, the parity bit flipped, and a zero signature.
    function test_settle_RejectWhen_BadSignature() public {
        Settlement memory item = _item(_tab0());
        _resignVoucher(item, KEY_PK_BASE + 1);
        _assertRejected(operator, item, RejectReason.BadSignature);
        _resignVoucher(item, PAYER0_PK);
        _assertRejected(operator, item, RejectReason.BadSignature);

        item = _item(_tab0());
        item.cumulativeMax += 1;
        _assertRejected(operator, item, RejectReason.BadSignature);
        item = _item(_tab0());
        item.charges = bytes32(0);
        _assertRejected(operator, item, RejectReason.BadSignature);
        item = _item(_tab0());
        item.issuedAt -= 1;
        _assertRejected(operator, item, RejectReason.BadSignature);
        // The signature is for another session id (the session changed, the voucher not re-signed).
        item = _item(_tab0());
        item.session.nonce = 2;
        item.sessionSignature = _signSession(settlement, item.session, PAYER0_PK);
        _assertRejected(operator, item, RejectReason.BadSignature);

        item = _item(_tab0());
        item.vs ^= bytes32(uint256(1) << 255);
        _assertRejected(operator, item, RejectReason.BadSignature);
        item.r = bytes32(0);
        item.vs = bytes32(0);
        _assertRejected(operator, item, RejectReason.BadSignature);
    }

    /// @dev BadSignature for a malleable (high-s) voucher signature: (r, n - s) with the other parity is a
    /// valid signature of the same digest by the key (ecrecover says so), and the contract refuses it.
    function test_settle_RejectWhen_HighSVoucherSignature() public {
        Tab memory t = _tab0();
        Settlement memory item = _item(t);
        bytes32 digest = _digest(settlement, _voucherHash(_voucher(t)));
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(KEY0_PK, digest);
        uint256 highS = SECP256K1_N - uint256(s);
        uint8 flipped = v == 27 ? 28 : 27;
        assertEq(
            ecrecover(digest, flipped, r, bytes32(highS)), _key(0), "the high-s form is a valid signature"
        );
        // EIP-2098 keeps the parity in the top bit of vs: a high-s value does not fit beside it unless its
        // own top bit is clear; either way the contract must refuse it.
        item.r = r;
        item.vs = bytes32(highS | (uint256(flipped - 27) << 255));
        _assertRejected(operator, item, RejectReason.BadSignature);
        item.vs = bytes32(highS);
        _assertRejected(operator, item, RejectReason.BadSignature);
        // The low-s form settles.
        (uint256 settled,) = _settleAs(operator, _items1(_item(t)));
        assertEq(settled, 1);
    }

    /// @dev BadSessionSignature: the session signed by someone else, or missing, or not 65 bytes, or the
    /// payer's signature of other terms (a higher cap), or the payer's signature in its high-s form.
    function test_settle_RejectWhen_BadSessionSignature() public {
        Settlement memory item = _item(_tab0());
        item.sessionSignature = _signSession(settlement, item.session, PAYER_PK_BASE + 1);
        _assertRejected(operator, item, RejectReason.BadSessionSignature);
        item.sessionSignature = _signSession(settlement, item.session, KEY0_PK);
        _assertRejected(operator, item, RejectReason.BadSessionSignature);
        item.sessionSignature = "";
        _assertRejected(operator, item, RejectReason.BadSessionSignature);

        item = _item(_tab0());
        item.sessionSignature = bytes.concat(item.sessionSignature, hex"00");
        _assertRejected(operator, item, RejectReason.BadSessionSignature);

        // The payer signed cap CAP; the item claims CAP + 1 (the voucher is re-signed for that session id).
        item = _item(_tab0());
        item.session.spendCap = CAP + 1;
        _resignVoucher(item, KEY0_PK);
        _assertRejected(operator, item, RejectReason.BadSessionSignature);

        // Signed for another deployment.
        KipSettlement other = _newSettlement(assets);
        item = _item(_tab0());
        item.sessionSignature = _signSession(other, item.session, PAYER0_PK);
        _assertRejected(operator, item, RejectReason.BadSessionSignature);

        // The high-s form of the payer's own signature (EIP-2098: s' = n - s with the other parity).
        item = _item(_tab0());
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(PAYER0_PK, _digest(settlement, _sessionId(item.session)));
        uint256 otherParity = v == 27 ? 1 : 0;
        item.sessionSignature = abi.encodePacked(r, bytes32((SECP256K1_N - uint256(s)) | (otherParity << 255)));
        _assertRejected(operator, item, RejectReason.BadSessionSignature);
        // The payer's own signature as 65 bytes (r, s, v): an EOA's is only the 64-byte form.
        item.sessionSignature = abi.encodePacked(r, s, v);
        _assertRejected(operator, item, RejectReason.BadSessionSignature);
        // Its 64-byte form settles.
        item.sessionSignature = abi.encodePacked(r, bytes32(uint256(s) | (uint256(v - 27) << 255)));
        uint256 snap = vm.snapshotState();
        (uint256 ok,) = _settleAs(operator, _items1(item));
        assertEq(ok, 1);
        vm.revertToState(snap);

        // The good one settles, and a settled session's signature is still checked every time (an EOA payer
        // is not remembered).
        Tab memory t = _tab0();
        assertTrue(_settleTab(t));
        _standardQuery(t);
        item = _item(t);
        item.sessionSignature = "";
        _assertRejected(operator, item, RejectReason.BadSessionSignature);
    }

    /// @dev MalformedRecords: a record cut short (in its head or its charges), an extra byte, a charge index
    /// past the slot table, an app index past it, and more records than the seq advanced (also after a
    /// settlement). The untouched item settles.
    function test_settle_RejectWhen_MalformedRecords() public {
        Tab memory t = _tab0();
        bytes memory good = t.records; // 40 + 3 * 9 bytes
        assertEq(good.length, 67);
        Settlement memory item = _item(t);
        item.records = _slice(good, 66);
        _assertRejected(operator, item, RejectReason.MalformedRecords);
        item.records = _slice(good, 39);
        _assertRejected(operator, item, RejectReason.MalformedRecords);
        item.records = _slice(good, 40); // the head only, but its count says 3 charges
        _assertRejected(operator, item, RejectReason.MalformedRecords);
        item.records = hex"00";
        _assertRejected(operator, item, RejectReason.MalformedRecords);
        item.records = bytes.concat(good, hex"00");
        _assertRejected(operator, item, RejectReason.MalformedRecords);
        // A good record then a cut one.
        item.records = bytes.concat(good, _slice(good, 58));
        _assertRejected(operator, item, RejectReason.MalformedRecords);

        // Charge index past the table (the table has 4 entries: 4 and 255 are past it).
        item.records = _record1(0, 4, 1);
        _assertRejected(operator, item, RejectReason.MalformedRecords);
        item.records = _record1(0, 255, 1);
        _assertRejected(operator, item, RejectReason.MalformedRecords);
        // ... even charging 0.
        item.records = _record1(0, 4, 0);
        _assertRejected(operator, item, RejectReason.MalformedRecords);
        // App index past the table.
        bytes memory badApp = _copyBytes(good);
        badApp[0] = 0x04;
        item.records = badApp;
        _assertRejected(operator, item, RejectReason.MalformedRecords);
        item.records = _record(200, new uint8[](0), new uint64[](0));
        _assertRejected(operator, item, RejectReason.MalformedRecords);

        // Two records for one seq.
        item.records = bytes.concat(good, good);
        _assertRejected(operator, item, RejectReason.MalformedRecords);

        assertTrue(_settleTab(t));
        // After seq 1 settled, a voucher at seq 2 carries at most one record.
        _standardQuery(t);
        item = _item(t);
        item.records = bytes.concat(item.records, item.records);
        _assertRejected(operator, item, RejectReason.MalformedRecords);
        assertTrue(_settleTab(t));
    }

    /// @dev AboveMax: the account's charged total plus the records' total above the voucher's
    /// cumulativeMax; exactly the maximum settles, and a later voucher below what was already charged never
    /// settles (not even with no records).
    function test_settle_RejectWhen_AboveMax() public {
        Tab memory t = _tab0();
        Settlement memory item = _item(t);
        item.cumulativeMax = STANDARD_TOTAL - 1;
        _resignVoucher(item, KEY0_PK);
        _assertRejected(operator, item, RejectReason.AboveMax);
        item.cumulativeMax = STANDARD_TOTAL;
        _resignVoucher(item, KEY0_PK);
        (uint256 settled,) = _settleAs(operator, _items1(item));
        assertEq(settled, 1);
        _commit(t);
        // The records claim more than the key allowed: 45_000 signed, 45_001 charged.
        _standardQuery(t);
        item = _item(t);
        assertEq(item.cumulativeMax, STANDARD_TOTAL + STANDARD_MAX);
        item.records = _record2(0, 0, 40_000, 1, 5001);
        _assertRejected(operator, item, RejectReason.AboveMax);
        item.records = _record2(0, 0, 40_000, 1, 5000);
        (settled,) = _settleAs(operator, _items1(item));
        assertEq(settled, 1);
        // A voucher below the charged total (82_000), without records.
        item.seq = 3;
        item.cumulativeMax = 2 * STANDARD_TOTAL;
        item.records = "";
        _resignVoucher(item, KEY0_PK);
        _assertRejected(operator, item, RejectReason.AboveMax);
    }

    /// @dev SpendCapExceeded: the account's cumulative charged total would pass the session's spendCap
    /// (each voucher within its cumulativeMax); exactly the cap settles. The cap is on the account's total,
    /// so a new session with a cap below what the account was already charged settles nothing.
    function test_settle_RejectWhen_SpendCapExceeded() public {
        Tab memory t = _openTab(0, 2 * STANDARD_TOTAL - 1);
        _standardQuery(t);
        assertTrue(_settleTab(t));
        _standardQuery(t);
        _assertRejected(operator, _item(t), RejectReason.SpendCapExceeded);

        Tab memory u = _openTab(1, 2 * STANDARD_TOTAL);
        _fund(_payer(1), operator, FUNDS);
        _standardQuery(u);
        _standardQuery(u);
        assertTrue(_settleTab(u), "exactly the cap");
        assertEq(settlement.accountOf(_payer(1), operator).charged, 2 * STANDARD_TOTAL);

        // Payer 0's account was charged 37_000: a new session capped at 30_000 cannot settle even a void
        // query.
        Session memory s = _sessionOf(0, 30_000);
        s.nonce = 7;
        _useSession(t, s, _signSession(settlement, s, PAYER0_PK), KEY0_PK);
        t.records = "";
        t.pending = 0;
        t.recordCount = 0;
        _voidQuery(t);
        _assertRejected(operator, _item(t), RejectReason.SpendCapExceeded);
    }

    /// @dev InsufficientBalance: the payer's balance with this operator below the item's total (a balance
    /// with another operator does not count); one unit more and it settles to 0.
    function test_settle_RejectWhen_InsufficientBalance() public {
        address payer = _payer(3);
        _fund(payer, operator, STANDARD_TOTAL - 1);
        _fund(payer, stranger, FUNDS);
        Tab memory t = _openTab(3, CAP);
        _standardQuery(t);
        _assertRejected(operator, _item(t), RejectReason.InsufficientBalance);
        _fund(payer, operator, 1);
        assertTrue(_settleTab(t));
        assertEq(settlement.balanceOf(payer, operator), 0);
        assertEq(settlement.balanceOf(payer, stranger), FUNDS);
    }

    /// @dev InsufficientBalance is against the balance as earlier items of the batch left it.
    function test_settle_RejectWhen_BalanceSpentByEarlierItem() public {
        address payer = _payer(2);
        _fund(payer, operator, STANDARD_TOTAL + 10_000);
        Tab memory t = _openTab(2, CAP);
        _standardQuery(t);
        Settlement memory first = _item(t);
        _commit(t);
        _standardQuery(t);
        vm.recordLogs();
        (uint256 settled, uint256 rejected) = _settleAs(operator, _items2(first, _item(t)));
        assertEq(settled, 1);
        assertEq(rejected, 1);
        uint8[] memory reasons = _rejectReasons(vm.getRecordedLogs());
        assertEq(reasons.length, 1);
        assertEq(reasons[0], uint8(RejectReason.InsufficientBalance));
        assertEq(settlement.balanceOf(payer, operator), 10_000);
    }

    /// @dev UnknownSlot: a table entry 0 or above slotCount paid a non-zero amount; the same entries paid 0,
    /// or named as the app, settle (the table may list them).
    function test_settle_RejectWhen_UnknownSlot() public {
        uint256[] memory table = new uint256[](6);
        for (uint256 j; j < 4; ++j) {
            table[j] = j + 1;
        }
        table[4] = 0;
        table[5] = 5; // slotCount is 4
        Tab memory t = _openTab(0, CAP);
        _voidQuery(t);
        Settlement memory item = _item(t);
        item.records = _record2(0, 0, 100, 4, 1);
        _assertRejectedWith(operator, item, table, RejectReason.UnknownSlot);
        item.records = _record2(0, 0, 100, 5, 1);
        _assertRejectedWith(operator, item, table, RejectReason.UnknownSlot);
        item.records = _record1(0, 5, uint64(STANDARD_MAX));
        _assertRejectedWith(operator, item, table, RejectReason.UnknownSlot);

        item.records = bytes.concat(_record2(4, 0, 100, 4, 0), _record1(0, 5, 0));
        _voidQuery(t);
        item.seq = t.seq;
        _resignVoucher(item, KEY0_PK);
        (uint256 settled,) = _settleWith(operator, _items1(item), table);
        assertEq(settled, 1, "unknown entries paid 0 settle");
        assertEq(assets.slotInfo(APP).revenue, 100 - 2);
        assertEq(settlement.accountOf(payer0, operator).charged, 100);

        // A slot listed after the batch was built is known at settlement time.
        vm.prank(creator);
        assets.list(IKipAssetsTypes.AssetKind.Dataset, 1, "data-5", bytes32(0));
        _voidQuery(t);
        item.seq = t.seq;
        item.records = _record1(0, 5, 500);
        _resignVoucher(item, KEY0_PK);
        (settled,) = _settleWith(operator, _items1(item), table);
        assertEq(settled, 1);
        assertEq(assets.slotInfo(5).revenue, 500 - 12);
    }

    /// @dev Breaks a good item one check at a time, from the last check to the first: each time the newest
    /// break (the earliest check) is the reason reported, so the checks run in RejectReason order.
    function test_settle_ReasonOrder_FirstFailingCheckIsReported() public {
        address payer = _payer(4);
        uint256 payerPk = PAYER_PK_BASE + 4;
        uint256 keyPk = KEY_PK_BASE + 4;
        _fund(payer, operator, 100_000);
        uint256[] memory table = new uint256[](5);
        for (uint256 j; j < 4; ++j) {
            table[j] = j + 1;
        }
        // The account has settled seq 5 (void queries).
        Tab memory t = _openTab(4, CAP);
        for (uint256 i; i < 5; ++i) {
            _voidQuery(t);
        }
        assertTrue(_settleTab(t));
        _voidQuery(t);
        Settlement memory item = _item(t);
        item.records = _record2(0, 0, 20_000, 4, 1); // entry 4 is slot 0
        _assertRejectedWith(operator, item, table, RejectReason.UnknownSlot);

        item.records = _record2(0, 0, 100_000, 4, 1);
        item.cumulativeMax = 200_000;
        _resignVoucher(item, keyPk);
        _assertRejectedWith(operator, item, table, RejectReason.InsufficientBalance);

        item.session.spendCap = 100_000;
        _resign(item, payerPk, keyPk);
        _assertRejectedWith(operator, item, table, RejectReason.SpendCapExceeded);

        item.cumulativeMax = 100_000;
        _resignVoucher(item, keyPk);
        _assertRejectedWith(operator, item, table, RejectReason.AboveMax);

        item.records = bytes.concat(item.records, hex"00");
        _assertRejectedWith(operator, item, table, RejectReason.MalformedRecords);

        item.sessionSignature = _signSession(settlement, item.session, payerPk + 1);
        _assertRejectedWith(operator, item, table, RejectReason.BadSessionSignature);

        item.seq = 5;
        _resignVoucher(item, keyPk);
        _assertRejectedWith(operator, item, table, RejectReason.StaleVoucher);

        vm.prank(payer);
        settlement.revokeSession(item.session);
        vm.warp(block.timestamp + 120);
        item.issuedAt = block.timestamp;
        _resignVoucher(item, keyPk);
        _assertRejectedWith(operator, item, table, RejectReason.Revoked);

        _resignVoucher(item, keyPk + 1);
        _assertRejectedWith(operator, item, table, RejectReason.BadSignature);
        // Another operator's session (the caller is not the one it names) is the same check.
        _assertRejectedWith(stranger, item, table, RejectReason.BadSignature);

        item.seq = 0;
        _assertRejectedWith(operator, item, table, RejectReason.VoucherInvalid);

        item.session.key = address(0);
        _assertRejectedWith(operator, item, table, RejectReason.SessionInvalid);
    }

    // ---------------------------------------------------------------- settle: batches with rejected items

    /// @dev A batch of six accounts where three items are rejected after their records were walked (an index
    /// past the table with a large amount, a cumulativeMax below the total, a good record followed by a cut
    /// one): the other three settle exactly, the rejected ones change nothing and their gross is not
    /// credited; SessionRejected names each rejected item's index in the batch.
    function test_settle_RejectedItemsInTheMiddleLeaveOthersExact() public {
        Settlement[] memory items = new Settlement[](6);
        for (uint256 i; i < 6; ++i) {
            _fund(_payer(10 + i), operator, FUNDS);
            Tab memory t = _openTab(10 + i, CAP);
            _standardQuery(t);
            items[i] = _item(t);
        }
        items[1].records = bytes.concat(items[1].records, _record2(0, 1, 1000, 200, type(uint64).max));
        items[3].cumulativeMax = STANDARD_TOTAL - 1;
        _resignVoucher(items[3], KEY_PK_BASE + 13);
        items[4].records = bytes.concat(items[4].records, _slice(items[4].records, 50));
        vm.expectEmit(address(settlement));
        emit SessionRejected(1, _sessionId(items[1].session), RejectReason.MalformedRecords);
        vm.expectEmit(address(settlement));
        emit SessionRejected(3, _sessionId(items[3].session), RejectReason.AboveMax);
        vm.expectEmit(address(settlement));
        emit SessionRejected(4, _sessionId(items[4].session), RejectReason.MalformedRecords);
        vm.expectEmit(address(settlement));
        emit BatchSettled(operator, 3, 3, 3 * STANDARD_TOTAL, 3 * STANDARD_FEES);
        (uint256 settled, uint256 rejected) = _settleAs(operator, items);
        assertEq(settled, 3);
        assertEq(rejected, 3);
        bool[6] memory ok = [true, false, true, false, false, true];
        for (uint256 i; i < 6; ++i) {
            AccountState memory account = settlement.accountOf(_payer(10 + i), operator);
            assertEq(account.balance, ok[i] ? FUNDS - STANDARD_TOTAL : FUNDS);
            assertEq(account.seq, ok[i] ? 1 : 0);
            assertEq(account.charged, ok[i] ? STANDARD_TOTAL : 0);
        }
        _assertStandardRevenue(3);
        assertEq(usd.balanceOf(address(assets)), 3 * (STANDARD_TOTAL - STANDARD_FEES));
        assertEq(settlement.feesAccrued(), 3 * STANDARD_FEES);
        assertEq(settlement.totalDeposits(), 7 * FUNDS - 3 * STANDARD_TOTAL);
        _assertConservation();
    }

    /// @dev A batch where every item is rejected settles nothing and credits nothing, and does not revert.
    function test_settle_AllRejectedBatchDoesNotRevert() public {
        Settlement memory item = _item(_tab0());
        item.cumulativeMax = 0;
        vm.recordLogs();
        vm.expectEmit(address(settlement));
        emit BatchSettled(operator, 0, 2, 0, 0);
        (uint256 settled, uint256 rejected) = _settleAs(operator, _items2(item, item));
        assertEq(settled, 0);
        assertEq(rejected, 2);
        Vm.Log[] memory logs = vm.getRecordedLogs();
        for (uint256 i; i < logs.length; ++i) {
            assertNotEq(logs[i].emitter, address(assets));
        }
        assertEq(usd.balanceOf(address(assets)), 0);
    }

    // ---------------------------------------------------------------- fees

    /// @dev The fee is taken per slot per batch, rounded down: 39 units on a slot pay no fee at 2.5 %, but
    /// two items' 39 + 39 on that slot in one batch pay floor(78 * 2.5 %) = 1.
    function test_settle_FeeRoundsDownPerSlotPerBatch() public {
        _fund(_payer(1), operator, FUNDS);
        _fund(_payer(2), operator, FUNDS);
        Tab memory a = _openTab(0, CAP);
        Tab memory b = _openTab(1, CAP);
        Tab memory c = _openTab(2, CAP);
        _voidQuery(a);
        _voidQuery(b);
        _voidQuery(c);
        Settlement memory ia = _item(a);
        Settlement memory ib = _item(b);
        Settlement memory ic = _item(c);
        ia.records = _record1(0, 0, 39);
        ib.records = _record1(0, 0, 39);
        ic.records = _record1(0, 0, 39);
        vm.expectEmit(address(settlement));
        emit BatchSettled(operator, 1, 0, 39, 0);
        _settleAs(operator, _items1(ia));
        assertEq(assets.slotInfo(APP).revenue, 39);
        assertEq(settlement.feesAccrued(), 0);
        vm.expectEmit(address(settlement));
        emit BatchSettled(operator, 2, 0, 78, 1);
        _settleAs(operator, _items2(ib, ic));
        assertEq(assets.slotInfo(APP).revenue, 39 + 77);
        assertEq(settlement.feesAccrued(), 1);
        _assertConservation();
    }

    /// @dev A zero fee credits the whole gross; the highest fee (10 %) takes exactly a tenth.
    function test_settle_FeeAtZeroAndMax() public {
        vm.prank(admin);
        settlement.setFeeBps(0);
        Tab memory t = _tab0();
        assertTrue(_settleTab(t));
        assertEq(assets.slotInfo(APP).revenue, 20_000);
        assertEq(settlement.feesAccrued(), 0);
        vm.prank(admin);
        settlement.setFeeBps(1000);
        _standardQuery(t);
        assertTrue(_settleTab(t));
        assertEq(assets.slotInfo(APP).revenue, 20_000 + 18_000);
        assertEq(assets.slotInfo(MODEL).revenue, 12_000 + 10_800);
        assertEq(settlement.feesAccrued(), 3700);
        _assertConservation();
    }

    /// @dev A table may list a slot twice: each entry is credited what its records paid and the slot's
    /// revenue is their sum. The fee is computed per table entry (each rounded down), so with duplicates it
    /// can be below floor(slot gross * feeBps / 10_000): 39 + 39 on two entries of slot 1 pay 0 + 0, not 1.
    /// (The same rounding an operator gets by splitting a batch; documented here, see the report.)
    function test_settle_DuplicateTableEntriesFeeRoundsPerEntry() public {
        uint256[] memory table = new uint256[](2);
        table[0] = APP;
        table[1] = APP;
        Tab memory t = _openTab(0, CAP);
        _voidQuery(t);
        Settlement memory item = _item(t);
        item.records = _record2(0, 0, 39, 1, 39);
        vm.expectEmit(address(settlement));
        emit BatchSettled(operator, 1, 0, 78, 0);
        (uint256 settled,) = _settleWith(operator, _items1(item), table);
        assertEq(settled, 1);
        assertEq(assets.slotInfo(APP).revenue, 78);
        assertEq(settlement.feesAccrued(), 0);
        _assertConservation();
        // Large amounts on duplicate entries: the fee differs from the per-slot one by less than one unit
        // per extra entry.
        _voidQuery(t);
        item = _item(t);
        item.records = _record2(0, 0, 10_039, 1, 10_039);
        _resignVoucher(item, KEY0_PK);
        (settled,) = _settleWith(operator, _items1(item), table);
        assertEq(settled, 1);
        assertEq(settlement.feesAccrued(), 2 * (10_039 * FEE_BPS / 10_000)); // 250 + 250
        assertEq(settlement.feesAccrued() + 1, 20_078 * FEE_BPS / 10_000); // one slot's 20_078: 501
        assertEq(assets.slotInfo(APP).revenue, 78 + 20_078 - 500);
    }

    /// @dev The contract does not compare issuedAt with the block time: a voucher dated ahead settles (the
    /// operator judges freshness when it admits the query), but revocation refuses it if it is dated at or
    /// after revokedAt, so dating ahead cannot dodge a revocation.
    function test_settle_IssuedAtAheadOfBlockTime() public {
        Tab memory t = _tab0();
        Settlement memory item = _item(t);
        item.issuedAt = block.timestamp + 1 days;
        _resignVoucher(item, KEY0_PK);
        Settlement memory copy = item;
        vm.prank(payer0);
        settlement.revokeSession(t.session);
        _assertRejected(operator, copy, RejectReason.Revoked);
        item.issuedAt = block.timestamp;
        _resignVoucher(item, KEY0_PK);
        (uint256 settled,) = _settleAs(operator, _items1(item));
        assertEq(settled, 1);
    }

    /// @dev A session naming the zero operator can never be settled: no caller is the zero address, so for
    /// every caller the voucher's signature does not verify (BadSignature).
    function test_settle_RejectWhen_ZeroOperator() public {
        Settlement memory item = _item(_tab0());
        item.session.operator = address(0);
        _resign(item, PAYER0_PK, KEY0_PK);
        _assertRejected(operator, item, RejectReason.BadSignature);
        _assertRejected(stranger, item, RejectReason.BadSignature);
    }

    // ---------------------------------------------------------------- smart-wallet payers (ERC-1271)

    uint256 internal constant WALLET_OWNER_PK = 0xC0FFEE;
    uint256 internal constant WALLET_KEY_PK = KEY_PK_BASE + 7;

    /// @dev A tab of `wallet`'s session (nonce `nonce`), its signature the wallet owner's plus `extra`.
    function _walletTab(address wallet, uint256 nonce, bytes memory extra)
        internal
        view
        returns (Tab memory t)
    {
        Session memory s = Session({
            payer: wallet,
            key: vm.addr(WALLET_KEY_PK),
            operator: operator,
            spendCap: CAP,
            expiry: block.timestamp + 7 days,
            nonce: nonce
        });
        // The wallet checks its owner's 65-byte ECDSA signature (and ignores what follows).
        bytes memory sig = bytes.concat(_sign(WALLET_OWNER_PK, _digest(settlement, _sessionId(s))), extra);
        t = _openTabWith(settlement, s, sig, WALLET_KEY_PK);
    }

    function _walletItem(address wallet, uint256 nonce, bytes memory extra)
        internal
        view
        returns (Settlement memory)
    {
        Tab memory t = _walletTab(wallet, nonce, extra);
        _standardQuery(t);
        return _item(t);
    }

    /// @dev A SignerWallet payer approves its session through ERC-1271 once: the first settlement asks it,
    /// records walletApproved and emits SessionApproved; later settlements of that session do not call the
    /// wallet (even with no session signature) and emit no SessionApproved.
    function test_settle_SmartWalletApprovesOnce() public {
        SignerWallet wallet = new SignerWallet(vm.addr(WALLET_OWNER_PK));
        _fund(address(wallet), operator, 200_000);
        Tab memory t = _walletTab(address(wallet), 1, "");
        _standardQuery(t);
        bytes32 id = _id(t);
        assertFalse(settlement.walletApproved(id));
        vm.expectCall(address(wallet), abi.encodeWithSelector(SignerWallet.isValidSignature.selector), 1);
        vm.expectEmit(address(settlement));
        emit SessionApproved(id, address(wallet));
        assertTrue(_settleTab(t));
        assertTrue(settlement.walletApproved(id));
        assertEq(settlement.balanceOf(address(wallet), operator), 200_000 - STANDARD_TOTAL);
        assertEq(settlement.accountOf(address(wallet), operator).charged, STANDARD_TOTAL);

        _standardQuery(t);
        t.sessionSignature = "";
        vm.recordLogs();
        assertTrue(_settleTab(t));
        Vm.Log[] memory logs = vm.getRecordedLogs();
        for (uint256 i; i < logs.length; ++i) {
            assertNotEq(logs[i].topics[0], SessionApproved.selector, "approved once");
        }
        assertEq(settlement.balanceOf(address(wallet), operator), 200_000 - 2 * STANDARD_TOTAL);
    }

    /// @dev After approval the wallet is not called again (checked with expectCall counting 0 calls).
    function test_settle_SmartWalletNotCalledAfterApproval() public {
        SignerWallet wallet = new SignerWallet(vm.addr(WALLET_OWNER_PK));
        _fund(address(wallet), operator, 200_000);
        Tab memory t = _walletTab(address(wallet), 1, "");
        _standardQuery(t);
        assertTrue(_settleTab(t));
        _standardQuery(t);
        vm.expectCall(address(wallet), abi.encodeWithSelector(SignerWallet.isValidSignature.selector), 0);
        assertTrue(_settleTab(t));
        assertEq(settlement.accountOf(address(wallet), operator).seq, 2);
    }

    /// @dev The approval is recorded only when the item settles: an item the wallet approves but that fails
    /// a later check (InsufficientBalance) leaves walletApproved false and emits no SessionApproved; once the
    /// wallet is funded the next settlement asks it again and records it.
    function test_settle_SmartWalletApprovalOnlyWhenItemSettles() public {
        SignerWallet wallet = new SignerWallet(vm.addr(WALLET_OWNER_PK));
        _fund(address(wallet), operator, STANDARD_TOTAL - 1);
        Tab memory t = _walletTab(address(wallet), 1, "");
        _standardQuery(t);
        vm.recordLogs();
        _assertRejected(operator, _item(t), RejectReason.InsufficientBalance);
        Vm.Log[] memory logs = vm.getRecordedLogs();
        for (uint256 i; i < logs.length; ++i) {
            assertNotEq(logs[i].topics[0], SessionApproved.selector);
        }
        assertFalse(settlement.walletApproved(_id(t)));
        _fund(address(wallet), operator, 1);
        vm.expectCall(address(wallet), abi.encodeWithSelector(SignerWallet.isValidSignature.selector), 1);
        vm.expectEmit(address(settlement));
        emit SessionApproved(_id(t), address(wallet));
        assertTrue(_settleTab(t));
        assertTrue(settlement.walletApproved(_id(t)));
    }

    /// @dev An approval is per session: another session of the same wallet is asked again, and a session
    /// the wallet does not approve (signed by someone else) is BadSessionSignature.
    function test_settle_SmartWalletApprovalIsPerSession() public {
        SignerWallet wallet = new SignerWallet(vm.addr(WALLET_OWNER_PK));
        _fund(address(wallet), operator, 200_000);
        Tab memory t = _walletTab(address(wallet), 1, "");
        _standardQuery(t);
        assertTrue(_settleTab(t));
        Tab memory u = _walletTab(address(wallet), 2, "");
        u.seq = 1;
        u.charged = STANDARD_TOTAL;
        u.sessionSignature = _signSession(settlement, u.session, PAYER0_PK);
        _standardQuery(u);
        _assertRejected(operator, _item(u), RejectReason.BadSessionSignature);
        assertFalse(settlement.walletApproved(_id(u)));
        u.sessionSignature = _sign(WALLET_OWNER_PK, _digest(settlement, _sessionId(u.session)));
        vm.expectCall(address(wallet), abi.encodeWithSelector(SignerWallet.isValidSignature.selector), 1);
        assertTrue(_settleTab(u));
        assertTrue(settlement.walletApproved(_id(u)));
        assertEq(settlement.accountOf(address(wallet), operator).seq, 2);
    }

    /// @dev A wallet's signature of any length reaches it unchanged (SignerWallet reads its first 65 bytes).
    function test_settle_SmartWalletLongSignature() public {
        SignerWallet wallet = new SignerWallet(vm.addr(WALLET_OWNER_PK));
        _fund(address(wallet), operator, 100_000);
        (uint256 settled,) = _settleAs(operator, _items1(_walletItem(address(wallet), 1, new bytes(300))));
        assertEq(settled, 1);
    }

    /// @dev The wallet gets SESSION_WALLET_GAS: a check that needs a little less approves; one that needs
    /// the whole budget fails its own item only (BadSessionSignature, nothing recorded).
    function test_settle_SmartWalletGetsItsGasBudget() public {
        SignerWallet wallet = new SignerWallet(vm.addr(WALLET_OWNER_PK));
        _fund(address(wallet), operator, 200_000);
        wallet.setWork(settlement.SESSION_WALLET_GAS() - 15_000);
        (uint256 settled,) = _settleAs(operator, _items1(_walletItem(address(wallet), 1, "")));
        assertEq(settled, 1);
        wallet.setWork(settlement.SESSION_WALLET_GAS());
        Settlement memory item = _walletItem(address(wallet), 2, "");
        item.seq = 2;
        item.cumulativeMax = STANDARD_TOTAL + STANDARD_MAX;
        _resignVoucher(item, WALLET_KEY_PK);
        _assertRejected(operator, item, RejectReason.BadSessionSignature);
        assertFalse(settlement.walletApproved(_sessionId(item.session)));
        wallet.setWork(0);
        (settled,) = _settleAs(operator, _items1(item));
        assertEq(settled, 1);
    }

    /// @dev Hostile wallets (burning all their gas, reverting with a long reason, answering the wrong magic
    /// value, or not approving) fail only their own items with BadSessionSignature; the EOA payer's item in
    /// the same batch settles, and the batch costs at most their budgets plus the ordinary work.
    function test_settle_HostileWalletsFailOnlyTheirOwnItem() public {
        address[4] memory wallets = [
            address(new GasBurnerWallet()),
            address(new RevertingWallet()),
            address(new WrongMagicWallet()),
            address(new SignerWallet(makeAddr("someone else")))
        ];
        Settlement[] memory items = new Settlement[](5);
        for (uint256 i; i < wallets.length; ++i) {
            _fund(wallets[i], operator, 100_000);
            items[i < 2 ? i : i + 1] = _walletItem(wallets[i], 1, "");
        }
        items[2] = _item(_tab0());
        uint256[] memory table = _table();
        for (uint256 i; i < wallets.length; ++i) {
            vm.expectEmit(address(settlement));
            emit SessionRejected(
                i < 2 ? i : i + 1,
                _sessionId(items[i < 2 ? i : i + 1].session),
                RejectReason.BadSessionSignature
            );
        }
        uint256 before = gasleft();
        (uint256 settled, uint256 rejected) = _settleWith(operator, items, table);
        assertLt(before - gasleft(), 4 * settlement.SESSION_WALLET_GAS() + 300_000);
        assertEq(settled, 1);
        assertEq(rejected, 4);
        for (uint256 i; i < 4; ++i) {
            assertEq(settlement.balanceOf(wallets[i], operator), 100_000);
            assertFalse(settlement.walletApproved(_sessionId(items[i < 2 ? i : i + 1].session)));
        }
        assertEq(settlement.balanceOf(payer0, operator), FUNDS - STANDARD_TOTAL);
        _assertStandardRevenue(1);
    }

    /// @dev Each hostile wallet alone, through the fixture's _assertRejected.
    function test_settle_RejectWhen_HostileWalletAlone() public {
        address[3] memory wallets =
            [address(new GasBurnerWallet()), address(new RevertingWallet()), address(new WrongMagicWallet())];
        for (uint256 i; i < wallets.length; ++i) {
            _fund(wallets[i], operator, 100_000);
            _assertRejected(operator, _walletItem(wallets[i], 1, ""), RejectReason.BadSessionSignature);
        }
    }

    /// @dev A return-data bomb (the magic value, then 60 kB) is read by its first word: it approves, and
    /// copying its answer costs the batch little beyond the wallet's budget.
    function test_settle_ReturnBombWalletCostsOnlyTheBudget() public {
        ReturnBombWallet wallet = new ReturnBombWallet();
        _fund(address(wallet), operator, 100_000);
        Settlement[] memory items = _items1(_walletItem(address(wallet), 1, ""));
        uint256[] memory table = _table();
        uint256 before = gasleft();
        (uint256 settled,) = _settleWith(operator, items, table);
        assertLt(before - gasleft(), settlement.SESSION_WALLET_GAS() + 250_000);
        assertEq(settled, 1);
        assertTrue(settlement.walletApproved(_sessionId(items[0].session)));
    }

    /// @dev Too little gas left for a wallet's whole budget reverts the batch with
    /// InsufficientGasForWalletCheck (not a silent rejection a gas estimate could find); with enough gas the
    /// same call settles. A wallet already approved is not called, so it needs no budget.
    function test_settle_RevertWhen_TooLittleGasForWalletCheck() public {
        SignerWallet wallet = new SignerWallet(vm.addr(WALLET_OWNER_PK));
        _fund(address(wallet), operator, 100_000);
        Tab memory t = _walletTab(address(wallet), 1, "");
        _voidQuery(t);
        bytes memory data = abi.encodeCall(KipSettlement.settle, (_encode(_items1(_item(t))), _table()));
        vm.prank(operator);
        (bool ok, bytes memory err) = address(settlement).call{gas: 90_000}(data);
        assertFalse(ok);
        assertEq(bytes4(err), IKipSettlementErrors.InsufficientGasForWalletCheck.selector);
        (, uint256 needed) = abi.decode(_slice(err, 4, err.length), (uint256, uint256));
        assertEq(needed, settlement.SESSION_WALLET_GAS() * 64 / 63 + 5000);
        assertEq(settlement.accountOf(address(wallet), operator).seq, 0);
        vm.prank(operator);
        (ok,) = address(settlement).call{gas: 500_000}(data);
        assertTrue(ok);
        assertTrue(settlement.walletApproved(_id(t)));
        // Approved: the next void settlement runs with the gas that was too little before.
        _commit(t);
        _voidQuery(t);
        data = abi.encodeCall(KipSettlement.settle, (_encode(_items1(_item(t))), _table()));
        vm.prank(operator);
        (ok,) = address(settlement).call{gas: 90_000}(data);
        assertTrue(ok);
        assertEq(settlement.accountOf(address(wallet), operator).seq, 2);
    }

    /// @dev An EOA payer's item needs no wallet budget: it settles with the gas a wallet check would lack.
    function test_settle_EoaPayerNeedsNoWalletBudget() public {
        Tab memory t = _openTab(0, CAP);
        _voidQuery(t);
        bytes memory data = abi.encodeCall(KipSettlement.settle, (_encode(_items1(_item(t))), _table()));
        vm.prank(operator);
        (bool ok,) = address(settlement).call{gas: 90_000}(data);
        assertTrue(ok);
        assertEq(settlement.accountOf(payer0, operator).seq, 1);
    }

    /// @dev Whatever gas the operator sends, a wallet that approves within its budget is never silently
    /// rejected: the call either reverts (InsufficientGasForWalletCheck, or out of gas) or settles the item.
    function testFuzz_settle_GoodWalletNeverSilentlyRejectedForLackOfGas(uint256 gasLimit) public {
        gasLimit = bound(gasLimit, 60_000, 250_000);
        SignerWallet wallet = new SignerWallet(vm.addr(WALLET_OWNER_PK));
        wallet.setWork(settlement.SESSION_WALLET_GAS() - 6000); // close to the whole budget
        Tab memory t = _walletTab(address(wallet), 1, "");
        _voidQuery(t);
        bytes memory data = abi.encodeCall(KipSettlement.settle, (_encode(_items1(_item(t))), _table()));
        uint256 snapshot = vm.snapshotState();
        vm.prank(operator);
        (bool ok,) = address(settlement).call{gas: 2_000_000}(data);
        assertTrue(ok && settlement.walletApproved(_id(t)), "the wallet approves with ample gas");
        vm.revertToState(snapshot);
        vm.prank(operator);
        (ok,) = address(settlement).call{gas: gasLimit}(data);
        if (ok) {
            assertTrue(settlement.walletApproved(_id(t)), "settled, not silently rejected");
            assertEq(settlement.accountOf(address(wallet), operator).seq, 1);
        } else {
            assertEq(settlement.accountOf(address(wallet), operator).seq, 0);
        }
    }

    // ---------------------------------------------------------------- fuzz

    /// @dev Random fee and amounts over up to 6 payers in one batch: each slot is credited its batch gross
    /// less floor(gross * feeBps / 10_000), the fees accrue, every payer is debited its exact total, and
    /// usd.balanceOf(settlement) == totalDeposits + feesAccrued (also after a withdrawal and withdrawFees).
    function testFuzz_settle_FeeMathAndConservation(
        uint16 feeBps,
        uint64[4] memory amounts,
        uint8 payers,
        uint96 extra
    ) public {
        feeBps = uint16(bound(feeBps, 0, 1000));
        payers = uint8(bound(payers, 1, 6));
        extra = uint96(bound(extra, 0, type(uint96).max - 4 * uint256(type(uint64).max)));
        vm.prank(admin);
        settlement.setFeeBps(feeBps);
        (Settlement[] memory items, uint256 perPayer) = _feeItems(amounts, payers, extra);
        uint256 fees;
        for (uint256 j; j < 4; ++j) {
            fees += uint256(amounts[j]) * payers * feeBps / 10_000;
        }
        vm.expectEmit(address(settlement));
        emit BatchSettled(operator, payers, 0, perPayer * payers, fees);
        (uint256 settled,) = _settleAs(operator, items);
        assertEq(settled, payers);
        for (uint256 j; j < 4; ++j) {
            uint256 gross = uint256(amounts[j]) * payers;
            assertEq(assets.slotInfo(j + 1).revenue, gross - gross * feeBps / 10_000);
        }
        for (uint256 i; i < payers; ++i) {
            AccountState memory account = settlement.accountOf(_payer(10 + i), operator);
            assertEq(account.balance, i == 0 ? extra : 0);
            assertEq(account.charged, perPayer);
            assertEq(account.seq, 1);
        }
        assertEq(settlement.feesAccrued(), fees);
        assertEq(usd.balanceOf(address(assets)), perPayer * payers - fees);
        assertEq(settlement.totalDeposits(), FUNDS + extra);
        _assertConservation();
        if (extra != 0) {
            vm.prank(_payer(10));
            settlement.requestWithdraw(operator, extra);
            vm.warp(block.timestamp + DELAY);
            vm.prank(_payer(10));
            assertEq(settlement.withdraw(operator), extra);
        }
        settlement.withdrawFees();
        assertEq(usd.balanceOf(treasury), fees);
        assertEq(usd.balanceOf(address(settlement)), FUNDS);
        _assertConservation();
    }

    /// @dev One item per payer 10.. charging `amounts[j]` to table entry j in one record; each payer
    /// deposits exactly that (the first `extra` more).
    function _feeItems(uint64[4] memory amounts, uint256 payers, uint96 extra)
        internal
        returns (Settlement[] memory items, uint256 perPayer)
    {
        uint8[] memory indexes = new uint8[](4);
        uint64[] memory charged = new uint64[](4);
        for (uint256 j; j < 4; ++j) {
            indexes[j] = uint8(j);
            charged[j] = amounts[j];
            perPayer += amounts[j];
        }
        items = new Settlement[](payers);
        for (uint256 i; i < payers; ++i) {
            uint256 deposit = perPayer + (i == 0 ? extra : 0);
            if (deposit != 0) _fund(_payer(10 + i), operator, deposit);
            Tab memory t = _openTab(10 + i, type(uint96).max);
            _voidQuery(t);
            items[i] = _item(t);
            items[i].cumulativeMax = perPayer;
            items[i].records = _record(0, indexes, charged);
            _resignVoucher(items[i], KEY_PK_BASE + 10 + i);
        }
    }

    /// @dev One record on the app slot after an earlier charge by another session of the account: it
    /// settles exactly when prior + amount is within the voucher's cumulativeMax, the second session's
    /// spendCap (a cap on the account's total) and the balance covers the amount; otherwise the first
    /// failing check is the reason and nothing moves.
    function testFuzz_settle_NeverAboveMaxCapOrBalance(
        uint64 prior,
        uint64 amount,
        uint96 max,
        uint96 cap,
        uint96 balance
    ) public {
        vm.assume(uint256(balance) + prior <= type(uint96).max);
        _chargeApp(prior, balance);
        Settlement memory item = _capItem(cap, max, amount);
        uint256 total = uint256(prior) + amount;
        RejectReason expected = total > max
            ? RejectReason.AboveMax
            : total > cap
                ? RejectReason.SpendCapExceeded
                : amount > balance ? RejectReason.InsufficientBalance : RejectReason.None;
        if (expected != RejectReason.None) {
            _assertRejected(operator, item, expected);
            return;
        }
        (uint256 settled,) = _settleAs(operator, _items1(item));
        assertEq(settled, 1);
        AccountState memory account = settlement.accountOf(_payer(9), operator);
        assertEq(account.balance, uint256(balance) - amount);
        assertEq(account.charged, total);
        assertEq(account.seq, 2);
        assertEq(assets.slotInfo(APP).revenue, _net(prior) + _net(amount));
        _assertConservation();
    }

    function _net(uint256 gross) internal pure returns (uint256) {
        return gross - gross * FEE_BPS / 10_000;
    }

    /// @dev Funds payer 9 with `balance + prior` and settles `prior` on the app slot (seq 1) through a
    /// session without a cap.
    function _chargeApp(uint64 prior, uint96 balance) internal {
        uint256 funds = uint256(balance) + prior;
        if (funds != 0) _fund(_payer(9), operator, funds);
        Tab memory first = _openTab(9, type(uint96).max);
        _voidQuery(first);
        Settlement memory item = _item(first);
        item.cumulativeMax = prior;
        item.records = _record1(0, 0, prior);
        _resignVoucher(item, KEY_PK_BASE + 9);
        (uint256 settled,) = _settleAs(operator, _items1(item));
        assertEq(settled, 1);
    }

    /// @dev Payer 9's item at seq 2 through a second session capped at `cap`: one record of `amount` on the
    /// app slot under cumulativeMax `max`.
    function _capItem(uint96 cap, uint96 max, uint64 amount)
        internal
        view
        returns (Settlement memory item)
    {
        Session memory s = _sessionOf(9, cap);
        s.nonce = 2;
        Tab memory t =
            _openTabWith(settlement, s, _signSession(settlement, s, PAYER_PK_BASE + 9), KEY_PK_BASE + 9);
        t.seq = 1;
        _voidQuery(t);
        item = _item(t);
        item.cumulativeMax = max;
        item.records = _record1(0, 0, amount);
        _resignVoucher(item, KEY_PK_BASE + 9);
    }

    /// @dev Up to 9 pseudo-random records (any app and charge indexes, a few past the 6-entry table, whose
    /// entries 4 and 5 are unknown slots), then one random mutation of the bytes (none, truncate, append,
    /// overwrite a byte): the item is MalformedRecords, UnknownSlot, or charged exactly what a reference
    /// decoder written from the format reads, per table entry.
    function testFuzz_settle_RecordsChargeExactlyTheirSum(
        uint8 count,
        uint256 seed,
        uint8 mutation,
        uint16 at
    ) public {
        count = uint8(bound(count, 0, 9)); // 9: one record more than the seqs allow
        uint256[] memory table = new uint256[](6);
        for (uint256 j; j < 4; ++j) {
            table[j] = j + 1;
        }
        table[4] = 0;
        table[5] = 77;
        _fund(payer0, operator, type(uint96).max - FUNDS);
        Tab memory t = _openTab(0, type(uint96).max);
        for (uint256 i; i < 8; ++i) {
            _voidQuery(t);
        }
        Settlement memory item = _item(t);
        item.cumulativeMax = type(uint96).max;
        _resignVoucher(item, KEY0_PK);
        item.records = _randomRecords(count, seed);
        if (item.records.length != 0 || mutation % 4 == 2) {
            item.records = _mutate(item.records, mutation, at, seed);
        }
        (bool wellFormed, uint256 records, uint256[6] memory sums) = _referenceDecode(item.records, 6);
        if (!wellFormed || records > 8) {
            _assertRejectedWith(operator, item, table, RejectReason.MalformedRecords);
            return;
        }
        if (sums[4] != 0 || sums[5] != 0) {
            _assertRejectedWith(operator, item, table, RejectReason.UnknownSlot);
            return;
        }
        uint256 total = sums[0] + sums[1] + sums[2] + sums[3];
        uint256 before = settlement.balanceOf(payer0, operator);
        (uint256 settled,) = _settleWith(operator, _items1(item), table);
        assertEq(settled, 1);
        assertEq(before - settlement.balanceOf(payer0, operator), total);
        assertEq(settlement.accountOf(payer0, operator).charged, total);
        assertEq(settlement.accountOf(payer0, operator).seq, 8);
        for (uint256 j; j < 4; ++j) {
            assertEq(assets.slotInfo(j + 1).revenue, sums[j] - sums[j] * FEE_BPS / 10_000);
        }
        _assertConservation();
    }

    function _randomRecords(uint256 count, uint256 seed) internal pure returns (bytes memory out) {
        for (uint256 k; k < count; ++k) {
            uint256 r = uint256(keccak256(abi.encode(seed, k)));
            uint256 charges = r % 5;
            uint8[] memory indexes = new uint8[](charges);
            uint64[] memory amounts = new uint64[](charges);
            for (uint256 c; c < charges; ++c) {
                uint256 q = uint256(keccak256(abi.encode(r, c)));
                // Mostly the four known entries; sometimes an unknown one (4, 5) or one past the table
                // (6, 200).
                uint256 pick = q % 64;
                indexes[c] =
                    pick < 56 ? uint8(pick % 4) : pick < 62 ? uint8(4 + pick % 2) : pick == 62 ? 6 : 200;
                amounts[c] = (q >> 8) % 8 == 0 ? 0 : uint64(q >> 64) >> ((q >> 128) % 64); // small to large
            }
            uint8 app = (r >> 16) % 32 == 0 ? 6 : uint8((r >> 8) % 6);
            out = bytes.concat(out, Records.pack(Records.Record(app, 1, 2, bytes32(r), indexes, amounts)));
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
        if (kind == 3 && data.length != 0) data[at % data.length] = bytes1(uint8(seed >> 8)); // overwrite
        return data;
    }

    /// @dev A second reading of the record format (docs/settlement-format.md), byte by byte: app:uint8
    /// tokensIn:uint24 tokensOut:uint24 recordHash:bytes32 count:uint8, then count x (index:uint8
    /// amount:uint64).
    function _referenceDecode(bytes memory data, uint256 tableLength)
        internal
        pure
        returns (bool ok, uint256 count, uint256[6] memory sums)
    {
        uint256 p;
        while (p < data.length) {
            if (p + 40 > data.length) return (false, count, sums);
            if (uint8(data[p]) >= tableLength) return (false, count, sums);
            uint256 charges = uint8(data[p + 39]);
            p += 40;
            if (p + charges * 9 > data.length) return (false, count, sums);
            for (uint256 c; c < charges; ++c) {
                uint256 index = uint8(data[p]);
                if (index >= tableLength) return (false, count, sums);
                uint256 amount;
                for (uint256 b = 1; b <= 8; ++b) {
                    amount = amount << 8 | uint8(data[p + b]);
                }
                sums[index] += amount;
                p += 9;
            }
            count++;
        }
        return (true, count, sums);
    }

    // ---------------------------------------------------------------- helpers

    function _slice(bytes memory a, uint256 n) internal pure returns (bytes memory b) {
        b = new bytes(n);
        for (uint256 i; i < n; ++i) {
            b[i] = a[i];
        }
    }

    function _slice(bytes memory a, uint256 from, uint256 to) internal pure returns (bytes memory b) {
        b = new bytes(to - from);
        for (uint256 i = from; i < to; ++i) {
            b[i - from] = a[i];
        }
    }

    function _copyBytes(bytes memory a) internal pure returns (bytes memory) {
        return _slice(a, a.length);
    }
}
