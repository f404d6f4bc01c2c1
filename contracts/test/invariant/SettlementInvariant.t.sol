// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {console} from "forge-std/console.sol";

import {SettlementFixture} from "../utils/SettlementFixture.sol";
import {SettlementHandler} from "./SettlementHandler.sol";

/// @dev Protocol invariants of KipSettlement v3 over random deposits, withdrawals, queries, revocations,
/// settlement batches mixing valid and invalid items from either operator or a stranger, fee changes, fee
/// withdrawals, claims and time (SettlementHandler, which models every account and predicts every item).
contract SettlementInvariantTest is SettlementFixture {
    SettlementHandler internal handler;
    uint256 internal constant ACCOUNTS = 6;

    function setUp() public {
        _deploy();
        handler = new SettlementHandler(usd, assets, settlement);
        for (uint256 a; a < ACCOUNTS; ++a) {
            handler.deposit(a, 200_000);
        }
        targetContract(address(handler));
        // Queries and settlements are what the invariants are about: they are called most.
        bytes4[] memory selectors = new bytes4[](24);
        for (uint256 i; i < 8; ++i) {
            selectors[i] = SettlementHandler.query.selector;
        }
        for (uint256 i = 8; i < 12; ++i) {
            selectors[i] = SettlementHandler.settle.selector;
        }
        selectors[12] = SettlementHandler.deposit.selector;
        selectors[13] = SettlementHandler.deposit.selector;
        selectors[14] = SettlementHandler.requestWithdraw.selector;
        selectors[15] = SettlementHandler.cancelWithdraw.selector;
        selectors[16] = SettlementHandler.withdraw.selector;
        selectors[17] = SettlementHandler.revoke.selector;
        selectors[18] = SettlementHandler.revokeMadeUp.selector;
        selectors[19] = SettlementHandler.warp.selector;
        selectors[20] = SettlementHandler.setFee.selector;
        selectors[21] = SettlementHandler.withdrawFees.selector;
        selectors[22] = SettlementHandler.claim.selector;
        selectors[23] = SettlementHandler.withdraw.selector;
        targetSelector(FuzzSelector({addr: address(handler), selectors: selectors}));
    }

    /// The settlement holds exactly the unspent balances plus the fees, and the balances it sums are the
    /// accounts' balances; KipAssets holds the claimable revenue plus rounding dust below one unit per token.
    function invariant_conservation() public view {
        assertEq(usd.balanceOf(address(settlement)), settlement.totalDeposits() + settlement.feesAccrued());
        uint256 modelled;
        uint256 onChain;
        for (uint256 a; a < ACCOUNTS; ++a) {
            SettlementHandler.AccountModel memory m = handler.account(a);
            modelled += m.balance;
            onChain += settlement.balanceOf(m.payer, m.operator);
        }
        assertEq(settlement.totalDeposits(), modelled, "totalDeposits != the accounts' balances (model)");
        assertEq(settlement.totalDeposits(), onChain, "totalDeposits != the accounts' balances (chain)");
        uint256 claimable;
        for (uint256 id = 1; id <= 4; ++id) {
            claimable += assets.claimable(id);
        }
        uint256 held = usd.balanceOf(address(assets));
        assertGe(held, claimable);
        assertLt(held - claimable, 4);
    }

    /// Each account's balance is what was deposited, less what was withdrawn, less what settlements charged.
    function invariant_balancesAreDepositsLessWithdrawalsLessCharges() public view {
        for (uint256 a; a < ACCOUNTS; ++a) {
            SettlementHandler.AccountModel memory m = handler.account(a);
            AccountState memory s = settlement.accountOf(m.payer, m.operator);
            assertEq(uint256(s.balance) + m.withdrawn + s.charged, m.deposited, "balance");
        }
    }

    /// No account was ever charged more than the highest cumulative maximum any of its keys signed, the
    /// highest spend cap of its sessions, or the maximum and cap of the item that settled it last.
    function invariant_neverChargedAboveSignedMaximaOrCaps() public view {
        for (uint256 a; a < ACCOUNTS; ++a) {
            SettlementHandler.AccountModel memory m = handler.account(a);
            AccountState memory s = settlement.accountOf(m.payer, m.operator);
            assertLe(s.charged, m.maxSigned, "above every signed maximum");
            assertLe(s.charged, m.maxCap, "above every cap");
            if (s.seq != 0) {
                assertLe(s.charged, m.lastCumulativeMax, "above the settled voucher's maximum");
                assertLe(s.charged, m.lastSpendCap, "above the settled session's cap");
            }
        }
    }

    /// What the accounts were charged is exactly what KipAssets was credited plus the fees (accrued or paid
    /// to the treasury); each slot's revenue and the fees are the model's (per table entry, rounded down);
    /// KipAssets holds the revenue not yet claimed.
    function invariant_chargesAreRevenuePlusFees() public view {
        uint256 charged;
        for (uint256 a; a < ACCOUNTS; ++a) {
            SettlementHandler.AccountModel memory m = handler.account(a);
            charged += settlement.accountOf(m.payer, m.operator).charged;
        }
        uint256 revenue;
        for (uint256 slot = 1; slot <= 4; ++slot) {
            uint256 r = assets.slotInfo(slot).revenue;
            assertEq(r, handler.revenue(slot - 1), "slot revenue");
            revenue += r;
        }
        assertEq(settlement.feesAccrued(), handler.feesAccrued(), "fees accrued");
        assertEq(usd.balanceOf(treasury), handler.feesWithdrawn(), "fees paid");
        assertEq(charged, revenue + settlement.feesAccrued() + usd.balanceOf(treasury), "charges");
        assertEq(revenue - handler.claimedTotal(), usd.balanceOf(address(assets)), "unclaimed revenue");
    }

    /// Every account's word on chain (balance, seq, charged, revokedUntil), its withdrawal request, every
    /// session's revocation and the fee are the model's.
    function invariant_accountStateMatchesModel() public view {
        for (uint256 a; a < ACCOUNTS; ++a) {
            SettlementHandler.AccountModel memory m = handler.account(a);
            AccountState memory s = settlement.accountOf(m.payer, m.operator);
            assertEq(s.balance, m.balance, "balance");
            assertEq(s.seq, m.seq, "seq");
            assertEq(s.charged, m.charged, "charged");
            assertEq(s.revokedUntil, m.revokedUntil, "revokedUntil");
            Withdrawal memory w = settlement.withdrawalOf(m.payer, m.operator);
            assertEq(w.amount, m.withdrawAmount, "withdrawal amount");
            assertEq(w.readyAt, m.withdrawReadyAt, "withdrawal readyAt");
            for (uint256 n; n < 3; ++n) {
                SettlementHandler.SessionModel memory sm = handler.sessionOf(a, n);
                assertEq(settlement.revokedAt(_sessionId(sm.session)), sm.revokedAt, "revokedAt");
            }
        }
        assertEq(settlement.feeBps(), handler.feeBps(), "fee");
    }

    /// Every item of every batch had the outcome the checks predict on the model: the valid ones settled,
    /// each invalid one was rejected with its reason and changed nothing; every batch settled (none
    /// reverted), with the counts, gross and fees of exactly the items that settled.
    function invariant_onlyValidItemsSettle() public view {
        assertFalse(handler.mismatch(), handler.mismatchNote());
    }

    /// The run really exercised settlement: with enough queries and batches, something settled. With -vv,
    /// the run's queries, batches and item outcomes (0 settled, else the reject reason).
    function afterInvariant() public view {
        if (handler.admittedQueries() >= 10 && handler.settleCalls() >= 20) {
            assertGt(handler.outcomes(0), 0, "nothing settled in this run");
        }
        console.log("queries", handler.admittedQueries(), "batches", handler.settleCalls());
        for (uint256 r; r < 12; ++r) {
            if (handler.outcomes(r) != 0) console.log("outcome", r, handler.outcomes(r));
        }
    }
}
