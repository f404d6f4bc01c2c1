// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Vm} from "forge-std/Vm.sol";

import {KipAssets} from "../../src/KipAssets.sol";
import {KipSettlement} from "../../src/KipSettlement.sol";
import {MockUSD} from "../../src/MockUSD.sol";
import {Records} from "../utils/Records.sol";
import {SettlementFixture} from "../utils/SettlementFixture.sol";

/// @dev Drives KipSettlement v3 the way payers, their keys, operators and strangers can: deposits,
/// withdrawal requests, cancellations and withdrawals, revocations (by the payer, the key, or a stranger's
/// made-up session), queries that a session key signs (the account's next seq and running maximum, over
/// three sessions per account, one key shared by a payer's two accounts), settlement batches from either
/// operator or a stranger that mix valid items with invalid ones (stale, replayed, a wrong key, an unsigned
/// change, another payer's session signature, cut or extra records, above the maximum, under a session whose
/// cap is too small, over the balance, an unknown slot, issued past its expiry, a revoked key still signing),
/// fee changes, fee withdrawals, claims and time.
///
/// The handler keeps its own model of every account (balance, seq, charged total, revokedUntil, withdrawal
/// request), of every session's revocation, of the fees and of each slot's revenue, and predicts the outcome
/// of every item from the contract's documented checks, in their order, applied to that model. After each
/// batch it compares the prediction with what the chain reported (SessionRejected per item, BatchSettled,
/// the return values); the invariants compare the model with the chain's state. A handler call cannot fail
/// an invariant by reverting (fail_on_revert is off), so every disagreement is recorded in `mismatch`.
contract SettlementHandler is SettlementFixture {
    uint256 public constant PAYERS = 3;
    uint256 public constant OPERATORS = 2;
    uint256 public constant SESSIONS = 3; // per account: a long one, a short one (30 days), a low-capped one
    uint256 public constant ACCOUNTS = PAYERS * OPERATORS;
    uint256 internal constant TIGHT = 2;
    /// @dev The batch's slot table: the fixture's four slots (entries 0..3) and one KipAssets does not list.
    uint256 internal constant ENTRIES = 5;
    uint256 internal constant UNKNOWN_ENTRY = 4;
    uint256 internal constant UNKNOWN_SLOT = 99;

    address public operatorB = makeAddr("operator B");

    struct SessionModel {
        Session session;
        bytes signature; // the payer's, 64-byte EIP-2098
        uint256 keyPk;
        uint256 revokedAt; // 0: not revoked
    }

    /// @dev One admitted query: the voucher its session's key signed (seq = its index + 1) and its record.
    struct Query {
        uint256 session; // index in the account's sessions
        uint256 issuedAt;
        uint256 cumulativeMax;
        bytes32 charges;
        bytes32 r;
        bytes32 vs;
        uint256 total;
        uint64[4] paid; // per table entry
        bytes record; // empty for a void query
    }

    /// @dev An account (payer, operator) as the model has it.
    struct AccountModel {
        address payer;
        address operator;
        uint256 payerPk;
        uint256 balance;
        uint256 seq;
        uint256 charged;
        uint256 revokedUntil;
        uint256 withdrawAmount;
        uint256 withdrawReadyAt;
        uint256 runningMax; // the newest voucher's cumulative maximum
        uint256 deposited;
        uint256 withdrawn;
        uint256 maxSigned; // the highest cumulative maximum any key of the account signed
        uint256 maxCap; // the highest spend cap of its sessions
        uint256 lastCumulativeMax; // of the item that settled it last
        uint256 lastSpendCap; // of that item's session
    }

    /// @dev One item of a batch as the handler planned it: what the checks need to predict its outcome.
    struct Plan {
        uint256 account;
        uint256 session;
        uint256 seq;
        uint256 issuedAt;
        uint256 cumulativeMax;
        bool sessionInvalid;
        bool sigBad;
        bool sessionSigBad;
        bool malformed;
        bool paysUnknown;
        uint256 recordCount;
        uint256 total;
        uint256[5] entries;
        uint256 mode;
    }

    /// @dev The accounts as a batch leaves them, item by item.
    struct Running {
        uint256[6] seq;
        uint256[6] charged;
        uint256[6] balance;
        uint256[5] gross;
        uint256 settled;
        uint256 rejected;
    }

    AccountModel[] internal _accounts;
    mapping(uint256 account => SessionModel[3]) internal _sessions;
    mapping(uint256 account => Query[]) internal _queries;

    uint256 public feeBps = FEE_BPS;
    uint256 public feesAccrued;
    uint256 public feesWithdrawn;
    uint256[4] internal _revenue;
    uint256 public claimedTotal;

    bool public mismatch;
    string public mismatchNote;
    uint256[12] internal _outcomes; // [0] items settled, [reason] items rejected with it
    uint256 public settleCalls;
    uint256 public admittedQueries;

    constructor(MockUSD usd_, KipAssets assets_, KipSettlement settlement_) {
        usd = usd_;
        assets = assets_;
        settlement = settlement_;
        for (uint256 p; p < PAYERS; ++p) {
            for (uint256 o; o < OPERATORS; ++o) {
                uint256 a = _accounts.length;
                _accounts.push();
                AccountModel storage acc = _accounts[a];
                acc.payer = _payer(p);
                acc.operator = operatorAt(o);
                acc.payerPk = PAYER_PK_BASE + p;
                for (uint256 n; n < SESSIONS; ++n) {
                    _openSession(a, p, o, n);
                }
            }
        }
    }

    function _openSession(uint256 a, uint256 p, uint256 o, uint256 n) internal {
        AccountModel storage acc = _accounts[a];
        uint256 h = uint256(keccak256(abi.encode(p, o, n)));
        // Session 0's key is the payer's with both operators; the others are per account.
        uint256 keyPk = KEY_PK_BASE + p * 10 + (n == 0 ? 0 : 1 + o * 2 + n);
        uint256 cap = n == 0 ? 300_000 + h % 900_000 : n == 1 ? 100_000 + h % 400_000 : 20_000 + h % 60_000;
        Session memory s = Session({
            payer: acc.payer,
            key: vm.addr(keyPk),
            operator: acc.operator,
            spendCap: cap,
            expiry: block.timestamp + (n == 1 ? 30 days : 3650 days),
            nonce: n + 1
        });
        SessionModel storage sm = _sessions[a][n];
        sm.session = s;
        sm.signature = _signSession(settlement, s, acc.payerPk);
        sm.keyPk = keyPk;
        if (cap > acc.maxCap) acc.maxCap = cap;
    }

    // ---------------------------------------------------------------- views for the invariants

    function operatorAt(uint256 o) public view returns (address) {
        return o == 0 ? operator : operatorB;
    }

    function account(uint256 a) external view returns (AccountModel memory) {
        return _accounts[a];
    }

    function sessionOf(uint256 a, uint256 n) external view returns (SessionModel memory) {
        return _sessions[a][n];
    }

    function revenue(uint256 entry) external view returns (uint256) {
        return _revenue[entry];
    }

    function outcomes(uint256 reason) external view returns (uint256) {
        return _outcomes[reason];
    }

    function queryCount(uint256 a) external view returns (uint256) {
        return _queries[a].length;
    }

    // ---------------------------------------------------------------- payers

    function deposit(uint256 accountSeed, uint256 amount) external {
        AccountModel storage acc = _accounts[accountSeed % ACCOUNTS];
        amount = _bound(amount, 1, 300_000);
        _fund(acc.payer, acc.operator, amount);
        acc.balance += amount;
        acc.deposited += amount;
    }

    function requestWithdraw(uint256 accountSeed, uint256 amount) external {
        AccountModel storage acc = _accounts[accountSeed % ACCOUNTS];
        if (acc.balance == 0) return;
        amount = _bound(amount, 1, acc.balance);
        vm.prank(acc.payer);
        settlement.requestWithdraw(acc.operator, amount);
        acc.withdrawAmount = amount;
        acc.withdrawReadyAt = block.timestamp + DELAY;
    }

    function cancelWithdraw(uint256 accountSeed) external {
        AccountModel storage acc = _accounts[accountSeed % ACCOUNTS];
        if (acc.withdrawAmount == 0) return;
        vm.prank(acc.payer);
        settlement.cancelWithdraw(acc.operator);
        acc.withdrawAmount = 0;
        acc.withdrawReadyAt = 0;
    }

    /// @dev Withdraws, after waiting for the request to be ready if `wait` (else a request not ready yet must
    /// revert).
    function withdraw(uint256 accountSeed, bool wait) external {
        AccountModel storage acc = _accounts[accountSeed % ACCOUNTS];
        if (acc.withdrawAmount == 0) return;
        if (wait && block.timestamp < acc.withdrawReadyAt) vm.warp(acc.withdrawReadyAt);
        vm.prank(acc.payer);
        try settlement.withdraw(acc.operator) returns (uint256 paid) {
            if (block.timestamp < acc.withdrawReadyAt) {
                _mismatch("a withdrawal was paid before it was ready");
            }
            uint256 expected = acc.withdrawAmount < acc.balance ? acc.withdrawAmount : acc.balance;
            if (paid != expected) _mismatch("a withdrawal paid other than min(request, balance)");
            acc.balance -= expected;
            acc.withdrawn += expected;
            acc.withdrawAmount = 0;
            acc.withdrawReadyAt = 0;
        } catch {
            if (block.timestamp >= acc.withdrawReadyAt) _mismatch("a ready withdrawal reverted");
        }
    }

    /// @dev The payer or the key revokes one of the account's sessions.
    function revoke(uint256 accountSeed, uint256 sessionSeed, bool byKey) external {
        // Two calls in three change their mind: a revocation ends a session for the rest of the run.
        if ((sessionSeed >> 128) % 3 != 0) return;
        uint256 a = accountSeed % ACCOUNTS;
        SessionModel storage sm = _sessions[a][sessionSeed % SESSIONS];
        vm.prank(byKey ? sm.session.key : sm.session.payer);
        settlement.revokeSession(sm.session);
        if (sm.revokedAt == 0) {
            sm.revokedAt = block.timestamp + settlement.REVOKE_DELAY();
            _raiseRevokedUntil(_accounts[a], sm.session.expiry);
        }
    }

    /// @dev A stranger revokes a session it made up, naming itself as the key and the account's payer and
    /// operator: allowed, and it raises the account's revokedUntil, but it must refuse none of the
    /// account's own vouchers.
    function revokeMadeUp(uint256 accountSeed, uint256 expiry, uint64 nonce) external {
        AccountModel storage acc = _accounts[accountSeed % ACCOUNTS];
        Session memory s = Session({
            payer: acc.payer,
            key: stranger,
            operator: acc.operator,
            spendCap: 1,
            expiry: _bound(expiry, block.timestamp, type(uint40).max),
            nonce: nonce
        });
        vm.prank(stranger);
        settlement.revokeSession(s);
        _raiseRevokedUntil(acc, s.expiry);
    }

    function _raiseRevokedUntil(AccountModel storage acc, uint256 expiry) internal {
        if (expiry > type(uint40).max) expiry = type(uint40).max;
        uint256 until = (expiry >> 17) + 1;
        if (until > acc.revokedUntil) acc.revokedUntil = until;
    }

    function warp(uint256 seconds_) external {
        vm.warp(block.timestamp + _bound(seconds_, 1, 2 days));
    }

    // ---------------------------------------------------------------- queries (what the server admits)

    /// @dev One query through one of the account's sessions, as the server admits it: not on a session it
    /// has seen revoked or past its expiry; the account's next seq; the running maximum grown by this query's
    /// maxima; and only if the account's charged total, what is pending and this query's maxima fit the
    /// session's cap, and what is pending and this query's maxima fit the balance less a requested
    /// withdrawal (mostly). One query in nine fails before its first token (no record).
    function query(uint256 accountSeed, uint256 sessionSeed, uint256 seed) external {
        uint256 a = accountSeed % ACCOUNTS;
        uint256 n = sessionSeed % SESSIONS;
        AccountModel storage acc = _accounts[a];
        SessionModel storage sm = _sessions[a][n];
        if (sm.revokedAt != 0 || block.timestamp > sm.session.expiry) return;
        uint256 r = uint256(keccak256(abi.encode(seed)));
        uint256[] memory maxes = new uint256[](4);
        uint64[4] memory paid;
        uint256 maxTotal;
        uint256 total;
        bool void = r % 9 == 1;
        for (uint256 i; i < 4; ++i) {
            maxes[i] = (r >> (8 + 16 * i)) % 20_000;
            maxTotal += maxes[i];
            if (!void && (r >> (80 + i)) & 1 == 1) {
                paid[i] = uint64(maxes[i] * ((r >> (96 + 8 * i)) % 101) / 100);
                total += paid[i];
            }
        }
        uint256 pending = _pending(a, acc.seq);
        if (acc.charged + pending + maxTotal > sm.session.spendCap) return;
        // One query in four comes through a server that does not hold a requested withdrawal back: the
        // withdrawal may then leave too little for what was answered.
        uint256 held = (r >> 160) % 4 == 0 ? 0 : acc.withdrawAmount;
        if (pending + maxTotal + held > acc.balance) return;

        uint256 seq = _queries[a].length + 1;
        Query storage q = _queries[a].push();
        q.session = n;
        q.issuedAt = block.timestamp;
        q.cumulativeMax = acc.runningMax + maxTotal;
        q.charges = _chargesHash(_slots4(), maxes);
        (q.r, q.vs) = _signVoucher(sm, seq, q.issuedAt, q.cumulativeMax, q.charges);
        q.total = total;
        q.paid = paid;
        if (!void) q.record = _record(a, seq, paid);
        acc.runningMax = q.cumulativeMax;
        if (q.cumulativeMax > acc.maxSigned) acc.maxSigned = q.cumulativeMax;
        admittedQueries++;
    }

    /// @dev What the queries after `seq` charge.
    function _pending(uint256 a, uint256 seq) internal view returns (uint256 pending) {
        Query[] storage qs = _queries[a];
        for (uint256 k = seq; k < qs.length; ++k) {
            pending += qs[k].total;
        }
    }

    function _signVoucher(
        SessionModel storage sm,
        uint256 seq,
        uint256 issuedAt,
        uint256 cumulativeMax,
        bytes32 charges
    ) internal view returns (bytes32, bytes32) {
        return _signVoucherWith(sm.keyPk, sm.session, seq, issuedAt, cumulativeMax, charges);
    }

    function _signVoucherWith(
        uint256 keyPk,
        Session memory s,
        uint256 seq,
        uint256 issuedAt,
        uint256 cumulativeMax,
        bytes32 charges
    ) internal view returns (bytes32, bytes32) {
        Voucher memory v = Voucher({
            session: _sessionId(s),
            seq: seq,
            issuedAt: issuedAt,
            cumulativeMax: cumulativeMax,
            charges: charges
        });
        return _signCompact(keyPk, _digest(settlement, _voucherHash(v)));
    }

    /// @dev A record paying `paid[j]` to table entry j (zeros left out), the app being entry 0.
    function _record(uint256 a, uint256 seq, uint64[4] memory paid) internal pure returns (bytes memory) {
        uint256 count;
        for (uint256 j; j < 4; ++j) {
            if (paid[j] != 0) ++count;
        }
        Records.Record memory rec;
        rec.tokensIn = uint24(seq % 16_777_216);
        rec.tokensOut = uint24(a);
        rec.recordHash = keccak256(abi.encode(a, seq, paid));
        rec.indexes = new uint8[](count);
        rec.amounts = new uint64[](count);
        count = 0;
        for (uint256 j; j < 4; ++j) {
            if (paid[j] == 0) continue;
            rec.indexes[count] = uint8(j);
            rec.amounts[count++] = paid[j];
        }
        return Records.pack(rec);
    }

    /// @dev A record paying `amount` to table entry `entry` only.
    function _recordTo(uint256 entry, uint64 amount) internal pure returns (bytes memory) {
        Records.Record memory rec;
        rec.recordHash = keccak256(abi.encode(entry, amount));
        rec.indexes = new uint8[](1);
        rec.amounts = new uint64[](1);
        rec.indexes[0] = uint8(entry);
        rec.amounts[0] = amount;
        return Records.pack(rec);
    }

    // ---------------------------------------------------------------- settlement

    /// @dev A batch of 1..5 items from one caller: operator A or B, now and then a stranger; mostly of the
    /// caller's own accounts. An item is an account's newest voucher or an older one (stale, or settling
    /// part of what is pending), with the records from the account's seq as the batch has it by then; about
    /// one item in three is made invalid on purpose, and a revoked session's key sometimes signs a voucher of
    /// its own.
    function settle(uint256 seed, uint8 count) external {
        count = uint8(_bound(count, 1, 5));
        uint256 r = uint256(keccak256(abi.encode(seed)));
        address caller = r % 10 == 0 ? stranger : operatorAt((r >> 8) % OPERATORS);
        Running memory run;
        for (uint256 a; a < ACCOUNTS; ++a) {
            run.seq[a] = _accounts[a].seq;
            run.charged[a] = _accounts[a].charged;
            run.balance[a] = _accounts[a].balance;
        }
        Settlement[] memory items = new Settlement[](count);
        Plan[] memory plans = new Plan[](count);
        uint8[] memory expected = new uint8[](count);
        uint256 n;
        for (uint256 k; k < count; ++k) {
            uint256 rk = uint256(keccak256(abi.encode(seed, k)));
            (bool ok, Settlement memory item, Plan memory plan) =
                _buildItem(rk, _pickAccount(rk, caller, run), run);
            if (!ok) continue;
            items[n] = item;
            plans[n] = plan;
            expected[n] = _expect(plan, caller, run);
            _apply(plan, expected[n], run);
            ++n;
        }
        if (n == 0) return;
        assembly ("memory-safe") {
            mstore(items, n)
            mstore(plans, n)
            mstore(expected, n)
        }
        settleCalls++;
        _send(caller, items, plans, expected, run);
    }

    /// @dev The settlement's slot table.
    function _fullTable() internal pure returns (uint256[] memory table) {
        table = new uint256[](ENTRIES);
        for (uint256 j; j < 4; ++j) {
            table[j] = j + 1;
        }
        table[UNKNOWN_ENTRY] = UNKNOWN_SLOT;
    }

    /// @dev Sends the batch and compares what the chain reports with the prediction, then commits it.
    function _send(
        address caller,
        Settlement[] memory items,
        Plan[] memory plans,
        uint8[] memory expected,
        Running memory run
    ) internal {
        bytes memory batch = _encode(items);
        uint256[] memory table = _fullTable();
        uint256 fees;
        uint256[4] memory nets;
        for (uint256 j; j < 4; ++j) {
            uint256 fee = run.gross[j] * feeBps / 10_000;
            fees += fee;
            nets[j] = run.gross[j] - fee;
        }
        if (run.gross[UNKNOWN_ENTRY] != 0) _mismatch("model: an unknown slot earned");
        vm.recordLogs();
        vm.prank(caller);
        try settlement.settle(batch, table) returns (uint256 settled, uint256 rejected) {
            _compare(vm.getRecordedLogs(), caller, plans, expected, run, fees);
            if (settled != run.settled || rejected != run.rejected) {
                _mismatch("settle returned other counts");
            }
        } catch {
            _mismatch("a batch reverted");
            return;
        }
        for (uint256 a; a < ACCOUNTS; ++a) {
            AccountModel storage acc = _accounts[a];
            acc.seq = run.seq[a];
            acc.charged = run.charged[a];
            acc.balance = run.balance[a];
        }
        for (uint256 i; i < plans.length; ++i) {
            if (expected[i] != 0) continue;
            AccountModel storage acc = _accounts[plans[i].account];
            acc.lastCumulativeMax = plans[i].cumulativeMax;
            acc.lastSpendCap = _sessions[plans[i].account][plans[i].session].session.spendCap;
        }
        for (uint256 j; j < 4; ++j) {
            _revenue[j] += nets[j];
        }
        feesAccrued += fees;
        // What the chain charged each account in this batch stays within the last settled item's limits.
        for (uint256 a; a < ACCOUNTS; ++a) {
            AccountState memory onChain = settlement.accountOf(_accounts[a].payer, _accounts[a].operator);
            if (onChain.seq == 0) continue;
            if (
                onChain.charged > _accounts[a].lastCumulativeMax
                    || onChain.charged > _accounts[a].lastSpendCap
            ) {
                _mismatch("an account was charged above its voucher's maximum or its session's cap");
            }
        }
    }

    /// @dev Each item that settled emits nothing of its own, each rejected one SessionRejected naming its
    /// position: walks them against the prediction; then BatchSettled.
    function _compare(
        Vm.Log[] memory logs,
        address caller,
        Plan[] memory plans,
        uint8[] memory expected,
        Running memory run,
        uint256 fees
    ) internal {
        uint8[] memory actual = new uint8[](plans.length);
        bool batchSettled;
        for (uint256 i; i < logs.length; ++i) {
            if (logs[i].emitter != address(settlement)) continue;
            bytes32 topic = logs[i].topics[0];
            if (topic == SessionRejected.selector) {
                uint256 index = uint256(logs[i].topics[1]);
                if (index >= plans.length || actual[index] != 0) {
                    _mismatch("SessionRejected for no item, or twice for one");
                    continue;
                }
                actual[index] = abi.decode(logs[i].data, (uint8));
                if (actual[index] == 0) _mismatch("SessionRejected with reason None");
            } else if (topic == BatchSettled.selector) {
                batchSettled = true;
                if (address(uint160(uint256(logs[i].topics[1]))) != caller) {
                    _mismatch("BatchSettled: operator");
                }
                (uint256 s, uint256 rj, uint256 gross, uint256 f) =
                    abi.decode(logs[i].data, (uint256, uint256, uint256, uint256));
                uint256 grossExpected;
                for (uint256 j; j < ENTRIES; ++j) {
                    grossExpected += run.gross[j];
                }
                if (s != run.settled || rj != run.rejected) _mismatch("BatchSettled: counts");
                if (gross != grossExpected) _mismatch("BatchSettled: gross other than the settled records");
                if (f != fees) _mismatch("BatchSettled: fees other than per entry, rounded down");
            }
        }
        if (!batchSettled) _mismatch("no BatchSettled");
        for (uint256 i; i < plans.length; ++i) {
            _outcomes[actual[i]]++;
            if (actual[i] != expected[i]) {
                _mismatch(
                    string.concat(
                        "item ",
                        vm.toString(i),
                        " (mode ",
                        vm.toString(plans[i].mode),
                        "): expected ",
                        vm.toString(uint256(expected[i])),
                        ", chain ",
                        vm.toString(uint256(actual[i]))
                    )
                );
            }
        }
    }

    /// @dev Four items in five are of the caller's own accounts (if it is an operator), the others of any;
    /// three in four of those go to the next such account with something pending, if there is one.
    function _pickAccount(uint256 rk, address caller, Running memory run) internal view returns (uint256 a) {
        bool any = (rk >> 200) % 5 == 0 || caller == stranger;
        a = any ? rk % ACCOUNTS : (rk % PAYERS) * OPERATORS + (caller == operator ? 0 : 1);
        if ((rk >> 204) % 4 == 0) return a;
        uint256 step = any ? 1 : OPERATORS;
        for (uint256 i; i < ACCOUNTS; i += step) {
            uint256 b = (a + i) % ACCOUNTS;
            if (_queries[b].length > run.seq[b]) return b;
        }
    }

    /// @dev Builds one item: an account's newest voucher (60 %), an older one above the account's seq (30 %)
    /// or any older one, or (for a revoked session, now and then) a voucher its key signs now; corrupted one
    /// time in three. `ok` false: the account has
    /// no voucher yet.
    function _buildItem(uint256 rk, uint256 a, Running memory run)
        internal
        returns (bool ok, Settlement memory item, Plan memory plan)
    {
        plan.account = a;
        uint256 length = _queries[plan.account].length;
        if ((rk >> 8) % 8 == 0 && _stolenKeyItem(rk, run, item, plan)) return (true, item, plan);
        if (length == 0) return (false, item, plan);
        // The newest voucher, an older one settling part of what is pending, or any (often stale).
        uint256 from = run.seq[plan.account];
        uint256 pick = (rk >> 16) % 10;
        if (pick < 6 || (pick < 9 && length <= from + 1)) plan.seq = length;
        else if (pick < 9) plan.seq = from + 1 + (rk >> 24) % (length - from - 1);
        else plan.seq = 1 + (rk >> 24) % length;
        Query storage q = _queries[plan.account][plan.seq - 1];
        SessionModel storage sm = _sessions[plan.account][q.session];
        plan.session = q.session;
        plan.issuedAt = q.issuedAt;
        plan.cumulativeMax = q.cumulativeMax;
        item.session = sm.session;
        item.sessionSignature = sm.signature;
        item.seq = plan.seq;
        item.issuedAt = q.issuedAt;
        item.cumulativeMax = q.cumulativeMax;
        item.charges = q.charges;
        item.r = q.r;
        item.vs = q.vs;
        plan.mode = (rk >> 32) % 3 == 0 ? 1 + (rk >> 40) % 10 : 0;
        _records(plan, item, run.seq[plan.account], run.charged[plan.account]);
        _corrupt(plan, item, rk >> 48);
        return (true, item, plan);
    }

    /// @dev The records from `fromSeq` up to the item's seq (mode 5 charges one unit above the maximum in the
    /// last; mode 8 pays the unknown slot in the last instead). For a stale item, its own record.
    function _records(Plan memory plan, Settlement memory item, uint256 fromSeq, uint256 charged)
        internal
        view
    {
        Query[] storage qs = _queries[plan.account];
        if (plan.seq <= fromSeq) {
            item.records = qs[plan.seq - 1].record;
            plan.recordCount = item.records.length == 0 ? 0 : 1;
            plan.total = qs[plan.seq - 1].total;
            return;
        }
        bool replaceLast = plan.mode == 5 || plan.mode == 8;
        uint256 end = replaceLast ? plan.seq - 1 : plan.seq;
        for (uint256 k = fromSeq; k < end; ++k) {
            Query storage q = qs[k];
            if (q.record.length == 0) continue;
            item.records = bytes.concat(item.records, q.record);
            plan.recordCount++;
            plan.total += q.total;
            for (uint256 j; j < 4; ++j) {
                plan.entries[j] += q.paid[j];
            }
        }
        if (!replaceLast) return;
        uint256 entry;
        uint256 amount;
        if (plan.mode == 5) {
            uint256 limit = plan.cumulativeMax + 1;
            amount = limit > charged + plan.total ? limit - charged - plan.total : 1;
        } else {
            entry = UNKNOWN_ENTRY;
            amount = 1;
            plan.paysUnknown = true;
        }
        item.records = bytes.concat(item.records, _recordTo(entry, uint64(amount)));
        plan.recordCount++;
        plan.total += amount;
        plan.entries[entry] += amount;
    }

    /// @dev Makes the item invalid in the way `plan.mode` says (1..10; 5 and 8 were done by `_records`).
    function _corrupt(Plan memory plan, Settlement memory item, uint256 r) internal view {
        uint256 mode = plan.mode;
        if (mode == 1) {
            // Signed by another key of the account.
            SessionModel storage other = _sessions[plan.account][(plan.session + 1 + r % 2) % SESSIONS];
            (item.r, item.vs) = _signVoucherWith(
                other.keyPk, item.session, item.seq, item.issuedAt, item.cumulativeMax, item.charges
            );
            plan.sigBad = true;
        } else if (mode == 2) {
            item.cumulativeMax += 1 + r % 1000; // not what the key signed
            plan.sigBad = true;
        } else if (mode == 3) {
            // The session signed by another payer.
            uint256 otherPayer = (_accounts[plan.account].payerPk - PAYER_PK_BASE + 1 + r % 2) % PAYERS;
            item.sessionSignature = _signSession(settlement, item.session, PAYER_PK_BASE + otherPayer);
            plan.sessionSigBad = true;
        } else if (mode == 4) {
            if (r % 2 == 0) {
                item.records = bytes.concat(item.records, hex"00"); // cut short
                plan.malformed = true;
            } else {
                // One record more: a query that did not happen.
                item.records = bytes.concat(item.records, _recordTo(0, 1));
                plan.recordCount++;
                plan.total += 1;
                plan.entries[0] += 1;
            }
        } else if (mode == 6) {
            // Re-issued under the account's tight-capped session, signed by its key.
            SessionModel storage tight = _sessions[plan.account][TIGHT];
            plan.session = TIGHT;
            item.session = tight.session;
            item.sessionSignature = tight.signature;
            (item.r, item.vs) = _signVoucherWith(
                tight.keyPk, item.session, item.seq, item.issuedAt, item.cumulativeMax, item.charges
            );
        } else if (mode == 7) {
            // Issued after the session's expiry, signed by its key.
            item.issuedAt = item.session.expiry + 1;
            plan.issuedAt = item.issuedAt;
            (item.r, item.vs) = _signVoucherWith(
                _sessions[plan.account][plan.session].keyPk,
                item.session,
                item.seq,
                item.issuedAt,
                item.cumulativeMax,
                item.charges
            );
        } else if (mode == 9) {
            // No signature at all.
            item.r = bytes32(0);
            item.vs = bytes32(0);
            plan.sigBad = true;
        } else if (mode == 10) {
            // No key.
            item.session.key = address(0);
            plan.sessionInvalid = true;
        }
    }

    /// @dev A revoked session's key (stolen, say) signs the account's next voucher, dated at or after the
    /// revocation took effect, on top of everything pending: the server never admitted it, and the operator
    /// settles it.
    function _stolenKeyItem(uint256 rk, Running memory run, Settlement memory item, Plan memory plan)
        internal
        returns (bool)
    {
        uint256 n = (rk >> 12) % SESSIONS;
        SessionModel storage sm = _sessions[plan.account][n];
        if (sm.revokedAt == 0 || block.timestamp < sm.revokedAt) return false;
        AccountModel storage acc = _accounts[plan.account];
        plan.mode = 11;
        plan.session = n;
        plan.seq = _queries[plan.account].length + 1;
        // Dated now, or exactly when the revocation took effect.
        plan.issuedAt = (rk >> 14) % 2 == 0 ? block.timestamp : sm.revokedAt;
        plan.cumulativeMax = acc.runningMax + 30_000;
        item.session = sm.session;
        item.sessionSignature = sm.signature;
        item.seq = plan.seq;
        item.issuedAt = plan.issuedAt;
        item.cumulativeMax = plan.cumulativeMax;
        item.charges = keccak256(abi.encode("stolen", rk));
        (item.r, item.vs) = _signVoucher(sm, item.seq, item.issuedAt, item.cumulativeMax, item.charges);
        // A voucher the key signed counts among what the account's keys signed.
        if (plan.cumulativeMax > acc.maxSigned) acc.maxSigned = plan.cumulativeMax;
        Query[] storage qs = _queries[plan.account];
        for (uint256 k = run.seq[plan.account]; k < qs.length; ++k) {
            if (qs[k].record.length == 0) continue;
            item.records = bytes.concat(item.records, qs[k].record);
            plan.recordCount++;
            plan.total += qs[k].total;
            for (uint256 j; j < 4; ++j) {
                plan.entries[j] += qs[k].paid[j];
            }
        }
        item.records = bytes.concat(item.records, _recordTo(0, 10_000));
        plan.recordCount++;
        plan.total += 10_000;
        plan.entries[0] += 10_000;
        return true;
    }

    /// @dev The contract's checks (docs/settlement-format.md), in their order, on the model as the batch has
    /// left it so far: the predicted reason, 0 if the item settles.
    function _expect(Plan memory p, address caller, Running memory run) internal view returns (uint8) {
        SessionModel storage sm = _sessions[p.account][p.session];
        uint256 a = p.account;
        if (p.sessionInvalid) return uint8(RejectReason.SessionInvalid);
        if (p.seq == 0 || p.issuedAt > sm.session.expiry) return uint8(RejectReason.VoucherInvalid);
        if (p.sigBad || caller != sm.session.operator) return uint8(RejectReason.BadSignature);
        if (sm.revokedAt != 0 && p.issuedAt >= sm.revokedAt) return uint8(RejectReason.Revoked);
        if (p.seq <= run.seq[a]) return uint8(RejectReason.StaleVoucher);
        if (p.sessionSigBad) return uint8(RejectReason.BadSessionSignature);
        if (p.malformed || p.recordCount > p.seq - run.seq[a]) return uint8(RejectReason.MalformedRecords);
        if (run.charged[a] + p.total > p.cumulativeMax) return uint8(RejectReason.AboveMax);
        if (run.charged[a] + p.total > sm.session.spendCap) return uint8(RejectReason.SpendCapExceeded);
        if (p.total > run.balance[a]) return uint8(RejectReason.InsufficientBalance);
        if (p.paysUnknown) return uint8(RejectReason.UnknownSlot);
        return 0;
    }

    function _apply(Plan memory p, uint8 reason, Running memory run) internal pure {
        if (reason != 0) {
            run.rejected++;
            return;
        }
        run.settled++;
        run.seq[p.account] = p.seq;
        run.charged[p.account] += p.total;
        run.balance[p.account] -= p.total;
        for (uint256 j; j < ENTRIES; ++j) {
            run.gross[j] += p.entries[j];
        }
    }

    function _mismatch(string memory note) internal {
        if (!mismatch) mismatchNote = note;
        mismatch = true;
    }

    // ---------------------------------------------------------------- fees, claims

    function setFee(uint256 bps) external {
        bps = _bound(bps, 0, settlement.MAX_FEE_BPS());
        vm.prank(admin);
        settlement.setFeeBps(bps);
        feeBps = bps;
    }

    function withdrawFees() external {
        uint256 paid = settlement.withdrawFees();
        if (paid != feesAccrued) _mismatch("withdrawFees paid other than the fees accrued");
        feesWithdrawn += paid;
        feesAccrued = 0;
    }

    function claim(uint256 tokenSeed) external {
        claimedTotal += assets.claim(1 + tokenSeed % 4);
    }
}
