// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {SettlementFixture} from "../utils/SettlementFixture.sol";
import {SettlementHandler} from "./SettlementHandler.sol";

/// @dev Protocol invariants over random deposits, withdrawals, batches, share transfers and claims.
contract SettlementInvariantTest is SettlementFixture {
    SettlementHandler internal handler;

    function setUp() public {
        _deploy();
        handler = new SettlementHandler(usd, assets, settlement, uint40(block.timestamp + 3650 days));
        // The handler acts for the creator (owner of the four listed tokens).
        vm.startPrank(creator);
        for (uint256 i = 1; i <= 4; ++i) {
            assets.setApprovalForAll(address(handler), true);
        }
        vm.stopPrank();
        for (uint256 i; i < 3; ++i) {
            handler.deposit(i, 2_000_000);
        }
        targetContract(address(handler));
        // Settlement is what the invariants are about: call it more often than the rest.
        bytes4[] memory selectors = new bytes4[](12);
        selectors[0] = SettlementHandler.settle.selector;
        selectors[1] = SettlementHandler.settle.selector;
        selectors[2] = SettlementHandler.settle.selector;
        selectors[3] = SettlementHandler.deposit.selector;
        selectors[4] = SettlementHandler.requestWithdraw.selector;
        selectors[5] = SettlementHandler.withdraw.selector;
        selectors[6] = SettlementHandler.transferValue.selector;
        selectors[7] = SettlementHandler.transferToken.selector;
        selectors[8] = SettlementHandler.claim.selector;
        selectors[9] = SettlementHandler.claim.selector;
        selectors[10] = SettlementHandler.withdrawFees.selector;
        selectors[11] = SettlementHandler.settleAsStranger.selector;
        targetSelector(FuzzSelector({addr: address(handler), selectors: selectors}));
    }

    /// Tokens held == unspent deposits + fees + revenue owed to tokens (scaled exactly: no rounding loss).
    function invariant_conservation() public view {
        uint256 owedScaled;
        uint256 claimable;
        uint256 count = handler.tokenCount();
        for (uint256 i; i < count; ++i) {
            uint256 id = handler.tokens(i);
            owedScaled += assets.owedScaled(id);
            claimable += assets.claimable(id);
        }
        uint256 held = usd.balanceOf(address(settlement)) + usd.balanceOf(address(assets));
        uint256 dust = usd.balanceOf(address(assets)) - claimable;
        assertEq(held, settlement.totalDeposits() + claimable + settlement.feesAccrued() + dust);
        assertLt(dust, count == 0 ? 1 : count);
        assertEq(owedScaled, usd.balanceOf(address(assets)) * assets.SHARES_PER_SLOT());
        assertEq(usd.balanceOf(address(settlement)), settlement.totalDeposits() + settlement.feesAccrued());
    }

    function invariant_totalDepositsIsSumOfBalances() public view {
        uint256 sum;
        for (uint256 i; i < 3; ++i) {
            sum += settlement.balanceOf(handler.payerAt(i));
        }
        assertEq(sum, settlement.totalDeposits());
    }

    function invariant_noReceiptSettlesTwice() public view {
        assertFalse(handler.doubleSettled());
    }

    function invariant_neverChargedAboveSignedMaxOrCap() public view {
        assertFalse(handler.chargedAboveMax());
        for (uint256 i; i < 3; ++i) {
            (, uint256 spent) = settlement.sessionState(handler.sessionHash(i));
            assertLe(spent, handler.cap());
        }
    }

    /// Only an authorized settler charges less than a receipt's signed maxima.
    function invariant_strangersChargeExactlySignedMaxima() public view {
        assertFalse(handler.strangerChargedBelowMax());
    }

    function invariant_claimsNeverExceedCredits() public view {
        uint256 credited;
        for (uint256 slot = 1; slot <= 4; ++slot) {
            credited += assets.slotInfo(slot).revenue;
        }
        assertLe(handler.claimedTotal(), credited);
        assertEq(credited - handler.claimedTotal(), usd.balanceOf(address(assets)));
    }

    function invariant_revenueStaysWithTokenThatEarnedIt() public view {
        assertFalse(handler.revenueMoved());
    }

    function invariant_slotValuesSumToSupply() public view {
        uint256[5] memory sums;
        uint256 count = handler.tokenCount();
        for (uint256 i; i < count; ++i) {
            uint256 id = handler.tokens(i);
            sums[assets.slotOf(id)] += assets.balanceOf(id);
        }
        for (uint256 slot = 1; slot <= 4; ++slot) {
            assertEq(sums[slot], assets.SHARES_PER_SLOT());
        }
    }

    /// The run really exercised settlement (not only rejected or reverted calls).
    function afterInvariant() public view {
        require(handler.settleCalls() < 3 || handler.settledReceipts() > 0, "no receipt settled in this run");
    }
}
