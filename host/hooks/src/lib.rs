//! Ordo hooks: every seam a plugin can fill, as the host sees it, and the checks the host
//! runs on what comes back. It reads like the WIT contract (`wit/ordo-plugin.wit`), one
//! module per kind, and depends on `ordo-primitives` only, so the plugin host implements
//! these traits without compiling the EVM, and the stages that call them (builder,
//! batcher) never see wasmtime.
//!
//! ```text
//! ordering (ordering.rs)   builder ──OrderingContext + candidates──▶ OrderingPolicy::order
//!                          ◀── indices ── check_order (range, unique, nonces ascending)
//!                          bundles offered ──▶ place_bundles (default place_by_bid)
//!                          ◀── plan ── check_plan; PolicySource picks the policy per block;
//!                          PriorityFeeOrdering is the native default and fallback
//! searcher (searcher.rs)   builder ──context, candidates, PreStateView──▶ SearcherHost
//!                          ◀── ProposedBundle (decoded, simulated, accounted by the builder);
//!                          PreStateView: balance, nonce, storage, code hash, a deadline-
//!                          bound call (PreStateError)
//! batch (batch.rs)         batcher ──▶ BatchPlugins: the active BatchCodec (compress,
//!                          decompress; round trip checked by the batcher) and BatchProver
//!                          (attestation over the primitives' BatchHeader); HookError;
//!                          derivation ──code hash──▶ BatchCodecs ──▶ a BatchCodec to decode
//! ```

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

mod batch;
mod ordering;
mod searcher;

pub use batch::{BatchCodec, BatchCodecs, BatchPlugins, BatchProver, HookError, NoPlugins};
pub use ordering::{
    BundleOffer, FixedPolicy, OrderingContext, OrderingError, OrderingPolicy, Placement, PlanStep,
    PolicySource, PriorityFeeOrdering, check_order, check_plan, place_by_bid,
};
pub use searcher::{
    CallView, NoSearchers, PreStateError, PreStateView, ProposedBundle, SearcherHost,
};

#[cfg(test)]
mod tests;
