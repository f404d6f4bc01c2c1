// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Vm} from "forge-std/Vm.sol";

import {KipAssets} from "../../src/KipAssets.sol";
import {KipSettlement} from "../../src/KipSettlement.sol";
import {MockUSD} from "../../src/MockUSD.sol";
import {BatchEncoder} from "../utils/BatchEncoder.sol";
import {SettlementFixture} from "../utils/SettlementFixture.sol";

/// @dev Drives deposits, withdrawals, settlements (valid, replayed, over-max, over-cap receipts), value and
/// token transfers and claims, and records ghost facts the invariants check.
contract SettlementHandler is SettlementFixture {
    uint256 internal constant PAYERS = 3;
    uint40 internal immutable _expiry;
    uint128 internal constant CAP = 3_000_000;

    address[] public holders;
    uint256[] public tokens;

    mapping(address payer => mapping(uint256 nonce => uint256)) public settledCount;
    mapping(address payer => mapping(uint256 nonce => uint256)) public signedTotalMax;
    bool public doubleSettled;
    bool public chargedAboveMax;
    /// @dev A receipt settled by a caller that is not an authorized settler charged other than its signed max.
    bool public strangerChargedBelowMax;
    uint256 public strangerSettledReceipts;
    address internal immutable _stranger = makeAddr("stranger");
    /// @dev Receipts of the current batch at their signed maxima: keccak256(payer, nonce, charges) with
    /// charges[j] = slotId << 128 | maxAmount, as ReceiptSettled would carry them.
    bytes32[] internal _batchSignedMaxima;
    bool public revenueMoved;
    uint256 public claimedTotal;
    uint256 public settledReceipts;
    uint256 public settleCalls;
    uint64 internal _nextNonce = 1;

    constructor(MockUSD usd_, KipAssets assets_, KipSettlement settlement_, uint40 expiry_) {
        usd = usd_;
        assets = assets_;
        settlement = settlement_;
        _expiry = expiry_;
        holders.push(creator);
        holders.push(makeAddr("holder1"));
        holders.push(makeAddr("holder2"));
        for (uint256 i = 1; i <= 4; ++i) {
            tokens.push(i);
        }
    }

    function tokenCount() external view returns (uint256) {
        return tokens.length;
    }

    function payerAt(uint256 i) external pure returns (address) {
        return _payer(i);
    }

    function sessionHash(uint256 i) public view returns (bytes32) {
        return settlement.hashSession(_payer(i), _key(i), CAP, _expiry, 1);
    }

    function cap() external pure returns (uint256) {
        return CAP;
    }

    // ---------------------------------------------------------------- payer actions

    function deposit(uint256 payerSeed, uint256 amount) external {
        address payer = _payer(payerSeed % PAYERS);
        amount = bound(amount, 1, 2_000_000);
        _fund(payer, amount);
    }

    function requestWithdraw(uint256 payerSeed, uint256 amount) external {
        address payer = _payer(payerSeed % PAYERS);
        uint256 balance = settlement.balanceOf(payer);
        if (balance == 0) return;
        vm.prank(payer);
        settlement.requestWithdraw(bound(amount, 1, balance));
    }

    function withdraw(uint256 payerSeed) external {
        address payer = _payer(payerSeed % PAYERS);
        if (settlement.withdrawalOf(payer).amount == 0) return;
        vm.warp(block.timestamp + DELAY);
        vm.prank(payer);
        settlement.withdraw();
    }

    // ---------------------------------------------------------------- settlement

    /// @dev One batch of up to 6 receipts from random payers, settled by the authorized settler; some replay
    /// an old nonce, some charge above the signed max, some below it, some are signed by the wrong key.
    function settle(uint256 seed, uint8 count) external {
        _settleBatch(seed, count, settler);
    }

    /// @dev The same, settled by someone who is not an authorized settler (a payer front-running the server,
    /// say): whatever settles must charge exactly the signed maxima.
    function settleAsStranger(uint256 seed, uint8 count) external {
        _settleBatch(seed, count, _stranger);
    }

    function _settleBatch(uint256 seed, uint8 count, address caller) internal {
        count = uint8(bound(count, 1, 6));
        settleCalls++;
        delete _batchSignedMaxima;
        BatchEncoder.SessionEntry[] memory sessions = new BatchEncoder.SessionEntry[](PAYERS);
        for (uint256 i; i < PAYERS; ++i) {
            sessions[i] = _session(i, CAP, _expiry, 1, true);
        }
        BatchEncoder.ReceiptEntry[] memory receipts = new BatchEncoder.ReceiptEntry[](count);
        for (uint256 k; k < count; ++k) {
            uint256 r = uint256(keccak256(abi.encode(seed, k)));
            uint256 payerIndex = r % PAYERS;
            uint64 nonce = (r >> 8) % 5 == 0 && _nextNonce > 1 ? uint64((r >> 16) % _nextNonce) : _nextNonce++;
            receipts[k] = _randomReceipt(payerIndex, nonce, r);
            _batchSignedMaxima.push(_signedMaxima(_payer(payerIndex), receipts[k]));
        }
        bytes memory batch = BatchEncoder.encode(sessions, _table4(), receipts);
        vm.recordLogs();
        vm.prank(caller);
        settlement.settle(batch);
        _scanSettled(vm.getRecordedLogs(), caller != settler);
    }

    function _randomReceipt(uint256 payerIndex, uint64 nonce, uint256 r)
        internal
        returns (BatchEncoder.ReceiptEntry memory receipt)
    {
        uint8[] memory entries = new uint8[](2);
        uint96[] memory maxes = new uint96[](2);
        uint96[] memory amounts = new uint96[](2);
        entries[0] = 0;
        entries[1] = uint8(2 + (r >> 24) % 2);
        maxes[0] = uint96(10_000 + (r >> 32) % 50_000);
        maxes[1] = uint96((r >> 64) % 20_000);
        amounts[0] = (r >> 96) % 7 == 0 ? maxes[0] + 1 : maxes[0]; // sometimes above the signed max
        // below the max (an unused dataset is 0), or exactly the max half of the time
        amounts[1] = (r >> 200) % 2 == 0 ? maxes[1] : uint96(maxes[1] == 0 ? 0 : (r >> 128) % (maxes[1] + 1));
        receipt = _receipt(payerIndex, uint8(payerIndex), nonce, _expiry, _table4(), entries, maxes, amounts);
        if ((r >> 160) % 11 == 0) receipt.signature = _receipt((payerIndex + 1) % PAYERS, 0, nonce, _expiry, _table4(), entries, maxes, amounts).signature;
        // Several receipts may carry one nonce (replays): keep the largest signed total.
        uint256 signedTotal = uint256(maxes[0]) + maxes[1];
        if (signedTotal > signedTotalMax[_payer(payerIndex)][nonce]) signedTotalMax[_payer(payerIndex)][nonce] = signedTotal;
    }

    function _scanSettled(Vm.Log[] memory logs, bool byStranger) internal {
        bytes32 topic = keccak256("ReceiptSettled(address,uint256,bytes32,uint256[])");
        for (uint256 i; i < logs.length; ++i) {
            if (logs[i].emitter != address(settlement) || logs[i].topics[0] != topic) continue;
            address payer = address(uint160(uint256(logs[i].topics[1])));
            uint256 nonce = uint256(logs[i].topics[2]);
            (, uint256[] memory charges) = abi.decode(logs[i].data, (bytes32, uint256[]));
            uint256 total;
            for (uint256 j; j < charges.length; ++j) {
                total += charges[j] & type(uint128).max;
            }
            if (++settledCount[payer][nonce] > 1) doubleSettled = true;
            if (total > signedTotalMax[payer][nonce]) chargedAboveMax = true;
            if (byStranger) {
                if (!_chargesAreSignedMaxima(payer, nonce, charges)) strangerChargedBelowMax = true;
                strangerSettledReceipts++;
            }
            settledReceipts++;
        }
    }

    function _signedMaxima(address payer, BatchEncoder.ReceiptEntry memory r) internal pure returns (bytes32) {
        BatchEncoder.SlotEntry[] memory table = _table4();
        uint256[] memory charges = new uint256[](r.charges.length);
        for (uint256 j; j < charges.length; ++j) {
            charges[j] = uint256(table[r.charges[j].slotIndex].id) << 128 | r.charges[j].maxAmount;
        }
        return keccak256(abi.encode(payer, uint256(r.nonce), charges));
    }

    /// @dev Whether some receipt of the batch with this payer and nonce signed exactly these charges as its
    /// maxima (slot by slot).
    function _chargesAreSignedMaxima(address payer, uint256 nonce, uint256[] memory charges)
        internal
        view
        returns (bool)
    {
        bytes32 settled = keccak256(abi.encode(payer, nonce, charges));
        for (uint256 k; k < _batchSignedMaxima.length; ++k) {
            if (_batchSignedMaxima[k] == settled) return true;
        }
        return false;
    }

    // ---------------------------------------------------------------- shares and claims

    /// @dev Moves value between two tokens of one slot (or into a new token of a holder) and checks that
    /// the revenue each token had earned stays with it.
    function transferValue(uint256 fromSeed, uint256 toSeed, uint256 amount, bool toNew) external {
        uint256 from = tokens[fromSeed % tokens.length];
        uint256 balance = assets.balanceOf(from);
        if (balance == 0) return;
        amount = bound(amount, 1, balance);
        address owner = assets.ownerOf(from);
        uint256 fromBefore = assets.claimable(from);
        if (toNew) {
            vm.prank(owner);
            uint256 newId = assets.transferFrom(from, holders[toSeed % holders.length], amount);
            tokens.push(newId);
            if (assets.claimable(newId) != 0) revenueMoved = true;
        } else {
            uint256 to = tokens[toSeed % tokens.length];
            if (assets.slotOf(to) != assets.slotOf(from)) return;
            uint256 toBefore = assets.claimable(to);
            vm.prank(owner);
            assets.transferFrom(from, to, amount);
            if (assets.claimable(to) != toBefore) revenueMoved = true;
        }
        if (assets.claimable(from) != fromBefore) revenueMoved = true;
    }

    function transferToken(uint256 tokenSeed, uint256 toSeed) external {
        uint256 id = tokens[tokenSeed % tokens.length];
        address owner = assets.ownerOf(id);
        address to = holders[toSeed % holders.length];
        if (to == owner) return;
        vm.prank(owner);
        assets.transferFrom(owner, to, id);
    }

    function claim(uint256 tokenSeed) external {
        uint256 id = tokens[tokenSeed % tokens.length];
        claimedTotal += assets.claim(id);
    }

    function withdrawFees() external {
        settlement.withdrawFees();
    }
}
