// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Vm} from "forge-std/Vm.sol";

import {KipAssets} from "../../src/KipAssets.sol";
import {KipSettlement} from "../../src/KipSettlement.sol";
import {MockUSD} from "../../src/MockUSD.sol";
import {Records} from "../utils/Records.sol";
import {SettlementFixture} from "../utils/SettlementFixture.sol";

/// @dev Drives deposits, withdrawal requests and withdrawals, queries (vouchers the keys sign and records the
/// server keeps), settlements with random batches (some items corrupted on purpose, some from the wrong
/// caller), revocations, a revoked key that keeps signing, time, fee withdrawals and claims; and records
/// what the chain reported (SessionSettled) for the invariants to check.
contract SettlementHandler is SettlementFixture {
    uint256 public constant PAYERS = 3;
    uint256 public constant OPERATORS = 2;
    uint256 public constant NONCES = 2;

    address public operatorB = makeAddr("operator B");

    Tab[] internal _tabs;

    // What happened, from the events and the handler's own calls.
    mapping(address payer => mapping(address operator => uint256)) public deposited;
    mapping(address payer => mapping(address operator => uint256)) public withdrawn;
    mapping(address payer => mapping(address operator => uint256)) public charged;
    mapping(bytes32 session => uint256) public sessionCharged;
    bool public corruptItemSettled;
    bool public settledAfterRevocation;
    bool public chargedOtherThanRecords;
    uint256 public settledItems;
    uint256 public settleCalls;
    uint256 public admittedQueries;
    uint256 public claimedTotal;

    constructor(MockUSD usd_, KipAssets assets_, KipSettlement settlement_) {
        usd = usd_;
        assets = assets_;
        settlement = settlement_;
        uint256 expiry = block.timestamp + 3650 days;
        for (uint256 p; p < PAYERS; ++p) {
            for (uint256 o; o < OPERATORS; ++o) {
                for (uint256 n = 1; n <= NONCES; ++n) {
                    Session memory s = Session({
                        payer: _payer(p),
                        key: _key(p * 10 + n),
                        operator: o == 0 ? operator : operatorB,
                        spendCap: 50_000 + uint256(keccak256(abi.encode(p, o, n))) % 450_000,
                        expiry: expiry,
                        nonce: n
                    });
                    uint256[] memory slots = new uint256[](2 + n % 2);
                    slots[0] = APP;
                    slots[1] = MODEL;
                    if (slots.length == 3) slots[2] = DATA_A;
                    _tabs.push(
                        _openTabWith(
                            settlement_,
                            s,
                            _signSession(settlement_, s, PAYER_PK_BASE + p),
                            KEY_PK_BASE + p * 10 + n,
                            slots
                        )
                    );
                }
            }
        }
    }

    // ---------------------------------------------------------------- views for the invariants

    function tabCount() external view returns (uint256) {
        return _tabs.length;
    }

    function tab(uint256 i) external view returns (Tab memory) {
        return _tabs[i];
    }

    function operatorAt(uint256 o) public view returns (address) {
        return o == 0 ? operator : operatorB;
    }

    function payerAt(uint256 p) external pure returns (address) {
        return _payer(p);
    }

    /// @dev The most the tab's session may ever have been charged: its cap, or the sum of the highest
    /// cumulative maxima its key signed, whichever is smaller.
    function signedLimit(uint256 i) public view returns (uint256) {
        Tab storage t = _tabs[i];
        uint256 maxSum;
        for (uint256 j; j < t.maxAmounts.length; ++j) {
            maxSum += t.maxAmounts[j];
        }
        return maxSum < t.session.spendCap ? maxSum : t.session.spendCap;
    }

    // ---------------------------------------------------------------- payers

    function deposit(uint256 payerSeed, uint256 operatorSeed, uint256 amount) external {
        address payer = _payer(payerSeed % PAYERS);
        address op = operatorAt(operatorSeed % OPERATORS);
        amount = bound(amount, 1, 300_000);
        _fund(payer, op, amount);
        deposited[payer][op] += amount;
    }

    function requestWithdraw(uint256 payerSeed, uint256 operatorSeed, uint256 amount) external {
        address payer = _payer(payerSeed % PAYERS);
        address op = operatorAt(operatorSeed % OPERATORS);
        uint256 balance = settlement.balanceOf(payer, op);
        if (balance == 0) return;
        vm.prank(payer);
        settlement.requestWithdraw(op, bound(amount, 1, balance));
    }

    function withdraw(uint256 payerSeed, uint256 operatorSeed) external {
        address payer = _payer(payerSeed % PAYERS);
        address op = operatorAt(operatorSeed % OPERATORS);
        if (settlement.withdrawalOf(payer, op).amount == 0) return;
        vm.warp(block.timestamp + DELAY);
        vm.prank(payer);
        withdrawn[payer][op] += settlement.withdraw(op);
    }

    /// @dev The payer (or its key) revokes a session.
    function revoke(uint256 tabSeed, bool byKey) external {
        Tab memory t = _tabs[tabSeed % _tabs.length];
        vm.prank(byKey ? t.session.key : t.session.payer);
        settlement.revokeSession(t.session);
    }

    function warp(uint256 seconds_) external {
        vm.warp(block.timestamp + bound(seconds_, 1, 2 days));
    }

    // ---------------------------------------------------------------- queries (what the server admits)

    /// @dev One query on a session: sometimes a new slot joins the list, sometimes the answer fails (no
    /// record); otherwise random maxima and random amounts at or below them. The server stops admitting once
    /// it has seen a revocation, and refuses a query the session's cap cannot cover.
    function query(uint256 tabSeed, uint256 seed) external {
        uint256 index = tabSeed % _tabs.length;
        Tab memory t = _tabs[index];
        if (settlement.revokedAt(_id(t)) != 0) return;
        uint256 r = uint256(keccak256(abi.encode(seed)));
        if (r % 10 == 0 && t.slots.length < 6) _addSlot(t, 1 + (r >> 8) % 4);
        if (r % 9 == 1) {
            _voidQuery(t);
        } else {
            uint256 n = t.slots.length;
            uint256[] memory maxes = new uint256[](n);
            uint32 mask = uint32((r >> 16) % (1 << n));
            uint64[] memory amounts = new uint64[](Records.popcount(mask));
            uint256 k;
            uint256 total;
            for (uint256 i; i < n; ++i) {
                maxes[i] = (r >> (32 + 8 * i)) % 20_000;
                if ((mask >> i) & 1 == 1) {
                    amounts[k] = uint64(maxes[i] * ((r >> (100 + 8 * i)) % 101) / 100);
                    total += amounts[k++];
                }
            }
            uint256 committed;
            for (uint256 i; i < t.prevSettled.length; ++i) {
                committed += t.prevSettled[i];
            }
            if (committed + _pendingTotal(t) + total > t.session.spendCap) return;
            _query(t, maxes, mask, amounts);
        }
        admittedQueries++;
        _tabs[index] = t;
    }

    // ---------------------------------------------------------------- settlement

    /// @dev A batch of 1..4 sessions (repeats possible), settled by one operator or, now and then, by a
    /// stranger. About one item in six is corrupted in a way that must be refused.
    function settle(uint256 seed, uint8 count) external {
        count = uint8(bound(count, 1, 4));
        settleCalls++;
        uint256 r = uint256(keccak256(abi.encode(seed)));
        address caller = r % 9 == 0 ? stranger : operatorAt((r >> 8) % OPERATORS);
        SessionSettlement[] memory items = new SessionSettlement[](count);
        uint256[] memory picks = new uint256[](count);
        bool[] memory corrupted = new bool[](count);
        for (uint256 k; k < count; ++k) {
            uint256 rk = uint256(keccak256(abi.encode(seed, k)));
            picks[k] = rk % _tabs.length;
            items[k] = _item(_tabs[picks[k]]);
            if ((rk >> 16) % 6 == 0) corrupted[k] = _corrupt(items[k], rk >> 24);
        }
        vm.recordLogs();
        vm.prank(caller);
        settlement.settle(items);
        _record(vm.getRecordedLogs(), items, picks, corrupted);
    }

    /// @dev A revoked session's key keeps signing after the revocation took effect (a stolen key, say): the
    /// operator's settlement of such a voucher must be refused.
    function settleAfterRevocation(uint256 tabSeed) external {
        Tab memory t = _tabs[tabSeed % _tabs.length];
        uint256 revokedAt = settlement.revokedAt(_id(t));
        if (revokedAt == 0 || block.timestamp < revokedAt) return;
        uint256[] memory maxes = new uint256[](t.slots.length);
        maxes[0] = 1000;
        _query(t, maxes, 0x1, _u64s(1000));
        vm.recordLogs();
        vm.prank(t.session.operator);
        settlement.settle(_items1(_item(t)));
        Vm.Log[] memory logs = vm.getRecordedLogs();
        for (uint256 i; i < logs.length; ++i) {
            if (logs[i].topics[0] == SessionSettled.selector) settledAfterRevocation = true;
        }
    }

    /// @dev Makes `item` certainly invalid; returns true.
    function _corrupt(SessionSettlement memory item, uint256 r) internal view returns (bool) {
        uint256 mode = r % 5;
        if (mode == 0) {
            item.records = bytes.concat(item.records, hex"00"); // MalformedRecords
        } else if (mode == 1) {
            // One slot charged one more than its signed maximum allows on top of what was settled.
            uint256 settledBefore = item.prevSettled.length == 0 ? 0 : item.prevSettled[0];
            uint256 over = item.voucher.maxAmounts[0] - settledBefore + 1;
            if (over > type(uint64).max) over = type(uint64).max;
            item.records = Records.pack(Records.Record(0, 0x1, 0, 0, bytes32(0), _u64s(uint64(over))));
            if (item.voucher.seq == item.prevSeq) item.records = hex"00"; // no seq to spend: malformed
        } else if (mode == 2) {
            item.voucherSignature = _signVoucher(settlement, item.voucher, KEY_PK_BASE + 999); // BadSignature
        } else if (mode == 3) {
            item.prevSeq += 1; // StaleVoucher or StateMismatch
        } else {
            item.voucher.maxAmounts[0] += 1; // no longer what the key signed: BadSignature
        }
        return true;
    }

    /// @dev Each item emits exactly one SessionSettled or SessionRejected, in item order: walks them in step.
    function _record(
        Vm.Log[] memory logs,
        SessionSettlement[] memory items,
        uint256[] memory picks,
        bool[] memory corrupted
    ) internal {
        uint256 k;
        for (uint256 i; i < logs.length; ++i) {
            if (logs[i].emitter != address(settlement)) continue;
            bytes32 topic = logs[i].topics[0];
            if (topic == SessionRejected.selector) {
                k++;
                continue;
            }
            if (topic != SessionSettled.selector) continue;
            bytes32 id = logs[i].topics[1];
            (,, uint256 total) = abi.decode(logs[i].data, (uint256, uint256, uint256));
            SessionSettlement memory item = items[k];
            assertEq(_sessionId(item.session), id, "events out of item order");
            if (corrupted[k]) corruptItemSettled = true;
            Tab memory t = _tabs[picks[k]];
            if (total != _pendingTotal(t) || item.prevSeq != t.prevSeq) chargedOtherThanRecords = true;
            uint256 revokedAt = settlement.revokedAt(id);
            if (revokedAt != 0 && item.voucher.issuedAt >= revokedAt) settledAfterRevocation = true;
            _commit(t);
            _tabs[picks[k]] = t;
            charged[t.session.payer][t.session.operator] += total;
            sessionCharged[id] += total;
            settledItems++;
            k++;
        }
        assertEq(k, items.length, "one outcome per item");
    }

    // ---------------------------------------------------------------- fees and claims

    function withdrawFees() external {
        settlement.withdrawFees();
    }

    function claim(uint256 tokenSeed) external {
        claimedTotal += assets.claim(1 + tokenSeed % 4);
    }
}
