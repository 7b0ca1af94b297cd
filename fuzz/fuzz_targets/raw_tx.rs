//! Ingress's stateless half: any bytes a wallet sends to `eth_sendRawTransaction` are
//! decoded (type, size, signature) without a panic, and what decodes keeps its exact bytes
//! and hashes to them.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ordo_primitives::alloy_primitives::keccak256;

fuzz_target!(|data: &[u8]| {
    if let Ok(tx) = ordo_primitives::decode_raw_tx(data) {
        assert_eq!(&tx.encoded[..], data);
        assert_eq!(tx.hash, keccak256(data));
        // The replica path, with the sender known, decodes the same.
        let again = ordo_primitives::decode_with_sender(data, tx.sender).expect("decodes twice");
        assert_eq!(again.hash, tx.hash);
    }
});
