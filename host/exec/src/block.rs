//! Block execution: run ordered transactions through revm on top of the head state, skip
//! the ones that became invalid, and seal a real Ethereum header.

use std::sync::Arc;

use alloy_consensus::{
    EMPTY_OMMER_ROOT_HASH, Eip658Value, Header, Transaction, TxEnvelope, Typed2718,
    proofs::calculate_receipt_root,
};
use alloy_eips::eip7685::EMPTY_REQUESTS_HASH;
use alloy_evm::FromRecoveredTx;
use alloy_primitives::{Address, B256, Bloom, Bytes, Log, U256, keccak256};
use alloy_trie::EMPTY_ROOT_HASH;
use ordo_primitives::{
    BASE_FEE_VAULT, BlockRecord, BodyExtras, DepositTx, L1_BLOCK, L1_FEE_VAULT, L1FeeCharged,
    L1FeeParams, OrdoReceiptEnvelope, PooledTx, Provenance, ReceiptRecord,
};
use ordo_storage::BlockCommit;
use revm::{
    Context, ExecuteEvm, InspectEvm, Inspector, MainBuilder, MainContext,
    context::{BlockEnv, CfgEnv, JournalTr, TxEnv, result::ExecutionResult},
    context_interface::journaled_state::account::JournaledAccountTr,
    context_interface::result::{EVMError, InvalidTransaction},
    database::CacheDB,
    inspector::NoOpInspector,
    primitives::hardfork::SpecId,
};

use crate::{
    error::{ExecError, StateError},
    rules::ChainRules,
    state::{StateAt, StateDb},
};

/// What the builder decides about the next block before executing it.
#[derive(Debug, Clone)]
pub struct BlockParams {
    /// Block number.
    pub number: u64,
    /// Timestamp (seconds).
    pub timestamp: u64,
    /// Fee recipient (the sequencer).
    pub beneficiary: Address,
    /// Gas limit.
    pub gas_limit: u64,
    /// Base fee.
    pub base_fee: u64,
    /// Extra data.
    pub extra_data: Bytes,
    /// For calls: the state to run on (`None`: the head). Block building ignores it.
    pub state_block: Option<u64>,
    /// Most bytes of signed transactions (their EIP-2718 encodings) the block may carry
    /// (`None`: no limit beyond gas). The builder sets it while L1 posting is behind, so the
    /// unposted backlog stops growing (op-batcher's DA throttling); deposits do not count.
    pub max_tx_bytes: Option<u64>,
    /// On Ordo's chains, the parent beacon block root the header names and the EIP-4788
    /// call stores: the block's L1 origin's (zero without an L1). An Ethereum block's own
    /// (in `ethereum`) takes its place.
    pub beacon_root: B256,
    /// On a chain with Ethereum's rules, what the block's header and body fix beyond the
    /// above (difficulty or prevrandao, beacon root, blob gas, ommers, withdrawals); None
    /// on Ordo's own chains, and for a call on an Ethereum chain (zeros then).
    pub ethereum: Option<Arc<EthereumParts>>,
}

/// What an Ethereum block fixes beyond [`BlockParams`]: its header (difficulty, nonce and
/// mix hash or prevrandao, parent beacon root, excess blob gas) and its ommers and
/// withdrawals.
#[derive(Debug, Clone, Default)]
pub struct EthereumParts {
    /// The block's header as given.
    pub header: Header,
    /// Its ommers and withdrawals.
    pub extras: BodyExtras,
}

impl BlockParams {
    /// The parameters of the block `header` describes, run on the state after block
    /// `state_block`: how a stored block is replayed, or a call made in its context.
    pub fn of_block(header: &Header, state_block: Option<u64>) -> Self {
        Self {
            number: header.number,
            timestamp: header.timestamp,
            beneficiary: header.beneficiary,
            gas_limit: header.gas_limit,
            base_fee: header.base_fee_per_gas.unwrap_or_default(),
            extra_data: header.extra_data.clone(),
            state_block,
            max_tx_bytes: None,
            beacon_root: header.parent_beacon_block_root.unwrap_or_default(),
            ethereum: Some(Arc::new(EthereumParts {
                header: header.clone(),
                extras: BodyExtras::default(),
            })),
        }
    }

    /// The deposit-only block for `origin` after `parent`: what the sequencer seals, and
    /// derivation makes, for an L1 origin whose sequencing window has passed. Everything in
    /// it follows from the parent and the origin, so both sides make the same block: the
    /// origin's deposits and nothing else, the parent's gas limit and base fee, no fee
    /// recipient, the origin's time (or the parent's, if later), the origin's hash as extra
    /// data and its beacon root (from block `beacon_roots_from` on, the chain's
    /// [`ordo_primitives::ChainSpec::beacon_roots_from`]).
    pub fn deposit_only(
        parent: &Header,
        origin: &ordo_primitives::L1Origin,
        beacon_roots_from: u64,
    ) -> Self {
        Self {
            number: parent.number + 1,
            timestamp: parent.timestamp.max(origin.timestamp),
            beneficiary: Address::ZERO,
            gas_limit: parent.gas_limit,
            base_fee: parent.base_fee_per_gas.unwrap_or_default(),
            extra_data: Bytes::copy_from_slice(origin.hash.as_slice()),
            state_block: None,
            max_tx_bytes: None,
            beacon_root: origin.beacon_root_of_block(parent.number + 1, beacon_roots_from),
            ethereum: None,
        }
    }
}

/// Why a transaction was left out of a block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Skipped {
    /// It can never be included (it leaves the pool): with the reason.
    Invalid(String),
    /// Not now (block full, nonce gap, funds may arrive): it stays in the pool.
    Deferred(String),
}

/// A sealed, not yet stored block.
#[derive(Debug)]
pub struct BuiltBlock {
    /// The block record.
    pub block: BlockRecord,
    /// All storage writes of the block (block, receipts, state).
    pub commit: BlockCommit,
    /// Hashes of the included transactions.
    pub included: Vec<B256>,
    /// Transactions not included, with why.
    pub skipped: Vec<(B256, Skipped)>,
    /// What happened to each bundle of the plan, in plan order.
    pub bundles: Vec<(B256, BundleResult)>,
    /// How long the storage and state roots took (part of sealing).
    pub root_time: std::time::Duration,
}

impl crate::executor::Executor {
    /// The EVM configuration of a block with `params`: the fork its number and time select,
    /// and from Cancun the blob limits of that time.
    pub(crate) fn cfg_env(&self, params: &BlockParams) -> CfgEnv {
        let mut cfg = CfgEnv::new_with_spec(self.rules.spec_at(params.number, params.timestamp));
        cfg.chain_id = self.chain_id;
        if let Some(blobs) = self.rules.blob_params_at(params.timestamp) {
            cfg.max_blobs_per_tx = Some(blobs.max_blobs_per_tx.min(blobs.max_blob_count));
            cfg.blob_base_fee_update_fraction = Some(blobs.update_fraction as u64);
        }
        cfg
    }

    /// The block environment of a block with `params` (`prevrandao` is what the
    /// DIFFICULTY/PREVRANDAO opcode answers after the merge).
    pub(crate) fn block_env(&self, params: &BlockParams, prevrandao: B256) -> BlockEnv {
        let header = params.ethereum.as_ref().map(|e| &e.header);
        let fraction = self
            .rules
            .blob_params_at(params.timestamp)
            .map(|b| b.update_fraction as u64)
            .unwrap_or(revm::primitives::eip4844::BLOB_BASE_FEE_UPDATE_FRACTION_PRAGUE);
        BlockEnv {
            number: U256::from(params.number),
            beneficiary: params.beneficiary,
            timestamp: U256::from(params.timestamp),
            gas_limit: params.gas_limit,
            basefee: params.base_fee,
            difficulty: header.map(|h| h.difficulty).unwrap_or_default(),
            prevrandao: Some(prevrandao),
            blob_excess_gas_and_price: Some(
                revm::context_interface::block::BlobExcessGasAndPrice::new(
                    header.and_then(|h| h.excess_blob_gas).unwrap_or_default(),
                    fraction,
                ),
            ),
            ..Default::default()
        }
    }

    /// What the block's PREVRANDAO is: an Ethereum block's own mix hash; on Ordo's chains
    /// the hash of the parent's hash, which the sequencer cannot choose.
    pub(crate) fn prevrandao(&self, params: &BlockParams, parent_hash: B256) -> B256 {
        self.ethereum_mix_hash(params)
            .unwrap_or_else(|| keccak256(parent_hash))
    }

    /// An Ethereum block's own mix hash (its PREVRANDAO after the merge), on a chain with
    /// Ethereum's rules.
    pub(crate) fn ethereum_mix_hash(&self, params: &BlockParams) -> Option<B256> {
        match &params.ethereum {
            Some(e) if !self.rules.op_fees => Some(e.header.mix_hash),
            _ => None,
        }
    }
}

fn classify(err: EVMError<StateError, InvalidTransaction>) -> Result<Skipped, StateError> {
    match err {
        EVMError::Transaction(invalid) => Ok(match invalid {
            InvalidTransaction::NonceTooHigh { .. }
            | InvalidTransaction::LackOfFundForMaxFee { .. }
            | InvalidTransaction::GasPriceLessThanBasefee
            | InvalidTransaction::CallerGasLimitMoreThanBlock => {
                Skipped::Deferred(invalid.to_string())
            }
            other => Skipped::Invalid(other.to_string()),
        }),
        EVMError::Database(e) => Err(e),
        other => Ok(Skipped::Invalid(other.to_string())),
    }
}

/// Builds the receipt envelope of a signed transaction.
fn receipt_envelope(
    tx: &TxEnvelope,
    status: Eip658Value,
    cumulative: u64,
    logs: &[Log],
) -> OrdoReceiptEnvelope {
    OrdoReceiptEnvelope::from_parts(status, cumulative, logs, tx.ty(), None, None)
}

/// One entry of a block plan: a lone transaction, or a bundle that lands whole or not at all.
#[derive(Debug, Clone)]
pub enum BlockItem {
    /// A deposit from L1: always included (a failing one with status 0), never skipped.
    Deposit(Arc<DepositTx>),
    /// A public transaction: skipped alone when invalid.
    Tx(Arc<PooledTx>),
    /// A bundle.
    Bundle(BundleItem),
}

impl BlockItem {
    /// One transaction of a stored or posted block body as a plan item: a deposit (type
    /// 0x7E), or a signed transaction with its `sender` when known (a stored block's), else
    /// recovered (a batch's).
    pub fn from_body(
        raw: &Bytes,
        sender: Option<Address>,
    ) -> Result<Self, ordo_primitives::DecodeError> {
        if ordo_primitives::is_deposit(raw) {
            return DepositTx::decode(raw)
                .map(|d| Self::Deposit(Arc::new(d)))
                .map_err(|e| ordo_primitives::DecodeError::Malformed(e.to_string()));
        }
        let tx = match sender {
            Some(sender) => ordo_primitives::decode_with_sender(raw, sender)?,
            None => ordo_primitives::decode_raw_tx(raw)?,
        };
        Ok(Self::Tx(Arc::new(tx)))
    }
}

/// A bundle in a block plan.
#[derive(Debug, Clone)]
pub struct BundleItem {
    /// The bundle's hash (what results are reported under).
    pub id: B256,
    /// Its transactions, executed consecutively in this order.
    pub txs: Vec<Arc<PooledTx>>,
    /// Transactions that may revert without dropping the bundle.
    pub reverting_tx_hashes: Vec<B256>,
    /// For a backrun: the transaction that must be the one included right before it. If that
    /// transaction did not make it into the block, the bundle is dropped.
    pub after: Option<B256>,
}

/// What happened to a bundle of the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BundleResult {
    /// Included whole.
    Landed {
        /// Gas its transactions used.
        gas_used: u64,
        /// Coinbase balance after it minus before it: priority fees plus direct payments.
        coinbase_diff: U256,
    },
    /// Left out of the block, state rolled back.
    Dropped(DropReason),
}

/// Why a bundle was left out of the block.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DropReason {
    /// Its backrun target is not in the block.
    #[error("target transaction {0} not included")]
    TargetMissing(B256),
    /// Another bundle already follows its backrun target.
    #[error("another bundle already follows target transaction {0}")]
    TargetTaken(B256),
    /// Its gas limits do not fit in what is left of the block.
    #[error("does not fit in the block")]
    DoesNotFit,
    /// A transaction not allowed to revert reverted.
    #[error("tx {index} ({hash}) reverted")]
    Reverted {
        /// Position in the bundle.
        index: usize,
        /// Its hash.
        hash: B256,
    },
    /// A transaction could not execute (nonce, funds, fees).
    #[error("tx {index} ({hash}) invalid: {why}")]
    Invalid {
        /// Position in the bundle.
        index: usize,
        /// Its hash.
        hash: B256,
        /// Why.
        why: String,
    },
}

impl DropReason {
    /// A stable label for statistics and metrics. A bundle only reaches the block after
    /// simulating fine alone, so a revert or invalid transaction here means something
    /// earlier in the block (a higher bid on the same state) changed the outcome.
    pub fn label(&self) -> &'static str {
        match self {
            Self::TargetMissing(_) => "target_missing",
            Self::DoesNotFit => "block_full",
            Self::TargetTaken(_) | Self::Reverted { .. } | Self::Invalid { .. } => "conflict",
        }
    }
}

/// Running totals of the block being assembled; a bundle that fails truncates back to a mark.
#[derive(Default)]
pub(crate) struct Assembly {
    cumulative_gas: u64,
    /// Blob gas of the included transactions (EIP-4844).
    blob_gas_used: u64,
    /// OP's fees: the base fee goes to its vault instead of being burned.
    op_fees: bool,
    /// Bytes of the signed transactions included so far (what `max_tx_bytes` caps).
    tx_bytes: u64,
    log_index: u64,
    included: Vec<B256>,
    receipts: Vec<ReceiptRecord>,
    envelopes: Vec<OrdoReceiptEnvelope>,
    block_tx: Vec<BodyTx>,
    /// Run the next transaction under the EVM's inspector, and keep what it ran as and how
    /// it ended (tracing; never while building).
    pub(crate) inspect: bool,
    pub(crate) inspected_env: Option<TxEnv>,
    pub(crate) inspected_result: Option<ExecutionResult>,
}

/// One transaction of the block body.
#[derive(Debug, Clone)]
enum BodyTx {
    Signed(Arc<PooledTx>),
    Deposit(Arc<DepositTx>),
}

impl BodyTx {
    fn encoded(&self) -> &Bytes {
        match self {
            Self::Signed(t) => &t.encoded,
            Self::Deposit(d) => &d.encoded,
        }
    }

    fn sender(&self) -> Address {
        match self {
            Self::Signed(t) => t.sender,
            Self::Deposit(d) => d.from(),
        }
    }

    fn hash(&self) -> B256 {
        match self {
            Self::Signed(t) => t.hash,
            Self::Deposit(d) => d.hash,
        }
    }
}

#[derive(Clone, Copy)]
struct Mark {
    cumulative_gas: u64,
    blob_gas_used: u64,
    tx_bytes: u64,
    log_index: u64,
    len: usize,
}

impl Assembly {
    fn mark(&self) -> Mark {
        Mark {
            cumulative_gas: self.cumulative_gas,
            blob_gas_used: self.blob_gas_used,
            tx_bytes: self.tx_bytes,
            log_index: self.log_index,
            len: self.included.len(),
        }
    }

    fn reset(&mut self, mark: Mark) {
        self.cumulative_gas = mark.cumulative_gas;
        self.blob_gas_used = mark.blob_gas_used;
        self.tx_bytes = mark.tx_bytes;
        self.log_index = mark.log_index;
        self.included.truncate(mark.len);
        self.receipts.truncate(mark.len);
        self.envelopes.truncate(mark.len);
        self.block_tx.truncate(mark.len);
    }
}

/// How one transaction went inside the block.
enum TxRun {
    /// Included; `false` when it reverted or halted.
    Included(bool),
    /// Not included.
    Skipped(Skipped),
}

impl crate::executor::Executor {
    /// Executes `txs` in the given order on top of the head (`parent`), skipping those that
    /// are invalid now, and seals the block. Nothing is written.
    pub fn build_block(
        &self,
        parent: &Header,
        parent_hash: B256,
        params: &BlockParams,
        txs: &[Arc<PooledTx>],
        provenance: Provenance,
    ) -> Result<BuiltBlock, ExecError> {
        let items: Vec<BlockItem> = txs.iter().cloned().map(BlockItem::Tx).collect();
        self.build_block_items(parent, parent_hash, params, &items, provenance)
    }

    /// [`Self::build_block`] over a plan mixing lone transactions and bundles. A bundle's
    /// transactions run consecutively; if one of them is invalid, or reverts without being
    /// listed in its `reverting_tx_hashes`, or the bundle does not fit, the journal is put
    /// back as it was before the bundle and the block goes on without it.
    pub fn build_block_items(
        &self,
        parent: &Header,
        parent_hash: B256,
        params: &BlockParams,
        items: &[BlockItem],
        provenance: Provenance,
    ) -> Result<BuiltBlock, ExecError> {
        let mut block = self.assemble(parent, parent_hash, params)?;
        for item in items {
            block.push(item)?;
        }
        block.seal(provenance)
    }

    /// Starts a block on top of `parent`, to be filled item by item ([`BlockAssembler::push`])
    /// and sealed. The builder uses it to keep filling a block with what its gas used left
    /// over once the planned items ran (transactions use less gas than their limit).
    pub fn assemble(
        &self,
        parent: &Header,
        parent_hash: B256,
        params: &BlockParams,
    ) -> Result<BlockAssembler<'_>, ExecError> {
        if params.number != parent.number + 1 {
            return Err(ExecError::InvalidParams(format!(
                "block {} does not follow parent {}",
                params.number, parent.number
            )));
        }
        self.assemble_inspected(parent, parent_hash, params, None, NoOpInspector)
    }

    /// [`Self::assemble`] on the state after block `state_block` (None: the head), with
    /// `inspector` on the EVM for the transactions pushed with
    /// [`BlockAssembler::push_inspected`]: how a past block is replayed for tracing.
    pub fn assemble_inspected<I>(
        &self,
        parent: &Header,
        parent_hash: B256,
        params: &BlockParams,
        state_block: Option<u64>,
        inspector: I,
    ) -> Result<BlockAssembler<'_, I>, ExecError> {
        if params.number != parent.number + 1 {
            return Err(ExecError::InvalidParams(format!(
                "block {} does not follow parent {}",
                params.number, parent.number
            )));
        }
        let state: &StateDb = &self.state;
        let prevrandao = self.prevrandao(params, parent_hash);
        let cfg = self.cfg_env(params);
        let spec = cfg.spec;
        let evm = Context::mainnet()
            .with_db(CacheDB::new(StateAt {
                state,
                block: state_block,
            }))
            .with_cfg(cfg)
            .with_block(self.block_env(params, prevrandao))
            .build_mainnet_with_inspector(inspector);
        let mut block = BlockAssembler {
            state,
            parent_hash,
            prevrandao,
            params: params.clone(),
            spec,
            rules: self.rules.clone(),
            evm,
            l1_pricing: None,
            asm: Assembly {
                op_fees: self.rules.op_fees,
                ..Default::default()
            },
            skipped: Vec::new(),
            bundles: Vec::new(),
        };
        block.pre_block()?;
        Ok(block)
    }
}

/// A block being executed: items go in one by one, then [`BlockAssembler::seal`] computes the
/// roots and the header. Nothing is written. `I` is the EVM's inspector, which only
/// [`BlockAssembler::push_inspected`] runs.
pub struct BlockAssembler<'s, I = NoOpInspector> {
    state: &'s StateDb,
    parent_hash: B256,
    prevrandao: B256,
    params: BlockParams,
    /// The fork the block runs under.
    spec: SpecId,
    rules: Arc<ChainRules>,
    pub(crate) evm: BlockEvm<'s, I>,
    /// L1Block's values, read once for the transactions after the last deposit (the
    /// L1-attributes deposit is the only writer).
    l1_pricing: Option<L1FeeParams>,
    pub(crate) asm: Assembly,
    pub(crate) skipped: Vec<(B256, Skipped)>,
    bundles: Vec<(B256, BundleResult)>,
}

impl<I> std::fmt::Debug for BlockAssembler<'_, I> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockAssembler")
            .field("number", &self.params.number)
            .field("gas_used", &self.asm.cumulative_gas)
            .finish_non_exhaustive()
    }
}

impl<I> BlockAssembler<'_, I> {
    /// Ethereum's calls before the transactions, on every chain: EIP-4788 stores the parent
    /// beacon block root (from Cancun), EIP-2935 the parent's hash (from Prague). Ordo's
    /// blocks name their L1 origin's beacon root, as OP Stack's do (zero without an L1).
    /// On a chain whose genesis predates these contracts the calls find no code and change
    /// nothing.
    fn pre_block(&mut self) -> Result<(), ExecError> {
        let beacon_root = match &self.params.ethereum {
            Some(e) => e.header.parent_beacon_block_root,
            None if self.rules.op_fees => Some(self.params.beacon_root),
            None => None,
        };
        if self.spec >= SpecId::CANCUN
            && let Some(root) = beacon_root
        {
            self.system_call(
                alloy_eips::eip4788::BEACON_ROOTS_ADDRESS,
                Bytes::copy_from_slice(root.as_slice()),
            )?;
        }
        if self.spec >= SpecId::PRAGUE && self.params.number > 0 {
            self.system_call(
                alloy_eips::eip2935::HISTORY_STORAGE_ADDRESS,
                Bytes::copy_from_slice(self.parent_hash.as_slice()),
            )?;
        }
        Ok(())
    }

    /// Runs a system contract as the system address (no fees, no nonce) and keeps what it
    /// changed; returns its output.
    fn system_call(&mut self, contract: Address, data: Bytes) -> Result<Bytes, ExecError> {
        use revm::handler::SystemCallEvm;
        match self
            .evm
            .system_call_one(contract, data)
            .map_err(ExecError::from_evm)?
        {
            ExecutionResult::Success { output, .. } => Ok(output.into_data()),
            other => Err(ExecError::Invalid(format!(
                "system call to {contract} failed: {other:?}"
            ))),
        }
    }
}

impl<'s, I: Inspector<BlockCtx<'s>>> BlockAssembler<'s, I> {
    /// Executes one plan item: a transaction is included or skipped (recorded with why), a
    /// bundle lands whole or is dropped (recorded with its result).
    pub fn push(&mut self, item: &BlockItem) -> Result<(), ExecError> {
        match item {
            BlockItem::Deposit(deposit) => {
                run_deposit(&mut self.evm, deposit, &mut self.asm)?;
                self.l1_pricing = None;
            }
            BlockItem::Tx(tx) => {
                let l1 = self.l1_pricing()?;
                match run_tx(&mut self.evm, &self.params, &l1, tx, &mut self.asm)? {
                    TxRun::Skipped(why) => self.skipped.push((tx.hash, why)),
                    TxRun::Included(_) if self.spec < SpecId::BYZANTIUM => {
                        self.record_intermediate_root()?
                    }
                    TxRun::Included(_) => {}
                }
            }
            BlockItem::Bundle(bundle) => {
                let l1 = self.l1_pricing()?;
                let result = run_bundle(&mut self.evm, &self.params, &l1, bundle, &mut self.asm)?;
                self.bundles.push((bundle.id, result));
            }
        }
        Ok(())
    }

    /// What the L1 data fee is priced with now: L1Block's values in the block's state so far
    /// ([`L1FeeParams::from_l1_block`]).
    fn l1_pricing(&mut self) -> Result<L1FeeParams, ExecError> {
        if let Some(p) = self.l1_pricing {
            return Ok(p);
        }
        if !self.rules.op_fees {
            // Ethereum's rules: no L1 to pay for.
            self.l1_pricing = Some(L1FeeParams::default());
            return Ok(L1FeeParams::default());
        }
        let journal = &self.evm.ctx.journaled_state;
        let p = L1FeeParams::from_l1_block(|i| {
            let key = U256::from(i);
            if let Some(value) = journal
                .inner
                .state
                .get(&L1_BLOCK)
                .and_then(|a| a.storage.get(&key))
            {
                return Ok(value.present_value);
            }
            revm::DatabaseRef::storage_ref(&journal.database, L1_BLOCK, key)
                .map_err(ExecError::State)
        })?;
        self.l1_pricing = Some(p);
        Ok(p)
    }

    /// Gas the block can still use: its limit minus what the included transactions used.
    pub fn gas_left(&self) -> u64 {
        self.params
            .gas_limit
            .saturating_sub(self.asm.cumulative_gas)
    }

    /// Hashes of the transactions included so far, in block order.
    pub fn included(&self) -> &[B256] {
        &self.asm.included
    }

    /// Transactions left out so far, with why (a transaction deferred and later included
    /// by another push stays listed).
    pub fn skipped(&self) -> &[(B256, Skipped)] {
        &self.skipped
    }

    /// Before Byzantium a receipt holds the state root after its transaction (EIP-658
    /// replaced it with a status): the block's changes so far over the parent's state.
    fn record_intermediate_root(&mut self) -> Result<(), ExecError> {
        let journal = &self.evm.ctx.journaled_state;
        let root = self
            .state
            .prepare_changes(
                &journal.inner.state,
                &journal.database.cache,
                &mut BlockCommit::default(),
                self.spec >= SpecId::SPURIOUS_DRAGON,
            )
            .map_err(ExecError::State)?;
        let status = Eip658Value::PostState(root);
        if let Some(r) = self.asm.envelopes.last_mut() {
            r.receipt.receipt.inner.status = status;
        }
        if let Some(r) = self.asm.receipts.last_mut() {
            r.receipt.receipt.receipt.inner.status = status;
        }
        Ok(())
    }

    /// Ethereum's changes after the transactions: the EIP-7685 requests (EIP-6110 deposits
    /// from the deposit contract's logs, EIP-7002 withdrawals and EIP-7251 consolidations
    /// from their system contracts; from Prague), then the balance increments (block and
    /// ommer rewards before the merge, beacon withdrawals from Shanghai). Returns the
    /// requests' hash (None before Prague).
    fn post_block(&mut self) -> Result<Option<B256>, ExecError> {
        if self.rules.op_fees {
            return Ok((self.spec >= SpecId::PRAGUE).then_some(EMPTY_REQUESTS_HASH));
        }
        let requests_hash = if self.spec >= SpecId::PRAGUE {
            let mut requests = alloy_eips::eip7685::Requests::default();
            if let Some(contract) = self.rules.deposit_contract {
                let mut deposits = Vec::new();
                alloy_evm::eth::eip6110::accumulate_deposits_from_logs(
                    contract,
                    self.asm.envelopes.iter().flat_map(|r| r.logs()),
                    &mut deposits,
                )
                .map_err(|e| ExecError::Invalid(e.to_string()))?;
                if !deposits.is_empty() {
                    requests.push_request_with_type(
                        alloy_eips::eip6110::DEPOSIT_REQUEST_TYPE,
                        deposits,
                    );
                }
            }
            for (ty, contract) in [
                (
                    alloy_eips::eip7002::WITHDRAWAL_REQUEST_TYPE,
                    alloy_eips::eip7002::WITHDRAWAL_REQUEST_PREDEPLOY_ADDRESS,
                ),
                (
                    alloy_eips::eip7251::CONSOLIDATION_REQUEST_TYPE,
                    alloy_eips::eip7251::CONSOLIDATION_REQUEST_PREDEPLOY_ADDRESS,
                ),
            ] {
                let output = self.system_call(contract, Bytes::new())?;
                if !output.is_empty() {
                    requests.push_request_with_type(ty, output);
                }
            }
            Some(requests.requests_hash())
        } else {
            None
        };
        let extras = self.params.ethereum.as_ref().map(|e| &e.extras);
        let ommers = extras.map(|e| e.ommers.as_slice()).unwrap_or_default();
        let withdrawals = extras.and_then(|e| e.withdrawals.as_deref());
        let increments = alloy_evm::block::state_changes::post_block_balance_increments(
            &*self.rules,
            &self.evm.ctx.block,
            ommers,
            withdrawals.map(|w| w.as_slice()),
        );
        let journal = &mut self.evm.ctx.journaled_state;
        for (address, amount) in increments {
            journal
                .balance_incr(address, U256::from(amount))
                .map_err(ExecError::State)?;
        }
        journal.commit_tx();
        Ok(requests_hash)
    }

    /// Computes the state changes, the roots and the header.
    pub fn seal(mut self, provenance: Provenance) -> Result<BuiltBlock, ExecError> {
        let requests_hash = self.post_block()?;
        let Self {
            state,
            parent_hash,
            prevrandao,
            params,
            spec,
            rules,
            mut evm,
            asm,
            skipped,
            bundles,
            ..
        } = self;
        let changes = evm.finalize();
        let mut commit = BlockCommit::default();
        let root_started = std::time::Instant::now();
        let state_root = state
            .prepare_changes(
                &changes,
                &evm.ctx.journaled_state.database.cache,
                &mut commit,
                spec >= SpecId::SPURIOUS_DRAGON,
            )
            .map_err(ExecError::State)?;
        let root_time = root_started.elapsed();

        let mut logs_bloom = Bloom::default();
        for r in &asm.envelopes {
            logs_bloom.accrue_bloom(r.logs_bloom());
        }
        let transactions_root =
            alloy_trie::root::ordered_trie_root_with_encoder(&asm.block_tx, |t, out| {
                out.extend_from_slice(t.encoded())
            });
        let mut header = Header {
            parent_hash,
            beneficiary: params.beneficiary,
            state_root,
            transactions_root,
            receipts_root: calculate_receipt_root(&asm.envelopes),
            logs_bloom,
            gas_used: asm.cumulative_gas,
            mix_hash: prevrandao,
            requests_hash,
            parent_beacon_block_root: Some(params.beacon_root),
            ..empty_header(
                params.number,
                params.gas_limit,
                params.timestamp,
                params.base_fee,
                params.extra_data.clone(),
            )
        };
        // An Ethereum block's header has the fields its fork has, and its proof of work or
        // beacon facts as given.
        let extras = params
            .ethereum
            .as_ref()
            .filter(|_| !rules.op_fees)
            .map(|e| {
                let given = &e.header;
                header.difficulty = given.difficulty;
                header.nonce = given.nonce;
                header.ommers_hash =
                    alloy_consensus::proofs::calculate_ommers_root(&e.extras.ommers);
                header.base_fee_per_gas = (spec >= SpecId::LONDON).then_some(params.base_fee);
                header.withdrawals_root = (spec >= SpecId::SHANGHAI).then(|| {
                    alloy_consensus::proofs::calculate_withdrawals_root(
                        e.extras
                            .withdrawals
                            .as_deref()
                            .map_or(&[][..], |w| w.as_slice()),
                    )
                });
                let cancun = spec >= SpecId::CANCUN;
                header.blob_gas_used = cancun.then_some(asm.blob_gas_used);
                header.excess_blob_gas = cancun.then(|| given.excess_blob_gas.unwrap_or_default());
                header.parent_beacon_block_root = given.parent_beacon_block_root.filter(|_| cancun);
                e.extras.clone()
            });
        let block = BlockRecord {
            hash: header.hash_slow(),
            header,
            transactions: asm.block_tx.iter().map(|t| t.encoded().clone()).collect(),
            senders: asm.block_tx.iter().map(BodyTx::sender).collect(),
            tx_hashes: asm.block_tx.iter().map(BodyTx::hash).collect(),
            provenance,
            l1_origin: None,
            extras,
        };
        commit.block = Some(block.clone());
        commit.receipts = asm.receipts;
        Ok(BuiltBlock {
            block,
            commit,
            included: asm.included,
            skipped,
            bundles,
            root_time,
        })
    }
}

/// The EVM's context while a block executes: the state it starts from, behind a write cache.
pub(crate) type BlockCtx<'s> = revm::handler::MainnetContext<CacheDB<StateAt<'s>>>;
pub(crate) type BlockEvm<'s, I> = revm::MainnetEvm<BlockCtx<'s>, I>;

/// Runs a signed transaction as OP Stack does: its L1 data fee (priced with `l1`) comes off
/// the sender's balance before anything else, so the balance must cover it besides gas and
/// value (else it waits, as for gas), and stays paid even if the call reverts; once it ran,
/// the L1 fee goes to the L1 fee vault and the base fee (which Ethereum burns) to the base
/// fee vault, while the tip goes to the block's fee recipient as on Ethereum.
fn run_tx<'s, I: Inspector<BlockCtx<'s>>>(
    evm: &mut BlockEvm<'s, I>,
    params: &BlockParams,
    l1: &L1FeeParams,
    tx: &Arc<PooledTx>,
    asm: &mut Assembly,
) -> Result<TxRun, ExecError> {
    if asm.cumulative_gas.saturating_add(tx.gas_limit()) > params.gas_limit {
        return Ok(TxRun::Skipped(Skipped::Deferred(
            "block gas limit reached".into(),
        )));
    }
    let size = tx.encoded.len() as u64;
    if params
        .max_tx_bytes
        .is_some_and(|max| asm.tx_bytes.saturating_add(size) > max)
    {
        return Ok(TxRun::Skipped(Skipped::Deferred(
            "block data limit reached (L1 posting is behind)".into(),
        )));
    }
    let l1_fee = ordo_primitives::l1_fee(&tx.encoded, l1);
    if !l1_fee.is_zero() {
        let journal = &mut evm.ctx.journaled_state;
        let paid = journal
            .load_account_mut(tx.sender)
            .map_err(ExecError::State)?
            .data
            .decr_balance(l1_fee);
        if !paid {
            // Nothing of this transaction stays (not even the sender's warmth).
            journal.discard_tx();
            return Ok(TxRun::Skipped(Skipped::Deferred(format!(
                "insufficient funds for the L1 data fee ({l1_fee} wei)"
            ))));
        }
    }
    // Part of the transaction's journal: if it cannot execute, the fee comes back with it.
    let tx_env = TxEnv::from_recovered_tx(&tx.tx, tx.sender);
    let result = match execute(evm, tx_env, asm) {
        Ok(result) => result,
        Err(err) => {
            let why = match classify(err).map_err(ExecError::State)? {
                Skipped::Deferred(m) if !l1_fee.is_zero() && m.starts_with("lack of funds") => {
                    Skipped::Deferred(format!("{m} once the L1 data fee ({l1_fee} wei) is paid"))
                }
                why => why,
            };
            return Ok(TxRun::Skipped(why));
        }
    };
    if asm.inspect {
        asm.inspected_result = Some(result.clone());
    }
    let gas_used = result.tx_gas_used();
    let base_fee_paid = U256::from(params.base_fee) * U256::from(gas_used);
    let journal = &mut evm.ctx.journaled_state;
    for (vault, amount) in [(L1_FEE_VAULT, l1_fee), (BASE_FEE_VAULT, base_fee_paid)] {
        if asm.op_fees && !amount.is_zero() {
            journal
                .balance_incr(vault, amount)
                .map_err(ExecError::State)?;
        }
    }
    journal.commit_tx();
    asm.cumulative_gas += gas_used;
    asm.blob_gas_used += tx.tx.blob_gas_used().unwrap_or_default();
    let (success, logs, created) = match result {
        ExecutionResult::Success { logs, output, .. } => (true, logs, output.address().copied()),
        ExecutionResult::Revert { .. } | ExecutionResult::Halt { .. } => (false, Vec::new(), None),
    };
    let n_logs = logs.len() as u64;
    let effective_gas_price = tx.tx.effective_gas_price(Some(params.base_fee));
    let contract_address = if tx.tx.is_create() {
        created.unwrap_or_else(|| tx.sender.create(tx.nonce()))
    } else {
        Address::ZERO
    };
    let envelope = receipt_envelope(
        &tx.tx,
        Eip658Value::Eip658(success),
        asm.cumulative_gas,
        &logs,
    );
    asm.envelopes.push(envelope.clone());
    asm.receipts.push(ReceiptRecord {
        receipt: envelope,
        gas_used,
        effective_gas_price,
        contract_address,
        first_log_index: asm.log_index,
        // A chain that never had an L1 origin prices nothing: its receipts say nothing of
        // an L1 fee (an Ethereum receipt's shape), as on an L1.
        l1_fee: (*l1 != L1FeeParams::default()).then(|| L1FeeCharged {
            fee: l1_fee,
            gas_used: ordo_primitives::l1_gas_used(&tx.encoded),
            params: *l1,
        }),
    });
    asm.log_index += n_logs;
    asm.included.push(tx.hash);
    asm.tx_bytes += size;
    asm.block_tx.push(BodyTx::Signed(tx.clone()));
    Ok(TxRun::Included(success))
}

/// Runs one transaction, under the inspector when the assembly asks (keeping what it ran).
fn execute<'s, I: Inspector<BlockCtx<'s>>>(
    evm: &mut BlockEvm<'s, I>,
    tx_env: TxEnv,
    asm: &mut Assembly,
) -> Result<ExecutionResult, EVMError<StateError, InvalidTransaction>> {
    if !asm.inspect {
        return evm.transact_one(tx_env);
    }
    // The result is kept by the caller once the transaction is in.
    asm.inspected_env = Some(tx_env.clone());
    evm.inspect_one_tx(tx_env)
}

/// Runs a deposit as OP Stack does: `mint` is credited to the sender first and stays
/// whatever happens next; the call runs from the sender with its value and gas limit at a
/// gas price of zero (no base fee, no tip); the sender's nonce goes up even when the call
/// cannot run at all (then it is included with status 0 and its whole gas limit used).
fn run_deposit<'s, I: Inspector<BlockCtx<'s>>>(
    evm: &mut BlockEvm<'s, I>,
    deposit: &Arc<DepositTx>,
    asm: &mut Assembly,
) -> Result<(), ExecError> {
    let tx = &deposit.tx;
    let journal = &mut evm.ctx.journaled_state;
    if tx.mint > 0 {
        journal
            .balance_incr(tx.from, U256::from(tx.mint))
            .map_err(ExecError::State)?;
        // Committed on its own: a deposit that cannot run discards its transaction's
        // journal, and the mint must survive that.
        journal.commit_tx();
    }
    let nonce = journal
        .load_account(tx.from)
        .map_err(ExecError::State)?
        .data
        .info
        .nonce;
    let tx_env = TxEnv {
        tx_type: 0,
        caller: tx.from,
        gas_limit: tx.gas_limit,
        gas_price: 0,
        kind: tx.to,
        value: tx.value,
        data: tx.input.clone(),
        nonce,
        chain_id: None,
        gas_priority_fee: None,
        ..Default::default()
    };
    // Deposits pay nothing: the base fee rule is off for this one transaction.
    let base_fee_rule = std::mem::replace(&mut evm.ctx.cfg.disable_base_fee, true);
    let result = execute(evm, tx_env, asm);
    evm.ctx.cfg.disable_base_fee = base_fee_rule;
    if asm.inspect
        && let Ok(result) = &result
    {
        asm.inspected_result = Some(result.clone());
    }
    let (success, gas_used, logs, created) = match result {
        Ok(result) => {
            let gas_used = result.tx_gas_used();
            match result {
                ExecutionResult::Success { logs, output, .. } => {
                    (true, gas_used, logs, output.address().copied())
                }
                ExecutionResult::Revert { .. } | ExecutionResult::Halt { .. } => {
                    (false, gas_used, Vec::new(), None)
                }
            }
        }
        Err(EVMError::Database(e)) => return Err(ExecError::State(e)),
        Err(_) => {
            let mut account = evm
                .ctx
                .journaled_state
                .load_account_mut(tx.from)
                .map_err(ExecError::State)?
                .data;
            account.bump_nonce();
            account.touch();
            // Committed at once: left open, the next transaction's discard (one that cannot
            // run, or cannot pay its L1 fee) would take the bump back, and a replay without
            // that transaction would keep it: two states for one block.
            evm.ctx.journaled_state.commit_tx();
            if asm.inspect {
                // A trace of it shows what the receipt says: all its gas, nothing done.
                asm.inspected_result = Some(ExecutionResult::Halt {
                    reason: revm::context::result::HaltReason::OutOfGas(
                        revm::context::result::OutOfGasError::Basic,
                    ),
                    gas: revm::context::result::ResultGas::default()
                        .with_total_gas_spent(tx.gas_limit),
                    logs: Vec::new(),
                });
            }
            (false, tx.gas_limit, Vec::new(), None)
        }
    };
    asm.cumulative_gas = asm.cumulative_gas.saturating_add(gas_used);
    let contract_address = if tx.to.is_create() {
        created.unwrap_or_else(|| tx.from.create(nonce))
    } else {
        Address::ZERO
    };
    let n_logs = logs.len() as u64;
    let envelope = OrdoReceiptEnvelope::from_parts(
        Eip658Value::Eip658(success),
        asm.cumulative_gas,
        &logs,
        ordo_primitives::DEPOSIT_TX_TYPE,
        Some(nonce),
        Some(1),
    );
    asm.envelopes.push(envelope.clone());
    asm.receipts.push(ReceiptRecord {
        receipt: envelope,
        gas_used,
        effective_gas_price: 0,
        contract_address,
        first_log_index: asm.log_index,
        l1_fee: None,
    });
    asm.log_index += n_logs;
    asm.included.push(deposit.hash);
    asm.block_tx.push(BodyTx::Deposit(deposit.clone()));
    Ok(())
}

fn coinbase_balance<I>(evm: &BlockEvm<'_, I>, coinbase: Address) -> Result<U256, ExecError> {
    let journal = &evm.ctx.journaled_state;
    if let Some(account) = journal.inner.state.get(&coinbase) {
        return Ok(account.info.balance);
    }
    Ok(revm::DatabaseRef::basic_ref(&journal.database, coinbase)
        .map_err(ExecError::State)?
        .map(|a| a.balance)
        .unwrap_or_default())
}

fn run_bundle<'s, I: Inspector<BlockCtx<'s>>>(
    evm: &mut BlockEvm<'s, I>,
    params: &BlockParams,
    l1: &L1FeeParams,
    bundle: &BundleItem,
    asm: &mut Assembly,
) -> Result<BundleResult, ExecError> {
    if let Some(target) = bundle.after
        && asm.included.last() != Some(&target)
    {
        return Ok(BundleResult::Dropped(if asm.included.contains(&target) {
            DropReason::TargetTaken(target)
        } else {
            DropReason::TargetMissing(target)
        }));
    }
    let gas = bundle
        .txs
        .iter()
        .fold(0u64, |sum, t| sum.saturating_add(t.gas_limit()));
    let bytes = bundle
        .txs
        .iter()
        .fold(0u64, |sum, t| sum.saturating_add(t.encoded.len() as u64));
    if asm.cumulative_gas.saturating_add(gas) > params.gas_limit
        || params
            .max_tx_bytes
            .is_some_and(|max| asm.tx_bytes.saturating_add(bytes) > max)
    {
        return Ok(BundleResult::Dropped(DropReason::DoesNotFit));
    }
    // Across transactions revm's journal keeps only the accumulated state (each
    // transaction's entries are cleared when it commits), so undoing a bundle means
    // putting back a copy of that state.
    let saved = evm.ctx.journaled_state.inner.state.clone();
    let mark = asm.mark();
    let before = coinbase_balance(evm, params.beneficiary)?;
    let mut failure = None;
    for (i, tx) in bundle.txs.iter().enumerate() {
        match run_tx(evm, params, l1, tx, asm)? {
            TxRun::Included(true) => {}
            TxRun::Included(false) if bundle.reverting_tx_hashes.contains(&tx.hash) => {}
            TxRun::Included(false) => {
                failure = Some(DropReason::Reverted {
                    index: i,
                    hash: tx.hash,
                });
                break;
            }
            TxRun::Skipped(Skipped::Invalid(why) | Skipped::Deferred(why)) => {
                failure = Some(DropReason::Invalid {
                    index: i,
                    hash: tx.hash,
                    why,
                });
                break;
            }
        }
    }
    if let Some(why) = failure {
        evm.ctx.journaled_state.inner.state = saved;
        asm.reset(mark);
        return Ok(BundleResult::Dropped(why));
    }
    let after = coinbase_balance(evm, params.beneficiary)?;
    Ok(BundleResult::Landed {
        gas_used: asm.cumulative_gas - mark.cumulative_gas,
        coinbase_diff: after.saturating_sub(before),
    })
}

/// A post-Prague header with the fields Ordo keeps constant (no uncles, withdrawals, blobs
/// or requests), a zero beacon root and empty roots; callers fill in the rest.
pub(crate) fn empty_header(
    number: u64,
    gas_limit: u64,
    timestamp: u64,
    base_fee: u64,
    extra_data: Bytes,
) -> Header {
    Header {
        ommers_hash: EMPTY_OMMER_ROOT_HASH,
        transactions_root: EMPTY_ROOT_HASH,
        receipts_root: EMPTY_ROOT_HASH,
        number,
        gas_limit,
        timestamp,
        extra_data,
        base_fee_per_gas: Some(base_fee),
        withdrawals_root: Some(EMPTY_ROOT_HASH),
        blob_gas_used: Some(0),
        excess_blob_gas: Some(0),
        parent_beacon_block_root: Some(B256::ZERO),
        requests_hash: Some(EMPTY_REQUESTS_HASH),
        ..Default::default()
    }
}
