// SPDX-License-Identifier: MIT
pragma solidity 0.8.26;

/// @title L2ToL1MessagePasser
/// @notice Predeployed on Ordo at 0x4200000000000000000000000000000000000016, as on OP Stack
///         chains, with OP's ABI and storage layout: a withdrawal is a hash stored in
///         `sentMessages`, and the portal on L1 proves that slot against an output root the
///         rollup proposed. Withdrawn ether stays here until `burn` removes it from L2's supply.
contract L2ToL1MessagePasser {
    /// @notice Gas given to the L1 call of a withdrawal made by a plain transfer.
    uint64 internal constant RECEIVE_DEFAULT_GAS_LIMIT = 100_000;

    /// @notice The version in the top two bytes of every withdrawal nonce (OP's current one).
    uint16 public constant MESSAGE_VERSION = 1;

    /// @notice Withdrawal hashes sent so far (slot 0: what an L1 proof points at).
    mapping(bytes32 => bool) public sentMessages;

    /// @notice The next withdrawal's nonce without its version (slot 1).
    uint240 internal msgNonce;

    /// @notice One withdrawal: its fields are those the L1 portal hashes and executes.
    event MessagePassed(
        uint256 indexed nonce,
        address indexed sender,
        address indexed target,
        uint256 value,
        uint256 gasLimit,
        bytes data,
        bytes32 withdrawalHash
    );

    /// @notice `burn` removed this much withdrawn ether from L2.
    event WithdrawerBalanceBurnt(uint256 indexed amount);

    /// @notice A plain transfer withdraws its value to the sender's own address on L1.
    receive() external payable {
        initiateWithdrawal(msg.sender, RECEIVE_DEFAULT_GAS_LIMIT, bytes(""));
    }

    /// @notice Removes the ether held here (all of it already withdrawn) from L2's supply:
    ///         a contract that destroys itself in its constructor takes it along.
    function burn() external {
        uint256 balance = address(this).balance;
        new Burner{ value: balance }();
        emit WithdrawerBalanceBurnt(balance);
    }

    /// @notice Sends a message to `_target` on L1 with `msg.value`, to be run there with at
    ///         least `_gasLimit` gas once proven and final.
    function initiateWithdrawal(address _target, uint256 _gasLimit, bytes memory _data) public payable {
        uint256 nonce = messageNonce();
        bytes32 withdrawalHash = keccak256(abi.encode(nonce, msg.sender, _target, msg.value, _gasLimit, _data));
        sentMessages[withdrawalHash] = true;
        emit MessagePassed(nonce, msg.sender, _target, msg.value, _gasLimit, _data, withdrawalHash);
        unchecked {
            ++msgNonce;
        }
    }

    /// @notice The next withdrawal's nonce: MESSAGE_VERSION in the top two bytes.
    function messageNonce() public view returns (uint256) {
        return (uint256(MESSAGE_VERSION) << 240) | uint256(msgNonce);
    }

    /// @notice OP's version of this predeploy whose ABI this one follows.
    function version() external pure returns (string memory) {
        return "1.1.0";
    }
}

/// @notice Holds ether only for as long as its creation runs.
contract Burner {
    constructor() payable {
        selfdestruct(payable(address(this)));
    }
}
