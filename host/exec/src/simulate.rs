//! `eth_simulateV1` (execution-apis): blocks of calls on top of a block's state, each block
//! with its own block and state overrides, every call seeing the ones before it. Nothing is
//! written: the state lives in one throw-away cache over the starting block's.
//!
//! It answers as geth does, block hashes included: numbers and times must increase (a
//! missing number is the previous plus 1, a missing time the previous plus 12 s) and a gap
//! in the numbers is filled with empty blocks; a block's fee recipient and gas limit carry
//! over, its PREVRANDAO is zero unless overridden, its base fee zero without validation and
//! the parent's next with it. Each block starts with the beacon-root and block-hash system
//! calls, as a real block does, with a zero beacon root, as geth's simulated blocks have. A call's sender defaults to the zero address,
//! its nonce to the sender's, its gas to what the block has left, at most what the request's
//! one gas pool has left; no price is a price of zero; the transaction it stands for is built
//! from those fields, unsigned, so its hash is geth's. `validation` holds the rules of a
//! real block (nonces, fees, balances) and a call that breaks one fails the request with the
//! spec's code. `traceTransfers` adds an ERC-20 style `Transfer` log from `0xEeee…EEeE` for
//! every ether transfer (revm-inspectors' `TransferInspector`; the answer's, not the
//! receipt's). State overrides may move precompiles (`movePrecompileToAddress`). A revert or
//! halt is the call's result, not an error. The state root is computed over the head's trie
//! (zero on a simulation over an older block, whose trie is not kept).

use std::time::Instant;

use alloy_consensus::{EthereumTxEnvelope, Header, TxEip4844, proofs::calculate_receipt_root};
use alloy_eips::eip2718::Encodable2718;
use alloy_evm::{EvmEnv, overrides::apply_state_overrides, rpc::TryIntoTxEnv};
use alloy_primitives::{Address, B256, Bloom, Bytes};
use alloy_rpc_types_eth::simulate::SimulatePayload;
use ordo_primitives::{BlockRecord, OrdoReceiptEnvelope};
use revm::{
    Context, DatabaseCommit, DatabaseRef, InspectEvm, MainBuilder, MainContext,
    context::result::{EVMError, ExecutionResult, InvalidTransaction},
    database::CacheDB,
    primitives::hardfork::SpecId,
    state::EvmState,
};
use revm_inspectors::transfer::TransferInspector;

use crate::{BlockParams, DeadlineInspector, ExecError, Executor, state::StateAt};

/// The most blocks one request may simulate (the spec's limit).
pub const MAX_SIMULATED_BLOCKS: usize = 256;

/// How one call ended.
#[derive(Debug, Clone)]
pub struct SimulatedCall {
    /// The EVM's result (success, revert or halt, with logs and gas).
    pub result: ExecutionResult,
    /// Ether transfers traced during the call (`traceTransfers`), kept or not: a failed
    /// call's are dropped with its logs, yet geth's log indices still count them.
    pub traced_transfers: usize,
}

/// One simulated block: the block as a stored one would read (header, its transactions with
/// a dummy signature, their senders and hashes) and each call's result.
#[derive(Debug, Clone)]
pub struct SimulatedBlock {
    /// The block.
    pub block: BlockRecord,
    /// One per call, in order.
    pub calls: Vec<SimulatedCall>,
}

/// Why a simulation failed as a whole: the spec's error code and message.
#[derive(Debug, thiserror::Error)]
pub enum SimulateFailure {
    /// A rule of the request or of a block broken (the spec's `-380xx` codes, or `-32602`).
    #[error("{message}")]
    Invalid {
        /// The spec's code.
        code: i32,
        /// What broke.
        message: String,
    },
    /// The execution itself failed (storage, the deadline).
    #[error(transparent)]
    Exec(#[from] ExecError),
}

fn invalid(code: i32, message: impl Into<String>) -> SimulateFailure {
    SimulateFailure::Invalid {
        code,
        message: message.into(),
    }
}

/// A transaction `validation` refuses, as the spec numbers it.
fn refused(err: EVMError<crate::StateError, InvalidTransaction>) -> SimulateFailure {
    let message = err.to_string();
    let code = match &err {
        EVMError::Database(_) => return SimulateFailure::Exec(ExecError::from_evm(err)),
        EVMError::Transaction(t) => match t {
            InvalidTransaction::NonceTooLow { .. } => -38010,
            InvalidTransaction::NonceTooHigh { .. } => -38011,
            InvalidTransaction::GasPriceLessThanBasefee => -38012,
            InvalidTransaction::CallGasCostMoreThanGasLimit { .. } => -38013,
            InvalidTransaction::LackOfFundForMaxFee { .. } => -38014,
            InvalidTransaction::CallerGasLimitMoreThanBlock => -38015,
            _ => -32000,
        },
        _ => -32000,
    };
    invalid(code, message)
}

impl Executor {
    /// Simulates `payload` on the state after `params.state_block` (None: the head), the first
    /// block following `parent` with `params` (its time, limit, coinbase, difficulty).
    pub fn simulate(
        &self,
        parent: &Header,
        params: &BlockParams,
        payload: &SimulatePayload,
        deadline: Instant,
    ) -> Result<Vec<SimulatedBlock>, SimulateFailure> {
        let validation = payload.validation;
        let blocks = sanitize_chain(parent, &payload.block_state_calls)?;
        let mut db = CacheDB::new(StateAt {
            state: &self.state,
            block: params.state_block,
        });
        // Everything the simulation changed, for the state roots.
        let mut changed = EvmState::default();
        // The roots are computed over the head's stored state (the read pool's reads of an
        // older block have no trie to walk): on a simulation over an older block they are
        // zero.
        let at_head = params.state_block.is_none_or(|n| self.state.is_head(n));
        let mut out = Vec::with_capacity(blocks.len());
        // geth's gas pool: every call of the request draws on one RPC gas cap.
        let mut pool_left = crate::CALL_GAS_CAP;
        let mut prev = parent.clone();
        let mut prev_hash = parent.hash_slow();
        // A simulated block's fee recipient and gas limit are the previous one's unless
        // overridden (the first follows `params`).
        let (mut coinbase, mut gas_limit) = (params.beneficiary, params.gas_limit);
        for (o, sim) in blocks {
            let number: u64 = o.number.map_or(prev.number + 1, |n| n.saturating_to());
            let timestamp = o.time.unwrap_or(prev.timestamp + TIMESTAMP_INCREMENT);
            let spec = self.rules.spec_at(number, timestamp);
            let base_fee = match o.base_fee {
                Some(fee) => fee.saturating_to(),
                // With validation the base fee follows the parent, as in a real block;
                // without it calls are free, so the base fee is zero.
                None if validation => prev
                    .next_block_base_fee(alloy_eips::eip1559::BaseFeeParams::ethereum())
                    .unwrap_or(params.base_fee),
                None => 0,
            };
            let excess_blob_gas = match self.rules.blob_params_at(timestamp) {
                Some(blobs) if prev.excess_blob_gas.is_some() => {
                    prev.next_block_excess_blob_gas(blobs).unwrap_or_default()
                }
                _ => 0,
            };
            let block_params = BlockParams {
                number,
                timestamp,
                beneficiary: o.coinbase.unwrap_or(coinbase),
                gas_limit: o.gas_limit.unwrap_or(gas_limit),
                base_fee,
                extra_data: Bytes::new(),
                state_block: params.state_block,
                max_tx_bytes: None,
                beacon_root: B256::ZERO,
                ethereum: Some(std::sync::Arc::new(crate::EthereumParts {
                    header: Header {
                        difficulty: params
                            .ethereum
                            .as_ref()
                            .map(|e| e.header.difficulty)
                            .unwrap_or_default(),
                        mix_hash: o.random.unwrap_or_default(),
                        excess_blob_gas: Some(excess_blob_gas),
                        parent_beacon_block_root: Some(B256::ZERO),
                        ..Default::default()
                    },
                    extras: Default::default(),
                })),
            };
            let mut precompile_edits = Vec::new();
            if let Some(overrides) = &sim.state_overrides {
                precompile_edits = edit_precompiles(spec, overrides)?;
                apply_state_overrides(overrides.clone(), &mut db)
                    .map_err(|e| invalid(-32602, e.to_string()))?;
                record_overrides(&db, overrides, &mut changed);
            }
            // geth's simulated blocks: PREVRANDAO as overridden, else zero.
            let prevrandao = o.random.unwrap_or_default();
            let mut cfg = self.cfg_env(&block_params);
            cfg.disable_eip3607 = true;
            // A simulated call may use more gas than a transaction may have (EIP-7825), as
            // geth lets it: the request's gas pool bounds it.
            cfg.tx_gas_limit_cap = Some(u64::MAX);
            if !validation {
                cfg.disable_nonce_check = true;
                cfg.disable_base_fee = true;
            }
            let mut block_env = self.block_env(&block_params, prevrandao);
            if let Some(fee) = o.blob_base_fee {
                block_env.blob_excess_gas_and_price =
                    Some(revm::context_interface::block::BlobExcessGasAndPrice {
                        excess_blob_gas,
                        blob_gasprice: fee.saturating_to(),
                    });
            }
            let env = EvmEnv::new(cfg, block_env);
            {
                // Like every block, a simulated one starts with the beacon-root (zero here,
                // as geth's simulated blocks have) and block-hash system calls.
                let mut calls = Vec::new();
                if spec >= SpecId::CANCUN {
                    calls.push((
                        alloy_eips::eip4788::BEACON_ROOTS_ADDRESS,
                        Bytes::copy_from_slice(B256::ZERO.as_slice()),
                    ));
                }
                if spec >= SpecId::PRAGUE {
                    calls.push((
                        alloy_eips::eip2935::HISTORY_STORAGE_ADDRESS,
                        Bytes::copy_from_slice(prev_hash.as_slice()),
                    ));
                }
                for (contract, data) in calls {
                    let mut evm = Context::mainnet()
                        .with_db(&mut db)
                        .with_cfg(env.cfg_env.clone())
                        .with_block(env.block_env.clone())
                        .build_mainnet();
                    let done = revm::handler::SystemCallEvm::system_call(&mut evm, contract, data)
                        .map_err(|e| SimulateFailure::Exec(ExecError::from_evm(e)))?;
                    drop(evm);
                    db.commit(done.state.clone());
                    merge_changes(&mut changed, done.state);
                }
            }
            let mut gas_used = 0u64;
            let mut blob_gas_used = 0u64;
            let mut calls = Vec::with_capacity(sim.calls.len());
            let mut envelopes = Vec::with_capacity(sim.calls.len());
            let mut receipts = Vec::with_capacity(sim.calls.len());
            for request in &sim.calls {
                if Instant::now() >= deadline {
                    return Err(ExecError::TimedOut.into());
                }
                let mut request = request.clone();
                let from = request.from.unwrap_or(Address::ZERO);
                request.from = Some(from);
                let state_nonce = db
                    .basic_ref(from)
                    .map_err(ExecError::State)?
                    .map(|a| a.nonce)
                    .unwrap_or_default();
                let nonce = *request.nonce.get_or_insert(state_nonce);
                // geth checks the nonce before anything else and has no code of its own for
                // one that cannot grow: the request fails as an internal error.
                if validation && nonce == u64::MAX && state_nonce == u64::MAX {
                    return Err(invalid(
                        -32603,
                        format!("err: nonce has max value: address {from}, nonce: {nonce}"),
                    ));
                }
                // Gas: what the block has left unless given, at most what the request's
                // gas pool has left.
                let left = block_params.gas_limit.saturating_sub(gas_used);
                let gas = request.gas.unwrap_or(left);
                if gas_used.saturating_add(gas) > block_params.gas_limit {
                    return Err(invalid(
                        -38015,
                        format!(
                            "block gas limit reached: {gas_used} >= {}",
                            block_params.gas_limit
                        ),
                    ));
                }
                request.gas = Some(gas.min(pool_left));
                match request.chain_id {
                    Some(id) if id != self.chain_id => {
                        return Err(invalid(
                            -32602,
                            format!(
                                "chainId does not match node's (have={id}, want={})",
                                self.chain_id
                            ),
                        ));
                    }
                    _ => request.chain_id = Some(self.chain_id),
                }
                request.to.get_or_insert(alloy_primitives::TxKind::Create);
                request.value.get_or_insert_default();
                if request.gas_price.is_none() {
                    // geth's defaults: no price given is a price of zero.
                    request.max_fee_per_gas.get_or_insert(0);
                    request.max_priority_fee_per_gas.get_or_insert(0);
                }
                if request.blob_versioned_hashes.is_some() {
                    request.max_fee_per_blob_gas.get_or_insert(0);
                } else {
                    // A blob fee without blobs does not make a blob transaction (geth
                    // ignores it).
                    request.max_fee_per_blob_gas = None;
                    request.sidecar = None;
                }
                // The transaction the call stands for, as geth builds it from these
                // defaults: its type from its fields, unsigned (a zero signature).
                let tx = request
                    .clone()
                    .build_typed_simulate_transaction()
                    .map_err(|e| invalid(-32602, e.to_string()))?;
                let tx_env = request
                    .clone()
                    .try_into_tx_env(&env)
                    .map_err(|e| invalid(-32602, e.to_string()))?;
                let mut tx_env = tx_env;
                if !validation && tx_env.nonce == u64::MAX {
                    // Unchecked, the nonce only names the transaction (its hash keeps it);
                    // revm would refuse the maximum even so, where geth runs the call.
                    tx_env.nonce = 0;
                }
                let transfers = SimTransfers::new(payload.trace_transfers);
                let mut evm = Context::mainnet()
                    .with_db(&mut db)
                    .with_cfg(env.cfg_env.clone())
                    .with_block(env.block_env.clone())
                    .build_mainnet_with_inspector((transfers, DeadlineInspector::new(deadline)))
                    .with_precompiles(precompiles(spec, &precompile_edits));
                let outcome = evm.inspect_tx(tx_env);
                let fired = evm.inspector.1.fired();
                let traced_transfers = if payload.trace_transfers {
                    evm.inspector.0.inner.transfers().len()
                } else {
                    0
                };
                drop(evm);
                let mut res = outcome.map_err(refused)?;
                if fired {
                    return Err(ExecError::TimedOut.into());
                }
                if !validation
                    && state_nonce == u64::MAX
                    && let Some(sender) = res.state.get_mut(&from)
                    && sender.info.nonce == u64::MAX
                {
                    // geth's unchecked nonce wraps where revm's stops: the next call of
                    // this sender has nonce 0, as in geth.
                    sender.info.nonce = 0;
                }
                db.commit(res.state.clone());
                merge_changes(&mut changed, res.state);
                gas_used += res.result.tx_gas_used();
                pool_left = pool_left.saturating_sub(res.result.tx_gas_used());
                blob_gas_used +=
                    alloy_consensus::Transaction::blob_gas_used(&tx).unwrap_or_default();
                // Traced transfers are the answer's, not the receipt's (geth's tracer adds
                // them beside the state's logs).
                let logs: Vec<_> = res
                    .result
                    .logs()
                    .iter()
                    .filter(|l| !(payload.trace_transfers && l.address == TRANSFER_EMITTER))
                    .cloned()
                    .collect();
                receipts.push(OrdoReceiptEnvelope::from_parts(
                    alloy_consensus::Eip658Value::Eip658(res.result.is_success()),
                    gas_used,
                    &logs,
                    alloy_consensus::Typed2718::ty(&tx),
                    None,
                    None,
                ));
                envelopes.push((tx, from));
                calls.push(SimulatedCall {
                    result: res.result,
                    traced_transfers,
                });
            }
            if !self.rules.op_fees && spec < SpecId::MERGE {
                // Before the merge a block pays its miner (geth's simulated blocks too).
                let increments = alloy_evm::block::state_changes::post_block_balance_increments(
                    &*self.rules,
                    &env.block_env,
                    &[] as &[Header],
                    None,
                );
                for (address, amount) in increments {
                    let info = db
                        .basic_ref(address)
                        .map_err(ExecError::State)?
                        .unwrap_or_default();
                    let mut account = revm::state::Account::from(info);
                    account.info.balance = account
                        .info
                        .balance
                        .saturating_add(alloy_primitives::U256::from(amount));
                    account.mark_touch();
                    let reward: EvmState = [(address, account)].into_iter().collect();
                    db.commit(reward.clone());
                    merge_changes(&mut changed, reward);
                }
            }
            let state_clear = spec >= SpecId::SPURIOUS_DRAGON;
            let state_root = if at_head {
                self.state
                    .prepare_changes(
                        &changed,
                        &revm::database::Cache::default(),
                        &mut ordo_storage::BlockCommit::default(),
                        state_clear,
                    )
                    .map_err(ExecError::State)?
            } else {
                // On an older block: its state rebuilt from the change sets, as a proof
                // there is, with the simulation's changes over it.
                let base = params.state_block.unwrap_or_default();
                self.state
                    .root_after(base, &changed, state_clear)
                    .map_err(ExecError::State)?
            };
            let block = seal(SealParts {
                parent_hash: prev_hash,
                params: &block_params,
                spec,
                prevrandao,
                state_root,
                gas_used,
                blob_gas_used,
                txs: &envelopes,
                receipts: &receipts,
            });
            // BLOCKHASH in a later simulated block answers this one's hash.
            db.cache
                .block_hashes
                .insert(alloy_primitives::U256::from(block.number()), block.hash);
            (coinbase, gas_limit) = (block_params.beneficiary, block_params.gas_limit);
            prev = block.header.clone();
            prev_hash = block.hash;
            out.push(SimulatedBlock { block, calls });
        }
        Ok(out)
    }
}

/// The address traced ether transfers are logged from (ERC-7528's native-asset address).
const TRANSFER_EMITTER: Address = revm_inspectors::transfer::TRANSFER_LOG_EMITTER;

/// revm-inspectors' transfer tracer, plus what geth's also logs: the ether a SELFDESTRUCT
/// sends. revm reports a selfdestruct without access to the journal, so its transfer is
/// logged when the frame that executed it returns.
struct SimTransfers {
    inner: TransferInspector,
    logs: bool,
    selfdestructed: Vec<(Address, Address, alloy_primitives::U256)>,
}

impl SimTransfers {
    fn new(logs: bool) -> Self {
        Self {
            inner: TransferInspector::new(false).with_logs(logs),
            logs,
            selfdestructed: Vec::new(),
        }
    }
}

impl<CTX: revm::context_interface::ContextTr> revm::Inspector<CTX> for SimTransfers {
    fn call(
        &mut self,
        context: &mut CTX,
        inputs: &mut revm::interpreter::CallInputs,
    ) -> Option<revm::interpreter::CallOutcome> {
        self.inner.call(context, inputs)
    }

    fn create(
        &mut self,
        context: &mut CTX,
        inputs: &mut revm::interpreter::CreateInputs,
    ) -> Option<revm::interpreter::CreateOutcome> {
        self.inner.create(context, inputs)
    }

    fn selfdestruct(&mut self, contract: Address, target: Address, value: alloy_primitives::U256) {
        <TransferInspector as revm::Inspector<CTX>>::selfdestruct(
            &mut self.inner,
            contract,
            target,
            value,
        );
        if self.logs && !value.is_zero() {
            self.selfdestructed.push((contract, target, value));
        }
    }

    fn call_end(
        &mut self,
        context: &mut CTX,
        _inputs: &revm::interpreter::CallInputs,
        _outcome: &mut revm::interpreter::CallOutcome,
    ) {
        self.log_selfdestructs(context);
    }

    fn create_end(
        &mut self,
        context: &mut CTX,
        _inputs: &revm::interpreter::CreateInputs,
        _outcome: &mut revm::interpreter::CreateOutcome,
    ) {
        self.log_selfdestructs(context);
    }
}

impl SimTransfers {
    /// Logs the transfers of a frame that ended in SELFDESTRUCT (revm reports them when the
    /// frame returns): after whatever it logged before, as geth orders them.
    fn log_selfdestructs<CTX: revm::context_interface::ContextTr>(&mut self, context: &mut CTX) {
        use revm::context_interface::JournalTr;
        for (from, to, value) in self.selfdestructed.drain(..) {
            context.journal_mut().log(alloy_primitives::Log {
                address: TRANSFER_EMITTER,
                data: alloy_primitives::LogData::new_unchecked(
                    vec![
                        revm_inspectors::transfer::TRANSFER_EVENT_TOPIC,
                        from.into_word(),
                        to.into_word(),
                    ],
                    Bytes::copy_from_slice(B256::from(value).as_slice()),
                ),
            });
        }
    }
}

/// geth's default step between simulated blocks' times.
const TIMESTAMP_INCREMENT: u64 = 12;

/// The blocks to simulate, as geth orders them: numbers and times must increase (a missing
/// number defaults to the previous plus one, a missing time to the previous plus 12 s), and
/// a gap in numbers is filled with empty blocks.
fn sanitize_chain<'a>(
    parent: &Header,
    blocks: &'a [alloy_rpc_types_eth::simulate::SimBlock],
) -> Result<
    Vec<(
        alloy_rpc_types_eth::BlockOverrides,
        std::borrow::Cow<'a, alloy_rpc_types_eth::simulate::SimBlock>,
    )>,
    SimulateFailure,
> {
    use std::borrow::Cow;
    let mut out = Vec::with_capacity(blocks.len());
    let (mut number, mut time) = (parent.number, parent.timestamp);
    for sim in blocks {
        let mut o = sim.block_overrides.clone().unwrap_or_default();
        let n: u64 = o.number.map_or(number + 1, |n| n.saturating_to());
        if n <= number {
            return Err(invalid(
                -38020,
                format!("block numbers must be in order: {n} <= {number}"),
            ));
        }
        if n - parent.number > MAX_SIMULATED_BLOCKS as u64 {
            return Err(invalid(-38026, "too many blocks"));
        }
        for gap in number + 1..n {
            time += TIMESTAMP_INCREMENT;
            let empty = alloy_rpc_types_eth::BlockOverrides {
                number: Some(alloy_primitives::U256::from(gap)),
                time: Some(time),
                ..Default::default()
            };
            out.push((empty, Cow::Owned(Default::default())));
        }
        let t = match o.time {
            None => time + TIMESTAMP_INCREMENT,
            Some(t) if t <= time => {
                return Err(invalid(
                    -38021,
                    format!("block timestamps must be in order: {t} <= {time}"),
                ));
            }
            Some(t) => t,
        };
        o.number = Some(alloy_primitives::U256::from(n));
        o.time = Some(t);
        (number, time) = (n, t);
        out.push((o, Cow::Borrowed(sim)));
    }
    Ok(out)
}

/// One change a block's state overrides make to the precompiles.
enum PrecompileEdit {
    /// The precompile at `from` now answers at `to`.
    Move { from: Address, to: Address },
    /// The address's account is overridden: it is no precompile in this block.
    Remove(Address),
}

/// The precompile changes of a block's overrides, under geth's rules: a precompile can be
/// moved (`movePrecompileToAddress`) but not to an address overridden too, only a precompile
/// can be moved, and an overridden precompile address becomes the account its override says.
fn edit_precompiles(
    spec: SpecId,
    overrides: &alloy_rpc_types_eth::state::StateOverride,
) -> Result<Vec<PrecompileEdit>, SimulateFailure> {
    let active =
        revm::precompile::Precompiles::new(revm::precompile::PrecompileSpecId::from_spec_id(spec));
    let mut edits = Vec::new();
    for (address, o) in overrides {
        let is_precompile = active.contains(address);
        if let Some(to) = o.move_precompile_to {
            if !is_precompile {
                return Err(invalid(
                    -32000,
                    format!("account {address} is not a precompile"),
                ));
            }
            if overrides.contains_key(&to) {
                return Err(invalid(
                    -32000,
                    format!("account {to} is already overridden"),
                ));
            }
            edits.push(PrecompileEdit::Move { from: *address, to });
        } else if is_precompile {
            edits.push(PrecompileEdit::Remove(*address));
        }
    }
    Ok(edits)
}

/// A block's precompiles: the fork's with the block's edits, while the addresses a
/// transaction starts with warm stay the fork's own (as geth warms them, whatever an
/// override moved).
struct SimPrecompiles {
    map: alloy_evm::precompiles::PrecompilesMap,
    warm: &'static alloy_primitives::map::AddressSet,
}

impl<CTX> revm::handler::PrecompileProvider<CTX> for SimPrecompiles
where
    CTX: revm::context_interface::ContextTr,
    alloy_evm::precompiles::PrecompilesMap:
        revm::handler::PrecompileProvider<CTX, Output = revm::interpreter::InterpreterResult>,
{
    type Output = revm::interpreter::InterpreterResult;

    fn set_spec(&mut self, spec: <CTX::Cfg as revm::context_interface::Cfg>::Spec) -> bool {
        self.map.set_spec(spec)
    }

    fn run(
        &mut self,
        context: &mut CTX,
        inputs: &revm::interpreter::CallInputs,
    ) -> Result<Option<Self::Output>, String> {
        self.map.run(context, inputs)
    }

    fn warm_addresses(&self) -> &alloy_primitives::map::AddressSet {
        self.warm
    }

    fn contains(&self, address: &Address) -> bool {
        self.map.contains(address)
    }
}

/// The precompiles of `spec` with a block's edits applied.
fn precompiles(spec: SpecId, edits: &[PrecompileEdit]) -> SimPrecompiles {
    let fork =
        revm::precompile::Precompiles::new(revm::precompile::PrecompileSpecId::from_spec_id(spec));
    let mut map = alloy_evm::precompiles::PrecompilesMap::from_static(fork);
    for edit in edits {
        match edit {
            PrecompileEdit::Move { from, to } => {
                // Checked against the same set when the edits were made.
                let _ = map.move_precompiles([(*from, *to)]);
            }
            PrecompileEdit::Remove(address) => map.apply_precompile(address, |_| None),
        }
    }
    SimPrecompiles {
        map,
        warm: fork.addresses_set(),
    }
}

/// Adds one execution's changes to the simulation's: later values win, and an account
/// destroyed and then touched again starts over.
fn merge_changes(changed: &mut EvmState, changes: EvmState) {
    for (address, account) in changes {
        if !account.is_touched() {
            continue;
        }
        match changed.entry(address) {
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(account);
            }
            std::collections::hash_map::Entry::Occupied(mut e) => {
                let had = e.get_mut();
                if account.is_selfdestructed() || account.is_created() || had.is_selfdestructed() {
                    let mut account = account;
                    if had.is_selfdestructed() && !account.is_selfdestructed() {
                        account.mark_created();
                    }
                    *had = account;
                } else {
                    had.info = account.info;
                    had.storage.extend(account.storage);
                    had.mark_touch();
                }
            }
        }
    }
}

/// What a block's state overrides changed, read back from the cache they were applied to:
/// each account as it is now (a replaced storage wipes the stored one).
fn record_overrides(
    db: &CacheDB<StateAt<'_>>,
    overrides: &alloy_rpc_types_eth::state::StateOverride,
    changed: &mut EvmState,
) {
    for (address, o) in overrides {
        let Some(cached) = db.cache.accounts.get(address) else {
            continue;
        };
        let mut account = revm::state::Account::from(cached.info.clone());
        account.storage = cached
            .storage
            .iter()
            .map(|(k, v)| (*k, revm::state::EvmStorageSlot::new(*v, Default::default())))
            .collect();
        account.mark_touch();
        if o.state.is_some() {
            account.mark_created();
        }
        merge_changes(changed, [(*address, account)].into_iter().collect());
    }
}

/// What a simulated block's header is made of.
struct SealParts<'a> {
    parent_hash: B256,
    params: &'a BlockParams,
    spec: SpecId,
    prevrandao: B256,
    state_root: B256,
    gas_used: u64,
    blob_gas_used: u64,
    txs: &'a [(EthereumTxEnvelope<TxEip4844>, Address)],
    receipts: &'a [OrdoReceiptEnvelope],
}

/// The simulated block: a header over its state, transactions and receipts with the fields
/// of its fork.
fn seal(p: SealParts<'_>) -> BlockRecord {
    let SealParts {
        parent_hash,
        params,
        spec,
        prevrandao,
        state_root,
        gas_used,
        blob_gas_used,
        txs,
        receipts,
    } = p;
    let mut logs_bloom = Bloom::default();
    for r in receipts {
        logs_bloom.accrue_bloom(r.logs_bloom());
    }
    let transactions: Vec<Bytes> = txs.iter().map(|(t, _)| t.encoded_2718().into()).collect();
    let given = params.ethereum.as_ref().map(|e| &e.header);
    let cancun = spec >= SpecId::CANCUN;
    let header = Header {
        parent_hash,
        beneficiary: params.beneficiary,
        transactions_root: alloy_trie::root::ordered_trie_root_with_encoder(
            &transactions,
            |t, out| out.extend_from_slice(t),
        ),
        receipts_root: calculate_receipt_root(receipts),
        logs_bloom,
        gas_used,
        mix_hash: prevrandao,
        state_root,
        difficulty: given.map(|h| h.difficulty).unwrap_or_default(),
        base_fee_per_gas: (spec >= SpecId::LONDON).then_some(params.base_fee),
        withdrawals_root: (spec >= SpecId::SHANGHAI).then_some(alloy_trie::EMPTY_ROOT_HASH),
        blob_gas_used: cancun.then_some(blob_gas_used),
        excess_blob_gas: cancun.then(|| given.and_then(|h| h.excess_blob_gas).unwrap_or_default()),
        parent_beacon_block_root: cancun.then_some(B256::ZERO),
        requests_hash: (spec >= SpecId::PRAGUE).then_some(alloy_eips::eip7685::EMPTY_REQUESTS_HASH),
        ..crate::block::empty_header(
            params.number,
            params.gas_limit,
            params.timestamp,
            params.base_fee,
            Bytes::new(),
        )
    };
    BlockRecord {
        hash: header.hash_slow(),
        header,
        tx_hashes: txs.iter().map(|(t, _)| *t.tx_hash()).collect(),
        senders: txs.iter().map(|(_, from)| *from).collect(),
        transactions,
        provenance: Default::default(),
        l1_origin: None,
        extras: None,
    }
}

/// The spec's error of a call that reverted or halted, or None for a success.
pub fn call_error(result: &ExecutionResult) -> Option<(i32, String, Option<Bytes>)> {
    match result {
        ExecutionResult::Success { .. } => None,
        ExecutionResult::Revert { output, .. } => {
            // Nothing returned is no reason at all (geth's plain "execution reverted").
            let reason = crate::error::revert_reason(output).filter(|_| !output.is_empty());
            Some((
                3,
                reason.map_or_else(
                    || "execution reverted".to_string(),
                    |r| format!("execution reverted: {r}"),
                ),
                Some(output.clone()),
            ))
        }
        ExecutionResult::Halt { reason, .. } => {
            Some((-32015, crate::error::halt_message(reason), None))
        }
    }
}
