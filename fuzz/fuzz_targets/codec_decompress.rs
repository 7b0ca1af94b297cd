//! What derivation and `ordo verify` read from L1 once a frame is decoded: the payload as
//! every shipped compression plugin decompresses it, through the host's handle (a fresh
//! instance per call, with fuel, a deadline and a memory cap). Any bytes are decompressed or
//! refused; a trap, running out of fuel or memory never escapes the host as anything but an
//! error, and the shipped codecs refuse what is not theirs with their own error rather than
//! trap. Compressing any bytes succeeds and decompresses back to them. A frame that decodes is
//! decompressed as derivation does it (the codec its header names) and the payload inside is
//! decoded and re-encoded to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ordo_fuzz::{codecs, seeds};
use ordo_plugin_host::{Compressor, FailureReason, PluginCallError};
use ordo_primitives::{BatchFrame, BatchPayload, CODEC_NONE};

/// A refusal must be the codec's own answer. Only the wall-clock deadline may pass without
/// the codec being at fault: it measures the machine as much as the plugin.
fn refused(codec: &Compressor, e: &PluginCallError, input: &[u8]) {
    assert!(
        matches!(
            e.failure.reason,
            FailureReason::PluginError | FailureReason::Timeout
        ),
        "{} refused {} bytes other than with its own error: {e}",
        codec.name(),
        input.len()
    );
}

fuzz_target!(
    init: seeds::write_if_asked("codec_decompress", seeds::codec_decompress),
    |data: &[u8]| {
        let codecs = codecs::shipped();
        for codec in codecs {
            if let Err(e) = codec.decompress(data) {
                refused(codec, &e, data);
            }
            let compressed = codec.compress(data).unwrap_or_else(|e| {
                panic!("{} does not compress {} bytes: {e}", codec.name(), data.len())
            });
            let back = codec.decompress(&compressed).unwrap_or_else(|e| {
                panic!("{} does not decompress what it compressed: {e}", codec.name())
            });
            assert!(back == data, "{} does not round-trip", codec.name());
        }

        let Ok(frame) = BatchFrame::decode(data) else {
            return;
        };
        let h = frame.header;
        let raw = if h.codec_id == CODEC_NONE {
            Some(frame.data.to_vec())
        } else {
            // Derivation finds the codec by the code hash in the header. A seed frame names the
            // build that wrote it; the codec of the same id stands in for it in other builds,
            // so the seeds outlive plugin rebuilds.
            let codec = codecs
                .iter()
                .find(|c| c.code_hash() == h.codec_hash)
                .or_else(|| codecs.iter().find(|c| c.codec_id() == h.codec_id))
                .filter(|c| c.codec_id() == h.codec_id);
            codec.and_then(|c| match c.decompress(&frame.data) {
                Ok(raw) => Some(raw),
                Err(e) => {
                    refused(c, &e, &frame.data);
                    None
                }
            })
        };
        if let Some(raw) = raw
            && let Ok(payload) = BatchPayload::decode(&raw)
        {
            let again = BatchPayload::decode(&payload.encode()).expect("a payload re-decodes");
            assert_eq!(again, payload);
        }
    }
);
