// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @dev Packs per-query records the way docs/settlement-format.md defines them (and lib/protocol/records.ts
/// does in TypeScript): app:uint8 mask:uint32 tokensIn:uint32 tokensOut:uint32 recordHash:bytes32, then one
/// uint64 amount per set mask bit, in ascending bit order; big-endian, no padding.
library Records {
    struct Record {
        uint8 app; // index of the app in the voucher's slots
        uint32 mask; // bit i: voucher slot i was charged in this query
        uint32 tokensIn;
        uint32 tokensOut;
        bytes32 recordHash;
        uint64[] amounts; // one per set bit of mask, ascending
    }

    function pack(Record memory r) internal pure returns (bytes memory out) {
        require(popcount(r.mask) == r.amounts.length, "Records: one amount per mask bit");
        out = abi.encodePacked(r.app, r.mask, r.tokensIn, r.tokensOut, r.recordHash);
        for (uint256 i; i < r.amounts.length; ++i) {
            out = bytes.concat(out, abi.encodePacked(r.amounts[i]));
        }
    }

    function pack(Record[] memory rs) internal pure returns (bytes memory out) {
        for (uint256 i; i < rs.length; ++i) {
            out = bytes.concat(out, pack(rs[i]));
        }
    }

    /// @dev A record charging `amounts[i]` to slot index i for every i (0 included in the mask).
    function dense(uint8 app, uint64[] memory amounts, bytes32 recordHash)
        internal
        pure
        returns (Record memory r)
    {
        r.app = app;
        r.mask = uint32((uint256(1) << amounts.length) - 1);
        r.tokensIn = 1200;
        r.tokensOut = 300;
        r.recordHash = recordHash;
        r.amounts = amounts;
    }

    function popcount(uint256 x) internal pure returns (uint256 n) {
        for (; x != 0; x >>= 1) {
            n += x & 1;
        }
    }
}
