//! The block context and the candidate set, as ordering policies and searchers see them.

use alloc::vec::Vec;
use core::iter::FusedIterator;

use alloy_primitives::{Address, B256, U256};

use crate::wire::{
    self, WireBlockContext, WireCandidate, WireCandidateSet, address_from_wire, b256_from_wire,
    u256_from_wire,
};

/// The block being built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockContext {
    /// Block number.
    pub number: u64,
    /// Seconds since the Unix epoch.
    pub timestamp: u64,
    /// The block's base fee per gas.
    pub base_fee: u64,
    /// The block's gas limit: an answer's gas limits must sum to at most this.
    pub gas_limit: u64,
    /// Who receives the priority fees.
    pub coinbase: Address,
    /// Hash of the parent block.
    pub parent_hash: B256,
}

impl From<WireBlockContext> for BlockContext {
    fn from(c: WireBlockContext) -> Self {
        Self {
            number: c.number,
            timestamp: c.timestamp,
            base_fee: c.base_fee,
            gas_limit: c.gas_limit,
            coinbase: address_from_wire(c.coinbase),
            parent_hash: b256_from_wire(c.parent_hash),
        }
    }
}

impl From<BlockContext> for WireBlockContext {
    fn from(c: BlockContext) -> Self {
        Self {
            number: c.number,
            timestamp: c.timestamp,
            base_fee: c.base_fee,
            gas_limit: c.gas_limit,
            coinbase: wire::address_to_wire(c.coinbase),
            parent_hash: wire::b256_to_wire(c.parent_hash),
        }
    }
}

/// The pending transactions offered for one block.
///
/// A view over the records exactly as the host passed them (one flat list plus one calldata
/// buffer): indexing and iterating hand out [`Candidate`] views that decode fields on access,
/// so nothing is copied per transaction. Within one sender, candidates come in ascending nonce
/// order; across senders, in no promised order. Answers refer to candidates by
/// [`Candidate::index`].
#[derive(Debug, Clone, Default)]
pub struct Candidates {
    txs: Vec<WireCandidate>,
    calldata: Vec<u8>,
}

impl Candidates {
    /// Wraps the records and calldata buffer the host passed.
    pub fn from_wire(set: WireCandidateSet) -> Self {
        Self {
            txs: set.txs,
            calldata: set.calldata,
        }
    }

    /// The records and the calldata buffer, as they would cross the boundary.
    pub fn into_wire(self) -> WireCandidateSet {
        WireCandidateSet {
            txs: self.txs,
            calldata: self.calldata,
        }
    }

    /// Builds a set from records whose `input-offset`/`input-len` point into `calldata`.
    pub fn from_parts(txs: Vec<WireCandidate>, calldata: Vec<u8>) -> Self {
        Self { txs, calldata }
    }

    /// Number of candidates.
    pub fn len(&self) -> usize {
        self.txs.len()
    }

    /// Whether there are no candidates.
    pub fn is_empty(&self) -> bool {
        self.txs.is_empty()
    }

    /// The candidate at `index`, if any.
    pub fn get(&self, index: u32) -> Option<Candidate<'_>> {
        let raw = self.txs.get(index as usize)?;
        Some(Candidate {
            index,
            raw,
            calldata: &self.calldata,
        })
    }

    /// All candidates, in the order given.
    pub fn iter(&self) -> Iter<'_> {
        Iter {
            set: self,
            next: 0,
            end: self.txs.len() as u32,
        }
    }

    /// The raw records (for hosts and tests).
    pub fn records(&self) -> &[WireCandidate] {
        &self.txs
    }

    /// Each sender's candidates as a queue of indices (ascending nonce, as given); queues in
    /// the order of their sender's first appearance in the set.
    ///
    /// Every ordering policy that keeps nonces in order starts from this: take from the front
    /// of a queue, never skip ahead inside it.
    pub fn sender_queues(&self) -> Vec<Vec<u32>> {
        // Sorting indices by sender groups the queues in O(n log n) without a hash map (none
        // in `alloc`); the stable sort keeps each queue in the order given.
        let mut by_sender: Vec<u32> = (0..self.txs.len() as u32).collect();
        by_sender.sort_by_key(|&i| sender_key(&self.txs[i as usize]));
        let mut queues: Vec<Vec<u32>> = Vec::new();
        for (pos, &i) in by_sender.iter().enumerate() {
            let same = pos > 0
                && sender_key(&self.txs[by_sender[pos - 1] as usize])
                    == sender_key(&self.txs[i as usize]);
            match queues.last_mut() {
                Some(queue) if same => queue.push(i),
                _ => queues.push(alloc::vec![i]),
            }
        }
        queues.sort_by_key(|q| q[0]);
        queues
    }
}

fn sender_key(c: &WireCandidate) -> (u64, u64, u32) {
    (c.sender.hi, c.sender.mid, c.sender.lo)
}

impl<'a> IntoIterator for &'a Candidates {
    type Item = Candidate<'a>;
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

/// Iterator over [`Candidates`].
#[derive(Debug, Clone)]
pub struct Iter<'a> {
    set: &'a Candidates,
    next: u32,
    end: u32,
}

impl<'a> Iterator for Iter<'a> {
    type Item = Candidate<'a>;

    fn next(&mut self) -> Option<Candidate<'a>> {
        if self.next >= self.end {
            return None;
        }
        let c = self.set.get(self.next);
        self.next += 1;
        c
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = (self.end - self.next) as usize;
        (n, Some(n))
    }
}

impl DoubleEndedIterator for Iter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        if self.next >= self.end {
            return None;
        }
        self.end -= 1;
        self.set.get(self.end)
    }
}

impl ExactSizeIterator for Iter<'_> {}
impl FusedIterator for Iter<'_> {}

/// One pending transaction: a view into [`Candidates`] that decodes fields on access.
#[derive(Debug, Clone, Copy)]
pub struct Candidate<'a> {
    index: u32,
    raw: &'a WireCandidate,
    calldata: &'a [u8],
}

impl<'a> Candidate<'a> {
    /// Position in the candidate set: what an ordering answer lists.
    pub fn index(&self) -> u32 {
        self.index
    }

    /// Transaction hash.
    pub fn hash(&self) -> B256 {
        b256_from_wire(self.raw.hash)
    }

    /// Recovered sender.
    pub fn sender(&self) -> Address {
        address_from_wire(self.raw.sender)
    }

    /// Sender nonce.
    pub fn nonce(&self) -> u64 {
        self.raw.nonce
    }

    /// Recipient; `None` for a contract creation.
    pub fn to(&self) -> Option<Address> {
        (!self.raw.is_create).then(|| address_from_wire(self.raw.to))
    }

    /// Value transferred, in wei.
    pub fn value(&self) -> U256 {
        u256_from_wire(self.raw.value)
    }

    /// Gas limit.
    pub fn gas_limit(&self) -> u64 {
        self.raw.gas_limit
    }

    /// Fee cap per gas (the gas price for legacy and access-list transactions).
    pub fn max_fee_per_gas(&self) -> u64 {
        self.raw.max_fee_per_gas
    }

    /// Priority fee cap per gas (the gas price for legacy and access-list transactions).
    pub fn max_priority_fee_per_gas(&self) -> u64 {
        self.raw.max_priority_fee_per_gas
    }

    /// EIP-2718 type: 0 legacy, 1 access list, 2 dynamic fee, 4 set-code.
    pub fn tx_type(&self) -> u8 {
        self.raw.tx_type
    }

    /// The pool's arrival sequence: strictly increasing in arrival order.
    pub fn arrival_seq(&self) -> u64 {
        self.raw.arrival_seq
    }

    /// Arrival time in milliseconds since the Unix epoch (the node's clock).
    pub fn arrival_ms(&self) -> u64 {
        self.raw.arrival_ms
    }

    /// Size of the signed transaction in bytes.
    pub fn encoded_len(&self) -> u32 {
        self.raw.encoded_len
    }

    /// Calldata. Empty if the record points outside the buffer (the host never does that).
    pub fn input(&self) -> &'a [u8] {
        let start = self.raw.input_offset as usize;
        let end = start.saturating_add(self.raw.input_len as usize);
        self.calldata.get(start..end).unwrap_or(&[])
    }

    /// The raw record.
    pub fn record(&self) -> &'a WireCandidate {
        self.raw
    }

    /// What the block producer earns per gas at `base_fee`: `min(fee cap - base fee, priority
    /// fee cap)`. `None` when the fee cap is below the base fee (the transaction cannot be
    /// included in this block).
    pub fn effective_tip(&self, base_fee: u64) -> Option<u64> {
        let above_base = self.raw.max_fee_per_gas.checked_sub(base_fee)?;
        Some(above_base.min(self.raw.max_priority_fee_per_gas))
    }
}
