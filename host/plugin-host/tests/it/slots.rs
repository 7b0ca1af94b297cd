//! Compression and prover slots: the handles the batcher uses.

use ordo_plugin_host::{BatchHeader, FailureReason, PluginKind, testing};

use crate::{failures, manager};

#[test]
fn the_compressor_round_trips_and_refuses_garbage_without_counting_it() {
    let m = manager();
    assert!(m.compressor().is_none());
    let info = m
        .load(
            PluginKind::Compression,
            &testing::fixture("compression"),
            "",
        )
        .unwrap();
    m.activate(&info.id).unwrap();
    let c = m.compressor().unwrap();
    assert_eq!(c.codec_id(), 0x8000_0001);
    assert_eq!(c.code_hash(), info.code_hash);
    assert_eq!(c.name(), "fixture-codec-identity");
    let data = b"a batch".repeat(1000);
    let compressed = c.compress(&data).unwrap();
    assert_eq!(c.decompress(&compressed).unwrap(), data);
    let err = c.decompress(b"garbage").unwrap_err();
    assert_eq!(err.failure.reason, FailureReason::PluginError);
    assert_eq!(m.list().loaded[0].health.consecutive_failures, 0);
    assert_eq!(m.list().loaded[0].codec_id, Some(0x8000_0001));
}

#[test]
fn a_compressor_that_breaks_the_round_trip_fails_and_rolls_back() {
    let m = manager();
    let good = m
        .load(
            PluginKind::Compression,
            &testing::fixture("compression"),
            "",
        )
        .unwrap();
    let bad = m
        .load(
            PluginKind::Compression,
            &testing::fixture("compression"),
            "mode=bad-roundtrip arm-len=100000",
        )
        .unwrap();
    m.activate(&good.id).unwrap();
    m.activate(&bad.id).unwrap();
    let batch = vec![7u8; 200_000];
    for _ in 0..3 {
        let c = m.compressor().unwrap();
        assert_eq!(c.code_hash(), bad.code_hash);
        let err = c.compress(&batch).unwrap_err();
        assert_eq!(err.failure.reason, FailureReason::InvalidAnswer);
        assert!(err.to_string().contains("round trip"), "{err}");
    }
    assert_eq!(failures(&m, &bad.id, FailureReason::InvalidAnswer), 3);
    let report = m.list();
    assert_eq!(
        report.active[&PluginKind::Compression].as_ref().unwrap().id,
        good.id
    );
    assert_eq!(
        m.compressor().unwrap().compress(&batch).unwrap().len(),
        200_001
    );
}

#[test]
fn compress_timeouts_are_classified() {
    let mut config = ordo_plugin_host::PluginsConfig::default();
    config.compression.deadline_ms = 50;
    let m = ordo_plugin_host::PluginManager::open(config, None).unwrap();
    let info = m
        .load(
            PluginKind::Compression,
            &testing::fixture("compression"),
            "mode=loop arm-len=100000",
        )
        .unwrap();
    m.activate(&info.id).unwrap();
    let err = m.compressor().unwrap().compress(&[0; 100_000]).unwrap_err();
    assert_eq!(err.failure.reason, FailureReason::Timeout);
}

#[test]
fn the_prover_attests_and_oversized_attestations_fail() {
    let m = manager();
    assert!(m.prover().is_none());
    let info = m
        .load(
            PluginKind::Prover,
            &testing::fixture("prover"),
            "mode=big arm=1",
        )
        .unwrap();
    m.activate(&info.id).unwrap();
    let p = m.prover().unwrap();
    let header = BatchHeader {
        index: 0,
        first_block: 1,
        last_block: 2,
        ..Default::default()
    };
    let a = p.on_batch(&header, b"payload").unwrap();
    assert_eq!(a, p.on_batch(&header, b"payload").unwrap());
    assert_eq!(a.len(), 32);
    assert_ne!(a, p.on_batch(&header, b"other payload").unwrap());
    let err = p
        .on_batch(&BatchHeader { index: 1, ..header }, b"payload")
        .unwrap_err();
    assert_eq!(err.failure.reason, FailureReason::InvalidAnswer);
    assert!(
        err.to_string().contains("attestation of 2097152 bytes"),
        "{err}"
    );
    assert_eq!(failures(&m, &info.id, FailureReason::InvalidAnswer), 1);
}
