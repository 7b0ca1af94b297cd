//! Activation at block boundaries, manual rollback, persistence across restarts.

use std::sync::Arc;

use ordo_plugin_host::{
    PluginError, PluginInfo, PluginKind, PluginManager, PluginsConfig, testing,
};
use ordo_storage::Storage;

use crate::{load_ordering, manager, order_block};

#[test]
fn activation_takes_effect_at_the_next_current_only() {
    let m = manager();
    let source = m.ordering_source();
    let candidates = testing::candidates(30, 5, 11);
    let before = source.current();
    assert_eq!(before.name(), "native-priority-fee");

    let info = load_ordering(&m, "mode=identity name=next");
    // Loading alone changes nothing.
    assert_eq!(source.current().name(), "native-priority-fee");
    m.activate(&info.id).unwrap();

    // The snapshot taken before keeps ordering its block natively, whatever happens since.
    assert_eq!(before.name(), "native-priority-fee");
    assert_eq!(before.code_hash(), alloy_primitives::B256::ZERO);
    let native = before.order(&testing::context(1), &candidates).unwrap();
    let identity: Vec<u32> = (0..30).collect();
    assert_ne!(native, identity);

    let after = source.current();
    assert_eq!(after.name(), "fixture-next");
    assert_eq!(after.version(), "0.1.0");
    assert_eq!(after.code_hash(), info.code_hash);
    assert_eq!(
        after.order(&testing::context(1), &candidates).unwrap(),
        identity
    );
}

#[test]
fn manual_rollback_walks_the_history_down_to_native() {
    let m = manager();
    let a = load_ordering(&m, "mode=identity name=a");
    let b = load_ordering(&m, "mode=identity name=b");
    m.activate(&a.id).unwrap();
    m.activate(&b.id).unwrap();
    // Re-activating the active plugin does not grow the history.
    m.activate(&b.id).unwrap();
    assert_eq!(m.list().history[&PluginKind::Ordering], vec![a.id.clone()]);

    assert_eq!(m.rollback(PluginKind::Ordering).unwrap(), Some(a.clone()));
    assert_eq!(order_block(&m, 1, &[]).0.name(), "fixture-a");
    assert_eq!(m.rollback(PluginKind::Ordering).unwrap(), None);
    assert_eq!(order_block(&m, 2, &[]).0.name(), "native-priority-fee");
    // Nothing left: stays native.
    assert_eq!(m.rollback(PluginKind::Ordering).unwrap(), None);

    let report = m.list();
    let rollbacks = |id: &str| {
        report
            .loaded
            .iter()
            .find(|p| p.info.id == id)
            .unwrap()
            .health
            .rollbacks
    };
    assert_eq!((rollbacks(&a.id), rollbacks(&b.id)), (1, 1));
}

#[test]
fn unknown_ids_and_slotless_operations_are_refused() {
    let m = manager();
    assert!(matches!(
        m.activate("0123456789abcdef"),
        Err(PluginError::UnknownPlugin(_))
    ));
    let codec = m
        .load(
            PluginKind::Compression,
            &testing::fixture("compression"),
            "",
        )
        .unwrap();
    assert!(matches!(
        m.shadow(&codec.id),
        Err(PluginError::NotSupported(_))
    ));
}

/// A restart takes the plugins' compiled code from storage instead of compiling them again;
/// a damaged artifact is never loaded (the plugin is compiled again and the artifact
/// rewritten), and unloading a plugin deletes its artifacts with its component.
#[test]
fn compiled_plugins_are_kept_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let open = || {
        let storage = Arc::new(Storage::open(dir.path()).unwrap());
        let m = PluginManager::open(PluginsConfig::default(), Some(storage.clone())).unwrap();
        (storage, m)
    };
    // The fixture in `identity` mode answers the candidates in the order given (as many as
    // fit the context's gas limit: all five here).
    let orders = |m: &Arc<PluginManager>| {
        let (policy, order) = order_block(m, 1, &testing::candidates(5, 5, 7));
        assert_eq!(policy.name(), "fixture-r");
        assert_eq!(order.unwrap(), vec![0, 1, 2, 3, 4]);
    };
    let (ordering, prover) = {
        let (storage, m) = open();
        let ordering = load_ordering(&m, "mode=identity name=r");
        // A second entry of the same component: one artifact serves both.
        load_ordering(&m, "mode=identity name=spare");
        let (codec, prover) = load_codec_and_prover(&m);
        m.activate(&ordering.id).unwrap();
        m.activate(&codec.id).unwrap();
        assert_eq!(m.artifacts_loaded(), 0);
        orders(&m);
        for hash in [&ordering.code_hash, &codec.code_hash, &prover.code_hash] {
            assert_eq!(storage.plugin_artifact_engines(hash).unwrap().len(), 1);
        }
        (ordering, prover)
    };

    // Three components, all from their artifacts, and they work.
    let (storage, m) = open();
    assert_eq!(m.artifacts_loaded(), 3);
    orders(&m);
    {
        let payload = b"the same bytes, compressed and back".repeat(40);
        let codec = m.compressor().unwrap();
        let packed = codec.compress(&payload).unwrap();
        assert_eq!(codec.decompress(&packed).unwrap(), payload);
    }

    // One flipped byte in the ordering component's artifact: compiled again, rewritten.
    let engine = storage
        .plugin_artifact_engines(&ordering.code_hash)
        .unwrap()[0];
    let mut damaged = storage
        .plugin_artifact(&ordering.code_hash, engine)
        .unwrap()
        .unwrap();
    let last = damaged.len() - 1;
    damaged[last] ^= 0x55;
    storage
        .put_plugin_artifact(&ordering.code_hash, engine, &damaged)
        .unwrap();
    drop((storage, m));
    let (storage, m) = open();
    assert_eq!(m.artifacts_loaded(), 2);
    orders(&m);
    let rewritten = storage
        .plugin_artifact(&ordering.code_hash, engine)
        .unwrap()
        .unwrap();
    assert_ne!(rewritten, damaged);
    drop((storage, m));
    let (storage, m) = open();
    assert_eq!(m.artifacts_loaded(), 3);

    // Unloading the prover's only entry deletes its artifact with its component.
    m.unload(&prover.id).unwrap();
    assert!(
        storage
            .plugin_artifact_engines(&prover.code_hash)
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        storage
            .plugin_artifact_engines(&ordering.code_hash)
            .unwrap(),
        vec![engine]
    );
}

/// The compression and prover fixtures, loaded (not activated).
fn load_codec_and_prover(m: &PluginManager) -> (PluginInfo, PluginInfo) {
    let load = |kind, fixture| m.load(kind, &testing::fixture(fixture), "").unwrap();
    (
        load(PluginKind::Compression, "compression"),
        load(PluginKind::Prover, "prover"),
    )
}

#[test]
fn the_active_set_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let storage = Arc::new(Storage::open(dir.path()).unwrap());
    let (a, b, codec, prover, shadow) = {
        let m = PluginManager::open(PluginsConfig::default(), Some(storage.clone())).unwrap();
        let a = load_ordering(&m, "mode=identity name=a");
        let b = load_ordering(&m, "mode=identity name=b");
        let shadow = load_ordering(&m, "mode=identity name=shadow");
        let (codec, prover) = load_codec_and_prover(&m);
        for id in [&a.id, &b.id, &codec.id, &prover.id] {
            m.activate(id).unwrap();
        }
        m.shadow(&shadow.id).unwrap();
        (a, b, codec, prover, shadow)
    };
    drop(storage);

    let storage = Arc::new(Storage::open(dir.path()).unwrap());
    let m = PluginManager::open(PluginsConfig::default(), Some(storage)).unwrap();
    let report = m.list();
    let active = |k: PluginKind| report.active[&k].as_ref().map(|p| p.id.clone());
    assert_eq!(active(PluginKind::Ordering), Some(b.id.clone()));
    assert_eq!(active(PluginKind::Compression), Some(codec.id.clone()));
    assert_eq!(active(PluginKind::Prover), Some(prover.id.clone()));
    assert_eq!(report.history[&PluginKind::Ordering], vec![a.id.clone()]);
    assert_eq!(report.shadow.as_ref().unwrap().id, shadow.id);
    assert_eq!(report.loaded.len(), 5);
    let b_report = report.loaded.iter().find(|p| p.info.id == b.id).unwrap();
    assert_eq!(b_report.info, b);
    assert_eq!(b_report.config, "mode=identity name=b");
    assert_eq!(m.ordering_source().current().name(), "fixture-b");
    assert_eq!(m.compressor().unwrap().code_hash(), codec.code_hash);
    assert_eq!(m.prover().unwrap().code_hash(), prover.code_hash);

    // And a rollback after the restart is persisted too.
    m.rollback(PluginKind::Ordering).unwrap();
    drop(m);
    let storage = Arc::new(Storage::open(dir.path()).unwrap());
    let m = PluginManager::open(PluginsConfig::default(), Some(storage)).unwrap();
    assert_eq!(m.ordering_source().current().name(), "fixture-a");
}

#[test]
fn automatic_rollbacks_are_persisted() {
    let dir = tempfile::tempdir().unwrap();
    let storage = Arc::new(Storage::open(dir.path()).unwrap());
    {
        let m = PluginManager::open(PluginsConfig::default(), Some(storage.clone())).unwrap();
        let bad = load_ordering(&m, "mode=trap arm=1");
        m.activate(&bad.id).unwrap();
        for block in 1..=3 {
            assert!(
                order_block(&m, block, &testing::candidates(3, 1, 1))
                    .1
                    .is_err()
            );
        }
    }
    drop(storage);
    let storage = Arc::new(Storage::open(dir.path()).unwrap());
    let m = PluginManager::open(PluginsConfig::default(), Some(storage)).unwrap();
    assert_eq!(m.list().active[&PluginKind::Ordering], None);
    assert_eq!(m.list().loaded.len(), 1);
}

#[test]
fn a_plugin_that_no_longer_passes_its_self_test_is_dropped_at_restart() {
    let dir = tempfile::tempdir().unwrap();
    let storage = Arc::new(Storage::open(dir.path()).unwrap());
    {
        let m = PluginManager::open(PluginsConfig::default(), Some(storage.clone())).unwrap();
        let bomb = load_ordering(&m, "mode=bomb arm=1");
        m.activate(&bomb.id).unwrap();
    }
    drop(storage);
    // Same plugin, but now the limits make its self-test fail: a cap so small the
    // component cannot even start.
    let mut config = PluginsConfig::default();
    config.ordering.memory_bytes = 1 << 20;
    config.ordering.fuel = 10;
    let storage = Arc::new(Storage::open(dir.path()).unwrap());
    let m = PluginManager::open(config, Some(storage.clone())).unwrap();
    assert!(m.list().loaded.is_empty());
    assert_eq!(m.ordering_source().current().name(), "native-priority-fee");
}

#[test]
fn the_report_serializes_for_the_operator() {
    let m = manager();
    let a = load_ordering(&m, "mode=identity");
    m.activate(&a.id).unwrap();
    order_block(&m, 1, &testing::candidates(3, 1, 1)).1.unwrap();
    let json = serde_json::to_value(m.list()).unwrap();
    assert_eq!(json["active"]["ordering"]["id"], a.id);
    assert_eq!(json["active"]["compression"], serde_json::Value::Null);
    assert_eq!(json["loaded"][0]["name"], "fixture-identity");
    assert_eq!(json["loaded"][0]["kind"], "ordering");
    assert_eq!(json["loaded"][0]["health"]["calls"], 1);
    assert_eq!(json["loaded"][0]["active"], true);
}

#[test]
fn unload_refuses_slot_holders_and_cleans_storage() {
    let dir = tempfile::tempdir().unwrap();
    let storage = Arc::new(Storage::open(dir.path()).unwrap());
    let m = PluginManager::open(PluginsConfig::default(), Some(storage.clone())).unwrap();
    let a = load_ordering(&m, "mode=identity name=a");
    let b = load_ordering(&m, "mode=identity name=b");
    m.activate(&a.id).unwrap();
    m.activate(&b.id).unwrap();
    assert!(matches!(m.unload(&b.id), Err(PluginError::NotSupported(_))));
    m.shadow(&a.id).unwrap();
    assert!(matches!(m.unload(&a.id), Err(PluginError::NotSupported(_))));
    m.unshadow().unwrap();
    // `a` is only in the history: unloading drops it from there too.
    m.unload(&a.id).unwrap();
    assert!(m.list().history[&PluginKind::Ordering].is_empty());
    // The bytes stay while `b` (same component) is loaded.
    assert!(storage.plugin_wasm(&a.code_hash).unwrap().is_some());
    m.rollback(PluginKind::Ordering).unwrap();
    m.unload(&b.id).unwrap();
    assert!(storage.plugin_wasm(&b.code_hash).unwrap().is_none());
    assert!(m.list().loaded.is_empty());
    assert!(matches!(
        m.unload(&b.id),
        Err(PluginError::UnknownPlugin(_))
    ));
}

#[test]
fn an_active_plugin_that_does_not_come_back_rolls_its_slot_back() {
    let dir = tempfile::tempdir().unwrap();
    let storage = Arc::new(Storage::open(dir.path()).unwrap());
    let (a, b) = {
        let m = PluginManager::open(PluginsConfig::default(), Some(storage.clone())).unwrap();
        let a = load_ordering(&m, "mode=identity name=a");
        let b = load_ordering(&m, "mode=identity name=b");
        m.activate(&a.id).unwrap();
        m.activate(&b.id).unwrap();
        (a, b)
    };
    // Tamper with b's stored entry: its config no longer passes the self-test.
    let state = String::from_utf8(storage.plugin_state().unwrap().unwrap()).unwrap();
    let tampered = state.replace("mode=identity name=b", "mode=loop name=b");
    assert_ne!(state, tampered);
    storage.put_plugin_state(tampered.as_bytes()).unwrap();
    drop(storage);

    let storage = Arc::new(Storage::open(dir.path()).unwrap());
    let m = PluginManager::open(PluginsConfig::default(), Some(storage)).unwrap();
    let report = m.list();
    assert_eq!(report.loaded.len(), 1);
    assert_eq!(
        report.active[&PluginKind::Ordering].as_ref().unwrap().id,
        a.id
    );
    assert!(report.history[&PluginKind::Ordering].is_empty());
    assert!(report.loaded.iter().all(|p| p.info.id != b.id));
}
