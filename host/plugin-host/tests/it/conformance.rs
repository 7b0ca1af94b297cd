//! Every shipped plugin (and the round-robin example) against the host's checks.

use ordo_plugin_host::{BatchHeader, PluginKind, PluginManager, shipped, testing};

use crate::manager;

fn shipped_of(kind: PluginKind) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = shipped::all()
        .into_iter()
        .filter(|p| p.kind == kind)
        .map(|p| (p.package.to_string(), p.bytes.to_vec()))
        .collect();
    if kind == PluginKind::Ordering
        && let Some(path) = testing::ROUND_ROBIN_EXAMPLE
    {
        out.push(("ordering-round-robin".into(), std::fs::read(path).unwrap()));
    }
    if out.is_empty() {
        eprintln!("no shipped {kind} plugins were built (plugins/ missing at build time)");
    }
    out
}

fn activate(m: &PluginManager, kind: PluginKind, package: &str, bytes: &[u8]) {
    let info = m
        .load(kind, bytes, "")
        .unwrap_or_else(|e| panic!("{package}: {e}"));
    m.activate(&info.id).unwrap();
}

#[test]
fn the_default_set_is_shipped() {
    if shipped::all().is_empty() {
        return;
    }
    let defaults: Vec<_> = shipped::defaults().iter().map(|p| p.package).collect();
    assert_eq!(
        defaults,
        [
            shipped::DEFAULT_ORDERING,
            shipped::DEFAULT_COMPRESSION,
            shipped::DEFAULT_PROVER
        ]
    );
}

#[test]
fn ordering_plugins_answer_valid_orders_for_1k_candidates() {
    for (package, bytes) in shipped_of(PluginKind::Ordering) {
        let m = manager();
        activate(&m, PluginKind::Ordering, &package, &bytes);
        for (seed, gas_limit) in [(1, 30_000_000), (2, 30_000_000), (3, 2_000_000)] {
            let candidates = testing::candidates(1_000, 100, seed);
            let mut ctx = testing::context(seed);
            ctx.gas_limit = gas_limit;
            let policy = m.ordering_source().current();
            let order = policy
                .order(&ctx, &candidates)
                .unwrap_or_else(|e| panic!("{package}, seed {seed}: {e}"));
            ordo_hooks::check_order(&candidates, &order).unwrap();
            let gas: u64 = order
                .iter()
                .map(|&i| candidates[i as usize].tx.gas_limit())
                .sum();
            assert!(gas <= gas_limit, "{package}");
            assert!(!order.is_empty(), "{package}, seed {seed}: empty block");
        }
        let report = m.list();
        assert!(report.loaded[0].health.failures.is_empty(), "{package}");
    }
}

#[test]
fn compression_plugins_round_trip_and_survive_garbage() {
    let mut rng = 0x1234_5678_9abc_def1u64;
    let mut next = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng as u8
    };
    let random: Vec<u8> = (0..1 << 20).map(|_| next()).collect();
    let zeros = vec![0u8; 1 << 20];
    let samples: [(&str, &[u8]); 4] = [
        ("empty", &[]),
        ("1 byte", &[0x2a]),
        ("1 MiB random", &random),
        ("1 MiB zeros", &zeros),
    ];
    for (package, bytes) in shipped_of(PluginKind::Compression) {
        let m = manager();
        activate(&m, PluginKind::Compression, &package, &bytes);
        let c = m.compressor().unwrap();
        for (what, sample) in samples {
            let compressed = c
                .compress(sample)
                .unwrap_or_else(|e| panic!("{package}, {what}: {e}"));
            assert_eq!(
                c.decompress(&compressed).unwrap(),
                sample,
                "{package}, {what}"
            );
        }
        let garbage: Vec<u8> = (0..4096).map(|i| (i * 7 + 3) as u8).collect();
        assert!(
            c.decompress(&garbage).is_err(),
            "{package}: garbage decoded"
        );
        // The host is fine and so is the slot.
        assert_eq!(
            c.compress(b"after garbage").map(|_| ()),
            Ok(()),
            "{package}"
        );
        assert_eq!(
            m.list().active[&PluginKind::Compression]
                .as_ref()
                .unwrap()
                .name,
            c.name()
        );
    }
}

#[test]
fn prover_plugins_are_deterministic() {
    for (package, bytes) in shipped_of(PluginKind::Prover) {
        let m = manager();
        activate(&m, PluginKind::Prover, &package, &bytes);
        let p = m.prover().unwrap();
        let header = BatchHeader {
            index: 3,
            first_block: 10,
            last_block: 20,
            codec_id: 1,
            ..Default::default()
        };
        let payload = vec![0x5a; 100_000];
        let a = p.on_batch(&header, &payload).unwrap();
        // A fresh instance, the same answer.
        let b = m.prover().unwrap().on_batch(&header, &payload).unwrap();
        assert_eq!(a, b, "{package}");
        assert!(a.len() <= ordo_plugin_host::MAX_ATTESTATION_BYTES);
    }
}

/// The shipped default is the native policy compiled to WASM: where every candidate fits
/// and pays the base fee, both must order identically. This also pins every fee, nonce and
/// sender field of the candidate records the host hands the guest.
#[test]
fn the_default_ordering_plugin_agrees_with_the_native_policy() {
    use ordo_hooks::{OrderingPolicy, PriorityFeeOrdering};
    let Some(plugin) = shipped::find(shipped::DEFAULT_ORDERING) else {
        return;
    };
    let m = manager();
    activate(&m, PluginKind::Ordering, plugin.package, plugin.bytes);
    for seed in 1..=3 {
        let candidates = testing::candidates(2_000, 150, seed);
        let mut ctx = testing::context(seed);
        ctx.gas_limit = 1 << 40;
        let wasm = m
            .ordering_source()
            .current()
            .order(&ctx, &candidates)
            .unwrap();
        let native = PriorityFeeOrdering.order(&ctx, &candidates).unwrap();
        assert_eq!(wasm, native, "seed {seed}");
    }
}
