// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title The packed query records of a KipSettlement item (docs/settlement-format.md).
/// @notice record := app:uint8 tokensIn:uint24 tokensOut:uint24 recordHash:bytes32 count:uint8
///                   (index:uint8 amount:uint64) * count
/// big-endian, no padding (40 bytes + 9 per charge). `app` and each `index` point into the batch's slot
/// table. The token counts and the record hash are for readers of the calldata; the contract skips them.
/// `walk` reads a record's 32-byte words with `calldataload`; `walkReference` is the same walk in plain
/// Solidity, and a differential fuzz test (contracts/test/SettlementRecords.t.sol) holds the two to the
/// same results on any input.
library SettlementRecords {
    /// @dev A record's fixed part: app 1, tokensIn 3, tokensOut 3, recordHash 32, count 1.
    uint256 internal constant HEAD_BYTES = 40;
    /// @dev One charge: index 1, amount 8.
    uint256 internal constant CHARGE_BYTES = 9;

    /// @notice What a walk over an item's records found.
    struct Walk {
        bool ok; // every record is whole and names only table entries
        uint256 count; // whole records read
        uint256 total; // sum of their amounts
        uint256 end; // bytes of whole records, all applied to `gross` (all of `records` when ok)
    }

    /// @notice Adds each whole record's amounts to `gross[index]`, up to the first record that is cut short
    /// (`end` says how far that is). `ok` is false if a record is cut short, or `app` or an index is at or
    /// past `tableLength`. `gross` has 256 entries (any one-byte index fits); only the first `tableLength`
    /// are the table, and an item whose walk is not ok is taken out again (`walkReference`, subtracting).
    /// @dev A sum of fewer than 2**32 amounts below 2**64 cannot overflow.
    function walk(bytes calldata records, uint256 tableLength, uint256[] memory gross)
        internal
        pure
        returns (Walk memory result)
    {
        require(gross.length == 256 && tableLength <= 256);
        assembly ("memory-safe") {
            let p := records.offset // the next record, as an absolute calldata offset
            let end := add(p, records.length)
            let entries := add(gross, 0x20)
            let count := 0
            let total := 0
            let named := 0 // bit j: a record names entry j (as its app or with an amount)
            for {} lt(p, end) {} {
                // A record cut short in its head also ends past `end` here (to >= p + 40); what the loads
                // read past `end` is then never used.
                let c := add(p, 40)
                let to := add(c, mul(shr(248, calldataload(add(p, 39))), 9)) // count: byte 39
                if gt(to, end) { break }
                named := or(named, shl(shr(248, calldataload(p)), 1))
                for {} lt(c, to) { c := add(c, 9) } {
                    let word := calldataload(c)
                    let index := shr(248, word)
                    let amount := shr(192, shl(8, word))
                    let entry := add(entries, shl(5, index))
                    mstore(entry, add(mload(entry), amount))
                    total := add(total, amount)
                    named := or(named, shl(index, 1))
                }
                p := to
                count := add(count, 1)
            }
            // Entries at or past the table: shr(tableLength, named) (a table of 256 leaves none).
            mstore(result, and(eq(p, end), iszero(shr(tableLength, named))))
            mstore(add(result, 0x20), count)
            mstore(add(result, 0x40), total)
            mstore(add(result, 0x60), sub(p, records.offset))
        }
    }

    /// @notice `walk` in plain Solidity, adding or (`adding` false) subtracting: the reference the optimized
    /// walk is tested against, and how a rejected item's amounts are taken out of `gross` again.
    /// @dev The caller subtracts exactly what an earlier add applied (the same records up to `end`), so
    /// `gross[index] - amount` cannot underflow.
    function walkReference(bytes calldata records, uint256 tableLength, uint256[] memory gross, bool adding)
        internal
        pure
        returns (Walk memory result)
    {
        require(gross.length == 256 && tableLength <= 256);
        uint256 length = records.length;
        uint256 p;
        bool inTable = true;
        while (p < length) {
            if (length - p < HEAD_BYTES) break;
            uint256 next = p + HEAD_BYTES + uint8(records[p + HEAD_BYTES - 1]) * CHARGE_BYTES;
            if (next > length) break;
            if (uint8(records[p]) >= tableLength) inTable = false;
            for (uint256 c = p + HEAD_BYTES; c < next; c += CHARGE_BYTES) {
                uint256 index = uint8(records[c]);
                uint256 amount = uint64(bytes8(records[c + 1:c + CHARGE_BYTES]));
                if (adding) gross[index] += amount;
                else gross[index] -= amount;
                result.total += amount;
                if (index >= tableLength) inTable = false;
            }
            p = next;
            ++result.count;
        }
        result.ok = p == length && inTable;
        result.end = p;
    }

    /// @notice Whether a whole record pays a non-zero amount to an entry flagged in `unknown` (bit j: table
    /// entry j is a slot that does not exist). Plain Solidity: it only runs when the table has such an entry.
    function paysUnknown(bytes calldata records, uint256 unknown) internal pure returns (bool) {
        uint256 length = records.length;
        uint256 p;
        while (length - p >= HEAD_BYTES) {
            uint256 next = p + HEAD_BYTES + uint8(records[p + HEAD_BYTES - 1]) * CHARGE_BYTES;
            if (next > length) break;
            for (uint256 c = p + HEAD_BYTES; c < next; c += CHARGE_BYTES) {
                uint256 index = uint8(records[c]);
                if (uint64(bytes8(records[c + 1:c + CHARGE_BYTES])) != 0 && (unknown >> index) & 1 == 1) return true;
            }
            p = next;
        }
        return false;
    }
}
