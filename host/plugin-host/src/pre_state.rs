//! The `pre-state` imports of a searcher call: reads of the builder's [`PreStateView`] and
//! `call`s against it under a per-block gas budget and the call's deadline.
//!
//! Only searchers can import `pre-state` (load refuses it for other kinds), and every
//! searcher store carries a [`SearchState`]; without one the reads answer zero.

use std::{sync::Arc, time::Instant};

use alloy_primitives::Bytes;
use ordo_hooks::PreStateView;

use crate::{
    bindings::{pre_state, types},
    convert::{address, b256, bytes32, u256},
};

/// Gas a searcher may spend in `pre-state.call`s per block (summed over its calls).
pub const SEARCHER_CALL_GAS_PER_BLOCK: u64 = 10_000_000;
/// Budget every `pre-state.call` costs at least (a transaction's intrinsic gas), whatever
/// gas it asked for or used: free calls would let a searcher call without end.
pub const MIN_CALL_GAS_CHARGE: u64 = 21_000;
/// Calldata a searcher may pass to one `pre-state.call`.
pub const MAX_CALL_DATA_BYTES: usize = 128 << 10;
/// Return data one `pre-state.call` may hand back to a searcher.
pub const MAX_CALL_OUTPUT_BYTES: usize = 128 << 10;

/// The pre-state of one searcher call and what is left of its gas budget.
pub(crate) struct SearchState {
    view: Arc<dyn PreStateView>,
    gas_left: u64,
    /// The search call's wall-clock deadline. Epoch interruption cannot stop the guest while
    /// the host runs a pre-state call for it, so the EVM stops there on its own.
    deadline: Instant,
}

impl SearchState {
    pub(crate) fn new(view: Arc<dyn PreStateView>, deadline: Instant) -> Self {
        Self {
            view,
            gas_left: SEARCHER_CALL_GAS_PER_BLOCK,
            deadline,
        }
    }
}

fn view(state: &Option<SearchState>) -> Option<&Arc<dyn PreStateView>> {
    state.as_ref().map(|s| &s.view)
}

/// The imports see a store's searcher state (`StoreData::search`), not the whole store.
impl pre_state::Host for Option<SearchState> {
    fn balance(&mut self, address_: types::Bytes20) -> types::Bytes32 {
        let value = view(self)
            .map(|v| v.balance(address(&address_)))
            .unwrap_or_default();
        bytes32(&value.to_be_bytes::<32>())
    }

    fn nonce(&mut self, address_: types::Bytes20) -> u64 {
        view(self)
            .map(|v| v.nonce(address(&address_)))
            .unwrap_or_default()
    }

    fn storage(&mut self, address_: types::Bytes20, slot: types::Bytes32) -> types::Bytes32 {
        let value = view(self)
            .map(|v| v.storage(address(&address_), b256(&slot)))
            .unwrap_or_default();
        bytes32(&value.0)
    }

    fn code_hash(&mut self, address_: types::Bytes20) -> types::Bytes32 {
        let value = view(self)
            .map(|v| v.code_hash(address(&address_)))
            .unwrap_or_default();
        bytes32(&value.0)
    }

    fn call(&mut self, request: pre_state::CallRequest) -> Result<pre_state::CallResult, String> {
        let Some(search) = self.as_mut() else {
            return Err("pre-state is not available".into());
        };
        if search.gas_left == 0 {
            return Err("gas budget exhausted".into());
        }
        // Every call costs at least the minimum, refused or not: nothing is free.
        if request.data.len() > MAX_CALL_DATA_BYTES {
            search.gas_left = search.gas_left.saturating_sub(MIN_CALL_GAS_CHARGE);
            return Err(format!(
                "calldata of {} bytes (at most {MAX_CALL_DATA_BYTES})",
                request.data.len()
            ));
        }
        if Instant::now() >= search.deadline {
            search.gas_left = search.gas_left.saturating_sub(MIN_CALL_GAS_CHARGE);
            return Err("deadline exceeded".into());
        }
        let gas = request.gas.min(search.gas_left);
        let answer = search.view.call(
            address(&request.from),
            address(&request.to),
            u256(&request.value),
            gas,
            Bytes::from(request.data),
            search.deadline,
        );
        // Never trust the view to stay within what it was given.
        let used = answer.as_ref().map_or(0, |a| a.gas_used.min(gas));
        search.gas_left = search
            .gas_left
            .saturating_sub(used.max(MIN_CALL_GAS_CHARGE));
        let answer = answer.map_err(|e| e.to_string())?;
        if answer.output.len() > MAX_CALL_OUTPUT_BYTES {
            return Err(format!(
                "call output of {} bytes (at most {MAX_CALL_OUTPUT_BYTES})",
                answer.output.len()
            ));
        }
        Ok(pre_state::CallResult {
            success: answer.success,
            gas_used: used,
            output: answer.output.to_vec(),
        })
    }
}
