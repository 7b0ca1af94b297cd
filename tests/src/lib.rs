//! Shared helpers for Ordo's end-to-end tests (the tests themselves are in `tests/e2e/`).
//!
//! A test imports everything from the crate root (`use ordo_tests::*;`); the modules only
//! sort the helpers by topic:
//!
//! - `node`: [`TestNode`], the real `ordo` binary as a child process (flags from
//!   [`NodeOpts`], start, stop, restart, kill), its logs ([`NodeLogs`]), [`ordo_bin`],
//!   Foundry's [`cast_bin`].
//! - `client`: alloy providers ([`http_provider`], [`ws_provider`]), raw JSON-RPC ([`Rpc`],
//!   over `ordo-rpc-client`), polling ([`wait_receipt`], [`wait_block`]), proofs
//!   ([`check_account_proof`]).
//! - `signing`: the dev chain's constants (from `ordo-primitives`) and keys ([`dev_signer`]),
//!   transactions signed by hand ([`sign_raw`], [`transfer_1559`]), [`write_key_file`].
//! - `contract`: the hand-assembled storage contract ([`Store`], [`store_initcode`]), and
//!   checked-in Solidity deployed on a chain ([`deploy_checked_in`]).
//! - `plugins`: the node's plugin folder ([`PLUGIN_DIR`]), [`activate_named`].
//! - `verify`: `ordo verify` runs ([`ordo_verify`], [`ordo_verify_ok`]).
//! - `viem`: the pinned viem's scripts in `tests/viem` ([`run_viem`]).
//! - [`rpc_compat`]: the execution-apis conformance suite (`tests/vectors`), replayed against a
//!   node (also the `rpc-compat` binary that `scripts/rpc-compat` runs).
//!
//! Imports between them go one way only: `node` uses `client` and `plugins`, `plugins` uses
//! `client`, `verify` uses `node`; `client`, `signing`, `contract`, `viem` and `rpc_compat` use
//! none of the others.
//! The local L1 (anvil) is `ordo_l1::testing::Anvil` (ordo-l1's `test-utils` feature).
//!
//! Flow of a test:
//! 1. [`TestNode::start`] spawns the real `ordo dev` binary ([`ordo_bin`]) on `127.0.0.1:0`
//!    with its datadir in a fresh temp dir, and waits for the one `ORDO_RPC_ADDR=…` line the
//!    node prints on stdout once it serves. The node's stdout and stderr go to files in the
//!    temp dir (`node-<run>.stdout.log`, `node-<run>.stderr.log`).
//! 2. The test talks to it with alloy ([`http_provider`], [`ws_provider`]) or raw JSON-RPC
//!    ([`Rpc`], over the shared `ordo-rpc-client`); transactions are signed by hand where the
//!    test needs exact bytes ([`sign_raw`]).
//! 3. The body runs inside [`NodeLogs::guard`], a failure guard: an `Err`, a timeout or a
//!    panic prints the node's logs (a panic prints them from `TestNode`'s `Drop`).
//! 4. `Drop` SIGKILLs the node; [`TestNode::stop`] is the clean SIGTERM path and
//!    [`TestNode::restart`] / [`TestNode::start_again`] reuse the same datadir.
//!
//! Seams: `ORDO_BIN` overrides the binary path; `ORDO_TEST_LOGS=1` prints the node logs even
//! when a test passes. Timeouts here are failure guards only: no test asserts a wall-clock
//! timing.

mod client;
mod contract;
mod node;
mod plugins;
pub mod rpc_compat;
mod signing;
mod verify;
mod viem;

pub use client::{
    Rpc, RpcError, check_account_proof, http_provider, parse_quantity, parse_response, wait_block,
    wait_receipt, ws_provider,
};
pub use contract::{
    STORE_INITIAL, Store, deploy_checked_in, set_topic, store_initcode, store_runtime, word,
};
pub use node::{NodeLogs, NodeOpts, TEST_BLOCK_TIME_MS, TestNode, cast_bin, ordo_bin};
pub use plugins::{PLUGIN_DIR, activate_named};
pub use signing::{
    DEV_ACCOUNT0, DEV_BALANCE, DEV_CHAIN_ID, DEV_MNEMONIC, ETHER, GWEI, dev_signer, dev_signers,
    random_address, sign_raw, transfer_1559, transfers_to_fresh_addresses, write_key_file,
};
pub use verify::{VerifyRun, ordo_verify, ordo_verify_ok};
pub use viem::{run_viem, viem_modules};
