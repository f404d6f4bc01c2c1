// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title BatchEncoder: packs sessions and receipts in the settlement batch format (docs/settlement-format.md).
/// @dev Test-only mirror of lib/protocol/batch.ts.
library BatchEncoder {
    struct SessionEntry {
        address payer;
        address key;
        uint128 spendCap;
        uint40 expiry;
        uint64 nonce;
        bytes signature; // empty: the session is already registered on chain
    }

    struct SlotEntry {
        uint64 id;
        uint96 price; // default maxAmount of charges of this slot
    }

    struct Charge {
        uint8 slotIndex;
        uint96 maxAmount;
        uint96 amount;
    }

    struct ReceiptEntry {
        uint8 sessionIndex;
        uint64 nonce;
        uint40 deadline;
        Charge[] charges;
        bytes signature; // r, s, v (65 bytes)
    }

    function encode(SessionEntry[] memory sessions, SlotEntry[] memory slotTable, ReceiptEntry[] memory receipts)
        internal
        pure
        returns (bytes memory out)
    {
        bytes[] memory parts = new bytes[](1 + sessions.length + receipts.length);
        parts[0] = abi.encodePacked(uint8(sessions.length), uint8(slotTable.length));
        for (uint256 i; i < sessions.length; ++i) {
            SessionEntry memory s = sessions[i];
            parts[i + 1] = abi.encodePacked(
                s.payer, s.key, s.spendCap, s.expiry, s.nonce, uint8(s.signature.length), s.signature
            );
        }
        bytes memory table;
        for (uint256 i; i < slotTable.length; ++i) {
            table = abi.encodePacked(table, slotTable[i].id, slotTable[i].price);
        }
        bytes memory previous;
        for (uint256 i; i < receipts.length; ++i) {
            bytes memory charges = encodeCharges(receipts[i], slotTable);
            ReceiptEntry memory r = receipts[i];
            // The same charge set as the previous receipt is sent as n = 0 (a repeat).
            bool repeat = i > 0 && keccak256(charges) == keccak256(previous);
            parts[1 + sessions.length + i] = abi.encodePacked(
                r.sessionIndex, r.nonce, r.deadline, uint8(repeat ? 0 : r.charges.length), repeat ? bytes("") : charges, r.signature
            );
            previous = charges;
        }
        // header, sessions, slot table, receipts
        uint256 total = table.length;
        for (uint256 i; i < parts.length; ++i) {
            total += parts[i].length;
        }
        out = new bytes(total);
        uint256 at;
        for (uint256 i; i < parts.length; ++i) {
            at = _copy(out, at, parts[i]);
            if (i == sessions.length) at = _copy(out, at, table);
        }
    }

    /// @dev A charge is its slot index (6 bits) with flags: 0x80 an explicit maxAmount follows (else the
    /// slot's price), 0x40 an explicit amount follows (else amount = maxAmount).
    function encodeCharges(ReceiptEntry memory r, SlotEntry[] memory slotTable) internal pure returns (bytes memory out) {
        for (uint256 j; j < r.charges.length; ++j) {
            Charge memory c = r.charges[j];
            uint8 ref = c.slotIndex;
            bool explicitMax = c.slotIndex >= slotTable.length || c.maxAmount != slotTable[c.slotIndex].price;
            bool explicitAmount = c.amount != c.maxAmount;
            if (explicitMax) ref |= 0x80;
            if (explicitAmount) ref |= 0x40;
            out = abi.encodePacked(out, ref);
            if (explicitMax) out = abi.encodePacked(out, c.maxAmount);
            if (explicitAmount) out = abi.encodePacked(out, c.amount);
        }
    }

    function _copy(bytes memory dst, uint256 at, bytes memory src) private pure returns (uint256) {
        assembly ("memory-safe") {
            // Copy src's bytes into dst at byte offset `at`.
            mcopy(add(add(dst, 0x20), at), add(src, 0x20), mload(src))
        }
        return at + src.length;
    }
}
