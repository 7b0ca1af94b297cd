// SPDX-License-Identifier: MIT
pragma solidity 0.8.26;

/// @title Types
/// @notice The structs of the withdrawal path, declared as OP Stack declares them (a library
///         named `Types`), so the ABI of the oracle and the portal, down to each parameter's
///         `internalType`, is the one OP's tools (viem's op-stack actions) were written against.
library Types {
    /// @notice One output the proposer posted: a commitment to the L2 state at a block.
    /// @custom:field outputRoot    keccak256 of the OutputRootProof fields (see below).
    /// @custom:field timestamp     The L1 timestamp of the proposal: finalization counts from it.
    /// @custom:field l2BlockNumber The L2 block the output commits to.
    struct OutputProposal {
        bytes32 outputRoot;
        uint128 timestamp;
        uint128 l2BlockNumber;
    }

    /// @notice What an output root is the hash of (abi.encode of the four fields). A withdrawal
    ///         proof opens it to reach the message passer's storage root.
    /// @custom:field version                  The output root layout; 0 is the only one.
    /// @custom:field stateRoot                The L2 block's state root.
    /// @custom:field messagePasserStorageRoot The storage root of L2ToL1MessagePasser
    ///                                        (0x4200000000000000000000000000000000000016).
    /// @custom:field latestBlockhash          The L2 block's hash.
    struct OutputRootProof {
        bytes32 version;
        bytes32 stateRoot;
        bytes32 messagePasserStorageRoot;
        bytes32 latestBlockhash;
    }

    /// @notice One withdrawal, field for field what L2ToL1MessagePasser hashed and stored:
    ///         keccak256(abi.encode(nonce, sender, target, value, gasLimit, data)).
    /// @custom:field nonce    The message passer's nonce (its version in the top two bytes).
    /// @custom:field sender   Who called the message passer on L2.
    /// @custom:field target   Whom the portal calls on L1.
    /// @custom:field value    Wei the portal sends with that call.
    /// @custom:field gasLimit Least gas that call gets.
    /// @custom:field data     The call's data.
    struct WithdrawalTransaction {
        uint256 nonce;
        address sender;
        address target;
        uint256 value;
        uint256 gasLimit;
        bytes data;
    }
}
