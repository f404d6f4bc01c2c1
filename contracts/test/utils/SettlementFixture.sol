// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Test} from "forge-std/Test.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

import {KipAssets} from "../../src/KipAssets.sol";
import {KipSettlement} from "../../src/KipSettlement.sol";
import {MockUSD} from "../../src/MockUSD.sol";
import {IKipAssets, IKipAssetsTypes} from "../../src/interfaces/IKipAssets.sol";
import {BatchEncoder} from "./BatchEncoder.sol";

/// @dev Deploys the protocol with one app, one model and two datasets, and signs sessions and receipts.
abstract contract SettlementFixture is Test {
    MockUSD internal usd;
    KipAssets internal assets;
    KipSettlement internal settlement;

    address internal admin = makeAddr("admin");
    address internal treasury = makeAddr("treasury");
    address internal creator = makeAddr("creator");
    address internal settler = makeAddr("settler");

    uint256 internal constant FEE_BPS = 250;
    uint256 internal constant DELAY = 1 days;
    uint256 internal constant APP = 1;
    uint256 internal constant MODEL = 2;
    uint256 internal constant DATA_A = 3;
    uint256 internal constant DATA_B = 4;

    uint256 internal constant KEY_PK_BASE = 0xA11CE000;
    uint256 internal constant PAYER_PK_BASE = 0xB0B000;

    function _deploy() internal {
        usd = new MockUSD();
        assets = new KipAssets(IERC20(address(usd)), "http://localhost:3000/api/metadata/", admin);
        settlement = new KipSettlement(IERC20(address(usd)), IKipAssets(address(assets)), treasury, FEE_BPS, DELAY, admin);
        vm.startPrank(admin);
        assets.setSettlement(address(settlement));
        // The server's settler may charge less than the signed maxima (an unused dataset: 0).
        settlement.setSettler(settler, true);
        vm.stopPrank();
        vm.startPrank(creator);
        assets.list(IKipAssetsTypes.AssetKind.App, 20_000, "http://localhost:3000/api/metadata/slots/app-1.json", keccak256("app"));
        assets.list(IKipAssetsTypes.AssetKind.Model, 10_000, "http://localhost:3000/api/metadata/slots/model-1.json", keccak256("model"));
        assets.list(IKipAssetsTypes.AssetKind.Dataset, 5_000, "http://localhost:3000/api/metadata/slots/data-1.json", keccak256("d1"));
        assets.list(IKipAssetsTypes.AssetKind.Dataset, 5_000, "http://localhost:3000/api/metadata/slots/data-2.json", keccak256("d2"));
        vm.stopPrank();
    }

    function _payer(uint256 i) internal pure returns (address) {
        return vm.addr(PAYER_PK_BASE + i);
    }

    function _key(uint256 i) internal pure returns (address) {
        return vm.addr(KEY_PK_BASE + i);
    }

    function _fund(address payer, uint256 amount) internal {
        usd.mint(payer, amount);
        vm.startPrank(payer);
        usd.approve(address(settlement), amount);
        settlement.deposit(amount);
        vm.stopPrank();
    }

    function _session(uint256 i, uint128 cap, uint40 expiry, uint64 nonce, bool signed)
        internal
        view
        returns (BatchEncoder.SessionEntry memory s)
    {
        return _sessionFor(settlement, i, cap, expiry, nonce, signed);
    }

    function _sessionFor(KipSettlement target, uint256 i, uint128 cap, uint40 expiry, uint64 nonce, bool signed)
        internal
        view
        returns (BatchEncoder.SessionEntry memory s)
    {
        s.payer = _payer(i);
        s.key = _key(i);
        s.spendCap = cap;
        s.expiry = expiry;
        s.nonce = nonce;
        if (signed) {
            bytes32 digest = target.hashTypedData(target.hashSession(s.payer, s.key, cap, expiry, nonce));
            (uint8 v, bytes32 r, bytes32 sig) = vm.sign(PAYER_PK_BASE + i, digest);
            s.signature = abi.encodePacked(r, sig, v);
        }
    }

    /// @dev What a receipt charges: table entries, signed maxima and charged amounts.
    struct ReceiptSpec {
        uint8 sessionIndex;
        uint64 nonce;
        uint40 deadline;
        uint8[] entries;
        uint96[] maxAmounts;
        uint96[] amounts;
    }

    /// @dev A receipt of payer `i` charging `amounts[j]` (max `maxAmounts[j]`) to table entry `entries[j]`.
    function _receipt(
        uint256 i,
        uint8 sessionIndex,
        uint64 nonce,
        uint40 deadline,
        BatchEncoder.SlotEntry[] memory table,
        uint8[] memory entries,
        uint96[] memory maxAmounts,
        uint96[] memory amounts
    ) internal view returns (BatchEncoder.ReceiptEntry memory r) {
        ReceiptSpec memory spec = ReceiptSpec(sessionIndex, nonce, deadline, entries, maxAmounts, amounts);
        return _receiptFor(settlement, KEY_PK_BASE + i, _payer(i), table, spec);
    }

    function _receiptFor(
        KipSettlement target,
        uint256 keyPk,
        address payer,
        BatchEncoder.SlotEntry[] memory table,
        ReceiptSpec memory spec
    ) internal view returns (BatchEncoder.ReceiptEntry memory r) {
        r.sessionIndex = spec.sessionIndex;
        r.nonce = spec.nonce;
        r.deadline = spec.deadline;
        uint256 n = spec.entries.length;
        r.charges = new BatchEncoder.Charge[](n);
        uint256[] memory slots = new uint256[](n);
        uint256[] memory maxes = new uint256[](n);
        for (uint256 j; j < n; ++j) {
            r.charges[j] = BatchEncoder.Charge(spec.entries[j], spec.maxAmounts[j], spec.amounts[j]);
            slots[j] = table[spec.entries[j]].id;
            maxes[j] = spec.maxAmounts[j];
        }
        bytes32 structHash = target.hashReceipt(payer, slots, maxes, spec.nonce, spec.deadline);
        (uint8 v, bytes32 rr, bytes32 ss) = vm.sign(keyPk, target.hashTypedData(structHash));
        r.signature = abi.encodePacked(rr, ss, v);
    }

    function _table4() internal pure returns (BatchEncoder.SlotEntry[] memory t) {
        t = new BatchEncoder.SlotEntry[](4);
        t[0] = BatchEncoder.SlotEntry(uint64(APP), 20_000);
        t[1] = BatchEncoder.SlotEntry(uint64(MODEL), 10_000);
        t[2] = BatchEncoder.SlotEntry(uint64(DATA_A), 5_000);
        t[3] = BatchEncoder.SlotEntry(uint64(DATA_B), 5_000);
    }

    /// @dev The standard query: app 20_000, model 10_000, two datasets 5_000 each (max = amount).
    function _query(uint256 i, uint8 sessionIndex, uint64 nonce, uint40 deadline)
        internal
        view
        returns (BatchEncoder.ReceiptEntry memory)
    {
        uint8[] memory entries = new uint8[](4);
        uint96[] memory amounts = new uint96[](4);
        entries[0] = 0;
        entries[1] = 1;
        entries[2] = 2;
        entries[3] = 3;
        amounts[0] = 20_000;
        amounts[1] = 10_000;
        amounts[2] = 5_000;
        amounts[3] = 5_000;
        return _receipt(i, sessionIndex, nonce, deadline, _table4(), entries, amounts, amounts);
    }

    function _sessions1(BatchEncoder.SessionEntry memory s)
        internal
        pure
        returns (BatchEncoder.SessionEntry[] memory out)
    {
        out = new BatchEncoder.SessionEntry[](1);
        out[0] = s;
    }

    function _receipts1(BatchEncoder.ReceiptEntry memory r)
        internal
        pure
        returns (BatchEncoder.ReceiptEntry[] memory out)
    {
        out = new BatchEncoder.ReceiptEntry[](1);
        out[0] = r;
    }
}
