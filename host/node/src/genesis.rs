//! geth-style `genesis.json` → [`ChainSpec`].

use std::path::Path;

use alloy_primitives::{B256, U256};
use eyre::WrapErr;
use ordo_primitives::{ChainSpec, GenesisAccount};

/// Reads a geth genesis file: `config.chainId`, `alloc` (balance, nonce, code, storage),
/// `gasLimit`, `baseFeePerGas`, `timestamp`, `extraData`, and Ordo's own `config.ordo`
/// (`feeVaultRecipient`, where the fee vaults withdraw to on L1; `l1BaseFeeScalar` and
/// `l1BlobBaseFeeScalar`, the L1 data fee's weights; `beaconRootsFromBlock`, the first block
/// that names its L1 origin's beacon root, for a chain sealed before Ordo named them); the
/// predeploys join the allocation unless it has code at their addresses.
pub fn from_geth_file(path: &Path) -> eyre::Result<ChainSpec> {
    let text = std::fs::read_to_string(path)
        .wrap_err_with(|| format!("reading genesis {}", path.display()))?;
    from_geth_json(&text).wrap_err_with(|| format!("in genesis {}", path.display()))
}

/// The chain parameters Ordo reads from a genesis file's `config.ordo`.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct OrdoConfig {
    fee_vault_recipient: Option<alloy_primitives::Address>,
    l1_base_fee_scalar: Option<u32>,
    l1_blob_base_fee_scalar: Option<u32>,
    beacon_roots_from_block: Option<u64>,
}

/// Parses geth genesis JSON.
pub fn from_geth_json(text: &str) -> eyre::Result<ChainSpec> {
    let genesis: alloy_genesis::Genesis = serde_json::from_str(text)?;
    Ok(chain_spec_of(&genesis)?.with_predeploys())
}

/// The chain a genesis file describes, its allocation exactly as given (an imported
/// Ethereum chain's; Ordo's own chains add the predeploys).
pub fn chain_spec_of(genesis: &alloy_genesis::Genesis) -> eyre::Result<ChainSpec> {
    let genesis = genesis.clone();
    let mut spec = ChainSpec::empty(genesis.config.chain_id);
    if genesis.gas_limit > 0 {
        spec.gas_limit = genesis.gas_limit;
    }
    if let Some(base_fee) = genesis.base_fee_per_gas {
        spec.genesis_base_fee = u64::try_from(base_fee).wrap_err("baseFeePerGas above u64")?;
    }
    spec.genesis_timestamp = genesis.timestamp;
    if let Some(ordo) = genesis.config.extra_fields.get("ordo") {
        let ordo: OrdoConfig =
            serde_json::from_value(ordo.clone()).wrap_err("reading config.ordo")?;
        if let Some(recipient) = ordo.fee_vault_recipient {
            spec.fee_vault_recipient = recipient;
        }
        if let Some(scalar) = ordo.l1_base_fee_scalar {
            spec.l1_fee_scalars.base_fee_scalar = scalar;
        }
        if let Some(scalar) = ordo.l1_blob_base_fee_scalar {
            spec.l1_fee_scalars.blob_base_fee_scalar = scalar;
        }
        if let Some(from) = ordo.beacon_roots_from_block {
            spec.beacon_roots_from = from;
        }
    }
    if !genesis.extra_data.is_empty() {
        spec.extra_data = genesis.extra_data.clone();
    }
    for (address, account) in genesis.alloc {
        spec.alloc.insert(
            address,
            GenesisAccount {
                balance: account.balance,
                nonce: account.nonce.unwrap_or_default(),
                code: account.code.unwrap_or_default(),
                storage: account
                    .storage
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(k, v): (B256, B256)| (k, U256::from_be_bytes(v.0)))
                    .collect(),
            },
        );
    }
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn geth_genesis_fields_are_read() {
        let spec = from_geth_json(
            r#"{
              "config": {"chainId": 4242},
              "gasLimit": "0x1c9c380",
              "baseFeePerGas": "0x3b9aca00",
              "timestamp": "0x10",
              "alloc": {
                "0x1000000000000000000000000000000000000001": {
                  "balance": "0xde0b6b3a7640000", "nonce": "0x5", "code": "0x6001",
                  "storage": {"0x0000000000000000000000000000000000000000000000000000000000000001": "0x0000000000000000000000000000000000000000000000000000000000000007"}
                }
              }
            }"#,
        )
        .unwrap();
        assert_eq!(spec.chain_id, 4242);
        assert_eq!(spec.gas_limit, 30_000_000);
        assert_eq!(spec.genesis_base_fee, 1_000_000_000);
        assert_eq!(spec.genesis_timestamp, 16);
        // The file's account (the system contracts and predeploys joined it).
        let account =
            &spec.alloc[&alloy_primitives::address!("0x1000000000000000000000000000000000000001")];
        assert_eq!(account.nonce, 5);
        assert_eq!(account.code.len(), 2);
        assert_eq!(account.storage.values().next(), Some(&U256::from(7)));
        // Without `config.ordo`: OP's default scalars, and vaults with no recipient yet.
        assert_eq!(
            spec.l1_fee_scalars,
            ordo_primitives::L1FeeScalars::default()
        );
        assert!(spec.fee_vault_recipient.is_zero());
        assert_eq!(spec.beacon_roots_from, 0);
    }

    #[test]
    fn ordos_own_chain_parameters_are_read_and_unknown_ones_refused() {
        let spec = from_geth_json(
            r#"{"config": {"chainId": 1, "ordo": {"feeVaultRecipient": "0x00000000000000000000000000000000000000f1",
                "l1BaseFeeScalar": 5227, "l1BlobBaseFeeScalar": 1014213,
                "beaconRootsFromBlock": 1200}}, "alloc": {}}"#,
        )
        .unwrap();
        assert_eq!(
            spec.fee_vault_recipient,
            alloy_primitives::address!("0x00000000000000000000000000000000000000f1")
        );
        assert_eq!(spec.l1_fee_scalars.base_fee_scalar, 5227);
        assert_eq!(spec.l1_fee_scalars.blob_base_fee_scalar, 1_014_213);
        assert_eq!(spec.beacon_roots_from, 1200);
        let vault = &spec.alloc[&ordo_primitives::L1_FEE_VAULT];
        assert_eq!(vault.storage[&B256::from(U256::from(1))], U256::from(0xf1));
        let typo = from_geth_json(
            r#"{"config": {"chainId": 1, "ordo": {"feeVault": "0x01"}}, "alloc": {}}"#,
        );
        assert!(format!("{:?}", typo.unwrap_err()).contains("feeVault"));
    }
}
