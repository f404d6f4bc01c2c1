// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {SettlementFixture} from "../utils/SettlementFixture.sol";
import {SettlementHandler} from "./SettlementHandler.sol";

/// @dev Protocol invariants over random deposits, withdrawals, queries, settlements, revocations, fee
/// withdrawals and claims (SettlementHandler).
contract SettlementInvariantTest is SettlementFixture {
    SettlementHandler internal handler;

    function setUp() public {
        _deploy();
        handler = new SettlementHandler(usd, assets, settlement);
        for (uint256 p; p < 3; ++p) {
            handler.deposit(p, 0, 200_000);
            handler.deposit(p, 1, 200_000);
        }
        targetContract(address(handler));
        // Queries and settlement are what the invariants are about: call them more often than the rest.
        bytes4[] memory selectors = new bytes4[](16);
        selectors[0] = SettlementHandler.query.selector;
        selectors[1] = SettlementHandler.query.selector;
        selectors[2] = SettlementHandler.query.selector;
        selectors[3] = SettlementHandler.query.selector;
        selectors[4] = SettlementHandler.settle.selector;
        selectors[5] = SettlementHandler.settle.selector;
        selectors[6] = SettlementHandler.settle.selector;
        selectors[7] = SettlementHandler.deposit.selector;
        selectors[8] = SettlementHandler.requestWithdraw.selector;
        selectors[9] = SettlementHandler.withdraw.selector;
        selectors[10] = SettlementHandler.revoke.selector;
        selectors[11] = SettlementHandler.settleAfterRevocation.selector;
        selectors[12] = SettlementHandler.warp.selector;
        selectors[13] = SettlementHandler.withdrawFees.selector;
        selectors[14] = SettlementHandler.claim.selector;
        selectors[15] = SettlementHandler.query.selector;
        targetSelector(FuzzSelector({addr: address(handler), selectors: selectors}));
    }

    /// The settlement holds exactly the unspent balances plus the fees; KipAssets exactly the claimable
    /// revenue plus rounding dust below one unit per token.
    function invariant_conservation() public view {
        assertEq(usd.balanceOf(address(settlement)), settlement.totalDeposits() + settlement.feesAccrued());
        uint256 claimable;
        for (uint256 id = 1; id <= 4; ++id) {
            claimable += assets.claimable(id);
        }
        uint256 held = usd.balanceOf(address(assets));
        assertGe(held, claimable);
        assertLt(held - claimable, 4);
    }

    /// totalDeposits is the sum of the per-(payer, operator) balances, and each balance is what was deposited
    /// less what was withdrawn less what settlements charged.
    function invariant_balancesAreDepositsLessWithdrawalsLessCharges() public view {
        uint256 sum;
        for (uint256 p; p < 3; ++p) {
            for (uint256 o; o < 2; ++o) {
                address payer = handler.payerAt(p);
                address op = handler.operatorAt(o);
                uint256 balance = settlement.balanceOf(payer, op);
                assertEq(
                    balance,
                    handler.deposited(payer, op) - handler.withdrawn(payer, op) - handler.charged(payer, op)
                );
                sum += balance;
            }
        }
        assertEq(sum, settlement.totalDeposits());
    }

    /// No session is charged more than its cap or the sum of the cumulative maxima its key signed, so no payer
    /// is charged more than the sum of that over its sessions.
    function invariant_neverChargedAboveSignedMaximaOrCaps() public view {
        uint256[3] memory limit;
        for (uint256 i; i < handler.tabCount(); ++i) {
            Tab memory t = handler.tab(i);
            uint256 sessionLimit = handler.signedLimit(i);
            assertLe(handler.sessionCharged(_id(t)), sessionLimit);
            for (uint256 p; p < 3; ++p) {
                if (handler.payerAt(p) == t.session.payer) limit[p] += sessionLimit;
            }
        }
        for (uint256 p; p < 3; ++p) {
            address payer = handler.payerAt(p);
            uint256 chargedTotal =
                handler.charged(payer, handler.operatorAt(0)) + handler.charged(payer, handler.operatorAt(1));
            assertLe(chargedTotal, limit[p]);
        }
    }

    /// What the settlement charged equals what it credited to slots plus the fees it kept.
    function invariant_chargesAreRevenuePlusFees() public view {
        uint256 chargedTotal;
        for (uint256 p; p < 3; ++p) {
            address payer = handler.payerAt(p);
            chargedTotal += handler.charged(payer, handler.operatorAt(0))
            + handler.charged(payer, handler.operatorAt(1));
        }
        uint256 revenue;
        for (uint256 slot = 1; slot <= 4; ++slot) {
            revenue += assets.slotInfo(slot).revenue;
        }
        uint256 fees = settlement.feesAccrued() + usd.balanceOf(treasury);
        assertEq(chargedTotal, revenue + fees);
        assertEq(revenue - handler.claimedTotal(), usd.balanceOf(address(assets)));
    }

    /// Each session's stored state is the commitment to what the handler (the server) believes settled.
    function invariant_sessionStateMatchesServerView() public view {
        for (uint256 i; i < handler.tabCount(); ++i) {
            Tab memory t = handler.tab(i);
            bytes32 expected;
            if (t.prevSeq != 0) {
                uint256[] memory slots = new uint256[](t.prevSettled.length);
                for (uint256 j; j < slots.length; ++j) {
                    slots[j] = t.slots[j];
                }
                expected = _stateHash(t.prevSeq, slots, t.prevSettled);
            }
            assertEq(settlement.sessionState(_id(t)), expected);
        }
    }

    /// Corrupted items never settle, nothing settles from vouchers issued after a revocation took effect, and
    /// every settled item charged exactly its records.
    function invariant_onlyValidItemsSettle() public view {
        assertFalse(handler.corruptItemSettled());
        assertFalse(handler.settledAfterRevocation());
        assertFalse(handler.chargedOtherThanRecords());
    }

    /// The run really exercised settlement: with enough queries and batches, something settled.
    function afterInvariant() public view {
        if (handler.admittedQueries() >= 10 && handler.settleCalls() >= 20) {
            assertGt(handler.settledItems(), 0, "nothing settled in this run");
        }
    }
}
