// SPDX-License-Identifier: MIT
pragma solidity 0.8.26;

import { MerkleTrie, SecureMerkleTrie } from "../lib/MerkleTrie.sol";

/// @title TrieProbe
/// @notice Exposes the trie libraries the portal proves withdrawals with, so tests can check
///         them with eth_call against real proofs (eth_getProof from an L1 dev node).
///
///         A proof that does not show the key holding the value (a wrong root, a node whose
///         hash does not match, a missing or extra element, an absent key, another value) makes
///         `verify`/`verifySecure` return false. A proof element that matches its hash but is
///         not well-formed RLP or not a trie node makes them revert instead (RLPReader rejects
///         it); the portal treats either as an invalid proof.
contract TrieProbe {
    /// @notice MerkleTrie.verifyInclusionProof: the key is the trie path itself.
    function verify(bytes calldata key, bytes calldata value, bytes[] calldata proof, bytes32 root)
        external
        pure
        returns (bool)
    {
        return MerkleTrie.verifyInclusionProof(key, value, proof, root);
    }

    /// @notice SecureMerkleTrie.verifyInclusionProof: the path is keccak256(key), as in the
    ///         state and storage tries (a storage key is the 32-byte slot number).
    function verifySecure(bytes calldata key, bytes calldata value, bytes[] calldata proof, bytes32 root)
        external
        pure
        returns (bool)
    {
        return SecureMerkleTrie.verifyInclusionProof(key, value, proof, root);
    }

    /// @notice MerkleTrie.get: whether the key is present and its value; reverts
    ///         ("MerkleTrie: invalid proof") when the proof shows neither.
    function get(bytes calldata key, bytes[] calldata proof, bytes32 root)
        external
        pure
        returns (bool exists, bytes memory value)
    {
        return MerkleTrie.get(key, proof, root);
    }

    /// @notice SecureMerkleTrie.get.
    function getSecure(bytes calldata key, bytes[] calldata proof, bytes32 root)
        external
        pure
        returns (bool exists, bytes memory value)
    {
        return SecureMerkleTrie.get(key, proof, root);
    }
}
