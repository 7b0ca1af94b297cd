//! JSON-RPC errors: the one error type that crosses the backend seam and reaches the wire.
//!
//! Codes and messages follow geth, because wallets match on them ("nonce too low",
//! "execution reverted", "the method X does not exist/is not available", ...).

use std::borrow::Cow;

use alloy_primitives::Bytes;
use serde::Serialize;

/// Invalid JSON was received (geth: "parse error").
pub const PARSE_ERROR: i32 = -32700;
/// The JSON is not a valid request object (geth: "invalid request", "empty batch").
pub const INVALID_REQUEST: i32 = -32600;
/// Unknown method, or a method that is not available on this transport.
pub const METHOD_NOT_FOUND: i32 = -32601;
/// Wrong parameters (geth: "invalid argument N: ...", "missing value for required argument N").
pub const INVALID_PARAMS: i32 = -32602;
/// A failure inside the node; the details are logged, clients see "internal error".
pub const INTERNAL_ERROR: i32 = -32603;
/// geth's generic server error, used for transaction and filter errors ("nonce too low", ...).
pub const SERVER_ERROR: i32 = -32000;
/// The requested resource (block, state) does not exist.
pub const RESOURCE_NOT_FOUND: i32 = -32001;
/// A request exceeded a server limit (range too large, too many filters, ...).
pub const LIMIT_EXCEEDED: i32 = -32005;
/// Execution reverted (geth returns code 3 with the revert data in `data`).
pub const EXECUTION_REVERTED: i32 = 3;

/// A JSON-RPC error object: `{"code", "message", "data"?}`.
///
/// Backends return it from every [`crate::EthBackend`] method, so a backend decides the exact
/// code and message a wallet sees. Errors with [`INTERNAL_ERROR`] are logged by the server and
/// their message is replaced with "internal error" on the wire.
#[derive(Debug, Clone, PartialEq, Serialize, thiserror::Error)]
#[error("{message} (code {code})")]
pub struct BackendError {
    /// The JSON-RPC error code.
    pub code: i32,
    /// The human readable message (geth's wording where geth has one).
    pub message: Cow<'static, str>,
    /// Optional structured data, e.g. the revert data as a `0x` hex string.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<serde_json::Value>,
}

impl BackendError {
    /// An error with an arbitrary code and message.
    pub fn new(code: i32, message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            code,
            message: message.into(),
            data: None,
        }
    }

    /// Attaches `data` to the error.
    #[must_use]
    pub fn with_data(mut self, data: serde_json::Value) -> Self {
        self.data = Some(data);
        self
    }

    /// -32700 "parse error".
    pub fn parse_error() -> Self {
        Self::new(PARSE_ERROR, "parse error")
    }

    /// -32600 with the given message ("invalid request", "empty batch", "batch too large").
    pub fn invalid_request(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(INVALID_REQUEST, message)
    }

    /// -32601 "the method X does not exist/is not available".
    pub fn method_not_found(method: &str) -> Self {
        Self::new(
            METHOD_NOT_FOUND,
            format!("the method {method} does not exist/is not available"),
        )
    }

    /// -32602 with a message saying what was wrong with the parameters.
    pub fn invalid_params(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(INVALID_PARAMS, message)
    }

    /// -32603; the message is logged, never sent (clients see "internal error").
    pub fn internal(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(INTERNAL_ERROR, message)
    }

    /// -32000, geth's code for transaction errors ("nonce too low", "already known", ...).
    pub fn tx(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(SERVER_ERROR, message)
    }

    /// -32001 for a missing block or state ("header not found", ...).
    pub fn resource_not_found(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(RESOURCE_NOT_FOUND, message)
    }

    /// -32005 for a request over a server limit.
    pub fn limit_exceeded(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(LIMIT_EXCEEDED, message)
    }

    /// Code 3, geth style: message "execution reverted" or "execution reverted: <reason>",
    /// `data` the raw revert bytes as `0x` hex.
    pub fn reverted(data: Bytes, reason: Option<String>) -> Self {
        let message = match reason {
            Some(reason) if !reason.is_empty() => format!("execution reverted: {reason}").into(),
            _ => Cow::Borrowed("execution reverted"),
        };
        Self {
            code: EXECUTION_REVERTED,
            message,
            data: Some(serde_json::Value::String(data.to_string())),
        }
    }

    /// -32000 "filter not found" (geth's message for unknown or expired filter ids).
    pub fn filter_not_found() -> Self {
        Self::tx("filter not found")
    }

    /// -32601 "notifications not supported": `eth_subscribe` over HTTP, as geth answers.
    pub fn notifications_unsupported() -> Self {
        Self::new(METHOD_NOT_FOUND, "notifications not supported")
    }

    /// Whether this is an internal error whose details must not reach clients.
    pub fn is_internal(&self) -> bool {
        self.code == INTERNAL_ERROR
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reverted_is_geth_shaped() {
        let err = BackendError::reverted(Bytes::from(vec![0x08, 0xc3]), Some("nope".into()));
        let json = serde_json::to_value(&err).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"code": 3, "message": "execution reverted: nope", "data": "0x08c3"})
        );
        let bare = BackendError::reverted(Bytes::new(), None);
        assert_eq!(bare.message, "execution reverted");
        assert_eq!(bare.data, Some(serde_json::json!("0x")));
    }

    #[test]
    fn data_is_omitted_when_absent() {
        let json = serde_json::to_string(&BackendError::method_not_found("foo_bar")).unwrap();
        assert_eq!(
            json,
            r#"{"code":-32601,"message":"the method foo_bar does not exist/is not available"}"#
        );
    }
}
