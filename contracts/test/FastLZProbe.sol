// SPDX-License-Identifier: MIT
pragma solidity 0.8.26;

import { FastLZ } from "../lib/FastLZ.sol";

/// @title FastLZProbe
/// @notice Exposes the FastLZ length the GasPriceOracle prices transactions with, so tests can
///         compare it with eth_call against the host's (op-alloy-flz) on the same bytes: the
///         oracle itself only shows it through the fee, where the 100-byte minimum hides small
///         inputs.
contract FastLZProbe {
    /// @notice FastLZ.flzCompressLen of `_data`.
    function flzCompressLen(bytes memory _data) external pure returns (uint256) {
        return FastLZ.flzCompressLen(_data);
    }
}
