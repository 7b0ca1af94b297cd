//! The seam between the RPC server and the chain: [`EthBackend`] (by concern) and the events
//! it publishes.
//!
//! The server never touches storage, execution or the pool directly; `ordo-api` implements
//! these traits over the real components, tests implement them with a mock.

use std::{future::Future, pin::Pin, sync::Arc};

use alloy_eips::{BlockId, BlockNumberOrTag};
use alloy_primitives::{Address, B256, Bytes, U256};
use alloy_rpc_types_eth::{
    AccessListResult, Block, BlockOverrides, EIP1186AccountProofResponse, FeeHistory, Filter,
    Header, Log, TransactionReceipt, TransactionRequest, state::StateOverride,
};
use alloy_serde::JsonStorageKey;
use tokio::sync::broadcast;

use crate::BackendError;

/// A receipt as the RPC returns it, OP Stack's: its envelope gives a deposit's receipt
/// `depositNonce` and `depositReceiptVersion` (the signed types serialize exactly as with
/// Ethereum's envelope), and a signed transaction's carries its L1 data fee (`l1Fee`,
/// `l1GasUsed`, `l1GasPrice`, `l1BlobBaseFee` and the scalars) beside, as op-geth's does.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RpcReceipt {
    #[serde(flatten)]
    pub inner: TransactionReceipt<ordo_primitives::OrdoReceiptEnvelope<Log>>,
    #[serde(flatten)]
    pub l1_block_info: op_alloy_rpc_types::L1BlockInfo,
}

impl std::ops::Deref for RpcReceipt {
    type Target = TransactionReceipt<ordo_primitives::OrdoReceiptEnvelope<Log>>;

    fn deref(&self) -> &Self::Target {
        &self.inner
    }
}

/// A transaction as the RPC returns it: OP Stack's, so a deposit (type 0x7E) shows
/// `sourceHash`, `mint`, `isSystemTx`, its `nonce` and `depositReceiptVersion` as OP nodes
/// show it (signed types serialize exactly as with Ethereum's envelope).
pub type RpcTransaction = op_alloy_rpc_types::Transaction<ordo_primitives::OrdoTxEnvelope>;

/// A block as the RPC returns it.
pub type RpcBlock = Block<RpcTransaction>;

/// The result type of every backend method.
pub type BackendResult<T> = Result<T, BackendError>;

/// The future returned by [`EthBackend::send_raw_transaction`].
pub type SendTxFuture<'a> = Pin<Box<dyn Future<Output = BackendResult<B256>> + Send + 'a>>;

/// Something that happened on the chain, published to WebSocket subscriptions and filters.
///
/// Cheap to clone (the payloads are behind `Arc`), as a broadcast channel clones it once per
/// receiver.
#[derive(Debug, Clone)]
pub enum ChainEvent {
    /// A block was sealed and stored: its header (with hash) and every log it emitted, with
    /// block number/hash, transaction hash/index and log index filled in.
    NewBlock {
        /// The sealed block's header, as `eth_getBlockByNumber` returns it.
        header: Arc<Header>,
        /// All logs of the block, in order.
        logs: Arc<[Log]>,
    },
    /// A transaction entered the pending pool (acknowledged, i.e. durable).
    PendingTx(B256),
}

/// What the RPC server needs from the chain for the `eth` namespace, by concern:
/// [`EthBlocks`] (blocks, transactions, receipts, sending), [`EthState`] (accounts and calls),
/// [`EthLogs`] (logs and the event feed behind filters and subscriptions) and [`EthFees`].
/// Anything that implements the four is a backend. Implemented by `ordo-api`.
///
/// Blocking: synchronous methods must be quick reads (an in-memory head, a storage point read).
/// The server calls the potentially heavy ones (`call`, `estimate_gas`, `create_access_list`,
/// `logs`, `fee_history`, `block_receipts`) on its read pool, where
/// [`crate::CallDeadline::current`] tells when the call must give up; the others inline on the
/// reactor. `send_raw_transaction` is asynchronous because it waits for the WAL fsync.
///
/// Block identifiers arrive unresolved: the backend maps `latest`/`pending`/`safe`/`finalized`/
/// `earliest`, numbers and EIP-1898 hashes (`requireCanonical`) to its blocks. Methods that
/// return `Option` answer `None` for an unknown block or transaction (the server sends `null`);
/// state reads on an unknown block return an error (geth: -32001 or -32000 "header not found").
pub trait EthBackend: EthBlocks + EthState + EthLogs + EthFees {}

impl<T: EthBlocks + EthState + EthLogs + EthFees> EthBackend for T {}

/// Blocks, transactions and receipts; sending a transaction.
pub trait EthBlocks: Send + Sync + 'static {
    /// The chain id (`eth_chainId`, `net_version`).
    fn chain_id(&self) -> u64;

    /// The number of the latest sealed block (`eth_blockNumber`).
    fn head_number(&self) -> u64;

    /// The block a tag names now (`safe` and `finalized` are the chain's own; by default
    /// every tag but a number and `earliest` is the head).
    fn tag_number(&self, tag: BlockNumberOrTag) -> u64 {
        match tag {
            BlockNumberOrTag::Number(n) => n,
            BlockNumberOrTag::Earliest => 0,
            _ => self.head_number(),
        }
    }

    /// A block with its transactions as hashes (`full_txs == false`) or full objects.
    fn block(&self, id: BlockId, full_txs: bool) -> BackendResult<Option<RpcBlock>>;

    /// All receipts of a block, in transaction order (`eth_getBlockReceipts`).
    fn block_receipts(&self, id: BlockId) -> BackendResult<Option<Vec<RpcReceipt>>>;

    /// The number of transactions in a block.
    fn block_tx_count(&self, id: BlockId) -> BackendResult<Option<u64>>;

    /// A transaction by hash: mined (with block fields) or pending in the pool (block fields
    /// `None`).
    fn transaction_by_hash(&self, hash: B256) -> BackendResult<Option<RpcTransaction>>;

    /// The transaction at `index` in a block.
    fn transaction_by_block_and_index(
        &self,
        id: BlockId,
        index: u64,
    ) -> BackendResult<Option<RpcTransaction>>;

    /// The receipt of a mined transaction; `None` while it is pending or unknown.
    fn receipt(&self, hash: B256) -> BackendResult<Option<RpcReceipt>>;

    /// Validates a raw signed transaction, makes it durable and returns its hash. Resolves only
    /// after the fsync; concurrent calls must share one group commit.
    fn send_raw_transaction(&self, raw: Bytes) -> SendTxFuture<'_>;
}

/// Account state at a block, and calls against it.
pub trait EthState: Send + Sync + 'static {
    /// An account's balance at a block.
    fn balance(&self, address: Address, at: BlockId) -> BackendResult<U256>;

    /// An account's nonce at a block; at `pending` the next nonce the pool would accept
    /// (stored nonce plus the sender's executable pool transactions).
    fn transaction_count(&self, address: Address, at: BlockId) -> BackendResult<u64>;

    /// An account's code at a block (empty for an EOA).
    fn code(&self, address: Address, at: BlockId) -> BackendResult<Bytes>;

    /// A storage slot's value at a block.
    fn storage_at(&self, address: Address, slot: U256, at: BlockId) -> BackendResult<B256>;

    /// The EIP-1186 proof of an account and some of its slots at a block (`eth_getProof`).
    fn proof(
        &self,
        address: Address,
        keys: Vec<JsonStorageKey>,
        at: BlockId,
    ) -> BackendResult<EIP1186AccountProofResponse>;

    /// Executes a call without committing it (`eth_call`). A revert is
    /// [`BackendError::reverted`].
    fn call(
        &self,
        request: TransactionRequest,
        at: BlockId,
        state: Option<StateOverride>,
        block: Option<BlockOverrides>,
    ) -> BackendResult<Bytes>;

    /// The gas a transaction needs (`eth_estimateGas`); a revert is [`BackendError::reverted`].
    fn estimate_gas(
        &self,
        request: TransactionRequest,
        at: BlockId,
        state: Option<StateOverride>,
        block: Option<BlockOverrides>,
    ) -> BackendResult<u64>;

    /// The access list a transaction touches and the gas it uses with it.
    fn create_access_list(
        &self,
        request: TransactionRequest,
        at: BlockId,
    ) -> BackendResult<AccessListResult>;
}

/// Logs, and the chain's event feed (filters and subscriptions are built on it).
pub trait EthLogs: Send + Sync + 'static {
    /// The logs matching `filter`: the backend resolves the block range (tags, `blockHash`),
    /// enforces its range limit and applies address and topic matching.
    fn logs(&self, filter: &Filter) -> BackendResult<Vec<Log>>;

    /// A new receiver of chain events (new blocks with their logs, pending transactions).
    fn subscribe(&self) -> broadcast::Receiver<ChainEvent>;
}

/// Gas price suggestions and fee history.
pub trait EthFees: Send + Sync + 'static {
    /// The suggested legacy gas price (base fee plus the suggested tip).
    fn gas_price(&self) -> BackendResult<u128>;

    /// The suggested priority fee per gas.
    fn max_priority_fee_per_gas(&self) -> BackendResult<u128>;

    /// Fee history over `block_count` blocks (at most [`crate::MAX_FEE_HISTORY_BLOCKS`], already
    /// clamped) ending at `newest`. Percentiles, when given, are validated: in `0..=100` and
    /// ascending.
    fn fee_history(
        &self,
        block_count: u64,
        newest: BlockNumberOrTag,
        reward_percentiles: Option<Vec<f64>>,
    ) -> BackendResult<FeeHistory>;
}

/// Runs a potentially heavy backend call on tokio's blocking pool.
pub(crate) async fn blocking<T, F>(backend: &Arc<dyn EthBackend>, f: F) -> BackendResult<T>
where
    T: Send + 'static,
    F: FnOnce(&dyn EthBackend) -> BackendResult<T> + Send + 'static,
{
    let backend = Arc::clone(backend);
    tokio::task::spawn_blocking(move || f(&*backend))
        .await
        .map_err(|err| BackendError::internal(format!("blocking backend task failed: {err}")))?
}
