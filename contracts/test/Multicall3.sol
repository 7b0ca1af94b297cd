// SPDX-License-Identifier: MIT
pragma solidity 0.8.26;

/// @title Multicall3
/// @notice The part of Multicall3's ABI viem uses (its `multicall` action batches reads into
///         one `aggregate3` call), for tests that run viem against anvil, where the canonical
///         Multicall3 deployment does not exist: they deploy this and name its address.
contract Multicall3 {
    /// @notice One call: where, whether its failure is tolerated, with what calldata.
    struct Call3 {
        address target;
        bool allowFailure;
        bytes callData;
    }

    /// @notice One call's outcome.
    struct Result {
        bool success;
        bytes returnData;
    }

    /// @notice Makes each call in order (without value; `msg.value` stays here) and returns
    ///         every outcome. Reverts "Multicall3: call failed" when a call that may not fail
    ///         fails.
    function aggregate3(Call3[] calldata calls) external payable returns (Result[] memory returnData) {
        returnData = new Result[](calls.length);
        for (uint256 i; i < calls.length; ++i) {
            Call3 calldata c = calls[i];
            (bool success, bytes memory ret) = c.target.call(c.callData);
            require(success || c.allowFailure, "Multicall3: call failed");
            returnData[i] = Result({ success: success, returnData: ret });
        }
    }

    /// @notice The current block's number.
    function getBlockNumber() external view returns (uint256 blockNumber) {
        blockNumber = block.number;
    }

    /// @notice The current block's timestamp.
    function getCurrentBlockTimestamp() external view returns (uint256 timestamp) {
        timestamp = block.timestamp;
    }

    /// @notice `addr`'s balance in wei.
    function getEthBalance(address addr) external view returns (uint256 balance) {
        balance = addr.balance;
    }
}
