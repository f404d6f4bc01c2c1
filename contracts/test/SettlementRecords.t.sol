// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Test, console} from "forge-std/Test.sol";

import {SettlementRecords} from "../src/SettlementRecords.sol";
import {Records} from "./utils/Records.sol";

/// @dev Calls the optimized walk and its plain reference on calldata.
contract RecordsHarness {
    function walk(bytes calldata records, uint256 tableLength, uint256 unknown, bool adding, uint256[] memory gross)
        external
        view
        returns (SettlementRecords.Walk memory result, uint256[] memory after_)
    {
        if (gross.length != 256) gross = new uint256[](256);
        uint256 g = gasleft();
        result = SettlementRecords.walk(records, tableLength, gross);
        console.log("inner walk", g - gasleft());
        after_ = gross;
    }

    function walkReference(
        bytes calldata records,
        uint256 tableLength,
        uint256 unknown,
        bool adding,
        uint256[] memory gross
    ) external view returns (SettlementRecords.Walk memory result, uint256[] memory after_) {
        if (gross.length != 256) gross = new uint256[](256);
        uint256 g = gasleft();
        result = SettlementRecords.walkReference(records, tableLength, gross, adding);
        console.log("inner reference", g - gasleft());
        after_ = gross;
    }
}

contract SettlementRecordsTest is Test {
    RecordsHarness internal harness = new RecordsHarness();

    function standard(uint256 n) public pure returns (bytes memory out) {
        Records.Record memory r;
        r.app = 0;
        r.tokensIn = 1200;
        r.tokensOut = 300;
        r.indexes = new uint8[](3);
        r.amounts = new uint64[](3);
        r.indexes[0] = 0;
        r.indexes[1] = 1;
        r.indexes[2] = 2;
        r.amounts[0] = 20_000;
        r.amounts[1] = 12_000;
        r.amounts[2] = 5000;
        for (uint256 i; i < n; ++i) {
            r.recordHash = keccak256(abi.encode(i));
            out = bytes.concat(out, Records.pack(r));
        }
    }

    function test_gas_walk0() public view {
        Records.Record memory r;
        r.indexes = new uint8[](0);
        r.amounts = new uint64[](0);
        bytes memory out;
        for (uint256 i; i < 200; ++i) out = bytes.concat(out, Records.pack(r));
        harness.walk(out, 4, 0, true, new uint256[](0));
    }

    function test_gas_walk() public view {
        bytes memory records = standard(200);
        uint256 g = gasleft();
        harness.walk(records, 4, 0, true, new uint256[](0));
        console.log("walk, 200 records", g - gasleft());
        g = gasleft();
        harness.walkReference(records, 4, 0, true, new uint256[](0));
        console.log("reference, 200 records", g - gasleft());
    }
}

contract LoopProbe is Test {
    function probe(bytes calldata records) external view returns (uint256 count) {
        uint256 g = gasleft();
        uint256 length = records.length;
        uint256 p;
        while (p < length) {
            uint256 n;
            assembly { n := and(calldataload(add(records.offset, add(p, 10))), 0xff) }
            p = p + 42 + n * 9;
            ++count;
        }
        console.log("bare loop", g - gasleft());
        g = gasleft();
        unchecked { for (uint256 i; i < 200; ++i) { count += i; } }
        console.log("empty unchecked loop", g - gasleft());
    }
    function test_probe() public {
        SettlementRecordsTest t = new SettlementRecordsTest();
        bytes memory r = t.standard(200);
        this.probe(r);
    }
}
