// SPDX-License-Identifier: MIT
pragma solidity 0.8.26;

/// @notice The message passer's entry point a vault withdraws through.
interface IL2ToL1MessagePasser {
    function initiateWithdrawal(address _target, uint256 _gasLimit, bytes memory _data) external payable;
}

/// @title FeeVault
/// @notice Where the fees of L2 transactions collect, with OP's ABI: the host credits a vault's
///         balance directly while it executes a block (no call), and anyone may call
///         `withdraw` to send the whole balance to the recipient on L1 through the message
///         passer, as an ordinary withdrawal that is proven and finalized on L1.
///         OP's vaults keep the recipient and the minimum in immutables of a proxied
///         implementation; a predeploy here is runtime code in the genesis, so they are storage
///         the genesis writes (slots 1 and 2). Only L1 is a withdrawal network here.
abstract contract FeeVault {
    /// @notice OP's `Types.WithdrawalNetwork`: 0 is L1, 1 is L2.
    enum WithdrawalNetwork {
        L1,
        L2
    }

    /// @notice The message passer predeploy.
    address internal constant MESSAGE_PASSER = 0x4200000000000000000000000000000000000016;

    /// @notice Gas the L1 side of a vault withdrawal gets (OP's `WITHDRAWAL_MIN_GAS`).
    uint32 internal constant WITHDRAWAL_MIN_GAS = 400_000;

    /// @notice Every wei withdrawn so far (slot 0, as OP lays it out).
    uint256 public totalProcessed;

    /// @notice Where withdrawals go on L1 (slot 1, written by the genesis).
    address internal recipientAddress;

    /// @notice Least balance a withdrawal moves (slot 2, written by the genesis).
    uint256 internal minWithdrawal;

    /// @notice OP's event, and its later form naming the network.
    event Withdrawal(uint256 value, address to, address from);
    event Withdrawal(uint256 value, address to, address from, WithdrawalNetwork withdrawalNetwork);

    /// @notice Anyone may pay into a vault.
    receive() external payable {}

    function RECIPIENT() external view returns (address) {
        return recipientAddress;
    }

    function recipient() external view returns (address) {
        return recipientAddress;
    }

    function MIN_WITHDRAWAL_AMOUNT() external view returns (uint256) {
        return minWithdrawal;
    }

    function minWithdrawalAmount() external view returns (uint256) {
        return minWithdrawal;
    }

    function WITHDRAWAL_NETWORK() external pure returns (WithdrawalNetwork) {
        return WithdrawalNetwork.L1;
    }

    function withdrawalNetwork() external pure returns (WithdrawalNetwork) {
        return WithdrawalNetwork.L1;
    }

    /// @notice Sends the whole balance to the recipient on L1; returns the amount.
    function withdraw() external returns (uint256 value_) {
        require(
            address(this).balance >= minWithdrawal,
            "FeeVault: withdrawal amount must be greater than minimum withdrawal amount"
        );
        value_ = address(this).balance;
        totalProcessed += value_;
        emit Withdrawal(value_, recipientAddress, msg.sender);
        emit Withdrawal(value_, recipientAddress, msg.sender, WithdrawalNetwork.L1);
        IL2ToL1MessagePasser(MESSAGE_PASSER).initiateWithdrawal{ value: value_ }(
            recipientAddress, WITHDRAWAL_MIN_GAS, bytes("")
        );
    }
}

/// @title BaseFeeVault
/// @notice At 0x4200000000000000000000000000000000000019: every transaction's base fee
///         (gas used x the block's base fee), which Ethereum burns.
contract BaseFeeVault is FeeVault {
    function version() external pure returns (string memory) {
        return "1.5.0";
    }
}

/// @title L1FeeVault
/// @notice At 0x420000000000000000000000000000000000001A: every transaction's L1 data fee, what
///         posting it to L1 is estimated to cost.
contract L1FeeVault is FeeVault {
    function version() external pure returns (string memory) {
        return "1.5.0";
    }
}
