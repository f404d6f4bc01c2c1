// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {Script} from "forge-std/Script.sol";

import {KipAssets} from "../src/KipAssets.sol";
import {KipLicences} from "../src/KipLicences.sol";
import {KipSettlement} from "../src/KipSettlement.sol";
import {MockUSD} from "../src/MockUSD.sol";
import {IKipAssets} from "../src/interfaces/IKipAssets.sol";
import {IKipSettlement} from "../src/interfaces/IKipSettlement.sol";

/// @title Deploys the protocol and writes ../deployments/<chainId>.json.
/// @notice Env (all optional): PAYMENT_TOKEN (unset or zero: deploy MockUSD), TREASURY (default: deployer),
/// FEE_BPS (250), WITHDRAW_DELAY (86400 s, at most 30 days), OPERATOR (the server's settlement account: the
/// operator sessions name and deposits are made for; recorded as "operator", the contract has no allow-list;
/// default: deployer), METADATA_BASE_URI ("http://localhost:3000/api/metadata/"), DEPLOYMENT_FILE (where to
/// write the JSON; must be under ../deployments or /tmp, see fs_permissions).
/// Run: npx forge script script/Deploy.s.sol --rpc-url URL --private-key KEY --broadcast
contract Deploy is Script {
    struct Deployment {
        address paymentToken;
        bool paymentTokenIsMock;
        address assets;
        address settlement;
        address licences;
        address deployer;
        address treasury;
        address operator;
        uint256 feeBps;
        uint256 withdrawDelay;
        uint256 startBlock;
    }

    /// @notice Deploys and records the deployment.
    function run() external returns (Deployment memory d) {
        d = deploy();
        _write(d);
    }

    /// @notice Deploys MockUSD (if needed), KipAssets, KipSettlement and KipLicences, and wires them.
    function deploy() public returns (Deployment memory d) {
        d.paymentToken = vm.envOr("PAYMENT_TOKEN", address(0));
        d.feeBps = vm.envOr("FEE_BPS", uint256(250));
        d.withdrawDelay = vm.envOr("WITHDRAW_DELAY", uint256(86_400));
        string memory baseURI = vm.envOr("METADATA_BASE_URI", string("http://localhost:3000/api/metadata/"));
        d.startBlock = block.number > 0 ? block.number - 1 : 0;

        vm.startBroadcast();
        (, d.deployer,) = vm.readCallers();
        d.treasury = vm.envOr("TREASURY", d.deployer);
        d.operator = vm.envOr("OPERATOR", d.deployer);
        if (d.paymentToken == address(0)) {
            d.paymentToken = address(new MockUSD());
            d.paymentTokenIsMock = true;
        }
        KipAssets assets = new KipAssets(IERC20(d.paymentToken), baseURI, d.deployer);
        KipSettlement settlement = new KipSettlement(
            IERC20(d.paymentToken),
            IKipAssets(address(assets)),
            d.treasury,
            d.feeBps,
            d.withdrawDelay,
            d.deployer
        );
        KipLicences licences = new KipLicences(IKipAssets(address(assets)), IKipSettlement(address(settlement)));
        assets.setSettlement(address(settlement));
        assets.setLicences(address(licences));
        vm.stopBroadcast();

        d.assets = address(assets);
        d.settlement = address(settlement);
        d.licences = address(licences);
    }

    function _write(Deployment memory d) internal {
        string memory key = "deployment";
        vm.serializeUint(key, "chainId", block.chainid);
        vm.serializeAddress(key, "paymentToken", d.paymentToken);
        vm.serializeBool(key, "paymentTokenIsMock", d.paymentTokenIsMock);
        vm.serializeAddress(key, "assets", d.assets);
        vm.serializeAddress(key, "settlement", d.settlement);
        vm.serializeAddress(key, "licences", d.licences);
        vm.serializeAddress(key, "deployer", d.deployer);
        vm.serializeAddress(key, "treasury", d.treasury);
        vm.serializeAddress(key, "operator", d.operator);
        vm.serializeUint(key, "feeBps", d.feeBps);
        vm.serializeUint(key, "withdrawDelay", d.withdrawDelay);
        string memory json = vm.serializeUint(key, "startBlock", d.startBlock);
        string memory file = vm.envOr(
            "DEPLOYMENT_FILE",
            string.concat(vm.projectRoot(), "/../deployments/", vm.toString(block.chainid), ".json")
        );
        vm.writeJson(json, file);
    }
}
