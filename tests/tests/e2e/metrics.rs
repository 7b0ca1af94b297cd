//! `GET /metrics` on the admin listener after real traffic: the body parses as Prometheus
//! text and carries the node's series (ingress by reason, RPC latency by method, mempool,
//! blocks, builder stages, plugin calls, WAL group commits, batches).

use std::time::Duration;

use alloy::providers::Provider;
use alloy::{network::TransactionBuilder, primitives::U256, rpc::types::TransactionRequest};
use eyre::{Result, ensure, eyre};
use ordo_tests::*;
use serde_json::json;

use crate::{GUARD, RECEIPT};

/// Three transfers from `p`'s signer, each waited for.
async fn three_transfers(p: &alloy::providers::DynProvider) -> Result<()> {
    for i in 0..3u64 {
        let tx = TransactionRequest::default()
            .with_to(random_address())
            .with_value(U256::from(i + 1));
        let h = *p.send_transaction(tx).await?.tx_hash();
        wait_receipt(p, h, RECEIPT).await?;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_parse_as_prometheus_text_and_carry_the_node_series() -> Result<()> {
    let node = TestNode::start(NodeOpts {
        config_toml: Some("[batcher]\nmax_delay_ms = 300\n".into()),
        ..NodeOpts::default()
    })
    .await?;
    node.logs()
        .guard(GUARD, async {
            let rpc = node.rpc();
            let signer = dev_signer(4);
            let p = node.provider(&signer);
            three_transfers(&p).await?;
            // A refusal (nonce too low) and an unknown method.
            let chain_id = p.get_chain_id().await?;
            let (stale, _) = sign_raw(
                &signer,
                transfer_1559(
                    chain_id,
                    0,
                    random_address(),
                    U256::from(1),
                    10_000_000_000,
                    1,
                ),
            );
            ensure!(rpc.send_raw(&stale).await?.is_err());
            ensure!(rpc.call("eth_noSuchMethod", json!([])).await?.is_err());
            // A batch is built (300 ms max delay).
            let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
            while rpc.ok("ordo_getBatch", json!(["0x0"])).await?.is_null() {
                ensure!(tokio::time::Instant::now() < deadline, "no batch");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }

            let unauthorized = reqwest::get(format!("{}/metrics", node.admin_url())).await?;
            ensure!(unauthorized.status().as_u16() == 401);
            let body = node.metrics_text().await?;
            let scrape = prometheus_parse::Scrape::parse(body.lines().map(|l| Ok(l.to_string())))
                .map_err(|e| eyre!("not Prometheus text: {e}\n{body}"))?;
            let find = |name: &str, labels: &[(&str, &str)]| {
                scrape.samples.iter().find(|s| {
                    s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v))
                })
            };
            let has = |name: &str, labels: &[(&str, &str)]| find(name, labels).is_some();
            let value = |name: &str, labels: &[(&str, &str)]| -> f64 {
                find(name, labels)
                    .map(|s| match s.value {
                        prometheus_parse::Value::Counter(v)
                        | prometheus_parse::Value::Gauge(v)
                        | prometheus_parse::Value::Untyped(v) => v,
                        prometheus_parse::Value::Histogram(ref h) => {
                            h.last().map_or(0.0, |b| b.count)
                        }
                        prometheus_parse::Value::Summary(_) => 0.0,
                    })
                    .unwrap_or(-1.0)
            };
            for (name, labels) in [
                ("ordo_tx_ingress_total", vec![("result", "accepted")]),
                (
                    "ordo_tx_ingress_total",
                    vec![("result", "rejected"), ("reason", "nonce_too_low")],
                ),
                (
                    "ordo_rpc_request_duration_seconds",
                    vec![("method", "eth_sendRawTransaction")],
                ),
                (
                    "ordo_rpc_request_duration_seconds",
                    vec![("method", "unknown")],
                ),
                ("ordo_rpc_errors_total", vec![("method", "unknown")]),
                ("ordo_mempool_txs", vec![("state", "pending")]),
                ("ordo_block_interval_seconds", vec![]),
                ("ordo_block_txs_total", vec![]),
                ("ordo_block_gas_used_total", vec![]),
                ("ordo_head_block", vec![]),
                ("ordo_builder_stage_seconds", vec![("stage", "candidates")]),
                ("ordo_builder_stage_seconds", vec![("stage", "ordering")]),
                ("ordo_builder_stage_seconds", vec![("stage", "execution")]),
                ("ordo_builder_stage_seconds", vec![("stage", "commit")]),
                ("ordo_plugin_calls_total", vec![("kind", "ordering")]),
                ("ordo_plugin_active", vec![("kind", "compression")]),
                ("ordo_wal_fsync_seconds", vec![]),
                ("ordo_wal_group_size", vec![]),
                ("ordo_batches_built_total", vec![]),
                ("ordo_batch_posted_bytes", vec![]),
                ("ordo_batch_compression_ratio", vec![]),
                ("ordo_halted", vec![]),
            ] {
                ensure!(has(name, &labels), "missing {name} {labels:?}\n{body}");
            }
            ensure!(value("ordo_tx_ingress_total", &[("result", "accepted")]) >= 3.0);
            ensure!(value("ordo_block_txs_total", &[]) >= 3.0);
            ensure!(value("ordo_plugin_calls_total", &[("kind", "ordering")]) > 0.0);
            ensure!(
                value("ordo_wal_group_size", &[]) >= 3.0,
                "three WAL groups counted"
            );
            ensure!(
                !body.contains("eth_noSuchMethod"),
                "unknown method names never become labels"
            );
            Ok(())
        })
        .await
}

/// The metric names a PromQL expression reads (`ordo_…`; PromQL functions and labels never
/// start with it).
fn metric_names(expr: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = expr;
    while let Some(at) = rest.find("ordo_") {
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        names.push(tail[..end].to_string());
        rest = &tail[end..];
    }
    names
}

/// `deploy/grafana/ordo.json`: a Grafana dashboard whose every query names a series a node
/// with an L1, after traffic, a batch on L1 and an output proposed, serves at `GET /metrics`
/// (a histogram's `_bucket`, `_sum` and `_count` count as its own).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_grafana_query_names_a_series_the_node_exports() -> Result<()> {
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/grafana/ordo.json"),
    )?;
    let dashboard: serde_json::Value = serde_json::from_str(&text)?;
    let mut queries = Vec::new();
    for panel in dashboard["panels"].as_array().into_iter().flatten() {
        let targets = panel["targets"].as_array().cloned().unwrap_or_default();
        ensure!(!targets.is_empty(), "panel without a query: {panel}");
        for target in targets {
            let expr = target["expr"]
                .as_str()
                .ok_or_else(|| eyre!("a target without expr: {target}"))?;
            queries.push((panel["title"].to_string(), expr.to_string()));
        }
    }
    ensure!(queries.len() >= 15, "only {} queries", queries.len());

    let anvil = ordo_l1::testing::Anvil::spawn().await;
    let dir = tempfile::tempdir()?;
    let node =
        crate::deposits::depositing_node_with(&anvil, dir.path(), 300, &["l1.confirmations=1"])
            .await?;
    node.logs()
        .guard(GUARD, async {
            let signer = dev_signer(4);
            let p = node.provider(&signer);
            three_transfers(&p).await?;
            // A batch on L1 and its output proposed: the L1 series are all recorded.
            let rpc = node.rpc();
            let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
            loop {
                let body = node.metrics_text().await?;
                if body.contains("\nordo_outputs_proposed_total ")
                    && !body.contains("\nordo_outputs_proposed_total 0\n")
                {
                    break;
                }
                ensure!(
                    tokio::time::Instant::now() < deadline,
                    "no output proposed: {}",
                    rpc.ok("ordo_nodeStatus", json!([])).await?
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            let body = node.metrics_text().await?;
            let mut families = std::collections::HashMap::new();
            for line in body.lines() {
                if let Some(rest) = line.strip_prefix("# TYPE ") {
                    let mut parts = rest.split_whitespace();
                    if let (Some(name), Some(kind)) = (parts.next(), parts.next()) {
                        families.insert(name.to_string(), kind.to_string());
                    }
                } else if !line.starts_with('#') {
                    let name = line
                        .split(|c: char| c == '{' || c.is_whitespace())
                        .next()
                        .unwrap_or_default();
                    families.entry(name.to_string()).or_insert_with(String::new);
                }
            }
            let exported = |name: &str| {
                families.contains_key(name)
                    || ["_bucket", "_sum", "_count"].iter().any(|suffix| {
                        name.strip_suffix(suffix)
                            .and_then(|base| families.get(base))
                            .is_some_and(|kind| kind == "histogram")
                    })
            };
            let mut missing = Vec::new();
            for (panel, expr) in &queries {
                let names = metric_names(expr);
                ensure!(!names.is_empty(), "{panel}: no ordo series in {expr}");
                for name in names {
                    if !exported(&name) {
                        missing.push(format!("{panel}: {name}"));
                    }
                }
            }
            ensure!(
                missing.is_empty(),
                "queries name series the node does not export:\n{}",
                missing.join("\n")
            );
            Ok(())
        })
        .await
}
