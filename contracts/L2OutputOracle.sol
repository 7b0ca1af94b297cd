// SPDX-License-Identifier: MIT
pragma solidity 0.8.26;

import { Types } from "./lib/Types.sol";

/// @title L2OutputOracle
/// @notice The outputs Ordo's proposer posts on L1: each a commitment (the output root) to the
///         L2 state at one block. The portal proves withdrawals against them, once an output
///         has stood for the finalization period without the challenger deleting it.
///
///         The ABI, events and revert strings are those of OP Stack's L2OutputOracle 1.8.0
///         (the oracle of OP's output-root withdrawals, before fault proofs), so the tools that
///         withdraw from an OP chain (viem's op-stack actions) withdraw from Ordo unmodified.
///
///         One rule differs, because Ordo proposes differently: OP proposes an output every
///         SUBMISSION_INTERVAL blocks at fixed block times, and requires each proposal to be
///         for exactly `nextBlockNumber()` and for an L2 timestamp already past. Ordo proposes
///         an output for the last block of every batch it posts, so outputs come at irregular
///         block numbers, and its block times vary. Here a proposal needs only a block number
///         above the latest proposed one, and no timestamp check is made. SUBMISSION_INTERVAL
///         and L2_BLOCK_TIME are then the expected blocks between outputs and the nominal block
///         time: tools use them only to estimate how long to wait for the next output.
///
///         Not behind a proxy: the settings are fixed at construction (OP's `initialize`
///         parameters become the constructor's).
contract L2OutputOracle {
    /// @notice The block the outputs start after: the first output is for a later block.
    uint256 public immutable startingBlockNumber;

    /// @notice The timestamp of the starting block. The portal refuses withdrawals proven
    ///         before it (OP's sanity check).
    uint256 public immutable startingTimestamp;

    /// @notice The expected number of L2 blocks between two outputs (an estimate: Ordo
    ///         proposes at every batch, see above).
    uint256 public immutable submissionInterval;

    /// @notice The nominal time between L2 blocks, in seconds (an estimate: Ordo's block times
    ///         vary).
    uint256 public immutable l2BlockTime;

    /// @notice Who may delete outputs that are not final yet.
    address public immutable challenger;

    /// @notice Who may propose outputs.
    address public immutable proposer;

    /// @notice How long an output (and a withdrawal proof) must stand before a withdrawal
    ///         proven against it can be finalized, in seconds.
    uint256 public immutable finalizationPeriodSeconds;

    /// @notice The outputs, oldest first; their block numbers strictly increase.
    Types.OutputProposal[] internal l2Outputs;

    /// @notice An output was proposed.
    /// @param outputRoot    The output root.
    /// @param l2OutputIndex Its index among the outputs.
    /// @param l2BlockNumber The L2 block it commits to.
    /// @param l1Timestamp   The L1 timestamp of the proposal.
    event OutputProposed(
        bytes32 indexed outputRoot, uint256 indexed l2OutputIndex, uint256 indexed l2BlockNumber, uint256 l1Timestamp
    );

    /// @notice The challenger deleted outputs.
    /// @param prevNextOutputIndex The next output index before the deletion.
    /// @param newNextOutputIndex  The next output index after it (the first deleted index).
    event OutputsDeleted(uint256 indexed prevNextOutputIndex, uint256 indexed newNextOutputIndex);

    /// @notice The prover plugin's attestation of an output, posted with it
    ///         (`proposeL2OutputAttested`), so anyone can check on L1 what the rollup's
    ///         prover said about the state it commits to.
    /// @param l2OutputIndex   The output's index.
    /// @param proverCodeHash  The content hash of the prover plugin that attested it.
    /// @param attestation     The plugin's attestation, as it returned it.
    event OutputAttested(uint256 indexed l2OutputIndex, bytes32 indexed proverCodeHash, bytes attestation);

    /// @notice OP's version of the oracle whose ABI this one follows.
    string public constant version = "1.8.0";

    /// @param _submissionInterval        Expected L2 blocks between outputs (above zero).
    /// @param _l2BlockTime               Nominal seconds per L2 block (above zero).
    /// @param _startingBlockNumber       The L2 block the outputs start after.
    /// @param _startingTimestamp         That block's timestamp (not in the future).
    /// @param _proposer                  Who may propose outputs.
    /// @param _challenger                Who may delete outputs not yet final.
    /// @param _finalizationPeriodSeconds How long outputs and proofs must stand.
    constructor(
        uint256 _submissionInterval,
        uint256 _l2BlockTime,
        uint256 _startingBlockNumber,
        uint256 _startingTimestamp,
        address _proposer,
        address _challenger,
        uint256 _finalizationPeriodSeconds
    ) {
        require(_submissionInterval > 0, "L2OutputOracle: submission interval must be greater than 0");
        require(_l2BlockTime > 0, "L2OutputOracle: L2 block time must be greater than 0");
        require(
            _startingTimestamp <= block.timestamp, "L2OutputOracle: starting L2 timestamp must be less than current time"
        );
        submissionInterval = _submissionInterval;
        l2BlockTime = _l2BlockTime;
        startingBlockNumber = _startingBlockNumber;
        startingTimestamp = _startingTimestamp;
        proposer = _proposer;
        challenger = _challenger;
        finalizationPeriodSeconds = _finalizationPeriodSeconds;
    }

    /// @notice `submissionInterval` under OP's legacy name (which viem reads).
    function SUBMISSION_INTERVAL() external view returns (uint256) {
        return submissionInterval;
    }

    /// @notice `l2BlockTime` under OP's legacy name (which viem reads).
    function L2_BLOCK_TIME() external view returns (uint256) {
        return l2BlockTime;
    }

    /// @notice `challenger` under OP's legacy name.
    function CHALLENGER() external view returns (address) {
        return challenger;
    }

    /// @notice `proposer` under OP's legacy name.
    function PROPOSER() external view returns (address) {
        return proposer;
    }

    /// @notice `finalizationPeriodSeconds` under OP's legacy name (which the portal and viem
    ///         read).
    function FINALIZATION_PERIOD_SECONDS() external view returns (uint256) {
        return finalizationPeriodSeconds;
    }

    /// @notice Deletes the output at `_l2OutputIndex` and every later one: the challenger's
    ///         answer to a wrong output. Outputs already final cannot be deleted, since
    ///         withdrawals may have been finalized against them.
    function deleteL2Outputs(uint256 _l2OutputIndex) external {
        require(msg.sender == challenger, "L2OutputOracle: only the challenger address can delete outputs");
        require(
            _l2OutputIndex < l2Outputs.length, "L2OutputOracle: cannot delete outputs after the latest output index"
        );
        require(
            block.timestamp - l2Outputs[_l2OutputIndex].timestamp < finalizationPeriodSeconds,
            "L2OutputOracle: cannot delete outputs that have already been finalized"
        );
        uint256 prevNextOutputIndex = nextOutputIndex();
        // Shorten the array by writing its length (its slot holds it), as OP does: one write
        // however many outputs go; the stale elements beyond are unreachable, and a later push
        // overwrites both slots of the element it adds.
        assembly ("memory-safe") {
            sstore(l2Outputs.slot, _l2OutputIndex)
        }
        emit OutputsDeleted(prevNextOutputIndex, _l2OutputIndex);
    }

    /// @notice Proposes `_outputRoot` as the output of L2 block `_l2BlockNumber`, which must
    ///         be above the latest proposed block (Ordo's rule, see the contract's notice).
    ///         With a non-zero `_l1BlockHash`, the proposal holds only on the L1 chain where
    ///         block `_l1BlockNumber` has that hash (it reverts if that block is a reorg away
    ///         or more than 256 blocks old), so a proposal made from one L1 view cannot land
    ///         on another. Payable as OP's is; the oracle keeps no use for ether sent.
    function proposeL2Output(bytes32 _outputRoot, uint256 _l2BlockNumber, bytes32 _l1BlockHash, uint256 _l1BlockNumber)
        external
        payable
    {
        _propose(_outputRoot, _l2BlockNumber, _l1BlockHash, _l1BlockNumber);
    }

    /// @notice `proposeL2Output`, with the attestation the rollup's prover plugin made of the
    ///         batch this output ends (emitted as OutputAttested, not checked here): the
    ///         attestation lands on L1 in the same transaction as the output it speaks for.
    /// @param _proverCodeHash The content hash of the prover plugin that made `_attestation`.
    /// @param _attestation    The plugin's attestation.
    function proposeL2OutputAttested(
        bytes32 _outputRoot,
        uint256 _l2BlockNumber,
        bytes32 _l1BlockHash,
        uint256 _l1BlockNumber,
        bytes32 _proverCodeHash,
        bytes calldata _attestation
    ) external payable {
        uint256 index = _propose(_outputRoot, _l2BlockNumber, _l1BlockHash, _l1BlockNumber);
        emit OutputAttested(index, _proverCodeHash, _attestation);
    }

    /// @notice The output at `_l2OutputIndex`; reverts (array bounds) past the latest one.
    function getL2Output(uint256 _l2OutputIndex) external view returns (Types.OutputProposal memory) {
        return l2Outputs[_l2OutputIndex];
    }

    /// @notice The index of the first output whose block is `_l2BlockNumber` or later: the
    ///         output a withdrawal made in that block is proven against. Binary search (block
    ///         numbers strictly increase). Reverts, with the message viem recognises as
    ///         "waiting to prove", when no output reaches that block yet.
    function getL2OutputIndexAfter(uint256 _l2BlockNumber) public view returns (uint256) {
        require(
            _l2BlockNumber <= latestBlockNumber(),
            "L2OutputOracle: cannot get output for a block that has not been proposed"
        );
        require(l2Outputs.length > 0, "L2OutputOracle: cannot get output as no outputs have been proposed yet");
        uint256 lo = 0;
        uint256 hi = l2Outputs.length;
        while (lo < hi) {
            uint256 mid = (lo + hi) / 2;
            if (l2Outputs[mid].l2BlockNumber < _l2BlockNumber) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        return lo;
    }

    /// @notice The first output whose block is `_l2BlockNumber` or later (see
    ///         getL2OutputIndexAfter).
    function getL2OutputAfter(uint256 _l2BlockNumber) external view returns (Types.OutputProposal memory) {
        return l2Outputs[getL2OutputIndexAfter(_l2BlockNumber)];
    }

    /// @notice The latest output's index; reverts (arithmetic underflow, as OP's) when there
    ///         is none.
    function latestOutputIndex() external view returns (uint256) {
        return l2Outputs.length - 1;
    }

    /// @notice The index the next output will get.
    function nextOutputIndex() public view returns (uint256) {
        return l2Outputs.length;
    }

    /// @notice The latest output's block, or startingBlockNumber when there is none.
    function latestBlockNumber() public view returns (uint256) {
        uint256 length = l2Outputs.length;
        return length == 0 ? startingBlockNumber : l2Outputs[length - 1].l2BlockNumber;
    }

    /// @notice The block the next output is expected at: the latest plus SUBMISSION_INTERVAL.
    ///         An estimate; any later block may be proposed.
    function nextBlockNumber() public view returns (uint256) {
        return latestBlockNumber() + submissionInterval;
    }

    /// @notice The nominal timestamp of L2 block `_l2BlockNumber` (starting timestamp plus
    ///         L2_BLOCK_TIME per block), OP's formula; an estimate on Ordo. Reverts for a block
    ///         before the starting block.
    function computeL2Timestamp(uint256 _l2BlockNumber) public view returns (uint256) {
        return startingTimestamp + ((_l2BlockNumber - startingBlockNumber) * l2BlockTime);
    }

    /// @notice Checks and records one proposal: its index.
    function _propose(bytes32 _outputRoot, uint256 _l2BlockNumber, bytes32 _l1BlockHash, uint256 _l1BlockNumber)
        internal
        returns (uint256 index_)
    {
        require(msg.sender == proposer, "L2OutputOracle: only the proposer address can propose new outputs");
        require(
            _l2BlockNumber > latestBlockNumber(),
            "L2OutputOracle: block number must be greater than the latest proposed block"
        );
        require(_outputRoot != bytes32(0), "L2OutputOracle: L2 output proposal cannot be the zero hash");
        if (_l1BlockHash != bytes32(0)) {
            require(
                blockhash(_l1BlockNumber) == _l1BlockHash,
                "L2OutputOracle: block hash does not match the hash at the expected height"
            );
        }
        // The stored fields are uint128, as OP's: refuse a block number that would not fit
        // rather than store a truncated one.
        require(_l2BlockNumber <= type(uint128).max, "L2OutputOracle: block number too large");

        index_ = nextOutputIndex();
        emit OutputProposed(_outputRoot, index_, _l2BlockNumber, block.timestamp);
        l2Outputs.push(
            Types.OutputProposal({
                outputRoot: _outputRoot,
                timestamp: uint128(block.timestamp),
                l2BlockNumber: uint128(_l2BlockNumber)
            })
        );
    }
}
