// SPDX-License-Identifier: MIT
pragma solidity 0.8.26;

import { RLPReader } from "./RLPReader.sol";

/// @title MerkleTrie
/// @notice Checks proofs against Ethereum's hexary Merkle-Patricia trie: the portal proves a
///         withdrawal by showing its slot in the L2 message passer's storage trie, with a proof
///         as `eth_getProof` returns it (the RLP-encoded nodes from the root down).
///
///         The trie, as the yellow paper defines it: a key is walked nibble by nibble (high
///         nibble of each byte first). A branch node is a list of 17 items, one child per
///         nibble and the value of a key that ends there; an extension node and a leaf node are
///         lists of 2, a hex-prefix ("compact") path and then the child (extension) or the
///         value (leaf). A child is referenced by the keccak256 of its encoding, or, when that
///         encoding is shorter than 32 bytes, by the encoding itself, inline in its parent. The
///         root is always referenced by its hash.
///
///         A proof is followed from the root: each element must hash to the reference its
///         parent holds, and the walk ends where the key's value is found or where the trie
///         shows the key is absent (an empty child, a path that diverges). Every element must be
///         used: a proof with trailing elements, or one that stops before the walk ends, is
///         invalid. An inline child needs no element of its own, it is already in its parent;
///         but tools following OP's verifier (viem's `maybeAddProofNode`) append an inline leaf
///         as one more element, so an element equal to the inline child's encoding is accepted
///         (and used) there too.
///
///         Answers: a wrong proof (a hash that does not match, a missing or extra element) is
///         `false` from `verifyInclusionProof` (and a revert from `get`). An element that
///         matches its hash but is not well-formed RLP, or not a trie node, reverts: that
///         needs a root committing to malformed nodes, which no real trie has.
library MerkleTrie {
    /// @notice Where a walk ended.
    enum Result {
        // The proof does not show anything under the root.
        Invalid,
        // The proof shows the key is not in the trie.
        Absent,
        // The proof shows the key's value.
        Found,
        // (Internal) the walk goes on into a child.
        Descend
    }

    /// @notice Items in a branch node: 16 children and a value.
    uint256 internal constant BRANCH_NODE_LENGTH = 17;
    /// @notice Items in a leaf or an extension node: a path and a value or child.
    uint256 internal constant SHORT_NODE_LENGTH = 2;

    /// @notice Whether `_proof` shows that `_key` holds `_value` in the trie whose root hash
    ///         is `_root`. `_value` is what the leaf (or branch) holds: for a storage trie that
    ///         is the RLP of the slot's value as a minimal big-endian integer (1 is 0x01).
    function verifyInclusionProof(bytes memory _key, bytes memory _value, bytes[] memory _proof, bytes32 _root)
        internal
        pure
        returns (bool)
    {
        (Result result, bytes memory value) = walk(_key, _proof, _root);
        return result == Result.Found && value.length == _value.length && keccak256(value) == keccak256(_value);
    }

    /// @notice The value `_proof` shows `_key` holding under `_root`, or that the key is
    ///         absent (`exists_` false, `value_` empty). Reverts on an invalid proof.
    function get(bytes memory _key, bytes[] memory _proof, bytes32 _root)
        internal
        pure
        returns (bool exists_, bytes memory value_)
    {
        Result result;
        (result, value_) = walk(_key, _proof, _root);
        require(result != Result.Invalid, "MerkleTrie: invalid proof");
        exists_ = result == Result.Found;
    }

    /// @notice Follows `_proof` from `_root` along `_key`: Found with the value, Absent, or
    ///         Invalid (never Descend).
    function walk(bytes memory _key, bytes[] memory _proof, bytes32 _root)
        internal
        pure
        returns (Result result_, bytes memory value_)
    {
        if (_proof.length == 0 || keccak256(_proof[0]) != _root) return (Result.Invalid, "");
        // The empty trie: its root is the hash of the empty string, the proof that one node.
        if (_proof[0].length == 1 && _proof[0][0] == 0x80) {
            return (_proof.length == 1 ? Result.Absent : Result.Invalid, "");
        }

        RLPReader.RLPItem memory node = RLPReader.toItem(_proof[0]);
        uint256 used = 1;
        uint256 depth = 0;
        while (true) {
            RLPReader.RLPItem memory child;
            (result_, value_, child, depth) = _step(node, _key, depth);
            if (result_ == Result.Descend) {
                (result_, node, used) = _resolve(child, _proof, used);
            }
            if (result_ != Result.Descend) break;
        }
        // An answer stands only on a proof used to its last element.
        if (result_ != Result.Invalid && used != _proof.length) return (Result.Invalid, "");
        if (result_ != Result.Found) value_ = "";
    }

    /// @notice One node of the walk, reached with `_depth` nibbles of `_key` consumed: the
    ///         answer it gives (Found with the value, Absent, Invalid), or Descend with the
    ///         child's reference and the nibbles consumed once in it.
    function _step(RLPReader.RLPItem memory _node, bytes memory _key, uint256 _depth)
        private
        pure
        returns (Result result_, bytes memory value_, RLPReader.RLPItem memory child_, uint256 depth_)
    {
        RLPReader.RLPItem[] memory items = RLPReader.readList(_node);
        uint256 keyNibbles = _key.length * 2;

        if (items.length == BRANCH_NODE_LENGTH) {
            if (_depth == keyNibbles) {
                // The key ends at this branch: its value is the 17th item (empty: no value).
                value_ = RLPReader.readBytes(items[16]);
                return (value_.length == 0 ? Result.Absent : Result.Found, value_, child_, _depth);
            }
            return (Result.Descend, "", items[_nibble(_key, _depth)], _depth + 1);
        }

        if (items.length != SHORT_NODE_LENGTH) return (Result.Invalid, "", child_, _depth);

        bytes memory path = RLPReader.readBytes(items[0]);
        (bool valid, bool leaf, uint256 pathNibbles, bool matches) = _matchPath(path, _key, _depth);
        if (!valid) return (Result.Invalid, "", child_, _depth);

        if (leaf) {
            // A leaf holds the key only if its path is all that remains of the key.
            if (!matches || _depth + pathNibbles != keyNibbles) return (Result.Absent, "", child_, _depth);
            value_ = RLPReader.readBytes(items[1]);
            // No trie stores an empty value: a leaf holding one is not a trie node.
            if (value_.length == 0) return (Result.Invalid, "", child_, _depth);
            return (Result.Found, value_, child_, _depth + pathNibbles);
        }

        // An extension: the key goes on below it only if it shares the whole path.
        if (!matches) return (Result.Absent, "", child_, _depth);
        return (Result.Descend, "", items[1], _depth + pathNibbles);
    }

    /// @notice The node a child reference points at. An empty reference: Absent. A 32-byte
    ///         hash: the next proof element, which must hash to it. A list shorter than 32
    ///         bytes: the inline node itself; if the next proof element is that same encoding
    ///         (viem appends inline leaves), the element is used up. Anything else: Invalid.
    function _resolve(RLPReader.RLPItem memory _ref, bytes[] memory _proof, uint256 _used)
        private
        pure
        returns (Result result_, RLPReader.RLPItem memory node_, uint256 used_)
    {
        used_ = _used;
        (bool isList, uint256 ptr, uint256 length) = RLPReader.decode(_ref);
        if (!isList) {
            if (length == 0) return (Result.Absent, node_, used_);
            if (length != 32) return (Result.Invalid, node_, used_);
            bytes32 hash;
            assembly ("memory-safe") {
                hash := mload(ptr)
            }
            if (used_ >= _proof.length || keccak256(_proof[used_]) != hash) return (Result.Invalid, node_, used_);
            return (Result.Descend, RLPReader.toItem(_proof[used_]), used_ + 1);
        }
        if (_ref.length >= 32) return (Result.Invalid, node_, used_);
        if (used_ < _proof.length && _sameBytes(_proof[used_], _ref.ptr, _ref.length)) ++used_;
        return (Result.Descend, _ref, used_);
    }

    /// @notice Reads a leaf's or an extension's hex-prefix path against `_key` from nibble
    ///         `_depth`: whether the encoding is valid (flag nibble 0 to 3, zero padding when
    ///         even, an extension's path not empty), whether it is a leaf, its length in
    ///         nibbles, and whether it matches the key's next nibbles (it fits in the key and
    ///         every nibble is equal).
    function _matchPath(bytes memory _path, bytes memory _key, uint256 _depth)
        private
        pure
        returns (bool valid_, bool leaf_, uint256 pathNibbles_, bool matches_)
    {
        if (_path.length == 0) return (false, false, 0, false);
        uint8 first = uint8(_path[0]);
        uint8 flag = first >> 4;
        if (flag > 3) return (false, false, 0, false);
        bool odd = (flag & 1) == 1;
        if (!odd && (first & 0x0f) != 0) return (false, false, 0, false);
        leaf_ = flag >= 2;
        // The path's nibbles start after the flag nibble (odd) or the flag and a zero (even).
        uint256 skip = odd ? 1 : 2;
        pathNibbles_ = _path.length * 2 - skip;
        if (!leaf_ && pathNibbles_ == 0) return (false, false, 0, false);
        valid_ = true;

        if (_depth + pathNibbles_ > _key.length * 2) return (valid_, leaf_, pathNibbles_, false);
        for (uint256 i; i < pathNibbles_; ++i) {
            if (_nibble(_path, i + skip) != _nibble(_key, _depth + i)) return (valid_, leaf_, pathNibbles_, false);
        }
        matches_ = true;
    }

    /// @notice Nibble `_i` of `_b`, high nibble of each byte first.
    function _nibble(bytes memory _b, uint256 _i) private pure returns (uint8) {
        uint8 b = uint8(_b[_i / 2]);
        return _i % 2 == 0 ? b >> 4 : b & 0x0f;
    }

    /// @notice Whether `_a` equals the `_length` bytes at memory address `_ptr`.
    function _sameBytes(bytes memory _a, uint256 _ptr, uint256 _length) private pure returns (bool same_) {
        if (_a.length != _length) return false;
        assembly ("memory-safe") {
            same_ := eq(keccak256(add(_a, 32), _length), keccak256(_ptr, _length))
        }
    }
}

/// @title SecureMerkleTrie
/// @notice The "secure" trie Ethereum keeps accounts and storage in: the path of a key is the
///         keccak256 of the key (a storage slot's path is the hash of its 32-byte slot number),
///         so no one can choose keys that make the trie deep.
library SecureMerkleTrie {
    /// @notice MerkleTrie.verifyInclusionProof with the key hashed first.
    function verifyInclusionProof(bytes memory _key, bytes memory _value, bytes[] memory _proof, bytes32 _root)
        internal
        pure
        returns (bool)
    {
        return MerkleTrie.verifyInclusionProof(_path(_key), _value, _proof, _root);
    }

    /// @notice MerkleTrie.get with the key hashed first.
    function get(bytes memory _key, bytes[] memory _proof, bytes32 _root)
        internal
        pure
        returns (bool exists_, bytes memory value_)
    {
        return MerkleTrie.get(_path(_key), _proof, _root);
    }

    /// @notice The trie path of `_key`.
    function _path(bytes memory _key) private pure returns (bytes memory) {
        return abi.encodePacked(keccak256(_key));
    }
}
