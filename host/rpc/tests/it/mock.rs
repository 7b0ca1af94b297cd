//! A small in-memory chain behind [`EthBackend`].

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
    time::Duration,
};

use alloy_eips::{BlockId, BlockNumberOrTag};
use alloy_primitives::{Address, B256, Bytes, LogData, U256, keccak256};
use alloy_rpc_types_eth::{
    AccessListResult, Block, BlockOverrides, BlockTransactions, FeeHistory, Filter, Header, Log,
    TransactionRequest, state::StateOverride,
};
use ordo_rpc::{
    BackendError, BackendResult, Caller, ChainEvent, Cost, EthBlocks, EthFees, EthLogs, EthState,
    Namespace, Params, SendTxFuture, json,
};
use parking_lot::Mutex;
use serde_json::value::RawValue;
use tokio::sync::{Barrier, broadcast};

pub(crate) const CHAIN_ID: u64 = 31337;

/// The arguments of the last `fee_history` call.
pub(crate) type FeeHistoryArgs = (u64, BlockNumberOrTag, Option<Vec<f64>>);

/// Blocks are numbered from 0 (genesis); block `n` has hash `[n+1; 32]`.
pub(crate) struct MockBackend {
    blocks: Mutex<Vec<(Header, Vec<Log>)>>,
    events: broadcast::Sender<ChainEvent>,
    /// When set, `send_raw_transaction` waits here: proves batch entries run concurrently.
    pub(crate) send_barrier: Mutex<Option<Arc<Barrier>>>,
    pub(crate) sent: AtomicUsize,
    /// When set, each `send_raw_transaction` stays inside the backend this long, counting
    /// how many are inside at once (`sending`, highest in `max_sending`).
    pub(crate) send_delay: Mutex<Option<Duration>>,
    pub(crate) sending: AtomicUsize,
    pub(crate) max_sending: AtomicUsize,
    pub(crate) last_fee_history: Mutex<Option<FeeHistoryArgs>>,
    pub(crate) last_call: Mutex<Option<(TransactionRequest, BlockId, bool)>>,
    /// The searcher passed to the last `extension_as` call (`Some(None)`: called anonymously).
    pub(crate) last_searcher: Mutex<Option<Option<Address>>>,
    nonce: AtomicU64,
}

pub(crate) fn block_hash(number: u64) -> B256 {
    B256::repeat_byte(number as u8 + 1)
}

impl MockBackend {
    pub(crate) fn new() -> Self {
        let (events, _) = broadcast::channel(64);
        let backend = Self {
            blocks: Mutex::new(Vec::new()),
            events,
            send_barrier: Mutex::new(None),
            sent: AtomicUsize::new(0),
            send_delay: Mutex::new(None),
            sending: AtomicUsize::new(0),
            max_sending: AtomicUsize::new(0),
            last_fee_history: Mutex::new(None),
            last_call: Mutex::new(None),
            last_searcher: Mutex::new(None),
            nonce: AtomicU64::new(5),
        };
        backend.mine(Vec::new());
        backend
    }

    /// Seals a block emitting logs `(address, topic0)` and publishes it.
    pub(crate) fn mine(&self, emitted: Vec<(Address, B256)>) -> Header {
        let mut blocks = self.blocks.lock();
        let number = blocks.len() as u64;
        let hash = block_hash(number);
        let header = Header {
            hash,
            inner: alloy_consensus::Header {
                number,
                timestamp: 1_700_000_000 + number,
                base_fee_per_gas: Some(1_000_000_000),
                ..Default::default()
            },
            total_difficulty: None,
            size: None,
        };
        let logs: Vec<Log> = emitted
            .into_iter()
            .enumerate()
            .map(|(i, (address, topic))| Log {
                inner: alloy_primitives::Log {
                    address,
                    data: LogData::new_unchecked(vec![topic], Bytes::from(vec![i as u8])),
                },
                block_hash: Some(hash),
                block_number: Some(number),
                block_timestamp: None,
                transaction_hash: Some(B256::repeat_byte(0xee)),
                transaction_index: Some(i as u64),
                log_index: Some(i as u64),
                removed: false,
            })
            .collect();
        blocks.push((header.clone(), logs.clone()));
        drop(blocks);
        let _ = self.events.send(ChainEvent::NewBlock {
            header: Arc::new(header.clone()),
            logs: logs.into(),
        });
        header
    }

    /// Publishes a pending transaction hash.
    pub(crate) fn announce_pending(&self, hash: B256) {
        let _ = self.events.send(ChainEvent::PendingTx(hash));
    }

    pub(crate) fn subscribers(&self) -> usize {
        self.events.receiver_count()
    }

    fn resolve(&self, id: BlockId) -> Option<u64> {
        let head = self.head_number();
        match id {
            BlockId::Hash(hash) => self
                .blocks
                .lock()
                .iter()
                .position(|(h, _)| h.hash == hash.block_hash)
                .map(|n| n as u64),
            BlockId::Number(BlockNumberOrTag::Number(n)) => (n <= head).then_some(n),
            BlockId::Number(BlockNumberOrTag::Earliest) => Some(0),
            BlockId::Number(_) => Some(head),
        }
    }

    fn resolve_tag(&self, tag: Option<&BlockNumberOrTag>, default: u64) -> u64 {
        match tag {
            Some(BlockNumberOrTag::Number(n)) => *n,
            Some(BlockNumberOrTag::Earliest) => 0,
            Some(_) => self.head_number(),
            None => default,
        }
    }
}

impl EthBlocks for MockBackend {
    fn chain_id(&self) -> u64 {
        CHAIN_ID
    }

    fn head_number(&self) -> u64 {
        self.blocks.lock().len() as u64 - 1
    }

    fn block(&self, id: BlockId, _full_txs: bool) -> BackendResult<Option<ordo_rpc::RpcBlock>> {
        Ok(self.resolve(id).map(|n| {
            let header = self.blocks.lock()[n as usize].0.clone();
            Block::new(header, BlockTransactions::Hashes(Vec::new()))
        }))
    }

    fn block_receipts(&self, id: BlockId) -> BackendResult<Option<Vec<ordo_rpc::RpcReceipt>>> {
        Ok(self.resolve(id).map(|_| Vec::new()))
    }

    fn block_tx_count(&self, id: BlockId) -> BackendResult<Option<u64>> {
        Ok(self.resolve(id).map(|_| 0))
    }

    fn transaction_by_hash(&self, _hash: B256) -> BackendResult<Option<ordo_rpc::RpcTransaction>> {
        Ok(None)
    }

    fn transaction_by_block_and_index(
        &self,
        _id: BlockId,
        _index: u64,
    ) -> BackendResult<Option<ordo_rpc::RpcTransaction>> {
        Ok(None)
    }

    fn receipt(&self, _hash: B256) -> BackendResult<Option<ordo_rpc::RpcReceipt>> {
        Ok(None)
    }

    fn send_raw_transaction(&self, raw: Bytes) -> SendTxFuture<'_> {
        Box::pin(async move {
            if raw.is_empty() {
                return Err(BackendError::tx("typed transaction too short"));
            }
            let barrier = self.send_barrier.lock().clone();
            if let Some(barrier) = barrier {
                tokio::time::timeout(Duration::from_secs(5), barrier.wait())
                    .await
                    .map_err(|_| BackendError::internal("batch entries ran one after another"))?;
            }
            let delay = *self.send_delay.lock();
            if let Some(delay) = delay {
                let now = self.sending.fetch_add(1, Ordering::SeqCst) + 1;
                self.max_sending.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(delay).await;
                self.sending.fetch_sub(1, Ordering::SeqCst);
            }
            self.sent.fetch_add(1, Ordering::Relaxed);
            Ok(keccak256(&raw))
        })
    }
}

impl EthState for MockBackend {
    fn balance(&self, address: Address, at: BlockId) -> BackendResult<U256> {
        if self.resolve(at).is_none() {
            return Err(BackendError::resource_not_found("header not found"));
        }
        Ok(U256::from(address.0[19]) * U256::from(1_000_000_000_000_000_000u64))
    }

    fn transaction_count(&self, _address: Address, at: BlockId) -> BackendResult<u64> {
        let nonce = self.nonce.load(Ordering::Relaxed);
        Ok(if at.is_pending() { nonce + 2 } else { nonce })
    }

    fn code(&self, _address: Address, _at: BlockId) -> BackendResult<Bytes> {
        Ok(Bytes::from_static(&[0x60, 0x00]))
    }

    fn storage_at(&self, _address: Address, slot: U256, _at: BlockId) -> BackendResult<B256> {
        Ok(B256::from(slot))
    }

    fn proof(
        &self,
        address: Address,
        _keys: Vec<alloy_serde::JsonStorageKey>,
        _at: BlockId,
    ) -> BackendResult<alloy_rpc_types_eth::EIP1186AccountProofResponse> {
        Ok(alloy_rpc_types_eth::EIP1186AccountProofResponse {
            address,
            ..Default::default()
        })
    }

    fn call(
        &self,
        request: TransactionRequest,
        at: BlockId,
        state: Option<StateOverride>,
        _block: Option<BlockOverrides>,
    ) -> BackendResult<Bytes> {
        let input = request.input.input().cloned().unwrap_or_default();
        *self.last_call.lock() = Some((request, at, state.is_some()));
        if input.starts_with(&[0xde, 0xad]) {
            return Err(BackendError::reverted(input, Some("no way".into())));
        }
        if input.starts_with(&[0xba, 0xd0]) {
            return Err(BackendError::internal("database exploded at /secret/path"));
        }
        Ok(input)
    }

    fn estimate_gas(
        &self,
        request: TransactionRequest,
        _at: BlockId,
        _state: Option<StateOverride>,
        _block: Option<BlockOverrides>,
    ) -> BackendResult<u64> {
        Ok(21_000 + 16 * request.input.input().map_or(0, |input| input.len() as u64))
    }

    fn create_access_list(
        &self,
        _request: TransactionRequest,
        _at: BlockId,
    ) -> BackendResult<AccessListResult> {
        Ok(AccessListResult {
            access_list: Default::default(),
            gas_used: U256::from(21_000),
            error: None,
        })
    }
}

impl EthFees for MockBackend {
    fn gas_price(&self) -> BackendResult<u128> {
        Ok(2_000_000_000)
    }

    fn max_priority_fee_per_gas(&self) -> BackendResult<u128> {
        Ok(1_000_000_000)
    }

    fn fee_history(
        &self,
        block_count: u64,
        newest: BlockNumberOrTag,
        reward_percentiles: Option<Vec<f64>>,
    ) -> BackendResult<FeeHistory> {
        *self.last_fee_history.lock() = Some((block_count, newest, reward_percentiles));
        Ok(FeeHistory {
            base_fee_per_gas: vec![1_000_000_000; block_count as usize + 1],
            gas_used_ratio: vec![0.5; block_count as usize],
            oldest_block: self.head_number() + 1 - block_count.min(self.head_number() + 1),
            ..Default::default()
        })
    }
}

impl EthLogs for MockBackend {
    fn logs(&self, filter: &Filter) -> BackendResult<Vec<Log>> {
        let head = self.head_number();
        let (from, to) = match filter.block_option.as_block_hash() {
            Some(hash) => match self.resolve(BlockId::hash(*hash)) {
                Some(n) => (n, n),
                None => return Err(BackendError::resource_not_found("unknown block")),
            },
            None => (
                self.resolve_tag(filter.block_option.get_from_block(), head),
                self.resolve_tag(filter.block_option.get_to_block(), head),
            ),
        };
        let blocks = self.blocks.lock();
        Ok(blocks
            .iter()
            .skip(from as usize)
            .take((to + 1).saturating_sub(from) as usize)
            .flat_map(|(_, logs)| {
                logs.iter()
                    .filter(|log| filter.matches(&log.inner))
                    .cloned()
            })
            .collect())
    }

    fn subscribe(&self) -> broadcast::Receiver<ChainEvent> {
        self.events.subscribe()
    }
}

/// `ordo_whoami`: answers the searcher address (or `null`).
impl Namespace for MockBackend {
    fn cost(&self, method: &str) -> Option<Cost> {
        (method == "ordo_whoami").then_some(Cost::Quick)
    }

    fn call(
        &self,
        _method: &str,
        _params: &Params<'_>,
        caller: Caller,
    ) -> BackendResult<Box<RawValue>> {
        *self.last_searcher.lock() = Some(caller.searcher);
        json(&caller.searcher)
    }
}
