//! Searchers: MEV bundles for the block being built.
//!
//! Each block the node runs every active searcher with the block context, the public
//! candidates and read access to the pre-state; the bundles it returns are simulated and,
//! if they land whole, included. Sign transactions with `ordo_sdk::tx` (feature `tx`); test
//! natively with [`testing::MockPreState`](crate::testing::MockPreState).

use alloc::vec::Vec;

use alloy_primitives::{Address, B256, U256};

use crate::{BlockContext, Candidates, Error};

/// Where a bundle goes in the block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// Ahead of the public flow.
    TopOfBlock,
    /// Right after the transaction with this hash (a backrun).
    After(B256),
}

/// Transactions a searcher wants executed consecutively and atomically.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bundle {
    /// Signed EIP-2718 transactions.
    pub txs: Vec<Vec<u8>>,
    /// Where the bundle goes.
    pub placement: Placement,
    /// What the searcher pays the coinbase for inclusion, in wei.
    pub bid: U256,
}

/// An `eth_call` against the pre-state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallRequest {
    /// Caller.
    pub from: Address,
    /// Callee.
    pub to: Address,
    /// Value sent, in wei.
    pub value: U256,
    /// Gas for the call (capped by the host's per-block budget for this searcher).
    pub gas: u64,
    /// Calldata.
    pub data: Vec<u8>,
}

/// What an `eth_call` returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallResult {
    /// Whether the call succeeded (did not revert).
    pub success: bool,
    /// Gas used.
    pub gas_used: u64,
    /// Return data (revert data when `success` is false).
    pub output: Vec<u8>,
}

/// Read-only access to the state before the block being built.
pub trait PreState {
    /// Balance of `address`, in wei.
    fn balance(&self, address: Address) -> U256;
    /// Nonce of `address`.
    fn nonce(&self, address: Address) -> u64;
    /// Storage slot `slot` of `address`.
    fn storage(&self, address: Address, slot: B256) -> B256;
    /// Code hash of `address`.
    fn code_hash(&self, address: Address) -> B256;
    /// Runs an `eth_call`. Errors when the searcher's gas budget for this block is spent.
    fn call(&self, request: &CallRequest) -> Result<CallResult, Error>;
}

/// A searcher. Export it with [`export!`](crate::export) and
/// ordo-sdk's `searcher` feature; the version it reports is its crate's `version`.
pub trait Searcher: Sized + 'static {
    /// Short name, `[a-z0-9-]`, shown in provenance, logs and metrics.
    const NAME: &'static str;

    /// Builds the searcher from the operator's config string (empty when none was given).
    fn new(config: &str) -> Result<Self, Error>;

    /// Proposes bundles for the block in `ctx`, given the public candidates and the pre-state.
    fn search(
        &self,
        ctx: &BlockContext,
        candidates: &Candidates,
        state: &dyn PreState,
    ) -> Result<Vec<Bundle>, Error>;
}

#[cfg(feature = "searcher")]
#[doc(hidden)]
pub mod __export {
    use alloc::vec::Vec;

    use super::{Bundle, CallRequest, CallResult, Placement, PreState, Searcher};
    use crate::{
        __private::{Export, metadata},
        BlockContext, Candidates, Error,
        bindings::searcher::{
            Guest,
            exports::ordo::plugin::searcher::{
                Bundle as WireBundle, Guest as SearcherGuest, Placement as WirePlacement,
            },
            ordo::plugin::pre_state,
        },
        wire::{
            PluginError, WireBlockContext, WireCandidateSet, WireMetadata, WirePluginKind,
            address_to_wire, b256_from_wire, b256_to_wire, u256_from_wire, u256_to_wire,
        },
    };
    use alloy_primitives::{Address, B256, U256};

    /// The pre-state through the host's `pre-state` imports.
    struct HostPreState;

    impl PreState for HostPreState {
        fn balance(&self, address: Address) -> U256 {
            u256_from_wire(pre_state::balance(address_to_wire(address)))
        }

        fn nonce(&self, address: Address) -> u64 {
            pre_state::nonce(address_to_wire(address))
        }

        fn storage(&self, address: Address, slot: B256) -> B256 {
            b256_from_wire(pre_state::storage(
                address_to_wire(address),
                b256_to_wire(slot),
            ))
        }

        fn code_hash(&self, address: Address) -> B256 {
            b256_from_wire(pre_state::code_hash(address_to_wire(address)))
        }

        fn call(&self, request: &CallRequest) -> Result<CallResult, Error> {
            let result = pre_state::call(&pre_state::CallRequest {
                from: address_to_wire(request.from),
                to: address_to_wire(request.to),
                value: u256_to_wire(request.value),
                gas: request.gas,
                data: request.data.clone(),
            })
            .map_err(Error::new)?;
            Ok(CallResult {
                success: result.success,
                gas_used: result.gas_used,
                output: result.output,
            })
        }
    }

    fn bundle_to_wire(b: Bundle) -> WireBundle {
        WireBundle {
            txs: b.txs,
            placement: match b.placement {
                Placement::TopOfBlock => WirePlacement::TopOfBlock,
                Placement::After(hash) => WirePlacement::After(b256_to_wire(hash)),
            },
            bid: u256_to_wire(b.bid),
        }
    }

    impl<E> Guest for E
    where
        E: Export,
        E::Plugin: Searcher,
    {
        fn metadata() -> WireMetadata {
            metadata(
                <E::Plugin as Searcher>::NAME,
                E::VERSION,
                WirePluginKind::Searcher,
            )
        }
    }

    impl<E> SearcherGuest for E
    where
        E: Export,
        E::Plugin: Searcher,
    {
        fn search(
            ctx: WireBlockContext,
            candidates: WireCandidateSet,
        ) -> Result<Vec<WireBundle>, PluginError> {
            let searcher = E::instance()?;
            let ctx = BlockContext::from(ctx);
            let candidates = Candidates::from_wire(candidates);
            let bundles = searcher.search(&ctx, &candidates, &HostPreState)?;
            Ok(bundles.into_iter().map(bundle_to_wire).collect())
        }
    }
}
