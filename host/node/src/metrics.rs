//! Prometheus text exposition for `GET /metrics` on the admin listener.
//!
//! ```text
//! stages record through the `metrics` facade (rpc latency and errors, tx ingress, builder
//!   stages, block gas/txs/interval, WAL fsync and group size, batches) ──▶ the recorder
//!   installed here ──▶ rendered at scrape
//! state read at scrape (mempool, plugin health and shadow, searchers, L1 poster) ──▶ written
//!   here as gauges and counters
//! ```

use std::{fmt::Write, sync::OnceLock};

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use ordo_builder::Builder;

static RECORDER: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the process-wide recorder once (later calls share it). None if another recorder
/// was installed first (then only the scrape-time series are served).
pub fn install() -> Option<PrometheusHandle> {
    RECORDER
        .get_or_init(|| {
            let seconds = [
                0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
                5.0, 10.0,
            ];
            let counts = [
                1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0, 4096.0,
            ];
            let bytes = [1e3, 1e4, 5e4, 1e5, 2.5e5, 5e5, 1e6, 5e6];
            let built = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &seconds)
                .and_then(|b| b.set_buckets_for_metric(Matcher::Suffix("_bytes".into()), &bytes))
                .and_then(|b| b.set_buckets_for_metric(Matcher::Suffix("_size".into()), &counts))
                .and_then(|b| b.set_buckets_for_metric(Matcher::Suffix("_txs".into()), &counts))
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        Matcher::Full("ordo_block_gas_used".into()),
                        &[1e5, 1e6, 5e6, 1e7, 2e7, 3e7, 6e7],
                    )
                })
                // Block stages are compared with millisecond targets: steps of about 19%
                // from 50 µs to 2 s, so quantiles read from the buckets are close.
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        Matcher::Full("ordo_builder_stage_seconds".into()),
                        &stage_buckets(),
                    )
                })
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        Matcher::Full("ordo_tx_recover_seconds".into()),
                        &stage_buckets(),
                    )
                });
            match built.map(|b| b.install_recorder()) {
                Ok(Ok(handle)) => {
                    describe();
                    Some(handle)
                }
                Ok(Err(e)) => {
                    tracing::warn!(target: "ordo::node", %e, "metrics recorder not installed");
                    None
                }
                Err(e) => {
                    tracing::warn!(target: "ordo::node", %e, "metrics buckets refused");
                    None
                }
            }
        })
        .clone()
}

fn stage_buckets() -> Vec<f64> {
    std::iter::successors(Some(0.00005f64), |b| Some(b * 1.1892))
        .take_while(|b| *b <= 2.0)
        .collect()
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        "ordo_tx_ingress_total",
        "Transactions offered, by result and refusal reason."
    );
    describe_histogram!(
        "ordo_rpc_request_duration_seconds",
        "JSON-RPC call time by method."
    );
    describe_counter!(
        "ordo_rpc_errors_total",
        "JSON-RPC calls answered with an error, by method."
    );
    describe_counter!(
        "ordo_rpc_rate_limited_total",
        "Calls refused by a rate limit."
    );
    describe_histogram!(
        "ordo_builder_stage_seconds",
        "Block building time per stage (candidates, ordering, bundles, execution, root, commit)."
    );
    describe_counter!(
        "ordo_worker_panics_total",
        "Jobs that panicked on a worker pool's threads, by pool (ordo-decode: a submitted \
         transaction's decoding, ordo-read: an expensive read); the caller gets an internal \
         error and the thread goes on."
    );
    describe_histogram!(
        "ordo_tx_recover_seconds",
        "Decoding and sender recovery of one raw transaction at ingress (on the decoding \
         threads, one per core; blocks get their senders already recovered)."
    );
    describe_histogram!(
        "ordo_block_interval_seconds",
        "Time between the starts of consecutive blocks."
    );
    describe_counter!(
        "ordo_block_slots_overrun_total",
        "Block slots missed because building the previous block took longer than the block \
         time (the next block then starts at once)."
    );
    describe_counter!("ordo_blocks_sealed_total", "Blocks sealed.");
    describe_counter!("ordo_block_txs_total", "Transactions included.");
    describe_counter!("ordo_block_gas_used_total", "Gas used by sealed blocks.");
    describe_histogram!("ordo_block_txs", "Transactions per block.");
    describe_histogram!(
        "ordo_tx_inclusion_seconds",
        "From a transaction's acceptance to the sealing of the block that includes it."
    );
    describe_histogram!("ordo_block_gas_used", "Gas used per block.");
    describe_gauge!("ordo_head_block", "Number of the head block.");
    describe_gauge!("ordo_base_fee_wei", "Base fee of the head block.");
    describe_gauge!(
        "ordo_da_throttled",
        "1 while blocks are throttled because L1 posting is behind ([batcher] max_backlog_bytes)."
    );
    describe_gauge!(
        "ordo_da_throttle_block_bytes",
        "Most bytes of signed transactions a block may carry while throttled; 0: no limit."
    );
    describe_counter!(
        "ordo_plugin_fallbacks_total",
        "Blocks built by the native fallback, by kind."
    );
    describe_histogram!(
        "ordo_wal_fsync_seconds",
        "Transaction WAL group commit time (one fsync; none on a replica, whose log keeps them)."
    );
    describe_histogram!(
        "ordo_wal_group_size",
        "Transactions per WAL group commit (on a replica: per group the log commits)."
    );
    describe_histogram!(
        "ordo_forward_batch_size",
        "On a follower: transactions per batch forwarded to the leader."
    );
    describe_counter!("ordo_batches_built_total", "Batches built.");
    describe_histogram!("ordo_batch_raw_bytes", "Uncompressed batch payload size.");
    describe_histogram!(
        "ordo_batch_posted_bytes",
        "Compressed batch data size (what goes to L1)."
    );
    describe_histogram!("ordo_batch_txs", "Transactions per batch.");
    describe_gauge!(
        "ordo_batch_compression_ratio",
        "Posted over raw size of the last batch."
    );
}

/// What the scrape-time series are read from.
pub struct Sources<'a> {
    pub builder: &'a Builder,
    pub pool: &'a ordo_pool::Pool,
    pub plugins: &'a ordo_plugin_host::PluginManager,
    pub poster: Option<&'a ordo_l1::StatusHandle>,
}

/// Escapes a label value (backslash, quote, newline), as the text format requires.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The current metrics in Prometheus text format (version 0.0.4).
pub fn render(src: &Sources<'_>) -> String {
    let mut out = match install() {
        Some(handle) => {
            handle.run_upkeep();
            handle.render()
        }
        None => String::new(),
    };
    scrape_time(src, &mut out);
    out.push_str(&searchers(src.builder));
    out
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// (VmRSS, VmHWM) of this process in bytes, from /proc (Linux only).
fn process_memory() -> Option<(u64, u64)> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map(|kb| kb * 1024)
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

/// Series read from the stages' own state at scrape time.
fn scrape_time(src: &Sources<'_>, out: &mut String) {
    let pool = src.pool.status();
    family(
        out,
        "ordo_mempool_txs",
        "gauge",
        "Transactions in the mempool, by state.",
    );
    let _ = writeln!(
        out,
        "ordo_mempool_txs{{state=\"pending\"}} {}",
        pool.pending
    );
    let _ = writeln!(out, "ordo_mempool_txs{{state=\"queued\"}} {}", pool.queued);
    family(
        out,
        "ordo_mempool_bytes",
        "gauge",
        "Encoded bytes held by the mempool.",
    );
    let _ = writeln!(out, "ordo_mempool_bytes {}", pool.bytes);
    let bundles = src.builder.bundle_pool().map_or(0, |p| p.len());
    family(
        out,
        "ordo_bundle_pool_bundles",
        "gauge",
        "Bundles waiting for their block.",
    );
    let _ = writeln!(out, "ordo_bundle_pool_bundles {bundles}");
    let halted = u8::from(src.builder.halted().is_some());
    family(
        out,
        "ordo_halted",
        "gauge",
        "1 while the operator has halted the sequencer.",
    );
    let _ = writeln!(out, "ordo_halted {halted}");
    if let Some((rss, peak)) = process_memory() {
        family(
            out,
            "ordo_process_resident_bytes",
            "gauge",
            "Resident memory of the node process.",
        );
        let _ = writeln!(out, "ordo_process_resident_bytes {rss}");
        family(
            out,
            "ordo_process_peak_resident_bytes",
            "gauge",
            "Highest resident memory of the node process since it started.",
        );
        let _ = writeln!(out, "ordo_process_peak_resident_bytes {peak}");
    }

    let report = src.plugins.list();
    let series: [(&str, &str, &str); 5] = [
        ("ordo_plugin_calls_total", "counter", "Plugin calls made."),
        (
            "ordo_plugin_failures_total",
            "counter",
            "Failed plugin calls, by reason.",
        ),
        (
            "ordo_plugin_fallbacks_by_plugin_total",
            "counter",
            "Blocks or batches that used the native fallback because of the plugin.",
        ),
        (
            "ordo_plugin_call_seconds_total",
            "counter",
            "Time spent in plugin calls.",
        ),
        (
            "ordo_plugin_active",
            "gauge",
            "1 for the active plugin of its kind (or an active searcher).",
        ),
    ];
    for (name, kind, help) in series {
        family(out, name, kind, help);
        for p in &report.loaded {
            let l = format!(
                "plugin=\"{}\",kind=\"{}\",version=\"{}\"",
                label(&p.info.name),
                label(&p.info.kind.to_string()),
                label(&p.info.version)
            );
            let h = &p.health;
            match name {
                "ordo_plugin_calls_total" => {
                    let _ = writeln!(out, "{name}{{{l}}} {}", h.calls);
                }
                "ordo_plugin_failures_total" => {
                    for (reason, n) in &h.failures {
                        let _ = writeln!(
                            out,
                            "{name}{{{l},reason=\"{}\"}} {n}",
                            label(&reason.to_string())
                        );
                    }
                }
                "ordo_plugin_fallbacks_by_plugin_total" => {
                    let _ = writeln!(out, "{name}{{{l}}} {}", h.fallbacks);
                }
                "ordo_plugin_call_seconds_total" => {
                    let _ = writeln!(out, "{name}{{{l}}} {}", h.total_call_us as f64 / 1e6);
                }
                _ => {
                    let _ = writeln!(out, "{name}{{{l}}} {}", u8::from(p.active));
                }
            }
        }
    }
    family(
        out,
        "ordo_shadow_blocks_compared_total",
        "counter",
        "Blocks the shadow ordering plugin was compared on.",
    );
    family(
        out,
        "ordo_shadow_blocks_total",
        "counter",
        "Shadow comparisons by outcome (shadow better or worse on priority fees).",
    );
    if let Some(shadow) = &report.shadow {
        let id = label(&shadow.id);
        let _ = writeln!(
            out,
            "ordo_shadow_blocks_compared_total{{shadow=\"{id}\"}} {}",
            shadow.blocks_compared
        );
        let _ = writeln!(
            out,
            "ordo_shadow_blocks_total{{shadow=\"{id}\",outcome=\"better\"}} {}",
            shadow.shadow_better_blocks
        );
        let _ = writeln!(
            out,
            "ordo_shadow_blocks_total{{shadow=\"{id}\",outcome=\"worse\"}} {}",
            shadow.shadow_worse_blocks
        );
    }

    if let Some(poster) = src.poster {
        let s = poster.get();
        let counters: [(&str, &str, u64); 7] = [
            (
                "ordo_l1_submissions_total",
                "Batches posted to L1 for the first time.",
                s.posted,
            ),
            (
                "ordo_l1_blob_submissions_total",
                "Of those, posted as blobs.",
                s.posted_blobs,
            ),
            (
                "ordo_l1_fee_bumps_total",
                "Batch transactions replaced with bumped fees.",
                s.bumped,
            ),
            (
                "ordo_l1_reposts_total",
                "Batches posted again (lost to a reorg or restart, or nonce taken).",
                s.reposted,
            ),
            (
                "ordo_l1_confirmations_total",
                "Batches confirmed on L1.",
                s.confirmed,
            ),
            (
                "ordo_l1_finalizations_total",
                "Confirmed batches whose L1 block L1 has finalized.",
                s.finalized,
            ),
            (
                "ordo_l1_reorged_total",
                "Confirmed batches whose L1 block a reorg removed (sent again).",
                s.reorged,
            ),
        ];
        for (name, help, v) in counters {
            family(out, name, "counter", help);
            let _ = writeln!(out, "{name} {v}");
        }
        family(
            out,
            "ordo_l1_in_flight",
            "gauge",
            "Batches submitted and not yet confirmed.",
        );
        let _ = writeln!(out, "ordo_l1_in_flight {}", s.in_flight.len());
        family(
            out,
            "ordo_l1_head",
            "gauge",
            "Latest L1 block seen by the poster.",
        );
        let _ = writeln!(out, "ordo_l1_head {}", s.l1_head.unwrap_or(0));
        family(
            out,
            "ordo_l1_unfinalized",
            "gauge",
            "Confirmed batches whose L1 block is not final yet.",
        );
        let _ = writeln!(out, "ordo_l1_unfinalized {}", s.unfinalized);
        family(
            out,
            "ordo_l1_error",
            "gauge",
            "1 while the poster's last L1 round failed.",
        );
        let _ = writeln!(out, "ordo_l1_error {}", u8::from(s.last_error.is_some()));
    }
}

/// Most searchers with series of their own; the rest are summed as `searcher="other"`.
const MAX_SEARCHER_SERIES: usize = 32;

/// Per-searcher bundle series. Anyone can sign bundles with fresh keys, so only searchers
/// that landed a bundle (and plugins, and `anonymous`), the best [`MAX_SEARCHER_SERIES`] of
/// them, get series of their own; everyone else, and the searchers the ledger forgot, are
/// one `other` series (it can step down when a searcher leaves it for a series of its own).
fn searchers(builder: &Builder) -> String {
    let ledger = builder.searcher_ledger();
    let next = builder.head().number() + 1;
    let mut ranked: Vec<(String, ordo_builder::SearcherStats)> =
        ledger.snapshot().into_iter().collect();
    ranked.sort_by(|(ak, a), (bk, b)| {
        let own = |k: &str, s: &ordo_builder::SearcherStats| !k.starts_with("0x") || s.landed > 0;
        own(bk, b)
            .cmp(&own(ak, a))
            .then(b.landed.cmp(&a.landed))
            .then(b.paid.cmp(&a.paid))
            .then(b.proposed.cmp(&a.proposed))
    });
    let mut other = ledger.forgotten();
    let mut stats: Vec<(String, ordo_builder::SearcherStats)> = Vec::new();
    for (i, (key, s)) in ranked.into_iter().enumerate() {
        let own = !key.starts_with("0x") || s.landed > 0;
        if own && i < MAX_SEARCHER_SERIES {
            stats.push((key, s));
        } else {
            other.proposed += s.proposed;
            other.landed += s.landed;
            other.paid = other.paid.saturating_add(s.paid);
            for (reason, n) in s.dropped {
                *other.dropped.entry(reason).or_default() += n;
            }
        }
    }
    let other_limited = ledger.rate_limited(ordo_builder::UNPROVEN, next);
    stats.push(("other".to_string(), other));
    let mut out = String::new();
    let mut family = |name: &str, kind: &str, help: &str| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for (searcher, s) in &stats {
            let who = label(searcher);
            match name {
                "ordo_searcher_bundles_proposed_total" => {
                    let _ = writeln!(out, "{name}{{searcher=\"{who}\"}} {}", s.proposed);
                }
                "ordo_searcher_bundles_landed_total" => {
                    let _ = writeln!(out, "{name}{{searcher=\"{who}\"}} {}", s.landed);
                }
                "ordo_searcher_bundles_dropped_total" => {
                    for (reason, n) in &s.dropped {
                        let _ = writeln!(
                            out,
                            "{name}{{searcher=\"{who}\",reason=\"{}\"}} {n}",
                            label(reason)
                        );
                    }
                }
                "ordo_searcher_bids_paid_wei_total" => {
                    let _ = writeln!(out, "{name}{{searcher=\"{who}\"}} {}", s.paid);
                }
                _ => {
                    let limited = if searcher == "other" {
                        other_limited
                    } else {
                        ledger.rate_limited(searcher, next)
                    };
                    let _ = writeln!(out, "{name}{{searcher=\"{who}\"}} {}", u8::from(limited));
                }
            }
        }
    };
    family(
        "ordo_searcher_bundles_proposed_total",
        "counter",
        "Bundles offered for a block, per searcher.",
    );
    family(
        "ordo_searcher_bundles_landed_total",
        "counter",
        "Bundles included whole, per searcher.",
    );
    family(
        "ordo_searcher_bundles_dropped_total",
        "counter",
        "Bundles left out, per searcher and reason.",
    );
    family(
        "ordo_searcher_bids_paid_wei_total",
        "counter",
        "Wei paid to the coinbase by landed bundles (priority fees plus direct payments).",
    );
    family(
        "ordo_searcher_rate_limited",
        "gauge",
        "1 while the searcher's bundles are refused for failing simulation.",
    );
    out
}

#[cfg(test)]
mod tests {
    use super::label;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
