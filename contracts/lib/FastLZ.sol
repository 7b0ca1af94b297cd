// SPDX-License-Identifier: MIT
pragma solidity 0.8.26;

/// @title FastLZ
/// @notice The length FastLZ (level 1, ariya/FastLZ at 344eb40) would compress a byte string
///         to, without producing the compressed bytes. Fjord's L1 data fee is priced from this
///         length, so it has to equal, byte for byte, what op-geth's `FlzCompressLen`, op-revm
///         and the `op-alloy-flz` crate compute from a transaction; the host charges with the
///         latter. It therefore follows the reference algorithm including its quirks, which a
///         "better" compressor would not have:
///         - an empty hash-table entry reads as position 0, so the first three bytes can be
///           matched without ever having been hashed;
///         - scanning starts at position 2 and stops 13 bytes before the end (inputs shorter
///           than 13 bytes are all literals);
///         - a match found at the last position before that limit is dropped (the bytes
///           from there on are literals);
///         - a match's length counts one past the first differing byte (the compressor emits
///           the length minus one), and never reaches past 4 bytes before the end.
///         Output sizes: a run of r literals costs r bytes plus one per started block of 32;
///         a match of length l costs 3 bytes per full 262 of l-1, plus 2 for the rest, or 3
///         when that rest is 6 or more.
library FastLZ {
    /// @notice The FastLZ level-1 compressed length of `_data`.
    function flzCompressLen(bytes memory _data) internal pure returns (uint256 size_) {
        assembly ("memory-safe") {
            // Bytes the compressor writes for a run of `r` literals.
            function literals(r) -> n {
                let rest := and(r, 31)
                n := add(mul(33, shr(5, r)), mul(iszero(iszero(rest)), add(rest, 1)))
            }
            // Bytes the compressor writes for a match of length `l` (at least 1).
            function matched(l) -> n {
                let m := sub(l, 1)
                n := add(mul(3, div(m, 262)), add(2, iszero(lt(mod(m, 262), 6))))
            }

            let n := mload(_data)
            let base := add(_data, 0x20)
            // The hash table: 8192 entries of 4 bytes (positions fit: a transaction is far
            // below 4 GiB). One word per entry would cost ~150k gas of memory; this costs ~5k.
            // Entry h is the low 4 bytes of the word at `table + 4h` (the table's data starts
            // 28 bytes in, so every such word lies inside it): read with
            // and(word, 0xffffffff), replaced with or(and(word, not(0xffffffff)), position),
            // which keeps the other entries in the word. Memory past the free pointer may be
            // dirty, so it is zeroed first (copying from past the calldata yields zeros). The
            // free pointer is left alone: the table is scratch.
            let table := mload(0x40)
            calldatacopy(table, calldatasize(), 0x801c)

            // FastLZ hashes the three bytes at a position as the little-endian value
            // `v = b[i] | b[i+1]<<8 | b[i+2]<<16` to bits 19..31 of v * 2654435769 (bits below
            // 32 of a product do not depend on the bits above, so the wide multiply gives its
            // wrapping 32-bit one's); times 4 that is the entry's offset,
            // and(shr(17, product), 0x7ffc). The scan keeps `v` rolling (shift out the first
            // byte, bring in the third) and compares three bytes big-endian, as one mload
            // gives them: `s = b[i]<<16 | b[i+1]<<8 | b[i+2]` (equal iff the values are).
            // Written out where used: the optimizer does not inline Yul functions here, and
            // the scan runs once per input byte.

            let limit := 0
            if gt(n, 12) { limit := sub(n, 13) }
            let anchor := 0
            for { let ip := 2 } lt(ip, limit) {} {
                // Find the next position whose three bytes match a hashed earlier position
                // at most 0x1FFF back; every scanned position replaces its table entry. The
                // reference also hashes the position at the limit before it stops, but the
                // scan ends there, so that entry is never read and is not written here.
                let ref := 0
                // `v` of the position before `ip` (ip >= 2), so that one roll gives ip's.
                let v := shr(232, mload(add(base, sub(ip, 1))))
                v := or(or(shr(16, v), and(v, 0xff00)), shl(16, and(v, 0xff)))
                for {} lt(ip, limit) {} {
                    let s := shr(232, mload(add(base, ip)))
                    v := or(shr(8, v), shl(16, and(s, 0xff)))
                    let p := add(table, and(shr(17, mul(v, 2654435769)), 0x7ffc))
                    let entry := mload(p)
                    ref := and(entry, 0xffffffff)
                    mstore(p, or(and(entry, not(0xffffffff)), ip))
                    let distance := sub(ip, ref)
                    ip := add(ip, 1)
                    if lt(distance, 0x2000) { if eq(s, shr(232, mload(add(base, ref)))) { break } }
                }
                // Also when the match was found at the last position before the limit.
                if iszero(lt(ip, limit)) { break }
                ip := sub(ip, 1)
                if gt(ip, anchor) { size_ := add(size_, literals(sub(ip, anchor))) }

                // The match length: compare from 3 bytes on, 32 bytes at a time, up to
                // `limit + 9`; the first differing byte (counted) ends it. Words may read past
                // that end (into memory after the input): the result is capped to it.
                let len := sub(add(limit, 6), ip)
                {
                    let p := add(base, add(ref, 3))
                    let q := add(base, add(ip, 3))
                    for { let k := 0 } lt(k, len) { k := add(k, 32) } {
                        let x := xor(mload(add(p, k)), mload(add(q, k)))
                        if x {
                            let j := k
                            for {} iszero(byte(sub(j, k), x)) { j := add(j, 1) } {}
                            if lt(j, len) { len := add(j, 1) }
                            break
                        }
                    }
                }
                size_ := add(size_, matched(len))

                // Hash the two positions after the match, then go on after them.
                ip := add(ip, len)
                for { let end := add(ip, 2) } lt(ip, end) { ip := add(ip, 1) } {
                    let w := shr(232, mload(add(base, ip)))
                    let p := add(
                        table,
                        and(shr(17, mul(or(or(shr(16, w), and(w, 0xff00)), shl(16, and(w, 0xff))), 2654435769)), 0x7ffc)
                    )
                    mstore(p, or(and(mload(p), not(0xffffffff)), ip))
                }
                anchor := ip
            }
            size_ := add(size_, literals(sub(n, anchor)))
        }
    }
}
