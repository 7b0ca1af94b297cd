//! Flashbots searcher identity: the `X-Flashbots-Signature: <address>:<signature>` header.
//!
//! The signature is an EIP-191 `personal_sign` signature (65 bytes, hex) over the ASCII text
//! of keccak256(body) as `0x` + 64 lowercase hex digits — what Flashbots' tooling sends
//! (`wallet.signMessage(id(body))`). A header whose signature recovers to `<address>` makes
//! that address the request's searcher; anything else refuses the whole body.

use std::str::FromStr;

use alloy_primitives::{Address, Signature, hex, keccak256};

use crate::BackendError;

/// The header's name (HTTP header names are case-insensitive).
pub(crate) const HEADER: &str = "x-flashbots-signature";

/// Verifies a header value against the raw body and returns the searcher's address.
///
/// Errors (-32600): "malformed X-Flashbots-Signature header" when the value is not
/// `<address>:<65-byte hex signature>`, "invalid flashbots signature" when the signature does
/// not recover to `<address>`.
pub(crate) fn verify(header: &[u8], body: &[u8]) -> Result<Address, BackendError> {
    let malformed = || BackendError::invalid_request("malformed X-Flashbots-Signature header");
    let text = std::str::from_utf8(header).map_err(|_| malformed())?.trim();
    let (address, signature) = text.split_once(':').ok_or_else(malformed)?;
    let address = Address::from_str(address.trim()).map_err(|_| malformed())?;
    let bytes = hex::decode(signature.trim()).map_err(|_| malformed())?;
    let signature = Signature::from_raw(&bytes).map_err(|_| malformed())?;
    let message = format!("{:#x}", keccak256(body));
    match signature.recover_address_from_msg(message.as_bytes()) {
        Ok(signer) if signer == address => Ok(signer),
        _ => Err(BackendError::invalid_request("invalid flashbots signature")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_is_lowercase_prefixed_hex() {
        let message = format!("{:#x}", keccak256(b"x"));
        assert_eq!(message.len(), 66);
        assert!(message.starts_with("0x"));
        assert_eq!(message, message.to_lowercase());
    }

    #[test]
    fn malformed_values_are_refused() {
        for value in [
            &b"no-colon"[..],
            b"0x1234:0x00",
            b"0x0000000000000000000000000000000000000001:zz",
            b"0x0000000000000000000000000000000000000001:0x1234",
            b"\xff\xfe",
        ] {
            let err = verify(value, b"{}").unwrap_err();
            assert_eq!(err.message, "malformed X-Flashbots-Signature header");
        }
    }
}
