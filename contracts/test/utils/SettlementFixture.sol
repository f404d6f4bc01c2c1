// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {Test} from "forge-std/Test.sol";
import {Vm} from "forge-std/Vm.sol";

import {KipAssets} from "../../src/KipAssets.sol";
import {KipSettlement} from "../../src/KipSettlement.sol";
import {MockUSD} from "../../src/MockUSD.sol";
import {IKipAssets, IKipAssetsTypes} from "../../src/interfaces/IKipAssets.sol";
import {IKipSettlementEvents} from "../../src/interfaces/IKipSettlement.sol";
import {Records} from "./Records.sol";

/// @dev Deploys the protocol with one app, one model and two datasets; signs sessions and vouchers with
/// vm.sign over EIP-712 hashes computed here from the type strings (not by the contract under test); and
/// keeps a `Tab` per session the way the server does: the voucher it signs next, the state on chain and the
/// records not yet settled.
abstract contract SettlementFixture is Test, IKipSettlementEvents {
    MockUSD internal usd;
    KipAssets internal assets;
    KipSettlement internal settlement;

    address internal admin = makeAddr("admin");
    address internal treasury = makeAddr("treasury");
    address internal creator = makeAddr("creator");
    address internal operator = makeAddr("operator");
    address internal stranger = makeAddr("stranger");

    uint256 internal constant FEE_BPS = 250;
    uint256 internal constant DELAY = 1 days;
    uint256 internal constant APP = 1;
    uint256 internal constant MODEL = 2;
    uint256 internal constant DATA_A = 3;
    uint256 internal constant DATA_B = 4;
    uint256 internal constant APP_PRICE = 20_000;
    uint256 internal constant MODEL_MAX = 15_000; // the model's per-query price plus tokens at the budget
    uint256 internal constant DATA_PRICE = 5000;

    uint256 internal constant KEY_PK_BASE = 0xA11CE000;
    uint256 internal constant PAYER_PK_BASE = 0xB0B000;

    bytes32 internal constant DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");
    bytes32 internal constant SESSION_TYPEHASH = keccak256(
        "Session(address payer,address key,address operator,uint256 spendCap,uint256 expiry,uint256 nonce)"
    );
    bytes32 internal constant VOUCHER_TYPEHASH = keccak256(
        "Voucher(bytes32 session,uint256 seq,uint256 issuedAt,uint256[] slots,uint256[] maxAmounts)"
    );

    /// @dev A session as the server tracks it.
    struct Tab {
        KipSettlement target;
        Session session;
        bytes sessionSignature;
        uint256 keyPk;
        // the voucher signed last
        uint256 seq;
        uint256 issuedAt;
        uint256[] slots;
        uint256[] maxAmounts;
        // the state on chain (its preimage)
        uint256 prevSeq;
        uint256[] prevSettled;
        // the records since prevSeq, and what they charge per slot
        bytes records;
        uint256 recordCount;
        uint256[] pending;
    }

    // ------------------------------------------------------------------ deployment and deposits

    function _deploy() internal {
        usd = new MockUSD();
        assets = new KipAssets(IERC20(address(usd)), "http://localhost:3000/api/metadata/", admin);
        settlement = _newSettlement(assets);
        vm.prank(admin);
        assets.setSettlement(address(settlement));
        vm.startPrank(creator);
        assets.list(IKipAssetsTypes.AssetKind.App, APP_PRICE, "app-1", keccak256("app"));
        assets.list(IKipAssetsTypes.AssetKind.Model, 10_000, "model-1", keccak256("model"));
        assets.list(IKipAssetsTypes.AssetKind.Dataset, DATA_PRICE, "data-1", keccak256("d1"));
        assets.list(IKipAssetsTypes.AssetKind.Dataset, DATA_PRICE, "data-2", keccak256("d2"));
        vm.stopPrank();
    }

    function _newSettlement(KipAssets assets_) internal returns (KipSettlement) {
        return new KipSettlement(
            IERC20(address(usd)), IKipAssets(address(assets_)), treasury, FEE_BPS, DELAY, admin
        );
    }

    function _payer(uint256 i) internal pure returns (address) {
        return vm.addr(PAYER_PK_BASE + i);
    }

    function _key(uint256 i) internal pure returns (address) {
        return vm.addr(KEY_PK_BASE + i);
    }

    function _fund(address payer, address operator_, uint256 amount) internal {
        _fundAt(settlement, payer, operator_, amount);
    }

    function _fundAt(KipSettlement target, address payer, address operator_, uint256 amount) internal {
        usd.mint(payer, amount);
        vm.startPrank(payer);
        usd.approve(address(target), amount);
        target.deposit(operator_, amount);
        vm.stopPrank();
    }

    // ------------------------------------------------------------------ EIP-712, independent of the contract

    function _domainSeparator(KipSettlement target) internal view returns (bytes32) {
        return keccak256(
            abi.encode(
                DOMAIN_TYPEHASH, keccak256("KIP Settlement"), keccak256("2"), block.chainid, address(target)
            )
        );
    }

    function _sessionId(Session memory s) internal pure returns (bytes32) {
        return
            keccak256(abi.encode(SESSION_TYPEHASH, s.payer, s.key, s.operator, s.spendCap, s.expiry, s.nonce));
    }

    function _voucherHash(Voucher memory v) internal pure returns (bytes32) {
        return keccak256(
            abi.encode(
                VOUCHER_TYPEHASH,
                v.session,
                v.seq,
                v.issuedAt,
                keccak256(abi.encodePacked(v.slots)),
                keccak256(abi.encodePacked(v.maxAmounts))
            )
        );
    }

    function _digest(KipSettlement target, bytes32 structHash) internal view returns (bytes32) {
        return keccak256(abi.encodePacked("\x19\x01", _domainSeparator(target), structHash));
    }

    function _sign(uint256 pk, bytes32 digest) internal pure returns (bytes memory) {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(pk, digest);
        return abi.encodePacked(r, s, v);
    }

    function _signSession(KipSettlement target, Session memory s, uint256 payerPk)
        internal
        view
        returns (bytes memory)
    {
        return _sign(payerPk, _digest(target, _sessionId(s)));
    }

    function _signVoucher(KipSettlement target, Voucher memory v, uint256 keyPk)
        internal
        view
        returns (bytes memory)
    {
        return _sign(keyPk, _digest(target, _voucherHash(v)));
    }

    /// @dev keccak256(abi.encode(seq, slots, settled)): the state the contract stores per session.
    function _stateHash(uint256 seq, uint256[] memory slots, uint256[] memory settled)
        internal
        pure
        returns (bytes32)
    {
        return keccak256(abi.encode(seq, slots, settled));
    }

    // ------------------------------------------------------------------ sessions and tabs

    function _slots4() internal pure returns (uint256[] memory s) {
        s = new uint256[](4);
        s[0] = APP;
        s[1] = MODEL;
        s[2] = DATA_A;
        s[3] = DATA_B;
    }

    function _sessionOf(uint256 i, uint256 spendCap) internal view returns (Session memory) {
        return Session({
            payer: _payer(i),
            key: _key(i),
            operator: operator,
            spendCap: spendCap,
            expiry: block.timestamp + 7 days,
            nonce: 1
        });
    }

    /// @dev Payer i's session with `operator`, signed by the payer, over `slots`.
    function _openTab(uint256 i, uint256 spendCap, uint256[] memory slots)
        internal
        view
        returns (Tab memory t)
    {
        Session memory s = _sessionOf(i, spendCap);
        return
            _openTabWith(
                settlement, s, _signSession(settlement, s, PAYER_PK_BASE + i), KEY_PK_BASE + i, slots
            );
    }

    function _openTabWith(
        KipSettlement target,
        Session memory s,
        bytes memory sessionSignature,
        uint256 keyPk,
        uint256[] memory slots
    ) internal view returns (Tab memory t) {
        t.target = target;
        t.session = s;
        t.sessionSignature = sessionSignature;
        t.keyPk = keyPk;
        t.issuedAt = block.timestamp;
        t.slots = _copy(slots);
        t.maxAmounts = new uint256[](slots.length);
        t.prevSettled = new uint256[](0);
        t.pending = new uint256[](slots.length);
    }

    function _id(Tab memory t) internal pure returns (bytes32) {
        return _sessionId(t.session);
    }

    /// @dev One query: the key signs the next voucher with each slot's maximum raised by `maxes[i]`; the
    /// server charges `amounts` (one per set bit of `mask`, ascending) to app index 0.
    function _query(Tab memory t, uint256[] memory maxes, uint32 mask, uint64[] memory amounts)
        internal
        view
    {
        t.seq += 1;
        t.issuedAt = block.timestamp;
        for (uint256 i; i < t.slots.length; ++i) {
            t.maxAmounts[i] += maxes[i];
        }
        Records.Record memory r = Records.Record({
            app: 0,
            mask: mask,
            tokensIn: 1000,
            tokensOut: 200,
            recordHash: keccak256(abi.encode(_id(t), t.seq)),
            amounts: amounts
        });
        uint256 k;
        for (uint256 i; i < t.slots.length; ++i) {
            if ((mask >> i) & 1 == 1) t.pending[i] += amounts[k++];
        }
        t.records = bytes.concat(t.records, Records.pack(r));
        t.recordCount += 1;
    }

    /// @dev The standard query on the four standard slots: app 20_000, model 12_000 (of 15_000 signed), data
    /// A 5_000, data B unused (signed 5_000, not in the record). Total 37_000, fees 500 + 300 + 125 = 925.
    function _standardQuery(Tab memory t) internal view {
        uint256[] memory maxes = new uint256[](4);
        maxes[0] = APP_PRICE;
        maxes[1] = MODEL_MAX;
        maxes[2] = DATA_PRICE;
        maxes[3] = DATA_PRICE;
        uint64[] memory amounts = new uint64[](3);
        amounts[0] = 20_000;
        amounts[1] = 12_000;
        amounts[2] = 5000;
        _query(t, maxes, 0x7, amounts);
    }

    uint256 internal constant STANDARD_TOTAL = 37_000;
    uint256 internal constant STANDARD_FEES = 925;

    /// @dev A query that uses the session's slot list as is and charges nothing (a voided query has no
    /// record, but its seq is still used).
    function _voidQuery(Tab memory t) internal view {
        t.seq += 1;
        t.issuedAt = block.timestamp;
    }

    /// @dev Adds `slot` to the end of the session's slot list (append-only).
    function _addSlot(Tab memory t, uint256 slot) internal pure {
        uint256 n = t.slots.length;
        uint256[] memory slots = new uint256[](n + 1);
        uint256[] memory maxes = new uint256[](n + 1);
        uint256[] memory pending = new uint256[](n + 1);
        for (uint256 i; i < n; ++i) {
            slots[i] = t.slots[i];
            maxes[i] = t.maxAmounts[i];
            pending[i] = t.pending[i];
        }
        slots[n] = slot;
        t.slots = slots;
        t.maxAmounts = maxes;
        t.pending = pending;
    }

    function _voucher(Tab memory t) internal pure returns (Voucher memory) {
        return Voucher({
            session: _id(t),
            seq: t.seq,
            issuedAt: t.issuedAt,
            slots: _copy(t.slots),
            maxAmounts: _copy(t.maxAmounts)
        });
    }

    /// @dev The settlement item for the tab's current voucher (a copy: later queries do not change it).
    function _item(Tab memory t) internal view returns (SessionSettlement memory item) {
        item.session = t.session;
        item.sessionSignature = t.prevSeq == 0 ? t.sessionSignature : bytes("");
        item.voucher = _voucher(t);
        item.voucherSignature = _signVoucher(t.target, item.voucher, t.keyPk);
        item.prevSeq = t.prevSeq;
        item.prevSettled = _copy(t.prevSettled);
        item.records = t.records;
    }

    /// @dev What the tab's state becomes once its current item settled.
    function _settledAfter(Tab memory t) internal pure returns (uint256[] memory settled) {
        settled = new uint256[](t.slots.length);
        for (uint256 i; i < t.slots.length; ++i) {
            settled[i] = (i < t.prevSettled.length ? t.prevSettled[i] : 0) + t.pending[i];
        }
    }

    function _pendingTotal(Tab memory t) internal pure returns (uint256 total) {
        for (uint256 i; i < t.pending.length; ++i) {
            total += t.pending[i];
        }
    }

    /// @dev Records that the tab's current item settled.
    function _commit(Tab memory t) internal pure {
        t.prevSettled = _settledAfter(t);
        t.prevSeq = t.seq;
        t.records = "";
        t.recordCount = 0;
        t.pending = new uint256[](t.slots.length);
    }

    // ------------------------------------------------------------------ settling

    function _items1(SessionSettlement memory a) internal pure returns (SessionSettlement[] memory items) {
        items = new SessionSettlement[](1);
        items[0] = a;
    }

    function _items2(SessionSettlement memory a, SessionSettlement memory b)
        internal
        pure
        returns (SessionSettlement[] memory items)
    {
        items = new SessionSettlement[](2);
        items[0] = a;
        items[1] = b;
    }

    function _settleAs(address caller, SessionSettlement[] memory items)
        internal
        returns (uint256 settled, uint256 rejected)
    {
        vm.prank(caller);
        return settlement.settle(items);
    }

    /// @dev Settles the tab's item as the operator and commits it if it settled.
    function _settleTab(Tab memory t) internal returns (bool settled) {
        (uint256 n,) = _settleAs(t.session.operator, _items1(_item(t)));
        if (n == 1) _commit(t);
        return n == 1;
    }

    /// @dev Settles `item` alone as `caller` and checks that it is skipped with `reason` and that nothing
    /// moved: the payer's balance, the session's state, the deposits and KipAssets' tokens.
    function _assertRejected(address caller, SessionSettlement memory item, RejectReason reason) internal {
        bytes32 id = _sessionId(item.session);
        uint256 balance = settlement.balanceOf(item.session.payer, item.session.operator);
        bytes32 state = settlement.sessionState(id);
        uint256 deposits = settlement.totalDeposits();
        uint256 held = usd.balanceOf(address(assets));
        vm.expectEmit(address(settlement));
        emit SessionRejected(id, reason);
        (uint256 settled, uint256 rejected) = _settleAs(caller, _items1(item));
        assertEq(settled, 0, "settled");
        assertEq(rejected, 1, "rejected");
        assertEq(settlement.balanceOf(item.session.payer, item.session.operator), balance, "balance moved");
        assertEq(settlement.sessionState(id), state, "state moved");
        assertEq(settlement.totalDeposits(), deposits, "deposits moved");
        assertEq(usd.balanceOf(address(assets)), held, "revenue moved");
    }

    /// @dev Re-signs the item's voucher with `keyPk` after a test changed it.
    function _resignVoucher(SessionSettlement memory item, uint256 keyPk) internal view {
        item.voucherSignature = _signVoucher(settlement, item.voucher, keyPk);
    }

    /// @dev Re-signs the session (by `payerPk`) after a test changed it, points the voucher at its new id and
    /// re-signs the voucher (by `keyPk`).
    function _resign(SessionSettlement memory item, uint256 payerPk, uint256 keyPk) internal view {
        item.sessionSignature = _signSession(settlement, item.session, payerPk);
        item.voucher.session = _sessionId(item.session);
        _resignVoucher(item, keyPk);
    }

    /// @dev The SessionRejected reasons in `logs`, in order.
    function _rejectReasons(Vm.Log[] memory logs) internal view returns (uint8[] memory reasons) {
        uint256 count;
        for (uint256 i; i < logs.length; ++i) {
            if (logs[i].emitter == address(settlement) && logs[i].topics[0] == SessionRejected.selector) {
                count++;
            }
        }
        reasons = new uint8[](count);
        count = 0;
        for (uint256 i; i < logs.length; ++i) {
            if (logs[i].emitter == address(settlement) && logs[i].topics[0] == SessionRejected.selector) {
                reasons[count++] = abi.decode(logs[i].data, (uint8));
            }
        }
    }

    function _copy(uint256[] memory a) internal pure returns (uint256[] memory b) {
        b = new uint256[](a.length);
        for (uint256 i; i < a.length; ++i) {
            b[i] = a[i];
        }
    }

    function _u64s(uint64 a) internal pure returns (uint64[] memory r) {
        r = new uint64[](1);
        r[0] = a;
    }

    function _u256s(uint256 a) internal pure returns (uint256[] memory r) {
        r = new uint256[](1);
        r[0] = a;
    }
}
