//! The Merkle-Patricia proof verifier the portal proves withdrawals with
//! (`contracts/lib/MerkleTrie.sol`, exposed by `contracts/test/TrieProbe.sol`) against real
//! proofs: anvil's `eth_getProof` over a storage trie of ~300 slots (branch, extension and
//! leaf nodes at several depths), over tries of one and two slots, and for absent keys; then
//! over a trie built with alloy-trie whose leaves are small enough to sit inline in their
//! branch, as geth returns such proofs (without the inline leaf) and as viem sends them (with
//! the leaf appended). Valid proofs verify; a wrong value, a wrong root, a tampered node, an
//! absent key, a proof cut short or one with a trailing element do not. Nodes that match their
//! hash but are not canonical RLP make the verifier revert.

use std::collections::HashMap;

use alloy::{
    network::EthereumWallet,
    primitives::{Address, B256, Bytes, U256, hex, keccak256},
    providers::{Provider, ProviderBuilder},
};
use alloy_trie::{HashBuilder, Nibbles, nodes::TrieNode, proof::ProofRetainer};
use eyre::{Result, ensure, eyre};
use ordo_l1::testing::Anvil;
use ordo_tests::deploy_checked_in;
use serde_json::json;

use crate::GUARD;

alloy::sol! {
    #[sol(rpc)]
    #[derive(Debug)]
    contract TrieProbe {
        function verify(bytes key, bytes value, bytes[] proof, bytes32 root) external pure returns (bool);
        function verifySecure(bytes key, bytes value, bytes[] proof, bytes32 root) external pure returns (bool);
        function get(bytes key, bytes[] proof, bytes32 root) external pure returns (bool exists, bytes value);
        function getSecure(bytes key, bytes[] proof, bytes32 root) external pure returns (bool exists, bytes value);
    }
}

type Probe<'a, P> = TrieProbe::TrieProbeInstance<&'a P>;

/// What `verifySecure` answers; a revert is an error (every case here has a definite answer).
async fn secure<P: Provider>(
    probe: &Probe<'_, P>,
    slot: B256,
    value: &[u8],
    proof: &[Bytes],
    root: B256,
) -> Result<bool> {
    probe
        .verifySecure(
            Bytes::copy_from_slice(slot.as_slice()),
            Bytes::copy_from_slice(value),
            proof.to_vec(),
            root,
        )
        .call()
        .await
        .map_err(|e| eyre!("verifySecure reverted: {e}"))
}

/// What `verify` (the key is the path itself) answers; a revert is an error.
async fn plain<P: Provider>(
    probe: &Probe<'_, P>,
    key: &[u8],
    value: &[u8],
    proof: &[Bytes],
    root: B256,
) -> Result<bool> {
    probe
        .verify(
            Bytes::copy_from_slice(key),
            Bytes::copy_from_slice(value),
            proof.to_vec(),
            root,
        )
        .call()
        .await
        .map_err(|e| eyre!("verify reverted: {e}"))
}

/// The reason `verify` reverted with, or an error if it answered.
async fn plain_revert<P: Provider>(
    probe: &Probe<'_, P>,
    key: &[u8],
    value: &[u8],
    proof: &[Bytes],
    root: B256,
) -> Result<String> {
    match probe
        .verify(
            Bytes::copy_from_slice(key),
            Bytes::copy_from_slice(value),
            proof.to_vec(),
            root,
        )
        .call()
        .await
    {
        Ok(answer) => Err(eyre!("verify answered {answer} instead of reverting")),
        Err(e) => e
            .as_decoded_error::<alloy::sol_types::Revert>()
            .map(|r| r.reason)
            .ok_or_else(|| eyre!("not a revert with a reason: {e}")),
    }
}

/// A storage slot's value as its trie leaf holds it: the RLP of the minimal big-endian integer.
fn trie_value(value: U256) -> Vec<u8> {
    alloy_rlp::encode(value)
}

/// A 32-byte word, deterministically "random": keccak256 of a label and an index.
fn word(label: &str, i: u64) -> B256 {
    keccak256([label.as_bytes(), &i.to_be_bytes()].concat())
}

/// Two slots whose trie paths (keccak256 of the slot) share their first three bytes: in a
/// trie of a few hundred slots, they sit under an extension node and a deep branch.
fn slots_sharing_six_nibbles() -> (B256, B256) {
    let mut seen: HashMap<[u8; 3], B256> = HashMap::new();
    for i in 1_000u64.. {
        let slot = B256::from(U256::from(i));
        let path = keccak256(slot);
        let prefix = [path[0], path[1], path[2]];
        if let Some(other) = seen.insert(prefix, slot) {
            return (other, slot);
        }
    }
    unreachable!("the search is unbounded and a collision of 24 bits comes within ~2^13 tries")
}

/// `eth_getProof` of `slots` of `account` at the latest block: the storage root and, per slot,
/// its value and proof. Each proof is first checked with alloy-trie, so the expected answers
/// below do not rest on the verifier under test.
async fn storage_proofs(
    anvil: &Anvil,
    account: Address,
    slots: &[B256],
) -> Result<(B256, Vec<(B256, U256, Vec<Bytes>)>)> {
    let answer = anvil
        .provider()
        .get_proof(account, slots.to_vec())
        .latest()
        .await?;
    let root = answer.storage_hash;
    let mut out = vec![];
    for (slot, p) in slots.iter().zip(answer.storage_proof) {
        ensure!(
            p.key.as_b256() == *slot,
            "proof for {:?}, asked {slot}",
            p.key
        );
        let expected = (!p.value.is_zero()).then(|| trie_value(p.value));
        alloy_trie::proof::verify_proof(root, Nibbles::unpack(keccak256(slot)), expected, &p.proof)
            .map_err(|e| eyre!("alloy-trie rejects anvil's proof of {slot}: {e}"))?;
        out.push((*slot, p.value, p.proof));
    }
    Ok((root, out))
}

/// Gives `account` code (a contract account) and `slots` on anvil, then mines a block.
async fn make_account(anvil: &Anvil, account: Address, slots: &[(B256, U256)]) -> Result<()> {
    anvil
        .rpc("anvil_setCode", json!([account, "0x00"]))
        .await
        .map_err(|e| eyre!(e))?;
    for (slot, value) in slots {
        anvil
            .rpc(
                "anvil_setStorageAt",
                json!([account, slot, B256::from(*value)]),
            )
            .await
            .map_err(|e| eyre!(e))?;
    }
    anvil.mine(1).await;
    Ok(())
}

/// Node kinds seen in proofs: (branches, extensions, leaves).
fn census(proofs: &[&[Bytes]]) -> Result<(usize, usize, usize)> {
    let (mut branches, mut extensions, mut leaves) = (0, 0, 0);
    for proof in proofs {
        for node in *proof {
            match alloy_rlp::Decodable::decode(&mut &node[..])
                .map_err(|e| eyre!("not a trie node: {e}"))?
            {
                TrieNode::Branch(_) => branches += 1,
                TrieNode::Extension(_) => extensions += 1,
                TrieNode::Leaf(_) => leaves += 1,
                TrieNode::EmptyRoot => {}
            }
        }
    }
    Ok((branches, extensions, leaves))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_proofs_from_anvil_verify_and_tampered_ones_do_not() -> Result<()> {
    let anvil = Anvil::spawn().await;
    tokio::time::timeout(GUARD, async {
        let l1 = ProviderBuilder::new()
            .wallet(EthereumWallet::from(Anvil::dev_key(0)))
            .connect_http(anvil.url().parse()?);
        let probe = TrieProbe::new(
            deploy_checked_in(&l1, include_str!("../../../contracts/out/TrieProbe.bin")).await?,
            &l1,
        );

        // A contract account with ~300 slots: random keys, values of every RLP length (small
        // integers and full words), plus hand-picked ones.
        let big = Address::repeat_byte(0x5a);
        let mut slots: Vec<(B256, U256)> = (0..300u64)
            .map(|i| {
                let value = if i % 3 == 0 {
                    U256::from(i + 1)
                } else {
                    U256::from_be_bytes(word("value", i).0)
                };
                (word("slot", i), value)
            })
            .collect();
        let (near_a, near_b) = slots_sharing_six_nibbles();
        let picked = [
            // The message passer's `true`: the trie holds the single byte 0x01.
            (B256::ZERO, U256::from(1)),
            // The largest single-byte RLP, the smallest two-byte one, the largest word.
            (B256::with_last_byte(1), U256::from(0x7f)),
            (B256::with_last_byte(2), U256::from(0x80)),
            (B256::with_last_byte(3), U256::MAX),
            (near_a, U256::from(0xa11ce)),
            (near_b, U256::from(0xb0b)),
        ];
        slots.extend(picked);
        make_account(&anvil, big, &slots).await?;
        ensure!(trie_value(U256::from(1)) == [0x01], "RLP of 1");

        let mut asked: Vec<B256> = picked.iter().map(|(s, _)| *s).collect();
        asked.extend((0..12u64).map(|i| word("slot", i * 25)));
        let (root, proofs) = storage_proofs(&anvil, big, &asked).await?;

        // Every proof verifies, with the value the slot holds.
        for (slot, value, proof) in &proofs {
            ensure!(
                secure(&probe, *slot, &trie_value(*value), proof, root).await?,
                "valid proof of {slot} ({} nodes) rejected",
                proof.len()
            );
        }
        // Through `getSecure` too, the value read back.
        let (slot0, _, proof0) = &proofs[0];
        let got = probe
            .getSecure(
                Bytes::copy_from_slice(slot0.as_slice()),
                proof0.clone(),
                root,
            )
            .call()
            .await?;
        ensure!(got.exists && got.value[..] == [0x01], "getSecure: {got:?}");

        // The proofs cover the trie's node kinds at several depths.
        let all: Vec<&[Bytes]> = proofs.iter().map(|(_, _, p)| &p[..]).collect();
        let (branches, extensions, leaves) = census(&all)?;
        let deepest = all.iter().map(|p| p.len()).max().unwrap_or(0);
        ensure!(
            branches > 0 && extensions > 0 && leaves > 0 && deepest >= 4,
            "branches {branches}, extensions {extensions}, leaves {leaves}, deepest {deepest}"
        );
        let deep = proofs
            .iter()
            .find(|(_, _, p)| p.len() == deepest)
            .ok_or_else(|| eyre!("no deepest proof"))?;
        let (slot, value, proof) = (deep.0, trie_value(deep.1), deep.2.clone());

        // A wrong value, a value of another RLP length, an empty value.
        let mut wrong = value.clone();
        *wrong.last_mut().ok_or_else(|| eyre!("empty value"))? ^= 1;
        ensure!(
            !secure(&probe, slot, &wrong, &proof, root).await?,
            "wrong value"
        );
        ensure!(
            !secure(
                &probe,
                slot,
                &trie_value(deep.1 ^ U256::from(1u64 << 40)),
                &proof,
                root
            )
            .await?,
            "other value"
        );
        ensure!(
            !secure(&probe, slot, &[], &proof, root).await?,
            "empty value"
        );
        ensure!(
            !secure(&probe, B256::ZERO, &[0x02], &proof0.clone(), root).await?,
            "2 for a slot holding 1"
        );

        // A wrong root.
        let mut bad_root = root;
        bad_root.0[31] ^= 1;
        ensure!(
            !secure(&probe, slot, &value, &proof, bad_root).await?,
            "wrong root"
        );

        // A byte flipped in the root node, in a middle node, in the leaf.
        for at in [0, proof.len() / 2, proof.len() - 1] {
            let mut tampered = proof.clone();
            let mut node = tampered[at].to_vec();
            let mid = node.len() / 2;
            node[mid] ^= 0x10;
            tampered[at] = node.into();
            ensure!(
                !secure(&probe, slot, &value, &tampered, root).await?,
                "byte flipped in node {at} of {}",
                proof.len()
            );
        }

        // The last node removed; only the root; no proof at all.
        ensure!(
            !secure(&probe, slot, &value, &proof[..proof.len() - 1], root).await?,
            "last node removed"
        );
        ensure!(
            !secure(&probe, slot, &value, &proof[..1], root).await?,
            "root only"
        );
        ensure!(
            !secure(&probe, slot, &value, &[], root).await?,
            "empty proof"
        );

        // A trailing element: another proof's leaf, or the leaf repeated.
        let other_leaf = proofs
            .iter()
            .find(|(s, _, _)| *s != slot)
            .and_then(|(_, _, p)| p.last().cloned())
            .ok_or_else(|| eyre!("no other proof"))?;
        for extra in [other_leaf, proof[proof.len() - 1].clone()] {
            let mut longer = proof.clone();
            longer.push(extra);
            ensure!(
                !secure(&probe, slot, &value, &longer, root).await?,
                "trailing element"
            );
        }

        // Another slot (present, with its own value) against this proof.
        for (other, other_value, _) in proofs.iter().filter(|(s, _, _)| *s != slot).take(3) {
            ensure!(
                !secure(&probe, *other, &trie_value(*other_value), &proof, root).await?,
                "{other} proven by the proof of {slot}"
            );
        }

        // The two slots under the deep branch: each verifies, neither with the other's proof.
        let near: Vec<_> = proofs
            .iter()
            .filter(|(s, _, _)| *s == near_a || *s == near_b)
            .collect();
        ensure!(near.len() == 2, "both near slots asked");
        ensure!(
            near[0].2.len() >= 4 && near[1].2.len() >= 4,
            "the near slots' proofs are deep: {} and {}",
            near[0].2.len(),
            near[1].2.len()
        );
        ensure!(
            !secure(&probe, near[0].0, &trie_value(near[0].1), &near[1].2, root).await?,
            "near slot with its neighbour's proof"
        );

        // Absent keys: the absence proofs anvil returns prove no value (and `getSecure` reads
        // them as absence, not as an invalid proof).
        let absent: Vec<B256> = (0..6u64).map(|i| word("absent", i)).collect();
        let (root2, absence) = storage_proofs(&anvil, big, &absent).await?;
        ensure!(root2 == root, "the storage did not change");
        for (slot, value, proof) in &absence {
            ensure!(value.is_zero(), "absent slot {slot} holds {value}");
            for v in [&[0x01][..], &[0x80][..], &value_of_present(&proofs)[..]] {
                ensure!(
                    !secure(&probe, *slot, v, proof, root).await?,
                    "absent {slot} proven holding {v:?}"
                );
            }
            let got = probe
                .getSecure(Bytes::copy_from_slice(slot.as_slice()), proof.clone(), root)
                .call()
                .await
                .map_err(|e| eyre!("getSecure of absent {slot}: {e}"))?;
            ensure!(
                !got.exists && got.value.is_empty(),
                "absent {slot}: {got:?}"
            );
        }

        // Tiny tries: one slot (the root is the leaf), two slots (a branch or an extension
        // over two leaves).
        for (account, count) in [
            (Address::repeat_byte(0x01), 1u64),
            (Address::repeat_byte(0x02), 2),
        ] {
            let slots: Vec<(B256, U256)> = (0..count)
                .map(|i| (B256::with_last_byte(i as u8), U256::from(i + 1)))
                .collect();
            make_account(&anvil, account, &slots).await?;
            let mut asked: Vec<B256> = slots.iter().map(|(s, _)| *s).collect();
            asked.push(word("absent", 99));
            let (root, proofs) = storage_proofs(&anvil, account, &asked).await?;
            for (slot, value, proof) in &proofs[..slots.len()] {
                ensure!(
                    proof.len() == count as usize,
                    "{count} slots: proof of {} nodes",
                    proof.len()
                );
                ensure!(
                    secure(&probe, *slot, &trie_value(*value), proof, root).await?,
                    "{count} slots: {slot} rejected"
                );
                ensure!(
                    !secure(
                        &probe,
                        *slot,
                        &trie_value(*value + U256::from(1)),
                        proof,
                        root
                    )
                    .await?,
                    "{count} slots: wrong value accepted"
                );
            }
            let (slot, _, proof) = &proofs[slots.len()];
            ensure!(
                !secure(&probe, *slot, &[0x01], proof, root).await?,
                "{count} slots: absent key accepted"
            );
        }
        Ok::<_, eyre::Report>(())
    })
    .await
    .map_err(|_| eyre!("timed out"))?
}

/// Some value a present slot holds (in trie form), to try against absence proofs.
fn value_of_present(proofs: &[(B256, U256, Vec<Bytes>)]) -> Vec<u8> {
    proofs
        .first()
        .map(|(_, v, _)| trie_value(*v))
        .unwrap_or_default()
}

/// A trie of 4-byte keys, built with alloy-trie (not hashed: `verify`, not `verifySecure`),
/// shaped so that some leaves are under 32 bytes and sit inline in their branch:
///
/// ```text
/// root branch ─1─ extension 000000 ─ branch ─0/1─ leaves (40-byte values: hashed)
///             └a─ extension abbc ─ branch ─c─ extension 0 ─ branch ─1/2─ inline leaves, path ""
///                                         └d─ branch ─1/2─ inline leaves, path "5" / "6"
/// ```
///
/// Returns the root and, per target key, the alloy-trie proof (every node on the path,
/// inline leaf included).
fn inline_trie(targets: &[[u8; 4]]) -> (B256, Vec<Vec<(Nibbles, Bytes)>>) {
    let entries: [([u8; 4], Vec<u8>); 6] = [
        (hex!("10000000"), vec![0x42; 40]),
        (hex!("10000001"), vec![0x43; 40]),
        (hex!("aabbcc01"), vec![0x11; 20]),
        (hex!("aabbcc02"), vec![0x22; 20]),
        (hex!("aabbcd15"), vec![0x55; 20]),
        (hex!("aabbcd26"), vec![0x66; 20]),
    ];
    let retainer = ProofRetainer::from_iter(targets.iter().map(Nibbles::unpack));
    let mut hb = HashBuilder::default().with_proof_retainer(retainer);
    for (key, value) in &entries {
        hb.add_leaf(Nibbles::unpack(key), value);
    }
    let root = hb.root();
    let nodes = hb.take_proof_nodes();
    let proofs = targets
        .iter()
        .map(|t| nodes.matching_nodes_sorted(&Nibbles::unpack(t)))
        .collect();
    (root, proofs)
}

/// A proof as geth's eth_getProof returns it: the root and every node referenced by hash;
/// nodes inline in their parent are left out.
fn geth_style(nodes: &[(Nibbles, Bytes)]) -> Vec<Bytes> {
    nodes
        .iter()
        .enumerate()
        .filter(|(i, (_, node))| *i == 0 || node.len() >= 32)
        .map(|(_, (_, node))| node.clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inline_leaves_verify_with_or_without_the_node_viem_appends() -> Result<()> {
    let anvil = Anvil::spawn().await;
    tokio::time::timeout(GUARD, async {
        let l1 = ProviderBuilder::new()
            .wallet(EthereumWallet::from(Anvil::dev_key(1)))
            .connect_http(anvil.url().parse()?);
        let probe = TrieProbe::new(
            deploy_checked_in(&l1, include_str!("../../../contracts/out/TrieProbe.bin")).await?,
            &l1,
        );

        let keys = [
            hex!("aabbcd15"),
            hex!("aabbcc01"),
            hex!("10000000"),
            hex!("aabbcd37"),
            hex!("aabbcd16"),
            hex!("aabbcc03"),
        ];
        let (root, full) = inline_trie(&keys);

        // aabbcd15: the walk ends in a branch whose child for nibble 1 is an inline leaf with
        // path "5". geth's proof stops at that branch; viem's `maybeAddProofNode` appends the
        // inline leaf's RLP (its path's last nibble, 5, ends the key), as OP's verifier needs.
        let value = [0x55u8; 20];
        let inline_leaf = full[0].last().cloned().ok_or_else(|| eyre!("no nodes"))?.1;
        ensure!(
            inline_leaf.len() < 32
                && matches!(
                    alloy_rlp::Decodable::decode(&mut &inline_leaf[..]),
                    Ok(TrieNode::Leaf(_))
                ),
            "the last node of aabbcd15's path is an inline leaf: {inline_leaf}"
        );
        let geth = geth_style(&full[0]);
        ensure!(
            geth.len() + 1 == full[0].len(),
            "only the leaf is inline on the path"
        );
        let mut viem = geth.clone();
        viem.push(inline_leaf.clone());
        ensure!(
            plain(&probe, &keys[0], &value, &geth, root).await?,
            "geth-style proof of an inline leaf"
        );
        ensure!(
            plain(&probe, &keys[0], &value, &viem, root).await?,
            "viem-style proof of an inline leaf"
        );
        ensure!(
            !plain(&probe, &keys[0], &[0x66; 20], &viem, root).await?,
            "the inline neighbour's value"
        );
        let mut twice = viem.clone();
        twice.push(inline_leaf.clone());
        ensure!(
            !plain(&probe, &keys[0], &value, &twice, root).await?,
            "the inline leaf appended twice"
        );
        // The neighbouring inline leaf (path "6") appended instead: unrelated, rejected.
        let neighbour = Bytes::from([&[0xd6, 0x36, 0x94][..], &[0x66; 20]].concat());
        let mut unrelated = geth.clone();
        unrelated.push(neighbour);
        ensure!(
            !plain(&probe, &keys[0], &value, &unrelated, root).await?,
            "an unrelated inline leaf appended"
        );
        // The branch holding the inline leaves removed: nothing leads to the leaf.
        ensure!(
            !plain(&probe, &keys[0], &value, &geth[..geth.len() - 1], root).await?,
            "the branch removed"
        );

        // aabbcc01: an inline leaf with an empty path (viem's suffix rule appends nothing for
        // it: its path's hex-prefix byte is 0x20): verifies from its branch alone, or with it.
        let geth = geth_style(&full[1]);
        ensure!(
            plain(&probe, &keys[1], &[0x11; 20], &geth, root).await?,
            "aabbcc01 without its inline leaf"
        );
        let with_leaf: Vec<Bytes> = full[1].iter().map(|(_, n)| n.clone()).collect();
        ensure!(
            plain(&probe, &keys[1], &[0x11; 20], &with_leaf, root).await?,
            "aabbcc01 with its inline leaf"
        );

        // 10000000: a leaf referenced by hash, below an extension.
        let proof = geth_style(&full[2]);
        ensure!(
            plain(&probe, &keys[2], &[0x42; 40], &proof, root).await?,
            "hashed leaf"
        );
        ensure!(
            !plain(
                &probe,
                &keys[2],
                &[0x42; 40],
                &proof[..proof.len() - 1],
                root
            )
            .await?,
            "hashed leaf removed"
        );

        // Absent keys: an empty child (aabbcd37), an inline leaf on another path (aabbcd16),
        // an empty child under an extension (aabbcc03). `get` proves absence; `verify` is false.
        for (i, key) in keys.iter().enumerate().skip(3) {
            let proof = geth_style(&full[i]);
            ensure!(
                !plain(&probe, key, &[0x55; 20], &proof, root).await?,
                "absent {} verified",
                hex::encode(key)
            );
            let got = probe
                .get(Bytes::copy_from_slice(key), proof, root)
                .call()
                .await
                .map_err(|e| eyre!("get of absent {}: {e}", hex::encode(key)))?;
            ensure!(!got.exists && got.value.is_empty(), "{got:?}");
        }

        // Nodes that hash to the root but are not canonical RLP revert. The well-formed
        // one-leaf trie first: key 0x01 (path nibbles 0 1, hex prefix 0x20 0x01), value "v".
        let leaf = hex!("c4822001" "76");
        ensure!(
            plain(&probe, &[0x01], b"v", &[leaf.into()], keccak256(leaf)).await?,
            "a one-leaf trie"
        );
        for (what, node, reason) in [
            (
                "long form for a short list",
                &hex!("f804822001" "76")[..],
                "long form",
            ),
            (
                "a byte after the node",
                &hex!("c4822001" "7600")[..],
                "trailing bytes",
            ),
            (
                "a list longer than its input",
                &hex!("c5822001" "76")[..],
                "runs past",
            ),
            (
                "an item longer than its list",
                &hex!("c4842001" "76")[..],
                "runs past",
            ),
            (
                "a byte below 0x80 wrapped",
                &hex!("c5822001" "8176")[..],
                "single byte",
            ),
            (
                "a length with a leading zero",
                &hex!("f90004822001" "76")[..],
                "leading zeros",
            ),
        ] {
            let root = keccak256(node);
            let got = plain_revert(&probe, &[0x01], b"v", &[Bytes::copy_from_slice(node)], root)
                .await
                .map_err(|e| eyre!("{what}: {e}"))?;
            ensure!(got.contains(reason), "{what}: reverted with {got:?}");
        }
        Ok::<_, eyre::Report>(())
    })
    .await
    .map_err(|_| eyre!("timed out"))?
}
