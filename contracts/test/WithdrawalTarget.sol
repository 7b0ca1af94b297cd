// SPDX-License-Identifier: MIT
pragma solidity 0.8.26;

interface IPortal {
    function l2Sender() external view returns (address);
}

/// @notice An L1 contract a withdrawal calls in tests: it records what the portal's call
///         carried (the L2 sender the portal names, the value, the data).
contract WithdrawalTarget {
    address public lastL2Sender;
    uint256 public lastValue;
    bytes public lastNote;

    event Called(address indexed l2Sender, uint256 value, bytes note);

    function record(bytes calldata _note) external payable {
        lastL2Sender = IPortal(msg.sender).l2Sender();
        lastValue = msg.value;
        lastNote = _note;
        emit Called(lastL2Sender, msg.value, _note);
    }
}
