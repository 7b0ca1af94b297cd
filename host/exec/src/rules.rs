//! The fork rules a chain's blocks follow: which EVM each block runs (by number before the
//! merge, by time after), the blob parameters, and whether fees follow OP Stack (Ordo's own
//! chains) or Ethereum (a chain brought in with `ordo import`).

use alloy_eips::eip7840::BlobParams;
use alloy_genesis::ChainConfig;
use alloy_hardforks::{EthereumChainHardforks, EthereumHardfork, EthereumHardforks, ForkCondition};
use alloy_primitives::{Address, U256};
use revm::primitives::hardfork::SpecId;

/// A chain's rules.
#[derive(Debug, Clone)]
pub struct ChainRules {
    forks: EthereumChainHardforks,
    /// The same activations in schedule order (what fork ids hash).
    activations: Vec<(EthereumHardfork, ForkCondition)>,
    /// Blob parameters from the time each applies, in time order (Cancun's first).
    blobs: Vec<(u64, BlobParams)>,
    /// EIP-6110's deposit contract, whose logs become deposit requests.
    pub deposit_contract: Option<Address>,
    /// OP Stack's fees: the base fee goes to a vault (Ethereum burns it) and signed
    /// transactions pay an L1 data fee.
    pub op_fees: bool,
}

impl ChainRules {
    /// Ordo's own chains: every fork through Prague from genesis, OP's fees.
    pub fn ordo() -> Self {
        let mut forks: Vec<_> = [
            EthereumHardfork::Frontier,
            EthereumHardfork::Homestead,
            EthereumHardfork::Tangerine,
            EthereumHardfork::SpuriousDragon,
            EthereumHardfork::Byzantium,
            EthereumHardfork::Constantinople,
            EthereumHardfork::Petersburg,
            EthereumHardfork::Istanbul,
            EthereumHardfork::Berlin,
            EthereumHardfork::London,
        ]
        .into_iter()
        .map(|f| (f, ForkCondition::Block(0)))
        .collect();
        forks.push((EthereumHardfork::Paris, ttd_at_genesis()));
        forks.extend(
            [
                EthereumHardfork::Shanghai,
                EthereumHardfork::Cancun,
                EthereumHardfork::Prague,
            ]
            .map(|f| (f, ForkCondition::Timestamp(0))),
        );
        Self {
            forks: EthereumChainHardforks::new(forks.clone()),
            activations: forks,
            blobs: vec![(0, BlobParams::prague())],
            deposit_contract: None,
            op_fees: true,
        }
    }

    /// The rules of a geth genesis file's `config` (Ethereum's fees): its fork blocks and
    /// times, terminal total difficulty (the merge at `mergeNetsplitBlock`) and blob
    /// schedule.
    pub fn from_chain_config(config: &ChainConfig) -> Self {
        let mut forks = vec![(EthereumHardfork::Frontier, ForkCondition::Block(0))];
        let by_block = [
            (EthereumHardfork::Homestead, config.homestead_block),
            (
                EthereumHardfork::Dao,
                config.dao_fork_block.filter(|_| config.dao_fork_support),
            ),
            (EthereumHardfork::Tangerine, config.eip150_block),
            (EthereumHardfork::SpuriousDragon, config.eip158_block),
            (EthereumHardfork::Byzantium, config.byzantium_block),
            (
                EthereumHardfork::Constantinople,
                config.constantinople_block,
            ),
            (EthereumHardfork::Petersburg, config.petersburg_block),
            (EthereumHardfork::Istanbul, config.istanbul_block),
            (EthereumHardfork::MuirGlacier, config.muir_glacier_block),
            (EthereumHardfork::Berlin, config.berlin_block),
            (EthereumHardfork::London, config.london_block),
            (EthereumHardfork::ArrowGlacier, config.arrow_glacier_block),
            (EthereumHardfork::GrayGlacier, config.gray_glacier_block),
        ];
        forks.extend(
            by_block
                .into_iter()
                .filter_map(|(f, b)| b.map(|b| (f, ForkCondition::Block(b)))),
        );
        if let Some(ttd) = config.terminal_total_difficulty {
            forks.push((
                EthereumHardfork::Paris,
                ForkCondition::TTD {
                    activation_block_number: config.merge_netsplit_block.unwrap_or(0),
                    fork_block: config.merge_netsplit_block,
                    total_difficulty: ttd,
                },
            ));
        }
        let by_time = [
            (EthereumHardfork::Shanghai, config.shanghai_time),
            (EthereumHardfork::Cancun, config.cancun_time),
            (EthereumHardfork::Prague, config.prague_time),
            (EthereumHardfork::Osaka, config.osaka_time),
            (EthereumHardfork::Bpo1, config.bpo1_time),
            (EthereumHardfork::Bpo2, config.bpo2_time),
            (EthereumHardfork::Bpo3, config.bpo3_time),
            (EthereumHardfork::Bpo4, config.bpo4_time),
            (EthereumHardfork::Bpo5, config.bpo5_time),
        ];
        forks.extend(
            by_time
                .into_iter()
                .filter_map(|(f, t)| t.map(|t| (f, ForkCondition::Timestamp(t)))),
        );
        let schedule = config.blob_schedule_blob_params();
        let mut blobs = Vec::new();
        for (time, params) in [
            (config.cancun_time, schedule.cancun),
            (config.prague_time, schedule.prague),
            (config.osaka_time, schedule.osaka),
        ] {
            if let Some(time) = time {
                blobs.push((time, params));
            }
        }
        blobs.extend(schedule.scheduled);
        blobs.sort_by_key(|(time, _)| *time);
        Self {
            forks: EthereumChainHardforks::new(forks.clone()),
            activations: forks,
            blobs,
            deposit_contract: config.deposit_contract_address,
            op_fees: false,
        }
    }

    /// The EVM a block at `number` and `timestamp` runs.
    pub fn spec_at(&self, number: u64, timestamp: u64) -> SpecId {
        alloy_evm::spec_by_timestamp_and_block_number(&self.forks, timestamp, number)
    }

    /// The blob parameters at `timestamp` (None before Cancun).
    pub fn blob_params_at(&self, timestamp: u64) -> Option<BlobParams> {
        self.blobs
            .iter()
            .rev()
            .find(|(time, _)| *time <= timestamp)
            .map(|(_, p)| *p)
    }

    /// The blob sidecar version a transaction sent to a pool whose head is at `number` and
    /// `timestamp` must carry: 0 (EIP-4844's blob proofs) before Osaka, 1 (EIP-7594's cell
    /// proofs) from it, as geth's pool checks against its head.
    pub fn blob_sidecar_version_at(&self, number: u64, timestamp: u64) -> u8 {
        u8::from(self.spec_at(number, timestamp) >= SpecId::OSAKA)
    }

    /// The fork activations (what `alloy-evm`'s block rewards and system calls read).
    pub fn forks(&self) -> &EthereumChainHardforks {
        &self.forks
    }

    /// The activation times of the forks scheduled by time after genesis, in order.
    pub fn fork_times(&self, genesis_time: u64) -> Vec<u64> {
        let mut times: Vec<u64> = self
            .activations
            .iter()
            .filter_map(|(_, c)| match c {
                ForkCondition::Timestamp(t) if *t > genesis_time => Some(*t),
                _ => None,
            })
            .collect();
        times.sort_unstable();
        times.dedup();
        times
    }

    /// EIP-2124's fork hash of a chain at `timestamp`: the genesis hash, then every fork
    /// block after genesis, then every fork time after genesis up to `timestamp`.
    pub fn fork_hash(
        &self,
        genesis_hash: alloy_primitives::B256,
        genesis_time: u64,
        timestamp: u64,
    ) -> alloy_eips::eip2124::ForkHash {
        let mut blocks: Vec<u64> = self
            .activations
            .iter()
            .filter_map(|(_, c)| match c {
                ForkCondition::Block(b) => Some(*b),
                ForkCondition::TTD { fork_block, .. } => *fork_block,
                _ => None,
            })
            .filter(|b| *b > 0)
            .collect();
        blocks.sort_unstable();
        blocks.dedup();
        let mut hash = alloy_eips::eip2124::ForkHash::from(genesis_hash);
        for b in blocks {
            hash += b;
        }
        for t in self.fork_times(genesis_time) {
            if t <= timestamp {
                hash += t;
            }
        }
        hash
    }
}

impl EthereumHardforks for ChainRules {
    fn ethereum_fork_activation(&self, fork: EthereumHardfork) -> ForkCondition {
        self.forks.ethereum_fork_activation(fork)
    }
}

fn ttd_at_genesis() -> ForkCondition {
    ForkCondition::TTD {
        activation_block_number: 0,
        fork_block: Some(0),
        total_difficulty: U256::ZERO,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The execution-apis suite's schedule: forks by block up to the merge, by time after.
    #[test]
    fn a_geth_config_selects_the_evm_by_number_then_time() {
        let config: ChainConfig = serde_json::from_value(serde_json::json!({
            "chainId": 1, "homesteadBlock": 0, "eip150Block": 3, "eip155Block": 6,
            "eip158Block": 6, "byzantiumBlock": 9, "constantinopleBlock": 12,
            "petersburgBlock": 15, "istanbulBlock": 18, "berlinBlock": 24, "londonBlock": 27,
            "mergeNetsplitBlock": 36, "terminalTotalDifficulty": 100, "shanghaiTime": 390,
            "cancunTime": 420, "pragueTime": 450, "osakaTime": 480, "bpo1Time": 510,
            "blobSchedule": {
                "cancun": {"target": 3, "max": 6, "baseFeeUpdateFraction": 3338477},
                "prague": {"target": 6, "max": 9, "baseFeeUpdateFraction": 5007716},
                "osaka": {"target": 6, "max": 9, "baseFeeUpdateFraction": 5007716},
                "bpo1": {"target": 10, "max": 15, "baseFeeUpdateFraction": 8346193}
            }
        }))
        .unwrap();
        let rules = ChainRules::from_chain_config(&config);
        for (number, time, spec) in [
            (1, 10, SpecId::HOMESTEAD),
            (5, 50, SpecId::TANGERINE),
            (8, 80, SpecId::SPURIOUS_DRAGON),
            (9, 90, SpecId::BYZANTIUM),
            (16, 160, SpecId::PETERSBURG),
            (27, 270, SpecId::LONDON),
            (36, 360, SpecId::MERGE),
            (39, 390, SpecId::SHANGHAI),
            (42, 420, SpecId::CANCUN),
            (45, 450, SpecId::PRAGUE),
            (52, 520, SpecId::OSAKA),
        ] {
            assert_eq!(rules.spec_at(number, time), spec, "block {number}");
        }
        assert!(rules.blob_params_at(419).is_none());
        assert_eq!(rules.blob_params_at(420).unwrap().max_blob_count, 6);
        assert_eq!(rules.blob_params_at(515).unwrap().max_blob_count, 15);
        // Blob sidecars: blob proofs until Osaka, cell proofs from its first second.
        assert_eq!(rules.blob_sidecar_version_at(47, 479), 0);
        assert_eq!(rules.blob_sidecar_version_at(48, 480), 1);
        assert!(!rules.op_fees);
        assert!(ChainRules::ordo().op_fees);
        assert_eq!(ChainRules::ordo().spec_at(1, 1), SpecId::PRAGUE);
    }
}
