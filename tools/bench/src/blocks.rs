//! `ordo bench blocks`: the cost of one block on a datadir's state, with no node, no load
//! generator and no JSON-RPC sharing the cores. It opens the datadir (a chain written by
//! `ordo bench state`, or a stopped node's) the way the node does, and appends blocks of
//! transfers to it through the executor and the storage layer, timing each stage:
//!
//! 1. funds `--senders` accounts of the dev mnemonic from the dev accounts (one block);
//! 2. pre-signs and recovers every block's transfers (sender k % S, to one of the first
//!    `--to-state` accounts of `ordo bench state`, at random), as ingress would;
//! 3. per block: reads ahead what the node's prefetch thread would (`--prefetch`; timed
//!    as `prefetch`, apart from the block's own stages), executes
//!    and seals the block (`execute`, `root`), stages it (`stage`) and stores it in one
//!    fsynced batch (`commit`), one block after another, on threads at the node's block
//!    priority (`--thread-nice`);
//! 4. prints p50 / p99 / max per stage, and of root + commit (issue 14's target).
//!
//! The datadir keeps the blocks: it is a chain like any other afterwards. They carry no
//! sequencer signature (as derived blocks do not), and their provenance names the tool.

use std::{path::PathBuf, sync::Arc, time::Instant};

use alloy_consensus::Transaction;
use alloy_primitives::{Address, B256, Bytes, U256};
use alloy_signer_local::{MnemonicBuilder, PrivateKeySigner, coins_bip39::English};
use eyre::{Context, Result, bail, eyre};
use hdrhistogram::Histogram;
use ordo_exec::{BlockParams, ChainRules, Executor, StateDb};
use ordo_primitives::{DEV_CHAIN_ID, DEV_MNEMONIC, PooledTx, Provenance, decode_raw_tx};

use crate::transfers::{Fees, on_all_cores, sign_transfer, state_recipient};

/// `ordo bench blocks` arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct BlocksArgs {
    /// The node datadir to append blocks to (stop its node first).
    #[arg(long)]
    pub datadir: PathBuf,
    /// Blocks to time.
    #[arg(long, default_value_t = 50)]
    pub blocks: u64,
    /// Transfers per block.
    #[arg(long, default_value_t = 1_000)]
    pub transfers: u64,
    /// Distinct senders (funded from the dev accounts in a first, untimed block).
    #[arg(long, default_value_t = 100)]
    pub senders: u64,
    /// Recipients are drawn from the first N accounts of `ordo bench state` (0: each block
    /// pays the senders themselves).
    #[arg(long, default_value_t = 10_000_000)]
    pub to_state: u64,
    /// MiB of the state's caches (`[state] cache_mb`).
    #[arg(long, default_value_t = ordo_exec::DEFAULT_CACHE_MB)]
    pub cache_mb: usize,
    /// MiB of fjall's block cache (`[state] block_cache_mb`).
    #[arg(long, default_value_t = 256)]
    pub block_cache_mb: u64,
    /// Read each block's accounts and trie paths into the caches before it, untimed, as the
    /// node's prefetch thread does while the transactions wait in the pool.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub prefetch: bool,
    /// Nice value of the block's threads (this one and the root walk's), as the node's
    /// `[builder] thread_nice` sets it: the index writer and the fjall workers stay at the
    /// usual one, as in the node. 0 leaves every thread at the usual one.
    #[arg(long, default_value_t = ordo_exec::DEFAULT_BLOCK_NICE, allow_hyphen_values = true)]
    pub thread_nice: i32,
    /// Print the report as one JSON object.
    #[arg(long)]
    pub json: bool,
    /// Also print each block's stage times (ms) as it is stored, on stderr: where the tail
    /// blocks fall in the run (after a memtable flush, say) is what the percentiles hide.
    #[arg(long)]
    pub each: bool,
}

/// Per-stage times of the timed blocks, in microseconds.
struct Stages {
    /// The reads ahead before the block (the node's prefetch thread does them while the
    /// transactions wait in the pool, beside the block stages).
    prefetch: Histogram<u64>,
    execute: Histogram<u64>,
    root: Histogram<u64>,
    stage: Histogram<u64>,
    commit: Histogram<u64>,
    root_commit: Histogram<u64>,
}

impl Stages {
    fn new() -> Result<Self> {
        let h = || Histogram::<u64>::new(3).wrap_err("histogram");
        Ok(Self {
            prefetch: h()?,
            execute: h()?,
            root: h()?,
            stage: h()?,
            commit: h()?,
            root_commit: h()?,
        })
    }

    fn all(&self) -> [(&'static str, &Histogram<u64>); 6] {
        [
            ("prefetch", &self.prefetch),
            ("execute", &self.execute),
            ("root", &self.root),
            ("stage", &self.stage),
            ("commit", &self.commit),
            ("root+commit", &self.root_commit),
        ]
    }
}

fn ms(micros: u64) -> f64 {
    micros as f64 / 1000.0
}

/// Signs transfers (sender index, nonce, recipient, value) on all cores and decodes each
/// as ingress does (sender recovered).
fn sign_all(
    chain_id: u64,
    plan: &[(usize, u64, Address, U256)],
    signers: &[PrivateKeySigner],
) -> Result<Vec<Arc<PooledTx>>> {
    let fees = Fees {
        chain_id,
        max_fee: 100_000_000_000,
        tip: 1_000_000,
    };
    on_all_cores(plan.len(), |k| {
        let (sender, nonce, to, value) = plan[k];
        let (raw, _) = sign_transfer(&signers[sender], fees, nonce, to, value);
        decode_raw_tx(&raw)
            .map(Arc::new)
            .map_err(|e| eyre!("decoding a signed transfer: {e}"))
    })
    .into_iter()
    .collect()
}

/// Runs the block benchmark `args` asks for and prints its report.
pub fn run_blocks(args: &BlocksArgs) -> Result<()> {
    let db = args.datadir.join("db");
    if !db.is_dir() {
        bail!("{} holds no datadir (no db/)", args.datadir.display());
    }
    // Before the storage and the root threads start: the threads this one starts (the
    // index writer) then begin at the usual priority, as the node's do.
    ordo_exec::set_block_thread_nice(args.thread_nice);
    ordo_exec::apply_block_thread_priority();
    let storage = ordo_storage::Storage::open_with_cache(&db, args.block_cache_mb)
        .wrap_err("opening storage (is a node running on it?)")?;
    let head = storage
        .head()?
        .ok_or_else(|| eyre!("{} holds no chain", args.datadir.display()))?;
    let mut parent = storage
        .block(head)?
        .ok_or_else(|| eyre!("head block {head} is missing"))?;
    let state = Arc::new(StateDb::with_cache(storage, args.cache_mb)?);
    let exec = Executor::new(state.clone(), DEV_CHAIN_ID).with_rules(Arc::new(ChainRules::ordo()));

    let parent_key = MnemonicBuilder::<English>::default()
        .phrase(DEV_MNEMONIC)
        .build_parent_key()
        .wrap_err("deriving the dev keys")?;
    let dev: Vec<PrivateKeySigner> = (0..10u32)
        .map(|i| Ok(parent_key.child(i)?.signer()))
        .collect::<Result<_>>()?;
    // Senders past the ones `ordo bench` uses by default, so runs on one datadir do not
    // collide with a load's nonces.
    let senders: Vec<PrivateKeySigner> = (0..args.senders as u32)
        .map(|i| Ok(parent_key.child(50_000 + i)?.signer()))
        .collect::<Result<_>>()?;

    let mut dev_nonces: Vec<u64> = dev.iter().map(|k| state.nonce(&k.address())).collect();
    let mut nonces: Vec<u64> = senders.iter().map(|k| state.nonce(&k.address())).collect();
    let ether = U256::from(10u64).pow(U256::from(18));
    let underfunded: Vec<usize> = (0..senders.len())
        .filter(|&i| state.balance(&senders[i].address()) < ether)
        .collect();

    // Per block: prefetch, execute, root, stage and commit (µs), state trie nodes written,
    // and the child hashes they hold.
    let mut run_block = |txs: &[Arc<PooledTx>], prefetch: bool| -> Result<[u64; 7]> {
        let prefetching = Instant::now();
        if prefetch {
            for tx in txs {
                state.prefetch(&tx.sender);
                if let Some(to) = tx.tx.to() {
                    state.prefetch(&to);
                }
            }
        }
        let prefetched = prefetching.elapsed();
        let number = parent.number() + 1;
        let params = BlockParams {
            number,
            timestamp: parent.header.timestamp + 1,
            beneficiary: Address::repeat_byte(0x42),
            gas_limit: parent
                .header
                .gas_limit
                .max(30_000_000 + 21_000 * txs.len() as u64),
            base_fee: parent.header.base_fee_per_gas.unwrap_or(1_000_000_000),
            extra_data: Bytes::new(),
            state_block: None,
            max_tx_bytes: None,
            beacon_root: B256::ZERO,
            ethereum: None,
        };
        let started = Instant::now();
        let built = exec
            .build_block(
                &parent.header,
                parent.hash,
                &params,
                txs,
                // Unsigned, as a derived block is; the policy names the tool.
                Provenance {
                    policy: "ordo bench blocks".into(),
                    ..Provenance::default()
                },
            )
            .map_err(|e| eyre!("building block {number}: {e}"))?;
        let sealed = started.elapsed();
        if built.included.len() != txs.len() {
            bail!(
                "block {number} included {} of {} transfers: {:?}",
                built.included.len(),
                txs.len(),
                built.skipped.first()
            );
        }
        let nodes = built.commit.account_nodes.len() as u64;
        let hashes: usize = built
            .commit
            .account_nodes
            .iter()
            .filter_map(|(_, node)| node.as_ref())
            .map(|node| node.hashes.len())
            .sum();
        let staging = Instant::now();
        let staged = state.stage(&built.commit);
        let stage = staging.elapsed();
        let committing = Instant::now();
        state
            .commit_staged(&built.commit, &staged)
            .wrap_err_with(|| format!("storing block {number}"))?;
        let commit = committing.elapsed();
        parent = built.block;
        let micros = |d: std::time::Duration| d.as_micros() as u64;
        Ok([
            micros(prefetched),
            micros(sealed.saturating_sub(built.root_time)),
            micros(built.root_time),
            micros(stage),
            micros(commit),
            nodes,
            hashes as u64,
        ])
    };

    if !underfunded.is_empty() {
        let plan: Vec<(usize, u64, Address, U256)> = underfunded
            .iter()
            .enumerate()
            .map(|(k, &i)| {
                let from = k % dev.len();
                let nonce = dev_nonces[from];
                dev_nonces[from] += 1;
                (from, nonce, senders[i].address(), ether * U256::from(50))
            })
            .collect();
        let funding = sign_all(DEV_CHAIN_ID, &plan, &dev)?;
        run_block(&funding, true)?;
    }

    let mut plan = Vec::with_capacity((args.blocks * args.transfers) as usize);
    for k in 0..args.blocks * args.transfers {
        let sender = (k % args.senders) as usize;
        let to = if args.to_state == 0 {
            senders[(sender + 1) % senders.len()].address()
        } else {
            state_recipient(k, args.to_state)
        };
        plan.push((sender, nonces[sender], to, U256::from(1)));
        nonces[sender] += 1;
    }
    let signing = Instant::now();
    let txs = sign_all(DEV_CHAIN_ID, &plan, &senders)?;
    let signed_in = signing.elapsed();

    let mut stages = Stages::new()?;
    let (mut nodes, mut hashes) = (0u64, 0u64);
    let started = Instant::now();
    if args.each {
        eprintln!("block at(s) prefetch execute root stage commit (ms)");
    }
    for (i, block) in txs.chunks(args.transfers as usize).enumerate() {
        let [prefetch, execute, root, stage, commit, n, h] = run_block(block, args.prefetch)?;
        if args.each {
            eprintln!(
                "{i} {:.3} {:.2} {:.2} {:.2} {:.2} {:.2}",
                started.elapsed().as_secs_f64(),
                ms(prefetch),
                ms(execute),
                ms(root),
                ms(stage),
                ms(commit)
            );
        }
        nodes += n;
        hashes += h;
        stages.prefetch.record(prefetch)?;
        stages.execute.record(execute)?;
        stages.root.record(root)?;
        stages.stage.record(stage)?;
        stages.commit.record(commit)?;
        stages.root_commit.record(root + commit)?;
    }
    let elapsed = started.elapsed();
    // As a node stops: the trie nodes and index entries still waiting behind the blocks
    // are written, so the next open of the datadir has nothing to recompute.
    state
        .storage()
        .flush_indexes()
        .wrap_err("writing the blocks' pending trie nodes and index entries")?;
    let tx_per_s = (args.blocks * args.transfers) as f64 / elapsed.as_secs_f64();

    if args.json {
        let mut report = serde_json::json!({
            "blocks": args.blocks,
            "transfers": args.transfers,
            "head": parent.number(),
            "tx_per_s": tx_per_s,
            "state_nodes_per_block": nodes / args.blocks.max(1),
            "node_hashes_per_block": hashes / args.blocks.max(1),
        });
        for (name, h) in stages.all() {
            report[name] = serde_json::json!({
                "p50_ms": ms(h.value_at_quantile(0.5)),
                "p99_ms": ms(h.value_at_quantile(0.99)),
                "max_ms": ms(h.max()),
            });
        }
        println!("{report}");
        return Ok(());
    }
    println!(
        "ordo bench blocks: {} blocks of {} transfers from {} senders on {} (head now {}); \
         signed in {:.1} s; prefetch {}",
        args.blocks,
        args.transfers,
        args.senders,
        args.datadir.display(),
        parent.number(),
        signed_in.as_secs_f64(),
        if args.prefetch { "on" } else { "off" },
    );
    println!(
        "  {tx_per_s:.0} tx/s through the stages, one block after another (no overlap); \
         per block {} state trie nodes written, holding {} child hashes",
        nodes / args.blocks.max(1),
        hashes / args.blocks.max(1),
    );
    for (name, h) in stages.all() {
        println!(
            "  {name:<12} p50 {:>7.2} ms  p99 {:>7.2} ms  max {:>7.2} ms",
            ms(h.value_at_quantile(0.5)),
            ms(h.value_at_quantile(0.99)),
            ms(h.max()),
        );
    }
    Ok(())
}
