// SPDX-License-Identifier: MIT
pragma solidity 0.8.26;

/// @title OrdoPortal
/// @notice Ordo's entry point on L1. Deposits follow OP Stack's OptimismPortal ABI and event
///         encoding, so the tools that bridge to an OP chain (viem's op-stack actions, alloy's
///         op types) bridge to Ordo unmodified: the L2 derives one deposit transaction
///         (EIP-2718 type 0x7E) from each `TransactionDeposited` log, and its hash follows
///         from the log alone.
contract OrdoPortal {
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

    /// @notice A creation deposit named a recipient.
    error BadTarget();
    /// @notice The gas limit does not cover the deposit's intrinsic L2 gas.
    error SmallGasLimit();
    /// @notice More calldata than MAX_DEPOSIT_DATA.
    error LargeCalldata();

    /// @notice OP's offset between an L1 contract's address and its L2 alias: a contract on
    ///         L1 and a contract at the same address on L2 are not the same owner.
    uint160 internal constant ALIAS_OFFSET = uint160(0x1111000000000000000000000000000000001111);

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
}
