//! [`NodeApi`]: the RPC backend over the real storage, executor, pool and builder. This is
//! where stored records become the JSON shapes geth returns.

use std::sync::Arc;

use alloy_consensus::{Transaction as _, TxEnvelope, transaction::Recovered};
use alloy_primitives::{Address, B256, Bytes, U64, U256, keccak256};
use alloy_rpc_types_eth::{
    AccessListResult, Block, BlockOverrides, BlockTransactions, FeeHistory, Filter,
    FilterBlockOption, Header, Log, Transaction, TransactionReceipt, TransactionRequest,
    state::StateOverride,
};
use ordo_builder::{Builder, SealedBlock};
use ordo_exec::{BlockParams, ExecError, Executor, StateAt};
use ordo_pool::{Pool, PoolError};
use ordo_primitives::{
    BlockRecord, ReceiptRecord,
    alloy_eips::{BlockId, BlockNumberOrTag, eip2718::Decodable2718},
    alloy_rlp::Encodable,
};
use ordo_rpc::{BackendError, BackendResult, ChainEvent, EthBackend, SendTxFuture};
use ordo_storage::{Storage, StorageError};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use tokio::sync::broadcast;

mod batches;
mod mev;

/// Most blocks one `eth_getLogs` may scan.
pub const MAX_LOG_RANGE: u64 = 10_000;
/// Default most logs one `eth_getLogs` returns (`[limits] max_log_results`).
pub const DEFAULT_MAX_LOG_RESULTS: usize = 10_000;
/// The tip `eth_maxPriorityFeePerGas` suggests when recent blocks say nothing (1 gwei).
pub const DEFAULT_SUGGESTED_TIP: u128 = 1_000_000_000;

/// The node's implementation of the RPC backend.
pub struct NodeApi {
    storage: Storage,
    exec: Executor,
    pool: Arc<Pool>,
    builder: Arc<Builder>,
    events: broadcast::Sender<ChainEvent>,
    batcher: std::sync::OnceLock<Arc<ordo_batcher::Batcher>>,
    /// Transactions per sender (shared with the admin API, which changes the quota live).
    per_sender: Arc<ordo_rpc::RateLimiter<Address>>,
    /// The plugin host, for the public status (`ordo_nodeStatus`).
    plugins: std::sync::OnceLock<Arc<ordo_plugin_host::PluginManager>>,
    /// Most logs one `eth_getLogs` returns.
    max_log_results: std::sync::atomic::AtomicUsize,
}

impl NodeApi {
    /// The per-sender transaction limiter.
    pub fn per_sender(&self) -> Arc<ordo_rpc::RateLimiter<Address>> {
        self.per_sender.clone()
    }

    /// While the operator has halted the sequencer, writes are refused (reads go on).
    fn refuse_if_halted(&self) -> BackendResult<()> {
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

fn storage_err(e: StorageError) -> BackendError {
    tracing::error!(target: "ordo::rpc", %e, "storage read failed");
    BackendError::internal("internal storage error")
}

fn exec_err(e: ExecError) -> BackendError {
    match e {
        ExecError::Reverted { data, reason } => BackendError::reverted(data, reason),
        ExecError::State(e) => {
            tracing::error!(target: "ordo::rpc", %e, "state read failed");
            BackendError::internal("internal state error")
        }
        ExecError::InvalidParams(m) => BackendError::invalid_params(m),
        // The read pool set the deadline that stopped it; its error names the timeout.
        ExecError::TimedOut => ordo_rpc::CallDeadline::current().map_or_else(
            || BackendError::tx("execution aborted (timeout)"),
            |d| d.error(),
        ),
        other => BackendError::tx(other.to_string()),
    }
}

/// When the read running on this thread must stop (set by the RPC server's read pool).
fn call_deadline() -> Option<std::time::Instant> {
    ordo_rpc::CallDeadline::current().map(|d| d.at)
}

/// The positional params of a call (absent: none).
fn positional(params: Option<&RawValue>) -> BackendResult<Vec<&RawValue>> {
    match params {
        Some(raw) => serde_json::from_str(raw.get())
            .map_err(|e| BackendError::invalid_params(format!("invalid params: {e}"))),
        None => Ok(vec![]),
    }
}

/// The one argument `method` takes, decoded.
fn single<T: serde::de::DeserializeOwned>(
    method: &str,
    params: Option<&RawValue>,
) -> BackendResult<T> {
    match positional(params)?.as_slice() {
        [one] => serde_json::from_str(one.get())
            .map_err(|e| BackendError::invalid_params(format!("invalid argument 0: {e}"))),
        args => Err(BackendError::invalid_params(format!(
            "{method} takes 1 argument, got {}",
            args.len()
        ))),
    }
}

/// An optional single argument, decoded (`None` when absent or null).
fn optional<T: serde::de::DeserializeOwned>(params: Option<&RawValue>) -> BackendResult<Option<T>> {
    match positional(params)?.as_slice() {
        [] => Ok(None),
        [one] => serde_json::from_str(one.get())
            .map_err(|e| BackendError::invalid_params(format!("invalid argument 0: {e}"))),
        args => Err(BackendError::invalid_params(format!(
            "too many arguments, want at most 1, got {}",
            args.len()
        ))),
    }
}

/// A result as raw JSON.
fn to_raw<T: Serialize>(value: &T) -> BackendResult<Box<RawValue>> {
    serde_json::value::to_raw_value(value)
        .map_err(|e| BackendError::internal(format!("serializing: {e}")))
}

fn decode_tx(raw: &Bytes) -> BackendResult<TxEnvelope> {
    let mut buf = raw.as_ref();
    TxEnvelope::decode_2718(&mut buf).map_err(|_| BackendError::internal("corrupt stored tx"))
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

    fn head(&self) -> Arc<BlockRecord> {
        self.builder.head()
    }

    fn resolve_number(&self, id: BlockId) -> BackendResult<Option<u64>> {
        let head = self.head().number();
        Ok(match id {
            BlockId::Hash(h) => self
                .storage
                .block_number(&h.block_hash)
                .map_err(storage_err)?,
            BlockId::Number(tag) => match tag {
                BlockNumberOrTag::Number(n) => (n <= head).then_some(n),
                BlockNumberOrTag::Earliest => Some(0),
                // Blocks are final once sealed on a single sequencer; `pending` has no
                // separate block here, as on op-geth.
                _ => Some(head),
            },
        })
    }

    fn block_record(&self, id: BlockId) -> BackendResult<Option<Arc<BlockRecord>>> {
        let Some(n) = self.resolve_number(id)? else {
            return Ok(None);
        };
        let head = self.head();
        if n == head.number() {
            return Ok(Some(head));
        }
        Ok(self.storage.block(n).map_err(storage_err)?.map(Arc::new))
    }

    /// Which state a query reads: `None` is the head, `Some(n)` an older block (answered
    /// from the change sets).
    fn state_block(&self, id: BlockId) -> BackendResult<Option<u64>> {
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

    fn state_at(&self, id: BlockId) -> BackendResult<StateAt<'_>> {
        Ok(StateAt {
            state: self.exec.state(),
            block: self.state_block(id)?,
        })
    }

    fn call_params(
        &self,
        id: BlockId,
        overrides: Option<&BlockOverrides>,
    ) -> BackendResult<BlockParams> {
        let mut params = match self.state_block(id)? {
            None => self.builder.next_params(),
            Some(n) => {
                let block = self
                    .storage
                    .block(n)
                    .map_err(storage_err)?
                    .ok_or_else(|| BackendError::tx("header not found"))?;
                let h = &block.header;
                BlockParams {
                    number: h.number,
                    timestamp: h.timestamp,
                    beneficiary: h.beneficiary,
                    gas_limit: h.gas_limit,
                    base_fee: h.base_fee_per_gas.unwrap_or_default(),
                    extra_data: h.extra_data.clone(),
                    state_block: Some(n),
                }
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

    fn rpc_tx(&self, block: &BlockRecord, index: usize) -> BackendResult<Option<Transaction>> {
        let Some(raw) = block.transactions.get(index) else {
            return Ok(None);
        };
        let tx = decode_tx(raw)?;
        let effective = tx.effective_gas_price(block.header.base_fee_per_gas);
        Ok(Some(Transaction {
            inner: Recovered::new_unchecked(tx, block.senders[index]),
            block_hash: Some(block.hash),
            block_number: Some(block.number()),
            transaction_index: Some(index as u64),
            effective_gas_price: Some(effective),
            block_timestamp: Some(block.header.timestamp),
        }))
    }

    fn rpc_receipts(&self, block: &BlockRecord) -> BackendResult<Vec<TransactionReceipt>> {
        let receipts = self
            .storage
            .receipts(block.number())
            .map_err(storage_err)?
            .unwrap_or_default();
        receipts
            .iter()
            .enumerate()
            .map(|(i, r)| rpc_receipt(block, i, r))
            .collect()
    }

    fn full_block(&self, block: &BlockRecord, full: bool) -> BackendResult<Block> {
        let transactions = if full {
            let txs = (0..block.transactions.len())
                .filter_map(|i| self.rpc_tx(block, i).transpose())
                .collect::<BackendResult<Vec<_>>>()?;
            BlockTransactions::Full(txs)
        } else {
            BlockTransactions::Hashes(block.tx_hashes.clone())
        };
        Ok(Block {
            header: rpc_header(block),
            uncles: vec![],
            transactions,
            withdrawals: Some(Default::default()),
        })
    }

    fn suggested_tip(&self) -> u128 {
        DEFAULT_SUGGESTED_TIP
    }
}

/// The RPC header of a stored block (with hash and size).
pub fn rpc_header(block: &BlockRecord) -> Header {
    let txs_len: usize = block.transactions.iter().map(|t| t.len()).sum();
    let size = block.header.length() + txs_len + 8;
    Header {
        hash: block.hash,
        inner: block.header.clone(),
        total_difficulty: Some(U256::ZERO),
        size: Some(U256::from(size)),
    }
}

/// The RPC logs of one receipt, with block, transaction and log indices filled in.
fn receipt_logs(block: &BlockRecord, index: usize, r: &ReceiptRecord) -> Vec<Log> {
    r.receipt
        .logs()
        .iter()
        .enumerate()
        .map(|(j, log)| Log {
            inner: log.clone(),
            block_hash: Some(block.hash),
            block_number: Some(block.number()),
            block_timestamp: Some(block.header.timestamp),
            transaction_hash: block.tx_hashes.get(index).copied(),
            transaction_index: Some(index as u64),
            log_index: Some(r.first_log_index + j as u64),
            removed: false,
        })
        .collect()
}

fn block_logs(block: &BlockRecord, receipts: &[ReceiptRecord]) -> Vec<Log> {
    receipts
        .iter()
        .enumerate()
        .flat_map(|(i, r)| receipt_logs(block, i, r))
        .collect()
}

fn rpc_receipt(
    block: &BlockRecord,
    index: usize,
    r: &ReceiptRecord,
) -> BackendResult<TransactionReceipt> {
    let raw = block
        .transactions
        .get(index)
        .ok_or_else(|| BackendError::internal("receipt without tx"))?;
    let tx = decode_tx(raw)?;
    let tx_hash = block.tx_hashes[index];
    let logs = receipt_logs(block, index, r);
    let mut logs_iter = logs.into_iter();
    let inner = r
        .receipt
        .clone()
        .map_logs(|_| logs_iter.next().unwrap_or_default());
    Ok(TransactionReceipt {
        inner,
        transaction_hash: tx_hash,
        transaction_index: Some(index as u64),
        block_hash: Some(block.hash),
        block_number: Some(block.number()),
        gas_used: r.gas_used,
        effective_gas_price: r.effective_gas_price,
        blob_gas_used: None,
        blob_gas_price: None,
        from: block.senders[index],
        to: tx.to(),
        contract_address: (r.contract_address != Address::ZERO).then_some(r.contract_address),
    })
}

impl EthBackend for NodeApi {
    fn chain_id(&self) -> u64 {
        self.exec.chain_id()
    }

    fn head_number(&self) -> u64 {
        self.head().number()
    }

    fn block(&self, id: BlockId, full_txs: bool) -> BackendResult<Option<Block>> {
        match self.block_record(id)? {
            Some(b) => Ok(Some(self.full_block(&b, full_txs)?)),
            None => Ok(None),
        }
    }

    fn block_receipts(&self, id: BlockId) -> BackendResult<Option<Vec<TransactionReceipt>>> {
        match self.block_record(id)? {
            Some(b) => Ok(Some(self.rpc_receipts(&b)?)),
            None => Ok(None),
        }
    }

    fn block_tx_count(&self, id: BlockId) -> BackendResult<Option<u64>> {
        Ok(self.block_record(id)?.map(|b| b.transactions.len() as u64))
    }

    fn transaction_by_hash(&self, hash: B256) -> BackendResult<Option<Transaction>> {
        if let Some(loc) = self.storage.tx_location(&hash).map_err(storage_err)? {
            let Some(block) = self.block_record(BlockId::number(loc.block))? else {
                return Ok(None);
            };
            return self.rpc_tx(&block, loc.index as usize);
        }
        Ok(self.pool.get(&hash).map(|p| Transaction {
            inner: Recovered::new_unchecked(p.tx.clone(), p.sender),
            block_hash: None,
            block_number: None,
            transaction_index: None,
            effective_gas_price: None,
            block_timestamp: None,
        }))
    }

    fn transaction_by_block_and_index(
        &self,
        id: BlockId,
        index: u64,
    ) -> BackendResult<Option<Transaction>> {
        match self.block_record(id)? {
            Some(b) => self.rpc_tx(&b, index as usize),
            None => Ok(None),
        }
    }

    fn receipt(&self, hash: B256) -> BackendResult<Option<TransactionReceipt>> {
        let Some(loc) = self.storage.tx_location(&hash).map_err(storage_err)? else {
            return Ok(None);
        };
        let Some(block) = self.block_record(BlockId::number(loc.block))? else {
            return Ok(None);
        };
        let receipts = self
            .storage
            .receipts(loc.block)
            .map_err(storage_err)?
            .unwrap_or_default();
        match receipts.get(loc.index as usize) {
            Some(r) => Ok(Some(rpc_receipt(&block, loc.index as usize, r)?)),
            None => Ok(None),
        }
    }

    fn balance(&self, address: Address, at: BlockId) -> BackendResult<U256> {
        let state = self.state_at(at)?;
        Ok(state
            .account(&address)
            .map_err(|e| exec_err(e.into()))?
            .map(|a| a.balance)
            .unwrap_or_default())
    }

    fn transaction_count(&self, address: Address, at: BlockId) -> BackendResult<u64> {
        if at == BlockId::Number(BlockNumberOrTag::Pending) {
            return Ok(self.pool.pending_nonce(&address));
        }
        let state = self.state_at(at)?;
        Ok(state
            .account(&address)
            .map_err(|e| exec_err(e.into()))?
            .map(|a| a.nonce)
            .unwrap_or_default())
    }

    fn code(&self, address: Address, at: BlockId) -> BackendResult<Bytes> {
        self.state_at(at)?
            .code(&address)
            .map_err(|e| exec_err(e.into()))
    }

    fn storage_at(&self, address: Address, slot: U256, at: BlockId) -> BackendResult<B256> {
        let value = self
            .state_at(at)?
            .slot(&address, &B256::from(slot))
            .map_err(|e| exec_err(e.into()))?;
        Ok(B256::from(value))
    }

    fn call(
        &self,
        request: TransactionRequest,
        at: BlockId,
        state: Option<StateOverride>,
        block: Option<BlockOverrides>,
    ) -> BackendResult<Bytes> {
        let params = self.call_params(at, block.as_ref())?;
        self.exec
            .call(&params, &request, state.as_ref(), call_deadline())
            .map(|o| o.output)
            .map_err(exec_err)
    }

    fn estimate_gas(
        &self,
        request: TransactionRequest,
        at: BlockId,
        state: Option<StateOverride>,
        block: Option<BlockOverrides>,
    ) -> BackendResult<u64> {
        let params = self.call_params(at, block.as_ref())?;
        self.exec
            .estimate_gas(&params, &request, state.as_ref(), call_deadline())
            .map_err(exec_err)
    }

    fn create_access_list(
        &self,
        request: TransactionRequest,
        at: BlockId,
    ) -> BackendResult<AccessListResult> {
        let params = self.call_params(at, None)?;
        let (access_list, gas_used, error) = self
            .exec
            .create_access_list(&params, &request, call_deadline())
            .map_err(exec_err)?;
        Ok(AccessListResult {
            access_list,
            gas_used: U256::from(gas_used),
            error,
        })
    }

    fn gas_price(&self) -> BackendResult<u128> {
        Ok(self.builder.next_params().base_fee as u128 + self.suggested_tip())
    }

    fn max_priority_fee_per_gas(&self) -> BackendResult<u128> {
        Ok(self.suggested_tip())
    }

    fn fee_history(
        &self,
        block_count: u64,
        newest: BlockNumberOrTag,
        reward_percentiles: Option<Vec<f64>>,
    ) -> BackendResult<FeeHistory> {
        let newest = self
            .resolve_number(BlockId::Number(newest))?
            .ok_or_else(|| BackendError::tx("header not found"))?;
        let count = block_count.max(1).min(newest + 1);
        let oldest = newest + 1 - count;
        let mut base_fee_per_gas = Vec::with_capacity(count as usize + 1);
        let mut gas_used_ratio = Vec::with_capacity(count as usize);
        let mut rewards = Vec::new();
        for n in oldest..=newest {
            let Some(block) = self.storage.block(n).map_err(storage_err)? else {
                break;
            };
            let base_fee = block.header.base_fee_per_gas.unwrap_or_default();
            base_fee_per_gas.push(base_fee as u128);
            gas_used_ratio
                .push(block.header.gas_used as f64 / block.header.gas_limit.max(1) as f64);
            if let Some(percentiles) = &reward_percentiles {
                let receipts = self
                    .storage
                    .receipts(n)
                    .map_err(storage_err)?
                    .unwrap_or_default();
                let mut tips: Vec<(u128, u64)> = block
                    .transactions
                    .iter()
                    .zip(&receipts)
                    .filter_map(|(raw, r)| {
                        let tx = decode_tx(raw).ok()?;
                        Some((
                            tx.effective_tip_per_gas(base_fee).unwrap_or_default(),
                            r.gas_used,
                        ))
                    })
                    .collect();
                tips.sort_unstable();
                let total: u64 = tips.iter().map(|t| t.1).sum();
                let row = percentiles
                    .iter()
                    .map(|p| {
                        if tips.is_empty() {
                            return 0;
                        }
                        let threshold = (total as f64 * p / 100.0) as u64;
                        let mut acc = 0u64;
                        for (tip, gas) in &tips {
                            acc += gas;
                            if acc >= threshold {
                                return *tip;
                            }
                        }
                        tips.last().map(|t| t.0).unwrap_or_default()
                    })
                    .collect();
                rewards.push(row);
            }
        }
        // The base fee of the block after `newest`.
        let next = if newest == self.head().number() {
            self.builder.next_params().base_fee as u128
        } else {
            self.storage
                .block(newest + 1)
                .map_err(storage_err)?
                .and_then(|b| b.header.base_fee_per_gas)
                .unwrap_or_default() as u128
        };
        base_fee_per_gas.push(next);
        let n = gas_used_ratio.len();
        Ok(FeeHistory {
            base_fee_per_gas,
            gas_used_ratio,
            base_fee_per_blob_gas: vec![0; n + 1],
            blob_gas_used_ratio: vec![0.0; n],
            oldest_block: oldest,
            reward: reward_percentiles.map(|_| rewards),
        })
    }

    fn send_raw_transaction(&self, raw: Bytes) -> SendTxFuture<'_> {
        Box::pin(async move {
            self.refuse_if_halted()?;
            // Signature recovery is the CPU-heavy step; keep it off the reactor threads, and
            // off tokio's blocking pool, which other work can fill: rayon's threads run
            // only ingress decoding and the pool's parallel account reads.
            let (tx, rx) = tokio::sync::oneshot::channel();
            rayon::spawn(move || {
                let _ = tx.send(ordo_primitives::decode_raw_tx(&raw));
            });
            let decoded = rx
                .await
                .map_err(|_| BackendError::internal("decoder task failed"))?;
            let refused = |reason: &'static str| {
                metrics::counter!("ordo_tx_ingress_total", "result" => "rejected", "reason" => reason)
                    .increment(1);
            };
            let tx = decoded.map_err(|e| {
                refused("decode");
                BackendError::tx(e.to_string())
            })?;
            let span = tracing::debug_span!("tx", hash = %tx.hash, sender = %tx.sender);
            let sender = tx.sender;
            if !self.per_sender.check(&tx.sender) {
                refused("rate_limited");
                return Err(BackendError::limit_exceeded("rate limit exceeded"));
            }
            match tracing::Instrument::instrument(self.pool.submit(tx), span).await {
                Ok(hash) => {
                    metrics::counter!("ordo_tx_ingress_total", "result" => "accepted", "reason" => "")
                        .increment(1);
                    Ok(hash)
                }
                Err(e) => {
                    // Only accepted transactions count against the sender: anyone can
                    // replay a sender's old transactions, which the pool refuses.
                    self.per_sender.refund(&sender);
                    refused(e.label());
                    Err(pool_err(e))
                }
            }
        })
    }

    fn logs(&self, filter: &Filter) -> BackendResult<Vec<Log>> {
        let head = self.head().number();
        let (from, to) = match filter.block_option {
            FilterBlockOption::AtBlockHash(hash) => {
                let n = self
                    .storage
                    .block_number(&hash)
                    .map_err(storage_err)?
                    .ok_or_else(|| BackendError::resource_not_found("unknown block"))?;
                (n, n)
            }
            FilterBlockOption::Range {
                from_block,
                to_block,
            } => {
                let resolve = |tag: Option<BlockNumberOrTag>| -> u64 {
                    match tag {
                        Some(BlockNumberOrTag::Number(n)) => n,
                        Some(BlockNumberOrTag::Earliest) => 0,
                        _ => head,
                    }
                };
                (resolve(from_block), resolve(to_block).min(head))
            }
        };
        if from > to {
            return Ok(vec![]);
        }
        if to - from >= MAX_LOG_RANGE {
            return Err(BackendError::limit_exceeded(format!(
                "query exceeds max block range {MAX_LOG_RANGE}"
            )));
        }
        let max = match self
            .max_log_results
            .load(std::sync::atomic::Ordering::Relaxed)
        {
            0 => usize::MAX,
            max => max,
        };
        let mut out = Vec::new();
        for n in from..=to {
            let Some(block) = self.storage.block(n).map_err(storage_err)? else {
                continue;
            };
            if !filter.matches_bloom(block.header.logs_bloom) {
                continue;
            }
            let receipts = self
                .storage
                .receipts(n)
                .map_err(storage_err)?
                .unwrap_or_default();
            out.extend(
                block_logs(&block, &receipts)
                    .into_iter()
                    .filter(|l| filter.matches(&l.inner)),
            );
            // Stop collecting as soon as the answer is too big: the client must narrow the
            // range (the message is the one Infura and reth clients already handle).
            if out.len() > max {
                return Err(BackendError::limit_exceeded(format!(
                    "query returned more than {max} results"
                )));
            }
        }
        Ok(out)
    }

    fn subscribe(&self) -> broadcast::Receiver<ChainEvent> {
        self.events.subscribe()
    }

    fn extension(
        &self,
        method: &str,
        params: Option<&RawValue>,
    ) -> Option<BackendResult<Box<RawValue>>> {
        self.extension_as(method, params, None)
    }

    fn heavy_extension(&self, method: &str) -> bool {
        // Runs up to a block's worth of gas: a read-pool job with its budget.
        method == "eth_callBundle"
    }

    fn extension_as(
        &self,
        method: &str,
        params: Option<&RawValue>,
        searcher: Option<Address>,
    ) -> Option<BackendResult<Box<RawValue>>> {
        match method {
            "ordo_getBlockProvenance" => Some(self.block_provenance(params)),
            "ordo_searcherStats" => Some(self.searcher_stats(params)),
            "ordo_getBatch" => Some(self.get_batch(params)),
            "ordo_txStatus" => Some(self.tx_status(params)),
            "ordo_nodeStatus" => Some(self.node_status()),
            "txpool_status" => Some(self.txpool_status()),
            "eth_callBundle" => Some(self.call_bundle(params)),
            "eth_sendBundle" => Some(self.send_bundle(params, searcher)),
            "eth_cancelBundle" => Some(self.cancel_bundle(params, searcher)),
            _ => None,
        }
    }
}

impl NodeApi {
    /// geth's `txpool_status`: pending and queued counts as hex quantities.
    fn txpool_status(&self) -> BackendResult<Box<RawValue>> {
        let s = self.pool.status();
        let v = serde_json::json!({
            "pending": U64::from(s.pending as u64),
            "queued": U64::from(s.queued as u64),
        });
        serde_json::value::to_raw_value(&v).map_err(|e| BackendError::internal(e.to_string()))
    }

    /// `ordo_nodeStatus`: the public, read-only snapshot the dashboard shows (no secrets,
    /// no operator controls): head, mempool, recent batches, plugins with their health,
    /// searchers, halted or not.
    fn node_status(&self) -> BackendResult<Box<RawValue>> {
        let head = self.builder.head();
        let pool = self.pool.status();
        let batches: Vec<serde_json::Value> = self
            .batcher
            .get()
            .map(|b| {
                b.recent(10)
                    .iter()
                    .rev()
                    .map(|s| {
                        let (status, l1_tx, l1_block, finalized) = match &s.status {
                            ordo_batcher::BatchStatus::Built => ("built", None, None, false),
                            ordo_batcher::BatchStatus::Submitted { tx_hash, .. } => {
                                ("submitted", Some(*tx_hash), None, false)
                            }
                            ordo_batcher::BatchStatus::Confirmed {
                                tx_hash,
                                l1_block,
                                finalized,
                                ..
                            } => ("confirmed", Some(*tx_hash), Some(*l1_block), *finalized),
                        };
                        serde_json::json!({
                            "index": s.index,
                            "firstBlock": s.first_block,
                            "lastBlock": s.last_block,
                            "status": status,
                            "l1TxHash": l1_tx,
                            "l1Block": l1_block,
                            "l1Finalized": finalized,
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        let plugins = self.plugins.get().map(|m| {
            let r = m.list();
            serde_json::json!({
                "active": r.active,
                "activeSearchers": r.active_searchers,
                "loaded": r.loaded.iter().map(|p| serde_json::json!({
                    "name": p.info.name,
                    "kind": p.info.kind,
                    "version": p.info.version,
                    "active": p.active,
                    "health": p.health,
                })).collect::<Vec<_>>(),
                "shadow": r.shadow,
            })
        });
        let searchers: serde_json::Map<String, serde_json::Value> = self
            .builder
            .searcher_ledger()
            .snapshot()
            .into_iter()
            .map(|(who, s)| {
                (
                    who,
                    serde_json::json!({
                        "proposed": s.proposed,
                        "landed": s.landed,
                        "dropped": s.dropped,
                        "paidWei": s.paid.to_string(),
                    }),
                )
            })
            .collect();
        let v = serde_json::json!({
            "head": {
                "number": head.number(),
                "hash": head.hash,
                "timestamp": head.header.timestamp,
            },
            "halted": self.builder.halted().is_some(),
            "mempool": { "pending": pool.pending, "queued": pool.queued },
            "batches": batches,
            "plugins": plugins,
            "searchers": searchers,
        });
        serde_json::value::to_raw_value(&v).map_err(|e| BackendError::internal(e.to_string()))
    }
}

/// `ordo_getBlockProvenance`: which policy ordered a block.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ProvenanceView {
    block_number: U64,
    block_hash: B256,
    /// The policy that ordered the block (a plugin's name, or the native policy's).
    policy: String,
    version: String,
    /// Content hash of the ordering plugin; null when a native policy ordered the block.
    code_hash: Option<B256>,
    /// True when the chosen plugin failed and the native fallback ordered this block.
    fallback: bool,
    /// Why the fallback ran.
    fallback_reason: Option<String>,
    /// The sequencer's signature over the block (see `keys::block_signing_hash`).
    signature: Option<Bytes>,
    /// The address that signature recovers to.
    signer: Option<Address>,
}

impl NodeApi {
    fn block_provenance(&self, params: Option<&RawValue>) -> BackendResult<Box<RawValue>> {
        let id = optional::<BlockId>(params)?.unwrap_or_default();
        let view = self.block_record(id)?.map(|b| {
            let p = &b.provenance;
            ProvenanceView {
                block_number: U64::from(b.number()),
                block_hash: b.hash,
                policy: p.policy.clone(),
                version: p.version.clone(),
                code_hash: (!p.code_hash.is_zero()).then_some(p.code_hash),
                fallback: !p.fallback_reason.is_empty(),
                fallback_reason: (!p.fallback_reason.is_empty()).then(|| p.fallback_reason.clone()),
                signature: p.signature.clone(),
                signer: p
                    .signature
                    .as_ref()
                    .and_then(|s| crate::keys::block_signer(self.exec.chain_id(), b.hash, s)),
            }
        });
        serde_json::value::to_raw_value(&view)
            .map_err(|e| BackendError::internal(format!("serializing provenance: {e}")))
    }
}

/// `eth_callBundle` request (Flashbots): signed transactions simulated in order on top of
/// `stateBlockNumber`, as block `blockNumber`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CallBundleArgs {
    /// Raw signed transactions (EIP-2718 hex).
    txs: Vec<String>,
    /// The number of the simulated block.
    block_number: U64,
    /// The state to simulate on (default `latest`).
    #[serde(default)]
    state_block_number: Option<BlockNumberOrTag>,
    /// The simulated block's timestamp (default: the state block's + 1).
    #[serde(default)]
    timestamp: Option<u64>,
}

/// One transaction's result in an `eth_callBundle` answer (Flashbots' field names).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct BundleTxView {
    tx_hash: B256,
    gas_used: u64,
    /// Coinbase difference per gas (decimal wei).
    gas_price: String,
    /// Gas used × effective priority fee (decimal wei).
    gas_fees: String,
    from_address: Address,
    to_address: Option<Address>,
    coinbase_diff: String,
    eth_sent_to_coinbase: String,
    /// Return data; only on success, as on Flashbots.
    #[serde(skip_serializing_if = "Option::is_none")]
    value: Option<Bytes>,
    /// Revert data, on revert.
    #[serde(skip_serializing_if = "Option::is_none")]
    revert: Option<Bytes>,
    /// Why the transaction failed (`execution reverted`, or the halt reason).
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// The `eth_callBundle` answer.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct BundleView {
    bundle_gas_price: String,
    bundle_hash: B256,
    coinbase_diff: String,
    eth_sent_to_coinbase: String,
    gas_fees: String,
    results: Vec<BundleTxView>,
    state_block_number: u64,
    total_gas_used: u64,
}

impl NodeApi {
    fn call_bundle(&self, params: Option<&RawValue>) -> BackendResult<Box<RawValue>> {
        let args: CallBundleArgs = single("eth_callBundle", params)?;
        if args.txs.is_empty() {
            return Err(BackendError::invalid_params("bundle missing txs"));
        }
        // eth_sendBundle's bounds, checked before any signature is recovered.
        mev::check_bundle_size(&args.txs)?;
        // Pre-EIP-155 transactions simulate (as geth's callBundle does); they are refused by
        // eth_sendBundle.
        let txs = mev::decode_bundle_txs(&args.txs, self.exec.chain_id(), false)?;

        let id = BlockId::Number(args.state_block_number.unwrap_or(BlockNumberOrTag::Latest));
        let state_block = self.state_block(id)?;
        let parent = match state_block {
            None => self.head(),
            Some(n) => Arc::new(
                self.storage
                    .block(n)
                    .map_err(storage_err)?
                    .ok_or_else(|| BackendError::tx("header not found"))?,
            ),
        };
        let cfg = self.builder.params();
        let h = &parent.header;
        let params = BlockParams {
            number: args.block_number.to(),
            timestamp: args
                .timestamp
                .unwrap_or_else(|| h.timestamp.saturating_add(1)),
            beneficiary: cfg.coinbase,
            gas_limit: cfg.gas_limit,
            base_fee: ordo_primitives::next_base_fee(
                h.gas_used,
                h.gas_limit,
                h.base_fee_per_gas.unwrap_or(cfg.min_base_fee),
                cfg.base_fee_params,
                cfg.min_base_fee,
            ),
            extra_data: cfg.extra_data.clone(),
            state_block,
        };
        let out = self
            .exec
            .simulate_bundle(&params, keccak256(parent.hash), &txs)
            .map_err(exec_err)?;

        let mut hashes = Vec::with_capacity(out.results.len() * 32);
        for r in &out.results {
            hashes.extend_from_slice(r.hash.as_slice());
        }
        let results = out
            .results
            .iter()
            .map(|r| BundleTxView {
                tx_hash: r.hash,
                gas_used: r.gas_used,
                gas_price: (r.coinbase_diff / U256::from(r.gas_used.max(1))).to_string(),
                gas_fees: r.gas_fees.to_string(),
                from_address: r.from,
                to_address: r.to,
                coinbase_diff: r.coinbase_diff.to_string(),
                eth_sent_to_coinbase: r.eth_sent_to_coinbase().to_string(),
                value: r.error.is_none().then(|| r.output.clone()),
                revert: r.reverted.then(|| r.output.clone()),
                error: r.error.clone(),
            })
            .collect();
        let view = BundleView {
            bundle_gas_price: out.bundle_gas_price().to_string(),
            bundle_hash: keccak256(&hashes),
            coinbase_diff: out.coinbase_diff.to_string(),
            eth_sent_to_coinbase: out.eth_sent_to_coinbase().to_string(),
            gas_fees: out.gas_fees.to_string(),
            results,
            state_block_number: parent.number(),
            total_gas_used: out.total_gas_used,
        };
        serde_json::value::to_raw_value(&view)
            .map_err(|e| BackendError::internal(format!("serializing bundle result: {e}")))
    }
}

fn pool_err(e: PoolError) -> BackendError {
    if e.is_bad_transaction() {
        BackendError::tx(e.to_string())
    } else {
        tracing::error!(target: "ordo::rpc", %e, "pool failure");
        BackendError::new(e.rpc_code() as i32, e.to_string())
    }
}
