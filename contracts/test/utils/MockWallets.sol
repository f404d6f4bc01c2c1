// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IERC1271} from "@openzeppelin/contracts/interfaces/IERC1271.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";

/// @dev A smart-wallet payer: approves a hash signed by its owner key. The first 65 bytes of a signature are
/// the owner's ECDSA signature and any bytes after them are ignored, so tests can send other lengths.
/// `work` burns that much gas first, like a wallet with an expensive check.
contract SignerWallet is IERC1271 {
    address public immutable owner;
    uint256 public work;

    constructor(address owner_) {
        owner = owner_;
    }

    function setWork(uint256 work_) external {
        work = work_;
    }

    function isValidSignature(bytes32 hash, bytes calldata signature) external view returns (bytes4) {
        uint256 stop = gasleft() - work;
        while (gasleft() > stop) {}
        if (signature.length < 65) return 0xffffffff;
        (address signer, ECDSA.RecoverError error,) = ECDSA.tryRecoverCalldata(hash, signature[0:65]);
        return error == ECDSA.RecoverError.NoError && signer == owner
            ? IERC1271.isValidSignature.selector
            : bytes4(0);
    }
}

/// @dev A hostile payer: isValidSignature burns all the gas it is given.
contract GasBurnerWallet {
    function isValidSignature(bytes32, bytes calldata) external view returns (bytes4) {
        uint256 x;
        while (gasleft() > 0) x++;
        return bytes4(uint32(x));
    }
}

/// @dev A hostile payer: isValidSignature reverts with a long reason.
contract RevertingWallet {
    function isValidSignature(bytes32, bytes calldata) external pure returns (bytes4) {
        revert(string(new bytes(10_000)));
    }
}

/// @dev A hostile payer: answers the magic value followed by a huge return payload (a return-data bomb).
contract ReturnBombWallet {
    function isValidSignature(bytes32, bytes calldata) external pure returns (bytes4) {
        assembly {
            mstore(0x00, shl(224, 0x1626ba7e))
            return(0x00, 60000)
        }
    }
}

/// @dev A payer whose isValidSignature answers a wrong value (the magic value's right-aligned form).
contract WrongMagicWallet {
    function isValidSignature(bytes32, bytes calldata) external pure returns (bytes32) {
        return bytes32(uint256(uint32(IERC1271.isValidSignature.selector)));
    }
}

/// @dev A hostile payer that tells a gas estimate from the mined transaction: it approves any session at
/// once when the gas price is 0 (how eth_estimateGas and eth_call run for an account the node does not
/// sign for), and spends nearly all the gas it is given first when mined.
contract TwoFacedWallet {
    function isValidSignature(bytes32, bytes calldata) external view returns (bytes4) {
        if (tx.gasprice != 0) {
            while (gasleft() > 3000) {}
        }
        return IERC1271.isValidSignature.selector;
    }
}

/// @dev A hostile payer that approves any session when the gas price is 0 (a gas estimate, an eth_call:
/// what a server sees when it registers the session) and refuses it when mined.
contract EstimateOnlyWallet {
    function isValidSignature(bytes32, bytes calldata) external view returns (bytes4) {
        return tx.gasprice == 0 ? IERC1271.isValidSignature.selector : bytes4(0);
    }
}

/// @dev A hostile payer that approves any session, and when mined answers with as much data as its gas
/// buys (a return-data bomb: the caller pays to copy it into its own memory).
contract TwoFacedBombWallet {
    function isValidSignature(bytes32, bytes calldata) external view returns (bytes4) {
        if (tx.gasprice == 0) return IERC1271.isValidSignature.selector;
        assembly {
            mstore(0x00, shl(224, 0x1626ba7e))
            return(0x00, 190000)
        }
    }
}
