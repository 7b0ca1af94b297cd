// SPDX-License-Identifier: MIT
pragma solidity 0.8.26;

import { L2OutputOracle } from "./L2OutputOracle.sol";
import { SecureMerkleTrie } from "./lib/MerkleTrie.sol";
import { Types } from "./lib/Types.sol";

/// @title OrdoPortal
/// @notice Ordo's entry point on L1. Deposits follow OP Stack's OptimismPortal ABI and event
///         encoding, so the tools that bridge to an OP chain (viem's op-stack actions, alloy's
///         op types) bridge to Ordo unmodified: the L2 derives one deposit transaction
///         (EIP-2718 type 0x7E) from each `TransactionDeposited` log, and its hash follows
///         from the log alone.
///
///         Withdrawals follow OP's portal of the output-oracle era (before fault proofs; its
///         ABI, events and revert strings): a withdrawal is a hash the L2's message passer
///         stored; anyone proves it on L1 against an output root the proposer posted in the
///         L2OutputOracle (`proveWithdrawalTransaction`), and once both the proof and the
///         output have stood for the oracle's finalization period, anyone finalizes it
///         (`finalizeWithdrawalTransaction`): the portal calls the withdrawal's target with its
///         value and data. `version()` is below 3.0.0, which is how viem picks this flow over
///         the dispute-game one. The ether paid out is the ether deposits left here.
contract OrdoPortal {
    /// @notice A withdrawal proven against an output, keyed by the withdrawal's hash.
    /// @custom:field outputRoot    The output root it was proven against.
    /// @custom:field timestamp     When it was proven (zero: never).
    /// @custom:field l2OutputIndex The index of that output in the oracle.
    struct ProvenWithdrawal {
        bytes32 outputRoot;
        uint128 timestamp;
        uint128 l2OutputIndex;
    }

    /// @notice The opaqueData layout of `TransactionDeposited`; OP's version 0.
    uint256 public constant DEPOSIT_VERSION = 0;

    /// @notice Most calldata a deposit carries to L2 (OP's cap), so one deposit cannot
    ///         fill an L2 block with data the sequencer must include.
    uint64 public constant MAX_DEPOSIT_DATA = 120_000;

    /// @notice Emitted for every deposit; the L2 derives the deposit transaction from it.
    /// @param from       The L2 sender: the L1 caller, aliased when it is a contract.
    /// @param to         The L2 recipient (zero for a contract creation).
    /// @param version    The opaqueData layout (DEPOSIT_VERSION).
    /// @param opaqueData abi.encodePacked(mint, value, gasLimit, isCreation, data).
    event TransactionDeposited(address indexed from, address indexed to, uint256 indexed version, bytes opaqueData);

    /// @notice A withdrawal was proven (again, if its earlier output was replaced).
    /// @param withdrawalHash The withdrawal's hash (as the L2 message passer stored it).
    /// @param from           Its sender on L2.
    /// @param to             Its target on L1.
    event WithdrawalProven(bytes32 indexed withdrawalHash, address indexed from, address indexed to);

    /// @notice A withdrawal was finalized: its call was made, and cannot be made again.
    /// @param withdrawalHash The withdrawal's hash.
    /// @param success        Whether the call succeeded (a failed call is final too).
    event WithdrawalFinalized(bytes32 indexed withdrawalHash, bool success);

    /// @notice A creation deposit named a recipient.
    error BadTarget();
    /// @notice The gas limit does not cover the deposit's intrinsic L2 gas.
    error SmallGasLimit();
    /// @notice More calldata than MAX_DEPOSIT_DATA.
    error LargeCalldata();

    /// @notice OP's offset between an L1 contract's address and its L2 alias: a contract on
    ///         L1 and a contract at the same address on L2 are not the same owner.
    uint160 internal constant ALIAS_OFFSET = uint160(0x1111000000000000000000000000000000001111);

    /// @notice `l2Sender` outside a withdrawal's call (OP's DEFAULT_L2_SENDER).
    address internal constant DEFAULT_L2_SENDER = 0x000000000000000000000000000000000000dEaD;

    /// @notice The `tx.origin` of OP's gas estimation: a withdrawal whose call fails reverts
    ///         for it, so estimating gas finds the gas the call needs to succeed.
    address internal constant ESTIMATION_ADDRESS = address(1);

    /// @notice Gas kept back beyond the 64/63 of the call's minimum, for what the CALL itself
    ///         costs before the callee runs (cold account, value transfer, new account): OP's.
    uint256 internal constant CALL_RESERVE_GAS = 40_000;

    /// @notice The oracle whose outputs withdrawals are proven against.
    L2OutputOracle public immutable l2Oracle;

    /// @notice The L2 sender of the withdrawal whose call is running; DEFAULT_L2_SENDER
    ///         otherwise. A target reads it to learn who sent the message from L2, and it
    ///         guards finalization against reentrancy.
    address public l2Sender;

    /// @notice Withdrawals already finalized (replay protection).
    mapping(bytes32 => bool) public finalizedWithdrawals;

    /// @notice Withdrawals proven so far, by hash.
    mapping(bytes32 => ProvenWithdrawal) public provenWithdrawals;

    /// @notice OP's version of the portal whose ABI this one follows: below 3.0.0 (the
    ///         output-oracle flow, for viem).
    string public constant version = "2.8.0";

    /// @param _l2Oracle The L2OutputOracle withdrawals are proven against.
    constructor(L2OutputOracle _l2Oracle) {
        l2Oracle = _l2Oracle;
        l2Sender = DEFAULT_L2_SENDER;
    }

    /// @notice `l2Oracle` under OP's legacy name.
    function L2_ORACLE() external view returns (L2OutputOracle) {
        return l2Oracle;
    }

    /// @notice Least L2 gas a deposit of `_byteCount` calldata bytes may ask for: the
    ///         intrinsic gas of a transaction whose every data byte is non-zero.
    function minimumGasLimit(uint64 _byteCount) public pure returns (uint64) {
        return _byteCount * 16 + 21_000;
    }

    /// @notice Deposits `msg.value` to L2 (minted to the sender there) and asks the L2 to
    ///         run a call (or a creation) from the sender with `_value` and `_gasLimit`.
    function depositTransaction(address _to, uint256 _value, uint64 _gasLimit, bool _isCreation, bytes memory _data)
        public
        payable
    {
        if (_isCreation && _to != address(0)) revert BadTarget();
        if (_data.length > MAX_DEPOSIT_DATA) revert LargeCalldata();
        if (_gasLimit < minimumGasLimit(uint64(_data.length))) revert SmallGasLimit();

        // A contract's address is aliased on L2 (as OP does); an account without code, the
        // sender of the L1 transaction itself, keeps its address.
        address from = msg.sender;
        if (msg.sender != tx.origin) {
            unchecked {
                from = address(uint160(msg.sender) + ALIAS_OFFSET);
            }
        }

        bytes memory opaqueData = abi.encodePacked(msg.value, _value, _gasLimit, _isCreation, _data);
        emit TransactionDeposited(from, _to, DEPOSIT_VERSION, opaqueData);
    }

    /// @notice A plain transfer to the portal is a deposit of that value to the sender's own
    ///         L2 address, as OP's portal treats it.
    receive() external payable {
        depositTransaction(msg.sender, msg.value, 100_000, false, bytes(""));
    }

    /// @notice Proves that the L2 sent `_tx`: `_outputRootProof` opens the output root at
    ///         `_l2OutputIndex` to the message passer's storage root, and `_withdrawalProof`
    ///         (a storage proof from eth_getProof) shows the withdrawal's slot in that storage
    ///         set to true. The finalization period counts from now.
    ///
    ///         A withdrawal is proven once: proving again would restart its clock, so anyone
    ///         could hold it back. Only if the output it was proven against has since been
    ///         replaced (deleted by the challenger and proposed anew) may it be proven again.
    function proveWithdrawalTransaction(
        Types.WithdrawalTransaction memory _tx,
        uint256 _l2OutputIndex,
        Types.OutputRootProof calldata _outputRootProof,
        bytes[] calldata _withdrawalProof
    ) external {
        // A withdrawal calling the portal would run as the portal: checked once here, so
        // finalization need not check it again.
        require(_tx.target != address(this), "OptimismPortal: you cannot send messages to the portal contract");

        // Reverts if there is no output at that index.
        bytes32 outputRoot = l2Oracle.getL2Output(_l2OutputIndex).outputRoot;
        require(
            _outputRootProof.version == bytes32(0) && outputRoot == _hashOutputRootProof(_outputRootProof),
            "OptimismPortal: invalid output root proof"
        );

        bytes32 withdrawalHash = _hashWithdrawal(_tx);
        ProvenWithdrawal memory proven = provenWithdrawals[withdrawalHash];
        require(
            proven.timestamp == 0 || l2Oracle.getL2Output(proven.l2OutputIndex).outputRoot != proven.outputRoot,
            "OptimismPortal: withdrawal hash has already been proven"
        );

        // The slot of sentMessages[withdrawalHash]: the mapping is the message passer's slot 0.
        bytes32 storageKey = keccak256(abi.encode(withdrawalHash, uint256(0)));
        // Its value is true: the RLP of the integer 1 is the byte 0x01.
        require(
            SecureMerkleTrie.verifyInclusionProof(
                abi.encode(storageKey), hex"01", _withdrawalProof, _outputRootProof.messagePasserStorageRoot
            ),
            "OptimismPortal: invalid withdrawal inclusion proof"
        );

        provenWithdrawals[withdrawalHash] = ProvenWithdrawal({
            outputRoot: outputRoot,
            timestamp: uint128(block.timestamp),
            l2OutputIndex: uint128(_l2OutputIndex)
        });
        emit WithdrawalProven(withdrawalHash, _tx.sender, _tx.target);
    }

    /// @notice Finalizes a proven withdrawal once its proof and its output have both stood for
    ///         the finalization period: calls `_tx.target` with `_tx.value` and `_tx.data`,
    ///         giving the call at least `_tx.gasLimit` gas, with `l2Sender` set to `_tx.sender`
    ///         meanwhile. The withdrawal is final whether the call succeeds or not (it cannot be
    ///         retried); only for OP's gas-estimation origin does a failed call revert, so that
    ///         estimating finds the gas a successful call needs.
    function finalizeWithdrawalTransaction(Types.WithdrawalTransaction memory _tx) external {
        // l2Sender is set only while a withdrawal's call runs: a reentrancy guard.
        require(l2Sender == DEFAULT_L2_SENDER, "OptimismPortal: can only trigger one withdrawal per transaction");

        bytes32 withdrawalHash = _hashWithdrawal(_tx);
        ProvenWithdrawal memory proven = provenWithdrawals[withdrawalHash];
        require(proven.timestamp != 0, "OptimismPortal: withdrawal has not been proven yet");
        require(
            proven.timestamp >= l2Oracle.startingTimestamp(),
            "OptimismPortal: withdrawal timestamp less than L2 Oracle starting timestamp"
        );
        require(
            _isFinalizationPeriodElapsed(proven.timestamp),
            "OptimismPortal: proven withdrawal finalization period has not elapsed"
        );

        // The output proven against must still be there, unchanged, and final itself.
        Types.OutputProposal memory proposal = l2Oracle.getL2Output(proven.l2OutputIndex);
        require(
            proposal.outputRoot == proven.outputRoot,
            "OptimismPortal: output root proven is not the same as current output root"
        );
        require(
            _isFinalizationPeriodElapsed(proposal.timestamp),
            "OptimismPortal: output proposal finalization period has not elapsed"
        );

        require(!finalizedWithdrawals[withdrawalHash], "OptimismPortal: withdrawal has already been finalized");
        // Marked before the call, so the call cannot finalize it again.
        finalizedWithdrawals[withdrawalHash] = true;

        l2Sender = _tx.sender;
        bool success = _callWithMinGas(_tx.target, _tx.gasLimit, _tx.value, _tx.data);
        l2Sender = DEFAULT_L2_SENDER;

        emit WithdrawalFinalized(withdrawalHash, success);
        if (!success && tx.origin == ESTIMATION_ADDRESS) {
            revert("OptimismPortal: withdrawal failed");
        }
    }

    /// @notice Whether the output at `_l2OutputIndex` has stood for the finalization period;
    ///         reverts if there is no such output.
    function isOutputFinalized(uint256 _l2OutputIndex) external view returns (bool) {
        return _isFinalizationPeriodElapsed(l2Oracle.getL2Output(_l2OutputIndex).timestamp);
    }

    /// @notice Whether the finalization period has passed since `_timestamp`.
    function _isFinalizationPeriodElapsed(uint256 _timestamp) internal view returns (bool) {
        return block.timestamp > _timestamp + l2Oracle.FINALIZATION_PERIOD_SECONDS();
    }

    /// @notice The hash L2ToL1MessagePasser stored for `_tx`.
    function _hashWithdrawal(Types.WithdrawalTransaction memory _tx) internal pure returns (bytes32) {
        return keccak256(abi.encode(_tx.nonce, _tx.sender, _tx.target, _tx.value, _tx.gasLimit, _tx.data));
    }

    /// @notice The output root the fields of `_proof` make.
    function _hashOutputRootProof(Types.OutputRootProof calldata _proof) internal pure returns (bytes32) {
        return keccak256(
            abi.encode(_proof.version, _proof.stateRoot, _proof.messagePasserStorageRoot, _proof.latestBlockhash)
        );
    }

    /// @notice Calls `_target` with `_value` and `_data`, so that the callee gets at least
    ///         `_minGas` gas, or reverts "SafeCall: Not enough gas" (OP's SafeCall.callWithMinGas).
    ///         A CALL passes on at most 63/64 of the gas left (EIP-150), so without this check
    ///         a finalizer could give the transaction just too little gas, make the call fail,
    ///         and the withdrawal would be final with its call never run. The check asks for
    ///         64/63 of `_minGas` plus CALL_RESERVE_GAS and then forwards all the gas there is.
    ///         Return data is not copied, so the callee cannot make the portal pay for it.
    function _callWithMinGas(address _target, uint256 _minGas, uint256 _value, bytes memory _data)
        internal
        returns (bool success_)
    {
        // No block holds 2^64 gas: a larger minimum can never be met (and stays overflow-free).
        if (_minGas > type(uint64).max || gasleft() * 63 < _minGas * 64 + CALL_RESERVE_GAS * 63) {
            revert("SafeCall: Not enough gas");
        }
        assembly ("memory-safe") {
            success_ := call(gas(), _target, _value, add(_data, 32), mload(_data), 0, 0)
        }
    }
}
