//! `ordo-sdk`: write Ordo plugins as plain Rust traits.
//!
//! Flow of a call, host to plugin and back:
//!
//! ```text
//! host ──canonical ABI──▶ bindings (wit-bindgen, generated here per feature)
//!      ──▶ Guest impls (kind modules, `__export`) ──▶ wire records → SDK types
//!      ──▶ your trait impl (OrderingPolicy / Searcher / Compressor / ProverHook)
//!      ──▶ Result<_, Error> → `plugin-error` ──▶ host
//! ```
//!
//! - Kind traits: [`OrderingPolicy`], [`Searcher`], [`Compressor`], [`ProverHook`]. Each says
//!   its `NAME` and builds itself from the operator's config string in `new`.
//! - The kind is declared once, as the plugin's ordo-sdk cargo feature (exactly one per
//!   plugin: a component carries one world). [`export!`], one line at the end of the plugin,
//!   exports the type as that kind and reports the crate's `version` in `metadata()`.
//! - [`prelude`]: `use ordo_sdk::prelude::*;` names what a plugin usually needs.
//! - Types: [`BlockContext`], [`Candidates`] (a zero-copy view over the host's records) and
//!   [`Candidate`]; [`wire`] converts the WIT records to alloy types.
//! - Helpers: [`config`](mod@config) (the config string, a `key = value` parser, [`config::none`] for
//!   plugins without settings), [`log`] (the node's log), [`ordering::order_by_key`]
//!   (nonce-safe, gas-safe merge of sender queues).
//! - Transactions: `tx` (feature `tx`: EIP-1559 building, deterministic secp256k1 signing)
//!   and [`abi`] (selectors and static ABI words) for searchers' bundles.
//! - [`testing`] (native only): generated candidate sets, the host's answer checks, codec
//!   round trips, a mock pre-state.
//!
//! Plugins are `#![no_std]`: `std` on `wasm32-wasip2` imports WASI, and the host refuses any
//! component importing more than `ordo:plugin/host` (and `pre-state` for searchers). On wasm32
//! the SDK therefore supplies the allocator, the panic handler and `cabi_realloc` (see
//! `runtime.rs`). Natively the SDK links `std`, so plugins compile and test as ordinary crates.

#![no_std]

extern crate alloc;
// Lets generated code and macros name this crate `ordo_sdk` from inside it too.
extern crate self as ordo_sdk;
#[cfg(not(target_arch = "wasm32"))]
extern crate std;

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;
pub mod abi;
#[doc(hidden)]
pub mod bindings;
pub mod compression;
pub mod config;
mod error;
mod export;
pub mod log;
pub mod ordering;
pub mod prelude;
pub mod prover;
#[cfg(target_arch = "wasm32")]
mod runtime;
pub mod searcher;
#[cfg(not(target_arch = "wasm32"))]
pub mod testing;
#[cfg(feature = "tx")]
pub mod tx;
mod types;
pub mod wire;

pub use alloy_primitives::{self as primitives, Address, B256, U256, keccak256};
pub use compression::Compressor;
pub use config::config;
pub use error::Error;
pub use ordering::OrderingPolicy;
pub use prover::{BatchHeader, ProverHook};
pub use searcher::{Bundle, CallRequest, CallResult, Placement, PreState, Searcher};
pub use types::{BlockContext, Candidate, Candidates, Iter};

/// The version of the WIT package (`ordo:plugin`) this SDK implements. The export macros write
/// it into every plugin's `ordo:plugin-api` custom section, so the host can refuse an
/// incompatible component before instantiating it.
pub const PLUGIN_API_VERSION: &str = "0.1.0";
