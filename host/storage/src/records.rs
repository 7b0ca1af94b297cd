//! Records stored in the state keyspaces.

use alloy_primitives::{Address, B256, U256};
use alloy_rlp::{Encodable, RlpDecodable, RlpEncodable};
use alloy_trie::{BranchNodeCompact, Nibbles, TrieMask};

/// An account as stored: the four fields of the state trie leaf.
#[derive(Debug, Clone, Copy, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct AccountRecord {
    /// Nonce.
    pub nonce: u64,
    /// Balance in wei.
    pub balance: U256,
    /// Root of the account's storage trie.
    pub storage_root: B256,
    /// keccak256 of the code (`KECCAK_EMPTY` for an EOA).
    pub code_hash: B256,
}

/// A stored branch node: `state_mask ‖ tree_mask ‖ hash_mask` (big-endian u16 each), then
/// the child hashes. The root hash the hash builder attaches to the root node is not kept:
/// the block header has it.
pub(crate) fn encode_node(node: &BranchNodeCompact) -> Vec<u8> {
    let mut out = Vec::with_capacity(6 + 32 * node.hashes.len());
    out.extend_from_slice(&node.state_mask.get().to_be_bytes());
    out.extend_from_slice(&node.tree_mask.get().to_be_bytes());
    out.extend_from_slice(&node.hash_mask.get().to_be_bytes());
    for hash in node.hashes.iter() {
        out.extend_from_slice(hash.as_slice());
    }
    out
}

/// The inverse of [`encode_node`]; `None` when the bytes cannot be a node.
pub(crate) fn decode_node(bytes: &[u8]) -> Option<BranchNodeCompact> {
    if bytes.len() < 6 || !(bytes.len() - 6).is_multiple_of(32) {
        return None;
    }
    let mask = |i: usize| TrieMask::new(u16::from_be_bytes([bytes[i], bytes[i + 1]]));
    let (state, tree, hash) = (mask(0), mask(2), mask(4));
    let hashes: Vec<B256> = bytes[6..].chunks_exact(32).map(B256::from_slice).collect();
    if !tree.is_subset_of(state)
        || !hash.is_subset_of(state)
        || hash.count_ones() as usize != hashes.len()
    {
        return None;
    }
    Some(BranchNodeCompact::new(state, tree, hash, hashes, None))
}

/// A trie path as a key: one byte per nibble, so byte order is path order (a path before
/// the paths below it) and a path prefix is a key prefix.
pub(crate) fn path_key(prefix: &[u8], path: &Nibbles) -> Vec<u8> {
    let mut key = Vec::with_capacity(prefix.len() + path.len());
    key.extend_from_slice(prefix);
    key.extend(path.iter());
    key
}

/// The inverse of [`path_key`] (after the prefix); `None` for a byte that is no nibble.
pub(crate) fn key_path(bytes: &[u8]) -> Option<Nibbles> {
    (bytes.len() <= 64 && bytes.iter().all(|b| *b < 16)).then(|| Nibbles::from_nibbles(bytes))
}

/// What one block changed: the `changes` keyspace's value (by block number), so a walk back
/// from the head finds every key that differs at an older block.
#[derive(Debug, Clone, Default, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub(crate) struct ChangeSet {
    /// Accounts the block changed.
    pub accounts: Vec<Address>,
    /// Slots the block changed.
    pub slots: Vec<SlotRef>,
}

/// A slot of an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub(crate) struct SlotRef {
    /// The account.
    pub address: Address,
    /// The slot.
    pub slot: B256,
}

/// A record as stored (RLP).
pub(crate) fn encode<T: Encodable>(value: &T) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.length());
    value.encode(&mut out);
    out
}

/// The history keyspaces' key of a slot (plain address and slot: what RPC callers name).
pub(crate) fn history_slot_key(address: &Address, slot: &B256) -> [u8; 52] {
    let mut key = [0u8; 52];
    key[..20].copy_from_slice(address.as_slice());
    key[20..].copy_from_slice(slot.as_slice());
    key
}
