//! The eth namespace: [`crate::NodeApi`] implements `ordo-rpc`'s backend traits, one module
//! per concern.

mod blocks;
mod fees;
mod logs;
mod state;
