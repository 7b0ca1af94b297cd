// SPDX-License-Identifier: MIT
pragma solidity 0.8.26;

/// @title RLPReader
/// @notice Reads Ethereum's RLP encoding in place, for the Merkle-Patricia proofs a withdrawal
///         is proven with. An item is a view (pointer and length) into memory the caller owns;
///         nothing is copied until a string's bytes are asked for.
///
///         Strict on purpose: a proof comes from whoever sends the transaction, so every length
///         is checked against the bytes that hold it before anything is read, and encodings RLP
///         forbids are rejected rather than read leniently: a long-form length under 56, a
///         length with leading zero bytes, a single byte below 0x80 wrapped as a one-byte
///         string, an item whose declared length runs past its input, a list whose items do not
///         exactly fill it, trailing bytes after an item. One value thus has one encoding, so
///         a hash of an encoding identifies the value. Every rejection reverts.
library RLPReader {
    /// @notice A view of one encoded item: its first (header) byte in memory and its whole
    ///         length, header included.
    struct RLPItem {
        uint256 length;
        uint256 ptr;
    }

    /// @notice The whole of `_in` as one item (not yet checked: `readList`, `readBytes` and
    ///         `decode` check that it is exactly one well-formed item).
    function toItem(bytes memory _in) internal pure returns (RLPItem memory) {
        require(_in.length > 0, "RLPReader: empty input");
        uint256 ptr;
        assembly ("memory-safe") {
            ptr := add(_in, 32)
        }
        return RLPItem({ length: _in.length, ptr: ptr });
    }

    /// @notice The item's kind and payload: whether it is a list, where its payload starts and
    ///         how long it is. Reverts unless the header is canonical and header plus payload
    ///         are exactly the item.
    function decode(RLPItem memory _item)
        internal
        pure
        returns (bool isList_, uint256 payloadPtr_, uint256 payloadLength_)
    {
        (uint256 offset, uint256 length, bool list) = _header(_item.ptr, _item.length);
        require(offset + length == _item.length, "RLPReader: trailing bytes after item");
        return (list, _item.ptr + offset, length);
    }

    /// @notice The items of a list (views into the same memory). Reverts unless `_item` is a
    ///         list whose items, each well formed, exactly fill its payload.
    function readList(RLPItem memory _item) internal pure returns (RLPItem[] memory items_) {
        (bool list, uint256 ptr, uint256 length) = decode(_item);
        require(list, "RLPReader: not a list");
        uint256 end = ptr + length;

        // Walk once to count, once to fill: the count sizes the array exactly.
        uint256 count;
        for (uint256 p = ptr; p < end; ++count) {
            (uint256 o, uint256 l,) = _header(p, end - p);
            p += o + l;
        }
        items_ = new RLPItem[](count);
        uint256 q = ptr;
        for (uint256 i; i < count; ++i) {
            (uint256 o, uint256 l,) = _header(q, end - q);
            items_[i] = RLPItem({ length: o + l, ptr: q });
            q += o + l;
        }
    }

    /// @notice `readList` of the whole of `_in`.
    function readList(bytes memory _in) internal pure returns (RLPItem[] memory) {
        return readList(toItem(_in));
    }

    /// @notice A copy of a string item's payload. Reverts if the item is a list.
    function readBytes(RLPItem memory _item) internal pure returns (bytes memory) {
        (bool list, uint256 ptr, uint256 length) = decode(_item);
        require(!list, "RLPReader: not a string");
        return _copy(ptr, length);
    }

    /// @notice A copy of the item's whole encoding, header included (not checked).
    function readRawBytes(RLPItem memory _item) internal pure returns (bytes memory) {
        return _copy(_item.ptr, _item.length);
    }

    /// @notice The header of the item that starts at `_ptr`, of which at most `_available`
    ///         bytes may be read: the header's length, the payload's length, whether it is a
    ///         list. Reverts unless header and payload fit in `_available` and the header is
    ///         the shortest one for that payload.
    function _header(uint256 _ptr, uint256 _available)
        private
        pure
        returns (uint256 offset_, uint256 length_, bool isList_)
    {
        require(_available > 0, "RLPReader: empty item");
        uint256 prefix = _byteAt(_ptr);
        if (prefix < 0x80) {
            // A byte below 0x80 is its own encoding.
            return (0, 1, false);
        } else if (prefix < 0xb8) {
            offset_ = 1;
            length_ = prefix - 0x80;
        } else if (prefix < 0xc0) {
            (offset_, length_) = _longLength(_ptr, _available, prefix - 0xb7);
        } else if (prefix < 0xf8) {
            offset_ = 1;
            length_ = prefix - 0xc0;
            isList_ = true;
        } else {
            (offset_, length_) = _longLength(_ptr, _available, prefix - 0xf7);
            isList_ = true;
        }
        // Both terms are below 2^64 + 9 (see _longLength): no overflow.
        require(offset_ + length_ <= _available, "RLPReader: item runs past its input");
        if (!isList_ && length_ == 1) {
            require(_byteAt(_ptr + 1) >= 0x80, "RLPReader: single byte wrapped as a string");
        }
    }

    /// @notice The payload length of a long-form header whose length takes
    ///         `_lengthOfLength` (1 to 8) bytes after the prefix byte at `_ptr`, and the
    ///         header's length.
    function _longLength(uint256 _ptr, uint256 _available, uint256 _lengthOfLength)
        private
        pure
        returns (uint256 offset_, uint256 length_)
    {
        require(_available > _lengthOfLength, "RLPReader: truncated length");
        require(_byteAt(_ptr + 1) != 0, "RLPReader: length with leading zeros");
        for (uint256 i = 1; i <= _lengthOfLength; ++i) {
            length_ = (length_ << 8) | _byteAt(_ptr + i);
        }
        require(length_ >= 56, "RLPReader: long form for a short length");
        offset_ = 1 + _lengthOfLength;
    }

    /// @notice The byte at memory address `_ptr`.
    function _byteAt(uint256 _ptr) private pure returns (uint256 b_) {
        assembly ("memory-safe") {
            b_ := byte(0, mload(_ptr))
        }
    }

    /// @notice `_length` bytes from memory address `_ptr`, in new memory.
    function _copy(uint256 _ptr, uint256 _length) private pure returns (bytes memory out_) {
        out_ = new bytes(_length);
        assembly ("memory-safe") {
            mcopy(add(out_, 32), _ptr, _length)
        }
    }
}
