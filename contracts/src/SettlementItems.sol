// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title The packed items of a KipSettlement batch (docs/settlement-format.md).
/// @notice `settle(bytes batch, uint256[] slots)`: `batch` is the concatenation of items, each big-endian,
/// no padding:
///
///   offset  bytes  field
///        0     20  payer
///       20     20  key               the session key
///       40     12  spendCap          uint96
///       52      5  expiry            uint40, unix seconds
///       57      8  nonce             uint64
///       65      5  seq               uint40
///       70      5  issuedAt          uint40, unix seconds
///       75     12  cumulativeMax     uint96
///       87     32  charges           bytes32
///      119     32  r                 the key's voucher signature, EIP-2098 (r, yParity and s)
///      151     32  vs
///      183      2  sigLength         uint16
///      185      L  sessionSignature  the payer's: 64 bytes EIP-2098 (r, vs) for an EOA; what its ERC-1271
///                                    wallet accepts otherwise; may be empty once the wallet approved
///    185+L      3  recordsLength     uint24
///    188+L      R  records           SettlementRecords
///
/// The session's operator is not in the item: it is the caller of `settle`. An item cut short reverts the
/// whole call (MalformedBatch: the sender's encoding error, not an item's content). `read` reads an item
/// with `calldataload`; `readReference` is the same in plain Solidity (calldata slices), and a differential
/// fuzz test (contracts/test/SettlementItems.t.sol) holds the two to the same results on any input.
library SettlementItems {
    /// @dev Bytes before the payer's signature: the fixed fields and sigLength.
    uint256 internal constant HEAD_BYTES = 185;
    /// @dev The length of an EOA payer's session signature (EIP-2098).
    uint256 internal constant COMPACT_SIGNATURE_BYTES = 64;
    /// @dev Low-s bound (secp256k1 order / 2) and the mask taking s out of an EIP-2098 vs.
    uint256 internal constant HALF_ORDER = 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0;
    uint256 internal constant S_MASK = type(uint256).max >> 1;

    /// @notice An item's fields, and where its signature and records are in the batch.
    struct Item {
        address payer;
        address key;
        uint256 spendCap;
        uint256 expiry;
        uint256 nonce;
        uint256 seq;
        uint256 issuedAt;
        uint256 cumulativeMax;
        bytes32 charges;
        bytes32 r;
        bytes32 vs;
        bytes32 sessionR; // a 64-byte sessionSignature's two words (0 for any other length)
        bytes32 sessionVs;
        uint256 signature; // batch offset of sessionSignature (its length: records - 3 - signature)
        uint256 records; // batch offset of the records
        uint256 end; // batch offset just past the item: the next item's
    }

    /// @notice The item at `itemOffset` of the batch ends past the batch.
    error MalformedBatch(uint256 itemOffset);

    /// @notice Reads the item at `p` of `batch` (p <= batch.length) into `item`; returns the offset of the
    /// next item (`item.end`). Reverts with MalformedBatch if the item ends past the batch.
    function read(bytes calldata batch, uint256 p, Item memory item) internal pure returns (uint256 end) {
        uint256 length = batch.length;
        if (p > length || length - p < HEAD_BYTES) revert MalformedBatch(p);
        uint256 records;
        assembly ("memory-safe") {
            // Every field below lies in the item's first HEAD_BYTES, inside the batch (checked above); a
            // load may run past the field, and the shift drops what it read beyond.
            let c := add(batch.offset, p)
            mstore(item, shr(96, calldataload(c))) // payer: 20 bytes
            mstore(add(item, 0x20), shr(96, calldataload(add(c, 20)))) // key: 20
            mstore(add(item, 0x40), shr(160, calldataload(add(c, 40)))) // spendCap: 12
            mstore(add(item, 0x60), shr(216, calldataload(add(c, 52)))) // expiry: 5
            mstore(add(item, 0x80), shr(192, calldataload(add(c, 57)))) // nonce: 8
            mstore(add(item, 0xa0), shr(216, calldataload(add(c, 65)))) // seq: 5
            mstore(add(item, 0xc0), shr(216, calldataload(add(c, 70)))) // issuedAt: 5
            mstore(add(item, 0xe0), shr(160, calldataload(add(c, 75)))) // cumulativeMax: 12
            mstore(add(item, 0x100), calldataload(add(c, 87))) // charges
            mstore(add(item, 0x120), calldataload(add(c, 119))) // r
            mstore(add(item, 0x140), calldataload(add(c, 151))) // vs
            // records: past the signature (sigLength, 2 bytes at 183) and recordsLength (3 bytes).
            records := add(add(p, HEAD_BYTES), add(shr(240, calldataload(add(c, 183))), 3))
        }
        if (length < records) revert MalformedBatch(p);
        uint256 signatureLength = records - 3 - (p + HEAD_BYTES);
        assembly ("memory-safe") {
            let c := add(batch.offset, p)
            end := add(records, shr(232, calldataload(add(batch.offset, sub(records, 3))))) // recordsLength
            let compact := eq(signatureLength, COMPACT_SIGNATURE_BYTES)
            // A 64-byte signature lies inside the batch (records <= length); any other length reads as 0.
            mstore(add(item, 0x160), mul(compact, calldataload(add(c, HEAD_BYTES))))
            mstore(add(item, 0x180), mul(compact, calldataload(add(c, add(HEAD_BYTES, 32)))))
            mstore(add(item, 0x1a0), add(p, HEAD_BYTES))
            mstore(add(item, 0x1c0), records)
            mstore(add(item, 0x1e0), end)
        }
        if (length < end) revert MalformedBatch(p);
    }

    /// @notice `read` in plain Solidity: the reference it is tested against.
    function readReference(bytes calldata batch, uint256 p, Item memory item)
        internal
        pure
        returns (uint256 end)
    {
        uint256 length = batch.length;
        if (p > length || length - p < HEAD_BYTES) revert MalformedBatch(p);
        bytes calldata head = batch[p:p + HEAD_BYTES];
        item.payer = address(bytes20(head[0:20]));
        item.key = address(bytes20(head[20:40]));
        item.spendCap = uint96(bytes12(head[40:52]));
        item.expiry = uint40(bytes5(head[52:57]));
        item.nonce = uint64(bytes8(head[57:65]));
        item.seq = uint40(bytes5(head[65:70]));
        item.issuedAt = uint40(bytes5(head[70:75]));
        item.cumulativeMax = uint96(bytes12(head[75:87]));
        item.charges = bytes32(head[87:119]);
        item.r = bytes32(head[119:151]);
        item.vs = bytes32(head[151:183]);
        uint256 signature = p + HEAD_BYTES;
        uint256 records = signature + uint16(bytes2(head[183:185])) + 3;
        if (length < records) revert MalformedBatch(p);
        end = records + uint24(bytes3(batch[records - 3:records]));
        if (records - 3 - signature == COMPACT_SIGNATURE_BYTES) {
            item.sessionR = bytes32(batch[signature:signature + 32]);
            item.sessionVs = bytes32(batch[signature + 32:signature + 64]);
        } else {
            item.sessionR = 0;
            item.sessionVs = 0;
        }
        item.signature = signature;
        item.records = records;
        item.end = end;
        if (length < end) revert MalformedBatch(p);
    }

    /// @notice The item's session id: the EIP-712 struct hash of {payer, key, operator, spendCap, expiry,
    /// nonce} under `typehash`, hashed in scratch memory (the free memory pointer is not advanced). Equals
    /// `sessionIdReference` (fuzzed).
    function sessionId(Item memory item, bytes32 typehash, address operator)
        internal
        pure
        returns (bytes32 id)
    {
        assembly ("memory-safe") {
            let m := mload(0x40)
            mstore(m, typehash)
            mstore(add(m, 0x20), mload(item)) // payer
            mstore(add(m, 0x40), mload(add(item, 0x20))) // key
            mstore(add(m, 0x60), operator)
            mcopy(add(m, 0x80), add(item, 0x40), 0x60) // spendCap, expiry, nonce
            id := keccak256(m, 0xe0)
        }
    }

    /// @notice `sessionId` in plain Solidity.
    function sessionIdReference(Item memory item, bytes32 typehash, address operator)
        internal
        pure
        returns (bytes32)
    {
        return keccak256(
            abi.encode(typehash, item.payer, item.key, operator, item.spendCap, item.expiry, item.nonce)
        );
    }

    /// @notice The EIP-712 struct hash of the item's voucher {session, seq, issuedAt, cumulativeMax, charges}
    /// under `typehash`, hashed in scratch memory. Equals `voucherHashReference` (fuzzed).
    function voucherHash(Item memory item, bytes32 typehash, bytes32 session)
        internal
        pure
        returns (bytes32 h)
    {
        assembly ("memory-safe") {
            let m := mload(0x40)
            mstore(m, typehash)
            mstore(add(m, 0x20), session)
            mcopy(add(m, 0x40), add(item, 0xa0), 0x80) // seq, issuedAt, cumulativeMax, charges
            h := keccak256(m, 0xc0)
        }
    }

    /// @notice `voucherHash` in plain Solidity.
    function voucherHashReference(Item memory item, bytes32 typehash, bytes32 session)
        internal
        pure
        returns (bytes32)
    {
        return keccak256(
            abi.encode(typehash, session, item.seq, item.issuedAt, item.cumulativeMax, item.charges)
        );
    }

    /// @notice The signer of `digest` by the EIP-2098 signature (r, vs), or 0 if it has a high s (malleable)
    /// or does not recover: what OpenZeppelin's ECDSA.tryRecover(digest, r, vs) (the reference) recovers
    /// without an error, and 0 where that reports one; a fuzz test (contracts/test/SettlementItems.t.sol)
    /// holds the two together. The precompile is called directly in scratch memory: Solidity's `ecrecover`
    /// costs about 125 gas more, OpenZeppelin's about 400.
    function recover(bytes32 digest, bytes32 r, bytes32 vs) internal view returns (address signer) {
        uint256 s = uint256(vs) & S_MASK;
        if (s > HALF_ORDER) return address(0);
        uint256 v = (uint256(vs) >> 255) + 27;
        assembly ("memory-safe") {
            // The four words go at the free memory pointer (not advanced: scratch); the answer to 0x00.
            let m := mload(0x40)
            mstore(m, digest)
            mstore(add(m, 0x20), v)
            mstore(add(m, 0x40), r)
            mstore(add(m, 0x60), s)
            mstore(0x00, 0)
            // ecrecover (address 1) answers nothing for a signature that does not recover: signer stays 0.
            // The call itself fails only out of gas: revert then, as Solidity's `ecrecover` does, so that
            // too little gas never reads as a bad signature.
            if iszero(staticcall(gas(), 0x01, m, 0x80, 0x00, 0x20)) { revert(0, 0) }
            signer := mload(0x00)
        }
    }
}
