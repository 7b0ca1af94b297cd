//! The eth namespace: [`crate::NodeApi`] implements `ordo-rpc`'s backend traits, one module
//! per concern.

pub(crate) mod blocks;
pub(crate) mod config;
pub(crate) mod extras;
mod fees;
mod logs;
pub(crate) mod simulate;
mod state;
