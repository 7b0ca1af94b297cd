//! Integration tests of `ordo-pool`, one module per topic. Transactions are really signed
//! and the WAL is a real fjall database on a tempdir.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod bundles;
mod eviction;
mod group_commit;
mod group_log;
mod nonces;
mod replacement;
mod restore;
mod util;
mod validation;
