//! What a plugin usually names, in one import: `use ordo_sdk::prelude::*;`.
//!
//! The kind traits, the types the node passes in and plugins return, the `config`, `log` and
//! `ordering` helpers, the alloy primitives, and the `alloc` types a `#![no_std]` plugin uses
//! (`Vec`, `String`, `Box`, `vec!`, `format!`), so a plugin needs no `extern crate alloc` for
//! them.
//!
//! ```
//! use ordo_sdk::prelude::*;
//!
//! struct Tip;
//!
//! impl OrderingPolicy for Tip {
//!     const NAME: &'static str = "tip";
//!
//!     fn new(config: &str) -> Result<Self, Error> {
//!         config::none(config)?;
//!         Ok(Tip)
//!     }
//!
//!     fn order(&self, ctx: &BlockContext, set: &Candidates) -> Result<Vec<u32>, Error> {
//!         Ok(ordering::order_by_key(ctx, set, |c| c.effective_tip(ctx.base_fee)))
//!     }
//! }
//!
//! ordo_sdk::export!(Tip);
//! # let set = ordo_sdk::testing::random_candidates(10, 1);
//! # ordo_sdk::testing::run_ordering::<Tip>("", &ordo_sdk::testing::block_context(), &set);
//! ```

pub use alloc::{
    boxed::Box,
    format,
    string::{String, ToString},
    vec,
    vec::Vec,
};

pub use crate::{
    Address, B256, BatchHeader, BlockContext, Bundle, CallRequest, CallResult, Candidate,
    Candidates, Compressor, Error, OrderingPolicy, Placement, PreState, ProverHook, Searcher, U256,
    config, keccak256, log, ordering,
};
