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
    commit_genesis(storage, spec, commit, genesis_header(spec, root))
}

/// Writes the genesis of an Ethereum chain's genesis file (what `ordo import` starts from):
/// `spec` holds its allocation as given (no predeploys added), and the header is the one
/// geth makes of the file for the forks `rules` activate at block 0. The chain's rules are
/// recorded with it (`config`, the file's own).
pub fn write_ethereum_genesis(
    storage: &Storage,
    spec: &ChainSpec,
    genesis: &alloy_genesis::Genesis,
    rules: &crate::ChainRules,
) -> Result<BlockRecord, StorageError> {
    let (commit, root) = StateDb::genesis_commit(spec).map_err(|e| e.0)?;
    let config = serde_json::to_vec(&genesis.config).map_err(|_| StorageError::Corrupt {
        keyspace: "meta",
        source: alloy_rlp::Error::Custom("the chain config does not serialize"),
    })?;
    let block = commit_genesis(
        storage,
        spec,
        commit,
        ethereum_genesis_header(genesis, rules, root),
    )?;
    storage.put_chain_config(&config)?;
    Ok(block)
}

/// The block-0 header geth derives from a genesis file: its proof-of-work fields as given
/// (difficulty 0x20000 when the file names neither it nor a mix hash), and the fields of
/// every fork active at block 0 (London's base fee, 1 gwei unless given; Shanghai's
/// withdrawals root; Cancun's blob gas and zero beacon root; Prague's requests hash).
pub fn ethereum_genesis_header(
    genesis: &alloy_genesis::Genesis,
    rules: &crate::ChainRules,
    state_root: B256,
) -> Header {
    use revm::primitives::hardfork::SpecId;
    let spec = rules.spec_at(0, genesis.timestamp);
    let difficulty = if genesis.difficulty.is_zero() && genesis.mix_hash.is_zero() {
        U256::from(0x20000)
    } else {
        genesis.difficulty
    };
    Header {
        parent_hash: genesis.parent_hash.unwrap_or_default(),
        ommers_hash: alloy_consensus::EMPTY_OMMER_ROOT_HASH,
        beneficiary: genesis.coinbase,
        state_root,
        transactions_root: alloy_trie::EMPTY_ROOT_HASH,
        receipts_root: alloy_trie::EMPTY_ROOT_HASH,
        difficulty,
        number: 0,
        gas_limit: if genesis.gas_limit == 0 {
            4_712_388
        } else {
            genesis.gas_limit
        },
        timestamp: genesis.timestamp,
        extra_data: genesis.extra_data.clone(),
        mix_hash: genesis.mix_hash,
        nonce: genesis.nonce.into(),
        base_fee_per_gas: (spec >= SpecId::LONDON).then(|| {
            genesis
                .base_fee_per_gas
                .map_or(alloy_eips::eip1559::INITIAL_BASE_FEE, |f| f as u64)
        }),
        withdrawals_root: (spec >= SpecId::SHANGHAI).then_some(alloy_trie::EMPTY_ROOT_HASH),
        blob_gas_used: (spec >= SpecId::CANCUN).then(|| genesis.blob_gas_used.unwrap_or(0)),
        excess_blob_gas: (spec >= SpecId::CANCUN).then(|| genesis.excess_blob_gas.unwrap_or(0)),
        parent_beacon_block_root: (spec >= SpecId::CANCUN).then_some(B256::ZERO),
        requests_hash: (spec >= SpecId::PRAGUE).then_some(alloy_eips::eip7685::EMPTY_REQUESTS_HASH),
        ..Default::default()
    }
}

fn commit_genesis(
    storage: &Storage,
    spec: &ChainSpec,
    mut commit: BlockCommit,
    header: Header,
) -> Result<BlockRecord, StorageError> {
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
        extras: None,
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
    Ok(commit_genesis(
        storage,
        spec,
        BlockCommit::default(),
        genesis_header(spec, root),
    )?)
}
