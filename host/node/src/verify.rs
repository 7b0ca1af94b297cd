//! `ordo verify`: a thin command over [`ordo_derive::verify`]. The chain spec comes from the
//! node's configuration (dev accounts or a genesis file), the codecs from the plugin host
//! (the shipped ones plus any in `--plugin-dir`); progress goes to stdout.

use std::path::Path;

use ordo_derive::{DeriveConfig, Event, VerifyOptions};

use crate::NodeConfig;

pub use ordo_derive::{Applied, FrameSource};

/// Runs `ordo verify`: derives every available batch into `config.datadir` and, with
/// `compare_rpc`, checks each rebuilt block's hash against that node, and with `sequencer`
/// also that the node holds the sequencer's signature over each rebuilt block hash. Prints a
/// line per batch and a summary; returns the applied batches.
pub async fn run(
    config: &NodeConfig,
    source: &FrameSource,
    compare_rpc: Option<&str>,
    sequencer: Option<alloy_primitives::Address>,
    deposits: Option<ordo_derive::DepositCheck>,
    outputs: Option<ordo_derive::OutputCheck>,
    plugin_dir: Option<&Path>,
) -> eyre::Result<Vec<Applied>> {
    let checks_deposits = deposits.is_some();
    let derive = DeriveConfig {
        datadir: config.datadir.clone(),
        chain: config.chain_spec()?,
    };
    // Slow (compiles and self-tests every codec): off the async reactor.
    let codecs = tokio::task::block_in_place(|| ordo_plugin_host::open_codecs(plugin_dir))?;
    let options = VerifyOptions {
        compare_rpc: compare_rpc.map(str::to_owned),
        sequencer,
        deposits,
        outputs,
    };
    let verified = ordo_derive::verify(&derive, codecs, source, &options, |event| match event {
        Event::Duplicate { index } => println!("batch {index}: posted again, skipped"),
        Event::Outputs { count } => println!(
            "{count} outputs on L1: each the derived chain's output root, each attestation the \
             prover's"
        ),
        Event::Applied(a) => println!(
            "batch {}: blocks {}..={} ok ({})",
            a.index, a.first_block, a.last_block, a.last_hash
        ),
        Event::DepositOnly {
            block,
            hash,
            l1_block,
            deposits,
        } => println!(
            "block {block}: deposit-only for L1 block {l1_block} ({deposits} deposits; its \
             window passed with no batch) ({hash})"
        ),
    })
    .await?;
    let head = &verified.head;
    println!(
        "verified {} batches: blocks 1..={}, head {} state root {}{}",
        verified.applied.len(),
        head.number(),
        head.hash,
        head.header.state_root,
        if checks_deposits {
            ", every deposit as L1 logged it"
        } else {
            ""
        }
    );
    Ok(verified.applied)
}

#[cfg(test)]
mod tests {
    use ordo_primitives::{ChainSpec, DEV_CHAIN_ID};

    use super::*;

    /// Derivation driven without the node (tests, tools) uses `ChainSpec::dev`: it must be the
    /// chain `ordo dev` starts with default settings.
    #[test]
    fn the_default_node_chain_is_the_dev_chain_spec() {
        let spec = NodeConfig::default().chain_spec().unwrap();
        assert_eq!(spec, ChainSpec::dev(DEV_CHAIN_ID));
    }
}
