// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Test} from "forge-std/Test.sol";

import {SettlementRecords} from "../src/SettlementRecords.sol";
import {Records} from "./utils/Records.sol";

/// @dev Calls the optimized walk and its plain reference on calldata.
contract RecordsHarness {
    function walk(bytes calldata records, uint256 tableLength, uint256[] memory gross)
        external
        pure
        returns (SettlementRecords.Walk memory result, uint256[] memory after_)
    {
        result = SettlementRecords.walk(records, tableLength, gross);
        after_ = gross;
    }

    function walkReference(bytes calldata records, uint256 tableLength, uint256[] memory gross, bool adding)
        external
        pure
        returns (SettlementRecords.Walk memory result, uint256[] memory after_)
    {
        result = SettlementRecords.walkReference(records, tableLength, gross, adding);
        after_ = gross;
    }

    /// @dev Walks, then takes the walked part out again with the reference, as a rejected item does.
    function walkAndUndo(bytes calldata records, uint256 tableLength, uint256[] memory gross)
        external
        pure
        returns (uint256[] memory after_)
    {
        SettlementRecords.Walk memory result = SettlementRecords.walk(records, tableLength, gross);
        SettlementRecords.walkReference(records[:result.end], tableLength, gross, false);
        after_ = gross;
    }

    function walkGas(bytes calldata records, uint256 tableLength) external view returns (uint256 gasUsed) {
        uint256[] memory gross = new uint256[](256);
        uint256 before = gasleft();
        SettlementRecords.walk(records, tableLength, gross);
        gasUsed = before - gasleft();
    }
}

/// @dev SettlementRecords: the assembly walk equals its plain-Solidity reference on any input (records,
/// table length, gross already in the table), and undoing a walk with the reference restores gross.
contract SettlementRecordsTest is Test {
    RecordsHarness internal harness = new RecordsHarness();

    function _gross(uint256 seed) internal pure returns (uint256[] memory gross) {
        gross = new uint256[](256);
        for (uint256 j; j < 256; ++j) {
            // Earlier items' sums: anything below 2**128 (a batch total is below 2**112).
            gross[j] = uint256(keccak256(abi.encode(seed, j))) >> 129;
        }
    }

    function _assertSame(bytes memory records, uint256 tableLength, uint256 seed) internal view {
        (SettlementRecords.Walk memory a, uint256[] memory ga) =
            harness.walk(records, tableLength, _gross(seed));
        (SettlementRecords.Walk memory b, uint256[] memory gb) =
            harness.walkReference(records, tableLength, _gross(seed), true);
        assertEq(a.ok, b.ok, "ok");
        assertEq(a.count, b.count, "count");
        assertEq(a.total, b.total, "total");
        assertEq(a.end, b.end, "end");
        assertEq(keccak256(abi.encode(ga)), keccak256(abi.encode(gb)), "gross");
        uint256[] memory undone = harness.walkAndUndo(records, tableLength, _gross(seed));
        assertEq(keccak256(abi.encode(undone)), keccak256(abi.encode(_gross(seed))), "undo");
    }

    /// @dev Records built from a seed: well formed, naming entries 0..255, then perhaps cut or extended.
    function _records(uint256 seed, uint256 n) internal pure returns (bytes memory out) {
        for (uint256 i; i < n; ++i) {
            uint256 r = uint256(keccak256(abi.encode(seed, i)));
            Records.Record memory rec;
            rec.app = uint8(r);
            rec.tokensIn = uint24(r >> 8);
            rec.tokensOut = uint24(r >> 32);
            rec.recordHash = keccak256(abi.encode(r));
            uint256 charges = (r >> 56) % 7;
            rec.indexes = new uint8[](charges);
            rec.amounts = new uint64[](charges);
            for (uint256 k; k < charges; ++k) {
                uint256 c = uint256(keccak256(abi.encode(r, k)));
                // Mostly small indexes (inside a small table), sometimes any byte.
                rec.indexes[k] = c & 1 == 0 ? uint8((c >> 8) % 8) : uint8(c >> 8);
                rec.amounts[k] = c & 2 == 0 ? uint64(c >> 16) : uint64((c >> 16) % 100_000);
            }
            out = bytes.concat(out, Records.pack(rec));
        }
    }

    function testFuzz_walk_EqualsReferenceOnAnyBytes(bytes memory records, uint256 tableLength, uint256 seed)
        public
        view
    {
        _assertSame(records, bound(tableLength, 0, 256), seed);
    }

    function testFuzz_walk_EqualsReferenceOnRecords(uint256 seed, uint256 n, uint256 tableLength, uint256 cut)
        public
        view
    {
        bytes memory records = _records(seed, bound(n, 0, 12));
        tableLength = seed & 4 == 0 ? bound(tableLength, 0, 10) : bound(tableLength, 0, 256);
        _assertSame(records, tableLength, seed);
        // Cut short anywhere, or with extra bytes after the records.
        cut = bound(cut, 0, records.length);
        bytes memory shorter = new bytes(records.length - cut);
        for (uint256 i; i < shorter.length; ++i) {
            shorter[i] = records[i];
        }
        _assertSame(shorter, tableLength, seed);
        _assertSame(bytes.concat(records, bytes32(seed)), tableLength, seed);
    }

    /// @dev The documented layout: 40 bytes + 9 per charge; count at byte 39; app and indexes in the table.
    function test_walk_Layout() public view {
        bytes memory one = hex"02" hex"0003e8" hex"0000c8"
            hex"1111111111111111111111111111111111111111111111111111111111111111" hex"02" hex"01"
            hex"0000000000004e20" hex"03" hex"0000000000001388";
        assertEq(one.length, 40 + 18);
        (SettlementRecords.Walk memory w, uint256[] memory g) = harness.walk(one, 4, new uint256[](256));
        assertTrue(w.ok);
        assertEq(w.count, 1);
        assertEq(w.total, 20_000 + 5000);
        assertEq(w.end, one.length);
        assertEq(g[1], 20_000);
        assertEq(g[3], 5000);
        // Index 3 is past a table of 3; the app (2) is past a table of 2.
        (w,) = harness.walk(one, 3, new uint256[](256));
        assertFalse(w.ok);
        (w,) = harness.walk(bytes.concat(hex"02", _tail(one)), 2, new uint256[](256));
        assertFalse(w.ok);
    }

    function _tail(bytes memory b) internal pure returns (bytes memory out) {
        out = new bytes(b.length - 1);
        for (uint256 i; i < out.length; ++i) {
            out[i] = b[i + 1];
        }
    }

    function test_gas_walk() public {
        bytes memory records = _records(7, 100);
        emit log_named_uint("walk gas per record (mixed shapes)", harness.walkGas(records, 256) / 100);
    }
}
