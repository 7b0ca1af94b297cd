//! `ordo-bench` (run by `ordo bench`): load for any Ethereum JSON-RPC node, and large states to
//! load it against.
//!
//! - load.rs ([`run`], [`BenchArgs`]): pre-signed transfers sent over public JSON-RPC only,
//!   inclusion tracked from blocks, a report of throughput and latency, closed or open loop,
//!   against one node or two in turn (with ratios). No node logic.
//! - scrape.rs: the node's own numbers from its Prometheus text, when it serves them
//!   (per-block stage times over the run, peak memory).
//! - state.rs ([`build_state`], [`StateArgs`], `ordo bench state`): a datadir whose genesis
//!   holds N funded accounts and contracts with storage, written directly through the storage
//!   layer (the node's own genesis writer for large states); or the same as a geth-style
//!   genesis.json. [`state_address`] names its accounts, so a load can send to them.
//! - transfers.rs: what both sign, transfers pre-signed on all cores.
//! - blocks.rs ([`run_blocks`], [`BlocksArgs`], `ordo bench blocks`): blocks of transfers
//!   appended to a datadir's state through the executor and the storage layer, no node and
//!   no JSON-RPC: what one block's stages (execution, root, staging, commit) cost alone.

mod blocks;
mod load;
mod scrape;
mod state;
mod transfers;

pub use blocks::{BlocksArgs, run_blocks};
pub use load::{BenchArgs, TrackMode, run};
pub use state::{StateArgs, build_state, state_address};
