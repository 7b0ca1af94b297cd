//! What load refuses, and why.

use ordo_plugin_host::{PluginError, PluginKind, testing};

use crate::{load_ordering, manager, manager_deadline_only};

#[test]
fn wasi_imports_are_refused_and_named() {
    let m = manager();
    let err = m
        .load(PluginKind::Ordering, &testing::fixture("wasi"), "")
        .unwrap_err();
    let PluginError::ForbiddenImports { imports, .. } = &err else {
        panic!("expected ForbiddenImports, got {err}");
    };
    assert!(
        imports.iter().any(|i| i.starts_with("wasi:filesystem/")),
        "{imports:?}"
    );
    let message = err.to_string();
    assert!(message.contains("`wasi:filesystem/"), "{message}");
    assert!(message.contains("ordo:plugin/host@0.1.x"), "{message}");
    assert!(err.is_bad_plugin());
    assert!(m.list().loaded.is_empty());
}

#[test]
fn a_component_without_the_api_section_is_refused() {
    let m = manager();
    let err = m
        .load(
            PluginKind::Ordering,
            &testing::fixture("ordering-no-api"),
            "",
        )
        .unwrap_err();
    assert!(matches!(err, PluginError::MissingApiSection), "{err}");
    assert!(err.to_string().contains("not built with ordo-sdk"));
}

/// Rewrites the fixture's `ordo:plugin-api` section content in place (same length, so the
/// component stays well-formed).
fn with_api_version(version: &[u8; 5]) -> Vec<u8> {
    let mut bytes = testing::fixture("ordering");
    let needle = b"ordo:plugin-api0.1.0";
    let at = bytes
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("api section in the fixture");
    let start = at + b"ordo:plugin-api".len();
    bytes[start..start + 5].copy_from_slice(version);
    bytes
}

#[test]
fn an_unsupported_api_version_is_refused_and_patch_versions_are_accepted() {
    let m = manager();
    let err = m
        .load(PluginKind::Ordering, &with_api_version(b"0.2.0"), "")
        .unwrap_err();
    assert!(
        matches!(&err, PluginError::UnsupportedApi(v) if v == "0.2.0"),
        "{err}"
    );
    m.load(PluginKind::Ordering, &with_api_version(b"0.1.9"), "")
        .unwrap();
}

#[test]
fn metadata_must_name_the_loaded_kind_and_a_valid_name() {
    let m = manager();
    let err = m
        .load(
            PluginKind::Ordering,
            &testing::fixture("ordering"),
            "mode=wrong-kind",
        )
        .unwrap_err();
    assert!(
        matches!(
            err,
            PluginError::KindMismatch {
                expected: PluginKind::Ordering,
                found: PluginKind::Compression
            }
        ),
        "{err}"
    );
    let err = m
        .load(
            PluginKind::Ordering,
            &testing::fixture("ordering"),
            "mode=bad-name",
        )
        .unwrap_err();
    assert!(matches!(err, PluginError::InvalidName(_)), "{err}");
}

#[test]
fn a_component_of_another_world_is_refused() {
    let m = manager();
    let err = m
        .load(PluginKind::Compression, &testing::fixture("ordering"), "")
        .unwrap_err();
    assert!(
        matches!(
            err,
            PluginError::Contract {
                kind: PluginKind::Compression,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn self_test_failures_refuse_the_plugin() {
    let m = manager_deadline_only();
    let ordering = testing::fixture("ordering");
    for (mode, expect) in [
        ("loop", "timeout"),
        ("nonce", "invalid-answer"),
        ("gas", "gas limit"),
        ("trap", "trap"),
        ("error", "plugin-error"),
    ] {
        let err = m
            .load(PluginKind::Ordering, &ordering, &format!("mode={mode}"))
            .unwrap_err();
        assert!(matches!(err, PluginError::SelfTest(_)), "{mode}: {err}");
        assert!(err.to_string().contains(expect), "{mode}: {err}");
    }
    let err = m
        .load(
            PluginKind::Compression,
            &testing::fixture("compression"),
            "mode=bad-roundtrip",
        )
        .unwrap_err();
    assert!(err.to_string().contains("round trip"), "{err}");
    let err = m
        .load(
            PluginKind::Prover,
            &testing::fixture("prover"),
            "mode=counter",
        )
        .unwrap_err();
    assert!(err.to_string().contains("not deterministic"), "{err}");
    let err = m
        .load(PluginKind::Prover, &testing::fixture("prover"), "mode=big")
        .unwrap_err();
    assert!(err.to_string().contains("attestation of"), "{err}");
    assert!(m.list().loaded.is_empty());
}

#[test]
fn garbage_and_core_modules_are_refused() {
    let m = manager();
    for bytes in [&b"definitely not wasm"[..], b"\0asm\x01\0\0\0"] {
        let err = m.load(PluginKind::Ordering, bytes, "").unwrap_err();
        assert!(matches!(err, PluginError::Invalid(_)), "{err}");
    }
}

#[test]
fn loading_twice_returns_the_same_plugin_and_config_makes_a_new_one() {
    let m = manager();
    let a = load_ordering(&m, "mode=identity");
    let again = load_ordering(&m, "mode=identity");
    assert_eq!(a, again);
    assert_eq!(a.id.len(), 16);
    let b = load_ordering(&m, "mode=identity name=other");
    assert_ne!(a.id, b.id);
    assert_eq!(a.code_hash, b.code_hash);
    assert_eq!(
        a.code_hash,
        alloy_primitives::keccak256(testing::fixture("ordering"))
    );
    assert_eq!(m.list().loaded.len(), 2);
}
