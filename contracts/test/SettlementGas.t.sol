// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {console} from "forge-std/console.sol";

import {KipSettlement} from "../src/KipSettlement.sol";
import {BatchEncoder} from "./utils/BatchEncoder.sol";
import {SettlementFixture} from "./utils/SettlementFixture.sol";

/// @dev Gas of settle with registered sessions: 10 payers x k receipts, 4 charges each. Counts the 21,000
/// base and calldata like a real transaction (bench/gas.ts measures the same on anvil).
contract SettlementGasTest is SettlementFixture {
    uint256 internal constant PAYERS = 10;
    uint40 internal expiry;

    function setUp() public {
        _deploy();
        expiry = uint40(block.timestamp + 30 days);
        BatchEncoder.SessionEntry[] memory sessions = new BatchEncoder.SessionEntry[](PAYERS);
        BatchEncoder.ReceiptEntry[] memory receipts = new BatchEncoder.ReceiptEntry[](PAYERS);
        for (uint256 i; i < PAYERS; ++i) {
            _fund(_payer(i), 1_000_000_000);
            sessions[i] = _session(i, 500_000_000, expiry, 1, true);
            receipts[i] = _query(i, uint8(i), 0, expiry);
        }
        vm.prank(settler);
        settlement.settle(BatchEncoder.encode(sessions, _table4(), receipts));
    }

    function _batch(uint256 perPayer, uint64 firstNonce) internal view returns (bytes memory) {
        BatchEncoder.SessionEntry[] memory sessions = new BatchEncoder.SessionEntry[](PAYERS);
        BatchEncoder.ReceiptEntry[] memory receipts = new BatchEncoder.ReceiptEntry[](PAYERS * perPayer);
        for (uint256 i; i < PAYERS; ++i) {
            sessions[i] = _session(i, 500_000_000, expiry, 1, false);
            for (uint256 j; j < perPayer; ++j) {
                receipts[i * perPayer + j] = _query(i, uint8(i), firstNonce + uint64(j), expiry);
            }
        }
        return BatchEncoder.encode(sessions, _table4(), receipts);
    }

    function _txGas(bytes memory batch) internal returns (uint256 total) {
        bytes memory data = abi.encodeCall(KipSettlement.settle, (batch));
        uint256 calldataGas;
        for (uint256 i; i < data.length; ++i) {
            calldataGas += data[i] == 0 ? 4 : 16;
        }
        vm.cool(address(settlement));
        vm.cool(address(assets));
        vm.cool(address(usd));
        vm.prank(settler);
        uint256 before = gasleft();
        (uint256 settled,) = settlement.settle(batch);
        uint256 used = before - gasleft();
        assertEq(settled, batch.length > 0 ? settled : 0);
        total = 21_000 + calldataGas + used;
        console.log("calldata bytes", data.length, "calldata gas", calldataGas);
        console.log("execution gas", used, "settled", settled);
    }

    function test_settle_GasPerReceipt_100() public {
        uint256 total = _txGas(_batch(10, 1));
        console.log("per receipt (100)", total / 100);
        assertLe(total / 100, 12_000);
    }

    function test_settle_GasPerReceipt_10() public {
        uint256 total = _txGas(_batch(1, 1));
        console.log("per receipt (10)", total / 10);
    }
}
