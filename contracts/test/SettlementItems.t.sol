// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {Test} from "forge-std/Test.sol";

import {SettlementItems} from "../src/SettlementItems.sol";

/// @dev Calls the optimized item reader and its plain reference on calldata.
contract ItemsHarness {
    function read(bytes calldata batch, uint256 p)
        external
        pure
        returns (SettlementItems.Item memory item, uint256 end)
    {
        end = SettlementItems.read(batch, p, item);
    }

    function readReference(bytes calldata batch, uint256 p)
        external
        pure
        returns (SettlementItems.Item memory item, uint256 end)
    {
        end = SettlementItems.readReference(batch, p, item);
    }

    /// @dev Both hashes, optimized and reference, with the free memory pointer before and after (the
    /// optimized ones must not move it nor depend on what lies past it).
    function hashes(SettlementItems.Item memory item, bytes32 typehash, address operator, bytes32 dirt)
        external
        pure
        returns (bytes32[4] memory out, uint256 freeBefore, uint256 freeAfter)
    {
        assembly ("memory-safe") {
            freeBefore := mload(0x40)
            // Dirty the scratch the optimized hashes write to.
            for { let i := 0 } lt(i, 0x100) { i := add(i, 0x20) } { mstore(add(freeBefore, i), dirt) }
        }
        out[0] = SettlementItems.sessionId(item, typehash, operator);
        out[2] = SettlementItems.voucherHash(item, typehash, out[0]);
        assembly ("memory-safe") {
            freeAfter := mload(0x40)
        }
        out[1] = SettlementItems.sessionIdReference(item, typehash, operator);
        out[3] = SettlementItems.voucherHashReference(item, typehash, out[1]);
    }

    function recover(bytes32 digest, bytes32 r, bytes32 vs) external view returns (address) {
        return SettlementItems.recover(digest, r, vs);
    }

    /// @dev Gas of one `read` (the item struct allocated beforehand, as `settle` does).
    function readGas(bytes calldata batch, uint256 p) external view returns (uint256 gasUsed) {
        SettlementItems.Item memory item;
        uint256 before = gasleft();
        SettlementItems.read(batch, p, item);
        gasUsed = before - gasleft();
        before = gasleft();
        SettlementItems.read(batch, p, item);
        gasUsed = gasUsed * 1e6 + before - gasleft();
        before = gasleft();
        gasUsed = gasUsed * 1e6 + before - gasleft();
    }
}

/// @dev SettlementItems: the assembly reader equals its plain-Solidity reference on any bytes at any offset
/// (same fields or the same revert), and reads the documented layout.
contract SettlementItemsTest is Test {
    ItemsHarness internal harness = new ItemsHarness();

    function _call(bytes memory data) internal view returns (bool ok, bytes memory out) {
        (ok, out) = address(harness).staticcall(data);
    }

    function _assertSame(bytes memory batch, uint256 p) internal view {
        (bool okA, bytes memory a) = _call(abi.encodeCall(ItemsHarness.read, (batch, p)));
        (bool okB, bytes memory b) = _call(abi.encodeCall(ItemsHarness.readReference, (batch, p)));
        assertEq(okA, okB, "one reverted, the other did not");
        assertEq(a, b, "different fields or revert data");
    }

    /// @dev A well-formed item with the given signature and records lengths, then arbitrary trailing bytes.
    function _item(bytes32 seed, uint256 sigLength, uint256 recordsLength)
        internal
        pure
        returns (bytes memory out)
    {
        bytes memory head = new bytes(183);
        for (uint256 i; i < 183; ++i) {
            head[i] = bytes1(uint8(uint256(keccak256(abi.encode(seed, i)))));
        }
        bytes memory sig = new bytes(sigLength);
        for (uint256 i; i < sigLength; ++i) {
            sig[i] = bytes1(uint8(uint256(keccak256(abi.encode(seed, "s", i)))));
        }
        out = bytes.concat(
            head, bytes2(uint16(sigLength)), sig, bytes3(uint24(recordsLength)), new bytes(recordsLength)
        );
    }

    function testFuzz_read_EqualsReferenceOnAnyBytes(bytes memory batch, uint256 p) public view {
        p = bound(p, 0, batch.length + 2);
        _assertSame(batch, p);
    }

    function testFuzz_read_EqualsReferenceOnItems(
        bytes32 seed,
        uint256 sigLength,
        uint256 recordsLength,
        uint256 cut,
        uint256 prefix
    ) public view {
        sigLength = bound(sigLength, 0, 130);
        if (seed & bytes32(uint256(3)) == 0) sigLength = 64; // the EOA case, often
        recordsLength = bound(recordsLength, 0, 300);
        prefix = bound(prefix, 0, 70);
        bytes memory batch = bytes.concat(new bytes(prefix), _item(seed, sigLength, recordsLength));
        // Cut 0 (whole), or cut short anywhere: the tail of the batch is then missing.
        cut = bound(cut, 0, batch.length - prefix);
        bytes memory cutBatch = new bytes(batch.length - cut);
        for (uint256 i; i < cutBatch.length; ++i) {
            cutBatch[i] = batch[i];
        }
        _assertSame(cutBatch, prefix);
        _assertSame(bytes.concat(batch, _item(~seed, 64, 9)), prefix);
    }

    /// @dev The documented offsets and widths, and where the signature and records are.
    function test_read_Layout() public {
        address payer = address(0x1111111111111111111111111111111111111111);
        address key = address(0x2222222222222222222222222222222222222222);
        bytes memory records = hex"aabbcc";
        bytes memory sig = bytes.concat(bytes32(uint256(0xe1)), bytes32(uint256(0xe2)));
        bytes memory item = bytes.concat(
            abi.encodePacked(
                payer,
                key,
                uint96(type(uint96).max - 1),
                uint40(type(uint40).max - 2),
                uint64(type(uint64).max - 3)
            ),
            abi.encodePacked(
                uint40(7), uint40(8), uint96(9), bytes32("charges"), bytes32("r"), bytes32("vs")
            ),
            abi.encodePacked(uint16(64), sig, uint24(3), records)
        );
        bytes memory batch = bytes.concat(hex"00", item, hex"ff");
        (SettlementItems.Item memory it, uint256 end) = harness.read(batch, 1);
        assertEq(it.payer, payer);
        assertEq(it.key, key);
        assertEq(it.spendCap, type(uint96).max - 1);
        assertEq(it.expiry, type(uint40).max - 2);
        assertEq(it.nonce, type(uint64).max - 3);
        assertEq(it.seq, 7);
        assertEq(it.issuedAt, 8);
        assertEq(it.cumulativeMax, 9);
        assertEq(it.charges, bytes32("charges"));
        assertEq(it.r, bytes32("r"));
        assertEq(it.vs, bytes32("vs"));
        assertEq(it.sessionR, bytes32(uint256(0xe1)));
        assertEq(it.sessionVs, bytes32(uint256(0xe2)));
        assertEq(it.signature, 1 + 185);
        assertEq(it.records, 1 + 185 + 64 + 3);
        assertEq(end, 1 + item.length);
        assertEq(it.end, end);
        _assertSame(batch, 1);
        // Cut one byte short: MalformedBatch(1).
        bytes memory cut = new bytes(item.length);
        for (uint256 i; i < cut.length; ++i) {
            cut[i] = batch[i];
        }
        vm.expectRevert(abi.encodeWithSelector(SettlementItems.MalformedBatch.selector, 1));
        harness.read(cut, 1);
        // A signature of another length reads as no words.
        bytes memory sig65 = bytes.concat(sig, hex"1b");
        item = bytes.concat(
            abi.encodePacked(payer, key, uint96(1), uint40(1), uint64(1)),
            abi.encodePacked(uint40(1), uint40(1), uint96(1), bytes32(0), bytes32(0), bytes32(0)),
            abi.encodePacked(uint16(65), sig65, uint24(0))
        );
        (it, end) = harness.read(item, 0);
        assertEq(it.sessionR, 0);
        assertEq(it.sessionVs, 0);
        assertEq(end, item.length);
    }

    /// @dev The session id and voucher hash computed in scratch memory equal their abi.encode references, on
    /// any field values and whatever the scratch held, and leave the free memory pointer where it was.
    function testFuzz_hashes_EqualReference(
        SettlementItems.Item memory item,
        bytes32 typehash,
        address operator,
        bytes32 dirt
    ) public view {
        (bytes32[4] memory out, uint256 freeBefore, uint256 freeAfter) =
            harness.hashes(item, typehash, operator, dirt);
        assertEq(out[0], out[1], "session id");
        assertEq(out[2], out[3], "voucher hash");
        assertEq(freeAfter, freeBefore, "free memory pointer");
    }

    /// @dev `recover` returns what OpenZeppelin's tryRecover recovers without an error, and 0 where it reports
    /// one: on valid signatures, their high-s twins, either parity, and arbitrary words.
    function _assertRecoverLikeOz(bytes32 digest, bytes32 r, bytes32 vs) internal view {
        (address expected, ECDSA.RecoverError error,) = ECDSA.tryRecover(digest, r, vs);
        if (error != ECDSA.RecoverError.NoError) expected = address(0);
        assertEq(harness.recover(digest, r, vs), expected);
    }

    function testFuzz_recover_EqualsOpenZeppelin(uint256 pk, bytes32 digest, bytes32 r, bytes32 vs)
        public
        view
    {
        _assertRecoverLikeOz(digest, r, vs);
        pk = bound(pk, 1, 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364140);
        (uint8 v, bytes32 r_, bytes32 s) = vm.sign(pk, digest);
        bytes32 compact = bytes32(uint256(s) | (uint256(v - 27) << 255));
        assertEq(harness.recover(digest, r_, compact), vm.addr(pk));
        _assertRecoverLikeOz(digest, r_, compact);
        _assertRecoverLikeOz(digest, r_, compact ^ bytes32(uint256(1) << 255)); // the other parity
        uint256 highS = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141 - uint256(s);
        _assertRecoverLikeOz(digest, r_, bytes32(highS | (uint256(v == 27 ? 1 : 0) << 255)));
        // The high-s twin, where EIP-2098 can carry it (s' below 2**255), is refused.
        if (highS >> 255 == 0) {
            assertEq(
                harness.recover(digest, r_, bytes32(highS | (uint256(v == 27 ? 1 : 0) << 255))), address(0)
            );
        }
        _assertRecoverLikeOz(digest, 0, compact);
        _assertRecoverLikeOz(digest, r_, 0);
    }

    function test_gas_read() public {
        bytes memory item = _item(bytes32("x"), 64, 700);
        emit log_named_uint("read gas", harness.readGas(item, 0));
    }
}
