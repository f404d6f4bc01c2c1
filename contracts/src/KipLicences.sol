// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

import {IKipAssets, IKipAssetsTypes} from "./interfaces/IKipAssets.sol";
import {IKipLicences} from "./interfaces/IKipLicences.sol";
import {IKipSettlement} from "./interfaces/IKipSettlement.sol";

/// @title KipLicences: one-time licences to a dataset's original files or a model's weights.
/// @notice A slot's creator publishes versions of its files: each commits, for good, to the licence terms
/// (`termsHash`) and the file list (`filesHash`, see `hashFiles`) and has a price and an upgrade price
/// (upgradePrice <= price, 0 allowed), which the creator may change. A purchase covers the version bought.
/// Pricing, one rule: a wallet that has paid nothing for the slot's licences pays `price`; a wallet that has
/// already paid `paid` for licences to this slot pays max(upgradePrice, price - paid) (never below 0). So
/// upgrading never costs more than `price`, and a cheap earlier licence only discounts what it cost.
/// Limits: prices fit uint64, and a purchase never brings the slot's cumulative revenue in KipAssets past
/// LICENCE_REVENUE_LIMIT (half of KipAssets' uint96 limit), so licences can never make KipAssets.credit
/// revert for query settlement; such a purchase reverts instead. It pays exactly as query revenue does: the protocol fee
/// (KipSettlement's `feeBps`, paid to its treasury) is kept here, and the rest is credited to the slot's
/// holders through `KipAssets.credit`, the path settlement uses. The server serves a version's files only
/// to wallets for which `hasLicence` is true on this deployment.
/// @dev Conservation: token.balanceOf(this) == feesAccrued() (plus anything sent here directly); every
/// purchase's price == its fee + what it credits. Plain Solidity, no assembly.
contract KipLicences is IKipLicences, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    IERC20 private immutable _token;
    IKipAssets private immutable _assets;
    IKipSettlement private immutable _settlement;

    /// @notice Highest price or upgrade price of a version.
    uint256 public constant MAX_PRICE = type(uint64).max;
    /// @notice Licence purchases never bring a slot's cumulative revenue past this: the other half of
    /// KipAssets' limit (type(uint96).max) stays for query revenue settled by KipSettlement.
    uint256 public constant LICENCE_REVENUE_LIMIT = type(uint96).max / 2;

    uint256 private _feesAccrued;

    mapping(uint256 slot => Version[]) private _versions;
    mapping(uint256 slot => mapping(uint256 version => mapping(address buyer => bool))) private _licensed;
    /// @dev What `buyer` has paid in total for licences to `slot`'s versions (the upgrade credit).
    mapping(uint256 slot => mapping(address buyer => uint256)) private _paid;

    /// @param assets_ KipAssets: slots, their creators, and the revenue holders claim.
    /// @param settlement_ KipSettlement of the same KipAssets: its fee and treasury apply to licences too.
    constructor(IKipAssets assets_, IKipSettlement settlement_) {
        address settlementAssets = settlement_.assets();
        if (settlementAssets != address(assets_)) revert DeploymentMismatch(address(assets_), settlementAssets);
        _assets = assets_;
        _settlement = settlement_;
        _token = IERC20(assets_.paymentToken());
    }

    // ---------------------------------------------------------------------------------------------
    // Creator
    // ---------------------------------------------------------------------------------------------

    /// @notice Creator only: publishes the next version of `slot`'s files (versions count from 1). The terms
    /// and the file list a version commits to never change.
    /// @param slot The slot.
    /// @param price Price for a wallet that has paid nothing for this slot's licences (<= MAX_PRICE).
    /// @param upgradePrice Least a wallet that has paid for this slot's licences pays (<= price, 0 allowed).
    /// @param termsHash keccak256 of the licence terms' UTF-8 text.
    /// @param filesHash `hashFiles` of the version's file list (non-zero).
    /// @return version The new version's number.
    function publishVersion(uint256 slot, uint256 price, uint256 upgradePrice, bytes32 termsHash, bytes32 filesHash)
        external
        returns (uint256 version)
    {
        _requireCreator(slot);
        _checkPrices(price, upgradePrice);
        if (filesHash == bytes32(0)) revert EmptyFilesHash();
        Version[] storage versions = _versions[slot];
        // Both prices were checked to fit uint64.
        // forge-lint: disable-next-line(unsafe-typecast)
        versions.push(Version(uint128(price), uint128(upgradePrice), termsHash, filesHash));
        version = versions.length;
        emit VersionPublished(slot, version, price, upgradePrice, termsHash, filesHash);
    }

    /// @notice Creator only: sets the prices of a published version. Buyers name the most they accept, so a
    /// change cannot make a pending purchase pay more.
    /// @param slot The slot.
    /// @param version The version (1..versionCount).
    /// @param price New price (<= MAX_PRICE).
    /// @param upgradePrice New upgrade price (<= price).
    function setVersionPrice(uint256 slot, uint256 version, uint256 price, uint256 upgradePrice) external {
        _requireCreator(slot);
        _checkPrices(price, upgradePrice);
        Version storage stored = _version(slot, version);
        // Both prices were checked to fit uint64.
        // forge-lint: disable-next-line(unsafe-typecast)
        (stored.price, stored.upgradePrice) = (uint128(price), uint128(upgradePrice));
        emit VersionPriceUpdated(slot, version, price, upgradePrice);
    }

    // ---------------------------------------------------------------------------------------------
    // Buyers
    // ---------------------------------------------------------------------------------------------

    /// @notice Buys a licence to `version` of `slot` for the caller, who has approved this contract to take
    /// the price in the payment token. Pays `priceOf(slot, version, caller)`, at most `maxPrice`.
    /// @param slot The slot (active).
    /// @param version The version (1..versionCount).
    /// @param maxPrice The most the caller accepts paying.
    /// @return paid What was paid.
    function buy(uint256 slot, uint256 version, uint256 maxPrice) external nonReentrant returns (uint256 paid) {
        return _buy(slot, version, maxPrice);
    }

    /// @notice `buy` with an EIP-2612 permit for `maxPrice` signed by the caller. A permit that was front-run
    /// (already used) does not block the purchase if the allowance is there.
    /// @param slot The slot (active).
    /// @param version The version (1..versionCount).
    /// @param maxPrice The most the caller accepts paying (the permit's value).
    /// @param deadline Permit deadline.
    /// @param v Permit signature v.
    /// @param r Permit signature r.
    /// @param s Permit signature s.
    /// @return paid What was paid.
    function buyWithPermit(
        uint256 slot,
        uint256 version,
        uint256 maxPrice,
        uint256 deadline,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) external nonReentrant returns (uint256 paid) {
        // A failed permit is ignored: the transferFrom in `_buy` fails anyway if there is no allowance.
        try IERC20Permit(address(_token)).permit(msg.sender, address(this), maxPrice, deadline, v, r, s) {} catch {}
        return _buy(slot, version, maxPrice);
    }

    /// @notice Pays all accrued licence fees to KipSettlement's treasury. Anyone may call it.
    /// @return amount The amount paid.
    function withdrawFees() external nonReentrant returns (uint256 amount) {
        amount = _feesAccrued;
        if (amount == 0) return 0;
        _feesAccrued = 0;
        address treasury = _settlement.treasury();
        emit FeesWithdrawn(treasury, amount);
        _token.safeTransfer(treasury, amount);
    }

    // ---------------------------------------------------------------------------------------------
    // Views
    // ---------------------------------------------------------------------------------------------

    /// @notice Whether `buyer` holds a licence to `version` of `slot` (on this deployment).
    /// @param slot The slot.
    /// @param version The version.
    /// @param buyer The wallet.
    function hasLicence(uint256 slot, uint256 version, address buyer) external view returns (bool) {
        return _licensed[slot][version][buyer];
    }

    /// @notice What `buyer` would pay for `version` of `slot` now: `price` if they have paid nothing for this
    /// slot's licences, else max(upgradePrice, price - paid) with `upgrade` true.
    /// @param slot The slot.
    /// @param version The version (1..versionCount).
    /// @param buyer The wallet.
    function priceOf(uint256 slot, uint256 version, address buyer)
        public
        view
        returns (uint256 price, bool upgrade)
    {
        Version storage stored = _version(slot, version);
        uint256 paid = _paid[slot][buyer];
        price = stored.price;
        if (paid == 0) return (price, false);
        upgrade = true;
        uint256 rest = paid >= price ? 0 : price - paid;
        price = rest > stored.upgradePrice ? rest : stored.upgradePrice;
    }

    /// @notice What `buyer` has paid in total for licences to `slot` (the credit `priceOf` applies).
    /// @param slot The slot.
    /// @param buyer The wallet.
    function paidFor(uint256 slot, address buyer) external view returns (uint256) {
        return _paid[slot][buyer];
    }

    /// @notice Number of published versions of `slot`; versions are 1..versionCount.
    /// @param slot The slot.
    function versionCount(uint256 slot) external view returns (uint256) {
        return _versions[slot].length;
    }

    /// @notice A published version's prices and commitments.
    /// @param slot The slot.
    /// @param version The version (1..versionCount).
    function versionOf(uint256 slot, uint256 version) external view returns (Version memory) {
        return _version(slot, version);
    }

    /// @notice The commitment to a version's file list: keccak256(abi.encode(files)), in the order listed.
    /// @param files The files (path, size, sha256).
    function hashFiles(FileEntry[] calldata files) external pure returns (bytes32) {
        return keccak256(abi.encode(files));
    }

    /// @notice Licence fees accrued and not yet paid to the treasury.
    function feesAccrued() external view returns (uint256) {
        return _feesAccrued;
    }

    /// @notice The payment token (KipAssets').
    function paymentToken() external view returns (address) {
        return address(_token);
    }

    /// @notice The KipAssets deployment licence revenue is credited to.
    function assets() external view returns (address) {
        return address(_assets);
    }

    /// @notice The KipSettlement deployment whose fee and treasury apply.
    function settlement() external view returns (address) {
        return address(_settlement);
    }

    // ---------------------------------------------------------------------------------------------
    // Internals
    // ---------------------------------------------------------------------------------------------

    /// @dev Checks, records the licence, then moves the tokens: buyer -> here (price), here -> KipAssets
    /// (price - fee), and credits the slot. Callers hold the reentrancy guard.
    function _buy(uint256 slot, uint256 version, uint256 maxPrice) private returns (uint256 price) {
        bool upgrade;
        (price, upgrade) = priceOf(slot, version, msg.sender);
        IKipAssetsTypes.SlotInfo memory info = _assets.slotInfo(slot);
        if (!info.active) revert SlotInactive(slot);
        if (_licensed[slot][version][msg.sender]) revert AlreadyLicensed(slot, version, msg.sender);
        if (price > maxPrice) revert PriceAboveMax(slot, version, price, maxPrice);

        // price <= MAX_PRICE (2**64) and feeBps <= MAX_FEE_BPS (1000): no overflow, and fee <= price.
        uint256 fee;
        unchecked {
            fee = price * _settlement.feeBps() / 10_000;
        }
        uint256 net = price - fee;
        // Licences never take the slot's revenue past half of KipAssets' limit (the rest is for queries).
        if (net != 0 && info.revenue + net > LICENCE_REVENUE_LIMIT) {
            revert RevenueLimit(slot, info.revenue + net, LICENCE_REVENUE_LIMIT);
        }

        _licensed[slot][version][msg.sender] = true;
        _paid[slot][msg.sender] += price;
        _feesAccrued += fee;
        emit LicenceBought(slot, version, msg.sender, price, fee, upgrade);

        if (price == 0) return 0;
        _token.safeTransferFrom(msg.sender, address(this), price);
        if (net == 0) return price;
        _token.safeTransfer(address(_assets), net);
        uint256[] memory slots = new uint256[](1);
        uint256[] memory amounts = new uint256[](1);
        (slots[0], amounts[0]) = (slot, net);
        _assets.credit(slots, amounts);
    }

    function _requireCreator(uint256 slot) private view {
        // slotInfo reverts UnknownSlot for a slot that was never listed.
        IKipAssetsTypes.SlotInfo memory info = _assets.slotInfo(slot);
        if (info.creator != msg.sender) revert NotSlotCreator(slot, msg.sender, info.creator);
    }

    function _checkPrices(uint256 price, uint256 upgradePrice) private pure {
        if (price > MAX_PRICE) revert PriceTooHigh(price, MAX_PRICE);
        if (upgradePrice > price) revert UpgradePriceAbovePrice(upgradePrice, price);
    }

    function _version(uint256 slot, uint256 version) private view returns (Version storage) {
        Version[] storage versions = _versions[slot];
        uint256 count = versions.length;
        if (version == 0 || version > count) revert UnknownVersion(slot, version, count);
        return versions[version - 1];
    }
}
