// SPDX-License-Identifier: MIT
pragma solidity 0.8.26;

import { FastLZ } from "../lib/FastLZ.sol";
import { L1Block } from "./L1Block.sol";

/// @title GasPriceOracle
/// @notice Predeployed on Ordo at 0x420000000000000000000000000000000000000F, as on OP Stack
///         chains, with the ABI of OP's Fjord-era oracle: wallets and viem's op-stack actions
///         ask it what the L1 data fee of a transaction will be. It holds nothing; the fee
///         parameters are read from L1Block (0x4200…0015) on every call.
///
///         Ordo starts at Fjord, so the fork flags are constants (OP keeps them in slot 0
///         and flips them with upgrade deposits) and only Fjord's formula is here:
///
///             estimatedSize = max(100e6, 836_500 * fastLzSize - 42_585_600)   (bytes x 1e6)
///             fee           = estimatedSize
///                             * (16 * baseFeeScalar * l1BaseFee + blobBaseFeeScalar * blobBaseFee)
///                             / 1e12
///
///         The host charges each transaction this fee with `fastLzSize` taken from its signed
///         EIP-2718 encoding. Callers here pass the unsigned encoding instead, so 68 bytes
///         stand in for the compressed signature, as OP's oracle does: an estimate that is
///         usually within a few bytes' worth of the fee charged, not equal to it.
contract GasPriceOracle {
    /// @notice Decimals of the scalars.
    uint256 public constant DECIMALS = 6;

    /// @notice Always true: Ordo has the Ecotone fee parameters from its genesis.
    bool public constant isEcotone = true;

    /// @notice Always true: Ordo prices the L1 data fee with Fjord's formula from its genesis.
    bool public constant isFjord = true;

    /// @notice Where the fee parameters are read from.
    L1Block internal constant L1_BLOCK = L1Block(0x4200000000000000000000000000000000000015);

    /// @notice Fjord's linear regression from FastLZ size to Brotli size, scaled by 1e6
    ///         (OP's COST_INTERCEPT and COST_FASTLZ_COEF).
    uint256 internal constant COST_INTERCEPT = 42_585_600;
    uint256 internal constant COST_FASTLZ_COEF = 836_500;

    /// @notice The least size a transaction is priced at, scaled by 1e6 (100 bytes).
    uint256 internal constant MIN_TRANSACTION_SIZE_SCALED = 100e6;

    /// @notice Bytes added to the compressed length of an unsigned transaction for the
    ///         signature it will have.
    uint256 internal constant SIGNATURE_ALLOWANCE = 68;

    /// @notice The L1 data fee of a transaction, given its unsigned EIP-2718 encoding (for a
    ///         legacy transaction, the RLP list it is signed over).
    function getL1Fee(bytes memory _data) external view returns (uint256) {
        return _fjordL1Cost(FastLZ.flzCompressLen(_data) + SIGNATURE_ALLOWANCE);
    }

    /// @notice A bound on the L1 data fee of any transaction whose unsigned encoding has
    ///         `_unsignedTxSize` bytes (OP: FastLZ output exceeds this for about 0.01% of
    ///         transactions), cheaper than `getL1Fee` since nothing is compressed.
    function getL1FeeUpperBound(uint256 _unsignedTxSize) external view returns (uint256) {
        uint256 txSize = _unsignedTxSize + SIGNATURE_ALLOWANCE;
        return _fjordL1Cost(txSize + txSize / 255 + 16);
    }

    /// @notice The L1 gas a transaction's data is counted as: its estimated compressed size
    ///         at 16 gas a byte. OP deprecates it (the fee is not this times a gas price) but
    ///         receipts still report it as `l1GasUsed`.
    function getL1GasUsed(bytes memory _data) external pure returns (uint256) {
        return _fjordLinearRegression(FastLZ.flzCompressLen(_data) + SIGNATURE_ALLOWANCE) * 16 / 1e6;
    }

    /// @notice The operator fee of `_gasUsed` gas: always 0 (an Isthmus feature Ordo does not
    ///         have). viem's `estimateTotalFee` calls it and does not expect a revert.
    function getOperatorFee(uint256 _gasUsed) external pure returns (uint256) {
        _gasUsed;
        return 0;
    }

    /// @notice The L2 base fee.
    function gasPrice() external view returns (uint256) {
        return block.basefee;
    }

    /// @notice The L2 base fee.
    function baseFee() external view returns (uint256) {
        return block.basefee;
    }

    /// @notice Pre-Ecotone only: reverts, as OP's oracle does once Ecotone is active.
    function overhead() external pure returns (uint256) {
        revert("GasPriceOracle: overhead() is deprecated");
    }

    /// @notice Pre-Ecotone only: reverts, as OP's oracle does once Ecotone is active.
    function scalar() external pure returns (uint256) {
        revert("GasPriceOracle: scalar() is deprecated");
    }

    /// @notice The L1 origin's base fee.
    function l1BaseFee() public view returns (uint256) {
        return L1_BLOCK.basefee();
    }

    /// @notice The L1 origin's blob base fee.
    function blobBaseFee() public view returns (uint256) {
        return L1_BLOCK.blobBaseFee();
    }

    /// @notice Weight of the L1 base fee in the fee (6 decimals).
    function baseFeeScalar() public view returns (uint32) {
        return L1_BLOCK.baseFeeScalar();
    }

    /// @notice Weight of the L1 blob base fee in the fee (6 decimals).
    function blobBaseFeeScalar() public view returns (uint32) {
        return L1_BLOCK.blobBaseFeeScalar();
    }

    /// @notice Decimals of the scalars.
    function decimals() external pure returns (uint256) {
        return DECIMALS;
    }

    /// @notice OP's version of this predeploy (Fjord's) whose ABI this one follows, plus
    ///         Isthmus's `getOperatorFee`.
    function version() external pure returns (string memory) {
        return "1.3.0";
    }

    /// @notice Fjord's fee for a transaction of FastLZ size `_fastLzSize`.
    function _fjordL1Cost(uint256 _fastLzSize) internal view returns (uint256) {
        uint256 feeScaled =
            uint256(baseFeeScalar()) * 16 * l1BaseFee() + uint256(blobBaseFeeScalar()) * blobBaseFee();
        return _fjordLinearRegression(_fastLzSize) * feeScaled / 1e12;
    }

    /// @notice The estimated Brotli size (x 1e6) of a transaction of FastLZ size `_fastLzSize`,
    ///         at least 100 bytes. Unsigned arithmetic: OP computes it signed, and a negative
    ///         estimate is below the minimum either way.
    function _fjordLinearRegression(uint256 _fastLzSize) internal pure returns (uint256) {
        uint256 scaled = COST_FASTLZ_COEF * _fastLzSize;
        if (scaled < MIN_TRANSACTION_SIZE_SCALED + COST_INTERCEPT) return MIN_TRANSACTION_SIZE_SCALED;
        return scaled - COST_INTERCEPT;
    }
}
