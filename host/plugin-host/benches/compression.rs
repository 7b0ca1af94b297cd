//! Batch compression with each shipped codec on a realistic transaction mix: bytes on L1
//! per transaction, and compression time per batch.
//!
//! `cargo bench -p ordo-plugin-host --bench compression`. Reports numbers; asserts nothing.
//!
//! The mix (1,000 signed transactions in 10 blocks of 100, 200 senders): 50% ETH
//! transfers to 300 recipients, 35% ERC-20 `transfer(address,uint256)` on 5 tokens, 15%
//! router swaps with four arguments. Signatures are real (they are most of the entropy).

// A benchmark aborts on setup failure; there is nothing to recover.
#![allow(clippy::unwrap_used)]

use std::{hint::black_box, time::Duration};

use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{Address, B256, Bytes, TxKind, U256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use criterion::{Criterion, criterion_group, criterion_main};
use ordo_plugin_host::{PluginKind, PluginManager, PluginsConfig, shipped};
use ordo_primitives::{BatchBlock, BatchPayload};

const TXS: usize = 1_000;
const PER_BLOCK: usize = 100;

/// A small deterministic generator (the same mix on every run).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn word(bytes: &[u8]) -> [u8; 32] {
    let mut w = [0u8; 32];
    w[32 - bytes.len()..].copy_from_slice(bytes);
    w
}

fn realistic_payload() -> BatchPayload {
    let mut rng = Rng(0x5eed);
    let senders: Vec<PrivateKeySigner> = (1..=200u64)
        .map(|i| PrivateKeySigner::from_bytes(&B256::from(U256::from(i))).unwrap())
        .collect();
    let recipients: Vec<Address> = (0..300u64)
        .map(|i| Address::from_word(B256::from(U256::from(i * 7919 + 1))))
        .collect();
    let tokens: Vec<Address> = (0..5u8).map(|i| Address::repeat_byte(0xa0 + i)).collect();
    let router = Address::repeat_byte(0xee);
    let mut nonces = vec![0u64; senders.len()];
    let mut txs = Vec::with_capacity(TXS);
    for _ in 0..TXS {
        let s = (rng.next() % senders.len() as u64) as usize;
        let kind = rng.next() % 100;
        let to = recipients[(rng.next() % recipients.len() as u64) as usize];
        let (target, value, input, gas) = if kind < 50 {
            (
                to,
                U256::from(rng.next() % 10u64.pow(18)),
                Vec::new(),
                21_000,
            )
        } else if kind < 85 {
            let mut data = vec![0xa9, 0x05, 0x9c, 0xbb];
            data.extend_from_slice(&word(to.as_slice()));
            data.extend_from_slice(&word(&(rng.next() % 10u64.pow(12)).to_be_bytes()));
            let token = tokens[(rng.next() % tokens.len() as u64) as usize];
            (token, U256::ZERO, data, 65_000)
        } else {
            let mut data = vec![0x38, 0xed, 0x17, 0x39];
            data.extend_from_slice(&word(&(rng.next() % 10u64.pow(15)).to_be_bytes()));
            data.extend_from_slice(&word(&[0]));
            data.extend_from_slice(&word(senders[s].address().as_slice()));
            data.extend_from_slice(&word(&(1_800_000_000 + rng.next() % 1000).to_be_bytes()));
            (router, U256::ZERO, data, 180_000)
        };
        let tip = 1_000_000_000 + u128::from(rng.next() % 2_000_000_000);
        let tx = TxEip1559 {
            chain_id: 7331,
            nonce: nonces[s],
            gas_limit: gas,
            max_fee_per_gas: 20_000_000_000 + tip,
            max_priority_fee_per_gas: tip,
            to: TxKind::Call(target),
            value,
            access_list: Default::default(),
            input: Bytes::from(input),
        };
        nonces[s] += 1;
        let sig = senders[s].sign_hash_sync(&tx.signature_hash()).unwrap();
        txs.push(Bytes::from(
            TxEnvelope::from(tx.into_signed(sig)).encoded_2718(),
        ));
    }
    let blocks = txs
        .chunks(PER_BLOCK)
        .enumerate()
        .map(|(i, chunk)| BatchBlock {
            number: 1_000 + i as u64,
            timestamp: 1_800_000_000 + i as u64,
            parent_hash: B256::from(U256::from(i as u64 + 77)),
            beneficiary: Address::repeat_byte(0x42),
            gas_limit: 30_000_000,
            base_fee: 7,
            extra_data: Bytes::from_static(b"ordo"),
            txs: chunk.to_vec(),
            beacon_root: None,
        })
        .collect();
    BatchPayload { blocks }
}

fn compression(c: &mut Criterion) {
    let raw = realistic_payload().encode();
    println!(
        "batch: {TXS} txs, {} bytes uncompressed ({:.1} bytes/tx)",
        raw.len(),
        raw.len() as f64 / TXS as f64
    );
    let mut group = c.benchmark_group("compression");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(8));
    for plugin in shipped::all() {
        if plugin.kind != PluginKind::Compression {
            continue;
        }
        // Brotli's default level against the smaller, slower level 9 it used to default to.
        let configs: &[&str] = if plugin.package == shipped::DEFAULT_COMPRESSION {
            &["", "level = 9"]
        } else {
            &[""]
        };
        for config in configs {
            let m = PluginManager::open(PluginsConfig::default(), None).unwrap();
            let info = m.load(plugin.kind, plugin.bytes, config).unwrap();
            m.activate(&info.id).unwrap();
            let codec = m.compressor().unwrap();
            let packed = codec.compress(&raw).unwrap();
            let name = match config {
                &"" => info.name.clone(),
                config => format!("{} ({config})", info.name),
            };
            println!(
                "{name} (codec {}): {} bytes on L1 per batch, {:.1} bytes/tx, ratio {:.3}",
                codec.codec_id(),
                packed.len(),
                packed.len() as f64 / TXS as f64,
                packed.len() as f64 / raw.len() as f64
            );
            group.bench_function(format!("{name}/compress-1000-txs"), |b| {
                b.iter(|| codec.compress(black_box(&raw)).unwrap())
            });
            group.bench_function(format!("{name}/decompress-1000-txs"), |b| {
                b.iter(|| codec.decompress(black_box(&packed)).unwrap())
            });
        }
    }
    group.finish();
}

criterion_group!(benches, compression);
criterion_main!(benches);
