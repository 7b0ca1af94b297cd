//! The load generator (`ordo bench`): load for any Ethereum JSON-RPC node (Ordo, anvil,
//! geth, ...). It imports no node logic: it speaks public JSON-RPC only, through the
//! shared client (`ordo-rpc-client`); from `ordo-primitives` it takes only the dev chain's
//! constants (the default mnemonic).
//!
//! Flow:
//! 1. **Setup** (standard JSON-RPC only): `eth_chainId`; fees from `eth_gasPrice` and
//!    `eth_maxPriorityFeePerGas` (`maxFee = gasPrice * fee_multiplier + tip`); the sender
//!    accounts: the first M accounts of the mnemonic when M <= 10 (the funded dev accounts),
//!    otherwise accounts `m/44'/60'/0'/0/{offset..offset+M}` which are first funded from the
//!    dev accounts (or from `--funder-key`) with funding transfers whose receipts are awaited.
//!    Nonces come from `eth_getTransactionCount(addr, "pending")`.
//! 2. **Pre-sign** N EIP-1559 transfers (tx k from sender k % M, 1 wei to the next sender)
//!    on all cores, and pre-render each `eth_sendRawTransaction` request body, so the send
//!    phase does no crypto and no encoding.
//! 3. **Send** with C concurrent workers over one HTTP client (`TCP_NODELAY`, keep-alive, up
//!    to C connections), each pulling the next tx from a shared cursor. Per tx: send time,
//!    ack time, and the result (hash or error message). With `--send-batch K` each request
//!    is a JSON-RPC batch of K consecutive transactions (as a wallet backend or a relay that
//!    forwards many at once sends them), each with its own answer.
//! 4. **Track inclusion**, concurrently with sending, so early txs are not charged for the
//!    rest of the send phase. Default (`--track blocks`): a task of its own polls
//!    `eth_blockNumber` every `--poll-ms` (10 ms) and notes when each block was first named
//!    as the head; each new block is read with `eth_getBlockByNumber(n, false)` and each of
//!    our hashes in it gets that time as its inclusion time; the receipts of those txs are then
//!    fetched with batched `eth_getTransactionReceipt` (status). Cost: O(included txs).
//!    `--track receipts`: every tick, batch `eth_getTransactionReceipt` over all accepted,
//!    not-yet-included hashes (closest to "first time the receipt is seen", but the polling
//!    itself loads the node heavily when many txs are outstanding).
//! 5. **Report**: accepted tx/s (accepted / (last ack - first send)), included tx/s, ack
//!    latency and inclusion latency (send -> included) p50/p90/p99/max via hdrhistogram,
//!    errors grouped by message. Numbers only: nothing here asserts a timing.
//!
//! Seams: `BenchArgs` (clap) and `run`. HTTP only (reqwest is built without TLS).

use std::{
    collections::{BTreeMap, HashMap},
    sync::{
        Arc, OnceLock,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use alloy_primitives::{Address, B256, U256, hex};
use alloy_signer_local::{MnemonicBuilder, PrivateKeySigner, coins_bip39::English};
use eyre::{Context, Result, bail, eyre};
use hdrhistogram::Histogram;
use ordo_primitives::DEV_MNEMONIC;
use ordo_rpc_client::{ClientError, RpcClient};
use serde_json::{Value, json};

use crate::transfers::{Fees, TRANSFER_GAS, on_all_cores, sign_transfer, state_recipient};

const GWEI: u128 = 1_000_000_000;

/// How inclusion is detected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TrackMode {
    /// Follow new blocks (`eth_blockNumber` + `eth_getBlockByNumber`), then batch the
    /// receipts of our txs in them. Cheap for the node.
    Blocks,
    /// Batch `eth_getTransactionReceipt` over every outstanding tx on each tick.
    Receipts,
}

/// `ordo bench` arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// JSON-RPC HTTP endpoint of the node under test.
    #[arg(long, default_value = "http://127.0.0.1:8547")]
    pub rpc: String,
    /// Number of transfers to send.
    #[arg(long, default_value_t = 10_000)]
    pub txs: usize,
    /// Number of sender accounts.
    #[arg(long, default_value_t = 10)]
    pub accounts: usize,
    /// Concurrent in-flight requests (and HTTP connections).
    #[arg(long, default_value_t = 32)]
    pub concurrency: usize,
    /// Mnemonic of the sender (and, without --funder-key, funder) accounts.
    #[arg(long, default_value = DEV_MNEMONIC)]
    pub mnemonic: String,
    /// Hex private key that funds the senders (then senders are always derived accounts).
    #[arg(long)]
    pub funder_key: Option<String>,
    /// First derivation index of funded sender accounts (used when M > 10 or --funder-key).
    #[arg(long, default_value_t = 10)]
    pub account_offset: u32,
    /// maxFeePerGas = eth_gasPrice * this + tip (headroom for a rising base fee).
    #[arg(long, default_value_t = 2)]
    pub fee_multiplier: u128,
    /// How inclusion is detected.
    #[arg(long, value_enum, default_value_t = TrackMode::Blocks)]
    pub track: TrackMode,
    /// Inclusion poll interval in milliseconds.
    #[arg(long, default_value_t = 10)]
    pub poll_ms: u64,
    /// Transactions per sending request: 1 sends each as its own `eth_sendRawTransaction`
    /// request; K > 1 sends JSON-RPC batches of K (each call answered on its own).
    #[arg(long, default_value_t = 1)]
    pub send_batch: usize,
    /// Max calls per batched JSON-RPC request while tracking.
    #[arg(long, default_value_t = 500)]
    pub batch_size: usize,
    /// Give up waiting for inclusion this many seconds after the send phase ends.
    #[arg(long, default_value_t = 120)]
    pub timeout_secs: u64,
    /// Print the result as one JSON object instead of the text report.
    #[arg(long)]
    pub json: bool,
    /// Open loop: send at this fixed rate (tx/s) whatever the node's answers, up to
    /// --concurrency in flight; latencies count from each transaction's scheduled time, so a
    /// slow node is not hidden by the sender slowing down (coordinated omission). Without it
    /// the loop is closed: each worker sends its next transaction when the last is answered.
    #[arg(long)]
    pub rate: Option<f64>,
    /// Send each transfer to one of the first N accounts of `ordo bench state` (spread over
    /// the state, as real traffic is) instead of to the next sender.
    #[arg(long)]
    pub to_state: Option<u64>,
    /// The node's Prometheus metrics URL (Ordo: `http://ADMIN_ADDR/metrics`): per-block stage
    /// times over the run and the node's peak memory join the report.
    #[arg(long)]
    pub metrics: Option<String>,
    /// File with the bearer token for --metrics (Ordo: `<datadir>/admin.token`).
    #[arg(long)]
    pub admin_token_file: Option<std::path::PathBuf>,
    /// Another endpoint of the same chain (repeatable): the first run's transactions go to
    /// --rpc and these in turn, request by request, as a load balancer in front of a
    /// replica group's members would send them. Setup and tracking use --rpc.
    #[arg(long = "send-to")]
    pub send_to: Vec<String>,
    /// Run the same load against this second node afterwards and print both, with ratios.
    #[arg(long)]
    pub compare_rpc: Option<String>,
    /// --metrics of the second node.
    #[arg(long)]
    pub compare_metrics: Option<String>,
    /// --admin-token-file of the second node.
    #[arg(long)]
    pub compare_admin_token_file: Option<std::path::PathBuf>,
    /// A shell command run after the first run and before the second: to pause the first
    /// node (`kill -STOP`) and wake the second when both share the machine's cores, so the
    /// idle one takes nothing from the one measured.
    #[arg(long)]
    pub compare_before: Option<String>,
}

/// One node under test: where to send, where to read its metrics.
#[derive(Debug, Clone)]
struct Target {
    rpc: String,
    /// More endpoints the transactions go to, in turn with `rpc`.
    send_to: Vec<String>,
    metrics: Option<String>,
    token: Option<String>,
}

impl Target {
    fn new(
        rpc: &str,
        metrics: Option<&String>,
        token_file: Option<&std::path::PathBuf>,
    ) -> Result<Self> {
        let token = match token_file {
            Some(path) => Some(
                std::fs::read_to_string(path)
                    .wrap_err_with(|| format!("reading {}", path.display()))?
                    .trim()
                    .to_string(),
            ),
            None => None,
        };
        Ok(Self {
            rpc: rpc.to_string(),
            send_to: Vec::new(),
            metrics: metrics.cloned(),
            token,
        })
    }

    /// A scrape of its metrics, if it has any (a failure is reported, not fatal).
    async fn scrape(&self) -> Option<crate::scrape::Scrape> {
        let url = self.metrics.as_ref()?;
        match crate::scrape::fetch(url, self.token.as_deref()).await {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::warn!(%e, "reading the node's metrics");
                None
            }
        }
    }
}

/// Runs the benchmark (against one node, or two in turn) and prints the report.
pub async fn run(args: BenchArgs) -> Result<()> {
    if args.txs == 0
        || args.accounts == 0
        || args.concurrency == 0
        || args.batch_size == 0
        || args.send_batch == 0
    {
        bail!("--txs, --accounts, --concurrency, --batch-size and --send-batch must be > 0");
    }
    if args.rate.is_some_and(|r| !(r > 0.0 && r.is_finite())) {
        bail!("--rate must be a positive number of tx/s");
    }
    let first = Target {
        send_to: args.send_to.clone(),
        ..Target::new(
            &args.rpc,
            args.metrics.as_ref(),
            args.admin_token_file.as_ref(),
        )?
    };
    let report = run_one(&args, &first).await?;
    let first_label = std::iter::once(&first.rpc)
        .chain(&first.send_to)
        .cloned()
        .collect::<Vec<_>>()
        .join(" + ");
    let Some(second) = &args.compare_rpc else {
        report.print(&args, &first_label);
        return Ok(());
    };
    let second = Target::new(
        second,
        args.compare_metrics.as_ref(),
        args.compare_admin_token_file.as_ref(),
    )?;
    if let Some(command) = &args.compare_before {
        let status = tokio::process::Command::new("sh")
            .args(["-c", command])
            .status()
            .await
            .wrap_err_with(|| format!("running --compare-before {command:?}"))?;
        if !status.success() {
            report.print(&args, &first_label);
            bail!("--compare-before {command:?} failed: {status}");
        }
    }
    let other = run_one(&args, &second).await?;
    if args.json {
        println!(
            "{}",
            json!({
                "a": report.json(&args, &first_label),
                "b": other.json(&args, &second.rpc),
                "ratio_b_over_a": ratios(&report, &other),
            })
        );
    } else {
        report.print(&args, &first_label);
        println!();
        other.print(&args, &second.rpc);
        println!();
        println!("b / a ({} / {}):", second.rpc, first_label);
        for (what, ratio) in ratios(&report, &other).as_object().into_iter().flatten() {
            println!(
                "  {what:<24} {}",
                ratio.as_f64().map_or("-".into(), |r| format!("{r:.3}"))
            );
        }
    }
    Ok(())
}

/// b / a for the headline numbers (null where a is zero).
fn ratios(a: &Report, b: &Report) -> Value {
    let r = |x: f64, y: f64| if x > 0.0 { json!(y / x) } else { Value::Null };
    json!({
        "accepted_tps": r(a.accepted_tps, b.accepted_tps),
        "included_tps": r(a.included_tps, b.included_tps),
        "inclusion_p50_ms": r(a.inclusion_ms.p50, b.inclusion_ms.p50),
        "inclusion_p99_ms": r(a.inclusion_ms.p99, b.inclusion_ms.p99),
    })
}

/// One run against one node.
async fn run_one(args: &BenchArgs, target: &Target) -> Result<Report> {
    let args = &BenchArgs {
        rpc: target.rpc.clone(),
        ..args.clone()
    };
    let rpc = client(&args.rpc, args.concurrency)?;
    let track_rpc = client(&args.rpc, 8)?;
    let mut sends = vec![rpc.clone()];
    for url in &target.send_to {
        sends.push(client(url, args.concurrency)?);
    }
    let sends = Arc::new(sends);

    // ---- setup
    let chain_id = quantity(&rpc.call("eth_chainId", json!([])).await?)? as u64;
    let gas_price = quantity(&rpc.call("eth_gasPrice", json!([])).await?)?;
    let tip = match rpc.call("eth_maxPriorityFeePerGas", json!([])).await {
        Ok(v) => quantity(&v)?,
        Err(e) => {
            tracing::warn!(%e, "eth_maxPriorityFeePerGas failed; using min(gasPrice, 1 gwei)");
            gas_price.min(GWEI)
        }
    };
    let max_fee = gas_price
        .saturating_mul(args.fee_multiplier.max(1))
        .saturating_add(tip);
    let fees = Fees {
        chain_id,
        max_fee,
        tip,
    };

    let parent = MnemonicBuilder::<English>::default()
        .phrase(args.mnemonic.as_str())
        .build_parent_key()
        .wrap_err("deriving from --mnemonic")?;
    let use_dev = args.accounts <= 10 && args.funder_key.is_none();
    let first = if use_dev { 0 } else { args.account_offset };
    let senders: Vec<PrivateKeySigner> = (0..args.accounts as u32)
        .map(|i| Ok(parent.child(first + i)?.signer()))
        .collect::<Result<_>>()?;
    let per_sender = args.txs.div_ceil(args.accounts) as u128;
    let cost_per_tx = u128::from(TRANSFER_GAS) * max_fee + 1;
    say(
        args.json,
        format!(
            "ordo bench: {} | chain {chain_id} | {} txs from {} accounts | concurrency {} | \
         {} tx per request | maxFee {:.3} gwei, tip {:.3} gwei",
            args.rpc,
            args.txs,
            args.accounts,
            args.concurrency,
            args.send_batch,
            max_fee as f64 / GWEI as f64,
            tip as f64 / GWEI as f64,
        ),
    );

    if !use_dev {
        let funders: Vec<PrivateKeySigner> = match &args.funder_key {
            Some(k) => vec![
                k.trim()
                    .parse()
                    .wrap_err("--funder-key is not a hex private key")?,
            ],
            None => (0..10u32)
                .map(|i| Ok(parent.child(i)?.signer()))
                .collect::<Result<_>>()?,
        };
        // Twice what the run needs, so a rising base fee does not starve a sender.
        let need = U256::from(per_sender * cost_per_tx * 2);
        fund(&rpc, args, &fees, &funders, &senders, need).await?;
    }

    // ---- nonces and pre-signing
    let nonces: Vec<u64> = per_account(
        &rpc,
        args.batch_size,
        senders.iter(),
        "eth_getTransactionCount",
        "pending",
    )
    .await?
    .iter()
    .map(|v| quantity(v).map(|n| n as u64))
    .collect::<Result<_>>()?;
    let t_sign = Instant::now();
    let prepared = {
        let senders = senders.clone();
        let n = args.txs;
        let to_state = args.to_state;
        tokio::task::spawn_blocking(move || presign(&senders, &nonces, n, fees, to_state)).await?
    };
    let sign_secs = t_sign.elapsed().as_secs_f64();
    tracing::info!(txs = prepared.len(), secs = sign_secs, "pre-signed");
    let prepared = Arc::new(prepared);
    let by_hash: Arc<HashMap<B256, usize>> = Arc::new(
        prepared
            .iter()
            .enumerate()
            .map(|(i, p)| (p.hash, i))
            .collect(),
    );

    // ---- send + track
    let outcomes: Arc<Vec<OnceLock<Outcome>>> =
        Arc::new((0..prepared.len()).map(|_| OnceLock::new()).collect());
    let send_done = Arc::new(AtomicBool::new(false));
    let start_block = quantity(&rpc.call("eth_blockNumber", json!([])).await?)? as u64;

    let tracker = tokio::spawn(track(
        track_rpc,
        args.clone(),
        prepared.clone(),
        by_hash.clone(),
        outcomes.clone(),
        send_done.clone(),
        start_block,
    ));

    let scraped_before = target.scrape().await;
    let t_run = Instant::now();
    // The unposted backlog, sampled while the load runs (its peak is what throttling sees).
    let backlog_peak = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let sampler = target.metrics.clone().map(|url| {
        let (token, peak) = (target.token.clone(), backlog_peak.clone());
        AbortOnDrop(tokio::spawn(async move {
            loop {
                if let Ok(s) = crate::scrape::fetch(&url, token.as_deref()).await
                    && let Some(b) = s.backlog_bytes
                {
                    peak.fetch_max(b, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }))
    });
    let cursor = Arc::new(AtomicUsize::new(0));
    let t_send = Instant::now();
    // Open loop: a permit per request in flight; each request is charged from its scheduled
    // time. Closed loop: C workers, each sending the next transaction when answered.
    let permits = Arc::new(tokio::sync::Semaphore::new(args.concurrency));
    let mut workers = Vec::with_capacity(args.concurrency);
    let per_request = args.send_batch;
    // Sends transactions `i..i + per_request` (one request) and records each one's outcome.
    let send = {
        let (sends, prepared, outcomes) = (sends.clone(), prepared.clone(), outcomes.clone());
        move |i: usize, scheduled: Instant| {
            let (sends, prepared, outcomes) = (sends.clone(), prepared.clone(), outcomes.clone());
            async move {
                let Some(txs) = prepared.get(i..(i + per_request).min(prepared.len())) else {
                    return;
                };
                let rpc = &sends[(i / per_request) % sends.len()];
                let results = send_request(rpc, txs).await;
                let acked_at = Instant::now();
                for (k, result) in results.into_iter().enumerate() {
                    let _ = outcomes[i + k].set(Outcome {
                        sent_at: scheduled,
                        acked_at,
                        result,
                    });
                }
            }
        }
    };
    match args.rate {
        Some(rate) => {
            let interval = Duration::from_secs_f64(1.0 / rate);
            for i in (0..prepared.len()).step_by(per_request) {
                let scheduled = t_send + interval.mul_f64(i as f64);
                tokio::time::sleep_until(scheduled.into()).await;
                let permit = permits.clone().acquire_owned().await?;
                let request = send.clone()(i, scheduled);
                workers.push(tokio::spawn(async move {
                    request.await;
                    drop(permit);
                }));
            }
        }
        None => {
            let n = prepared.len();
            for _ in 0..args.concurrency {
                let (cursor, send) = (cursor.clone(), send.clone());
                workers.push(tokio::spawn(async move {
                    loop {
                        let i = cursor.fetch_add(per_request, Ordering::Relaxed);
                        if i >= n {
                            break;
                        }
                        send(i, Instant::now()).await;
                    }
                }));
            }
        }
    }
    for w in workers {
        w.await?;
    }
    let send_secs = t_send.elapsed().as_secs_f64();
    send_done.store(true, Ordering::SeqCst);
    let tracked = tracker.await??;

    // ---- report
    let mut report = Report::build(&outcomes, &tracked, sign_secs, send_secs)?;
    drop(sampler);
    if let (Some(before), Some(after)) = (scraped_before, target.scrape().await) {
        report.stages = crate::scrape::stage_times(&before, &after)?;
        report.peak_rss = after.peak_rss;
        if let (Some(b), Some(a)) = (
            before.l1_confirmed_bytes.or(Some(0)),
            after.l1_confirmed_bytes,
        ) {
            report.l1_posted_bytes_per_sec =
                Some(a.saturating_sub(b) as f64 / t_run.elapsed().as_secs_f64().max(1e-9));
        }
        if let Some(end) = after.backlog_bytes {
            report.backlog_end_bytes = Some(end);
            report.backlog_peak_bytes = Some(backlog_peak.load(Ordering::Relaxed).max(end));
        }
    }
    Ok(report)
}

/// A background task that stops when its handle goes, however the run ends.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Sends `txs` in one request (a JSON-RPC batch when there are several): each one's result,
/// in order. A request that fails as a whole fails every transaction in it.
async fn send_request(rpc: &RpcClient, txs: &[Prepared]) -> Vec<std::result::Result<(), String>> {
    let message = |e: ClientError| match e {
        ClientError::Rpc(e) => e.message,
        e => e.to_string(),
    };
    if let [one] = txs {
        return vec![
            rpc.call_body(one.body.clone(), &[])
                .await
                .map(drop)
                .map_err(message),
        ];
    }
    let mut body = String::with_capacity(txs.iter().map(|p| p.body.len() + 1).sum::<usize>() + 2);
    body.push('[');
    for (k, p) in txs.iter().enumerate() {
        if k > 0 {
            body.push(',');
        }
        body.push_str(&p.body);
    }
    body.push(']');
    let answer = match rpc.post_json(body, &[]).await {
        Ok(Value::Array(items)) => items,
        Ok(other) => {
            let why = match ordo_rpc_client::parse_response(&other) {
                Ok(Err(e)) => e.message,
                _ => format!("the batch was not answered with an array: {other}"),
            };
            return vec![Err(why); txs.len()];
        }
        Err(e) => return vec![Err(message(e)); txs.len()],
    };
    // A batch refused whole (geth's "batch too large") is answered with one error, carrying
    // the first call's id: it is every transaction's answer.
    if let [only] = answer.as_slice()
        && let Ok(Err(e)) = ordo_rpc_client::parse_response(only)
    {
        return vec![Err(e.message); txs.len()];
    }
    // Each body's id is its transaction's index in the run (`presign`).
    let first = txs.first().map_or(0, |p| p.id);
    let mut results = vec![Err("missing from the batch answer".to_string()); txs.len()];
    for item in &answer {
        let slot = item
            .get("id")
            .and_then(Value::as_u64)
            .and_then(|id| usize::try_from(id).ok())
            .and_then(|id| id.checked_sub(first))
            .and_then(|k| results.get_mut(k));
        if let Some(slot) = slot {
            *slot = match ordo_rpc_client::parse_response(item) {
                Ok(Ok(_)) => Ok(()),
                Ok(Err(e)) => Err(e.message),
                Err(e) => Err(e.to_string()),
            };
        }
    }
    results
}

/// A pre-signed tx with its pre-rendered request body.
#[derive(Debug)]
struct Prepared {
    hash: B256,
    body: String,
    /// The request's id: the transaction's index in the run.
    id: usize,
}

#[derive(Debug)]
struct Outcome {
    sent_at: Instant,
    acked_at: Instant,
    result: std::result::Result<(), String>,
}

/// Pre-signs `n` transfers: tx k from sender k % M with nonce base + k / M, 1 wei to the
/// next sender (or, with `to_state`, to a state account picked by k), in parallel on all
/// cores; keeps index order.
fn presign(
    senders: &[PrivateKeySigner],
    nonces: &[u64],
    n: usize,
    fees: Fees,
    to_state: Option<u64>,
) -> Vec<Prepared> {
    let m = senders.len();
    on_all_cores(n, |k| {
        let s = k % m;
        let nonce = nonces[s] + (k / m) as u64;
        let to = match to_state {
            Some(size) if size > 0 => state_recipient(k as u64, size),
            _ => senders[(s + 1) % m].address(),
        };
        let (raw, hash) = sign_transfer(&senders[s], fees, nonce, to, U256::from(1));
        let body = format!(
            r#"{{"jsonrpc":"2.0","id":{k},"method":"eth_sendRawTransaction","params":["0x{}"]}}"#,
            hex::encode(&raw)
        );
        Prepared { hash, body, id: k }
    })
}

/// Tops up every sender below `need` to `need`, spreading the funding txs over the funders,
/// and waits for their receipts.
async fn fund(
    rpc: &RpcClient,
    args: &BenchArgs,
    fees: &Fees,
    funders: &[PrivateKeySigner],
    senders: &[PrivateKeySigner],
    need: U256,
) -> Result<()> {
    let balances: Vec<U256> = per_account(
        rpc,
        args.batch_size,
        senders.iter(),
        "eth_getBalance",
        "latest",
    )
    .await?
    .into_iter()
    .map(serde_json::from_value::<U256>)
    .collect::<Result<_, _>>()?;
    let todo: Vec<(Address, U256)> = senders
        .iter()
        .zip(&balances)
        .filter(|(_, b)| **b < need)
        .map(|(s, b)| (s.address(), need - *b))
        .collect();
    if todo.is_empty() {
        say(
            args.json,
            format!("funding: all {} senders already funded", senders.len()),
        );
        return Ok(());
    }
    let mut funder_nonces = Vec::with_capacity(funders.len());
    for f in funders {
        let v = rpc
            .call("eth_getTransactionCount", json!([f.address(), "pending"]))
            .await?;
        funder_nonces.push(quantity(&v)? as u64);
    }
    let t = Instant::now();
    let mut hashes = Vec::with_capacity(todo.len());
    for (i, (to, amount)) in todo.iter().enumerate() {
        let f = i % funders.len();
        let (raw, hash) = sign_transfer(&funders[f], *fees, funder_nonces[f], *to, *amount);
        funder_nonces[f] += 1;
        // A replica group may be electing a leader as the run starts (it answers -32000
        // "... retry"): the funding waits for it, as a wallet would retry.
        let mut tries = 0;
        loop {
            match rpc
                .call("eth_sendRawTransaction", json!([raw.clone()]))
                .await
            {
                Ok(_) => break,
                Err(ClientError::Rpc(e))
                    if e.code == -32000 && e.message.ends_with("retry") && tries < 50 =>
                {
                    tries += 1;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => return Err(eyre!("funding tx from {}: {e}", funders[f].address())),
            }
        }
        hashes.push(hash);
    }
    let deadline = Instant::now() + Duration::from_secs(args.timeout_secs);
    let mut pending = hashes;
    while !pending.is_empty() {
        let mut still = Vec::new();
        for chunk in pending.chunks(args.batch_size) {
            let calls: Vec<(&str, Value)> = chunk
                .iter()
                .map(|h| ("eth_getTransactionReceipt", json!([h])))
                .collect();
            for (h, r) in chunk.iter().zip(rpc.batch(&calls).await?) {
                let r = r.map_err(|e| eyre!("funding receipt: {e}"))?;
                if r.is_null() {
                    still.push(*h);
                } else if r.get("status").and_then(Value::as_str) != Some("0x1") {
                    bail!("funding tx {h} failed: {r}");
                }
            }
        }
        pending = still;
        if !pending.is_empty() {
            if Instant::now() > deadline {
                bail!(
                    "{} funding txs not mined within {}s",
                    pending.len(),
                    args.timeout_secs
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    say(
        args.json,
        format!(
            "funding: {} senders funded from {} funder(s) in {:.2}s",
            todo.len(),
            funders.len(),
            t.elapsed().as_secs_f64()
        ),
    );
    Ok(())
}

/// What the tracker saw.
#[derive(Debug, Default)]
struct Tracked {
    /// Per prepared tx: when it was first seen included, and in which block.
    included: Vec<Option<(Instant, u64)>>,
    /// Receipt status per included tx (true = success), by index.
    status: HashMap<usize, bool>,
    /// Blocks that carried at least one of our txs.
    blocks_with_ours: BTreeMap<u64, usize>,
    /// Errors of the tracker's own requests, by message.
    errors: BTreeMap<String, usize>,
    /// Whether it stopped on the timeout.
    timed_out: bool,
}

impl Tracked {
    fn mark(&mut self, idx: usize, at: Instant, block: u64) {
        if self.included[idx].is_none() {
            self.included[idx] = Some((at, block));
            *self.blocks_with_ours.entry(block).or_default() += 1;
        }
    }
}

async fn track(
    rpc: RpcClient,
    args: BenchArgs,
    prepared: Arc<Vec<Prepared>>,
    by_hash: Arc<HashMap<B256, usize>>,
    outcomes: Arc<Vec<OnceLock<Outcome>>>,
    send_done: Arc<AtomicBool>,
    start_block: u64,
) -> Result<Tracked> {
    let n = prepared.len();
    let mut t = Tracked {
        included: vec![None; n],
        ..Default::default()
    };
    let poll = Duration::from_millis(args.poll_ms.max(1));
    let mut next_block = start_block + 1;
    let mut deadline: Option<Instant> = None;
    // Accepted and not yet included (receipts mode keeps this list).
    let mut outstanding: Vec<usize> = Vec::new();
    let mut registered = vec![false; n]; // receipts mode: already in `outstanding` once
    let mut need_receipts: Vec<usize> = Vec::new();
    let heads =
        (args.track == TrackMode::Blocks).then(|| Heads::follow(rpc.clone(), poll, start_block));
    let (receipts_tx, receipts_rx) = tokio::sync::mpsc::unbounded_channel();
    let receipts = tokio::spawn(statuses(
        rpc.clone(),
        prepared.clone(),
        args.batch_size,
        receipts_rx,
    ));

    loop {
        let tick = Instant::now();
        let done_sending = send_done.load(Ordering::SeqCst);
        // Blocks mode follows the head; receipts mode has no head to follow.
        match &heads {
            Some(heads) => {
                let head = heads.head();
                while next_block <= head {
                    let b = match rpc
                        .call(
                            "eth_getBlockByNumber",
                            json!([format!("{next_block:#x}"), false]),
                        )
                        .await
                    {
                        Ok(b) => b,
                        Err(e) => {
                            *t.errors
                                .entry(format!("getBlockByNumber: {e}"))
                                .or_default() += 1;
                            break;
                        }
                    };
                    if b.is_null() {
                        break; // not visible yet; retry next tick
                    }
                    let seen = heads.named(next_block);
                    for h in b
                        .get("transactions")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                    {
                        let Some(h) = h.as_str().and_then(|s| s.parse::<B256>().ok()) else {
                            continue;
                        };
                        if let Some(&idx) = by_hash.get(&h) {
                            t.mark(idx, seen, next_block);
                            need_receipts.push(idx);
                        }
                    }
                    next_block += 1;
                }
                // Statuses of the newly included, read by their own task so the blocks
                // are seen when they appear, not after the receipts of the ones before.
                if !need_receipts.is_empty() {
                    let _ = receipts_tx.send(std::mem::take(&mut need_receipts));
                }
            }
            None => {
                // Register newly accepted txs (a scan of N OnceLocks is cheap next to a
                // network round trip).
                for (i, o) in outcomes.iter().enumerate() {
                    if !registered[i] && o.get().is_some_and(|o| o.result.is_ok()) {
                        registered[i] = true;
                        outstanding.push(i);
                    }
                }
                let mut still = Vec::with_capacity(outstanding.len());
                for chunk in outstanding.chunks(args.batch_size) {
                    match receipts_of(&rpc, &prepared, chunk).await {
                        Ok(rs) => {
                            let seen = Instant::now();
                            for (&i, r) in chunk.iter().zip(rs) {
                                match r {
                                    Ok(v) if !v.is_null() => {
                                        let block = v
                                            .get("blockNumber")
                                            .and_then(|b| quantity(b).ok())
                                            .unwrap_or_default()
                                            as u64;
                                        t.mark(i, seen, block);
                                        let ok =
                                            v.get("status").and_then(Value::as_str) == Some("0x1");
                                        t.status.insert(i, ok);
                                    }
                                    Ok(_) => still.push(i),
                                    Err(e) => {
                                        *t.errors.entry(format!("receipt: {e}")).or_default() += 1;
                                        still.push(i);
                                    }
                                }
                            }
                        }
                        Err(e) => {
                            *t.errors.entry(format!("receipt batch: {e}")).or_default() += 1;
                            still.extend_from_slice(chunk);
                        }
                    }
                }
                outstanding = still;
            }
        }

        if done_sending {
            let deadline = *deadline
                .get_or_insert_with(|| Instant::now() + Duration::from_secs(args.timeout_secs));
            let all_in = (0..n).all(|i| match outcomes[i].get() {
                Some(o) if o.result.is_ok() => t.included[i].is_some(),
                _ => true,
            });
            if all_in {
                break;
            }
            if Instant::now() > deadline {
                t.timed_out = true;
                break;
            }
        }
        let spent = tick.elapsed();
        if spent < poll {
            tokio::time::sleep(poll - spent).await;
        }
    }
    drop(receipts_tx);
    for (e, count) in match heads {
        Some(heads) => heads.stop(),
        None => BTreeMap::new(),
    } {
        *t.errors.entry(e).or_default() += count;
    }
    let (status, errors) = receipts.await?;
    t.status.extend(status);
    for (e, count) in errors {
        *t.errors.entry(e).or_default() += count;
    }
    Ok(t)
}

/// The node's head, polled on a task of its own: when each block was first named as the
/// head (or passed by it). That is when the block, and every transaction in it, was
/// included. Reading a block's transactions comes after and can take longer under load;
/// timing them by that read would charge the tracker's delay to the node's blocks.
struct Heads {
    seen: Arc<std::sync::Mutex<HeadsSeen>>,
    /// Aborted when the tracker is done, however it ends.
    _poll: AbortOnDrop,
}

/// What the head poll found: the highest block named, when each block not yet read was
/// first named, and the poll's errors by message.
#[derive(Default)]
struct HeadsSeen {
    head: u64,
    named: BTreeMap<u64, Instant>,
    errors: BTreeMap<String, usize>,
}

impl Heads {
    fn follow(rpc: RpcClient, poll: Duration, start_block: u64) -> Self {
        let seen = Arc::new(std::sync::Mutex::new(HeadsSeen {
            head: start_block,
            ..Default::default()
        }));
        let task = tokio::spawn({
            let seen = seen.clone();
            async move {
                loop {
                    let tick = Instant::now();
                    let head = rpc
                        .call("eth_blockNumber", json!([]))
                        .await
                        .map_err(|e| e.to_string())
                        .and_then(|v| quantity(&v).map_err(|e| e.to_string()));
                    let at = Instant::now();
                    {
                        let mut seen = seen.lock().unwrap_or_else(|e| e.into_inner());
                        match head {
                            Ok(head) => {
                                while seen.head < head as u64 {
                                    seen.head += 1;
                                    let n = seen.head;
                                    seen.named.insert(n, at);
                                }
                            }
                            Err(e) => {
                                *seen
                                    .errors
                                    .entry(format!("eth_blockNumber: {e}"))
                                    .or_default() += 1
                            }
                        }
                    }
                    let spent = tick.elapsed();
                    if spent < poll {
                        tokio::time::sleep(poll - spent).await;
                    }
                }
            }
        });
        Self {
            seen,
            _poll: AbortOnDrop(task),
        }
    }

    fn seen(&self) -> std::sync::MutexGuard<'_, HeadsSeen> {
        self.seen.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The highest block named so far.
    fn head(&self) -> u64 {
        self.seen().head
    }

    /// When block `n` (at or below [`Self::head`]) was first named.
    fn named(&self, n: u64) -> Instant {
        self.seen().named.remove(&n).unwrap_or_else(Instant::now)
    }

    /// Stops polling (a request in flight is dropped); the poll's errors by message.
    fn stop(self) -> BTreeMap<String, usize> {
        std::mem::take(&mut self.seen().errors)
    }
}

/// The receipts of transactions `idxs`, in one batch.
async fn receipts_of(
    rpc: &RpcClient,
    prepared: &[Prepared],
    idxs: &[usize],
) -> Result<Vec<Result<Value, ClientError>>, ClientError> {
    let calls: Vec<(&str, Value)> = idxs
        .iter()
        .map(|&i| ("eth_getTransactionReceipt", json!([prepared[i].hash])))
        .collect();
    rpc.batch(&calls).await
}

/// Reads the receipt status of each included transaction sent on `rx` (batched
/// `eth_getTransactionReceipt`; one not visible yet is asked again) until `rx` closes and
/// every one is read: the statuses by index, and the errors by message.
async fn statuses(
    rpc: RpcClient,
    prepared: Arc<Vec<Prepared>>,
    batch_size: usize,
    mut rx: tokio::sync::mpsc::UnboundedReceiver<Vec<usize>>,
) -> (HashMap<usize, bool>, BTreeMap<String, usize>) {
    let mut status = HashMap::new();
    let mut errors: BTreeMap<String, usize> = BTreeMap::new();
    let mut retry: Vec<usize> = Vec::new();
    let mut open = true;
    // Rounds of asking again after the tracker is done: a receipt that never shows up (a
    // node that went away) ends the run as an error, not a hang.
    let mut last_rounds = 100;
    loop {
        let mut idxs = std::mem::take(&mut retry);
        if open {
            if idxs.is_empty() {
                match rx.recv().await {
                    Some(more) => idxs.extend(more),
                    None => open = false,
                }
            }
            loop {
                match rx.try_recv() {
                    Ok(more) => idxs.extend(more),
                    Err(tokio::sync::mpsc::error::TryRecvError::Empty) => break,
                    Err(tokio::sync::mpsc::error::TryRecvError::Disconnected) => {
                        open = false;
                        break;
                    }
                }
            }
        }
        if idxs.is_empty() && !open {
            break;
        }
        if !open {
            last_rounds -= 1;
            if last_rounds == 0 {
                *errors.entry("receipt never found".into()).or_default() += idxs.len();
                break;
            }
        }
        for chunk in idxs.chunks(batch_size) {
            match receipts_of(&rpc, &prepared, chunk).await {
                Ok(rs) => {
                    for (&i, r) in chunk.iter().zip(rs) {
                        match r {
                            Ok(v) if !v.is_null() => {
                                let ok = v.get("status").and_then(Value::as_str) == Some("0x1");
                                status.insert(i, ok);
                            }
                            Ok(_) => retry.push(i),
                            Err(e) => *errors.entry(format!("receipt: {e}")).or_default() += 1,
                        }
                    }
                }
                Err(e) => {
                    *errors.entry(format!("receipt batch: {e}")).or_default() += 1;
                    retry.extend_from_slice(chunk);
                }
            }
        }
        if !retry.is_empty() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    (status, errors)
}

#[derive(Debug)]
struct Report {
    sent: usize,
    accepted: usize,
    rejected: usize,
    sign_secs: f64,
    send_secs: f64,
    accepted_tps: f64,
    included: usize,
    included_tps: f64,
    reverted: usize,
    not_included: usize,
    blocks: usize,
    max_per_block: usize,
    ack_ms: Quantiles,
    inclusion_ms: Quantiles,
    errors: BTreeMap<String, usize>,
    tracker_errors: BTreeMap<String, usize>,
    timed_out: bool,
    /// Per-block stage times over the run (from the node's metrics, when given).
    stages: BTreeMap<String, crate::scrape::StageTimes>,
    /// The node's peak resident memory (from its metrics, when given).
    peak_rss: Option<u64>,
    /// Batch bytes confirmed on L1 per second over the run (from its metrics).
    l1_posted_bytes_per_sec: Option<f64>,
    /// The largest and the last unposted backlog seen during the run (bytes).
    backlog_peak_bytes: Option<u64>,
    backlog_end_bytes: Option<u64>,
}

#[derive(Debug, Default, serde::Serialize)]
struct Quantiles {
    count: u64,
    p50: f64,
    p90: f64,
    p99: f64,
    max: f64,
    mean: f64,
}

impl Quantiles {
    fn from(h: &Histogram<u64>) -> Self {
        // Recorded in microseconds; reported in milliseconds.
        let ms = |us: u64| us as f64 / 1000.0;
        Self {
            count: h.len(),
            p50: ms(h.value_at_quantile(0.50)),
            p90: ms(h.value_at_quantile(0.90)),
            p99: ms(h.value_at_quantile(0.99)),
            max: ms(h.max()),
            mean: h.mean() / 1000.0,
        }
    }

    fn line(&self) -> String {
        format!(
            "p50 {:>9.2}  p90 {:>9.2}  p99 {:>9.2}  max {:>9.2}  mean {:>9.2}  (n={})",
            self.p50, self.p90, self.p99, self.max, self.mean, self.count
        )
    }
}

impl Report {
    fn build(
        outcomes: &[OnceLock<Outcome>],
        t: &Tracked,
        sign_secs: f64,
        send_secs: f64,
    ) -> Result<Self> {
        // 1 µs .. 1 h, 3 significant digits.
        let new_hist = || Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3);
        let mut ack = new_hist().map_err(|e| eyre!("histogram: {e}"))?;
        let mut incl = new_hist().map_err(|e| eyre!("histogram: {e}"))?;
        let mut errors: BTreeMap<String, usize> = BTreeMap::new();
        let (mut accepted, mut rejected, mut included, mut reverted, mut not_included) =
            (0, 0, 0, 0, 0);
        let mut first_send: Option<Instant> = None;
        let mut last_ack: Option<Instant> = None;
        let mut last_incl: Option<Instant> = None;
        for (i, o) in outcomes.iter().enumerate() {
            let Some(o) = o.get() else { continue };
            first_send = Some(first_send.map_or(o.sent_at, |f| f.min(o.sent_at)));
            let us = |d: Duration| (d.as_micros() as u64).clamp(1, 3_600_000_000);
            match &o.result {
                Ok(()) => {
                    accepted += 1;
                    last_ack = Some(last_ack.map_or(o.acked_at, |l| l.max(o.acked_at)));
                    ack.saturating_record(us(o.acked_at - o.sent_at));
                    match t.included[i] {
                        Some((at, _)) => {
                            included += 1;
                            incl.saturating_record(us(at.saturating_duration_since(o.sent_at)));
                            last_incl = Some(last_incl.map_or(at, |l| l.max(at)));
                            if t.status.get(&i) == Some(&false) {
                                reverted += 1;
                            }
                        }
                        None => not_included += 1,
                    }
                }
                Err(msg) => {
                    rejected += 1;
                    let mut key = msg.clone();
                    key.truncate(200);
                    *errors.entry(key).or_default() += 1;
                }
            }
        }
        let span = |end: Option<Instant>| match (first_send, end) {
            (Some(a), Some(b)) if b > a => (b - a).as_secs_f64(),
            _ => 0.0,
        };
        let rate = |count: usize, secs: f64| if secs > 0.0 { count as f64 / secs } else { 0.0 };
        let ack_span = span(last_ack);
        let incl_span = span(last_incl);
        Ok(Self {
            sent: outcomes.iter().filter(|o| o.get().is_some()).count(),
            accepted,
            rejected,
            sign_secs,
            send_secs,
            accepted_tps: rate(accepted, ack_span),
            included,
            included_tps: rate(included, incl_span),
            reverted,
            not_included,
            blocks: t.blocks_with_ours.len(),
            max_per_block: t.blocks_with_ours.values().copied().max().unwrap_or(0),
            ack_ms: Quantiles::from(&ack),
            inclusion_ms: Quantiles::from(&incl),
            errors,
            tracker_errors: t.errors.clone(),
            timed_out: t.timed_out,
            stages: BTreeMap::new(),
            peak_rss: None,
            l1_posted_bytes_per_sec: None,
            backlog_peak_bytes: None,
            backlog_end_bytes: None,
        })
    }

    fn json(&self, args: &BenchArgs, rpc: &str) -> Value {
        json!({
            "rpc": rpc,
            "txs": args.txs,
            "accounts": args.accounts,
            "concurrency": args.concurrency,
            "send_batch": args.send_batch,
            "rate": args.rate,
            "to_state": args.to_state,
            "track": format!("{:?}", args.track).to_lowercase(),
            "sent": self.sent,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "sign_secs": self.sign_secs,
            "send_secs": self.send_secs,
            "accepted_tps": self.accepted_tps,
            "included": self.included,
            "included_tps": self.included_tps,
            "reverted": self.reverted,
            "not_included": self.not_included,
            "blocks": self.blocks,
            "max_txs_per_block": self.max_per_block,
            "ack_latency_ms": self.ack_ms,
            "inclusion_latency_ms": self.inclusion_ms,
            "block_stage_ms": self.stages,
            "node_peak_rss_bytes": self.peak_rss,
            "l1_posted_bytes_per_sec": self.l1_posted_bytes_per_sec,
            "backlog_peak_bytes": self.backlog_peak_bytes,
            "backlog_end_bytes": self.backlog_end_bytes,
            "errors": self.errors,
            "tracker_errors": self.tracker_errors,
            "timed_out": self.timed_out,
        })
    }

    fn print(&self, args: &BenchArgs, rpc: &str) {
        if args.json {
            println!("{}", self.json(args, rpc));
            return;
        }
        println!(
            "node:      {rpc} ({})",
            match args.rate {
                Some(r) => format!("open loop at {r:.0} tx/s"),
                None => format!("closed loop, {} in flight", args.concurrency),
            }
        );
        println!(
            "sign:      {} txs pre-signed in {:.2}s ({:.0} tx/s)",
            self.sent.max(args.txs),
            self.sign_secs,
            if self.sign_secs > 0.0 {
                args.txs as f64 / self.sign_secs
            } else {
                0.0
            }
        );
        println!(
            "send:      {} sent, {} accepted, {} rejected in {:.2}s -> {:.0} accepted tx/s",
            self.sent, self.accepted, self.rejected, self.send_secs, self.accepted_tps
        );
        println!("ack  (ms): {}", self.ack_ms.line());
        println!(
            "included:  {} of {} accepted ({} reverted, {} not included{}) -> {:.0} included tx/s \
             over {} blocks (max {} of ours per block)",
            self.included,
            self.accepted,
            self.reverted,
            self.not_included,
            if self.timed_out {
                ", gave up waiting"
            } else {
                ""
            },
            self.included_tps,
            self.blocks,
            self.max_per_block
        );
        println!(
            "inclusion latency, send -> included (ms, track={:?}):",
            args.track
        );
        println!("           {}", self.inclusion_ms.line());
        if !self.stages.is_empty() {
            println!("block stages (ms, from the node's metrics):");
            for (stage, t) in &self.stages {
                let what = if stage == crate::scrape::RECOVER_STAGE {
                    "txs"
                } else {
                    "blocks"
                };
                println!(
                    "           {stage:<11} p50 {:>8.3}  p99 {:>8.3}  ({what} {})",
                    t.p50_ms, t.p99_ms, t.blocks
                );
            }
        }
        if let Some(rss) = self.peak_rss {
            println!("node peak RSS: {:.1} MiB", rss as f64 / (1u64 << 20) as f64);
        }
        if let Some(rate) = self.l1_posted_bytes_per_sec {
            println!(
                "L1 posting: {rate:.0} bytes/s confirmed; backlog peak {} bytes, at the end {} bytes",
                self.backlog_peak_bytes.unwrap_or_default(),
                self.backlog_end_bytes.unwrap_or_default()
            );
        }
        if !self.errors.is_empty() {
            println!("errors by message:");
            for (m, c) in &self.errors {
                println!("  {c:>8} x {m}");
            }
        }
        if !self.tracker_errors.is_empty() {
            println!("tracker request errors:");
            for (m, c) in &self.tracker_errors {
                println!("  {c:>8} x {m}");
            }
        }
    }
}

/// The JSON-RPC client of one phase: up to `connections` keep-alive connections, 60 s per
/// request.
fn client(url: &str, connections: usize) -> Result<RpcClient> {
    Ok(RpcClient::builder(url)
        .max_idle_connections(connections)
        .timeout(Duration::from_secs(60))
        .build()?)
}

/// Progress lines: stdout for the text report, stderr with `--json` (stdout stays one object).
fn say(json: bool, line: String) {
    if json {
        eprintln!("{line}");
    } else {
        println!("{line}");
    }
}

/// Parses a hex quantity.
/// Asks `method(address, tag)` for every account, in batches of `batch_size`.
async fn per_account(
    rpc: &RpcClient,
    batch_size: usize,
    accounts: impl Iterator<Item = &PrivateKeySigner>,
    method: &'static str,
    tag: &str,
) -> Result<Vec<Value>> {
    let calls: Vec<(&str, Value)> = accounts
        .map(|a| (method, json!([a.address(), tag])))
        .collect();
    let mut out = Vec::with_capacity(calls.len());
    for chunk in calls.chunks(batch_size.max(1)) {
        for r in rpc.batch(chunk).await? {
            out.push(r.map_err(|e| eyre!("{method}: {e}"))?);
        }
    }
    Ok(out)
}

fn quantity(v: &Value) -> Result<u128> {
    let s = v
        .as_str()
        .ok_or_else(|| eyre!("expected a hex quantity, got {v}"))?;
    let h = s
        .strip_prefix("0x")
        .ok_or_else(|| eyre!("quantity without 0x: {s}"))?;
    if h.is_empty() {
        bail!("empty quantity");
    }
    Ok(u128::from_str_radix(h, 16)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presign_round_robin_nonces_and_hashes() {
        let parent = MnemonicBuilder::<English>::default()
            .phrase(DEV_MNEMONIC)
            .build_parent_key()
            .unwrap_or_else(|e| panic!("{e}"));
        let senders: Vec<_> = (0..3)
            .map(|i| parent.child(i).map(|k| k.signer()))
            .collect::<Result<_, _>>()
            .unwrap_or_else(|e| panic!("{e}"));
        let fees = Fees {
            chain_id: ordo_primitives::DEV_CHAIN_ID,
            max_fee: 3 * GWEI,
            tip: GWEI,
        };
        let p = presign(&senders, &[5, 0, 9], 7, fees, None);
        assert_eq!(p.len(), 7);
        let bodies: Vec<Value> = p
            .iter()
            .map(|x| serde_json::from_str(&x.body).unwrap_or_else(|e| panic!("{e}")))
            .collect();
        for (k, b) in bodies.iter().enumerate() {
            assert_eq!(b["id"], k);
            let raw: alloy_primitives::Bytes =
                serde_json::from_value(b["params"][0].clone()).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(alloy_primitives::keccak256(&raw), p[k].hash);
            assert_eq!(raw[0], 0x02);
        }
        // Distinct hashes (distinct sender/nonce pairs).
        let set: std::collections::HashSet<_> = p.iter().map(|x| x.hash).collect();
        assert_eq!(set.len(), 7);
        assert_eq!(
            senders[0].address(),
            "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
                .parse::<Address>()
                .unwrap_or_default()
        );
    }

    #[test]
    fn quantities() {
        assert_eq!(quantity(&json!("0x1ca3")).ok(), Some(7331));
        assert!(quantity(&json!("12")).is_err());
    }
}
