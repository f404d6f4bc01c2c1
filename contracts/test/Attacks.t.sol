// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC721Receiver} from "@openzeppelin/contracts/token/ERC721/IERC721Receiver.sol";

import {KipAssets} from "../src/KipAssets.sol";
import {KipSettlement} from "../src/KipSettlement.sol";
import {IERC3525Receiver} from "../src/interfaces/IERC3525.sol";
import {IKipAssets, IKipAssetsTypes} from "../src/interfaces/IKipAssets.sol";
import {IKipSettlementTypes} from "../src/interfaces/IKipSettlement.sol";
import {BatchEncoder} from "./utils/BatchEncoder.sol";
import {GasBurnerWallet} from "./utils/MockWallets.sol";
import {SettlementFixture} from "./utils/SettlementFixture.sol";

/// @dev Receives value or tokens and, inside the hook, claims the same tokens again and again.
contract ReentrantClaimer is IERC3525Receiver, IERC721Receiver {
    KipAssets internal immutable _assets;
    uint256[] internal _targets;
    uint256 public reentered;

    constructor(KipAssets assets_) {
        _assets = assets_;
    }

    function setTargets(uint256[] memory targets) external {
        _targets = targets;
    }

    function _attack() internal {
        for (uint256 i; i < _targets.length; ++i) {
            _assets.claim(_targets[i]);
            _assets.claim(_targets[i]);
            reentered++;
        }
    }

    function onERC3525Received(address, uint256, uint256, uint256, bytes calldata) external returns (bytes4) {
        _attack();
        return IERC3525Receiver.onERC3525Received.selector;
    }

    function onERC721Received(address, address, uint256, bytes calldata) external returns (bytes4) {
        _attack();
        return IERC721Receiver.onERC721Received.selector;
    }

    function supportsInterface(bytes4 id) external pure returns (bool) {
        return id == type(IERC3525Receiver).interfaceId || id == 0x01ffc9a7;
    }
}

contract AttacksTest is SettlementFixture {
    uint40 internal expiry;
    address internal payer0;

    function setUp() public {
        _deploy();
        expiry = uint40(block.timestamp + 7 days);
        payer0 = _payer(0);
        _fund(payer0, 1_000_000);
    }

    function _batch(KipSettlement target, uint64 nonce) internal view returns (bytes memory) {
        BatchEncoder.SessionEntry memory s = _sessionFor(target, 0, 1_000_000, expiry, 1, true);
        uint8[] memory entries = new uint8[](1);
        uint96[] memory amounts = new uint96[](1);
        amounts[0] = 20_000;
        ReceiptSpec memory spec = ReceiptSpec(0, nonce, expiry, entries, amounts, amounts);
        BatchEncoder.ReceiptEntry memory r = _receiptFor(target, KEY_PK_BASE, payer0, _table4(), spec);
        return BatchEncoder.encode(_sessions1(s), _table4(), _receipts1(r));
    }

    function test_attack_ReplayOnOtherChainIsRejected() public {
        bytes memory batch = _batch(settlement, 1);
        vm.chainId(block.chainid + 1);
        (uint256 settled, uint256 rejected) = settlement.settle(batch);
        assertEq(settled, 0);
        assertEq(rejected, 1); // the session signature no longer verifies: SessionInvalid
        assertEq(settlement.balanceOf(payer0), 1_000_000);
    }

    function test_attack_ReplayOnOtherDeploymentIsRejected() public {
        KipAssets assets2 = new KipAssets(IERC20(address(usd)), "", admin);
        KipSettlement settlement2 =
            new KipSettlement(IERC20(address(usd)), IKipAssets(address(assets2)), treasury, FEE_BPS, DELAY, admin);
        vm.prank(admin);
        assets2.setSettlement(address(settlement2));
        vm.prank(creator);
        assets2.list(IKipAssetsTypes.AssetKind.App, 20_000, "u", bytes32(0));
        usd.mint(payer0, 1_000_000);
        vm.startPrank(payer0);
        usd.approve(address(settlement2), 1_000_000);
        settlement2.deposit(1_000_000);
        vm.stopPrank();

        bytes memory batch = _batch(settlement, 1); // signed for the first deployment
        (uint256 settled,) = settlement2.settle(batch);
        assertEq(settled, 0);
        assertEq(settlement2.balanceOf(payer0), 1_000_000);
        (settled,) = settlement.settle(batch);
        assertEq(settled, 1);
    }

    function test_attack_HighSReceiptSignatureIsRejected() public {
        BatchEncoder.ReceiptEntry memory r = _query(0, 0, 1, expiry);
        bytes memory sig = r.signature;
        bytes32 s;
        uint8 v = uint8(sig[64]);
        assembly {
            s := mload(add(sig, 0x40))
        }
        // The malleable twin: s' = n - s, v' = 55 - v (27 <-> 28), which ecrecover also accepts.
        bytes32 highS = bytes32(0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141 - uint256(s));
        assembly {
            mstore(add(sig, 0x40), highS)
        }
        sig[64] = bytes1(55 - v);
        r.signature = sig;
        vm.expectEmit(address(settlement));
        emit IKipSettlementEventsShim.ReceiptRejected(payer0, 1, uint8(IKipSettlementTypes.RejectReason.BadSignature));
        vm.prank(settler);
        settlement.settle(BatchEncoder.encode(_sessions1(_session(0, 1_000_000, expiry, 1, true)), _table4(), _receipts1(r)));
        assertFalse(settlement.nonceUsed(payer0, 1));
    }

    function test_attack_HighSSessionSignatureIsRejected() public {
        BatchEncoder.SessionEntry memory s = _session(0, 1_000_000, expiry, 1, true);
        bytes memory sig = s.signature;
        bytes32 lowS;
        uint8 v = uint8(sig[64]);
        assembly {
            lowS := mload(add(sig, 0x40))
        }
        bytes32 highS = bytes32(0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141 - uint256(lowS));
        assembly {
            mstore(add(sig, 0x40), highS)
        }
        sig[64] = bytes1(55 - v);
        s.signature = sig;
        vm.prank(settler);
        (uint256 settled,) =
            settlement.settle(BatchEncoder.encode(_sessions1(s), _table4(), _receipts1(_query(0, 0, 1, expiry))));
        assertEq(settled, 0);
    }

    /// The payer holds the session key and sees its own receipts: it settles them first itself, every amount
    /// 0, to burn the nonces before the server's batch lands (free answers). Only an authorized settler may
    /// charge less than the signed maxima, so the copy is rejected and the server's batch still charges.
    function test_attack_PayerFrontRunsWithZeroAmountsIsRejected() public {
        BatchEncoder.SessionEntry memory s = _session(0, 1_000_000, expiry, 1, true);
        BatchEncoder.ReceiptEntry memory honest = _query(0, 0, 1, expiry);
        bytes memory serverBatch = BatchEncoder.encode(_sessions1(s), _table4(), _receipts1(honest));

        BatchEncoder.ReceiptEntry memory zero = _query(0, 0, 1, expiry);
        for (uint256 j; j < zero.charges.length; ++j) {
            zero.charges[j].amount = 0;
        }
        vm.expectEmit(address(settlement));
        emit IKipSettlementEventsShim.ReceiptRejected(
            payer0, 1, uint8(IKipSettlementTypes.RejectReason.AmountNotSignedMax)
        );
        vm.prank(payer0);
        (uint256 settledByPayer,) = settlement.settle(BatchEncoder.encode(_sessions1(s), _table4(), _receipts1(zero)));
        assertEq(settledByPayer, 0);
        assertFalse(settlement.nonceUsed(payer0, 1));

        vm.prank(settler);
        (uint256 settled, uint256 rejected) = settlement.settle(serverBatch);
        assertEq(settled, 1);
        assertEq(rejected, 0);
        assertEq(settlement.balanceOf(payer0), 1_000_000 - 40_000, "the payer pays for the served query");
    }

    /// A smart-wallet payer whose ERC-1271 check burns all the gas it gets cannot sink a batch: its check gets
    /// a fixed budget, its session is invalid, and everyone else's receipts settle.
    function test_attack_HostileSmartWalletSessionCannotSinkBatch() public {
        GasBurnerWallet wallet = new GasBurnerWallet();
        BatchEncoder.SessionEntry[] memory sessions = new BatchEncoder.SessionEntry[](2);
        sessions[0] = _session(0, 1_000_000, expiry, 1, true);
        sessions[1] = BatchEncoder.SessionEntry({
            payer: address(wallet), key: _key(9), spendCap: 1, expiry: expiry, nonce: 1, signature: new bytes(65)
        });
        BatchEncoder.ReceiptEntry[] memory receipts = new BatchEncoder.ReceiptEntry[](11);
        for (uint64 i; i < 10; ++i) {
            receipts[i] = _query(0, 0, i + 1, expiry);
        }
        uint8[] memory entries = new uint8[](1);
        uint96[] memory amounts = new uint96[](1);
        ReceiptSpec memory spec = ReceiptSpec(1, 1, expiry, entries, amounts, amounts);
        receipts[10] = _receiptFor(settlement, KEY_PK_BASE + 9, address(wallet), _table4(), spec);
        bytes memory batch = BatchEncoder.encode(sessions, _table4(), receipts);

        vm.expectEmit(address(settlement));
        emit IKipSettlementEventsShim.ReceiptRejected(
            address(wallet), 1, uint8(IKipSettlementTypes.RejectReason.SessionInvalid)
        );
        vm.prank(settler);
        (bool ok, bytes memory result) =
            address(settlement).call{gas: 2_000_000}(abi.encodeCall(KipSettlement.settle, (batch)));
        assertTrue(ok, "one hostile session must not sink the batch");
        (uint256 settled, uint256 rejected) = abi.decode(result, (uint256, uint256));
        assertEq(settled, 10);
        assertEq(rejected, 1);
        assertEq(settlement.balanceOf(payer0), 1_000_000 - 400_000);
    }

    function _earn(uint64 nonce) internal {
        vm.prank(settler);
        settlement.settle(
            BatchEncoder.encode(_sessions1(_session(0, 1_000_000, expiry, 1, nonce == 1)), _table4(), _receipts1(_query(0, 0, nonce, expiry)))
        );
    }

    function test_attack_ReentrantReceiverCannotClaimTwice() public {
        _earn(1); // app slot earns 19_500
        ReentrantClaimer attacker = new ReentrantClaimer(assets);
        uint256[] memory targets = new uint256[](1);
        targets[0] = 1;
        attacker.setTargets(targets);
        // The creator sells half the app's shares to the attacker; its hook claims token 1 twice.
        vm.prank(creator);
        uint256 attackerToken = assets.transferFrom(1, address(attacker), 500_000);
        assertEq(attacker.reentered(), 1);
        assertEq(usd.balanceOf(creator), 19_500); // paid once, to the owner
        assertEq(usd.balanceOf(address(attacker)), 0);
        // Revenue earned before the transfer stayed with token 1; the attacker's token has nothing old.
        assertEq(assets.claimable(attackerToken), 0);
        _earn(2);
        assertEq(assets.claimable(attackerToken), 9_750);
        assertEq(assets.claimable(1), 9_750);
    }

    function test_attack_ReentrantERC721ReceiverClaimsOnlyOnce() public {
        _earn(1);
        ReentrantClaimer attacker = new ReentrantClaimer(assets);
        uint256[] memory targets = new uint256[](1);
        targets[0] = 1;
        attacker.setTargets(targets);
        vm.prank(creator);
        assets.safeTransferFrom(creator, address(attacker), 1);
        // The token (with its unclaimed revenue) now belongs to the attacker, who claims it once.
        assertEq(usd.balanceOf(address(attacker)), 19_500);
        assertEq(assets.claimable(1), 0);
        assertEq(usd.balanceOf(address(assets)), 9_750 + 4_875 * 2);
    }

    function test_attack_LateShareholderClaimsNothingOld() public {
        _earn(1);
        address late = makeAddr("late");
        vm.prank(creator);
        uint256 lateToken = assets.transferFrom(1, late, 999_999);
        assertEq(assets.claimable(lateToken), 0);
        assertEq(assets.claimable(1), 19_500);
        vm.prank(late);
        assets.transferFrom(lateToken, 1, 999_999); // moving shares back does not move old revenue
        assertEq(assets.claimable(lateToken), 0);
        assertEq(assets.claimable(1), 19_500);
    }

    function test_attack_SettleCannotBeReenteredThroughAssets() public {
        // credit is settlement-only: nobody else can inflate a slot's revenue.
        vm.expectRevert();
        assets.credit(new uint256[](1), new uint256[](1));
    }
}

/// @dev The event, for expectEmit in a contract that does not inherit the events interface.
library IKipSettlementEventsShim {
    event ReceiptRejected(address indexed payer, uint256 indexed nonce, uint8 reason);
}
