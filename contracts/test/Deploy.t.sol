// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Test} from "forge-std/Test.sol";

import {Deploy} from "../script/Deploy.s.sol";
import {KipAssets} from "../src/KipAssets.sol";
import {KipLicences} from "../src/KipLicences.sol";
import {KipSettlement} from "../src/KipSettlement.sol";
import {MockUSD} from "../src/MockUSD.sol";
import {IKipSettlementErrors} from "../src/interfaces/IKipSettlement.sol";

contract DeployTest is Test {
    /// Environment variables are process-wide and forge runs tests in parallel: every case that reads or sets
    /// the script's env runs here, one after another.
    function test_deploy_DefaultsThenEnvSettings() public {
        _wiresContractsWithDefaults();
        _usesGivenPaymentTokenAndSettings();
        _writesOperatorToDeploymentJson();
        // Last: the reverted deploy leaves its broadcast open.
        _revertsWhenWithdrawDelayTooLong();
    }

    function _wiresContractsWithDefaults() internal {
        vm.roll(10);
        Deploy script = new Deploy();
        Deploy.Deployment memory d = script.deploy();
        assertTrue(d.paymentTokenIsMock);
        assertEq(MockUSD(d.paymentToken).decimals(), 6);
        assertEq(KipAssets(d.assets).settlement(), d.settlement);
        assertEq(KipAssets(d.assets).licences(), d.licences);
        assertEq(KipLicences(d.licences).assets(), d.assets);
        assertEq(KipLicences(d.licences).settlement(), d.settlement);
        assertEq(KipLicences(d.licences).paymentToken(), d.paymentToken);
        assertEq(KipAssets(d.assets).paymentToken(), d.paymentToken);
        assertEq(KipAssets(d.assets).baseURI(), "http://localhost:3000/api/metadata/");
        assertEq(KipSettlement(d.settlement).paymentToken(), d.paymentToken);
        assertEq(KipSettlement(d.settlement).assets(), d.assets);
        assertEq(KipSettlement(d.settlement).feeBps(), 250);
        assertEq(KipSettlement(d.settlement).withdrawDelay(), 86_400);
        assertEq(KipSettlement(d.settlement).treasury(), d.deployer);
        assertEq(KipSettlement(d.settlement).owner(), d.deployer);
        assertEq(d.operator, d.deployer);
        assertEq(d.startBlock, 9);
    }

    function _usesGivenPaymentTokenAndSettings() internal {
        MockUSD token = new MockUSD();
        vm.setEnv("PAYMENT_TOKEN", vm.toString(address(token)));
        vm.setEnv("FEE_BPS", "100");
        vm.setEnv("WITHDRAW_DELAY", "60");
        vm.setEnv("TREASURY", vm.toString(address(0xBEEF)));
        vm.setEnv("OPERATOR", vm.toString(address(0x5E77)));
        Deploy.Deployment memory d = new Deploy().deploy();
        vm.setEnv("PAYMENT_TOKEN", "");
        vm.setEnv("FEE_BPS", "");
        vm.setEnv("WITHDRAW_DELAY", "");
        vm.setEnv("TREASURY", "");
        vm.setEnv("OPERATOR", "");
        assertFalse(d.paymentTokenIsMock);
        assertEq(d.paymentToken, address(token));
        assertEq(KipSettlement(d.settlement).feeBps(), 100);
        assertEq(KipSettlement(d.settlement).withdrawDelay(), 60);
        assertEq(KipSettlement(d.settlement).treasury(), address(0xBEEF));
        assertEq(d.operator, address(0x5E77));
    }

    function _revertsWhenWithdrawDelayTooLong() internal {
        vm.setEnv("WITHDRAW_DELAY", vm.toString(uint256(30 days + 1)));
        Deploy script = new Deploy();
        vm.expectRevert(
            abi.encodeWithSelector(IKipSettlementErrors.WithdrawDelayTooLong.selector, 30 days + 1, 30 days)
        );
        script.deploy();
        vm.setEnv("WITHDRAW_DELAY", "");
    }

    function _writesOperatorToDeploymentJson() internal {
        string memory file = string.concat("/tmp/kip-deploy-test-", vm.toString(block.timestamp), ".json");
        vm.setEnv("DEPLOYMENT_FILE", file);
        vm.setEnv("OPERATOR", vm.toString(address(0x0123)));
        Deploy.Deployment memory d = new Deploy().run();
        vm.setEnv("DEPLOYMENT_FILE", "");
        vm.setEnv("OPERATOR", "");
        string memory json = vm.readFile(file);
        vm.removeFile(file);
        assertEq(vm.parseJsonAddress(json, ".operator"), address(0x0123));
        assertEq(vm.parseJsonAddress(json, ".settlement"), d.settlement);
        assertFalse(vm.keyExistsJson(json, ".settler"));
    }

    function test_mockUSD_OpenFaucetAndMetadata() public {
        MockUSD token = new MockUSD();
        token.mint(address(this), 5);
        assertEq(token.balanceOf(address(this)), 5);
        assertEq(token.name(), "Mock USD");
        assertEq(token.symbol(), "mUSD");
    }
}
