// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC721Receiver} from "@openzeppelin/contracts/token/ERC721/IERC721Receiver.sol";
import {Vm} from "forge-std/Vm.sol";

import {KipAssets} from "../src/KipAssets.sol";
import {KipSettlement} from "../src/KipSettlement.sol";
import {IERC3525Receiver} from "../src/interfaces/IERC3525.sol";
import {IKipAssetsTypes} from "../src/interfaces/IKipAssets.sol";
import {IKipSettlementErrors} from "../src/interfaces/IKipSettlement.sol";
import {
    EstimateOnlyWallet,
    GasBurnerWallet,
    ReturnBombWallet,
    RevertingWallet,
    TwoFacedBombWallet,
    TwoFacedWallet
} from "./utils/MockWallets.sol";
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

/// @dev What the payer, its key, a stranger, another operator or the operator itself could try against
/// KipSettlement v3, and why each attempt fails: every test here is an attack that would work on a naive
/// design (anyone may settle, per-session sequences, unbounded charges, unchecked domains, unbounded wallet
/// calls) and must change nothing, or nothing more than the payer agreed to, against v3.
contract AttacksTest is SettlementFixture {
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

    /// @dev Payer 0's account with the operator, one standard query answered (37_000 of 45_000 signed).
    function _tab0() internal view returns (Tab memory t) {
        t = _openTab(0, CAP);
        _standardQuery(t);
    }

    /// @dev Everything that could gain or lose: payers 0 and 1 with the operator, the deposits, the tokens
    /// the settlement and KipAssets hold, and the fees.
    function _snapshot() internal view returns (uint256[6] memory s) {
        s = [
            settlement.balanceOf(payer0, operator),
            settlement.balanceOf(_payer(1), operator),
            settlement.totalDeposits(),
            usd.balanceOf(address(settlement)),
            usd.balanceOf(address(assets)),
            settlement.feesAccrued()
        ];
    }

    function _assertNothingMoved(uint256[6] memory before) internal view {
        uint256[6] memory now_ = _snapshot();
        for (uint256 i; i < before.length; ++i) {
            assertEq(now_[i], before[i], "something moved");
        }
    }

    /// @dev One record of the standard slots paying app, model, data A and data B (zeros left out).
    function _record4(uint64 app, uint64 model, uint64 dataA, uint64 dataB)
        internal
        pure
        returns (bytes memory)
    {
        uint64[4] memory all = [app, model, dataA, dataB];
        uint256 n;
        for (uint256 k; k < 4; ++k) {
            if (all[k] != 0) ++n;
        }
        uint8[] memory indexes = new uint8[](n);
        uint64[] memory amounts = new uint64[](n);
        n = 0;
        for (uint256 k; k < 4; ++k) {
            if (all[k] == 0) continue;
            indexes[n] = uint8(k);
            amounts[n++] = all[k];
        }
        return Records.pack(Records.Record(0, 1000, 200, keccak256(abi.encode(all)), indexes, amounts));
    }

    /// @dev The calldata of settling `items` with the fixture's slot table.
    function _calldata(Settlement[] memory items) internal view returns (bytes memory) {
        return abi.encodeCall(KipSettlement.settle, (_encode(items), _table()));
    }

    // ---------------------------------------------------------------- the payer

    /// The payer holds the session key: it signs a competing voucher of the operator's seq, no charges, and
    /// settles it itself, to burn the seq before the operator's batch lands (a free answer). The contract
    /// hashes the session with the caller as operator, so from the payer (or the key) the voucher's signature
    /// does not verify: BadSignature. A session the payer signs naming itself as operator does settle, but on
    /// the payer's own account with itself, never on its account with the operator. The operator then
    /// charges the answer, and the zero voucher is stale for good.
    function test_attack_PayerCannotPreemptWithZeroVoucherOfSameSeq() public {
        Tab memory t = _tab0();
        Settlement memory honest = _item(t);

        Settlement memory zero = _item(t);
        zero.records = "";
        zero.cumulativeMax = 0;
        zero.charges = keccak256("nothing");
        _resignVoucher(zero, KEY0_PK);
        _assertRejected(payer0, zero, RejectReason.BadSignature);
        // With a record charging nothing: the same.
        zero.records = Records.pack(Records.Record(0, 0, 0, bytes32(0), new uint8[](0), new uint64[](0)));
        _assertRejected(payer0, zero, RejectReason.BadSignature);
        // From the key's address too.
        _assertRejected(_key(0), zero, RejectReason.BadSignature);

        // Everything signed by the payer for a session naming the payer itself as operator: it settles, on
        // the account (payer, payer), which nobody else can spend and which the operator never reads.
        Settlement memory self = _item(t);
        self.session = _asOperator(t.session, payer0);
        self.records = "";
        self.cumulativeMax = 0;
        _resign(self, PAYER0_PK, KEY0_PK);
        (uint256 settled,) = _settleAs(payer0, _items1(self));
        assertEq(settled, 1);
        assertEq(settlement.accountOf(payer0, payer0).seq, 1);
        AccountState memory account = settlement.accountOf(payer0, operator);
        assertEq(account.seq, 0, "the operator's account is untouched");
        assertEq(account.balance, FUNDS);

        uint256 rejected;
        (settled, rejected) = _settleAs(operator, _items1(honest));
        assertEq(settled, 1);
        assertEq(rejected, 0);
        assertEq(settlement.balanceOf(payer0, operator), FUNDS - STANDARD_TOTAL, "the payer pays");
        // And the zero voucher cannot undo it afterwards, not even through the operator.
        _assertRejected(operator, zero, RejectReason.StaleVoucher);
    }

    /// The payer opens a second session (same key and terms, another nonce) and signs a zero voucher of the
    /// seq the first session's answer used. It cannot settle it itself; once the operator settled the first
    /// session, the second's zero voucher is stale and a later one that tries to go below what the account
    /// was charged is AboveMax: sessions share the account's seq and charged total, so a second session
    /// neither skips nor undoes the first's charges. The second session then carries the account on.
    function test_attack_PayerSecondSessionDoesNotTouchTheFirst() public {
        Tab memory t = _tab0();
        Session memory s2 = _sessionOf(0, CAP);
        s2.nonce = 2;
        bytes memory sig2 = _signSession(settlement, s2, PAYER0_PK);
        Tab memory other = _openTabWith(settlement, s2, sig2, KEY0_PK);
        _voidQuery(other);
        other.cumulativeMax = 0;
        Settlement memory zero = _item(other);
        assertEq(zero.seq, t.seq, "the same seq");
        _assertRejected(payer0, zero, RejectReason.BadSignature);
        _assertRejected(_key(0), zero, RejectReason.BadSignature);

        assertTrue(_settleTab(t));
        _assertRejected(operator, zero, RejectReason.StaleVoucher);
        Settlement memory below = _item(other);
        below.seq = 2;
        below.cumulativeMax = STANDARD_TOTAL - 1;
        _resignVoucher(below, KEY0_PK);
        _assertRejected(operator, below, RejectReason.AboveMax);

        _useSession(t, s2, sig2, KEY0_PK);
        _standardQuery(t);
        assertTrue(_settleTab(t));
        AccountState memory account = settlement.accountOf(payer0, operator);
        assertEq(account.seq, 2);
        assertEq(account.charged, 2 * STANDARD_TOTAL);
        assertEq(account.balance, FUNDS - 2 * STANDARD_TOTAL);
    }

    // ---------------------------------------------------------------- a stranger

    /// A stranger copies the operator's pending transaction (the same calldata) and sends it first from its
    /// own address: every session is read with the stranger as operator, every item is BadSignature and
    /// nothing moves, not even the payers' accounts with the stranger; the operator's transaction then
    /// settles both.
    function test_attack_StrangerFrontRunsOperatorCalldata() public {
        _fund(_payer(1), operator, FUNDS);
        _fund(payer0, stranger, FUNDS);
        Tab memory a = _tab0();
        Tab memory b = _openTab(1, CAP);
        _standardQuery(b);
        bytes memory data = _calldata(_items2(_item(a), _item(b)));
        uint256[6] memory before = _snapshot();

        vm.expectEmit(address(settlement));
        emit SessionRejected(0, _sessionId(_asOperator(a.session, stranger)), RejectReason.BadSignature);
        vm.expectEmit(address(settlement));
        emit SessionRejected(1, _sessionId(_asOperator(b.session, stranger)), RejectReason.BadSignature);
        vm.expectEmit(address(settlement));
        emit BatchSettled(stranger, 0, 2, 0, 0);
        vm.prank(stranger);
        (bool ok, bytes memory result) = address(settlement).call(data);
        assertTrue(ok);
        (uint256 settled, uint256 rejected) = abi.decode(result, (uint256, uint256));
        assertEq(settled, 0);
        assertEq(rejected, 2);
        _assertNothingMoved(before);
        assertEq(settlement.accountOf(payer0, operator).seq, 0);
        AccountState memory strangers = settlement.accountOf(payer0, stranger);
        assertEq(strangers.seq, 0);
        assertEq(strangers.balance, FUNDS);

        vm.prank(operator);
        (ok, result) = address(settlement).call(data);
        assertTrue(ok);
        (settled,) = abi.decode(result, (uint256, uint256));
        assertEq(settled, 2);
        assertEq(settlement.balanceOf(payer0, operator), FUNDS - STANDARD_TOTAL);
        assertEq(settlement.balanceOf(_payer(1), operator), FUNDS - STANDARD_TOTAL);
        assertEq(settlement.balanceOf(payer0, stranger), FUNDS);
    }

    // ---------------------------------------------------------------- vouchers

    /// The key signs two vouchers of one seq (a retried query, say), the twin allowing and charging more.
    /// Whichever settles first, the other is stale: in one batch the second item is StaleVoucher, alone
    /// afterwards too, and the account pays exactly one of them.
    function test_attack_TwoVouchersOfOneSeqSettleOnce() public {
        Tab memory t = _tab0();
        Settlement memory first = _item(t);
        Settlement memory twin = _item(t);
        twin.cumulativeMax += 5000;
        twin.charges = keccak256("twin");
        twin.records = _record4(20_000, 15_000, 5000, 10_000); // 50_000
        _resignVoucher(twin, KEY0_PK);

        uint256 snapshot = vm.snapshotState();
        vm.recordLogs();
        (uint256 settled, uint256 rejected) = _settleAs(operator, _items2(first, twin));
        assertEq(settled, 1);
        assertEq(rejected, 1);
        uint8[] memory reasons = _rejectReasons(vm.getRecordedLogs());
        assertEq(reasons.length, 1);
        assertEq(reasons[0], uint8(RejectReason.StaleVoucher));
        _assertRejected(operator, twin, RejectReason.StaleVoucher);
        assertEq(settlement.balanceOf(payer0, operator), FUNDS - STANDARD_TOTAL);
        assertEq(settlement.accountOf(payer0, operator).charged, STANDARD_TOTAL);

        // The other order: the twin settles, the first is stale.
        vm.revertToState(snapshot);
        (settled, rejected) = _settleAs(operator, _items2(twin, first));
        assertEq(settled, 1);
        assertEq(rejected, 1);
        _assertRejected(operator, first, RejectReason.StaleVoucher);
        assertEq(settlement.balanceOf(payer0, operator), FUNDS - 50_000);
        assertEq(settlement.accountOf(payer0, operator).seq, 1);
    }

    /// A settled voucher replayed, the same item twice in one batch, and an older voucher settled after a
    /// newer one: all StaleVoucher, and nothing moves.
    function test_attack_ReplayedAndLateOldVouchersChangeNothing() public {
        Tab memory t = _tab0();
        Settlement memory v1 = _item(t);
        assertTrue(_settleTab(t));
        _assertRejected(operator, v1, RejectReason.StaleVoucher);

        // The operator holds vouchers 2 and 3, settles 3 (twice in one batch), then tries 2 late.
        _standardQuery(t);
        Settlement memory v2 = _item(t);
        _standardQuery(t);
        Settlement memory v3 = _item(t);
        vm.recordLogs();
        (uint256 settled, uint256 rejected) = _settleAs(operator, _items2(v3, v3));
        assertEq(settled, 1);
        assertEq(rejected, 1);
        uint8[] memory reasons = _rejectReasons(vm.getRecordedLogs());
        assertEq(reasons[0], uint8(RejectReason.StaleVoucher));
        _commit(t);
        _assertRejected(operator, v2, RejectReason.StaleVoucher);
        _assertRejected(operator, v3, RejectReason.StaleVoucher);
        _assertRejected(operator, v1, RejectReason.StaleVoucher);
        AccountState memory account = settlement.accountOf(payer0, operator);
        assertEq(account.seq, 3);
        assertEq(account.charged, 3 * STANDARD_TOTAL);
        assertEq(account.balance, FUNDS - 3 * STANDARD_TOTAL);
    }

    /// A newer voucher whose cumulative maximum is below what was already charged (a key trying to take back
    /// what it allowed) cannot settle, even with no records; one below what was charged plus the records
    /// cannot settle them. Exactly the charged total plus the records settles.
    function test_attack_CumulativeMaximumGoingDownIsAboveMax() public {
        Tab memory t = _tab0();
        _standardQuery(t);
        assertTrue(_settleTab(t)); // charged 74_000
        _voidQuery(t);
        t.cumulativeMax = 2 * STANDARD_TOTAL - 1;
        _assertRejected(operator, _item(t), RejectReason.AboveMax);
        t.cumulativeMax = 0;
        _assertRejected(operator, _item(t), RejectReason.AboveMax);

        _standardQuery(t); // seq 4, the record of query 4 (37_000)
        t.cumulativeMax = 3 * STANDARD_TOTAL - 1;
        _assertRejected(operator, _item(t), RejectReason.AboveMax);
        t.cumulativeMax = 3 * STANDARD_TOTAL;
        assertTrue(_settleTab(t));
        assertEq(settlement.accountOf(payer0, operator).charged, 3 * STANDARD_TOTAL);
    }

    /// A voucher of a session naming another operator: this operator cannot settle it (the session reads
    /// with this operator and the signature does not verify), cannot pass its signature off under its own
    /// session of the same payer, and cannot re-point the session to itself (the payer never signed that).
    /// The payer's deposit with the other operator stays whole until that operator settles it.
    function test_attack_VoucherSignedForAnotherOperator() public {
        address other = makeAddr("other operator");
        _fund(payer0, other, FUNDS);
        Session memory s = _sessionOf(0, CAP);
        s.operator = other;
        Tab memory theirs = _openTabWith(settlement, s, _signSession(settlement, s, PAYER0_PK), KEY0_PK);
        _standardQuery(theirs);
        Settlement memory item = _item(theirs);
        _assertRejected(operator, item, RejectReason.BadSignature);

        Settlement memory mine = _item(_tab0());
        assertEq(mine.cumulativeMax, item.cumulativeMax);
        assertEq(mine.charges, item.charges);
        mine.r = item.r;
        mine.vs = item.vs;
        _assertRejected(operator, mine, RejectReason.BadSignature);

        Settlement memory moved = _item(theirs);
        moved.session.operator = operator;
        _resignVoucher(moved, KEY0_PK);
        _assertRejected(operator, moved, RejectReason.BadSessionSignature);

        assertEq(settlement.balanceOf(payer0, other), FUNDS);
        assertEq(settlement.balanceOf(payer0, operator), FUNDS);
        (uint256 settled,) = _settleAs(other, _items1(item));
        assertEq(settled, 1, "its own operator settles it");
        assertEq(settlement.balanceOf(payer0, other), FUNDS - STANDARD_TOTAL);
        assertEq(settlement.balanceOf(payer0, operator), FUNDS);
    }

    /// Signatures made for one chain id do not verify on another (a fork, a replay on a testnet with the
    /// same addresses): the voucher is BadSignature there; re-signed for that chain, the payer's session
    /// signature is still the old chain's (BadSessionSignature). Back home the original settles.
    function test_attack_ReplayOnOtherChainIsRejected() public {
        uint256 chain = block.chainid;
        Tab memory t = _tab0();
        Settlement memory item = _item(t); // signed for `chain`
        vm.chainId(chain + 1);
        _assertRejected(operator, item, RejectReason.BadSignature);
        Settlement memory resigned = _item(t);
        _resignVoucher(resigned, KEY0_PK); // the voucher for chain + 1
        _assertRejected(operator, resigned, RejectReason.BadSessionSignature);
        vm.chainId(chain);
        _assertRejected(operator, resigned, RejectReason.BadSignature);
        assertTrue(_settleTab(t));
        assertEq(settlement.balanceOf(payer0, operator), FUNDS - STANDARD_TOTAL);
    }

    /// Signatures made for one deployment do not verify on another (same chain, same payer and operator,
    /// a deposit on both): the first's voucher is BadSignature on the second, a voucher re-signed for the
    /// second with the session signed for the first is BadSessionSignature, and an item signed wholly for the
    /// second settles there and not on the first.
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
        _fundAt(settlement2, payer0, operator, FUNDS);
        uint256[] memory table = _table();

        Tab memory t = _tab0(); // signed for `settlement`
        bytes32 id = _id(t);
        vm.expectEmit(address(settlement2));
        emit SessionRejected(0, id, RejectReason.BadSignature);
        vm.prank(operator);
        (uint256 settled,) = settlement2.settle(_encode(_items1(_item(t))), table);
        assertEq(settled, 0, "voucher of another deployment");

        Tab memory t2 = _openTabWith(settlement2, t.session, t.sessionSignature, KEY0_PK);
        _standardQuery(t2);
        vm.expectEmit(address(settlement2));
        emit SessionRejected(0, id, RejectReason.BadSessionSignature);
        vm.prank(operator);
        (settled,) = settlement2.settle(_encode(_items1(_item(t2))), table);
        assertEq(settled, 0, "session signature of another deployment");
        assertEq(settlement2.balanceOf(payer0, operator), FUNDS);

        t2.sessionSignature = _signSession(settlement2, t.session, PAYER0_PK);
        Settlement memory forSecond = _item(t2);
        _assertRejected(operator, forSecond, RejectReason.BadSignature);
        vm.prank(operator);
        (settled,) = settlement2.settle(_encode(_items1(forSecond)), table);
        assertEq(settled, 1, "signed for settlement2");
        assertEq(settlement2.balanceOf(payer0, operator), FUNDS - STANDARD_TOTAL);
        assertEq(settlement.balanceOf(payer0, operator), FUNDS);
    }

    /// The malleable twin of a valid signature (s' = n - s, the other parity) is a valid ECDSA signature of
    /// the same digest, and is refused: for the key's voucher (BadSignature) and for the payer's session
    /// (BadSessionSignature), in either EIP-2098 spelling; so is the payer's 65-byte form. The low-s forms
    /// settle.
    function test_attack_HighSSignaturesAreRejected() public {
        Tab memory t = _tab0();
        Settlement memory item = _item(t);
        bytes32 digest = _digest(settlement, _voucherHash(_voucher(t)));
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(KEY0_PK, digest);
        uint256 highS = SECP256K1_N - uint256(s);
        uint8 flipped = v == 27 ? 28 : 27;
        assertEq(ecrecover(digest, flipped, r, bytes32(highS)), _key(0), "the twin is a valid signature");
        item.r = r;
        item.vs = bytes32(highS | (uint256(flipped - 27) << 255));
        _assertRejected(operator, item, RejectReason.BadSignature);
        item.vs = bytes32(highS);
        _assertRejected(operator, item, RejectReason.BadSignature);

        item = _item(t);
        bytes32 sessionDigest = _digest(settlement, _id(t));
        (v, r, s) = vm.sign(PAYER0_PK, sessionDigest);
        highS = SECP256K1_N - uint256(s);
        flipped = v == 27 ? 28 : 27;
        assertEq(
            ecrecover(sessionDigest, flipped, r, bytes32(highS)), payer0, "the twin is a valid signature"
        );
        item.sessionSignature = abi.encodePacked(r, bytes32(highS | (uint256(flipped - 27) << 255)));
        _assertRejected(operator, item, RejectReason.BadSessionSignature);
        item.sessionSignature = abi.encodePacked(r, bytes32(highS));
        _assertRejected(operator, item, RejectReason.BadSessionSignature);
        item.sessionSignature = abi.encodePacked(r, bytes32(highS), flipped);
        _assertRejected(operator, item, RejectReason.BadSessionSignature);
        item.sessionSignature = abi.encodePacked(r, s, v); // the low-s 65-byte form: EOAs send 64 bytes
        _assertRejected(operator, item, RejectReason.BadSessionSignature);

        assertTrue(_settleTab(t));
    }

    // ---------------------------------------------------------------- the operator

    /// The operator charging more than the key signed (one unit above the cumulative maximum, or records for
    /// queries that did not happen), more than the session's cap, or more than the payer's balance: refused
    /// with the reason, and no token moves anywhere.
    function test_attack_OperatorCannotOvercharge() public {
        uint256[6] memory before = _snapshot();
        Tab memory t = _tab0(); // 45_000 signed
        Settlement memory item = _item(t);
        item.records = _record4(20_000, 15_000, 5000, 5001);
        _assertRejected(operator, item, RejectReason.AboveMax);
        // A second record for the one query answered.
        item.records = bytes.concat(t.records, t.records);
        _assertRejected(operator, item, RejectReason.MalformedRecords);

        // Above the cap: within the signed 45_000, above the session's 40_000.
        t = _openTab(0, 40_000);
        _standardQuery(t);
        item = _item(t);
        item.records = _record4(20_000, 15_000, 5000, 5000);
        _assertRejected(operator, item, RejectReason.SpendCapExceeded);

        // Above the balance: 28 * 37_000 = 1_036_000 > 1_000_000.
        t = _openTab(0, 10_000_000);
        for (uint256 i; i < 28; ++i) {
            _standardQuery(t);
        }
        _assertRejected(operator, _item(t), RejectReason.InsufficientBalance);
        _assertNothingMoved(before);
    }

    /// The operator charges the first query its whole maximum (allowed), then tries to charge it again in the
    /// next settlement: a second record for it is more records than seqs (MalformedRecords), and folding it
    /// into the next query's record passes the cumulative maximum (AboveMax). The account's charged total is
    /// what makes a query's maximum spendable once.
    function test_attack_OperatorCannotChargeAQueryTwiceAcrossSettlements() public {
        Tab memory t = _tab0();
        Settlement memory first = _item(t);
        first.records = _record4(20_000, 15_000, 5000, 5000); // the whole 45_000
        (uint256 settled,) = _settleAs(operator, _items1(first));
        assertEq(settled, 1);
        assertEq(settlement.accountOf(payer0, operator).charged, STANDARD_MAX);

        // The key's next voucher: the running maximum of both queries' maxima.
        _commit(t);
        t.charged = STANDARD_MAX;
        _voidQuery(t);
        t.cumulativeMax = 2 * STANDARD_MAX;
        Settlement memory second = _item(t);
        second.records = bytes.concat(first.records, first.records);
        _assertRejected(operator, second, RejectReason.MalformedRecords);
        second.records = _record4(40_000, 30_000, 10_000, 10_000); // both queries' maxima again
        _assertRejected(operator, second, RejectReason.AboveMax);
        second.records = _record4(20_000, 15_000, 5000, 5000);
        (settled,) = _settleAs(operator, _items1(second));
        assertEq(settled, 1, "the second query's own maximum");
        assertEq(settlement.accountOf(payer0, operator).charged, 2 * STANDARD_MAX);
    }

    /// The operator can only spend a payer's balance with itself: another operator's deposit is out of reach
    /// for a session the payer signed naming this operator (InsufficientBalance), and a session naming the
    /// other operator does not verify with this one (BadSignature).
    function test_attack_OperatorCannotSpendDepositsMadeForAnother() public {
        address other = makeAddr("other operator");
        address payer = _payer(6);
        _fund(payer, other, FUNDS);
        Tab memory t = _openTab(6, CAP);
        _standardQuery(t);
        _assertRejected(operator, _item(t), RejectReason.InsufficientBalance);
        Session memory s = _sessionOf(6, CAP);
        s.operator = other;
        Tab memory theirs =
            _openTabWith(settlement, s, _signSession(settlement, s, PAYER_PK_BASE + 6), KEY_PK_BASE + 6);
        _standardQuery(theirs);
        _assertRejected(operator, _item(theirs), RejectReason.BadSignature);
        assertEq(settlement.balanceOf(payer, other), FUNDS);
        assertEq(settlement.accountOf(payer, other).seq, 0);
    }

    /// The operator cannot charge one payer's voucher to another payer with a balance: with the payer field
    /// swapped the voucher names another session (BadSignature); re-signed by the key for that session, the
    /// other payer never signed it (BadSessionSignature).
    function test_attack_OperatorCannotChargeAnotherPayer() public {
        address payer1 = _payer(1);
        _fund(payer1, operator, FUNDS);
        Settlement memory item = _item(_tab0());
        item.session.payer = payer1;
        _assertRejected(operator, item, RejectReason.BadSignature);
        _resignVoucher(item, KEY0_PK);
        _assertRejected(operator, item, RejectReason.BadSessionSignature);
        assertEq(settlement.balanceOf(payer1, operator), FUNDS);
        assertEq(settlement.balanceOf(payer0, operator), FUNDS);
    }

    /// @dev Ten EOA payers' standard queries, and one of each hostile smart-wallet payer (with a deposit).
    function _hostileBatch()
        internal
        returns (address[6] memory wallets, Settlement[] memory honest, Settlement[] memory walletItems)
    {
        wallets = [
            address(new GasBurnerWallet()),
            address(new RevertingWallet()),
            address(new ReturnBombWallet()),
            address(new TwoFacedWallet()),
            address(new TwoFacedBombWallet()),
            address(new EstimateOnlyWallet())
        ];
        honest = new Settlement[](10);
        for (uint256 i; i < 10; ++i) {
            _fund(_payer(20 + i), operator, 100_000);
            Tab memory t = _openTab(20 + i, CAP);
            _standardQuery(t);
            honest[i] = _item(t);
        }
        walletItems = new Settlement[](6);
        for (uint256 w; w < 6; ++w) {
            _fund(wallets[w], operator, 100_000);
            Session memory s = Session(wallets[w], _key(9), operator, CAP, block.timestamp + 1 days, 1);
            Tab memory t = _openTabWith(settlement, s, new bytes(65), KEY_PK_BASE + 9);
            _standardQuery(t);
            walletItems[w] = _item(t);
        }
    }

    /// @dev Sends `items` as the operator with `gas`, as a mined transaction (gas price not 0).
    function _settleMined(Settlement[] memory items, uint256 gas)
        internal
        returns (bool ok, uint256 settled, uint256 rejected, uint256 used)
    {
        bytes memory data = _calldata(items);
        vm.txGasPrice(1 gwei);
        vm.prank(operator);
        uint256 before = gasleft();
        bytes memory result;
        (ok, result) = address(settlement).call{gas: gas}(data);
        used = before - gasleft();
        if (ok) (settled, rejected) = abi.decode(result, (uint256, uint256));
    }

    /// Smart-wallet payers that burn all the gas they get, revert with a long reason, answer a return-data
    /// bomb, or behave differently when mined than under a gas estimate (burning their whole budget,
    /// answering a bomb, refusing) cannot sink a batch: each ERC-1271 check gets a fixed budget, so a batch
    /// with one of them, or all six, settles with the honest batch's gas plus SESSION_WALLET_GAS + 150,000
    /// per wallet (what the worker adds for an unproven wallet). A wallet that does not approve fails only
    /// its own item (BadSessionSignature) and keeps its deposit; the ten EOA payers around them all settle.
    function test_attack_HostileSmartWalletSessionCannotSinkBatch() public {
        (address[6] memory wallets, Settlement[] memory honest, Settlement[] memory walletItems) =
            _hostileBatch();
        bool[6] memory approves = [false, false, true, true, true, false];
        uint256 allowance = settlement.SESSION_WALLET_GAS() + 150_000;
        uint256 snapshot = vm.snapshotState();
        (bool ok, uint256 settled,, uint256 honestGas) = _settleMined(honest, 10_000_000);
        assertTrue(ok);
        assertEq(settled, 10);
        vm.revertToState(snapshot);

        // Each wallet alone among the ten.
        Settlement[] memory items = new Settlement[](11);
        for (uint256 i; i < 10; ++i) {
            items[i < 5 ? i : i + 1] = honest[i];
        }
        for (uint256 w; w < 6; ++w) {
            items[5] = walletItems[w];
            if (!approves[w]) {
                vm.expectEmit(address(settlement));
                emit SessionRejected(5, _sessionId(walletItems[w].session), RejectReason.BadSessionSignature);
            }
            uint256 rejected;
            (ok, settled, rejected,) = _settleMined(items, honestGas + allowance);
            assertTrue(ok, "a hostile wallet must not sink the batch");
            assertEq(settled, approves[w] ? 11 : 10);
            assertEq(
                settlement.balanceOf(wallets[w], operator), approves[w] ? 100_000 - STANDARD_TOTAL : 100_000
            );
            assertEq(settlement.walletApproved(_sessionId(walletItems[w].session)), approves[w]);
            assertEq(settlement.balanceOf(_payer(20), operator), 100_000 - STANDARD_TOTAL);
            vm.revertToState(snapshot);
        }

        // All six in one batch, between the EOA payers.
        items = new Settlement[](16);
        for (uint256 i; i < 10; ++i) {
            items[i < 6 ? 2 * i + 1 : i + 6] = honest[i];
        }
        for (uint256 w; w < 6; ++w) {
            items[2 * w] = walletItems[w];
        }
        _assertAllSixSettleAround(items, wallets, approves, honestGas + 6 * allowance);
    }

    function _assertAllSixSettleAround(
        Settlement[] memory items,
        address[6] memory wallets,
        bool[6] memory approves,
        uint256 gas
    ) internal {
        for (uint256 w; w < 6; ++w) {
            if (!approves[w]) {
                vm.expectEmit(address(settlement));
                emit SessionRejected(
                    2 * w, _sessionId(items[2 * w].session), RejectReason.BadSessionSignature
                );
            }
        }
        (bool ok, uint256 settled, uint256 rejected,) = _settleMined(items, gas);
        assertTrue(ok, "hostile wallets must not sink the batch");
        assertEq(settled, 13);
        assertEq(rejected, 3);
        for (uint256 i; i < 10; ++i) {
            assertEq(settlement.balanceOf(_payer(20 + i), operator), 100_000 - STANDARD_TOTAL);
        }
        for (uint256 w; w < 6; ++w) {
            assertEq(
                settlement.balanceOf(wallets[w], operator), approves[w] ? 100_000 - STANDARD_TOTAL : 100_000
            );
        }
    }

    // ---------------------------------------------------------------- revocation

    /// The payer revokes a session whose key was stolen. The thief cannot settle anything itself
    /// (BadSignature), and every voucher the key signs from the revocation's effective time on is Revoked
    /// when the operator settles it, also days later; revoking again (by the key) does not move that time.
    /// A voucher the operator admitted before the revocation took effect still settles, and the payer's new
    /// session carries the account on, also at times the revoked key is refused.
    function test_attack_RevokedKeyLaterVouchersAreRefused() public {
        Tab memory t = _tab0();
        Settlement memory admitted = _item(t);
        vm.prank(payer0);
        settlement.revokeSession(t.session);
        uint256 effectiveAt = settlement.revokedAt(_id(t));
        assertEq(effectiveAt, block.timestamp + settlement.REVOKE_DELAY());

        vm.warp(effectiveAt);
        _standardQuery(t);
        Settlement memory late = _item(t);
        _assertRejected(_key(0), late, RejectReason.BadSignature);
        _assertRejected(operator, late, RejectReason.Revoked);
        vm.prank(_key(0));
        settlement.revokeSession(t.session);
        assertEq(settlement.revokedAt(_id(t)), effectiveAt, "a second revocation changes nothing");
        vm.warp(effectiveAt + 5 days);
        _voidQuery(t);
        _assertRejected(operator, _item(t), RejectReason.Revoked);

        (uint256 settled,) = _settleAs(operator, _items1(admitted));
        assertEq(settled, 1, "admitted before the revocation took effect");
        assertEq(settlement.balanceOf(payer0, operator), FUNDS - STANDARD_TOTAL);

        Session memory s2 = _sessionOf(0, CAP);
        s2.key = _key(1);
        s2.nonce = 2;
        Tab memory u = _openTabWith(settlement, s2, _signSession(settlement, s2, PAYER0_PK), KEY_PK_BASE + 1);
        u.seq = 1;
        u.settledSeq = 1;
        u.charged = STANDARD_TOTAL;
        _standardQuery(u);
        assertTrue(_settleTab(u));
        assertEq(settlement.accountOf(payer0, operator).seq, 2);
        // The stolen key's voucher for the seq after that is still refused.
        t.seq = 2;
        _voidQuery(t);
        t.cumulativeMax = 2 * STANDARD_TOTAL;
        _assertRejected(operator, _item(t), RejectReason.Revoked);
    }

    /// However the revoked session's expiry, the revocation time and the voucher's issue time fall (in
    /// particular around the 2**17 s units the account's revokedUntil counts in), a voucher the revoked key
    /// signs at or after the effective time and by the expiry is Revoked; one issued after the expiry is
    /// VoucherInvalid. Neither changes the account.
    function test_attack_RevokedKeyRefusedAtAnyTimeUntilExpiry(
        uint256 expiry,
        uint256 revokeAt,
        uint256 issuedAt
    ) public {
        uint256 start = block.timestamp;
        expiry = bound(expiry, start + 200, type(uint40).max);
        revokeAt = bound(revokeAt, start, expiry - 120);
        issuedAt = bound(issuedAt, revokeAt + 120, type(uint40).max);
        Session memory s = _sessionOf(0, CAP);
        s.expiry = expiry;
        Tab memory t = _openTabWith(settlement, s, _signSession(settlement, s, PAYER0_PK), KEY0_PK);
        vm.warp(revokeAt);
        vm.prank(_key(0));
        settlement.revokeSession(s);
        vm.warp(issuedAt);
        _standardQuery(t);
        _assertRejected(
            operator, _item(t), issuedAt <= expiry ? RejectReason.Revoked : RejectReason.VoucherInvalid
        );
    }

    /// Anyone may revoke a session that names it as the key, so a stranger makes one up naming the payer,
    /// the operator and an expiry at the end of time and revokes it. That raises the account's revokedUntil
    /// (its later settlements read the revocation mapping: gas, nothing else) but refuses none of the payer's
    /// own vouchers; the payer's real session the stranger cannot revoke (NotPayerOrKey).
    function test_attack_StrangerRevokingAMadeUpSessionRefusesNothing() public {
        Tab memory t = _tab0();
        Session memory fake = Session({
            payer: payer0,
            key: stranger,
            operator: operator,
            spendCap: CAP,
            expiry: type(uint40).max,
            nonce: t.session.nonce
        });
        vm.prank(stranger);
        settlement.revokeSession(fake);
        assertEq(settlement.accountOf(payer0, operator).revokedUntil, (uint256(type(uint40).max) >> 17) + 1);
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IKipSettlementErrors.NotPayerOrKey.selector, _id(t), stranger));
        settlement.revokeSession(t.session);
        vm.warp(block.timestamp + 1 days);
        _standardQuery(t);
        assertTrue(_settleTab(t));
        assertEq(settlement.balanceOf(payer0, operator), FUNDS - 2 * STANDARD_TOTAL);
        assertEq(settlement.revokedAt(_id(t)), 0);
    }

    // ---------------------------------------------------------------- withdrawals

    /// The payer is answered and at once asks to withdraw everything, hoping to leave before the operator
    /// settles. The funds stay spendable through the delay: the withdrawal is not ready, the operator settles
    /// the answer within the delay, a new request only pushes the time out, and after the delay the payer
    /// leaves with exactly the unspent balance. A voucher the operator held past the delay then finds nothing
    /// (InsufficientBalance) and moves nothing: settling within the delay is the operator's side of the deal.
    function test_attack_WithdrawalRacingSettlement() public {
        Tab memory t = _tab0();
        Settlement memory answered = _item(t);
        _standardQuery(t);
        Settlement memory heldTooLong = _item(t); // queries 1 and 2
        vm.prank(payer0);
        settlement.requestWithdraw(operator, FUNDS);
        uint256 readyAt = block.timestamp + DELAY;
        assertEq(settlement.withdrawalOf(payer0, operator).readyAt, readyAt);

        vm.warp(readyAt - 1);
        vm.prank(payer0);
        vm.expectRevert(
            abi.encodeWithSelector(IKipSettlementErrors.WithdrawalNotReady.selector, payer0, readyAt)
        );
        settlement.withdraw(operator);
        (uint256 settled,) = _settleAs(operator, _items1(answered));
        assertEq(settled, 1, "settled within the delay");
        assertEq(settlement.balanceOf(payer0, operator), FUNDS - STANDARD_TOTAL);

        // Asking again restarts the delay: it never brings the withdrawal closer.
        vm.prank(payer0);
        settlement.requestWithdraw(operator, FUNDS - STANDARD_TOTAL);
        assertEq(settlement.withdrawalOf(payer0, operator).readyAt, block.timestamp + DELAY);
        vm.warp(readyAt);
        vm.prank(payer0);
        vm.expectRevert(
            abi.encodeWithSelector(
                IKipSettlementErrors.WithdrawalNotReady.selector, payer0, readyAt - 1 + DELAY
            )
        );
        settlement.withdraw(operator);

        vm.warp(readyAt - 1 + DELAY);
        vm.prank(payer0);
        assertEq(settlement.withdraw(operator), FUNDS - STANDARD_TOTAL, "exactly the unspent balance");
        assertEq(usd.balanceOf(payer0), FUNDS - STANDARD_TOTAL);
        assertEq(settlement.balanceOf(payer0, operator), 0);
        assertEq(settlement.totalDeposits(), 0);
        assertEq(usd.balanceOf(address(settlement)), settlement.feesAccrued());

        Settlement memory rest = heldTooLong;
        rest.records = _record4(20_000, 12_000, 5000, 0); // query 2 only: query 1 settled
        _assertRejected(operator, rest, RejectReason.InsufficientBalance);
    }

    // ---------------------------------------------------------------- revenue claims (KipAssets)

    /// @dev Settles one standard query of payer 0 through a fresh session of its account (app earns 19_500).
    function _earn() internal {
        Tab memory t = _openTab(0, CAP);
        AccountState memory account = settlement.accountOf(payer0, operator);
        t.session.nonce = 100 + account.seq;
        t.sessionSignature = _signSession(settlement, t.session, PAYER0_PK);
        t.seq = account.seq;
        t.settledSeq = account.seq;
        t.charged = account.charged;
        _standardQuery(t);
        assertTrue(_settleTab(t));
    }

    /// A receiver of app shares claims the app's revenue again and again from inside its ERC-3525 hook: the
    /// revenue is paid once, to the owner it belongs to, and the new shares only earn what comes after.
    function test_attack_ReentrantReceiverCannotClaimTwice() public {
        _earn();
        ReentrantClaimer attacker = new ReentrantClaimer(assets);
        uint256[] memory targets = new uint256[](1);
        targets[0] = 1;
        attacker.setTargets(targets);
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

    /// The same from an ERC-721 receiver hook taking the whole token: it is paid the token's revenue once.
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

    /// A shareholder who buys in late claims nothing of what the app earned before, also after giving the
    /// shares back.
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

    /// Only the settlement credits revenue.
    function test_attack_OnlySettlementCredits() public {
        vm.expectRevert();
        assets.credit(new uint256[](1), new uint256[](1));
        vm.prank(operator);
        vm.expectRevert();
        assets.credit(_u256s(1), _u256s(1));
        assertEq(assets.slotInfo(1).revenue, 0);
    }
}
