// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC721} from "@openzeppelin/contracts/token/ERC721/IERC721.sol";
import {IERC721Metadata} from "@openzeppelin/contracts/token/ERC721/extensions/IERC721Metadata.sol";

/// @title ERC-3525 semi-fungible token (EIP-3525). ERC-165 id 0xd5358140.
/// @dev Declared as in the EIP so that `type(IERC3525).interfaceId` is the standard id; functions are
/// nonpayable here (mutability is not part of the id) so no ether can get stuck in the token.
interface IERC3525 is IERC721 {
    /// @notice Value moved from one token to another (0 as `_fromTokenId` on mint).
    event TransferValue(uint256 indexed _fromTokenId, uint256 indexed _toTokenId, uint256 _value);

    /// @notice The value allowance of `_operator` on `_tokenId` was set to `_value`.
    event ApprovalValue(uint256 indexed _tokenId, address indexed _operator, uint256 _value);

    /// @notice The slot of `_tokenId` changed (from 0 on mint).
    event SlotChanged(uint256 indexed _tokenId, uint256 indexed _oldSlot, uint256 indexed _newSlot);

    /// @notice Number of decimals the token values use.
    function valueDecimals() external view returns (uint8);

    /// @notice The value held by `_tokenId`.
    function balanceOf(uint256 _tokenId) external view returns (uint256);

    /// @notice The slot `_tokenId` belongs to.
    function slotOf(uint256 _tokenId) external view returns (uint256);

    /// @notice Allows `_operator` to move up to `_value` out of `_tokenId`.
    function approve(uint256 _tokenId, address _operator, uint256 _value) external;

    /// @notice The value `_operator` may still move out of `_tokenId`.
    function allowance(uint256 _tokenId, address _operator) external view returns (uint256);

    /// @notice Moves `_value` from `_fromTokenId` to `_toTokenId` (same slot).
    function transferFrom(uint256 _fromTokenId, uint256 _toTokenId, uint256 _value) external;

    /// @notice Moves `_value` from `_fromTokenId` into a new token of the same slot owned by `_to`.
    function transferFrom(uint256 _fromTokenId, address _to, uint256 _value) external returns (uint256);
}

/// @title ERC-3525 metadata extension. ERC-165 id 0xe1600902.
interface IERC3525Metadata is IERC3525, IERC721Metadata {
    /// @notice URI of the contract-level metadata.
    function contractURI() external view returns (string memory);

    /// @notice URI of the metadata of `_slot`.
    function slotURI(uint256 _slot) external view returns (string memory);
}

/// @title ERC-3525 token receiver. ERC-165 id 0x009ce20b.
interface IERC3525Receiver {
    /// @notice Called after value moved into a token owned by this contract; must return 0x009ce20b.
    function onERC3525Received(
        address _operator,
        uint256 _fromTokenId,
        uint256 _toTokenId,
        uint256 _value,
        bytes calldata _data
    ) external returns (bytes4);
}
