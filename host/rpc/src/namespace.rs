//! Namespaces beside `eth`: sets of methods another crate serves through this transport
//! (`ordo_*`, the bundle methods, `admin_*`), with the same framing, limits and parser.

use std::net::IpAddr;

use alloy_primitives::Address;
use serde::Serialize;
use serde_json::value::RawValue;

use crate::{BackendError, BackendResult, Params};

/// Where a namespace method runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cost {
    /// A quick read or write (tokio's blocking pool).
    Quick,
    /// Runs the EVM or scans history: the read pool, with its deadline
    /// ([`crate::CallDeadline::current`]) and the caller's time budget, like `eth_call`.
    Heavy,
}

/// Who called, as far as the transport knows.
#[derive(Debug, Clone, Copy, Default)]
pub struct Caller {
    /// The address that signed the HTTP body with a valid `X-Flashbots-Signature` (`None`
    /// without the header, and always over WebSocket).
    pub searcher: Option<Address>,
    /// The client's IP (the peer, or the client a trusted proxy names).
    pub client: Option<IpAddr>,
}

/// A set of JSON-RPC methods. Calls run off the reactor (see [`Cost`]), so they may block.
pub trait Namespace: Send + Sync + 'static {
    /// How `method` runs, or `None` when it is not one of this namespace's.
    fn cost(&self, method: &str) -> Option<Cost>;

    /// Runs `method` (one [`Namespace::cost`] answered for) with its parameters.
    fn call(
        &self,
        method: &str,
        params: &Params<'_>,
        caller: Caller,
    ) -> BackendResult<Box<RawValue>>;
}

/// A namespace method's result as raw JSON.
pub fn json<T: Serialize + ?Sized>(value: &T) -> BackendResult<Box<RawValue>> {
    serde_json::value::to_raw_value(value)
        .map_err(|err| BackendError::internal(format!("serializing a result: {err}")))
}
