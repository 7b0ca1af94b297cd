//! [`NodeApi`]: the chain as the API sees it (storage, executor, pool, builder, batcher,
//! plugins) and the block resolution every namespace shares: tags and hashes to stored
//! blocks, the state a query reads, the parameters a call runs with.

use std::sync::Arc;

use alloy_consensus::{Transaction as _, transaction::Recovered};
use alloy_primitives::Address;
use alloy_rpc_types_eth::{BlockOverrides, BlockTransactions};
use ordo_builder::{Builder, SealedBlock};
use ordo_exec::{BlockParams, Executor, StateAt};
use ordo_pool::Pool;
use ordo_primitives::{
    BlockRecord,
    alloy_eips::{BlockId, BlockNumberOrTag},
};
use ordo_rpc::{BackendError, BackendResult, ChainEvent};
use ordo_storage::Storage;
use tokio::sync::broadcast;

use crate::{
    convert::{block_logs, rpc_header, rpc_receipt},
    errors::storage_err,
};

/// Most blocks one `eth_getLogs` may scan.
pub const MAX_LOG_RANGE: u64 = 10_000;
/// Default most logs one `eth_getLogs` returns (`[limits] max_log_results`).
pub const DEFAULT_MAX_LOG_RESULTS: usize = 10_000;

/// The node's implementation of the RPC backend.
pub struct NodeApi {
    pub(crate) storage: Storage,
    pub(crate) exec: Executor,
    pub(crate) pool: Arc<Pool>,
    pub(crate) builder: Arc<Builder>,
    pub(crate) events: broadcast::Sender<ChainEvent>,
    pub(crate) batcher: std::sync::OnceLock<Arc<ordo_batcher::Batcher>>,
    /// Transactions per sender (shared with the admin API, which changes the quota live).
    pub(crate) per_sender: Arc<ordo_rpc::RateLimiter<Address>>,
    /// The plugin host, for the public status (`ordo_nodeStatus`).
    pub(crate) plugins: std::sync::OnceLock<Arc<ordo_plugin_host::PluginManager>>,
    /// Most logs one `eth_getLogs` returns.
    pub(crate) max_log_results: std::sync::atomic::AtomicUsize,
    /// This node's replica of a group (`ordo_clusterStatus`); unset on a single node.
    pub(crate) cluster: std::sync::OnceLock<ordo_replica::Replica>,
    /// Where a follower's writes go.
    pub(crate) forwarder: crate::forward::Forwarder,
    /// What `ordo_rollupConfig` answers (the L1 chain id filled in once L1 answered).
    pub(crate) rollup: parking_lot::RwLock<crate::rollup::RollupConfig>,
    /// The fee oracle's last answer, by the head it was computed at.
    pub(crate) tip_oracle: parking_lot::Mutex<Option<(alloy_primitives::B256, u128)>>,
}

impl NodeApi {
    /// The per-sender transaction limiter.
    pub fn per_sender(&self) -> Arc<ordo_rpc::RateLimiter<Address>> {
        self.per_sender.clone()
    }

    /// On a follower: the leader's answer to `method(params)` from `searcher`, handed over
    /// the replication listeners (the searcher's signature was checked here). `None` on the
    /// leader and on a single node, which answer themselves. Blocking.
    pub(crate) fn forward_to_leader_listener(
        &self,
        method: &str,
        p: &ordo_rpc::Params<'_>,
        searcher: Option<alloy_primitives::Address>,
    ) -> Option<BackendResult<Box<serde_json::value::RawValue>>> {
        let replica = self.cluster.get()?;
        if replica.is_leader() {
            return None;
        }
        let answer = tokio::runtime::Handle::current().block_on(replica.forward(
            method,
            p.to_value(),
            searcher,
        ));
        Some(match answer {
            Ok(value) => ordo_rpc::json(&value),
            Err((code, message)) => Err(BackendError::new(code, message)),
        })
    }

    /// While the operator has halted the sequencer, writes are refused (reads go on).
    pub(crate) fn refuse_if_halted(&self) -> BackendResult<()> {
        match self.builder.halted() {
            Some(reason) => {
                metrics::counter!("ordo_tx_ingress_total", "result" => "rejected", "reason" => "halted")
                    .increment(1);
                Err(BackendError::tx(format!("sequencer halted: {reason}")))
            }
            None => Ok(()),
        }
    }
}

/// When the read running on this thread must stop (set by the RPC server's read pool).
pub(crate) fn call_deadline() -> Option<std::time::Instant> {
    ordo_rpc::CallDeadline::current().map(|d| d.at)
}

impl NodeApi {
    /// Answers `ordo_getBatch` / `ordo_txStatus` from `batcher` (set once, at launch).
    pub fn set_batcher(&self, batcher: Arc<ordo_batcher::Batcher>) {
        let _ = self.batcher.set(batcher);
    }

    /// Lets `ordo_nodeStatus` report the plugins.
    pub fn set_plugins(&self, plugins: Arc<ordo_plugin_host::PluginManager>) {
        let _ = self.plugins.set(plugins);
    }

    /// What `ordo_rollupConfig` answers from now on.
    pub fn set_rollup_config(&self, config: crate::rollup::RollupConfig) {
        *self.rollup.write() = config;
    }

    /// Records the L1's chain id for `ordo_rollupConfig` once L1 has told it.
    pub fn set_l1_chain_id(&self, id: u64) {
        self.rollup.write().l1_chain_id = Some(alloy_primitives::U64::from(id));
    }

    /// Makes this node answer as `replica` of its group.
    pub fn set_cluster(&self, replica: ordo_replica::Replica) {
        let _ = self.cluster.set(replica);
    }

    /// Caps the logs one `eth_getLogs` returns (0: no cap).
    pub fn set_max_log_results(&self, max: usize) {
        self.max_log_results
            .store(max, std::sync::atomic::Ordering::Relaxed);
    }
}

impl NodeApi {
    /// Wires the backend and starts forwarding builder and pool events to subscribers.
    pub fn new(
        storage: Storage,
        exec: Executor,
        pool: Arc<Pool>,
        builder: Arc<Builder>,
    ) -> Arc<Self> {
        let (events, _) = broadcast::channel(4096);
        let api = Arc::new(Self {
            storage,
            exec,
            pool,
            builder,
            events,
            batcher: std::sync::OnceLock::new(),
            per_sender: Arc::new(ordo_rpc::RateLimiter::new(ordo_rpc::Quota::UNLIMITED)),
            plugins: std::sync::OnceLock::new(),
            max_log_results: std::sync::atomic::AtomicUsize::new(DEFAULT_MAX_LOG_RESULTS),
            cluster: std::sync::OnceLock::new(),
            forwarder: Default::default(),
            rollup: Default::default(),
            tip_oracle: Default::default(),
        });
        let mut blocks = api.builder.subscribe();
        let weak = Arc::downgrade(&api);
        tokio::spawn(async move {
            loop {
                match blocks.recv().await {
                    Ok(sealed) => {
                        let Some(api) = weak.upgrade() else { break };
                        let event = api.block_event(&sealed);
                        let _ = api.events.send(event);
                    }
                    Err(broadcast::error::RecvError::Lagged(n)) => {
                        tracing::warn!(target: "ordo::rpc", n, "block event subscribers lagged");
                    }
                    Err(broadcast::error::RecvError::Closed) => break,
                }
            }
        });
        let mut pending = api.pool.subscribe();
        let weak = Arc::downgrade(&api);
        tokio::spawn(async move {
            loop {
                match pending.recv().await {
                    Ok(hash) => {
                        let Some(api) = weak.upgrade() else { break };
                        let _ = api.events.send(ChainEvent::PendingTx(hash));
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => break,
                }
            }
        });
        api
    }

    fn block_event(&self, sealed: &SealedBlock) -> ChainEvent {
        let header = rpc_header(&sealed.block);
        let logs = block_logs(&sealed.block, &sealed.receipts);
        ChainEvent::NewBlock {
            header: Arc::new(header),
            logs: logs.into(),
        }
    }

    pub(crate) fn head(&self) -> Arc<BlockRecord> {
        self.builder.head()
    }

    pub(crate) fn resolve_number(&self, id: BlockId) -> BackendResult<Option<u64>> {
        let head = self.head().number();
        Ok(match id {
            // A block still being stored has no hash yet, as far as readers know.
            BlockId::Hash(h) => self
                .storage
                .block_number(&h.block_hash)
                .map_err(storage_err)?
                .filter(|n| *n <= head),
            BlockId::Number(BlockNumberOrTag::Number(n)) => (n <= head).then_some(n),
            BlockId::Number(tag) => Some(self.resolve_tag(tag, head)),
        })
    }

    /// The block a tag names, given the head: `safe` and `finalized` are what L1 vouches
    /// for ([`ordo_batcher::Batcher::settled_heads`]: genesis until a batch confirms);
    /// `pending` has no separate block here, as on op-geth.
    pub(crate) fn resolve_tag(&self, tag: BlockNumberOrTag, head: u64) -> u64 {
        match tag {
            BlockNumberOrTag::Number(n) => n,
            BlockNumberOrTag::Earliest => 0,
            BlockNumberOrTag::Safe => self.settled_heads().0.min(head),
            BlockNumberOrTag::Finalized => self.settled_heads().1.min(head),
            BlockNumberOrTag::Latest | BlockNumberOrTag::Pending => head,
        }
    }

    /// `(safe, finalized)`: see [`Self::resolve_tag`].
    pub(crate) fn settled_heads(&self) -> (u64, u64) {
        if !self.exec.rules().op_fees {
            // An imported Ethereum chain is served as exported: every block is final.
            let head = self.head().number();
            return (head, head);
        }
        self.batcher.get().map_or((0, 0), |b| b.settled_heads())
    }

    pub(crate) fn block_record(&self, id: BlockId) -> BackendResult<Option<Arc<BlockRecord>>> {
        let Some(n) = self.resolve_number(id)? else {
            return Ok(None);
        };
        let head = self.head();
        if n == head.number() {
            return Ok(Some(head));
        }
        self.storage.shared_block(n).map_err(storage_err)
    }

    /// Which block a query names: `None` is the head (or `pending`), `Some(n)` an older
    /// block.
    fn requested_block(&self, id: BlockId) -> BackendResult<Option<u64>> {
        let head = self.head().number();
        if id == BlockId::Number(BlockNumberOrTag::Pending) {
            return Ok(None);
        }
        match self.resolve_number(id)? {
            None => Err(BackendError::tx("header not found")),
            Some(n) if n >= head => Ok(None),
            Some(n) => Ok(Some(n)),
        }
    }

    /// Which state a query reads: `Some(n)` the state after block `n`, `None` the state db
    /// as it is (the builder's tip, one block ahead of the head while that block is being
    /// stored: only `pending` reads it). The head's state is read from the state db while it
    /// is exactly the head's, else from the change sets ([`StateAt`]): nothing is served
    /// before it is durable.
    pub(crate) fn state_block(&self, id: BlockId) -> BackendResult<Option<u64>> {
        Ok(match self.requested_block(id)? {
            Some(n) => Some(n),
            None if id == BlockId::Number(BlockNumberOrTag::Pending) => None,
            None => Some(self.head().number()),
        })
    }

    /// The block after the head, sealed and still being stored, if it includes `hash`, and
    /// the transaction's index in it. Such a transaction has left the pool (the tip moves
    /// first) and is answered as pending until its block is the head.
    pub(crate) fn in_flight(
        &self,
        hash: &alloy_primitives::B256,
    ) -> Option<(Arc<BlockRecord>, usize)> {
        let tip = self.builder.tip();
        if tip.number() <= self.head().number() {
            return None;
        }
        let index = tip.tx_hashes.iter().position(|h| h == hash)?;
        Some((tip, index))
    }

    pub(crate) fn state_at(&self, id: BlockId) -> BackendResult<StateAt<'_>> {
        Ok(StateAt {
            state: self.exec.state(),
            block: self.state_block(id)?,
        })
    }

    pub(crate) fn call_params(
        &self,
        id: BlockId,
        overrides: Option<&BlockOverrides>,
    ) -> BackendResult<BlockParams> {
        let mut params = match self.requested_block(id)? {
            // A chain served read-only (an imported Ethereum chain) builds no next block: a
            // call runs in the head's context, as geth's `latest` does.
            None if !self.exec.rules().op_fees && id != BlockId::pending() => {
                BlockParams::of_block(&self.head().header, None)
            }
            // The next block's parameters, on the state `state_block` picks.
            None => BlockParams {
                state_block: self.state_block(id)?,
                ..self.builder.next_params()
            },
            Some(n) => {
                let block = self
                    .storage
                    .block(n)
                    .map_err(storage_err)?
                    .ok_or_else(|| BackendError::tx("header not found"))?;
                BlockParams::of_block(&block.header, Some(n))
            }
        };
        if let Some(o) = overrides {
            if let Some(n) = o.number {
                params.number = n.saturating_to();
            }
            if let Some(t) = o.time {
                params.timestamp = t;
            }
            if let Some(g) = o.gas_limit {
                params.gas_limit = g;
            }
            if let Some(c) = o.coinbase {
                params.beneficiary = c;
            }
            if let Some(b) = o.base_fee {
                params.base_fee = b.saturating_to();
            }
        }
        Ok(params)
    }

    pub(crate) fn rpc_tx(
        &self,
        block: &BlockRecord,
        index: usize,
    ) -> BackendResult<Option<ordo_rpc::RpcTransaction>> {
        let Some(raw) = block.transactions.get(index) else {
            return Ok(None);
        };
        let tx = crate::convert::decode_block_tx(raw)?;
        // A deposit pays nothing: OP nodes answer a gas price of zero for it.
        let effective = tx.effective_gas_price(block.header.base_fee_per_gas);
        // A deposit's nonce and receipt version are in its receipt (none yet for a block
        // still being stored).
        let deposit = if tx.is_deposit() {
            self.storage
                .receipts(block.number())
                .map_err(storage_err)?
                .and_then(|r| r.get(index).map(|r| r.receipt.clone()))
        } else {
            None
        };
        Ok(Some(ordo_rpc::RpcTransaction {
            inner: alloy_rpc_types_eth::Transaction {
                inner: Recovered::new_unchecked(tx, block.senders[index]),
                block_hash: Some(block.hash),
                block_number: Some(block.number()),
                transaction_index: Some(index as u64),
                effective_gas_price: Some(effective),
                block_timestamp: Some(block.header.timestamp),
            },
            deposit_nonce: deposit.as_ref().and_then(|r| r.deposit_nonce()),
            deposit_receipt_version: deposit.as_ref().and_then(|r| r.deposit_receipt_version()),
        }))
    }

    pub(crate) fn rpc_receipts(
        &self,
        block: &BlockRecord,
    ) -> BackendResult<Vec<ordo_rpc::RpcReceipt>> {
        let receipts = self
            .storage
            .receipts(block.number())
            .map_err(storage_err)?
            .unwrap_or_default();
        let blob_gas_price = self.blob_gas_price(block);
        receipts
            .iter()
            .enumerate()
            .map(|(i, r)| rpc_receipt(block, i, r, blob_gas_price))
            .collect()
    }

    /// What a blob's gas cost in `block` (from Cancun on a chain that carries blobs).
    pub(crate) fn blob_gas_price(&self, block: &BlockRecord) -> Option<u128> {
        let rules = self.exec.rules();
        if rules.op_fees {
            return None;
        }
        let params = rules.blob_params_at(block.header.timestamp)?;
        Some(params.calc_blob_fee(block.header.excess_blob_gas?))
    }

    pub(crate) fn full_block(
        &self,
        block: &BlockRecord,
        full: bool,
    ) -> BackendResult<ordo_rpc::RpcBlock> {
        let transactions = if full {
            let txs = (0..block.transactions.len())
                .filter_map(|i| self.rpc_tx(block, i).transpose())
                .collect::<BackendResult<Vec<_>>>()?;
            BlockTransactions::Full(txs)
        } else {
            BlockTransactions::Hashes(block.tx_hashes.clone())
        };
        Ok(ordo_rpc::RpcBlock {
            header: rpc_header(block),
            uncles: block.ommers().iter().map(|h| h.hash_slow()).collect(),
            transactions,
            withdrawals: block.withdrawals(),
        })
    }
}
