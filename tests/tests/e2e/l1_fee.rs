//! The L1 data fee has two implementations that must agree: the host's
//! (`ordo_primitives::l1_fee`, FastLZ from `op-alloy-flz`), which will charge it, and the
//! GasPriceOracle predeploy's (`contracts/l2/GasPriceOracle.sol`, our own FastLZ in Solidity),
//! which wallets ask for an estimate. Both predeploys run on anvil at their OP addresses
//! (`anvil_setCode`), L1Block's fee parameters written straight into its slots the way the host
//! will write them, then set again through `setL1BlockValuesEcotone` as the depositor.
//!
//! For 38 transactions of every shape (legacy with and without EIP-155, 2930, 1559 and 7702;
//! transfers, random and compressible calldata up to 100 KB, contract creations, access and
//! authorization lists), signed with a test key:
//! - the Solidity FastLZ length equals the Rust one, on the unsigned and the signed encoding;
//! - `getL1Fee(unsigned)` and `getL1GasUsed(unsigned)` equal the Rust formula at the unsigned
//!   encoding's FastLZ size plus 68, exactly as OP specifies the oracle;
//! - what the host charges, `l1_fee(signed)`, is the same formula at the signed encoding's
//!   size; the oracle's estimate is the fee of a size within a few bytes of it (the 68 bytes
//!   stand in for a signature that compresses to about that much, never exactly).
//!
//! A second test runs the Solidity FastLZ on the reference vectors and on 240 generated inputs
//! (lengths around the scan's limits, alphabets from 2 symbols to 255, copies at the edge of
//! the 8191-byte window) against `op-alloy-flz`.

use alloy::{
    consensus::{SignableTransaction, Signed, TxEip1559, TxEip2930, TxEip7702, TxLegacy},
    network::{EthereumWallet, TransactionBuilder, eip2718::Encodable2718},
    primitives::{Address, B256, Bytes, Signature, TxKind, U256, address, hex, keccak256},
    providers::{Provider, ProviderBuilder},
    rpc::types::{AccessList, AccessListItem, Authorization, TransactionRequest},
    signers::{SignerSync, local::PrivateKeySigner},
};
use eyre::{Result, ensure, eyre};
use ordo_l1::testing::Anvil;
use ordo_primitives::{
    L1FeeParams, SIGNATURE_ALLOWANCE, fastlz_size, l1_fee, l1_fee_for_fastlz_size,
    l1_gas_used_for_fastlz_size,
};
use ordo_tests::{DEV_CHAIN_ID, deploy_checked_in, dev_signer, sign_raw};
use serde_json::json;

use crate::GUARD;

alloy::sol! {
    #[sol(rpc)]
    contract GasPriceOracle {
        function getL1Fee(bytes _data) external view returns (uint256);
        function getL1GasUsed(bytes _data) external view returns (uint256);
        function getL1FeeUpperBound(uint256 _unsignedTxSize) external view returns (uint256);
        function getOperatorFee(uint256 _gasUsed) external view returns (uint256);
        function l1BaseFee() external view returns (uint256);
        function blobBaseFee() external view returns (uint256);
        function baseFeeScalar() external view returns (uint32);
        function blobBaseFeeScalar() external view returns (uint32);
        function decimals() external pure returns (uint256);
        function isEcotone() external view returns (bool);
        function isFjord() external view returns (bool);
        function overhead() external view returns (uint256);
        function scalar() external view returns (uint256);
    }

    #[sol(rpc)]
    contract L1Block {
        function number() external view returns (uint64);
        function timestamp() external view returns (uint64);
        function basefee() external view returns (uint256);
        function hash() external view returns (bytes32);
        function sequenceNumber() external view returns (uint64);
        function blobBaseFeeScalar() external view returns (uint32);
        function baseFeeScalar() external view returns (uint32);
        function batcherHash() external view returns (bytes32);
        function blobBaseFee() external view returns (uint256);
        function DEPOSITOR_ACCOUNT() external view returns (address);
    }

    #[sol(rpc)]
    contract FastLZProbe {
        function flzCompressLen(bytes _data) external pure returns (uint256);
    }
}

const L1_BLOCK: Address = address!("0x4200000000000000000000000000000000000015");
const GAS_PRICE_ORACLE: Address = address!("0x420000000000000000000000000000000000000F");
const DEPOSITOR: Address = address!("0xDeaDDEaDDeAdDeAdDEAdDEaddeAddEAdDEAd0001");

/// How far (in FastLZ bytes) the oracle's `+ 68` may land from the signed encoding's size: OP
/// sets no bound, 68 is a rule of thumb. The signature adds r and s (64 random bytes) with
/// their RLP prefixes and the y parity (legacy: v replaces EIP-155's chain id and two zeros),
/// plus a literal-run byte per 32; the list header may grow a byte; and the last 13 bytes of
/// the unsigned encoding, which FastLZ never matches, may compress once the signature follows
/// them. Over the cases here, unsigned + 68 - signed lies in [-2, +7] (+7: calldata of short
/// zero runs, whose tail becomes matchable).
const SIGNATURE_SLACK: u64 = 8;

/// Everything in L1Block that the host will write: the fee parameters and the L1 origin.
#[derive(Clone, Copy, Debug)]
struct L1Values {
    fees: L1FeeParams,
    number: u64,
    timestamp: u64,
    sequence_number: u64,
    hash: B256,
    batcher_hash: B256,
}

impl L1Values {
    /// The slots of OP's layout: (slot, word).
    fn slots(&self) -> [(u64, U256); 6] {
        [
            (
                0,
                U256::from(self.number) | (U256::from(self.timestamp) << 64),
            ),
            (1, U256::from(self.fees.l1_base_fee)),
            (2, self.hash.into()),
            (
                3,
                U256::from(self.sequence_number)
                    | (U256::from(self.fees.blob_base_fee_scalar) << 64)
                    | (U256::from(self.fees.base_fee_scalar) << 96),
            ),
            (4, self.batcher_hash.into()),
            (7, U256::from(self.fees.blob_base_fee)),
        ]
    }

    /// `setL1BlockValuesEcotone()` with its packed 160 bytes of arguments.
    fn ecotone_calldata(&self) -> Bytes {
        let mut data = hex!("440a5e20").to_vec();
        data.extend(self.fees.base_fee_scalar.to_be_bytes());
        data.extend(self.fees.blob_base_fee_scalar.to_be_bytes());
        data.extend(self.sequence_number.to_be_bytes());
        data.extend(self.timestamp.to_be_bytes());
        data.extend(self.number.to_be_bytes());
        data.extend(U256::from(self.fees.l1_base_fee).to_be_bytes::<32>());
        data.extend(U256::from(self.fees.blob_base_fee).to_be_bytes::<32>());
        data.extend(self.hash.as_slice());
        data.extend(self.batcher_hash.as_slice());
        data.into()
    }
}

/// One transaction: what a wallet hands the oracle and what the host will charge for.
struct Case {
    name: String,
    unsigned: Bytes,
    signed: Bytes,
}

fn case<T>(name: impl Into<String>, signer: &PrivateKeySigner, tx: T) -> Case
where
    T: SignableTransaction<Signature>,
    Signed<T>: Encodable2718,
{
    // The bytes the signature is over: for typed transactions the type byte and the RLP of the
    // fields, for legacy ones with a chain id EIP-155's list ending in (chainId, 0, 0); what
    // viem's serializeTransaction gives for a transaction without a signature.
    let unsigned = tx.encoded_for_signing().into();
    let (signed, _) = sign_raw(signer, tx);
    Case {
        name: name.into(),
        unsigned,
        signed,
    }
}

/// `len` deterministic bytes that do not compress.
fn noise(label: &str, len: usize) -> Vec<u8> {
    (0u64..)
        .flat_map(|i| keccak256(format!("{label}/{i}")).0)
        .take(len)
        .collect()
}

fn call_1559(nonce: u64, input: Vec<u8>) -> TxEip1559 {
    TxEip1559 {
        chain_id: DEV_CHAIN_ID,
        nonce,
        gas_limit: 3_000_000,
        max_fee_per_gas: 3_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to: TxKind::Call(address!("0x00000000000000000000000000000000000c0ffe")),
        value: U256::ZERO,
        access_list: AccessList::default(),
        input: input.into(),
    }
}

fn create_1559(nonce: u64, init: Vec<u8>) -> TxEip1559 {
    TxEip1559 {
        to: TxKind::Create,
        ..call_1559(nonce, init)
    }
}

fn creation_code(hex_file: &str) -> Result<Vec<u8>> {
    Ok(hex::decode(hex_file.trim())?)
}

/// The transactions: every type, transfers, calldata from 4 bytes to 100 KB that does and does
/// not compress, creations, access and authorization lists, RLP length extremes.
fn cases(signer: &PrivateKeySigner) -> Result<Vec<Case>> {
    let chain = DEV_CHAIN_ID;
    let to = address!("0x70997970C51812dc3A010C7d01b50e0d17dc79C8");
    let mut out = vec![];

    // ---- transfers of every type
    let legacy = TxLegacy {
        chain_id: Some(chain),
        nonce: 7,
        gas_price: 2_000_000_000,
        gas_limit: 21_000,
        to: TxKind::Call(to),
        value: U256::from(10u64).pow(U256::from(17)),
        input: Bytes::new(),
    };
    out.push(case("legacy EIP-155 transfer", signer, legacy.clone()));
    out.push(case(
        "legacy pre-EIP-155 transfer",
        signer,
        TxLegacy {
            chain_id: None,
            ..legacy.clone()
        },
    ));
    // Seven bytes unsigned: shorter than anything FastLZ scans (13).
    out.push(case(
        "legacy all-zero creation",
        signer,
        TxLegacy {
            chain_id: None,
            nonce: 0,
            gas_price: 0,
            gas_limit: 0,
            to: TxKind::Create,
            value: U256::ZERO,
            input: Bytes::new(),
        },
    ));
    out.push(case(
        "2930 transfer with an access list",
        signer,
        TxEip2930 {
            chain_id: chain,
            nonce: 8,
            gas_price: 2_000_000_000,
            gas_limit: 30_000,
            to: TxKind::Call(to),
            value: U256::from(1),
            access_list: AccessList(vec![AccessListItem {
                address: to,
                storage_keys: vec![B256::ZERO, B256::with_last_byte(1), keccak256("slot")],
            }]),
            input: Bytes::new(),
        },
    ));
    out.push(case(
        "1559 transfer",
        signer,
        TxEip1559 {
            gas_limit: 21_000,
            to: TxKind::Call(to),
            value: U256::from(1),
            ..call_1559(9, vec![])
        },
    ));
    out.push(case(
        "1559 transfer, every field at its widest",
        signer,
        TxEip1559 {
            chain_id: u64::MAX,
            nonce: u64::MAX - 1,
            gas_limit: u64::MAX,
            max_fee_per_gas: u128::MAX,
            max_priority_fee_per_gas: u128::MAX,
            to: TxKind::Call(to),
            value: U256::MAX,
            access_list: AccessList::default(),
            input: Bytes::new(),
        },
    ));
    for (n, auths) in [(1usize, 1usize), (2, 3)] {
        let authorization_list = (0..auths)
            .map(|i| {
                let authority = PrivateKeySigner::from_bytes(&keccak256(format!("authority {i}")))?;
                let auth = Authorization {
                    chain_id: U256::from(chain),
                    address: to,
                    nonce: i as u64,
                };
                let sig = authority.sign_hash_sync(&auth.signature_hash())?;
                Ok(auth.into_signed(sig))
            })
            .collect::<Result<Vec<_>>>()?;
        out.push(case(
            format!("7702 with {auths} authorizations"),
            signer,
            TxEip7702 {
                chain_id: chain,
                nonce: 10 + n as u64,
                gas_limit: 200_000,
                max_fee_per_gas: 3_000_000_000,
                max_priority_fee_per_gas: 1_000_000_000,
                to,
                value: U256::ZERO,
                access_list: AccessList::default(),
                authorization_list,
                input: noise("7702", 36 * (n - 1)).into(),
            },
        ));
    }

    // ---- calls with calldata that does not compress
    for (i, len) in [
        4, 36, 68, 100, 150, 256, 500, 1000, 2500, 8000, 20_000, 40_000,
    ]
    .into_iter()
    .enumerate()
    {
        let data = noise(&format!("calldata {len}"), len);
        out.push(case(
            format!("1559 call, {len} random bytes"),
            signer,
            call_1559(100 + i as u64, data),
        ));
    }

    // ---- calls with calldata that compresses
    let word = |v: u64| U256::from(v).to_be_bytes::<32>();
    let abi_numbers: Vec<u8> = hex!("a9059cbb")
        .into_iter()
        .chain((0..40u64).flat_map(|i| word(i * 1_000_003)))
        .collect();
    let abi_pairs: Vec<u8> = hex!("12345678")
        .into_iter()
        .chain((0..20u64).flat_map(|i| {
            let mut addr = [0u8; 32];
            addr[12..].copy_from_slice(&keccak256(format!("holder {i}"))[..20]);
            addr.into_iter().chain(word(10u64.pow(18) + i))
        }))
        .collect();
    let sentence = b"The quick brown fox jumps over the lazy dog; ".repeat(60);
    let half = [noise("half", 2000), vec![0; 2000]].concat();
    let repeated = noise("repeated", 1000).repeat(4);
    // The copy starts 9000 bytes after its original: past FastLZ's 8191-byte window.
    let far = {
        let first = noise("far", 9000);
        [first.clone(), first[..1000].to_vec()].concat()
    };
    // Zero runs of 1 to 12 bytes between random bytes: matches of every short length.
    let runs: Vec<u8> = (0..300)
        .flat_map(|i| {
            let mut chunk = noise(&format!("runs {i}"), 3);
            chunk.extend(vec![0u8; 1 + i % 12]);
            chunk
        })
        .collect();
    let compressible: Vec<(&str, Vec<u8>)> = vec![
        ("100 zero bytes", vec![0; 100]),
        ("5000 zero bytes", vec![0; 5000]),
        ("100000 zero bytes", vec![0; 100_000]),
        ("4000 0xff bytes", vec![0xff; 4000]),
        ("deadbeef x 1000", hex!("deadbeef").repeat(1000)),
        ("ABI words of small numbers", abi_numbers),
        ("ABI (address, amount) pairs", abi_pairs),
        ("a sentence x 60", sentence),
        ("2000 random then 2000 zero bytes", half),
        ("1000 random bytes x 4", repeated),
        ("a repeat 9000 bytes back", far),
        ("zero runs of 1..12 bytes", runs),
    ];
    for (i, (name, data)) in compressible.into_iter().enumerate() {
        out.push(case(
            format!("1559 call, {name}"),
            signer,
            call_1559(200 + i as u64, data),
        ));
    }

    // ---- contract creations
    out.push(case(
        "1559 creation of the GasPriceOracle",
        signer,
        create_1559(
            300,
            creation_code(include_str!("../../../contracts/out/GasPriceOracle.bin"))?,
        ),
    ));
    out.push(case(
        "legacy creation of L1Block",
        signer,
        TxLegacy {
            chain_id: Some(chain),
            nonce: 301,
            gas_price: 2_000_000_000,
            gas_limit: 1_000_000,
            to: TxKind::Create,
            value: U256::ZERO,
            input: creation_code(include_str!("../../../contracts/out/L1Block.bin"))?.into(),
        },
    ));
    out.push(case(
        "2930 creation of FastLZProbe",
        signer,
        TxEip2930 {
            chain_id: chain,
            nonce: 302,
            gas_price: 2_000_000_000,
            gas_limit: 1_000_000,
            to: TxKind::Create,
            value: U256::ZERO,
            access_list: AccessList::default(),
            input: creation_code(include_str!("../../../contracts/out/FastLZProbe.bin"))?.into(),
        },
    ));
    out.push(case(
        "1559 creation, 3000 random bytes",
        signer,
        create_1559(303, noise("init", 3000)),
    ));
    out.push(case(
        "1559 creation, 500 zero bytes",
        signer,
        create_1559(304, vec![0; 500]),
    ));

    // ---- a long access list
    out.push(case(
        "1559 call with 10 x 5 access list entries",
        signer,
        TxEip1559 {
            access_list: AccessList(
                (0..10)
                    .map(|i| AccessListItem {
                        address: Address::from_slice(&keccak256(format!("listed {i}"))[..20]),
                        storage_keys: (0..5u64).map(|k| B256::from(U256::from(k))).collect(),
                    })
                    .collect(),
            ),
            ..call_1559(400, noise("listed call", 200))
        },
    ));
    Ok(out)
}

/// Gives L1Block `v` by writing its slots, as the host will.
async fn write_slots(anvil: &Anvil, v: &L1Values) -> Result<()> {
    for (slot, word) in v.slots() {
        anvil
            .rpc(
                "anvil_setStorageAt",
                json!([L1_BLOCK, B256::from(U256::from(slot)), B256::from(word)]),
            )
            .await
            .map_err(|e| eyre!(e))?;
    }
    anvil.mine(1).await;
    Ok(())
}

/// Every slot of L1Block's layout (0..8).
async fn read_slots<P: Provider>(l1: &P) -> Result<Vec<U256>> {
    let mut out = vec![];
    for slot in 0..8u64 {
        out.push(l1.get_storage_at(L1_BLOCK, U256::from(slot)).await?);
    }
    Ok(out)
}

/// The values read back through L1Block's getters and the oracle's proxies.
async fn check_read_back<P: Provider>(l1: &P, v: &L1Values) -> Result<()> {
    let block = L1Block::new(L1_BLOCK, l1);
    let gpo = GasPriceOracle::new(GAS_PRICE_ORACLE, l1);
    ensure!(block.number().call().await? == v.number, "number");
    ensure!(block.timestamp().call().await? == v.timestamp, "timestamp");
    ensure!(block.hash().call().await? == v.hash, "hash");
    ensure!(
        block.sequenceNumber().call().await? == v.sequence_number,
        "sequenceNumber"
    );
    ensure!(
        block.batcherHash().call().await? == v.batcher_hash,
        "batcherHash"
    );
    let f = v.fees;
    ensure!(
        block.basefee().call().await? == U256::from(f.l1_base_fee),
        "basefee"
    );
    ensure!(
        block.blobBaseFee().call().await? == U256::from(f.blob_base_fee),
        "blobBaseFee"
    );
    ensure!(
        block.baseFeeScalar().call().await? == f.base_fee_scalar,
        "baseFeeScalar"
    );
    ensure!(
        block.blobBaseFeeScalar().call().await? == f.blob_base_fee_scalar,
        "blobBaseFeeScalar"
    );
    ensure!(
        gpo.l1BaseFee().call().await? == U256::from(f.l1_base_fee),
        "GPO l1BaseFee"
    );
    ensure!(
        gpo.blobBaseFee().call().await? == U256::from(f.blob_base_fee),
        "GPO blobBaseFee"
    );
    ensure!(
        gpo.baseFeeScalar().call().await? == f.base_fee_scalar,
        "GPO baseFeeScalar"
    );
    ensure!(
        gpo.blobBaseFeeScalar().call().await? == f.blob_base_fee_scalar,
        "GPO blobBaseFeeScalar"
    );
    Ok(())
}

/// The oracle's fee of `unsigned` equals the Rust formula at its FastLZ size plus 68.
async fn check_fee<P: Provider>(l1: &P, c: &Case, p: &L1FeeParams) -> Result<U256> {
    let gpo = GasPriceOracle::new(GAS_PRICE_ORACLE, l1);
    let estimate = gpo.getL1Fee(c.unsigned.clone()).call().await?;
    let expected = l1_fee_for_fastlz_size(fastlz_size(&c.unsigned) + SIGNATURE_ALLOWANCE, p);
    ensure!(
        estimate == expected,
        "{}: getL1Fee(unsigned) = {estimate}, Rust at FastLZ size + 68 = {expected}",
        c.name
    );
    Ok(estimate)
}

/// One transaction against both implementations (see the module doc); answers how far the
/// oracle's size lands from the signed encoding's, and whether its fee is within
/// [`SIGNATURE_SLACK`] bytes' worth of the charged one.
async fn check_case<P: Provider>(
    l1: &P,
    probe: &FastLZProbe::FastLZProbeInstance<&P>,
    c: &Case,
    p: &L1FeeParams,
) -> Result<(i64, bool, String)> {
    // The two FastLZ implementations, on both encodings.
    for (which, bytes) in [("unsigned", &c.unsigned), ("signed", &c.signed)] {
        let sol = probe.flzCompressLen(bytes.clone()).call().await?;
        let rust = fastlz_size(bytes);
        ensure!(
            sol == U256::from(rust),
            "{}: FastLZ size of the {which} encoding ({} bytes): Solidity {sol}, Rust {rust}",
            c.name,
            bytes.len()
        );
    }

    let estimate = check_fee(l1, c, p).await?;
    let unsigned_size = fastlz_size(&c.unsigned);
    let gpo = GasPriceOracle::new(GAS_PRICE_ORACLE, l1);
    let gas = gpo.getL1GasUsed(c.unsigned.clone()).call().await?;
    let expected_gas = l1_gas_used_for_fastlz_size(unsigned_size + SIGNATURE_ALLOWANCE);
    ensure!(
        gas == U256::from(expected_gas),
        "{}: getL1GasUsed = {gas}, Rust {expected_gas}",
        c.name
    );

    // What the host charges: the same formula at the signed encoding's size. The oracle's
    // estimate is that fee for a size a few bytes off (the fee grows with the size, so it lies
    // between the fees of the bounds).
    let signed_size = fastlz_size(&c.signed);
    let charged = l1_fee(&c.signed, p);
    ensure!(
        charged == l1_fee_for_fastlz_size(signed_size, p),
        "{}: l1_fee(signed) is not the formula at its FastLZ size",
        c.name
    );
    let low = l1_fee_for_fastlz_size(signed_size.saturating_sub(SIGNATURE_SLACK), p);
    let high = l1_fee_for_fastlz_size(signed_size + SIGNATURE_SLACK, p);
    let delta = i64::try_from(unsigned_size + SIGNATURE_ALLOWANCE)? - i64::try_from(signed_size)?;
    Ok((delta, low <= estimate && estimate <= high, c.name.clone()))
}

/// Sets `v` through `setL1BlockValuesEcotone`: refused to anyone but the depositor (OP's
/// `NotDepositor()`), then sent as the depositor; the words it stores must be the ones the
/// host's layout writes ([`L1Values::slots`]).
async fn set_as_the_depositor<P: Provider>(anvil: &Anvil, l1: &P, v: &L1Values) -> Result<()> {
    let data = v.ecotone_calldata();
    ensure!(
        data.len() == 164,
        "setL1BlockValuesEcotone calldata {} bytes",
        data.len()
    );
    let stranger = l1
        .call(
            TransactionRequest::default()
                .with_to(L1_BLOCK)
                .with_input(data.clone()),
        )
        .await;
    let err = stranger
        .err()
        .ok_or_else(|| eyre!("setL1BlockValuesEcotone accepted a stranger"))?;
    ensure!(
        err.to_string().contains("0x3cc50b45"),
        "not NotDepositor(): {err}"
    );

    anvil
        .rpc("anvil_impersonateAccount", json!([DEPOSITOR]))
        .await
        .map_err(|e| eyre!(e))?;
    anvil
        .rpc("anvil_setBalance", json!([DEPOSITOR, "0xde0b6b3a7640000"]))
        .await
        .map_err(|e| eyre!(e))?;
    // eth_sendTransaction through anvil's own signer for the impersonated account (a provider
    // without a wallet), waiting for the receipt.
    let receipt = anvil
        .provider()
        .send_transaction(
            TransactionRequest::default()
                .with_from(DEPOSITOR)
                .with_to(L1_BLOCK)
                .with_input(data)
                .with_gas_limit(1_000_000),
        )
        .await?
        .get_receipt()
        .await?;
    ensure!(
        receipt.status(),
        "setL1BlockValuesEcotone reverted for the depositor"
    );

    let mut expected = vec![U256::ZERO; 8];
    for (slot, word) in v.slots() {
        expected[slot as usize] = word;
    }
    let stored = read_slots(l1).await?;
    ensure!(
        stored == expected,
        "slots {stored:?}, layout says {expected:?}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gas_price_oracle_and_the_host_price_the_l1_data_fee_alike() -> Result<()> {
    let anvil = Anvil::spawn().await;
    tokio::time::timeout(GUARD, async {
        let l1 = ProviderBuilder::new()
            .wallet(EthereumWallet::from(Anvil::dev_key(0)))
            .connect_http(anvil.url().parse()?);
        for (account, code) in [
            (
                L1_BLOCK,
                include_str!("../../../contracts/out/L1Block.runtime.bin"),
            ),
            (
                GAS_PRICE_ORACLE,
                include_str!("../../../contracts/out/GasPriceOracle.runtime.bin"),
            ),
        ] {
            anvil
                .rpc(
                    "anvil_setCode",
                    json!([account, format!("0x{}", code.trim())]),
                )
                .await
                .map_err(|e| eyre!(e))?;
        }
        let probe = FastLZProbe::new(
            deploy_checked_in(&l1, include_str!("../../../contracts/out/FastLZProbe.bin")).await?,
            &l1,
        );
        let gpo = GasPriceOracle::new(GAS_PRICE_ORACLE, &l1);

        // Base mainnet's scalars; L1 fees of a busy day.
        let values = L1Values {
            fees: L1FeeParams {
                l1_base_fee: 23_456_789_012,
                blob_base_fee: 7_654_321_098,
                base_fee_scalar: 2269,
                blob_base_fee_scalar: 1_055_762,
            },
            number: 21_000_123,
            timestamp: 1_733_000_000,
            sequence_number: 5,
            hash: keccak256("l1 origin"),
            batcher_hash: B256::left_padding_from(&Anvil::dev_key(1).address()[..]),
        };
        write_slots(&anvil, &values).await?;
        check_read_back(&l1, &values).await?;

        // The fixed answers.
        ensure!(gpo.decimals().call().await? == U256::from(6), "decimals");
        ensure!(gpo.isEcotone().call().await?, "isEcotone");
        ensure!(gpo.isFjord().call().await?, "isFjord");
        ensure!(
            gpo.getOperatorFee(U256::from(21_000)).call().await? == U256::ZERO,
            "getOperatorFee"
        );
        for (name, answer) in [
            ("overhead", gpo.overhead().call().await.map(|_| ())),
            ("scalar", gpo.scalar().call().await.map(|_| ())),
        ] {
            let err = answer.err().ok_or_else(|| eyre!("{name}() answered"))?;
            ensure!(
                err.to_string()
                    .contains(&format!("GasPriceOracle: {name}() is deprecated")),
                "{name}() reverted with {err}"
            );
        }
        let depositor = L1Block::new(L1_BLOCK, &l1)
            .DEPOSITOR_ACCOUNT()
            .call()
            .await?;
        ensure!(depositor == DEPOSITOR, "DEPOSITOR_ACCOUNT {depositor}");
        for size in [0u64, 100, 5000] {
            let t = size + SIGNATURE_ALLOWANCE;
            let expected = l1_fee_for_fastlz_size(t + t / 255 + 16, &values.fees);
            let got = gpo.getL1FeeUpperBound(U256::from(size)).call().await?;
            ensure!(
                got == expected,
                "getL1FeeUpperBound({size}) = {got}, expected {expected}"
            );
        }

        let signer = dev_signer(1);
        let cases = cases(&signer)?;
        ensure!(cases.len() >= 30, "only {} cases", cases.len());
        let mut deltas = vec![];
        for c in &cases {
            deltas.push(check_case(&l1, &probe, c, &values.fees).await?);
        }
        let outside: Vec<_> = deltas.iter().filter(|(_, within, _)| !within).collect();
        let (min, max) = (
            deltas.iter().map(|d| d.0).min(),
            deltas.iter().map(|d| d.0).max(),
        );
        ensure!(
            outside.is_empty(),
            "FastLZ(unsigned) + 68 - FastLZ(signed) in [{min:?}, {max:?}]; estimates more than \
             {SIGNATURE_SLACK} bytes off: {outside:?}"
        );
        eprintln!(
            "{} transactions: FastLZ(unsigned) + 68 - FastLZ(signed) in [{min:?}, {max:?}]",
            cases.len()
        );

        // The same through the packed setter, as the L1-attributes deposit of every block will
        // call it, with values at the ends of their types; the oracle still agrees.
        let extreme = L1Values {
            fees: L1FeeParams {
                l1_base_fee: u128::MAX - 1,
                blob_base_fee: (1u128 << 100) + 12_345,
                base_fee_scalar: u32::MAX,
                blob_base_fee_scalar: u32::MAX - 7,
            },
            number: u64::MAX,
            timestamp: u64::MAX - 1,
            sequence_number: u64::MAX - 2,
            hash: keccak256("another origin"),
            batcher_hash: B256::left_padding_from(&Anvil::dev_key(2).address()[..]),
        };
        set_as_the_depositor(&anvil, &l1, &extreme).await?;
        check_read_back(&l1, &extreme).await?;
        for c in &cases {
            check_fee(&l1, c, &extreme.fees).await?;
        }
        Ok(())
    })
    .await
    .map_err(|_| eyre!("timed out"))?
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn solidity_fastlz_gives_the_reference_lengths_and_op_alloy_flzs() -> Result<()> {
    let anvil = Anvil::spawn().await;
    tokio::time::timeout(GUARD, async {
        let l1 = ProviderBuilder::new()
            .wallet(EthereumWallet::from(Anvil::dev_key(0)))
            .connect_http(anvil.url().parse()?);
        let probe = FastLZProbe::new(
            deploy_checked_in(&l1, include_str!("../../../contracts/out/FastLZProbe.bin")).await?,
            &l1,
        );

        // The reference vectors (op-revm's and op-geth's tests).
        let sample = hex::decode(
            "02f901550a758302df1483be21b88304743f94f80e51afb613d764fa61751affd3313c190a86bb870151bd62fd12adb8e41ef24f3f000000000000000000000000000000000000000000000000000000000000006e000000000000000000000000af88d065e77c8cc2239327c5edb3a432268e5831000000000000000000000000000000000000000000000000000000000003c1e5000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000a000000000000000000000000000000000000000000000000000000000000000148c89ed219d02f1a5be012c689b4f5b731827bebe000000000000000000000000c001a033fd89cb37c31b2cba46b6466e040c61fc9b2a3675a7f5f493ebd5ad77c497f8a07cdf65680e238392693019b4092f610222e71b7cec06449cb922b93b6a12744e",
        )?;
        for (input, expected) in [
            (vec![], 0u64),
            (vec![0; 1000], 21),
            (vec![42; 1000], 21),
            (hex!("FACADE").to_vec(), 4),
            (sample, 202),
        ] {
            let got = probe.flzCompressLen(input.clone().into()).call().await?;
            ensure!(
                got == U256::from(expected),
                "FastLZ of {} bytes: {got}, expected {expected}",
                input.len()
            );
        }

        // Generated inputs of every length class around the scan's limits (< 13 bytes is all
        // literals), over alphabets of 2 to 256 symbols (from runs and short matches to none),
        // some with a copy of an earlier stretch at a distance within or just past the window.
        for i in 0..240usize {
            let len = match i % 8 {
                0 => i % 20,
                1 => 12 + i % 4,
                2 => 30 + i,
                3 => 262 + i % 16,
                _ => 100 + (i * 37) % 4000,
            };
            let alphabet = [2u8, 3, 4, 16, 255][i % 5];
            let mut data: Vec<u8> = noise(&format!("generated {i}"), len)
                .into_iter()
                .map(|b| b % alphabet)
                .collect();
            if i % 7 == 0 {
                let back = [8100usize, 8191, 8192, 8193][i % 4];
                let copy = data.iter().take(300).copied().collect::<Vec<_>>();
                data.resize(back, 0x5a);
                data.extend(copy);
            }
            let got = probe.flzCompressLen(data.clone().into()).call().await?;
            let expected = fastlz_size(&data);
            ensure!(
                got == U256::from(expected),
                "generated input {i} ({} bytes, {alphabet} symbols): Solidity {got}, op-alloy-flz {expected}",
                data.len()
            );
        }
        Ok(())
    })
    .await
    .map_err(|_| eyre!("timed out"))?
}

alloy::sol! {
    #[sol(rpc)]
    contract FeeVault {
        function withdraw() external returns (uint256);
        function totalProcessed() external view returns (uint256);
        function RECIPIENT() external view returns (address);
        function WITHDRAWAL_NETWORK() external view returns (uint8);
        event Withdrawal(uint256 value, address to, address from);
    }
}

/// The receipt of `hash` on `rpc`, once there is one.
async fn receipt_of(rpc: &ordo_tests::Rpc, hash: B256) -> Result<serde_json::Value> {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let receipt = rpc.ok("eth_getTransactionReceipt", json!([hash])).await?;
        if !receipt.is_null() {
            return Ok(receipt);
        }
        ensure!(
            tokio::time::Instant::now() < deadline,
            "no receipt for {hash}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

fn quantity(v: &serde_json::Value) -> Result<U256> {
    let s = v.as_str().ok_or_else(|| eyre!("not a quantity: {v}"))?;
    Ok(U256::from_str_radix(s.trim_start_matches("0x"), 16)?)
}

/// The L1 data fee charged on a real chain over a real L1: a dev node on anvil moves to L1
/// origins (each move starts with OP's L1-attributes deposit), and then
/// - every signed transaction's receipt has `l1Fee`, `l1GasUsed`, `l1GasPrice`,
///   `l1BlobBaseFee` and the scalars; the fee is OP's formula over its signed bytes, priced
///   with what L1Block holds at its block, which is the named L1 block's base fee and blob
///   base fee as anvil reports them; the GasPriceOracle at that block estimates from the
///   unsigned bytes with the same pricing;
/// - the sender pays exactly gas, value and the L1 fee;
/// - the L1 fee vault holds the sum of every receipt's `l1Fee`, the base fee vault every base
///   fee paid;
/// - the pool refuses a sender who can pay gas and value but not the L1 fee;
/// - anyone's `withdraw()` sends the L1 fee vault's balance to its recipient on L1, proven and
///   finalized with `ordo withdraw` like any withdrawal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_transaction_pays_its_l1_fee_into_a_vault_that_withdraws_to_l1() -> Result<()> {
    use crate::withdrawals::{Miner, contracts_of, fund_portal, ordo_withdraw, wait_for_output};
    use alloy::eips::BlockId;
    use ordo_primitives::{BASE_FEE_VAULT, L1_FEE_VAULT, L1FeeScalars, l1_gas_used};
    use ordo_tests::{ETHER, GWEI, parse_quantity, random_address, write_key_file};

    let anvil = Anvil::spawn().await;
    let dir = tempfile::tempdir()?;
    let node = crate::deposits::depositing_node_with(
        &anvil,
        dir.path(),
        500,
        &["l1.finalization_period_secs=3"],
    )
    .await?;
    let logs = node.logs();
    logs.guard(GUARD, async {
        let rpc = node.rpc();
        let l2 = node.provider(&dev_signer(5));
        let l1 = anvil.provider();
        let l1_block = L1Block::new(L1_BLOCK, &l2);
        let oracle = GasPriceOracle::new(GAS_PRICE_ORACLE, &l2);
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
        while l1_block.number().call().await? == 0 {
            ensure!(
                tokio::time::Instant::now() < deadline,
                "L1Block never received an origin"
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }

        let sender = dev_signer(3);
        let balance_at = |who: Address, n: u64| {
            let rpc = node.rpc();
            async move {
                quantity(
                    &rpc.ok("eth_getBalance", json!([who, format!("{n:#x}")]))
                        .await?,
                )
            }
        };
        let shapes: [(&str, Vec<u8>, u64); 3] = [
            ("a transfer", Vec::new(), 21_000),
            (
                "2 KB that do not compress",
                noise("charged", 2_000),
                200_000,
            ),
            ("3 KB of zeros", vec![0; 3_000], 200_000),
        ];
        for (nonce, (name, input, gas)) in shapes.into_iter().enumerate() {
            let tx = TxEip1559 {
                chain_id: DEV_CHAIN_ID,
                nonce: nonce as u64,
                gas_limit: gas,
                max_fee_per_gas: 50 * GWEI,
                max_priority_fee_per_gas: GWEI,
                to: TxKind::Call(random_address()),
                value: U256::from(777),
                access_list: AccessList::default(),
                input: input.into(),
            };
            let unsigned = Bytes::from(tx.encoded_for_signing());
            let (raw, hash) = sign_raw(&sender, tx);
            rpc.send_raw(&raw)
                .await?
                .map_err(|e| eyre!("{name}: {e:?}"))?;
            let r = receipt_of(&rpc, hash).await?;
            ensure!(r["status"] == "0x1", "{name}: {r}");
            let n = parse_quantity(&r["blockNumber"])?;
            let at = BlockId::number(n);

            // What priced it: L1Block at its block, which holds an L1 block's own fees.
            let origin = l1_block.number().block(at).call().await?;
            let l1_base_fee = l1_block.basefee().block(at).call().await?;
            let blob_base_fee = l1_block.blobBaseFee().block(at).call().await?;
            let header = l1
                .get_block_by_number(origin.into())
                .await?
                .ok_or_else(|| eyre!("L1 has no block {origin}"))?
                .header;
            ensure!(
                l1_block.hash().block(at).call().await? == header.hash,
                "{name}: L1Block names another L1 block than its number's"
            );
            ensure!(
                l1_base_fee == U256::from(header.base_fee_per_gas.unwrap_or_default()),
                "{name}: L1 base fee {l1_base_fee}, L1 block {origin} says {:?}",
                header.base_fee_per_gas
            );
            let history = l1.get_fee_history(1, origin.into(), &[]).await?;
            let l1_blob = history
                .base_fee_per_blob_gas
                .first()
                .copied()
                .unwrap_or(0)
                .max(1);
            ensure!(
                blob_base_fee == U256::from(l1_blob),
                "{name}: blob base fee {blob_base_fee}, L1 says {l1_blob}"
            );
            let scalars = L1FeeScalars::default();
            ensure!(
                l1_block.baseFeeScalar().block(at).call().await? == scalars.base_fee_scalar
                    && l1_block.blobBaseFeeScalar().block(at).call().await?
                        == scalars.blob_base_fee_scalar,
                "{name}: the scalars"
            );
            let params = L1FeeParams {
                l1_base_fee: l1_base_fee.to(),
                blob_base_fee: blob_base_fee.to(),
                base_fee_scalar: scalars.base_fee_scalar,
                blob_base_fee_scalar: scalars.blob_base_fee_scalar,
            };

            // The receipt: OP's fields, the fee of the signed bytes at that pricing.
            let fee = l1_fee(&raw, &params);
            ensure!(fee > U256::ZERO, "{name}: no L1 fee at {params:?}");
            let hex = |v: U256| json!(format!("{v:#x}"));
            ensure!(r["l1Fee"] == hex(fee), "{name}: l1Fee should be {fee}: {r}");
            ensure!(
                r["l1GasUsed"] == hex(U256::from(l1_gas_used(&raw)))
                    && r["l1GasPrice"] == hex(l1_base_fee)
                    && r["l1BlobBaseFee"] == hex(blob_base_fee)
                    && r["l1BaseFeeScalar"] == hex(U256::from(scalars.base_fee_scalar))
                    && r["l1BlobBaseFeeScalar"] == hex(U256::from(scalars.blob_base_fee_scalar)),
                "{name}: {r}"
            );
            // The oracle a wallet asks prices the unsigned bytes with the same values.
            let estimate = oracle.getL1Fee(unsigned.clone()).block(at).call().await?;
            let size = fastlz_size(&unsigned) + SIGNATURE_ALLOWANCE;
            ensure!(
                estimate == l1_fee_for_fastlz_size(size, &params),
                "{name}: the oracle's estimate {estimate}"
            );

            // The sender paid gas, the value and the L1 fee, and nothing else.
            let paid = balance_at(sender.address(), n - 1).await?
                - balance_at(sender.address(), n).await?;
            let gas = quantity(&r["gasUsed"])? * quantity(&r["effectiveGasPrice"])?;
            ensure!(
                paid == gas + U256::from(777) + fee,
                "{name}: paid {paid}, gas {gas} + 777 + L1 fee {fee}"
            );
        }

        // The vaults hold exactly the fees every receipt reports.
        let head = rpc.block_number().await?;
        let (mut l1_fees, mut base_fees) = (U256::ZERO, U256::ZERO);
        for n in 1..=head {
            let block = rpc
                .ok("eth_getBlockByNumber", json!([format!("{n:#x}"), false]))
                .await?;
            let base_fee = quantity(&block["baseFeePerGas"])?;
            let receipts = rpc
                .ok("eth_getBlockReceipts", json!([format!("{n:#x}")]))
                .await?;
            for r in receipts.as_array().into_iter().flatten() {
                if r["type"] == "0x7e" {
                    ensure!(r.get("l1Fee").is_none(), "a deposit pays no L1 fee: {r}");
                    continue;
                }
                l1_fees += quantity(&r["l1Fee"])?;
                base_fees += quantity(&r["gasUsed"])? * base_fee;
            }
        }
        ensure!(l1_fees > U256::ZERO);
        ensure!(
            balance_at(L1_FEE_VAULT, head).await? == l1_fees,
            "the L1 fee vault at block {head}, receipts say {l1_fees}"
        );
        ensure!(
            balance_at(BASE_FEE_VAULT, head).await? == base_fees,
            "the base fee vault at block {head}, receipts say {base_fees}"
        );

        // Gas and value, but not the L1 fee on top: refused at the door.
        let poor = PrivateKeySigner::random();
        let exact = 21_000 * 50 * GWEI + 1;
        let fund = transfer_to(DEV_CHAIN_ID, 3, poor.address(), U256::from(exact));
        let (raw, hash) = sign_raw(&sender, fund);
        rpc.send_raw(&raw).await?.map_err(|e| eyre!("{e:?}"))?;
        receipt_of(&rpc, hash).await?;
        let broke = transfer_to(DEV_CHAIN_ID, 0, random_address(), U256::from(1));
        let (raw, _) = sign_raw(&poor, broke);
        let refused = rpc.send_raw(&raw).await?;
        ensure!(
            refused
                .as_ref()
                .is_err_and(|e| e.message.contains("insufficient funds")),
            "{refused:?}"
        );

        // Anyone's withdraw() moves the L1 fee vault's balance to its recipient on L1.
        let (portal, output_oracle) = contracts_of(&node).await?;
        fund_portal(&anvil, portal, ETHER).await?;
        let vault = FeeVault::new(L1_FEE_VAULT, &l2);
        let recipient = vault.RECIPIENT().call().await?;
        ensure!(recipient == ordo_primitives::DEV_ACCOUNTS[0]);
        ensure!(vault.WITHDRAWAL_NETWORK().call().await? == 0);
        let receipt = vault.withdraw().send().await?.get_receipt().await?;
        ensure!(receipt.status(), "withdraw() failed");
        let event = receipt
            .decoded_log::<FeeVault::Withdrawal>()
            .ok_or_else(|| eyre!("no Withdrawal event"))?;
        let value = event.data.value;
        ensure!(value > U256::ZERO && event.data.to == recipient);
        ensure!(vault.totalProcessed().call().await? == value);
        let block = receipt.block_number.unwrap_or_default();
        wait_for_output(&anvil, output_oracle, block).await?;

        let l1_key = dir.path().join("l1.key");
        write_key_file(&l1_key, &ordo_l1::testing::Anvil::dev_key(5))?;
        let (l1_url, l2_url) = (anvil.url(), node.http_url());
        let tx = receipt.transaction_hash.to_string();
        let step = |what: &str| {
            ordo_withdraw(&[
                what,
                "--l1-rpc",
                &l1_url,
                "--l2-rpc",
                &l2_url,
                "--tx",
                &tx,
                "--key-file",
                l1_key.to_str().unwrap_or_default(),
                "--wait",
            ])
        };
        step("prove")?;
        let before = l1.get_balance(recipient).await?;
        let _miner = Miner::start(&anvil);
        let done = step("finalize")?;
        ensure!(done["call_succeeded"] == "true", "{done:?}");
        let after = l1.get_balance(recipient).await?;
        ensure!(
            after - before == value,
            "the recipient received {} on L1, the vault sent {value}",
            after - before
        );
        Ok(())
    })
    .await
}

/// A plain 1559 transfer from the test's senders: 21000 gas at 50 gwei.
fn transfer_to(chain: u64, nonce: u64, to: Address, value: U256) -> TxEip1559 {
    TxEip1559 {
        chain_id: chain,
        nonce,
        gas_limit: 21_000,
        max_fee_per_gas: 50_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to: TxKind::Call(to),
        value,
        access_list: AccessList::default(),
        input: Bytes::new(),
    }
}
