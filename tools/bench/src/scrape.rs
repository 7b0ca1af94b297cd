//! What the node under test says about itself, read from its Prometheus text (`/metrics` on
//! Ordo's admin listener): per-block stage times as the difference of the
//! `ordo_builder_stage_seconds` histograms before and after a run, the peak resident
//! memory, and L1 posting (bytes confirmed on L1, the unposted backlog). Other nodes do not serve these series; the report then leaves them out.

use std::collections::BTreeMap;

use eyre::{Result, bail};

/// The name under which per-transaction sender recovery (`ordo_tx_recover_seconds`) is
/// reported among the stages; its count is transactions, not blocks.
pub const RECOVER_STAGE: &str = "recover/tx";

/// One scrape: cumulative bucket counts per stage (`le` ascending, `+Inf` last), and the
/// gauges the bench reports.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Scrape {
    /// stage → [(upper bound in seconds, cumulative count)].
    pub stages: BTreeMap<String, Vec<(f64, u64)>>,
    /// `ordo_process_peak_resident_bytes`.
    pub peak_rss: Option<u64>,
    /// `ordo_l1_confirmed_bytes_total`: batch bytes confirmed on L1 so far.
    pub l1_confirmed_bytes: Option<u64>,
    /// `ordo_batcher_backlog_bytes`: bytes sealed and not yet on L1.
    pub backlog_bytes: Option<u64>,
}

/// p50 and p99 (milliseconds) of one stage over a run, and how many blocks it timed.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct StageTimes {
    /// Blocks timed.
    pub blocks: u64,
    /// Median, ms.
    pub p50_ms: f64,
    /// 99th percentile, ms.
    pub p99_ms: f64,
}

fn label<'a>(labels: &'a str, name: &str) -> Option<&'a str> {
    let start = labels.find(&format!("{name}=\""))? + name.len() + 2;
    let end = labels[start..].find('"')? + start;
    Some(&labels[start..end])
}

/// Parses the series the bench uses out of Prometheus text.
pub fn parse(text: &str) -> Scrape {
    let mut scrape = Scrape::default();
    for line in text.lines() {
        let gauge = |name: &str| {
            line.strip_prefix(name)
                .and_then(|v| v.strip_prefix(' '))
                .and_then(|v| v.trim().parse::<f64>().ok())
                .map(|v| v as u64)
        };
        if let Some(v) = gauge("ordo_process_peak_resident_bytes") {
            scrape.peak_rss = Some(v);
            continue;
        }
        if let Some(v) = gauge("ordo_l1_confirmed_bytes_total") {
            scrape.l1_confirmed_bytes = Some(v);
            continue;
        }
        if let Some(v) = gauge("ordo_batcher_backlog_bytes") {
            scrape.backlog_bytes = Some(v);
            continue;
        }
        // Sender recovery runs per transaction at ingress, not per block; it is reported
        // beside the block stages under its own name.
        let bucket = if let Some(rest) = line.strip_prefix("ordo_builder_stage_seconds_bucket{") {
            bucket(rest, None)
        } else if let Some(rest) = line.strip_prefix("ordo_tx_recover_seconds_bucket{") {
            bucket(rest, Some(RECOVER_STAGE))
        } else {
            None
        };
        if let Some((stage, le, count)) = bucket {
            scrape
                .stages
                .entry(stage.to_string())
                .or_default()
                .push((le, count));
        }
    }
    for buckets in scrape.stages.values_mut() {
        buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    scrape
}

/// One histogram bucket line after its `{`: the stage (`stage`, else its `stage` label), the
/// upper bound and the cumulative count.
fn bucket<'a>(rest: &'a str, stage: Option<&'a str>) -> Option<(&'a str, f64, u64)> {
    let (labels, value) = rest.split_once("} ")?;
    let stage = stage.or(label(labels, "stage"))?;
    let le = match label(labels, "le")? {
        "+Inf" => f64::INFINITY,
        le => le.parse().ok()?,
    };
    let count = value.trim().parse::<f64>().ok()?;
    Some((stage, le, count as u64))
}

/// The `q` quantile (0..1) of a histogram given as cumulative counts, interpolated linearly
/// inside its bucket (the first bucket from zero; past the last finite bound, that bound).
fn quantile(buckets: &[(f64, u64)], q: f64) -> f64 {
    let total = buckets.last().map_or(0, |b| b.1);
    if total == 0 {
        return 0.0;
    }
    let rank = q * total as f64;
    let mut lower = (0.0, 0u64);
    for &(le, count) in buckets {
        if count as f64 >= rank {
            if le.is_infinite() {
                return lower.0;
            }
            let inside = (count - lower.1) as f64;
            let into = if inside > 0.0 {
                (rank - lower.1 as f64) / inside
            } else {
                1.0
            };
            return lower.0 + (le - lower.0) * into.clamp(0.0, 1.0);
        }
        lower = (le, count);
    }
    lower.0
}

/// Stage times over the blocks sealed between two scrapes.
pub fn stage_times(before: &Scrape, after: &Scrape) -> Result<BTreeMap<String, StageTimes>> {
    let mut out = BTreeMap::new();
    for (stage, buckets) in &after.stages {
        let earlier = before.stages.get(stage);
        let mut delta = Vec::with_capacity(buckets.len());
        for (i, &(le, count)) in buckets.iter().enumerate() {
            let was = match earlier {
                Some(b) => match b.get(i) {
                    Some(&(l, c)) if l == le => c,
                    _ => bail!("the node's buckets for stage {stage} changed during the run"),
                },
                None => 0,
            };
            delta.push((le, count.saturating_sub(was)));
        }
        let blocks = delta.last().map_or(0, |b| b.1);
        if blocks > 0 {
            out.insert(
                stage.clone(),
                StageTimes {
                    blocks,
                    p50_ms: quantile(&delta, 0.50) * 1000.0,
                    p99_ms: quantile(&delta, 0.99) * 1000.0,
                },
            );
        }
    }
    Ok(out)
}

/// GET `url` (with `Authorization: Bearer token` when given): the Prometheus text.
pub async fn fetch(url: &str, token: Option<&str>) -> Result<Scrape> {
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(10))
        .build()?;
    let mut request = client.get(url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await?;
    if !response.status().is_success() {
        bail!("GET {url}: HTTP {}", response.status());
    }
    Ok(parse(&response.text().await?))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "\
# TYPE ordo_builder_stage_seconds histogram
ordo_builder_stage_seconds_bucket{stage=\"root\",le=\"0.001\"} 10
ordo_builder_stage_seconds_bucket{stage=\"root\",le=\"0.002\"} 90
ordo_builder_stage_seconds_bucket{stage=\"root\",le=\"0.004\"} 100
ordo_builder_stage_seconds_bucket{stage=\"root\",le=\"+Inf\"} 100
ordo_builder_stage_seconds_sum{stage=\"root\"} 0.15
ordo_builder_stage_seconds_bucket{stage=\"commit\",le=\"0.001\"} 0
ordo_builder_stage_seconds_bucket{stage=\"commit\",le=\"+Inf\"} 0
ordo_process_peak_resident_bytes 123456789
ordo_tx_recover_seconds_bucket{le=\"0.00005\"} 3
ordo_tx_recover_seconds_bucket{le=\"0.0001\"} 7
ordo_tx_recover_seconds_bucket{le=\"+Inf\"} 7
";

    #[test]
    fn quantiles_come_from_the_buckets_the_run_filled() {
        let after = parse(TEXT);
        assert_eq!(after.peak_rss, Some(123_456_789));
        let times = stage_times(&Scrape::default(), &after).unwrap();
        let root = times["root"];
        assert_eq!(root.blocks, 100);
        // Rank 50 lies 40/80 into (1 ms, 2 ms]; rank 99 lies 9/10 into (2 ms, 4 ms].
        assert!((root.p50_ms - 1.5).abs() < 1e-9, "{root:?}");
        assert!((root.p99_ms - 3.8).abs() < 1e-9, "{root:?}");
        assert_eq!(times[RECOVER_STAGE].blocks, 7, "per transaction");
        assert!(times[RECOVER_STAGE].p99_ms <= 0.1);
        assert!(
            !times.contains_key("commit"),
            "a stage with no blocks is left out"
        );

        // Only what happened between the scrapes counts.
        let before = parse(&TEXT.replace("} 90", "} 10").replace("} 100", "} 10"));
        let root = stage_times(&before, &after).unwrap()["root"];
        assert_eq!(root.blocks, 90);
        assert!(root.p50_ms > 1.0 && root.p50_ms <= 2.0, "{root:?}");
    }
}
