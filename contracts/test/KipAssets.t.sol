// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Test} from "forge-std/Test.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC721} from "@openzeppelin/contracts/token/ERC721/IERC721.sol";
import {IERC721Metadata} from "@openzeppelin/contracts/token/ERC721/extensions/IERC721Metadata.sol";
import {IERC721Receiver} from "@openzeppelin/contracts/token/ERC721/IERC721Receiver.sol";
import {IERC721Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

import {KipAssets} from "../src/KipAssets.sol";
import {MockUSD} from "../src/MockUSD.sol";
import {IERC3525, IERC3525Metadata, IERC3525Receiver} from "../src/interfaces/IERC3525.sol";
import {IKipAssets, IKipAssetsErrors, IKipAssetsEvents, IKipAssetsTypes} from "../src/interfaces/IKipAssets.sol";

/// @dev Accepts ERC-3525 value and ERC-721 tokens, and says so through ERC-165.
contract GoodReceiver is IERC3525Receiver, IERC721Receiver {
    uint256 public received;

    function onERC3525Received(address, uint256, uint256, uint256 value, bytes calldata) external returns (bytes4) {
        received += value;
        return IERC3525Receiver.onERC3525Received.selector;
    }

    function onERC721Received(address, address, uint256, bytes calldata) external pure returns (bytes4) {
        return IERC721Receiver.onERC721Received.selector;
    }

    function supportsInterface(bytes4 id) external pure returns (bool) {
        return id == type(IERC3525Receiver).interfaceId || id == 0x01ffc9a7;
    }
}

/// @dev Declares IERC3525Receiver but answers the wrong value.
contract BadReceiver {
    function onERC3525Received(address, uint256, uint256, uint256, bytes calldata) external pure returns (bytes4) {
        return 0xdeadbeef;
    }

    function supportsInterface(bytes4 id) external pure returns (bool) {
        return id == type(IERC3525Receiver).interfaceId || id == 0x01ffc9a7;
    }
}

/// @dev A contract with no hooks at all.
contract PlainContract {}

contract KipAssetsTest is Test, IKipAssetsEvents {
    MockUSD internal usd;
    KipAssets internal assets;
    address internal admin = makeAddr("admin");
    address internal settlement = makeAddr("settlement");
    address internal creator = makeAddr("creator");
    address internal alice = makeAddr("alice");
    address internal bob = makeAddr("bob");

    string internal constant URI = "http://localhost:3000/api/metadata/slots/app-0001.json";

    event Transfer(address indexed from, address indexed to, uint256 indexed tokenId);
    event Approval(address indexed owner, address indexed approved, uint256 indexed tokenId);
    event TransferValue(uint256 indexed _fromTokenId, uint256 indexed _toTokenId, uint256 _value);
    event ApprovalValue(uint256 indexed _tokenId, address indexed _operator, uint256 _value);
    event SlotChanged(uint256 indexed _tokenId, uint256 indexed _oldSlot, uint256 indexed _newSlot);

    function setUp() public {
        usd = new MockUSD();
        assets = new KipAssets(IERC20(address(usd)), "https://kip.test/", admin);
        vm.prank(admin);
        assets.setSettlement(settlement);
    }

    function _list() internal returns (uint256 slot, uint256 tokenId) {
        vm.prank(creator);
        return assets.list(IKipAssetsTypes.AssetKind.App, 20_000, URI, keccak256("app"));
    }

    /// @dev Credits `amount` to `slot` the way the settlement does: tokens first, then `credit`.
    function _credit(uint256 slot, uint256 amount) internal {
        usd.mint(address(assets), amount);
        uint256[] memory slots = new uint256[](1);
        uint256[] memory amounts = new uint256[](1);
        slots[0] = slot;
        amounts[0] = amount;
        vm.prank(settlement);
        assets.credit(slots, amounts);
    }

    // ---------------------------------------------------------------- listing

    function test_list_MintsFullSupplyToCreator() public {
        vm.expectEmit(address(assets));
        emit AssetListed(1, creator, IKipAssetsTypes.AssetKind.App, 1, 20_000, URI, keccak256("app"));
        (uint256 slot, uint256 tokenId) = _list();
        assertEq(slot, 1);
        assertEq(tokenId, 1);
        assertEq(assets.ownerOf(1), creator);
        assertEq(assets.balanceOf(1), assets.SHARES_PER_SLOT());
        assertEq(assets.slotOf(1), 1);
        assertEq(assets.balanceOf(creator), 1);
        assertEq(assets.slotCount(), 1);
        assertEq(assets.tokenCount(), 1);
        assertTrue(assets.slotExists(1));
        assertFalse(assets.slotExists(2));
        assertFalse(assets.slotExists(0));
        IKipAssetsTypes.SlotInfo memory info = assets.slotInfo(1);
        assertEq(info.creator, creator);
        assertEq(uint8(info.kind), uint8(IKipAssetsTypes.AssetKind.App));
        assertTrue(info.active);
        assertEq(info.pricePerQuery, 20_000);
        assertEq(info.revenue, 0);
        assertEq(info.contentHash, keccak256("app"));
        assertEq(info.uri, URI);
        assertEq(assets.slotURI(1), URI);
    }

    function test_list_IdsAreSequential() public {
        _list();
        vm.prank(alice);
        (uint256 slot, uint256 tokenId) = assets.list(IKipAssetsTypes.AssetKind.Dataset, 1, "u", bytes32(0));
        assertEq(slot, 2);
        assertEq(tokenId, 2);
        assertEq(assets.slotInfo(2).contentHash, bytes32(0));
    }

    function test_list_RevertWhen_PriceTooHigh() public {
        uint256 price = uint256(type(uint80).max) + 1;
        vm.expectRevert(abi.encodeWithSelector(IKipAssetsErrors.PriceTooHigh.selector, price, type(uint80).max));
        assets.list(IKipAssetsTypes.AssetKind.Model, price, URI, bytes32(0));
    }

    function test_setPrice_UpdatesAndEmits() public {
        _list();
        vm.expectEmit(address(assets));
        emit PriceUpdated(1, 20_000, 30_000);
        vm.prank(creator);
        assets.setPrice(1, 30_000);
        assertEq(assets.slotInfo(1).pricePerQuery, 30_000);
    }

    function test_setPrice_RevertWhen_NotCreator() public {
        _list();
        vm.expectRevert(abi.encodeWithSelector(IKipAssetsErrors.NotSlotCreator.selector, 1, alice, creator));
        vm.prank(alice);
        assets.setPrice(1, 1);
    }

    function test_setPrice_RevertWhen_UnknownSlot() public {
        vm.expectRevert(abi.encodeWithSelector(IKipAssetsErrors.UnknownSlot.selector, 7));
        assets.setPrice(7, 1);
    }

    function test_setPrice_RevertWhen_PriceTooHigh() public {
        _list();
        uint256 price = uint256(type(uint80).max) + 1;
        vm.expectRevert(abi.encodeWithSelector(IKipAssetsErrors.PriceTooHigh.selector, price, type(uint80).max));
        vm.prank(creator);
        assets.setPrice(1, price);
    }

    function test_setMetadata_UpdatesAndEmits() public {
        _list();
        vm.expectEmit(address(assets));
        emit MetadataUpdated(1, "ipfs://x", keccak256("x"));
        vm.prank(creator);
        assets.setMetadata(1, "ipfs://x", keccak256("x"));
        assertEq(assets.slotURI(1), "ipfs://x");
        assertEq(assets.slotInfo(1).contentHash, keccak256("x"));
    }

    function test_setMetadata_RevertWhen_NotCreator() public {
        _list();
        vm.expectRevert(abi.encodeWithSelector(IKipAssetsErrors.NotSlotCreator.selector, 1, bob, creator));
        vm.prank(bob);
        assets.setMetadata(1, "x", bytes32(0));
    }

    function test_setActive_UpdatesAndEmits() public {
        _list();
        vm.expectEmit(address(assets));
        emit ActiveUpdated(1, false);
        vm.prank(creator);
        assets.setActive(1, false);
        assertFalse(assets.slotInfo(1).active);
    }

    function test_setActive_RevertWhen_NotCreator() public {
        _list();
        vm.expectRevert(abi.encodeWithSelector(IKipAssetsErrors.NotSlotCreator.selector, 1, bob, creator));
        vm.prank(bob);
        assets.setActive(1, false);
    }

    function test_slotInfo_RevertWhen_UnknownSlot() public {
        vm.expectRevert(abi.encodeWithSelector(IKipAssetsErrors.UnknownSlot.selector, 1));
        assets.slotInfo(1);
        vm.expectRevert(abi.encodeWithSelector(IKipAssetsErrors.UnknownSlot.selector, 1));
        assets.slotURI(1);
    }

    // ---------------------------------------------------------------- admin

    function test_setSettlement_RevertWhen_AlreadySet() public {
        vm.expectRevert(abi.encodeWithSelector(IKipAssetsErrors.SettlementAlreadySet.selector, settlement));
        vm.prank(admin);
        assets.setSettlement(alice);
    }

    function test_setSettlement_RevertWhen_NotOwnerOrZero() public {
        KipAssets fresh = new KipAssets(IERC20(address(usd)), "", admin);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, alice));
        vm.prank(alice);
        fresh.setSettlement(alice);
        vm.expectRevert(abi.encodeWithSelector(IKipAssetsErrors.InvalidSettlement.selector, address(0)));
        vm.prank(admin);
        fresh.setSettlement(address(0));
        vm.expectEmit(address(fresh));
        emit SettlementSet(settlement);
        vm.prank(admin);
        fresh.setSettlement(settlement);
        assertEq(fresh.settlement(), settlement);
    }

    function test_setBaseURI_ChangesTokenAndContractURI() public {
        _list();
        assertEq(assets.tokenURI(1), "https://kip.test/tokens/1");
        assertEq(assets.contractURI(), "https://kip.test/contract");
        vm.expectEmit(address(assets));
        emit BaseURIUpdated("http://x/");
        vm.prank(admin);
        assets.setBaseURI("http://x/");
        assertEq(assets.tokenURI(1), "http://x/tokens/1");
        assertEq(assets.baseURI(), "http://x/");
    }

    function test_setBaseURI_RevertWhen_NotOwner() public {
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, alice));
        vm.prank(alice);
        assets.setBaseURI("x");
    }

    function test_tokenURI_RevertWhen_Nonexistent() public {
        vm.expectRevert(abi.encodeWithSelector(IERC721Errors.ERC721NonexistentToken.selector, 9));
        assets.tokenURI(9);
    }

    function test_metadata_NameSymbolDecimals() public view {
        assertEq(assets.name(), "KIP Assets");
        assertEq(assets.symbol(), "KIPA");
        assertEq(assets.valueDecimals(), 6);
        assertEq(assets.paymentToken(), address(usd));
    }

    function test_supportsInterface_StandardIds() public view {
        assertEq(type(IERC3525).interfaceId, bytes4(0xd5358140));
        assertEq(type(IERC3525Metadata).interfaceId, bytes4(0xe1600902));
        assertEq(type(IERC3525Receiver).interfaceId, bytes4(0x009ce20b));
        assertTrue(assets.supportsInterface(0x01ffc9a7));
        assertTrue(assets.supportsInterface(0x80ac58cd));
        assertTrue(assets.supportsInterface(0x5b5e139f));
        assertTrue(assets.supportsInterface(0xd5358140));
        assertTrue(assets.supportsInterface(0xe1600902));
        assertFalse(assets.supportsInterface(0xffffffff));
        assertFalse(assets.supportsInterface(0x780e9d63)); // no enumeration
    }

    // ---------------------------------------------------------------- revenue

    function test_credit_RevertWhen_NotSettlement() public {
        _list();
        vm.expectRevert(abi.encodeWithSelector(IKipAssetsErrors.NotSettlement.selector, alice));
        vm.prank(alice);
        assets.credit(new uint256[](0), new uint256[](0));
    }

    function test_credit_RevertWhen_LengthMismatch() public {
        vm.expectRevert(abi.encodeWithSelector(IKipAssetsErrors.LengthMismatch.selector, 1, 0));
        vm.prank(settlement);
        assets.credit(new uint256[](1), new uint256[](0));
    }

    function test_credit_RevertWhen_UnknownSlot() public {
        uint256[] memory slots = new uint256[](1);
        slots[0] = 5;
        vm.expectRevert(abi.encodeWithSelector(IKipAssetsErrors.UnknownSlot.selector, 5));
        vm.prank(settlement);
        assets.credit(slots, new uint256[](1));
    }

    function test_credit_RevertWhen_RevenueOverflows() public {
        _list();
        uint256[] memory slots = new uint256[](1);
        uint256[] memory amounts = new uint256[](1);
        slots[0] = 1;
        amounts[0] = uint256(type(uint96).max) + 1;
        vm.expectRevert(abi.encodeWithSelector(IKipAssetsErrors.RevenueOverflow.selector, 1, amounts[0]));
        vm.prank(settlement);
        assets.credit(slots, amounts);
    }

    function test_claim_PaysOwnerAndEmits() public {
        _list();
        usd.mint(address(assets), 1_000);
        uint256[] memory slots = new uint256[](1);
        uint256[] memory amounts = new uint256[](1);
        slots[0] = 1;
        amounts[0] = 1_000;
        vm.expectEmit(address(assets));
        emit RevenueCredited(1, 1_000);
        vm.prank(settlement);
        assets.credit(slots, amounts);
        assertEq(assets.claimable(1), 1_000);
        vm.expectEmit(address(assets));
        emit RevenueClaimed(1, creator, 1_000);
        vm.prank(bob); // anyone may trigger; funds go to the owner
        assertEq(assets.claim(1), 1_000);
        assertEq(usd.balanceOf(creator), 1_000);
        assertEq(assets.claimable(1), 0);
        assertEq(assets.claim(1), 0);
    }

    function test_claim_RevertWhen_Nonexistent() public {
        vm.expectRevert(abi.encodeWithSelector(IERC721Errors.ERC721NonexistentToken.selector, 3));
        assets.claim(3);
        vm.expectRevert(abi.encodeWithSelector(IERC721Errors.ERC721NonexistentToken.selector, 3));
        assets.claimable(3);
    }

    function test_claim_KeepsSubUnitDust() public {
        _list();
        vm.prank(creator);
        uint256 other = assets.transferFrom(1, alice, 333_333); // 1/3 of the shares
        _credit(1, 10);
        // 10 * 666_667 / 1e6 = 6.66 -> 6; 10 * 333_333 / 1e6 = 3.33 -> 3; 1 unit of dust stays split.
        assertEq(assets.claimable(1), 6);
        assertEq(assets.claimable(other), 3);
        assets.claim(1);
        assets.claim(other);
        _credit(1, 20);
        // The first credit's unit of dust is carried (split between the tokens), never lost or paid twice.
        assertEq(assets.owedScaled(1) + assets.owedScaled(other), 21 * 1_000_000);
        assertEq(assets.claimable(1), 14);
        assertEq(assets.claimable(other), 6);
    }

    function test_claimMany_PaysEachOwnerOnce() public {
        _list();
        vm.prank(creator);
        uint256 t2 = assets.transferFrom(1, alice, 500_000);
        _credit(1, 1_000);
        uint256[] memory ids = new uint256[](3);
        ids[0] = 1;
        ids[1] = t2;
        ids[2] = 1; // a repeat pays nothing more
        assertEq(assets.claimMany(ids), 1_000);
        assertEq(usd.balanceOf(creator), 500);
        assertEq(usd.balanceOf(alice), 500);
    }

    function test_claim_RevenueStaysWithTokenThatHeldValue() public {
        _list();
        vm.prank(creator);
        uint256 t2 = assets.transferFrom(1, alice, 1); // alice's token, 1 share
        _credit(1, 1_000_000);
        vm.prank(creator);
        assets.transferFrom(1, t2, 999_999); // all shares move to alice after the credit
        assertEq(assets.claimable(1), 999_999);
        assertEq(assets.claimable(t2), 1);
        _credit(1, 1_000_000);
        assertEq(assets.claimable(1), 999_999);
        assertEq(assets.claimable(t2), 1_000_001);
    }

    function testFuzz_claim_SplitIsExactUpToDust(uint32 shareA, uint64 first, uint64 second) public {
        uint256 share = bound(shareA, 1, 999_999);
        uint256 c1 = bound(first, 0, 1e15);
        uint256 c2 = bound(second, 0, 1e15);
        _list();
        vm.prank(creator);
        uint256 t2 = assets.transferFrom(1, alice, share);
        _credit(1, c1);
        vm.prank(alice);
        assets.transferFrom(t2, 1, share / 2);
        _credit(1, c2);
        uint256 paid = assets.claim(1) + assets.claim(t2);
        assertLe(paid, c1 + c2);
        assertGe(paid + 2, c1 + c2); // at most one unit of dust per token
        assertEq(usd.balanceOf(address(assets)), c1 + c2 - paid);
    }

    // ---------------------------------------------------------------- ERC-3525 value

    function test_transferValueToAddress_MintsTokenInSameSlot() public {
        _list();
        vm.expectEmit(address(assets));
        emit Transfer(address(0), alice, 2);
        vm.expectEmit(address(assets));
        emit SlotChanged(2, 0, 1);
        vm.expectEmit(address(assets));
        emit TransferValue(0, 2, 0);
        vm.expectEmit(address(assets));
        emit TransferValue(1, 2, 400);
        vm.prank(creator);
        uint256 newId = assets.transferFrom(1, alice, 400);
        assertEq(newId, 2);
        assertEq(assets.ownerOf(2), alice);
        assertEq(assets.slotOf(2), 1);
        assertEq(assets.balanceOf(2), 400);
        assertEq(assets.balanceOf(1), 1_000_000 - 400);
    }

    function test_transferValueToAddress_RevertWhen_ZeroReceiver() public {
        _list();
        vm.expectRevert(abi.encodeWithSelector(IERC721Errors.ERC721InvalidReceiver.selector, address(0)));
        vm.prank(creator);
        assets.transferFrom(1, address(0), 1);
    }

    function test_transferValue_RevertWhen_InsufficientBalance() public {
        _list();
        vm.expectRevert(abi.encodeWithSelector(IKipAssetsErrors.ERC3525InsufficientBalance.selector, 1, 1_000_000, 1_000_001));
        vm.prank(creator);
        assets.transferFrom(1, alice, 1_000_001);
    }

    function test_transferValue_RevertWhen_SlotMismatch() public {
        _list();
        vm.prank(alice);
        assets.list(IKipAssetsTypes.AssetKind.Model, 1, "m", bytes32(0));
        vm.expectRevert(abi.encodeWithSelector(IKipAssetsErrors.ERC3525SlotMismatch.selector, 1, 2));
        vm.prank(creator);
        assets.transferFrom(1, 2, 1);
    }

    function test_transferValue_RevertWhen_ToNonexistent() public {
        _list();
        vm.expectRevert(abi.encodeWithSelector(IERC721Errors.ERC721NonexistentToken.selector, 9));
        vm.prank(creator);
        assets.transferFrom(1, 9, 1);
    }

    function test_transferValue_ToSelfIsNoop() public {
        _list();
        vm.prank(creator);
        assets.transferFrom(1, 1, 10);
        assertEq(assets.balanceOf(1), 1_000_000);
    }

    function test_approveValue_SpendsAllowance() public {
        _list();
        vm.expectEmit(address(assets));
        emit ApprovalValue(1, alice, 100);
        vm.prank(creator);
        assets.approve(1, alice, 100);
        assertEq(assets.allowance(1, alice), 100);
        vm.prank(alice);
        assets.transferFrom(1, bob, 60);
        assertEq(assets.allowance(1, alice), 40);
        vm.expectRevert(abi.encodeWithSelector(IKipAssetsErrors.ERC3525InsufficientAllowance.selector, 1, alice, 40, 41));
        vm.prank(alice);
        assets.transferFrom(1, bob, 41);
    }

    function test_approveValue_UnlimitedIsNotSpent() public {
        _list();
        vm.prank(creator);
        assets.approve(1, alice, type(uint256).max);
        vm.prank(alice);
        assets.transferFrom(1, bob, 60);
        assertEq(assets.allowance(1, alice), type(uint256).max);
    }

    function test_approveValue_RevertWhen_CallerNotAuthorized() public {
        _list();
        vm.expectRevert(abi.encodeWithSelector(IERC721Errors.ERC721InsufficientApproval.selector, alice, 1));
        vm.prank(alice);
        assets.approve(1, bob, 1);
    }

    function test_approveValue_RevertWhen_ToOwner() public {
        _list();
        vm.expectRevert(abi.encodeWithSelector(IKipAssetsErrors.ERC3525ApproveToOwner.selector, 1, creator));
        vm.prank(creator);
        assets.approve(1, creator, 1);
    }

    function test_approveValue_ByOperatorAndApprovedAddress() public {
        _list();
        vm.prank(creator);
        assets.setApprovalForAll(alice, true);
        vm.prank(alice);
        assets.approve(1, bob, 5);
        assertEq(assets.allowance(1, bob), 5);
        vm.prank(creator);
        assets.approve(makeAddr("carol"), 1);
        vm.prank(makeAddr("carol"));
        assets.approve(1, bob, 7);
        assertEq(assets.allowance(1, bob), 7);
    }

    function test_transferValue_RevertWhen_NoAllowance() public {
        _list();
        vm.expectRevert(abi.encodeWithSelector(IKipAssetsErrors.ERC3525InsufficientAllowance.selector, 1, alice, 0, 1));
        vm.prank(alice);
        assets.transferFrom(1, alice, 1);
    }

    function test_transferValue_ChecksERC3525Receiver() public {
        _list();
        GoodReceiver good = new GoodReceiver();
        vm.prank(creator);
        assets.transferFrom(1, address(good), 10);
        assertEq(good.received(), 10);
        BadReceiver bad = new BadReceiver();
        vm.expectRevert(abi.encodeWithSelector(IKipAssetsErrors.ERC3525InvalidReceiver.selector, address(bad)));
        vm.prank(creator);
        assets.transferFrom(1, address(bad), 10);
        // A contract that does not declare IERC3525Receiver is not called.
        address plain = address(new PlainContract());
        vm.prank(creator);
        assets.transferFrom(1, plain, 10);
    }

    // ---------------------------------------------------------------- ERC-721

    function test_transferFrom721_MovesTokenAndClearsApprovals() public {
        _list();
        vm.startPrank(creator);
        assets.approve(alice, 1);
        assets.approve(1, bob, 500);
        vm.expectEmit(address(assets));
        emit Transfer(creator, alice, 1);
        vm.stopPrank();
        vm.prank(alice); // the approved address moves the token
        assets.transferFrom(creator, alice, 1);
        assertEq(assets.ownerOf(1), alice);
        assertEq(assets.balanceOf(alice), 1);
        assertEq(assets.balanceOf(creator), 0);
        assertEq(assets.getApproved(1), address(0));
        assertEq(assets.allowance(1, bob), 0);
    }

    function test_transferFrom721_RevenueMovesWithToken() public {
        _list();
        _credit(1, 700);
        vm.prank(creator);
        assets.transferFrom(creator, alice, 1);
        assets.claim(1);
        assertEq(usd.balanceOf(alice), 700);
    }

    function test_transferFrom721_Reverts() public {
        _list();
        vm.expectRevert(abi.encodeWithSelector(IERC721Errors.ERC721InvalidReceiver.selector, address(0)));
        vm.prank(creator);
        assets.transferFrom(creator, address(0), 1);
        vm.expectRevert(abi.encodeWithSelector(IERC721Errors.ERC721IncorrectOwner.selector, alice, 1, creator));
        vm.prank(creator);
        assets.transferFrom(alice, bob, 1);
        vm.expectRevert(abi.encodeWithSelector(IERC721Errors.ERC721InsufficientApproval.selector, bob, 1));
        vm.prank(bob);
        assets.transferFrom(creator, bob, 1);
        vm.expectRevert(abi.encodeWithSelector(IERC721Errors.ERC721NonexistentToken.selector, 5));
        assets.transferFrom(creator, bob, 5);
    }

    function test_safeTransferFrom_ChecksERC721Receiver() public {
        _list();
        GoodReceiver good = new GoodReceiver();
        vm.prank(creator);
        assets.safeTransferFrom(creator, address(good), 1);
        assertEq(assets.ownerOf(1), address(good));
        vm.prank(alice);
        assets.list(IKipAssetsTypes.AssetKind.Model, 1, "m", bytes32(0));
        address plain = address(new PlainContract());
        vm.expectRevert(abi.encodeWithSelector(IERC721Errors.ERC721InvalidReceiver.selector, plain));
        vm.prank(alice);
        assets.safeTransferFrom(alice, plain, 2, "data");
    }

    function test_approve721_Reverts() public {
        _list();
        vm.expectRevert(abi.encodeWithSelector(IERC721Errors.ERC721InvalidApprover.selector, alice));
        vm.prank(alice);
        assets.approve(bob, 1);
        vm.expectRevert(abi.encodeWithSelector(IERC721Errors.ERC721NonexistentToken.selector, 4));
        assets.getApproved(4);
    }

    function test_setApprovalForAll_SetsAndReverts() public {
        vm.prank(alice);
        assets.setApprovalForAll(bob, true);
        assertTrue(assets.isApprovedForAll(alice, bob));
        vm.expectRevert(abi.encodeWithSelector(IERC721Errors.ERC721InvalidOperator.selector, address(0)));
        vm.prank(alice);
        assets.setApprovalForAll(address(0), true);
        vm.expectRevert(abi.encodeWithSelector(IERC721Errors.ERC721InvalidOperator.selector, alice));
        vm.prank(alice);
        assets.setApprovalForAll(alice, true);
    }

    function test_balanceOf721_RevertWhen_ZeroOwner() public {
        vm.expectRevert(abi.encodeWithSelector(IERC721Errors.ERC721InvalidOwner.selector, address(0)));
        assets.balanceOf(address(0));
    }

    function test_ownerOf_RevertWhen_Nonexistent() public {
        vm.expectRevert(abi.encodeWithSelector(IERC721Errors.ERC721NonexistentToken.selector, 1));
        assets.ownerOf(1);
        vm.expectRevert(abi.encodeWithSelector(IERC721Errors.ERC721NonexistentToken.selector, 1));
        assets.balanceOf(uint256(1));
    }

    function test_valueSum_IsFixedSupply() public {
        _list();
        vm.startPrank(creator);
        uint256 a = assets.transferFrom(1, alice, 123);
        uint256 b = assets.transferFrom(1, bob, 456);
        assets.transferFrom(1, a, 1);
        vm.stopPrank();
        assertEq(assets.balanceOf(1) + assets.balanceOf(a) + assets.balanceOf(b), assets.SHARES_PER_SLOT());
    }
}
