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
/// keeps a `Tab` per account the way the server does: the session whose key signs, the voucher it signed
/// last, the account on chain and the records not yet settled. Records name slots by their index in the
/// batch's slot table; the fixture's table is every listed slot in order (index = slot - 1).
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
        "Voucher(bytes32 session,uint256 seq,uint256 issuedAt,uint256 cumulativeMax,bytes32 charges)"
    );

    /// @dev One settlement item as the tests build it: the fields `encode` packs into the batch
    /// (SettlementItems). `session.operator` is not encoded: the contract takes the caller as operator.
    struct Settlement {
        Session session;
        bytes sessionSignature; // the payer's: 64-byte EIP-2098 (r, vs), or what its ERC-1271 wallet accepts
        uint256 seq;
        uint256 issuedAt;
        uint256 cumulativeMax;
        bytes32 charges;
        bytes32 r; // the voucher signature by session.key, EIP-2098 compact (r, yParity and s)
        bytes32 vs;
        bytes records;
    }

    /// @dev An account as the server tracks it.
    struct Tab {
        KipSettlement target;
        Session session; // the session whose key signs the vouchers
        bytes sessionSignature;
        uint256 keyPk;
        // the voucher signed last
        uint256 seq;
        uint256 issuedAt;
        uint256 cumulativeMax;
        bytes32 charges;
        // the account on chain
        uint256 settledSeq;
        uint256 charged;
        // the records since settledSeq, and their total
        bytes records;
        uint256 recordCount;
        uint256 pending;
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
                DOMAIN_TYPEHASH, keccak256("KIP Settlement"), keccak256("3"), block.chainid, address(target)
            )
        );
    }

    function _sessionId(Session memory s) internal pure returns (bytes32) {
        return
            keccak256(abi.encode(SESSION_TYPEHASH, s.payer, s.key, s.operator, s.spendCap, s.expiry, s.nonce));
    }

    function _voucherHash(Voucher memory v) internal pure returns (bytes32) {
        return keccak256(abi.encode(VOUCHER_TYPEHASH, v.session, v.seq, v.issuedAt, v.cumulativeMax, v.charges));
    }

    function _digest(KipSettlement target, bytes32 structHash) internal view returns (bytes32) {
        return keccak256(abi.encodePacked("\x19\x01", _domainSeparator(target), structHash));
    }

    function _sign(uint256 pk, bytes32 digest) internal pure returns (bytes memory) {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(pk, digest);
        return abi.encodePacked(r, s, v);
    }

    /// @dev EIP-2098 compact signature (r, yParity in the top bit of s).
    function _signCompact(uint256 pk, bytes32 digest) internal pure returns (bytes32 r, bytes32 vs) {
        (uint8 v, bytes32 r_, bytes32 s) = vm.sign(pk, digest);
        return (r_, bytes32(uint256(s) | (uint256(v - 27) << 255)));
    }

    /// @dev The payer's session signature as settlement takes it from an EOA: 64 bytes, EIP-2098 (r, vs).
    function _signSession(KipSettlement target, Session memory s, uint256 payerPk)
        internal
        view
        returns (bytes memory)
    {
        (bytes32 r, bytes32 vs) = _signCompact(payerPk, _digest(target, _sessionId(s)));
        return abi.encodePacked(r, vs);
    }

    // ------------------------------------------------------------------ the packed batch

    /// @dev One item packed as SettlementItems reads it (big-endian, no padding); the widths are the format's,
    /// so a test value wider than its field is a test bug (refused here, not truncated).
    function _encodeItem(Settlement memory item) internal pure returns (bytes memory) {
        Session memory s = item.session;
        require(
            s.spendCap <= type(uint96).max && s.expiry <= type(uint40).max && s.nonce <= type(uint64).max
                && item.seq <= type(uint40).max && item.issuedAt <= type(uint40).max
                && item.cumulativeMax <= type(uint96).max,
            "fixture: a field wider than the batch format"
        );
        require(item.sessionSignature.length <= type(uint16).max && item.records.length <= type(uint24).max);
        return bytes.concat(
            abi.encodePacked(
                s.payer, s.key, uint96(s.spendCap), uint40(s.expiry), uint64(s.nonce), uint40(item.seq),
                uint40(item.issuedAt), uint96(item.cumulativeMax)
            ),
            abi.encodePacked(item.charges, item.r, item.vs, uint16(item.sessionSignature.length)),
            item.sessionSignature,
            abi.encodePacked(uint24(item.records.length)),
            item.records
        );
    }

    /// @dev The batch `settle` takes: the items packed one after the other.
    function _encode(Settlement[] memory items) internal pure returns (bytes memory batch) {
        for (uint256 i; i < items.length; ++i) {
            batch = bytes.concat(batch, _encodeItem(items[i]));
        }
    }

    /// @dev The session as `caller` settles it: the same fields with the caller as operator.
    function _asOperator(Session memory s, address caller) internal pure returns (Session memory c) {
        c = Session({
            payer: s.payer, key: s.key, operator: caller, spendCap: s.spendCap, expiry: s.expiry, nonce: s.nonce
        });
    }

    /// @dev The charges hash a voucher carries: this query's own per-slot maxima.
    function _chargesHash(uint256[] memory slots, uint256[] memory maxes) internal pure returns (bytes32) {
        return keccak256(abi.encode(slots, maxes));
    }

    // ------------------------------------------------------------------ accounts and queries

    /// @dev The fixture's slot table: every listed slot in order (index = slot - 1), at most 256.
    function _table() internal view returns (uint256[] memory table) {
        uint256 count = assets.slotCount();
        if (count > 256) count = 256;
        table = new uint256[](count);
        for (uint256 j; j < count; ++j) {
            table[j] = j + 1;
        }
    }

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

    /// @dev Payer i's account with `operator`, its key i authorized by a session the payer signed.
    function _openTab(uint256 i, uint256 spendCap) internal view returns (Tab memory t) {
        Session memory s = _sessionOf(i, spendCap);
        return _openTabWith(settlement, s, _signSession(settlement, s, PAYER_PK_BASE + i), KEY_PK_BASE + i);
    }

    function _openTabWith(KipSettlement target, Session memory s, bytes memory sessionSignature, uint256 keyPk)
        internal
        view
        returns (Tab memory t)
    {
        t.target = target;
        t.session = s;
        t.sessionSignature = sessionSignature;
        t.keyPk = keyPk;
        t.issuedAt = block.timestamp;
    }

    /// @dev Another session of the same account signs from now on (another device): the account's seq,
    /// charged total and pending records carry on.
    function _useSession(Tab memory t, Session memory s, bytes memory sessionSignature, uint256 keyPk)
        internal
        pure
    {
        t.session = s;
        t.sessionSignature = sessionSignature;
        t.keyPk = keyPk;
    }

    function _id(Tab memory t) internal pure returns (bytes32) {
        return _sessionId(t.session);
    }

    /// @dev One query: the key signs the next voucher, allowing the account's charged total plus what is
    /// pending plus this query's maxima; the server charges `amounts[k]` to `slots[k]` (a 0 is left out of
    /// the record, like a dataset that was not in the context). The app is slots[0].
    function _query(Tab memory t, uint256[] memory slots, uint256[] memory maxes, uint256[] memory amounts)
        internal
        view
    {
        _queryTokens(t, slots, maxes, amounts, 1000, 200);
    }

    /// @dev `_query` with the record's token counts.
    function _queryTokens(
        Tab memory t,
        uint256[] memory slots,
        uint256[] memory maxes,
        uint256[] memory amounts,
        uint24 tokensIn,
        uint24 tokensOut
    ) internal view {
        uint256 maxTotal;
        for (uint256 k; k < maxes.length; ++k) {
            maxTotal += maxes[k];
        }
        t.seq += 1;
        t.issuedAt = block.timestamp;
        t.cumulativeMax = t.charged + t.pending + maxTotal;
        t.charges = _chargesHash(slots, maxes);
        uint256 charged;
        for (uint256 k; k < amounts.length; ++k) {
            if (amounts[k] != 0) ++charged;
        }
        Records.Record memory r;
        r.app = uint8(slots[0] - 1);
        r.tokensIn = tokensIn;
        r.tokensOut = tokensOut;
        r.recordHash = keccak256(abi.encode(t.session.payer, t.seq));
        r.indexes = new uint8[](charged);
        r.amounts = new uint64[](charged);
        uint256 n;
        for (uint256 k; k < amounts.length; ++k) {
            if (amounts[k] == 0) continue;
            r.indexes[n] = uint8(slots[k] - 1);
            r.amounts[n] = uint64(amounts[k]);
            t.pending += amounts[k];
            ++n;
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
        uint256[] memory amounts = new uint256[](4);
        amounts[0] = 20_000;
        amounts[1] = 12_000;
        amounts[2] = 5000;
        _query(t, _slots4(), maxes, amounts);
    }

    uint256 internal constant STANDARD_TOTAL = 37_000;
    uint256 internal constant STANDARD_MAX = 45_000;
    uint256 internal constant STANDARD_FEES = 925;

    /// @dev A query that failed before its first token: its seq is used, it has no record and costs nothing
    /// (the voucher still allowed its maxima).
    function _voidQuery(Tab memory t) internal view {
        t.seq += 1;
        t.issuedAt = block.timestamp;
        t.cumulativeMax = t.charged + t.pending + STANDARD_MAX;
        t.charges = keccak256("void");
    }

    function _voucher(Tab memory t) internal pure returns (Voucher memory) {
        return Voucher({
            session: _id(t),
            seq: t.seq,
            issuedAt: t.issuedAt,
            cumulativeMax: t.cumulativeMax,
            charges: t.charges
        });
    }

    /// @dev The settlement item for the tab's current voucher (a copy: later queries do not change it).
    function _item(Tab memory t) internal view returns (Settlement memory item) {
        item.session = t.session;
        item.sessionSignature = t.sessionSignature;
        item.seq = t.seq;
        item.issuedAt = t.issuedAt;
        item.cumulativeMax = t.cumulativeMax;
        item.charges = t.charges;
        (item.r, item.vs) = _signCompact(t.keyPk, _digest(t.target, _voucherHash(_voucher(t))));
        item.records = t.records;
    }

    /// @dev Records that the tab's current item settled.
    function _commit(Tab memory t) internal pure {
        t.settledSeq = t.seq;
        t.charged += t.pending;
        t.pending = 0;
        t.records = "";
        t.recordCount = 0;
    }

    // ------------------------------------------------------------------ settling

    function _items1(Settlement memory a) internal pure returns (Settlement[] memory items) {
        items = new Settlement[](1);
        items[0] = a;
    }

    function _items2(Settlement memory a, Settlement memory b) internal pure returns (Settlement[] memory items) {
        items = new Settlement[](2);
        items[0] = a;
        items[1] = b;
    }

    function _settleAs(address caller, Settlement[] memory items)
        internal
        returns (uint256 settled, uint256 rejected)
    {
        uint256[] memory table = _table();
        bytes memory batch = _encode(items);
        vm.prank(caller);
        return settlement.settle(batch, table);
    }

    /// @dev Settles the tab's item as the operator and commits it if it settled.
    function _settleTab(Tab memory t) internal returns (bool settled) {
        (uint256 n,) = _settleAs(t.session.operator, _items1(_item(t)));
        if (n == 1) _commit(t);
        return n == 1;
    }

    /// @dev Settles `item` alone as `caller` and checks that it is skipped with `reason` (naming the session
    /// as the caller settles it: with the caller as operator) and that nothing moved: the payer's accounts
    /// with the session's operator and with the caller, the deposits and KipAssets' tokens.
    function _assertRejected(address caller, Settlement memory item, RejectReason reason) internal {
        bytes32 id = _sessionId(_asOperator(item.session, caller));
        AccountState memory callers = settlement.accountOf(item.session.payer, caller);
        AccountState memory before = settlement.accountOf(item.session.payer, item.session.operator);
        uint256 deposits = settlement.totalDeposits();
        uint256 held = usd.balanceOf(address(assets));
        vm.expectEmit(address(settlement));
        emit SessionRejected(0, id, reason);
        (uint256 settled, uint256 rejected) = _settleAs(caller, _items1(item));
        assertEq(settled, 0, "settled");
        assertEq(rejected, 1, "rejected");
        AccountState memory after_ = settlement.accountOf(item.session.payer, item.session.operator);
        assertEq(after_.balance, before.balance, "balance moved");
        assertEq(after_.seq, before.seq, "seq moved");
        assertEq(after_.charged, before.charged, "charged moved");
        assertEq(after_.revokedUntil, before.revokedUntil, "revokedUntil moved");
        AccountState memory callersAfter = settlement.accountOf(item.session.payer, caller);
        assertEq(keccak256(abi.encode(callersAfter)), keccak256(abi.encode(callers)), "the caller's account moved");
        assertEq(settlement.totalDeposits(), deposits, "deposits moved");
        assertEq(usd.balanceOf(address(assets)), held, "revenue moved");
    }

    /// @dev Re-signs the item's voucher with `keyPk` after a test changed it.
    function _resignVoucher(Settlement memory item, uint256 keyPk) internal view {
        Voucher memory v = Voucher({
            session: _sessionId(item.session),
            seq: item.seq,
            issuedAt: item.issuedAt,
            cumulativeMax: item.cumulativeMax,
            charges: item.charges
        });
        (item.r, item.vs) = _signCompact(keyPk, _digest(settlement, _voucherHash(v)));
    }

    /// @dev Re-signs the session (by `payerPk`) after a test changed it and re-signs the voucher (by `keyPk`).
    function _resign(Settlement memory item, uint256 payerPk, uint256 keyPk) internal view {
        item.sessionSignature = _signSession(settlement, item.session, payerPk);
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

    function _u256s(uint256 a) internal pure returns (uint256[] memory r) {
        r = new uint256[](1);
        r[0] = a;
    }
}
