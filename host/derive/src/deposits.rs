//! The deposits rule `ordo verify` holds every block to, with the deposits read from L1
//! alone (the batches are not trusted for them): a block whose L1 origin moved starts with
//! exactly the deposits its origin's L1 block logged, in log order, and the origin moved to
//! the L1 block right after the previous one; any other block holds no deposit. So every
//! deposit of every origin is included once, in the right block, and none is invented.

use alloy_primitives::{B256, Bytes};
use ordo_exec::BlockParams;
use ordo_primitives::{BlockRecord, L1Origin, is_deposit};

/// A block's L1 origin, as its header commits to it (the extra data is the origin's hash);
/// None for a block sealed without one.
pub(crate) fn origin_of(block: &BlockRecord) -> Option<B256> {
    let extra = &block.header.extra_data;
    (extra.len() == 32).then(|| B256::from_slice(extra))
}

/// What L1 says of an origin.
#[derive(Debug, Clone)]
pub(crate) struct OriginOnL1 {
    pub parent_hash: B256,
    /// The deposit transactions its logs make, EIP-2718 encoded, in log order.
    pub deposits: Vec<Bytes>,
}

/// Whether `block`, after a parent whose origin was `parent_origin`, keeps the rule; `l1`
/// is what L1 says of the block's origin when it moved (required then).
pub(crate) fn check(
    block: &BlockRecord,
    parent_origin: Option<B256>,
    l1: Option<&OriginOnL1>,
) -> Result<(), String> {
    let leading = block
        .transactions
        .iter()
        .take_while(|raw| is_deposit(raw))
        .count();
    if block.transactions[leading..]
        .iter()
        .any(|raw| is_deposit(raw))
    {
        return Err("a deposit comes after other transactions".into());
    }
    let deposits = &block.transactions[..leading];
    let origin = origin_of(block);
    if origin.is_none() || origin == parent_origin {
        if !deposits.is_empty() {
            return Err(format!(
                "{} deposit(s) in a block whose L1 origin did not move: L1 logged none for it",
                deposits.len()
            ));
        }
        return Ok(());
    }
    let Some(l1) = l1 else {
        return Err("its L1 origin is not known to L1".into());
    };
    if let Some(parent) = parent_origin
        && l1.parent_hash != parent
    {
        return Err(format!(
            "its L1 origin does not follow the previous origin {parent} on L1 (an L1 block \
             skipped, or an origin L1 does not have)"
        ));
    }
    if deposits != l1.deposits.as_slice() {
        let differs = deposits
            .iter()
            .zip(&l1.deposits)
            .position(|(a, b)| a != b)
            .unwrap_or(deposits.len().min(l1.deposits.len()));
        return Err(format!(
            "holds {} deposit(s) where its L1 origin logged {} (first difference at {differs})",
            deposits.len(),
            l1.deposits.len()
        ));
    }
    Ok(())
}

/// Whether `block` names the parent beacon block root of its L1 origin `origin` (as L1
/// has it; zero before block `from`, the chain's `beacon_roots_from`), which the batch
/// carries and the sequencer could otherwise choose.
pub(crate) fn check_beacon_root(
    block: &BlockRecord,
    origin: &L1Origin,
    from: u64,
) -> Result<(), String> {
    let named = block.header.parent_beacon_block_root.unwrap_or_default();
    let want = origin.beacon_root_of_block(block.header.number, from);
    if named != want {
        return Err(format!(
            "it names the parent beacon block root {named} where its L1 origin {} has {want}",
            origin.number
        ));
    }
    Ok(())
}

/// Whether `block` (after `parent`) is the deposit-only block of `origin`: what a block
/// must be when its batch reached L1 after its origin's sequencing window. (Its beacon
/// root is [`check_beacon_root`]'s to check, as every block's.)
pub(crate) fn check_deposit_only(
    block: &BlockRecord,
    parent: &BlockRecord,
    origin: &L1Origin,
    beacon_roots_from: u64,
) -> Result<(), String> {
    if origin_of(parent) == Some(origin.hash) {
        return Err(format!(
            "its batch reached L1 after the sequencing window of its origin {} and it is not \
             the block that moved to that origin",
            origin.number
        ));
    }
    let want = BlockParams::deposit_only(&parent.header, origin, beacon_roots_from);
    let h = &block.header;
    let same = h.timestamp == want.timestamp
        && h.beneficiary == want.beneficiary
        && h.gas_limit == want.gas_limit
        && h.base_fee_per_gas == Some(want.base_fee)
        && h.extra_data == want.extra_data
        && block.transactions.iter().all(|raw| is_deposit(raw));
    if !same {
        return Err(format!(
            "its batch reached L1 after the sequencing window of its origin {}, so it must be \
             that origin's deposit-only block, and it is not",
            origin.number
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use alloy_primitives::{Address, TxKind, U256};
    use ordo_primitives::{DepositTx, TxDeposit, UserDepositSource};

    use super::*;

    fn deposit(i: u64) -> Bytes {
        DepositTx::new(TxDeposit {
            source_hash: UserDepositSource::new(B256::repeat_byte(1), i).source_hash(),
            from: Address::repeat_byte(2),
            to: TxKind::Call(Address::repeat_byte(3)),
            mint: 1,
            value: U256::ZERO,
            gas_limit: 21_000,
            is_system_transaction: false,
            input: Bytes::new(),
        })
        .encoded
    }

    fn block(origin: Option<B256>, txs: Vec<Bytes>) -> BlockRecord {
        let header = ordo_primitives::alloy_consensus::Header {
            extra_data: match origin {
                Some(o) => Bytes::copy_from_slice(o.as_slice()),
                None => Bytes::from_static(b"ordo"),
            },
            ..Default::default()
        };
        BlockRecord {
            hash: header.hash_slow(),
            header,
            senders: vec![Address::ZERO; txs.len()],
            tx_hashes: vec![B256::ZERO; txs.len()],
            transactions: txs,
            provenance: Default::default(),
            l1_origin: None,
            extras: None,
        }
    }

    #[test]
    fn deposits_must_be_exactly_those_of_the_new_origin_and_nowhere_else() {
        let (a, b) = (B256::repeat_byte(0xa), B256::repeat_byte(0xb));
        let signed = Bytes::from_static(&[0x02, 0xc0]);
        let l1 = OriginOnL1 {
            parent_hash: a,
            deposits: vec![deposit(0), deposit(1)],
        };
        let good = block(Some(b), vec![deposit(0), deposit(1), signed.clone()]);
        assert_eq!(check(&good, Some(a), Some(&l1)), Ok(()));
        // One missing, one invented, the order changed.
        let missing = block(Some(b), vec![deposit(0)]);
        assert!(check(&missing, Some(a), Some(&l1)).is_err());
        let invented = block(Some(b), vec![deposit(0), deposit(1), deposit(2)]);
        assert!(check(&invented, Some(a), Some(&l1)).is_err());
        let swapped = block(Some(b), vec![deposit(1), deposit(0)]);
        assert!(check(&swapped, Some(a), Some(&l1)).is_err());
        // A deposit after a signed transaction, or in a block whose origin did not move.
        let late = block(Some(b), vec![deposit(0), signed.clone(), deposit(1)]);
        assert!(check(&late, Some(a), Some(&l1)).is_err());
        let same = block(Some(a), vec![deposit(0)]);
        assert!(
            check(&same, Some(a), None)
                .unwrap_err()
                .contains("did not move")
        );
        assert_eq!(check(&block(Some(a), vec![signed]), Some(a), None), Ok(()));
        // An origin that skips an L1 block.
        let skipped = OriginOnL1 {
            parent_hash: B256::repeat_byte(0xf),
            deposits: vec![],
        };
        assert!(check(&block(Some(b), vec![]), Some(a), Some(&skipped)).is_err());
        // The first origin of a chain that had none: no parent link to check.
        let first = OriginOnL1 {
            parent_hash: B256::repeat_byte(0xf),
            deposits: vec![deposit(0), deposit(1)],
        };
        assert_eq!(check(&good, None, Some(&first)), Ok(()));
    }

    #[test]
    fn a_block_must_name_its_origins_beacon_root() {
        let root = B256::repeat_byte(0x4b);
        let origin = L1Origin {
            number: 9,
            hash: B256::repeat_byte(0xb),
            beacon_root: Some(root),
            ..Default::default()
        };
        let mut named = block(Some(origin.hash), vec![]);
        named.header.number = 10;
        named.header.parent_beacon_block_root = Some(root);
        assert_eq!(check_beacon_root(&named, &origin, 0), Ok(()));
        let mut other = named.clone();
        other.header.parent_beacon_block_root = Some(B256::ZERO);
        assert!(
            check_beacon_root(&other, &origin, 0)
                .unwrap_err()
                .contains("parent beacon block root")
        );
        // An origin without one (an L1 before Cancun): the block names zero.
        let bare = L1Origin {
            beacon_root: None,
            ..origin
        };
        assert_eq!(check_beacon_root(&other, &bare, 0), Ok(()));
        assert!(check_beacon_root(&named, &bare, 0).is_err());
        // A chain whose blocks name roots from block 11 on (sealed by an Ordo that named
        // zero until then): block 10 names zero, whatever its origin has.
        assert_eq!(check_beacon_root(&other, &origin, 11), Ok(()));
        assert!(check_beacon_root(&named, &origin, 11).is_err());
        assert_eq!(check_beacon_root(&named, &origin, 10), Ok(()));
    }
}
