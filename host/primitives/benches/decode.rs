//! Ingress cost: decode an EIP-2718 transaction and recover its sender.
//! Run: `cargo bench -p ordo-primitives --bench decode`.

// A benchmark aborts on setup failure; there is nothing to recover.
#![allow(clippy::expect_used)]

use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{Address, Bytes, TxKind, U256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn raw_transfer(key: &PrivateKeySigner, nonce: u64) -> Vec<u8> {
    let tx = TxEip1559 {
        chain_id: 7331,
        nonce,
        gas_limit: 21_000,
        max_fee_per_gas: 2_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to: TxKind::Call(Address::repeat_byte(1)),
        value: U256::from(1),
        access_list: Default::default(),
        input: Bytes::new(),
    };
    let sig = key.sign_hash_sync(&tx.signature_hash()).expect("signing");
    TxEnvelope::from(tx.into_signed(sig)).encoded_2718()
}

fn bench(c: &mut Criterion) {
    let key = PrivateKeySigner::random();
    let raws: Vec<Vec<u8>> = (0..256).map(|n| raw_transfer(&key, n)).collect();
    let mut group = c.benchmark_group("ingress");
    group.throughput(Throughput::Elements(1));
    let mut i = 0usize;
    group.bench_function("decode_and_recover_eip1559", |b| {
        b.iter(|| {
            i = (i + 1) % raws.len();
            ordo_primitives::decode_raw_tx(&raws[i]).expect("valid tx")
        })
    });
    // The two recovery backends on the same signature, to justify the choice: alloy uses
    // libsecp256k1 when its `secp256k1` feature is on (ours is), k256 otherwise.
    let tx = ordo_primitives::decode_raw_tx(&raws[0]).expect("valid tx");
    let signed = match &tx.tx {
        TxEnvelope::Eip1559(s) => s.clone(),
        _ => unreachable!("bench txs are EIP-1559"),
    };
    let sig = *signed.signature();
    let prehash = signed.signature_hash();
    group.bench_function("recover_libsecp256k1", |b| {
        b.iter(|| alloy_consensus::crypto::secp256k1::recover_signer(&sig, prehash).expect("ok"))
    });
    let k_sig = sig.to_k256().expect("valid signature");
    let recid = sig.recid();
    group.bench_function("recover_k256", |b| {
        b.iter(|| {
            k256::ecdsa::VerifyingKey::recover_from_prehash(prehash.as_slice(), &k_sig, recid)
                .expect("ok")
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
