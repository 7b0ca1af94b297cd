//! What derivation reads from L1: a batch frame, then the payload inside it. Any bytes are
//! refused or decoded without a panic, and what decodes encodes back to what decodes the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ordo_primitives::{BatchFrame, BatchPayload};

fuzz_target!(|data: &[u8]| {
    if let Ok(frame) = BatchFrame::decode(data) {
        let again = BatchFrame::decode(&frame.encode()).expect("a frame re-decodes");
        assert_eq!(again, frame);
    }
    if let Ok(payload) = BatchPayload::decode(data) {
        let again = BatchPayload::decode(&payload.encode()).expect("a payload re-decodes");
        assert_eq!(again, payload);
    }
});
