//! Genesis: the header of block 0, the small genesis of a chain spec (one atomic batch), and
//! the genesis of a large state (`ordo bench state`): sorted streams through alloy-trie's
//! hash builder and fjall ingestion, never the whole state in one write batch.

use alloy_consensus::Header;
use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use alloy_trie::{BranchNodeCompact, HashBuilder, KECCAK_EMPTY, Nibbles};
use ordo_primitives::{BlockRecord, ChainSpec, Provenance};
use ordo_storage::{AccountRecord, BlockCommit, BulkState, Storage, StorageError};

use crate::{
    block::empty_header,
    error::StateError,
    state::StateDb,
    trie::{TrieLeaves, account_leaf, seek_key, slot_leaf, with_leaf_hashes},
};

/// The genesis header for a state root and chain parameters.
pub fn genesis_header(spec: &ordo_primitives::ChainSpec, state_root: B256) -> Header {
    Header {
        state_root,
        ..empty_header(
            0,
            spec.gas_limit,
            spec.genesis_timestamp,
            spec.genesis_base_fee,
            spec.extra_data.clone(),
        )
    }
}

/// Writes the genesis block and state of `spec` into an empty `storage` (one atomic batch,
/// plus the chain id) and returns the block: what the node does on a fresh datadir and what
/// derivation does on its scratch one.
pub fn write_genesis(
    storage: &ordo_storage::Storage,
    spec: &ordo_primitives::ChainSpec,
) -> Result<BlockRecord, ordo_storage::StorageError> {
    let (commit, root) = StateDb::genesis_commit(spec).map_err(|e| e.0)?;
    commit_genesis(storage, spec, commit, root)
}

fn commit_genesis(
    storage: &Storage,
    spec: &ChainSpec,
    mut commit: BlockCommit,
    root: B256,
) -> Result<BlockRecord, StorageError> {
    let header = genesis_header(spec, root);
    let block = BlockRecord {
        hash: header.hash_slow(),
        header,
        transactions: vec![],
        senders: vec![],
        tx_hashes: vec![],
        provenance: Provenance {
            policy: "genesis".into(),
            ..Default::default()
        },
        l1_origin: None,
    };
    commit.block = Some(block.clone());
    storage.commit_block(&commit)?;
    storage.put_chain_id(spec.chain_id)?;
    Ok(block)
}

/// One account of a large genesis.
#[derive(Debug, Clone, Default)]
pub struct BulkAccount {
    /// Its address.
    pub address: Address,
    /// Balance in wei.
    pub balance: U256,
    /// Nonce.
    pub nonce: u64,
    /// Runtime code (empty: an EOA).
    pub code: Bytes,
    /// Storage slots (zero values are skipped).
    pub storage: Vec<(B256, U256)>,
}

/// Sorted leaves, as the trie walk reads them.
struct SortedLeaves<'a, T> {
    items: &'a [(B256, T)],
    value: fn(&T) -> Vec<u8>,
}

impl<T> TrieLeaves for SortedLeaves<'_, T> {
    fn seek(&self, from: &Nibbles) -> Result<Option<(B256, Vec<u8>)>, StateError> {
        let from = seek_key(from);
        let at = self.items.partition_point(|(key, _)| *key < from);
        Ok(self.items.get(at).map(|(key, v)| (*key, (self.value)(v))))
    }
}

/// The trie over `items` (sorted by hashed key), built in one pass: its root and every branch node,
/// with the hashes of leaf children (see [`with_leaf_hashes`]).
fn build_trie<T>(
    items: &[(B256, T)],
    value: fn(&T) -> Vec<u8>,
) -> Result<(B256, Vec<(Nibbles, BranchNodeCompact)>), StateError> {
    let mut hb = HashBuilder::default()
        .with_updates(true)
        .with_all_branch_nodes(true);
    for (key, item) in items {
        hb.add_leaf(Nibbles::unpack(key), &value(item));
    }
    let root = hb.root();
    let (_, updates) = hb.split();
    let mut nodes: Vec<(Nibbles, BranchNodeCompact)> = updates.into_iter().collect();
    nodes.sort_unstable_by_key(|a| a.0);
    with_leaf_hashes(&mut nodes, &SortedLeaves { items, value })?;
    Ok((root, nodes))
}

/// Writes the genesis of `spec` plus `accounts` into an empty `storage` by ingestion, then the
/// genesis block. Memory is about that of the accounts themselves; nothing else of the state
/// is held twice.
pub fn write_bulk_genesis(
    storage: &Storage,
    spec: &ChainSpec,
    accounts: Vec<BulkAccount>,
) -> Result<BlockRecord, StateError> {
    let mut all: Vec<(B256, BulkAccount)> = spec
        .alloc
        .iter()
        .map(|(address, a)| BulkAccount {
            address: *address,
            balance: a.balance,
            nonce: a.nonce,
            code: a.code.clone(),
            storage: a.storage.iter().map(|(k, v)| (*k, *v)).collect(),
        })
        .chain(accounts)
        .map(|a| (keccak256(a.address), a))
        .collect();
    all.sort_unstable_by_key(|a| a.0);
    if let Some(w) = all.windows(2).find(|w| w[0].0 == w[1].0) {
        return Err(StateError(StorageError::Corrupt {
            keyspace: "accounts",
            source: alloy_rlp::Error::Custom(if w[0].1.address == w[1].1.address {
                "an account appears twice in the genesis"
            } else {
                "two genesis addresses hash alike"
            }),
        }));
    }
    let mut bulk = BulkState::default();
    bulk.accounts.reserve(all.len());
    let mut code = std::collections::BTreeMap::new();
    for (hashed, account) in &all {
        let mut slots: Vec<(B256, U256)> = account
            .storage
            .iter()
            .filter(|(_, v)| !v.is_zero())
            .map(|(k, v)| (keccak256(k), *v))
            .collect();
        slots.sort_unstable_by_key(|a| a.0);
        let (storage_root, nodes) = build_trie(&slots, slot_leaf)?;
        bulk.slots
            .extend(slots.into_iter().map(|(k, v)| (*hashed, k, v)));
        bulk.storage_nodes
            .extend(nodes.into_iter().map(|(path, node)| (*hashed, path, node)));
        let code_hash = if account.code.is_empty() {
            KECCAK_EMPTY
        } else {
            let hash = keccak256(&account.code);
            code.insert(hash, account.code.clone());
            hash
        };
        bulk.accounts.push((
            *hashed,
            AccountRecord {
                nonce: account.nonce,
                balance: account.balance,
                storage_root,
                code_hash,
            },
        ));
    }
    drop(all);
    let (root, nodes) = build_trie(&bulk.accounts, account_leaf)?;
    bulk.account_nodes = nodes;
    bulk.code = code.into_iter().collect();
    storage.ingest_state(bulk)?;
    Ok(commit_genesis(storage, spec, BlockCommit::default(), root)?)
}
