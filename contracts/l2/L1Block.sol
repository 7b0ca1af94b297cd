// SPDX-License-Identifier: MIT
pragma solidity 0.8.26;

/// @title L1Block
/// @notice Predeployed on Ordo at 0x4200000000000000000000000000000000000015, as on OP Stack
///         chains: the L1 block the current L2 block builds on (its L1 origin) and the L1 fee
///         parameters. The storage layout is OP's, slot for slot and byte for byte, because
///         the host reads the fee parameters from these slots (as op-geth and op-revm do) and
///         writes them directly, and because OP's tools read them through these getters:
///
///         | slot | contents (byte offsets from the low end of the word)         |
///         |------|--------------------------------------------------------------|
///         | 0    | number (u64) at 0, timestamp (u64) at 8                      |
///         | 1    | basefee                                                      |
///         | 2    | hash                                                         |
///         | 3    | sequenceNumber (u64) at 0, blobBaseFeeScalar (u32) at 8,     |
///         |      | baseFeeScalar (u32) at 12                                    |
///         | 4    | batcherHash                                                  |
///         | 5    | l1FeeOverhead (pre-Ecotone, never written here)              |
///         | 6    | l1FeeScalar (pre-Ecotone, never written here)                |
///         | 7    | blobBaseFee                                                  |
///
///         Only Ecotone's setter exists: a chain that starts at Fjord never calls the
///         Bedrock-era `setL1BlockValues`.
contract L1Block {
    /// @notice The system address that sends the L1-attributes deposit at the start of each
    ///         block, the only caller allowed to set the values.
    address public constant DEPOSITOR_ACCOUNT = 0xDeaDDEaDDeAdDeAdDEAdDEaddeAddEAdDEAd0001;

    /// @notice The L1 origin's block number.
    uint64 public number;

    /// @notice The L1 origin's timestamp.
    uint64 public timestamp;

    /// @notice The L1 origin's base fee.
    uint256 public basefee;

    /// @notice The L1 origin's block hash.
    bytes32 public hash;

    /// @notice How many L2 blocks before this one have the same L1 origin.
    uint64 public sequenceNumber;

    /// @notice Weight of the L1 blob base fee in the L1 data fee (6 decimals).
    uint32 public blobBaseFeeScalar;

    /// @notice Weight of the L1 base fee in the L1 data fee (6 decimals).
    uint32 public baseFeeScalar;

    /// @notice The batcher's address as a 32-byte word (left-padded), as SystemConfig holds it.
    bytes32 public batcherHash;

    /// @notice Pre-Ecotone fee overhead; kept for the layout and OP's ABI.
    uint256 public l1FeeOverhead;

    /// @notice Pre-Ecotone fee scalar; kept for the layout and OP's ABI.
    uint256 public l1FeeScalar;

    /// @notice The L1 origin's blob base fee (EIP-4844).
    uint256 public blobBaseFee;

    /// @notice The caller was not the depositor account (selector 0x3cc50b45, as OP's).
    error NotDepositor();

    /// @notice Sets every value at once from packed calldata (not ABI-encoded, to keep the
    ///         deposit that every block starts with small). After the selector, big-endian:
    ///         baseFeeScalar (4 bytes), blobBaseFeeScalar (4), sequenceNumber (8),
    ///         timestamp (8), number (8), basefee (32), blobBaseFee (32), hash (32),
    ///         batcherHash (32): 164 bytes in all. As OP's, the length is not checked: bytes
    ///         past the end of the calldata read as zero.
    function setL1BlockValuesEcotone() external {
        if (msg.sender != DEPOSITOR_ACCOUNT) revert NotDepositor();
        // The packed fields are in the order of the slots' bytes from the high end, so each
        // packed word's top 16 bytes are already the slot's low 16 bytes: bytes 4..19 are
        // slot 3 (baseFeeScalar, blobBaseFeeScalar, sequenceNumber), bytes 20..35 slot 0
        // (timestamp, number). The upper half of both slots stays zero.
        assembly {
            sstore(sequenceNumber.slot, shr(128, calldataload(4)))
            sstore(number.slot, shr(128, calldataload(20)))
            sstore(basefee.slot, calldataload(36))
            sstore(blobBaseFee.slot, calldataload(68))
            sstore(hash.slot, calldataload(100))
            sstore(batcherHash.slot, calldataload(132))
        }
    }

    /// @notice OP's version of this predeploy (Ecotone's) whose ABI and layout this one follows.
    function version() external pure returns (string memory) {
        return "1.2.0";
    }
}
