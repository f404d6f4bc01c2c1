// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @dev Packs per-query records the way docs/settlement-format.md defines them (and lib/protocol/records.ts
/// does in TypeScript): app:uint8 tokensIn:uint24 tokensOut:uint24 recordHash:bytes32 count:uint8, then
/// count x (index:uint8 amount:uint64); big-endian, no padding. `app` and each `index` point into the
/// batch's slot table.
library Records {
    struct Record {
        uint8 app;
        uint24 tokensIn;
        uint24 tokensOut;
        bytes32 recordHash;
        uint8[] indexes;
        uint64[] amounts; // amounts[k] paid to table entry indexes[k]
    }

    function pack(Record memory r) internal pure returns (bytes memory out) {
        require(r.indexes.length == r.amounts.length && r.indexes.length < 256, "Records: one amount per index");
        out = abi.encodePacked(r.app, r.tokensIn, r.tokensOut, r.recordHash, uint8(r.indexes.length));
        for (uint256 k; k < r.indexes.length; ++k) {
            out = bytes.concat(out, abi.encodePacked(r.indexes[k], r.amounts[k]));
        }
    }

    function pack(Record[] memory rs) internal pure returns (bytes memory out) {
        for (uint256 i; i < rs.length; ++i) {
            out = bytes.concat(out, pack(rs[i]));
        }
    }
}
