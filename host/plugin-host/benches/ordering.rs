//! WASM ordering against the native policy, the fixed cost of a call, and load→active.
//!
//! `cargo bench -p ordo-plugin-host`. Reports numbers; asserts nothing about them.

// A benchmark aborts on setup failure; there is nothing to recover.
#![allow(clippy::unwrap_used)]

use std::{hint::black_box, time::Duration};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use ordo_hooks::{OrderingPolicy, PriorityFeeOrdering};
use ordo_plugin_host::{PluginKind, PluginManager, PluginsConfig, shipped, testing};

/// Enough gas for every candidate, so both policies order the whole set (the native one
/// ignores the gas limit; the plugin stops at it).
const ALL_FIT_GAS: u64 = 4_000_000_000;

fn priority_fee_wasm() -> Option<&'static [u8]> {
    shipped::find(shipped::DEFAULT_ORDERING).map(|p| p.bytes)
}

fn ordering(c: &mut Criterion) {
    let Some(wasm) = priority_fee_wasm() else {
        eprintln!("plugins/ was not built: no priority-fee component to benchmark");
        return;
    };
    let m = PluginManager::open(PluginsConfig::default(), None).unwrap();
    let info = m.load(PluginKind::Ordering, wasm, "").unwrap();
    m.activate(&info.id).unwrap();
    let source = m.ordering_source();

    let mut group = c.benchmark_group("ordering");
    group
        .sample_size(30)
        .measurement_time(Duration::from_secs(8));
    for n in [1_000usize, 10_000] {
        let candidates = testing::candidates(n, n / 10, 42);
        let mut ctx = testing::context(1);
        ctx.gas_limit = ALL_FIT_GAS;
        group.bench_with_input(BenchmarkId::new("native", n), &candidates, |b, set| {
            b.iter(|| {
                PriorityFeeOrdering
                    .order(black_box(&ctx), black_box(set))
                    .unwrap()
            })
        });
        group.bench_with_input(
            BenchmarkId::new("wasm-priority-fee", n),
            &candidates,
            |b, set| {
                b.iter(|| {
                    // As the builder does it: a snapshot per block, then the call.
                    let policy = source.current();
                    let order = policy.order(black_box(&ctx), black_box(set)).unwrap();
                    assert_eq!(order.len(), set.len());
                    order
                })
            },
        );
    }
    group.finish();
}

fn call_overhead(c: &mut Criterion) {
    let m = PluginManager::open(PluginsConfig::default(), None).unwrap();
    let fixture = m
        .load(PluginKind::Ordering, &testing::fixture("ordering"), "")
        .unwrap();
    let mut group = c.benchmark_group("instantiate");
    group.sample_size(50);
    group.bench_function("fixture (store + instance + metadata)", |b| {
        b.iter(|| m.probe(&fixture.id).unwrap())
    });
    if let Some(wasm) = priority_fee_wasm() {
        let info = m.load(PluginKind::Ordering, wasm, "").unwrap();
        group.bench_function("priority-fee (store + instance + metadata)", |b| {
            b.iter(|| m.probe(&info.id).unwrap())
        });
    }
    group.finish();
}

fn load_to_active(c: &mut Criterion) {
    let mut group = c.benchmark_group("load-to-active");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(10));
    group.bench_function("engine only (PluginManager::open)", |b| {
        b.iter(|| PluginManager::open(PluginsConfig::default(), None).unwrap())
    });
    let mut components = vec![("fixture", testing::fixture("ordering"))];
    if let Some(wasm) = priority_fee_wasm() {
        components.push(("priority-fee", wasm.to_vec()));
    }
    for (name, wasm) in &components {
        // Uncached: a fresh manager (and engine, and compile cache) per iteration, so this
        // includes `open`; subtract the line above for compile + self-test + activate.
        group.bench_function(
            format!("{name} uncached (open + compile + self-test + activate)"),
            |b| {
                b.iter(|| {
                    let m = PluginManager::open(PluginsConfig::default(), None).unwrap();
                    let info = m.load(PluginKind::Ordering, wasm, "").unwrap();
                    m.activate(&info.id).unwrap();
                })
            },
        );
    }
    // Cached: the compilation is reused (the engine keeps it after an unload), so this is
    // checks + link + metadata + self-test + activate, plus the rollback and unload that
    // reset the registry for the next iteration.
    for (name, wasm) in &components {
        let m = PluginManager::open(PluginsConfig::default(), None).unwrap();
        let info = m.load(PluginKind::Ordering, wasm, "").unwrap();
        group.bench_function(
            format!("{name} cached (checks + self-test + activate)"),
            |b| {
                b.iter(|| {
                    m.unload(&info.id).unwrap();
                    m.load(PluginKind::Ordering, wasm, "").unwrap();
                    m.activate(&info.id).unwrap();
                    m.rollback(PluginKind::Ordering).unwrap();
                })
            },
        );
    }
    group.finish();
}

criterion_group!(benches, ordering, call_overhead, load_to_active);
criterion_main!(benches);
