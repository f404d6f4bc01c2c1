// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {console} from "forge-std/console.sol";

import {KipSettlement} from "../src/KipSettlement.sol";
import {IKipAssetsTypes} from "../src/interfaces/IKipAssets.sol";
import {SettlementFixture} from "./utils/SettlementFixture.sol";

/// @dev Gas of `settle` on a realistic mix, and on the best case.
/// Realistic: 50 sessions (distinct payers) over 5 apps, each app with its own model slot choice and 2..4
/// datasets; 1..40 queries per session (deterministic, mean exactly 10); per query the app is charged its price,
/// the model its price plus metered tokens (different every query) and each dataset about half the time
/// (the others are left out of the record); each record carries the query's own token counts. Measured twice: the first settlement of fresh sessions and a
/// second settlement of the same accounts (the same work: v3 keeps no per-session state).
/// The numbers are gasleft() around the call (in GasMeter, the operator) with the contracts' storage made
/// cold (vm.cool), so they exclude the 21,000 base and calldata; "tx estimate" adds those (16/4 gas per
/// non-zero/zero byte). GasMeter's copy of the calldata into its memory (~3 gas a word) is included.
/// The TypeScript bench measures real transaction receipts on anvil. The batch is `settle(bytes, uint256[])`
/// with the items packed (SettlementItems), encoded by the fixture.
/// @dev The operator of the gas test: measures a call in its own (fresh, small) memory, so the numbers do not
/// include the test contract copying calldata to the end of its large memory.
contract GasMeter {
    function measure(address target, bytes calldata data)
        external
        returns (uint256 gasUsed, bytes memory result)
    {
        bool ok;
        uint256 before = gasleft();
        (ok, result) = target.call(data);
        gasUsed = before - gasleft();
        require(ok, "GasMeter: call reverted");
    }
}

/// @dev A call target that does nothing: what GasMeter spends on a call itself (the cold call, copying the
/// calldata into its memory), which a transaction calling the settlement directly does not.
contract Sink {
    fallback() external {}
}

contract SettlementGasTest is SettlementFixture {
    uint256 internal constant SESSIONS = 50;
    uint256 internal constant APPS = 5;
    uint256 internal constant MODELS = 2;
    uint256 internal constant DATASETS = 10;
    uint256 internal constant MODEL_PRICE = 2000;
    uint256 internal constant PRICE_PER_1K_IN = 300;
    uint256 internal constant PRICE_PER_1K_OUT = 1200;
    uint256 internal constant BUDGET_IN = 16_000;
    uint256 internal constant BUDGET_OUT = 1024;
    uint256 internal constant FUNDS = 100_000_000;

    // Slots of the realistic mix (the fixture's four are slots 1..4).
    uint256[APPS] internal _appSlots;
    uint256[MODELS] internal _modelSlots;
    uint256[DATASETS] internal _datasetSlots;

    GasMeter internal meter;

    function setUp() public {
        _deploy();
        meter = new GasMeter();
        operator = address(meter); // sessions name the meter, which sends the settlements
        vm.startPrank(creator);
        for (uint256 i; i < APPS; ++i) {
            (_appSlots[i],) = assets.list(IKipAssetsTypes.AssetKind.App, 10_000 + 1000 * i, "app", bytes32(i));
        }
        for (uint256 i; i < MODELS; ++i) {
            (_modelSlots[i],) = assets.list(IKipAssetsTypes.AssetKind.Model, MODEL_PRICE, "model", bytes32(i));
        }
        for (uint256 i; i < DATASETS; ++i) {
            (_datasetSlots[i],) =
                assets.list(IKipAssetsTypes.AssetKind.Dataset, 3000 + 500 * i, "data", bytes32(i));
        }
        vm.stopPrank();
        _warmUp();
    }

    /// @dev A live marketplace: every slot has earned before and fees have accrued, so the measured
    /// settlements do not pay for those storage words' first write.
    function _warmUp() internal {
        uint256 count = assets.slotCount();
        uint256[] memory slots = new uint256[](count);
        uint256[] memory maxes = new uint256[](count);
        uint256[] memory amounts = new uint256[](count);
        for (uint256 i; i < count; ++i) {
            slots[i] = i + 1;
            maxes[i] = 1000;
            amounts[i] = 1000;
        }
        _fund(_payer(99), operator, FUNDS);
        Tab memory t = _openTab(99, FUNDS);
        _query(t, slots, maxes, amounts);
        (uint256 gasUsed, bytes memory result) =
            meter.measure(address(settlement), abi.encodeCall(KipSettlement.settle, (_encode(_items1(_item(t))), _table())));
        (uint256 settled,) = abi.decode(result, (uint256, uint256));
        assertEq(settled, 1);
        assertGt(gasUsed, 0);
    }

    // ---------------------------------------------------------------- the realistic mix

    /// @dev App a's slots: [app, model, 2..4 datasets].
    function _appSlotList(uint256 a) internal view returns (uint256[] memory slots) {
        uint256 datasets = 2 + a % 3;
        slots = new uint256[](2 + datasets);
        slots[0] = _appSlots[a];
        slots[1] = _modelSlots[a % MODELS];
        for (uint256 d; d < datasets; ++d) {
            slots[2 + d] = _datasetSlots[(a * 3 + d * 2) % DATASETS];
        }
    }

    /// @dev Queries per session in every round: on average exactly MEAN_QUERIES.
    uint256 internal constant MEAN_QUERIES = 10;

    /// @dev Drawn queries of session s in round `round`: 1..40 (one in ten a long conversation of 21..40,
    /// else 1..15), mean ~10.25 before `_queryCounts` corrects the sum.
    function _drawQueries(uint256 s, uint256 round) internal pure returns (uint256) {
        uint256 r = uint256(keccak256(abi.encode("queries", s, round)));
        if (r % 10 == 0) return 21 + (r >> 8) % 20; // a long conversation: 21..40
        return 1 + (r >> 16) % 8 + (r >> 24) % 8; // 1..15
    }

    /// @dev The queries of each session in round `round`: the draws, then one query taken from (or added to)
    /// the sessions in turn, skipping any at 1 (or 40), until they sum to exactly SESSIONS * MEAN_QUERIES.
    function _queryCounts(uint256 round) internal pure returns (uint256[] memory counts) {
        counts = new uint256[](SESSIONS);
        uint256 sum;
        for (uint256 s; s < SESSIONS; ++s) {
            counts[s] = _drawQueries(s, round);
            sum += counts[s];
        }
        uint256 target = SESSIONS * MEAN_QUERIES;
        for (uint256 s; sum != target; s = (s + 1) % SESSIONS) {
            if (sum > target && counts[s] > 1) {
                --counts[s];
                --sum;
            } else if (sum < target && counts[s] < 40) {
                ++counts[s];
                ++sum;
            }
        }
    }

    /// @dev One metered query of app a on tab t.
    function _meteredQuery(Tab memory t, uint256 a, uint256 seed) internal view {
        uint256[] memory slots = _appSlotList(a);
        uint256 n = slots.length;
        uint256[] memory maxes = new uint256[](n);
        uint256[] memory amounts = new uint256[](n);
        maxes[0] = 10_000 + 1000 * a;
        maxes[1] = MODEL_PRICE + BUDGET_IN * PRICE_PER_1K_IN / 1000 + BUDGET_OUT * PRICE_PER_1K_OUT / 1000;
        amounts[0] = maxes[0];
        uint256 tokensIn = 500 + (seed >> 32) % 3500;
        uint256 tokensOut = 50 + (seed >> 64) % 975;
        // Rounded up to a whole base unit per direction.
        amounts[1] = MODEL_PRICE + (tokensIn * PRICE_PER_1K_IN + 999) / 1000 + (tokensOut * PRICE_PER_1K_OUT + 999) / 1000;
        for (uint256 d = 2; d < n; ++d) {
            maxes[d] = 3000 + 500 * ((slots[d] - _datasetSlots[0]));
            if ((seed >> d) & 1 == 1) amounts[d] = maxes[d];
        }
        // The record carries the query's own token counts.
        _queryTokens(t, slots, maxes, amounts, uint24(tokensIn), uint24(tokensOut));
    }

    function _round(Tab[] memory tabs, uint256 round) internal view returns (uint256 queries, uint256 gross) {
        uint256[] memory counts = _queryCounts(round);
        for (uint256 s; s < SESSIONS; ++s) {
            uint256 q = counts[s];
            for (uint256 j; j < q; ++j) {
                _meteredQuery(tabs[s], s % APPS, uint256(keccak256(abi.encode(round, s, j))));
            }
            queries += q;
            gross += tabs[s].pending;
        }
    }

    function _items(Tab[] memory tabs) internal view returns (Settlement[] memory items) {
        items = new Settlement[](tabs.length);
        for (uint256 s; s < tabs.length; ++s) {
            items[s] = _item(tabs[s]);
        }
    }

    /// @dev Settles `items` as the operator on cold storage; returns execution gas and the tx estimate.
    function _measure(Settlement[] memory items) internal returns (uint256 execution, uint256 txEstimate) {
        bytes memory data = abi.encodeCall(KipSettlement.settle, (_encode(items), _table()));
        uint256 calldataGas;
        for (uint256 i; i < data.length; ++i) {
            calldataGas += data[i] == 0 ? 4 : 16;
        }
        vm.cool(address(settlement));
        vm.cool(address(assets));
        vm.cool(address(usd));
        (uint256 gasUsed, bytes memory result) = meter.measure(address(settlement), data);
        execution = gasUsed;
        (uint256 settled, uint256 rejected) = abi.decode(result, (uint256, uint256));
        assertEq(settled, items.length, "every session settles");
        assertEq(rejected, 0);
        txEstimate = 21_000 + calldataGas + execution;
        console.log("  calldata bytes", data.length, "calldata gas", calldataGas);
        // For comparison with receipts: the same call to a contract that does nothing.
        Sink sink = new Sink();
        vm.cool(address(sink));
        (uint256 meterOnly,) = meter.measure(address(sink), data);
        console.log("  of it GasMeter's own call (not in a receipt)", meterOnly);
    }

    function test_gas_RealisticMix() public {
        Tab[] memory tabs = new Tab[](SESSIONS);
        for (uint256 s; s < SESSIONS; ++s) {
            _fund(_payer(100 + s), operator, FUNDS);
            tabs[s] = _openTab(100 + s, FUNDS);
        }
        uint256 revenueBefore = _totalRevenue();
        uint256 feesBefore = settlement.feesAccrued();

        (uint256 queries1, uint256 gross1) = _round(tabs, 1);
        assertEq(queries1, SESSIONS * MEAN_QUERIES, "the mix's mean is exactly MEAN_QUERIES");
        console.log("first settlement: sessions", SESSIONS, "queries", queries1);
        (uint256 exec1, uint256 tx1) = _measure(_items(tabs));
        _logPerQuery(exec1, tx1, queries1);
        for (uint256 s; s < SESSIONS; ++s) {
            assertEq(settlement.balanceOf(_payer(100 + s), operator), FUNDS - tabs[s].pending);
            _commit(tabs[s]);
            AccountState memory account = settlement.accountOf(_payer(100 + s), operator);
            assertEq(account.seq, tabs[s].seq);
            assertEq(account.charged, tabs[s].charged);
        }
        assertEq(_totalRevenue() - revenueBefore + settlement.feesAccrued() - feesBefore, gross1);

        (uint256 queries2, uint256 gross2) = _round(tabs, 2);
        assertEq(queries2, SESSIONS * MEAN_QUERIES);
        console.log("second settlement: sessions", SESSIONS, "queries", queries2);
        (uint256 exec2, uint256 tx2) = _measure(_items(tabs));
        _logPerQuery(exec2, tx2, queries2);
        assertEq(_totalRevenue() - revenueBefore + settlement.feesAccrued() - feesBefore, gross1 + gross2);
        for (uint256 s; s < SESSIONS; ++s) {
            assertEq(settlement.balanceOf(_payer(100 + s), operator), FUNDS - tabs[s].charged - tabs[s].pending);
        }
        assertEq(usd.balanceOf(address(settlement)), settlement.totalDeposits() + settlement.feesAccrued());
        // The goal (3,945 and 3,954 measured when this was written): a regression past it fails here.
        assertLe(tx1 / queries1, 4000, "first settlement gas per query");
        assertLe(tx2 / queries2, 4000, "second settlement gas per query");
    }

    // ---------------------------------------------------------------- the best case

    /// One session, many identical records (same app, model and two datasets, same amounts).
    function test_gas_BestCaseOneSessionIdenticalRecords() public {
        uint256 records = 200;
        uint256 appRevenue = assets.slotInfo(APP).revenue;
        _fund(_payer(0), operator, FUNDS);
        Tab memory t = _openTab(0, FUNDS);
        for (uint256 j; j < records; ++j) {
            _standardQuery(t);
        }
        console.log("best case, first settlement: 1 session, records", records);
        (uint256 exec1, uint256 tx1) = _measure(_items1(_item(t)));
        _logPerQuery(exec1, tx1, records);
        assertEq(settlement.balanceOf(_payer(0), operator), FUNDS - records * STANDARD_TOTAL);
        _commit(t);
        for (uint256 j; j < records; ++j) {
            _standardQuery(t);
        }
        console.log("best case, second settlement: 1 session, records", records);
        (uint256 exec2, uint256 tx2) = _measure(_items1(_item(t)));
        _logPerQuery(exec2, tx2, records);
        assertEq(settlement.balanceOf(_payer(0), operator), FUNDS - 2 * records * STANDARD_TOTAL);
        assertEq(assets.slotInfo(APP).revenue - appRevenue, 2 * records * 19_500);
        assertLe(tx2 / records, 2500, "best case gas per record");
    }

    // ---------------------------------------------------------------- listing and claiming

    function test_gas_ListAndClaim() public {
        _fund(_payer(0), operator, FUNDS);
        Tab memory t = _openTab(0, FUNDS);
        _standardQuery(t);
        _settleTab(t);
        vm.prank(creator);
        uint256 before = gasleft();
        assets.list(
            IKipAssetsTypes.AssetKind.Dataset,
            5000,
            "http://localhost:3000/api/metadata/slots/x.json",
            keccak256("x")
        );
        uint256 listGas = before - gasleft();
        vm.cool(address(assets));
        vm.cool(address(usd));
        uint256 claimable = assets.claimable(1);
        assertGe(claimable, 19_500);
        before = gasleft();
        uint256 paid = assets.claim(1);
        uint256 claimGas = before - gasleft();
        assertEq(paid, claimable);
        console.log("list execution gas", listGas);
        console.log("claim execution gas", claimGas);
    }

    // ---------------------------------------------------------------- helpers

    function _logPerQuery(uint256 execution, uint256 txEstimate, uint256 queries) internal pure {
        console.log("  execution gas", execution, "per query", execution / queries);
        console.log("  tx estimate  ", txEstimate, "per query", txEstimate / queries);
    }

    function _totalRevenue() internal view returns (uint256 total) {
        uint256 count = assets.slotCount();
        for (uint256 slot = 1; slot <= count; ++slot) {
            total += assets.slotInfo(slot).revenue;
        }
    }
}
