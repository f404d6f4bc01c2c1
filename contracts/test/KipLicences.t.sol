// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Test} from "forge-std/Test.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

import {KipAssets} from "../src/KipAssets.sol";
import {KipLicences} from "../src/KipLicences.sol";
import {KipSettlement} from "../src/KipSettlement.sol";
import {MockUSD} from "../src/MockUSD.sol";
import {IKipAssets, IKipAssetsErrors, IKipAssetsTypes} from "../src/interfaces/IKipAssets.sol";
import {IKipLicencesErrors, IKipLicencesEvents, IKipLicencesTypes} from "../src/interfaces/IKipLicences.sol";
import {IKipSettlement} from "../src/interfaces/IKipSettlement.sol";

/// @dev A payment token that calls back into the licence contract from `transferFrom`, the way a hostile or
/// hooked (ERC-777-like) token could.
contract ReenteringToken is ERC20 {
    KipLicences public target;
    bytes public callback;
    bool public reverted;
    bytes public revertData;

    constructor() ERC20("Reentering", "RE") {}

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    function arm(KipLicences target_, bytes calldata callback_) external {
        target = target_;
        callback = callback_;
    }

    function transferFrom(address from, address to, uint256 value) public override returns (bool) {
        if (address(target) != address(0) && callback.length != 0) {
            bytes memory data = callback;
            delete callback;
            (bool ok, bytes memory answer) = address(target).call(data);
            // Surface the callback's failure as the transfer's failure: the outer purchase must revert.
            if (!ok) {
                assembly ("memory-safe") {
                    // Bubble the reentrant call's revert reason up unchanged.
                    revert(add(answer, 0x20), mload(answer))
                }
            }
        }
        return super.transferFrom(from, to, value);
    }
}

contract KipLicencesTest is Test, IKipLicencesEvents {
    MockUSD internal usd;
    KipAssets internal assets;
    KipSettlement internal settlement;
    KipLicences internal licences;

    address internal admin = makeAddr("admin");
    address internal treasury = makeAddr("treasury");
    address internal creator = makeAddr("creator");
    address internal holder = makeAddr("holder");
    address internal stranger = makeAddr("stranger");
    uint256 internal buyerPk = 0xB1E7;
    address internal buyer = vm.addr(0xB1E7);

    uint256 internal constant FEE_BPS = 250;
    uint256 internal constant PRICE = 12_500_000; // 12.5 mUSD
    uint256 internal constant UPGRADE = 2_000_000;
    bytes32 internal constant TERMS = keccak256("CC BY 4.0");
    bytes32 internal constant FILES_V1 = keccak256("files v1");
    bytes32 internal constant FILES_V2 = keccak256("files v2");

    uint256 internal slot;
    uint256 internal creatorToken;

    function setUp() public {
        usd = new MockUSD();
        (assets, settlement, licences) = _deployStack(IERC20(address(usd)));
        vm.prank(creator);
        (slot, creatorToken) = assets.list(IKipAssetsTypes.AssetKind.Dataset, 5000, "data-1", keccak256("d1"));
        vm.prank(creator);
        licences.publishVersion(slot, PRICE, UPGRADE, TERMS, FILES_V1);
        usd.mint(buyer, 1_000_000_000);
        vm.prank(buyer);
        usd.approve(address(licences), type(uint256).max);
    }

    function _deployStack(IERC20 token) internal returns (KipAssets a, KipSettlement s, KipLicences l) {
        a = new KipAssets(token, "http://localhost:3000/api/metadata/", admin);
        s = new KipSettlement(token, IKipAssets(address(a)), treasury, FEE_BPS, 1 days, admin);
        l = new KipLicences(IKipAssets(address(a)), IKipSettlement(address(s)));
        vm.startPrank(admin);
        a.setSettlement(address(s));
        a.setLicences(address(l));
        vm.stopPrank();
    }

    // ------------------------------------------------------------------ creator-only commitments

    function test_publishVersion_RevertWhen_NotCreator() public {
        vm.expectRevert(abi.encodeWithSelector(IKipLicencesErrors.NotSlotCreator.selector, slot, stranger, creator));
        vm.prank(stranger);
        licences.publishVersion(slot, 1, 0, TERMS, FILES_V2);
        assertEq(licences.versionCount(slot), 1);
    }

    function test_publishVersion_RevertWhen_HolderIsNotCreator() public {
        // A holder of (even all) shares is not the creator: it cannot commit files or set prices.
        vm.prank(creator);
        assets.transferFrom(creator, holder, creatorToken);
        vm.expectRevert(abi.encodeWithSelector(IKipLicencesErrors.NotSlotCreator.selector, slot, holder, creator));
        vm.prank(holder);
        licences.publishVersion(slot, 1, 0, TERMS, FILES_V2);
    }

    function test_setVersionPrice_RevertWhen_NotCreator() public {
        vm.expectRevert(abi.encodeWithSelector(IKipLicencesErrors.NotSlotCreator.selector, slot, stranger, creator));
        vm.prank(stranger);
        licences.setVersionPrice(slot, 1, 1, 0);
        assertEq(licences.versionOf(slot, 1).price, PRICE);
    }

    function test_publishVersion_RevertWhen_UnknownSlot() public {
        vm.expectRevert(abi.encodeWithSelector(IKipAssetsErrors.UnknownSlot.selector, 99));
        vm.prank(creator);
        licences.publishVersion(99, 1, 0, TERMS, FILES_V2);
    }

    function test_publishVersion_RevertWhen_EmptyFilesHash() public {
        vm.expectRevert(IKipLicencesErrors.EmptyFilesHash.selector);
        vm.prank(creator);
        licences.publishVersion(slot, 1, 0, TERMS, bytes32(0));
    }

    function test_publishVersion_RevertWhen_PriceTooHigh() public {
        uint256 tooHigh = uint256(type(uint64).max) + 1;
        vm.expectRevert(
            abi.encodeWithSelector(IKipLicencesErrors.PriceTooHigh.selector, tooHigh, type(uint64).max)
        );
        vm.prank(creator);
        licences.publishVersion(slot, tooHigh, 0, TERMS, FILES_V2);
        vm.expectRevert(
            abi.encodeWithSelector(IKipLicencesErrors.PriceTooHigh.selector, tooHigh, type(uint64).max)
        );
        vm.prank(creator);
        licences.setVersionPrice(slot, 1, tooHigh, 0);
    }

    function test_publishVersion_RevertWhen_UpgradePriceAbovePrice() public {
        vm.expectRevert(abi.encodeWithSelector(IKipLicencesErrors.UpgradePriceAbovePrice.selector, 11, 10));
        vm.prank(creator);
        licences.publishVersion(slot, 10, 11, TERMS, FILES_V2);
        vm.expectRevert(abi.encodeWithSelector(IKipLicencesErrors.UpgradePriceAbovePrice.selector, PRICE + 1, PRICE));
        vm.prank(creator);
        licences.setVersionPrice(slot, 1, PRICE, PRICE + 1);
        assertEq(licences.versionCount(slot), 1);
    }

    function test_publishVersion_CommitsTermsAndFiles() public {
        vm.expectEmit(address(licences));
        emit VersionPublished(slot, 2, PRICE * 2, 0, TERMS, FILES_V2);
        vm.prank(creator);
        uint256 version = licences.publishVersion(slot, PRICE * 2, 0, TERMS, FILES_V2);
        assertEq(version, 2);
        IKipLicencesTypes.Version memory v = licences.versionOf(slot, 2);
        assertEq(v.price, PRICE * 2);
        assertEq(v.upgradePrice, 0);
        assertEq(v.termsHash, TERMS);
        assertEq(v.filesHash, FILES_V2);
        // A price change leaves the commitments as they were.
        vm.prank(creator);
        licences.setVersionPrice(slot, 1, 7, 3);
        v = licences.versionOf(slot, 1);
        assertEq(v.price, 7);
        assertEq(v.upgradePrice, 3);
        assertEq(v.filesHash, FILES_V1);
        assertEq(v.termsHash, TERMS);
    }

    // ------------------------------------------------------------------ buying

    function test_buy_CreditsHoldersPriceMinusFee() public {
        uint256 fee = PRICE * FEE_BPS / 10_000;
        uint256 assetsBefore = usd.balanceOf(address(assets));
        vm.expectEmit(address(licences));
        emit LicenceBought(slot, 1, buyer, PRICE, fee, false);
        vm.prank(buyer);
        uint256 paid = licences.buy(slot, 1, PRICE);
        assertEq(paid, PRICE);
        assertTrue(licences.hasLicence(slot, 1, buyer));
        assertEq(assets.claimable(creatorToken), PRICE - fee);
        assertEq(assets.slotInfo(slot).revenue, PRICE - fee);
        assertEq(licences.feesAccrued(), fee);
        assertEq(usd.balanceOf(address(licences)), fee);
        assertEq(usd.balanceOf(address(assets)) - assetsBefore, PRICE - fee);
        assertEq(assets.claimable(creatorToken) + licences.feesAccrued(), PRICE);

        vm.prank(creator);
        assets.claim(creatorToken);
        assertEq(usd.balanceOf(creator), PRICE - fee);
        licences.withdrawFees();
        assertEq(usd.balanceOf(treasury), fee);
        assertEq(usd.balanceOf(address(licences)), 0);
    }

    function test_buy_RevertWhen_PriceRaisedAboveBuyersMax() public {
        // The buyer saw PRICE; the creator raises it before the purchase is mined.
        vm.prank(creator);
        licences.setVersionPrice(slot, 1, PRICE + 1, UPGRADE);
        vm.expectRevert(
            abi.encodeWithSelector(IKipLicencesErrors.PriceAboveMax.selector, slot, 1, PRICE + 1, PRICE)
        );
        vm.prank(buyer);
        licences.buy(slot, 1, PRICE);
        assertFalse(licences.hasLicence(slot, 1, buyer));
        assertEq(usd.balanceOf(address(licences)), 0);
    }

    function test_buy_PaysTheCurrentPriceWhenLowerThanMax() public {
        vm.prank(creator);
        licences.setVersionPrice(slot, 1, PRICE / 2, UPGRADE);
        uint256 before = usd.balanceOf(buyer);
        vm.prank(buyer);
        uint256 paid = licences.buy(slot, 1, PRICE);
        assertEq(paid, PRICE / 2);
        assertEq(before - usd.balanceOf(buyer), PRICE / 2);
    }

    function test_buy_RevertWhen_VersionDoesNotExist() public {
        vm.expectRevert(abi.encodeWithSelector(IKipLicencesErrors.UnknownVersion.selector, slot, 2, 1));
        vm.prank(buyer);
        licences.buy(slot, 2, PRICE);
        vm.expectRevert(abi.encodeWithSelector(IKipLicencesErrors.UnknownVersion.selector, slot, 0, 1));
        vm.prank(buyer);
        licences.buy(slot, 0, PRICE);
        // A slot with no versions (or not listed at all).
        vm.expectRevert(abi.encodeWithSelector(IKipLicencesErrors.UnknownVersion.selector, 42, 1, 0));
        vm.prank(buyer);
        licences.buy(42, 1, PRICE);
        assertEq(usd.balanceOf(address(licences)), 0);
    }

    function test_buy_RevertWhen_AlreadyLicensed() public {
        vm.prank(buyer);
        licences.buy(slot, 1, PRICE);
        vm.expectRevert(abi.encodeWithSelector(IKipLicencesErrors.AlreadyLicensed.selector, slot, 1, buyer));
        vm.prank(buyer);
        licences.buy(slot, 1, PRICE);
    }

    function test_buy_RevertWhen_SlotInactive() public {
        vm.prank(creator);
        assets.setActive(slot, false);
        vm.expectRevert(abi.encodeWithSelector(IKipLicencesErrors.SlotInactive.selector, slot));
        vm.prank(buyer);
        licences.buy(slot, 1, PRICE);
    }

    function test_buy_RevertWhen_NoAllowance() public {
        vm.prank(buyer);
        usd.approve(address(licences), PRICE - 1);
        vm.expectRevert();
        vm.prank(buyer);
        licences.buy(slot, 1, PRICE);
        assertFalse(licences.hasLicence(slot, 1, buyer));
    }

    function test_buy_UpgradePriceForHoldersOfAnEarlierVersion() public {
        vm.prank(buyer);
        licences.buy(slot, 1, PRICE);
        // v2 costs 1 mUSD more than v1: the buyer, who paid PRICE, pays max(UPGRADE, 1 mUSD) = UPGRADE.
        vm.prank(creator);
        licences.publishVersion(slot, PRICE + 1_000_000, UPGRADE, TERMS, FILES_V2);

        (uint256 price, bool upgrade) = licences.priceOf(slot, 2, buyer);
        assertEq(price, UPGRADE);
        assertTrue(upgrade);
        (price, upgrade) = licences.priceOf(slot, 2, stranger);
        assertEq(price, PRICE + 1_000_000);
        assertFalse(upgrade);

        uint256 revenueBefore = assets.slotInfo(slot).revenue;
        vm.prank(buyer);
        assertEq(licences.buy(slot, 2, UPGRADE), UPGRADE);
        assertEq(assets.slotInfo(slot).revenue - revenueBefore, UPGRADE - UPGRADE * FEE_BPS / 10_000);
        // The purchase covers the version bought; the earlier licence stays.
        assertTrue(licences.hasLicence(slot, 1, buyer));
        assertTrue(licences.hasLicence(slot, 2, buyer));
    }

    function test_buy_ZeroUpgradePrice() public {
        vm.prank(buyer);
        licences.buy(slot, 1, PRICE);
        vm.prank(creator);
        licences.publishVersion(slot, PRICE, 0, TERMS, FILES_V2);
        uint256 before = usd.balanceOf(buyer);
        uint256 revenueBefore = assets.slotInfo(slot).revenue;
        vm.prank(buyer);
        assertEq(licences.buy(slot, 2, 0), 0);
        assertTrue(licences.hasLicence(slot, 2, buyer));
        assertEq(usd.balanceOf(buyer), before);
        assertEq(assets.slotInfo(slot).revenue, revenueBefore);
    }

    /// @dev The attack: a 1-unit sample v1, then the later versions at their upgrade price. Under the rule
    /// max(upgradePrice, price - paid) the sample only takes its own cost off the full price.
    function test_buy_CheapEarlierLicenceDoesNotUnlockTheUpgradePrice() public {
        vm.startPrank(creator);
        licences.setVersionPrice(slot, 1, 1, 0);
        licences.publishVersion(slot, PRICE, UPGRADE, TERMS, FILES_V2);
        licences.publishVersion(slot, PRICE, UPGRADE, TERMS, keccak256("files v3"));
        vm.stopPrank();
        vm.prank(buyer);
        assertEq(licences.buy(slot, 1, 1), 1);

        (uint256 price, bool upgrade) = licences.priceOf(slot, 3, buyer);
        assertEq(price, PRICE - 1);
        assertTrue(upgrade);
        vm.expectRevert(abi.encodeWithSelector(IKipLicencesErrors.PriceAboveMax.selector, slot, 3, PRICE - 1, UPGRADE));
        vm.prank(buyer);
        licences.buy(slot, 3, UPGRADE);
        assertFalse(licences.hasLicence(slot, 3, buyer));
        // Paying for v3 (PRICE - 1, PRICE in all) does make v2 an upgrade: the buyer paid PRICE already.
        vm.prank(buyer);
        assertEq(licences.buy(slot, 3, PRICE - 1), PRICE - 1);
        assertEq(licences.paidFor(slot, buyer), PRICE);
        (price, upgrade) = licences.priceOf(slot, 2, buyer);
        assertEq(price, UPGRADE);
        assertTrue(upgrade);
    }

    function test_buy_FreeLicenceGivesNoUpgradeCredit() public {
        vm.startPrank(creator);
        licences.setVersionPrice(slot, 1, 0, 0);
        licences.publishVersion(slot, PRICE, UPGRADE, TERMS, FILES_V2);
        vm.stopPrank();
        vm.prank(buyer);
        licences.buy(slot, 1, 0);
        (uint256 price, bool upgrade) = licences.priceOf(slot, 2, buyer);
        assertEq(price, PRICE);
        assertFalse(upgrade);
    }

    function test_buy_OtherSlotsPaymentsGiveNoCredit() public {
        vm.prank(creator);
        (uint256 other,) = assets.list(IKipAssetsTypes.AssetKind.Dataset, 5000, "data-2", keccak256("d2"));
        vm.prank(creator);
        licences.publishVersion(other, PRICE, UPGRADE, TERMS, FILES_V2);
        vm.prank(buyer);
        licences.buy(slot, 1, PRICE);
        (uint256 price, bool upgrade) = licences.priceOf(other, 1, buyer);
        assertEq(price, PRICE);
        assertFalse(upgrade);
    }

    function test_buyWithPermit() public {
        address permitBuyer = vm.addr(0xC0FFEE);
        usd.mint(permitBuyer, PRICE);
        uint256 deadline = block.timestamp + 1 hours;
        bytes32 structHash = keccak256(
            abi.encode(
                keccak256("Permit(address owner,address spender,uint256 value,uint256 nonce,uint256 deadline)"),
                permitBuyer,
                address(licences),
                PRICE,
                usd.nonces(permitBuyer),
                deadline
            )
        );
        (uint8 v, bytes32 r, bytes32 s) =
            vm.sign(0xC0FFEE, keccak256(abi.encodePacked("\x19\x01", usd.DOMAIN_SEPARATOR(), structHash)));
        vm.prank(permitBuyer);
        licences.buyWithPermit(slot, 1, PRICE, deadline, v, r, s);
        assertTrue(licences.hasLicence(slot, 1, permitBuyer));
        assertEq(usd.balanceOf(permitBuyer), 0);
    }

    function test_buy_RevertWhen_TokenReenters() public {
        ReenteringToken evil = new ReenteringToken();
        (KipAssets a, , KipLicences l) = _deployStack(IERC20(address(evil)));
        vm.prank(creator);
        (uint256 s,) = a.list(IKipAssetsTypes.AssetKind.Model, 1, "model", keccak256("m"));
        vm.prank(creator);
        l.publishVersion(s, PRICE, 0, TERMS, FILES_V1);
        evil.mint(buyer, PRICE * 2);
        vm.prank(buyer);
        evil.approve(address(l), type(uint256).max);

        // During the buyer's payment the token tries a second purchase (and a fee withdrawal).
        evil.arm(l, abi.encodeCall(KipLicences.buy, (s, 1, PRICE)));
        vm.expectRevert(ReentrancyGuardTransient.ReentrancyGuardReentrantCall.selector);
        vm.prank(buyer);
        l.buy(s, 1, PRICE);
        evil.arm(l, abi.encodeCall(KipLicences.withdrawFees, ()));
        vm.expectRevert(ReentrancyGuardTransient.ReentrancyGuardReentrantCall.selector);
        vm.prank(buyer);
        l.buy(s, 1, PRICE);

        assertFalse(l.hasLicence(s, 1, buyer));
        assertEq(evil.balanceOf(buyer), PRICE * 2);
        assertEq(a.slotInfo(s).revenue, 0);
    }

    function test_hasLicence_PurchaseOnAnotherDeploymentDoesNotCount() public {
        (KipAssets a2, , KipLicences l2) = _deployStack(IERC20(address(usd)));
        vm.prank(creator);
        (uint256 s2,) = a2.list(IKipAssetsTypes.AssetKind.Dataset, 5000, "data-1", keccak256("d1"));
        vm.prank(creator);
        l2.publishVersion(s2, PRICE, UPGRADE, TERMS, FILES_V1);
        assertEq(s2, slot);
        vm.startPrank(buyer);
        usd.approve(address(l2), type(uint256).max);
        l2.buy(s2, 1, PRICE);
        vm.stopPrank();
        // Same slot id and version, same buyer, other deployment: no licence here, nothing credited here.
        assertTrue(l2.hasLicence(slot, 1, buyer));
        assertFalse(licences.hasLicence(slot, 1, buyer));
        assertEq(assets.slotInfo(slot).revenue, 0);
    }

    function test_credit_RevertWhen_CallerIsNeitherSettlementNorLicences() public {
        uint256[] memory slots = new uint256[](1);
        uint256[] memory amounts = new uint256[](1);
        (slots[0], amounts[0]) = (slot, 1);
        vm.expectRevert(abi.encodeWithSelector(IKipAssetsErrors.NotSettlement.selector, stranger));
        vm.prank(stranger);
        assets.credit(slots, amounts);
    }

    function test_setLicences_RevertWhen_AlreadySetOrNotOwner() public {
        vm.expectRevert(abi.encodeWithSelector(IKipAssetsErrors.LicencesAlreadySet.selector, address(licences)));
        vm.prank(admin);
        assets.setLicences(stranger);
        KipAssets fresh = new KipAssets(IERC20(address(usd)), "", admin);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, stranger));
        vm.prank(stranger);
        fresh.setLicences(stranger);
    }

    function test_constructor_RevertWhen_SettlementOfAnotherAssets() public {
        KipAssets other = new KipAssets(IERC20(address(usd)), "", admin);
        vm.expectRevert(
            abi.encodeWithSelector(IKipLicencesErrors.DeploymentMismatch.selector, address(other), address(assets))
        );
        new KipLicences(IKipAssets(address(other)), IKipSettlement(address(settlement)));
    }

    function test_hashFiles_IsKeccakOfTheAbiEncodedList() public view {
        IKipLicencesTypes.FileEntry[] memory files = new IKipLicencesTypes.FileEntry[](2);
        files[0] = IKipLicencesTypes.FileEntry("weights.bin", 1024, sha256("a"));
        files[1] = IKipLicencesTypes.FileEntry("README.md", 3, sha256("b"));
        assertEq(licences.hashFiles(files), keccak256(abi.encode(files)));
        files[1].size = 4;
        assertTrue(licences.hashFiles(files) != keccak256(abi.encode("changed")));
    }

    /// @dev The same fixed vectors as tests/unit/licences.test.ts ("licenceFilesHash agrees with
    /// KipLicences.hashFiles"): the server's file-list commitment and the contract's are the same bytes,
    /// non-ASCII (UTF-8) paths included.
    function test_hashFiles_MatchesTheServersVectors() public view {
        IKipLicencesTypes.FileEntry[] memory none = new IKipLicencesTypes.FileEntry[](0);
        assertEq(licences.hashFiles(none), 0x569e75fc77c1a856f6daaf9e69d8a9566ca34aa47f9133711ce065a571af0cfd);

        IKipLicencesTypes.FileEntry[] memory two = new IKipLicencesTypes.FileEntry[](2);
        two[0] = IKipLicencesTypes.FileEntry("weights.bin", 1024, sha256("a"));
        two[1] = IKipLicencesTypes.FileEntry("README.md", 3, sha256("b"));
        assertEq(licences.hashFiles(two), 0x2fd89e2dac75b18da65b45b1ce08de3d7c3cd9cd82ddf840b7ec18e7da4663ef);

        IKipLicencesTypes.FileEntry[] memory unicode_ = new IKipLicencesTypes.FileEntry[](2);
        unicode_[0] = IKipLicencesTypes.FileEntry(unicode"données/модель-权重.bin", 3158073, sha256("a"));
        unicode_[1] = IKipLicencesTypes.FileEntry(unicode"café.txt", 0, sha256("b"));
        assertEq(licences.hashFiles(unicode_), 0xd04fe40a69d7e6467bd2f0090441ab5321a9a8c187ee36ccf60e5c30afb5a33c);
    }

    // ------------------------------------------------------------------ conservation

    /// @dev Holders' revenue + the fee == the price, exactly, for any price, fee and split of the shares;
    /// and the tokens moved match: the buyer paid the price, KipAssets got the net, KipLicences the fee.
    function testFuzz_buy_ConservesThePrice(uint64 price, uint16 feeBps, uint32 split) public {
        feeBps = uint16(bound(feeBps, 0, 1000));
        uint256 shares = bound(split, 0, assets.SHARES_PER_SLOT());
        vm.prank(admin);
        settlement.setFeeBps(feeBps);
        vm.prank(creator);
        licences.setVersionPrice(slot, 1, price, 0);
        vm.prank(creator);
        uint256 holderToken = assets.transferFrom(creatorToken, holder, shares);
        usd.mint(buyer, price);

        uint256 buyerBefore = usd.balanceOf(buyer);
        uint256 assetsBefore = usd.balanceOf(address(assets));
        vm.prank(buyer);
        uint256 paid = licences.buy(slot, 1, price);

        uint256 fee = uint256(price) * feeBps / 10_000;
        assertEq(paid, price);
        assertEq(buyerBefore - usd.balanceOf(buyer), price);
        assertEq(licences.feesAccrued(), fee);
        assertEq(usd.balanceOf(address(licences)), fee);
        assertEq(usd.balanceOf(address(assets)) - assetsBefore, price - fee);
        // Scaled owed amounts are exact (no rounding): their sum is the net times the share supply.
        uint256 owed = assets.owedScaled(creatorToken) + assets.owedScaled(holderToken);
        assertEq(owed, (uint256(price) - fee) * assets.SHARES_PER_SLOT());
        assertEq(owed / assets.SHARES_PER_SLOT() + licences.feesAccrued(), price);
        // What can be claimed now never exceeds the net; the difference is sub-unit dust kept by the tokens.
        uint256 claimable = assets.claimable(creatorToken) + assets.claimable(holderToken);
        assertLe(claimable, uint256(price) - fee);
        assertLe(uint256(price) - fee - claimable, 1);
    }

    /// @dev An earlier purchase of any price, then an upgrade: the upgrader pays exactly
    /// max(upgradePrice, price - first), never more than price; the fees plus what holders can be paid
    /// equal everything paid, exactly.
    function testFuzz_upgrade_PaysTheRuleAndConserves(uint64 first, uint64 price, uint64 upgradePrice, uint16 feeBps)
        public
    {
        feeBps = uint16(bound(feeBps, 0, 1000));
        upgradePrice = uint64(bound(upgradePrice, 0, price));
        vm.prank(admin);
        settlement.setFeeBps(feeBps);
        vm.startPrank(creator);
        licences.setVersionPrice(slot, 1, first, 0);
        licences.publishVersion(slot, price, upgradePrice, TERMS, FILES_V2);
        vm.stopPrank();
        usd.mint(buyer, uint256(first) + price);

        uint256 buyerBefore = usd.balanceOf(buyer);
        vm.startPrank(buyer);
        licences.buy(slot, 1, first);
        uint256 expected = first == 0 ? price : (first >= price ? upgradePrice : _max(price - first, upgradePrice));
        (uint256 quoted,) = licences.priceOf(slot, 2, buyer);
        assertEq(quoted, expected);
        assertLe(quoted, price);
        assertEq(licences.buy(slot, 2, type(uint256).max), expected);
        vm.stopPrank();

        uint256 total = uint256(first) + expected;
        assertEq(buyerBefore - usd.balanceOf(buyer), total);
        assertEq(licences.paidFor(slot, buyer), total);
        uint256 fees = uint256(first) * feeBps / 10_000 + expected * feeBps / 10_000;
        assertEq(licences.feesAccrued(), fees);
        assertEq(usd.balanceOf(address(licences)), fees);
        assertEq(assets.slotInfo(slot).revenue + licences.feesAccrued(), total);
        assertEq(assets.owedScaled(creatorToken), (total - fees) * assets.SHARES_PER_SLOT());
    }

    function _max(uint256 a, uint256 b) private pure returns (uint256) {
        return a > b ? a : b;
    }

    // ------------------------------------------------------------------ revenue limit

    /// @dev The jam attempt: with freely minted tokens, buy licences until the slot's revenue is at KipAssets'
    /// uint96 limit, so every later settlement crediting the slot would revert. Licences stop at half the
    /// limit (the purchase reverts and moves nothing), and query settlement still credits the slot.
    function test_buy_RevertWhen_LicencesWouldJamTheSlotsRevenue() public {
        vm.prank(admin);
        settlement.setFeeBps(0);
        uint256 maxPrice = licences.MAX_PRICE();
        vm.prank(creator);
        licences.setVersionPrice(slot, 1, maxPrice, 0);
        uint256 limit = licences.LICENCE_REVENUE_LIMIT();
        assertEq(limit, uint256(type(uint96).max) / 2);
        // Cheaper than 2**31 purchases: pretend the slot already earned just under the licence limit, through
        // the licence contract's own credit path (as if bought earlier).
        uint256 earlier = limit - maxPrice + 1;
        usd.mint(address(assets), earlier);
        uint256[] memory slots = new uint256[](1);
        uint256[] memory amounts = new uint256[](1);
        (slots[0], amounts[0]) = (slot, earlier);
        vm.prank(address(licences));
        assets.credit(slots, amounts);

        address attacker = makeAddr("attacker");
        usd.mint(attacker, maxPrice);
        vm.startPrank(attacker);
        usd.approve(address(licences), maxPrice);
        vm.expectRevert(
            abi.encodeWithSelector(IKipLicencesErrors.RevenueLimit.selector, slot, earlier + maxPrice, limit)
        );
        licences.buy(slot, 1, maxPrice);
        vm.stopPrank();
        assertFalse(licences.hasLicence(slot, 1, attacker));
        assertEq(usd.balanceOf(attacker), maxPrice);
        assertEq(assets.slotInfo(slot).revenue, earlier);

        // A purchase that fits still goes through.
        vm.prank(creator);
        licences.setVersionPrice(slot, 1, maxPrice - 1, 0);
        vm.prank(attacker);
        licences.buy(slot, 1, maxPrice);
        assertEq(assets.slotInfo(slot).revenue, limit);
        // And the other half stays for query revenue: a settlement-sized credit still fits KipAssets.
        uint256 queries = uint256(type(uint96).max) - limit;
        usd.mint(address(assets), queries);
        amounts[0] = queries;
        vm.prank(address(settlement));
        assets.credit(slots, amounts);
        assertEq(assets.slotInfo(slot).revenue, type(uint96).max);
    }
}
