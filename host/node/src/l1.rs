//! The node's side of L1 beyond posting: the batcher and proposer keys, the portal and
//! output oracle `ordo dev` deploys for itself, and the rollup configuration a bridging
//! client reads (`ordo_rollupConfig`).

use std::path::Path;

use alloy_primitives::Address;
use eyre::WrapErr;

use crate::{NodeConfig, config::L1Section, keys};

/// The batcher's L1 key (`[l1] keystore` or `key_file`, else `ORDO_L1_KEY`).
pub fn batcher_key(section: &L1Section) -> eyre::Result<alloy_signer_local::PrivateKeySigner> {
    let source = keys::KeySource {
        keystore: section.keystore.clone(),
        password_file: section.password_file.clone(),
        password_env: "ORDO_L1_KEYSTORE_PASSWORD",
        key_file: section.key_file.clone(),
        key_env: "ORDO_L1_KEY",
    };
    source.load("batcher")?.ok_or_else(|| {
        eyre::eyre!(
            "[l1] keystore or key_file (--l1-key-file), or ORDO_L1_KEY, is required with an L1"
        )
    })
}

/// The output proposer's L1 key (`[l1] proposer_keystore` or `proposer_key_file`, else
/// `ORDO_L1_PROPOSER_KEY`), or one derived from the batcher key: keccak256("ordo proposer" ‖
/// batcher secret), so a dev node needs one key only.
pub fn proposer_key(section: &L1Section) -> eyre::Result<alloy_signer_local::PrivateKeySigner> {
    let source = keys::KeySource {
        keystore: section.proposer_keystore.clone(),
        password_file: section.proposer_password_file.clone(),
        password_env: "ORDO_L1_PROPOSER_KEYSTORE_PASSWORD",
        key_file: section.proposer_key_file.clone(),
        key_env: "ORDO_L1_PROPOSER_KEY",
    };
    if let Some(key) = source.load("proposer")? {
        return Ok(key);
    }
    Ok(derived_proposer_key(&batcher_key(section)?))
}

/// The proposer key a node derives from its batcher key when none is configured (what
/// `ordo l1 deploy` names as the oracle's proposer unless told otherwise).
pub fn derived_proposer_key(
    batcher: &alloy_signer_local::PrivateKeySigner,
) -> alloy_signer_local::PrivateKeySigner {
    let mut preimage = zeroize::Zeroizing::new(b"ordo proposer".to_vec());
    preimage.extend_from_slice(batcher.to_bytes().as_slice());
    let mut secret = zeroize::Zeroizing::new(alloy_primitives::keccak256(&*preimage).0);
    // A keccak digest is a valid secp256k1 secret but with probability 2^-128.
    let signer = alloy_signer_local::PrivateKeySigner::from_bytes(&(*secret).into())
        .unwrap_or_else(|_| batcher.clone());
    zeroize::Zeroize::zeroize(&mut *secret);
    signer
}

/// Where `ordo dev` records the portal and the output oracle it deployed, in its datadir.
const DEV_PORTAL_FILE: &str = "l1-portal";
const DEV_ORACLE_FILE: &str = "l1-output-oracle";

/// What the dev proposer is given to pay for its proposals.
const DEV_PROPOSER_FUNDS: u128 = 10_000_000_000_000_000_000;

/// The rollup's contracts on L1 as `ordo dev` set them up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DevContracts {
    pub portal: Address,
    pub output_oracle: Address,
}

/// For `ordo dev` given an L1 and no `[l1] portal`: the portal and output oracle it deployed
/// on an earlier start (recorded in the datadir), or ones it deploys now from the batcher key
/// and records; the proposer (a derived key unless one is configured) is funded from the
/// batcher. `None` without an L1 or with a configured portal.
pub async fn dev_contracts(config: &NodeConfig) -> eyre::Result<Option<DevContracts>> {
    let (Some(url), None) = (&config.l1.rpc_url, config.l1.portal) else {
        return Ok(None);
    };
    let portal_file = config.datadir.join(DEV_PORTAL_FILE);
    let oracle_file = config.datadir.join(DEV_ORACLE_FILE);
    let batcher = batcher_key(&config.l1)?;
    let proposer = proposer_key(&config.l1)?.address();
    match (read_recorded(&portal_file)?, read_recorded(&oracle_file)?) {
        (Some(portal), Some(output_oracle)) => {
            for (what, address, file) in [
                ("portal", portal, &portal_file),
                ("output oracle", output_oracle, &oracle_file),
            ] {
                let deployed = ordo_l1::has_code(url, address)
                    .await
                    .wrap_err_with(|| format!("reading the recorded {what}'s code on L1"))?;
                if !deployed {
                    eyre::bail!(
                        "the {what} recorded in {} ({address}) has no code on the L1 at {}: \
                         that L1 was reset since; start from a fresh datadir",
                        file.display(),
                        ordo_l1::redact_url(url)
                    );
                }
            }
            fund_dev_proposer(url, &batcher, proposer).await?;
            return Ok(Some(DevContracts {
                portal,
                output_oracle,
            }));
        }
        (Some(portal), None) => eyre::bail!(
            "{} records a portal ({portal}) deployed before withdrawals (no output oracle): \
             start from a fresh datadir",
            portal_file.display()
        ),
        _ => {}
    }
    // Tools estimate the wait for an output as interval × block time (both whole): make
    // that the batch delay, the usual spacing of outputs, even with sub-second blocks.
    let batch_delay_ms = config.batcher.max_delay_ms.max(1);
    let l2_block_time = (config.block_time_ms / 1_000).max(1);
    let params = ordo_l1::OracleParams {
        submission_interval: batch_delay_ms.div_ceil(l2_block_time * 1_000).max(1),
        l2_block_time,
        starting_block_number: 0,
        starting_timestamp: 0,
        proposer,
        challenger: batcher.address(),
        finalization_period_secs: config.l1.finalization_period_secs,
    };
    let output_oracle = ordo_l1::deploy_oracle(url, batcher.clone(), params)
        .await
        .wrap_err("deploying the output oracle on L1")?;
    let portal = ordo_l1::deploy_portal(url, batcher.clone(), output_oracle)
        .await
        .wrap_err("deploying the portal on L1")?;
    std::fs::create_dir_all(&config.datadir)?;
    // The oracle first: a crash between the two records leaves a portal-less datadir, which
    // deploys both again (the portal record alone is refused above).
    for (file, address) in [(&oracle_file, output_oracle), (&portal_file, portal)] {
        // Through a temporary file and fsynced: a crash leaves no half-written record.
        crate::secret_file::write_private(file, format!("{address}\n").as_bytes())
            .wrap_err_with(|| format!("recording {address} in {}", file.display()))?;
    }
    tracing::info!(target: "ordo::l1", %portal, %output_oracle, %proposer, "deployed the portal and the output oracle on L1");
    fund_dev_proposer(url, &batcher, proposer).await?;
    Ok(Some(DevContracts {
        portal,
        output_oracle,
    }))
}

async fn fund_dev_proposer(
    url: &str,
    batcher: &alloy_signer_local::PrivateKeySigner,
    proposer: Address,
) -> eyre::Result<()> {
    ordo_l1::ensure_funded(
        url,
        batcher.clone(),
        proposer,
        alloy_primitives::U256::from(DEV_PROPOSER_FUNDS),
    )
    .await
    .wrap_err("funding the dev proposer from the batcher")
}

fn read_recorded(file: &Path) -> eyre::Result<Option<Address>> {
    match std::fs::read_to_string(file) {
        Ok(text) => text
            .trim()
            .parse()
            .map(Some)
            .wrap_err_with(|| format!("{} does not hold an address", file.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).wrap_err_with(|| format!("reading {}", file.display())),
    }
}

/// What `ordo_rollupConfig` answers, from the configuration (the L1 chain id comes later,
/// from L1: [`learn_l1_chain_id`]).
pub fn rollup_config(
    config: &NodeConfig,
    chain_id: u64,
    genesis_hash: alloy_primitives::B256,
) -> ordo_api::RollupConfig {
    ordo_api::RollupConfig {
        l2_chain_id: alloy_primitives::U64::from(chain_id),
        l1_chain_id: None,
        addresses: ordo_api::RollupAddresses {
            portal: config.l1.portal,
            l2_output_oracle: config.l1.output_oracle,
            batch_inbox: config.l1.batch_inbox,
        },
        confirmations: config.l1.confirmations,
        sequencing_window: config.l1.sequencing_window,
        block_time_ms: config.block_time_ms,
        genesis_hash,
    }
}

/// Asks the L1 at `url` for its chain id until it answers (backing off to 30 s between
/// tries), then records it for `ordo_rollupConfig`. Stops with the node.
pub fn learn_l1_chain_id(url: String, api: std::sync::Weak<ordo_api::NodeApi>) {
    tokio::spawn(async move {
        let mut wait = std::time::Duration::from_millis(200);
        loop {
            match ordo_l1::l1_chain_id(&url).await {
                Ok(id) => {
                    if let Some(api) = api.upgrade() {
                        api.set_l1_chain_id(id);
                    }
                    return;
                }
                Err(e) => {
                    tracing::debug!(target: "ordo::l1", %e, "L1 chain id not known yet");
                }
            }
            if api.strong_count() == 0 {
                return;
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(std::time::Duration::from_secs(30));
        }
    });
}

/// L1's origin feed as the builder's origin source.
struct FeedSource(ordo_l1::OriginFeed);

fn offered(fed: ordo_l1::FedOrigin) -> ordo_builder::NextOrigin {
    ordo_builder::NextOrigin {
        origin: fed.origin,
        parent_hash: fed.parent_hash,
        deposits: fed.deposits,
    }
}

impl ordo_builder::OriginSource for FeedSource {
    fn origin(&self, number: u64) -> Option<ordo_builder::NextOrigin> {
        self.0.get(number).map(offered)
    }

    fn first(&self) -> Option<ordo_builder::NextOrigin> {
        self.0.first().map(offered)
    }

    fn broken(&self) -> Option<String> {
        self.0.broken()
    }

    fn done_below(&self, number: u64) {
        self.0.prune_below(number);
    }

    fn confirmed(&self) -> Option<u64> {
        self.0.confirmed()
    }

    fn window(&self) -> u64 {
        self.0.window()
    }
}

/// With an L1 and a portal, the builder takes its origins and deposits from L1, going on
/// after `head`'s origin.
pub fn follow_origins(
    config: &NodeConfig,
    builder: &ordo_builder::Builder,
    head: &ordo_primitives::BlockRecord,
) -> eyre::Result<()> {
    let (Some(url), Some(portal)) = (&config.l1.rpc_url, config.l1.portal) else {
        return Ok(());
    };
    if config.l1.sequencing_window == 0 {
        eyre::bail!("[l1] sequencing_window must be at least 1 L1 block");
    }
    let feed = ordo_l1::OriginFeed::start(ordo_l1::OriginFeedConfig {
        rpc_url: url.clone(),
        portal,
        confirmations: config.l1.confirmations,
        after: head.l1_origin,
        window: config.l1.sequencing_window,
        scalars: config.chain_spec()?.l1_fee_scalars,
        poll: std::time::Duration::from_millis(config.l1.poll_ms.clamp(10, 2_000)),
    })
    .wrap_err("following L1 for origins and deposits")?;
    tracing::info!(target: "ordo::l1", %portal, after = ?head.l1_origin.map(|o| o.number), "deposits: following the portal on L1");
    builder.set_origin_source(std::sync::Arc::new(FeedSource(feed)));
    Ok(())
}
