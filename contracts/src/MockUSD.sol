// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";

/// @title MockUSD: the payment token of local chains and tests.
/// @notice 6 decimals, EIP-2612 permit. `mint` is OPEN TO ANYONE: it is a local-chain faucet and must never
/// be deployed where the token is meant to have value (Deploy.s.sol only deploys it when PAYMENT_TOKEN is unset).
contract MockUSD is ERC20, ERC20Permit {
    constructor() ERC20("Mock USD", "mUSD") ERC20Permit("Mock USD") {}

    /// @notice Faucet: mints `amount` to `to`. Anyone may call it (local chains only).
    /// @param to Receiver of the new tokens.
    /// @param amount Amount in 6-decimal units.
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    /// @notice 6 decimals, like USDC.
    function decimals() public pure override returns (uint8) {
        return 6;
    }
}
