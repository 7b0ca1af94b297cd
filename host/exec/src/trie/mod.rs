//! State and storage roots computed from the paths a block touched, over branch nodes kept
//! on disk (alloy-trie's `HashBuilder` and node encodings do the hashing; this module decides
//! what it reads).
//!
//! - [`PrefixSet`] (prefix.rs): the changed keys.
//! - [`update_root`] / [`prove`] (root.rs): the walk over stored nodes ([`TrieNodes`]) and
//!   post-change leaves ([`TrieLeaves`]), returning the root, the node updates, or proofs;
//!   [`update_root_parallel`] (what blocks use) rehashes the nodes that keep their shape in
//!   place and walks only the others, a large change's root children on threads of their own.
//! - store.rs: those sources over ordo-storage ([`StoredNodes`]) and the
//!   stored leaves under a block's changes ([`Overlaid`]), and the node cache in front of
//!   the stored nodes ([`CachedNodes`]), with hints of where extensions lead so that a walk
//!   finds their nodes by point lookups ([`ExtensionHints`]).

mod prefix;
mod root;
mod store;

pub use prefix::PrefixSet;
pub use root::{
    PARALLEL_KEYS, TrieLeaves, TrieNodes, TrieUpdate, prove, seek_key, update_root,
    update_root_parallel, with_leaf_hashes,
};
pub use store::{
    Base, CachedNodes, ExtensionHints, Generation, NoNodes, NodeCache, Overlaid, STATE_TRIE_OWNER,
    StoredLeaves, StoredNodes, account_leaf, extension_hints, next_key, node_cache, slot_leaf,
};

#[cfg(test)]
mod tests;
