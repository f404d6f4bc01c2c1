// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title Types of KipLicences (one-time licences to a slot's files, per version).
interface IKipLicencesTypes {
    /// @notice One version of a slot's licensed files, as its creator committed it.
    struct Version {
        uint128 price; // payment-token units, for a wallet that has paid nothing for the slot's licences
        uint128 upgradePrice; // payment-token units, the least a wallet that has paid for the slot pays (<= price)
        bytes32 termsHash; // keccak256 of the licence terms' UTF-8 text
        bytes32 filesHash; // hashFiles(the version's file list)
    }

    /// @notice One file of a version: what `hashFiles` commits to.
    struct FileEntry {
        string path; // the file's name within the version
        uint256 size; // bytes
        bytes32 sha256; // SHA-256 of the file's bytes
    }
}

/// @title Errors of KipLicences (with the values that failed).
interface IKipLicencesErrors {
    /// @dev Only the slot's creator may do this.
    error NotSlotCreator(uint256 slot, address caller, address creator);
    /// @dev `version` of `slot` was never published (versions are 1..count).
    error UnknownVersion(uint256 slot, uint256 version, uint256 count);
    /// @dev The price the buyer would pay is above the most they accept (the price changed, or a stale page).
    error PriceAboveMax(uint256 slot, uint256 version, uint256 price, uint256 maxPrice);
    /// @dev The buyer already holds a licence to this version.
    error AlreadyLicensed(uint256 slot, uint256 version, address buyer);
    /// @dev The slot is deactivated: its licences are not on sale.
    error SlotInactive(uint256 slot);
    /// @dev A price must be at most MAX_PRICE (type(uint64).max).
    error PriceTooHigh(uint256 price, uint256 max);
    /// @dev A version's upgrade price must not exceed its price.
    error UpgradePriceAbovePrice(uint256 upgradePrice, uint256 price);
    /// @dev The purchase would bring the slot's cumulative revenue past what licences may credit.
    error RevenueLimit(uint256 slot, uint256 revenue, uint256 limit);
    /// @dev A version must commit to its files.
    error EmptyFilesHash();
    /// @dev The settlement contract credits another KipAssets or pays in another token.
    error DeploymentMismatch(address assets, address settlementAssets);
}

/// @title Events of KipLicences (past tense, emitted right after the state change).
interface IKipLicencesEvents {
    /// @notice The creator of `slot` published `version` of its files.
    event VersionPublished(
        uint256 indexed slot,
        uint256 indexed version,
        uint256 price,
        uint256 upgradePrice,
        bytes32 termsHash,
        bytes32 filesHash
    );
    /// @notice The creator of `slot` changed the prices of `version`.
    event VersionPriceUpdated(uint256 indexed slot, uint256 indexed version, uint256 price, uint256 upgradePrice);
    /// @notice `buyer` bought a licence to `version` of `slot`: `price` paid, `fee` of it to the protocol,
    /// the rest credited to the slot's holders.
    event LicenceBought(
        uint256 indexed slot, uint256 indexed version, address indexed buyer, uint256 price, uint256 fee, bool upgrade
    );
    /// @notice Accrued licence fees were paid to the treasury.
    event FeesWithdrawn(address indexed treasury, uint256 amount);
}

/// @title KipLicences: one-time licences to the files of a slot's versions.
interface IKipLicences is IKipLicencesTypes, IKipLicencesErrors, IKipLicencesEvents {
    /// @notice Creator only: publishes the next version of the slot's files.
    function publishVersion(uint256 slot, uint256 price, uint256 upgradePrice, bytes32 termsHash, bytes32 filesHash)
        external
        returns (uint256 version);

    /// @notice Creator only: sets a version's prices.
    function setVersionPrice(uint256 slot, uint256 version, uint256 price, uint256 upgradePrice) external;

    /// @notice Buys a licence to `version` of `slot`, paying at most `maxPrice`.
    function buy(uint256 slot, uint256 version, uint256 maxPrice) external returns (uint256 paid);

    /// @notice Whether `buyer` holds a licence to `version` of `slot`.
    function hasLicence(uint256 slot, uint256 version, address buyer) external view returns (bool);
}
