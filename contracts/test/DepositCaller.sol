// SPDX-License-Identifier: MIT
pragma solidity 0.8.26;

interface IOrdoPortal {
    function depositTransaction(address _to, uint256 _value, uint64 _gasLimit, bool _isCreation, bytes memory _data)
        external
        payable;
}

/// @title DepositCaller
/// @notice Tests only: an L1 contract that deposits, so its L2 sender is its alias.
contract DepositCaller {
    function deposit(IOrdoPortal _portal, address _to, uint64 _gasLimit, bytes calldata _data) external payable {
        _portal.depositTransaction{value: msg.value}(_to, msg.value, _gasLimit, false, _data);
    }
}
