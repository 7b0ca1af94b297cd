//! Just enough Solidity ABI for searchers: selectors, static 32-byte words, reading words
//! from return data.
//!
//! ```
//! use ordo_sdk::{U256, abi};
//!
//! let data = abi::call(
//!     abi::selector("swap(uint256,bool,uint256,uint256)"),
//!     &[abi::u256(U256::ZERO), abi::bool(true), abi::u64(1_000), abi::u64(0)],
//! );
//! assert_eq!(data.len(), 4 + 4 * 32);
//! assert_eq!(abi::arg_u256(&data, 2), Some(U256::from(1_000)));
//! assert_eq!(abi::arg_bool(&data, 1), Some(true));
//! ```
//!
//! Only static types (`uint*`, `int*` as raw words, `address`, `bool`, `bytes32`) are covered:
//! dynamic types need offsets, which a searcher watching a known contract rarely does.

use alloc::vec::Vec;

use alloy_primitives::{Address, U256, keccak256};

/// One 32-byte ABI word.
pub type Word = [u8; 32];

/// The 4-byte selector of a canonical signature, e.g. `"transfer(address,uint256)"` (no
/// spaces, no parameter names, `uint` written `uint256`).
pub fn selector(signature: &str) -> [u8; 4] {
    let hash = keccak256(signature.as_bytes());
    [hash[0], hash[1], hash[2], hash[3]]
}

/// A `uint256` word.
pub fn u256(value: U256) -> Word {
    value.to_be_bytes()
}

/// A `uint256` word from a `u64`.
pub fn u64(value: u64) -> Word {
    u256(U256::from(value))
}

/// An `address` word (left-padded with zeros).
pub fn address(value: Address) -> Word {
    let mut word = [0u8; 32];
    word[12..].copy_from_slice(value.as_slice());
    word
}

/// A `bool` word.
pub fn bool(value: bool) -> Word {
    let mut word = [0u8; 32];
    word[31] = u8::from(value);
    word
}

/// Calldata: `selector` followed by the argument words.
pub fn call(selector: [u8; 4], args: &[Word]) -> Vec<u8> {
    let mut data = Vec::with_capacity(4 + 32 * args.len());
    data.extend_from_slice(&selector);
    for word in args {
        data.extend_from_slice(word);
    }
    data
}

/// Word `index` of ABI-encoded data (return data, or arguments without the selector).
pub fn word(data: &[u8], index: usize) -> Option<&Word> {
    let start = index.checked_mul(32)?;
    data.get(start..start.checked_add(32)?)?.try_into().ok()
}

/// Word `index` read as a `uint256`.
pub fn read_u256(data: &[u8], index: usize) -> Option<U256> {
    word(data, index).map(|w| U256::from_be_bytes(*w))
}

/// Word `index` read as an `address`; `None` if the upper 12 bytes are not zero.
pub fn read_address(data: &[u8], index: usize) -> Option<Address> {
    let w = word(data, index)?;
    w[..12]
        .iter()
        .all(|&b| b == 0)
        .then(|| Address::from_slice(&w[12..]))
}

/// Word `index` read as a `bool`; `None` unless it is exactly 0 or 1 (as Solidity checks).
pub fn read_bool(data: &[u8], index: usize) -> Option<bool> {
    match read_u256(data, index)? {
        v if v == U256::ZERO => Some(false),
        v if v == U256::from(1) => Some(true),
        _ => None,
    }
}

/// The arguments of calldata `data` if it starts with `selector` (the bytes after it).
pub fn args_of(data: &[u8], selector: [u8; 4]) -> Option<&[u8]> {
    data.strip_prefix(&selector[..])
}

/// Argument `index` of calldata (selector first) as a `uint256`.
pub fn arg_u256(calldata: &[u8], index: usize) -> Option<U256> {
    read_u256(calldata.get(4..)?, index)
}

/// Argument `index` of calldata (selector first) as a `bool`.
pub fn arg_bool(calldata: &[u8], index: usize) -> Option<bool> {
    read_bool(calldata.get(4..)?, index)
}

/// Argument `index` of calldata (selector first) as an `address`.
pub fn arg_address(calldata: &[u8], index: usize) -> Option<Address> {
    read_address(calldata.get(4..)?, index)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::{address as addr, hex};

    #[test]
    fn selectors_match_known_values() {
        assert_eq!(selector("transfer(address,uint256)"), hex!("a9059cbb"));
        assert_eq!(selector("balanceOf(address)"), hex!("70a08231"));
    }

    #[test]
    fn words_encode_and_decode() {
        let a = addr!("f39Fd6e51aad88F6F4ce6aB8827279cffFb92266");
        let data = call(
            selector("f(address,bool,uint256)"),
            &[address(a), bool(true), u256(U256::MAX)],
        );
        assert_eq!(data.len(), 4 + 96);
        assert_eq!(&data[4..16], &[0u8; 12]);
        assert_eq!(arg_address(&data, 0), Some(a));
        assert_eq!(arg_bool(&data, 1), Some(true));
        assert_eq!(arg_u256(&data, 2), Some(U256::MAX));
        assert_eq!(arg_u256(&data, 3), None);
        let args = args_of(&data, selector("f(address,bool,uint256)")).unwrap();
        assert_eq!(read_u256(args, 2), Some(U256::MAX));
        assert!(args_of(&data, selector("g()")).is_none());
        // Not a bool / not an address.
        assert_eq!(read_bool(&u64(2), 0), None);
        assert_eq!(read_address(&u256(U256::MAX), 0), None);
        assert_eq!(read_bool(&bool(false), 0), Some(false));
        assert_eq!(read_u256(&u64(7)[..31], 0), None);
        assert_eq!(word(&[], usize::MAX), None);
    }
}
