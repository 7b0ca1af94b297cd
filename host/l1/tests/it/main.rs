//! Integration tests of `ordo-l1`: the poster against a real anvil, one module per topic
//! (ordering, confirmations, fee bumps, blobs, a foreign tx taking the nonce, reorgs, L1
//! restarts, the durable record). Timeouts here are failure guards, never assertions.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod blobs;
mod l1_restart;
mod nonces;
mod portal;
mod posting;
mod records;
mod reorgs;
mod util;
