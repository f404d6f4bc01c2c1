// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC721Receiver} from "@openzeppelin/contracts/token/ERC721/IERC721Receiver.sol";

import {KipAssets} from "../src/KipAssets.sol";
import {KipSettlement} from "../src/KipSettlement.sol";
import {IERC3525Receiver} from "../src/interfaces/IERC3525.sol";
import {IKipAssetsTypes} from "../src/interfaces/IKipAssets.sol";
import {GasBurnerWallet} from "./utils/MockWallets.sol";
import {Records} from "./utils/Records.sol";
import {SettlementFixture} from "./utils/SettlementFixture.sol";

/// @dev Receives value or tokens and, inside the hook, claims the same tokens again and again.
contract ReentrantClaimer is IERC3525Receiver, IERC721Receiver {
    KipAssets internal immutable _assets;
    uint256[] internal _targets;
    uint256 public reentered;

    constructor(KipAssets assets_) {
        _assets = assets_;
    }

    function setTargets(uint256[] memory targets) external {
        _targets = targets;
    }

    function _attack() internal {
        for (uint256 i; i < _targets.length; ++i) {
            _assets.claim(_targets[i]);
            _assets.claim(_targets[i]);
            reentered++;
        }
    }

    function onERC3525Received(address, uint256, uint256, uint256, bytes calldata) external returns (bytes4) {
        _attack();
        return IERC3525Receiver.onERC3525Received.selector;
    }

    function onERC721Received(address, address, uint256, bytes calldata) external returns (bytes4) {
        _attack();
        return IERC721Receiver.onERC721Received.selector;
    }

    function supportsInterface(bytes4 id) external pure returns (bool) {
        return id == type(IERC3525Receiver).interfaceId || id == 0x01ffc9a7;
    }
}

/// @dev What the payer, a stranger, another operator or the operator itself could try, and why it fails.
contract AttacksTest is SettlementFixture {
    address internal payer0;
    uint256 internal constant PAYER0_PK = PAYER_PK_BASE;
    uint256 internal constant KEY0_PK = KEY_PK_BASE;
    uint256 internal constant CAP = 1_000_000;

    function setUp() public {
        _deploy();
        payer0 = _payer(0);
        _fund(payer0, operator, 1_000_000);
    }

    function _tab0() internal view returns (Tab memory t) {
        t = _openTab(0, CAP, _slots4());
        _standardQuery(t);
    }

    /// @dev Token balances of everyone who could gain or lose.
    function _snapshot() internal view returns (uint256[5] memory s) {
        s = [
            settlement.balanceOf(payer0, operator),
            settlement.totalDeposits(),
            usd.balanceOf(address(settlement)),
            usd.balanceOf(address(assets)),
            settlement.feesAccrued()
        ];
    }

    function _assertNothingMoved(uint256[5] memory before) internal view {
        uint256[5] memory nowS = _snapshot();
        for (uint256 i; i < 5; ++i) {
            assertEq(nowS[i], before[i], "something moved");
        }
    }

    // ---------------------------------------------------------------- the payer

    /// The payer holds the session key: it signs a competing voucher with the operator's seq and no charges
    /// and settles it itself, to burn the seq before the operator's batch lands (a free answer). Only the
    /// operator may settle, so the copy is refused and the operator's settlement still charges.
    function test_attack_PayerCannotPreemptWithZeroVoucherOfSameSeq() public {
        Tab memory t = _tab0();
        SessionSettlement memory honest = _item(t);

        SessionSettlement memory zero = _item(t);
        zero.records = "";
        zero.voucher.maxAmounts = new uint256[](4);
        _resignVoucher(zero, KEY0_PK);
        _assertRejected(payer0, zero, RejectReason.NotOperator);
        // With a record charging zero to every slot: the same.
        zero.records = Records.pack(Records.dense(0, new uint64[](4), bytes32(0)));
        _assertRejected(payer0, zero, RejectReason.NotOperator);
        // From the key's address too.
        _assertRejected(_key(0), zero, RejectReason.NotOperator);

        (uint256 settled, uint256 rejected) = _settleAs(operator, _items1(honest));
        assertEq(settled, 1);
        assertEq(rejected, 0);
        assertEq(settlement.balanceOf(payer0, operator), 1_000_000 - STANDARD_TOTAL, "the payer pays");
        // And the zero voucher cannot undo it afterwards, not even through the operator.
        _assertRejected(operator, zero, RejectReason.StateMismatch);
    }

    /// The payer opens a second session with the same key and terms but another nonce and settles nothing:
    /// sessions are independent, so the operator's session still charges.
    function test_attack_PayerSecondSessionDoesNotTouchTheFirst() public {
        Tab memory t = _tab0();
        Session memory s = _sessionOf(0, CAP);
        s.nonce = 2;
        Tab memory other =
            _openTabWith(settlement, s, _signSession(settlement, s, PAYER0_PK), KEY0_PK, _slots4());
        _voidQuery(other);
        assertTrue(_settleTab(other));
        assertTrue(_settleTab(t));
        assertEq(settlement.balanceOf(payer0, operator), 1_000_000 - STANDARD_TOTAL);
    }

    // ---------------------------------------------------------------- a stranger

    /// A stranger copies the operator's pending transaction (same calldata) and sends it first from its own
    /// address: every item is NotOperator and nothing moves; the operator's transaction then settles.
    function test_attack_StrangerFrontRunsOperatorCalldata() public {
        _fund(_payer(1), operator, 1_000_000);
        Tab memory a = _tab0();
        Tab memory b = _openTab(1, CAP, _slots4());
        _standardQuery(b);
        bytes memory data = abi.encodeCall(KipSettlement.settle, (_items2(_item(a), _item(b))));
        uint256[5] memory before = _snapshot();

        vm.expectEmit(address(settlement));
        emit SessionRejected(_id(a), RejectReason.NotOperator);
        vm.expectEmit(address(settlement));
        emit SessionRejected(_id(b), RejectReason.NotOperator);
        vm.expectEmit(address(settlement));
        emit BatchSettled(stranger, 0, 2, 0, 0);
        vm.prank(stranger);
        (bool ok, bytes memory result) = address(settlement).call(data);
        assertTrue(ok);
        (uint256 settled, uint256 rejected) = abi.decode(result, (uint256, uint256));
        assertEq(settled, 0);
        assertEq(rejected, 2);
        _assertNothingMoved(before);
        assertEq(settlement.sessionState(_id(a)), bytes32(0));

        vm.prank(operator);
        (ok, result) = address(settlement).call(data);
        assertTrue(ok);
        (settled,) = abi.decode(result, (uint256, uint256));
        assertEq(settled, 2);
        assertEq(settlement.balanceOf(payer0, operator), 1_000_000 - STANDARD_TOTAL);
        assertEq(settlement.balanceOf(_payer(1), operator), 1_000_000 - STANDARD_TOTAL);
    }

    // ---------------------------------------------------------------- vouchers

    /// The key signs two vouchers with the same seq (say, a retried query). Once one settled, the other is
    /// stale: built on the new state it is StaleVoucher, built on the old one StateMismatch.
    function test_attack_TwoVouchersOfOneSeqSettleOnce() public {
        Tab memory t = _tab0();
        SessionSettlement memory first = _item(t);
        SessionSettlement memory twin = _item(t);
        twin.voucher.maxAmounts[3] += 5000;
        twin.records =
            Records.pack(Records.dense(0, _amounts4(20_000, 15_000, 5000, 10_000), bytes32("twin")));
        _resignVoucher(twin, KEY0_PK);

        (uint256 settled,) = _settleAs(operator, _items1(first));
        assertEq(settled, 1);
        _assertRejected(operator, twin, RejectReason.StateMismatch);
        _commit(t);
        twin.prevSeq = t.prevSeq;
        twin.prevSettled = t.prevSettled;
        twin.sessionSignature = "";
        _assertRejected(operator, twin, RejectReason.StaleVoucher);
        assertEq(settlement.balanceOf(payer0, operator), 1_000_000 - STANDARD_TOTAL);
    }

    /// A settled voucher replayed, and an older voucher settled after a newer one: both refused, nothing moves.
    function test_attack_ReplayedAndLateOldVouchersChangeNothing() public {
        Tab memory t = _tab0();
        SessionSettlement memory v1 = _item(t);
        assertTrue(_settleTab(t));
        // The same item again: its prevSeq (0) is no longer the state.
        _assertRejected(operator, v1, RejectReason.StateMismatch);
        // Built on the current state: stale.
        v1.prevSeq = t.prevSeq;
        v1.prevSettled = t.prevSettled;
        _assertRejected(operator, v1, RejectReason.StaleVoucher);

        // The operator holds vouchers 2 and 3, settles 3, then tries 2 late.
        _standardQuery(t);
        SessionSettlement memory v2 = _item(t);
        _standardQuery(t);
        assertTrue(_settleTab(t));
        bytes32 state = settlement.sessionState(_id(t));
        _assertRejected(operator, v2, RejectReason.StateMismatch);
        v2.prevSeq = t.prevSeq;
        v2.prevSettled = t.prevSettled;
        _assertRejected(operator, v2, RejectReason.StaleVoucher);
        assertEq(settlement.sessionState(_id(t)), state);
        assertEq(settlement.balanceOf(payer0, operator), 1_000_000 - 3 * STANDARD_TOTAL);
    }

    /// A newer voucher whose cumulative maximum is below what was already settled (a key trying to take back
    /// what it allowed) cannot settle, even with no new charges.
    function test_attack_CumulativeMaximumGoingDownIsAboveMax() public {
        Tab memory t = _tab0();
        _standardQuery(t);
        assertTrue(_settleTab(t)); // app settled 40_000 of 40_000
        _voidQuery(t);
        t.maxAmounts[0] = 30_000;
        _assertRejected(operator, _item(t), RejectReason.AboveMax);
        t.maxAmounts[0] = 40_000;
        assertTrue(_settleTab(t));
    }

    /// A voucher of a session naming another operator: the other operator's session cannot be settled here,
    /// it cannot be passed off under this operator's session, and the session cannot be re-pointed.
    function test_attack_VoucherSignedForAnotherOperator() public {
        address other = makeAddr("other operator");
        _fund(payer0, other, 1_000_000);
        Session memory s = _sessionOf(0, CAP);
        s.operator = other;
        Tab memory theirs =
            _openTabWith(settlement, s, _signSession(settlement, s, PAYER0_PK), KEY0_PK, _slots4());
        _standardQuery(theirs);
        SessionSettlement memory item = _item(theirs);
        // As is: not this operator's session.
        _assertRejected(operator, item, RejectReason.NotOperator);
        // Under this operator's own session (signed by the same payer): the voucher names another session.
        SessionSettlement memory mine = _item(_tab0());
        mine.voucher = item.voucher;
        mine.voucherSignature = item.voucherSignature;
        _assertRejected(operator, mine, RejectReason.VoucherInvalid);
        // The other session with its operator rewritten: the payer never signed that.
        item.session.operator = operator;
        item.voucher.session = _sessionId(item.session);
        _resignVoucher(item, KEY0_PK);
        _assertRejected(operator, item, RejectReason.SessionInvalid);
        assertEq(settlement.balanceOf(payer0, other), 1_000_000);
    }

    /// Signatures made for one chain id do not verify on another: first the payer's session signature, then,
    /// for a session already registered, the key's voucher signature.
    function test_attack_ReplayOnOtherChainIsRejected() public {
        uint256 chain = block.chainid;
        Tab memory t = _tab0();
        SessionSettlement memory item = _item(t);
        vm.chainId(chain + 1);
        _assertRejected(operator, item, RejectReason.SessionInvalid);
        vm.chainId(chain);
        assertTrue(_settleTab(t));
        _standardQuery(t);
        item = _item(t); // signed for `chain`
        vm.chainId(chain + 1);
        _assertRejected(operator, item, RejectReason.BadSignature);
        vm.chainId(chain);
        assertTrue(_settleTab(t));
    }

    /// Signatures made for one deployment do not verify on another (same chain, same payer and operator).
    function test_attack_ReplayOnOtherDeploymentIsRejected() public {
        KipAssets assets2 = new KipAssets(IERC20(address(usd)), "", admin);
        KipSettlement settlement2 = _newSettlement(assets2);
        vm.prank(admin);
        assets2.setSettlement(address(settlement2));
        vm.startPrank(creator);
        for (uint256 i; i < 4; ++i) {
            assets2.list(IKipAssetsTypes.AssetKind.Dataset, 1, "u", bytes32(0));
        }
        vm.stopPrank();
        _fundAt(settlement2, payer0, operator, 1_000_000);

        SessionSettlement memory item = _item(_tab0()); // signed for `settlement`
        vm.prank(operator);
        (uint256 settled,) = settlement2.settle(_items1(item));
        assertEq(settled, 0, "session signature of another deployment");
        // A session signed for settlement2, with a voucher signed for `settlement`.
        item.sessionSignature = _signSession(settlement2, item.session, PAYER0_PK);
        vm.prank(operator);
        (settled,) = settlement2.settle(_items1(item));
        assertEq(settled, 0, "voucher signature of another deployment");
        assertEq(settlement2.balanceOf(payer0, operator), 1_000_000);
        item.voucherSignature = _signVoucher(settlement2, item.voucher, KEY0_PK);
        vm.prank(operator);
        (settled,) = settlement2.settle(_items1(item));
        assertEq(settled, 1, "signed for settlement2");
    }

    /// The malleable twin of a valid signature (s' = n - s, v flipped) is refused, for vouchers and sessions.
    function test_attack_HighSSignaturesAreRejected() public {
        SessionSettlement memory item = _item(_tab0());
        item.voucherSignature = _highS(item.voucherSignature);
        _assertRejected(operator, item, RejectReason.BadSignature);
        item = _item(_tab0());
        item.sessionSignature = _highS(item.sessionSignature);
        _assertRejected(operator, item, RejectReason.SessionInvalid);
    }

    // ---------------------------------------------------------------- the operator

    /// The operator charging more than the key signed, than the session's cap, or than the payer's balance:
    /// refused with the reason, and no token moves anywhere.
    function test_attack_OperatorCannotOvercharge() public {
        uint256[5] memory before = _snapshot();
        // Above the signed maximum of one slot (the unused dataset B: signed 5_000, charged 5_001).
        Tab memory t = _tab0();
        SessionSettlement memory item = _item(t);
        item.records = Records.pack(Records.dense(0, _amounts4(20_000, 12_000, 5000, 5001), bytes32(0)));
        _assertRejected(operator, item, RejectReason.AboveMax);
        // Above the cap: every slot within its maximum, the session total 45_000 > 40_000.
        t = _openTab(0, 40_000, _slots4());
        _standardQuery(t);
        item = _item(t);
        item.records = Records.pack(Records.dense(0, _amounts4(20_000, 15_000, 5000, 5000), bytes32(0)));
        _assertRejected(operator, item, RejectReason.SpendCapExceeded);
        // Above the balance.
        t = _openTab(0, 10_000_000, _slots4());
        for (uint256 i; i < 28; ++i) {
            _standardQuery(t); // 28 * 37_000 = 1_036_000 > 1_000_000
        }
        _assertRejected(operator, _item(t), RejectReason.InsufficientBalance);
        _assertNothingMoved(before);
    }

    /// The operator can only spend a payer's balance with itself: another operator's deposit is out of reach
    /// even for a session the payer signed naming this operator.
    function test_attack_OperatorCannotSpendDepositsMadeForAnother() public {
        address other = makeAddr("other operator");
        address payer = _payer(6);
        _fund(payer, other, 1_000_000);
        Tab memory t = _openTab(6, CAP, _slots4());
        _standardQuery(t);
        _assertRejected(operator, _item(t), RejectReason.InsufficientBalance);
        assertEq(settlement.balanceOf(payer, other), 1_000_000);
    }

    /// A smart-wallet payer whose ERC-1271 check burns all the gas it gets cannot sink a batch: its check gets
    /// a fixed budget, its session is invalid, and everyone else's sessions settle.
    function test_attack_HostileSmartWalletSessionCannotSinkBatch() public {
        GasBurnerWallet wallet = new GasBurnerWallet();
        _fund(address(wallet), operator, 1_000_000);
        SessionSettlement[] memory items = new SessionSettlement[](11);
        for (uint256 i; i < 10; ++i) {
            _fund(_payer(20 + i), operator, 100_000);
            Tab memory t = _openTab(20 + i, CAP, _slots4());
            _standardQuery(t);
            items[i < 5 ? i : i + 1] = _item(t);
        }
        Session memory s = Session(address(wallet), _key(9), operator, CAP, block.timestamp + 1 days, 1);
        Tab memory w = _openTabWith(settlement, s, new bytes(65), KEY_PK_BASE + 9, _slots4());
        _standardQuery(w);
        items[5] = _item(w);

        vm.expectEmit(address(settlement));
        emit SessionRejected(_sessionId(s), RejectReason.SessionInvalid);
        vm.prank(operator);
        (bool ok, bytes memory result) =
            address(settlement).call{gas: 2_000_000}(abi.encodeCall(KipSettlement.settle, (items)));
        assertTrue(ok, "one hostile session must not sink the batch");
        (uint256 settled, uint256 rejected) = abi.decode(result, (uint256, uint256));
        assertEq(settled, 10);
        assertEq(rejected, 1);
        assertEq(settlement.balanceOf(address(wallet), operator), 1_000_000);
    }

    // ---------------------------------------------------------------- revenue claims (KipAssets)

    uint256 internal _earned;

    /// @dev Settles one standard query of payer 0 (app earns 19_500).
    function _earn() internal {
        Tab memory t = _openTab(0, CAP, _slots4());
        t.session.nonce = 100 + _earned++;
        t.sessionSignature = _signSession(settlement, t.session, PAYER0_PK);
        _standardQuery(t);
        assertTrue(_settleTab(t));
    }

    function test_attack_ReentrantReceiverCannotClaimTwice() public {
        _earn();
        ReentrantClaimer attacker = new ReentrantClaimer(assets);
        uint256[] memory targets = new uint256[](1);
        targets[0] = 1;
        attacker.setTargets(targets);
        // The creator sells half the app's shares to the attacker; its hook claims token 1 twice.
        vm.prank(creator);
        uint256 attackerToken = assets.transferFrom(1, address(attacker), 500_000);
        assertEq(attacker.reentered(), 1);
        assertEq(usd.balanceOf(creator), 19_500); // paid once, to the owner
        assertEq(usd.balanceOf(address(attacker)), 0);
        assertEq(assets.claimable(attackerToken), 0);
        _earn();
        assertEq(assets.claimable(attackerToken), 9750);
        assertEq(assets.claimable(1), 9750);
    }

    function test_attack_ReentrantERC721ReceiverClaimsOnlyOnce() public {
        _earn();
        ReentrantClaimer attacker = new ReentrantClaimer(assets);
        uint256[] memory targets = new uint256[](1);
        targets[0] = 1;
        attacker.setTargets(targets);
        vm.prank(creator);
        assets.safeTransferFrom(creator, address(attacker), 1);
        assertEq(usd.balanceOf(address(attacker)), 19_500);
        assertEq(assets.claimable(1), 0);
        assertEq(usd.balanceOf(address(assets)), STANDARD_TOTAL - STANDARD_FEES - 19_500);
    }

    function test_attack_LateShareholderClaimsNothingOld() public {
        _earn();
        address late = makeAddr("late");
        vm.prank(creator);
        uint256 lateToken = assets.transferFrom(1, late, 999_999);
        assertEq(assets.claimable(lateToken), 0);
        assertEq(assets.claimable(1), 19_500);
        vm.prank(late);
        assets.transferFrom(lateToken, 1, 999_999);
        assertEq(assets.claimable(lateToken), 0);
        assertEq(assets.claimable(1), 19_500);
    }

    function test_attack_OnlySettlementCredits() public {
        vm.expectRevert();
        assets.credit(new uint256[](1), new uint256[](1));
    }

    // ---------------------------------------------------------------- helpers

    function _amounts4(uint64 a, uint64 b, uint64 c, uint64 d) internal pure returns (uint64[] memory r) {
        r = new uint64[](4);
        (r[0], r[1], r[2], r[3]) = (a, b, c, d);
    }

    /// @dev The malleable twin of a 65-byte signature: s' = n - s, v' = 55 - v.
    function _highS(bytes memory sig) internal pure returns (bytes memory) {
        (bytes32 r, bytes32 s) = abi.decode(sig, (bytes32, bytes32));
        uint256 n = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141;
        return abi.encodePacked(r, bytes32(n - uint256(s)), bytes1(55 - uint8(sig[64])));
    }
}
