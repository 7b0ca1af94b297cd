//! Native test helpers (not compiled for wasm32): a plugin's tests call its trait directly and
//! check the answer the way the host would.
//!
//! ```
//! use ordo_sdk::{BlockContext, Candidates, Error, OrderingPolicy, testing};
//!
//! struct AsGiven;
//! impl OrderingPolicy for AsGiven {
//!     const NAME: &'static str = "as-given";
//!     fn new(_: &str) -> Result<Self, Error> { Ok(AsGiven) }
//!     fn order(&self, ctx: &BlockContext, set: &Candidates) -> Result<Vec<u32>, Error> {
//!         Ok(ordo_sdk::ordering::order_by_key(ctx, set, |c| Some(std::cmp::Reverse(c.index()))))
//!     }
//! }
//!
//! let set = testing::random_candidates(1_000, 7);
//! let order = testing::run_ordering::<AsGiven>("", &testing::block_context(), &set);
//! assert!(!order.is_empty());
//! ```

use alloc::{
    boxed::Box,
    collections::BTreeMap,
    format,
    string::{String, ToString},
    vec,
    vec::Vec,
};
use core::fmt;

use alloy_primitives::{Address, B256, U256, keccak256};

use crate::{
    BlockContext, CallRequest, CallResult, Candidates, Compressor, Error, OrderingPolicy, PreState,
    compression::MAX_DECOMPRESSED_LEN,
    wire::{WireCandidate, address_to_wire, b256_to_wire, u256_to_wire},
};

/// Base fee of [`block_context`]: 1 gwei.
pub const BASE_FEE: u64 = 1_000_000_000;
/// Gas limit of [`block_context`].
pub const GAS_LIMIT: u64 = 30_000_000;
/// Block timestamp of [`block_context`] (seconds); arrivals are milliseconds after
/// `TIMESTAMP * 1000 - 60_000`.
pub const TIMESTAMP: u64 = 1_700_000_000;
const T0_MS: u64 = TIMESTAMP * 1000 - 60_000;

/// A typical block: number 1, base fee [`BASE_FEE`], gas limit [`GAS_LIMIT`].
pub fn block_context() -> BlockContext {
    BlockContext {
        number: 1,
        timestamp: TIMESTAMP,
        base_fee: BASE_FEE,
        gas_limit: GAS_LIMIT,
        coinbase: address(0xc0ffee),
        parent_hash: keccak256(b"parent"),
    }
}

/// A deterministic address for a small number (`address(1)`, `address(2)`, ...).
pub fn address(n: u64) -> Address {
    let mut bytes = [0u8; 20];
    bytes[0] = 0xa0;
    bytes[12..].copy_from_slice(&n.to_be_bytes());
    Address::new(bytes)
}

/// A hand-written candidate. Defaults: an EIP-1559 transfer of 21000 gas to `address(0xdead)`
/// with a 1 gwei tip at [`BASE_FEE`], arriving in list order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxSpec {
    /// Sender.
    pub sender: Address,
    /// Nonce.
    pub nonce: u64,
    /// Recipient; `None` for a creation.
    pub to: Option<Address>,
    /// Value in wei.
    pub value: U256,
    /// Gas limit.
    pub gas_limit: u64,
    /// Fee cap per gas.
    pub max_fee_per_gas: u64,
    /// Priority fee cap per gas.
    pub max_priority_fee_per_gas: u64,
    /// EIP-2718 type.
    pub tx_type: u8,
    /// Arrival sequence; `None` takes the position in the list (1-based).
    pub arrival_seq: Option<u64>,
    /// Arrival time; `None` is 10 ms per arrival sequence step.
    pub arrival_ms: Option<u64>,
    /// Calldata.
    pub input: Vec<u8>,
}

impl TxSpec {
    /// A default transaction from `sender` with `nonce`.
    pub fn new(sender: Address, nonce: u64) -> Self {
        Self {
            sender,
            nonce,
            to: Some(address(0xdead)),
            value: U256::ZERO,
            gas_limit: 21_000,
            max_fee_per_gas: 2 * BASE_FEE,
            max_priority_fee_per_gas: BASE_FEE,
            tx_type: 2,
            arrival_seq: None,
            arrival_ms: None,
            input: Vec::new(),
        }
    }

    /// Effective tip `tip` at [`BASE_FEE`]: priority fee `tip`, fee cap `BASE_FEE + tip`.
    pub fn tip(mut self, tip: u64) -> Self {
        self.max_priority_fee_per_gas = tip;
        self.max_fee_per_gas = BASE_FEE.saturating_add(tip);
        self
    }

    /// Both fee caps.
    pub fn fees(mut self, max_fee_per_gas: u64, max_priority_fee_per_gas: u64) -> Self {
        self.max_fee_per_gas = max_fee_per_gas;
        self.max_priority_fee_per_gas = max_priority_fee_per_gas;
        self
    }

    /// A legacy transaction with this gas price.
    pub fn legacy(mut self, gas_price: u64) -> Self {
        self.tx_type = 0;
        self.max_fee_per_gas = gas_price;
        self.max_priority_fee_per_gas = gas_price;
        self
    }

    /// Gas limit.
    pub fn gas(mut self, gas_limit: u64) -> Self {
        self.gas_limit = gas_limit;
        self
    }

    /// Arrival sequence `seq`, arriving `seq * 10` ms after the test epoch.
    pub fn arrival(mut self, seq: u64) -> Self {
        self.arrival_seq = Some(seq);
        self
    }

    /// Arrival time, milliseconds after the test epoch (`TIMESTAMP * 1000 - 60 s`).
    pub fn arrival_ms(mut self, ms_after_epoch: u64) -> Self {
        self.arrival_ms = Some(T0_MS + ms_after_epoch);
        self
    }

    /// Calldata.
    pub fn input(mut self, input: impl Into<Vec<u8>>) -> Self {
        self.input = input.into();
        self
    }

    /// A contract creation.
    pub fn create(mut self) -> Self {
        self.to = None;
        self
    }

    /// Value in wei.
    pub fn value(mut self, value: U256) -> Self {
        self.value = value;
        self
    }
}

/// Builds a candidate set from hand-written candidates, in the order given. The host promises
/// ascending nonces per sender; this does not reorder, so tests can also feed bad input.
pub fn candidates_from(specs: impl IntoIterator<Item = TxSpec>) -> Candidates {
    let mut txs = Vec::new();
    let mut calldata = Vec::new();
    for (pos, spec) in specs.into_iter().enumerate() {
        let seq = spec.arrival_seq.unwrap_or(pos as u64 + 1);
        let ms = spec.arrival_ms.unwrap_or(T0_MS + seq * 10);
        let mut preimage = Vec::with_capacity(36);
        preimage.extend_from_slice(spec.sender.as_slice());
        preimage.extend_from_slice(&spec.nonce.to_be_bytes());
        preimage.extend_from_slice(&seq.to_be_bytes());
        let offset = calldata.len() as u32;
        calldata.extend_from_slice(&spec.input);
        txs.push(WireCandidate {
            hash: b256_to_wire(keccak256(&preimage)),
            sender: address_to_wire(spec.sender),
            nonce: spec.nonce,
            to: address_to_wire(spec.to.unwrap_or(Address::ZERO)),
            is_create: spec.to.is_none(),
            tx_type: spec.tx_type,
            value: u256_to_wire(spec.value),
            gas_limit: spec.gas_limit,
            max_fee_per_gas: spec.max_fee_per_gas,
            max_priority_fee_per_gas: spec.max_priority_fee_per_gas,
            arrival_seq: seq,
            arrival_ms: ms,
            encoded_len: 110 + spec.input.len() as u32,
            input_offset: offset,
            input_len: spec.input.len() as u32,
        });
    }
    Candidates::from_parts(txs, calldata)
}

/// splitmix64: tiny, deterministic, good enough for test data.
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// True with probability `percent`%.
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// `len` pseudo-random bytes from `seed`.
pub fn random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut rng = Rng(seed);
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        out.extend_from_slice(&rng.next().to_le_bytes());
    }
    out.truncate(len);
    out
}

/// A deterministic, realistic-looking candidate set of exactly `count` transactions.
///
/// About `count / 4` senders with 1 to 8 consecutive nonces each; tips 0 to 5 gwei, 20% legacy,
/// 5% with a fee cap below [`BASE_FEE`]; gas limits mostly 21000, some up to 3M (together far
/// more than [`GAS_LIMIT`] at 1000 candidates); arrivals spread over `count * 20` ms with a few
/// senders' nonces arriving out of order; 30% with calldata, 2% creations. Senders are
/// interleaved in the list, each sender's nonces ascending, as the host passes them.
pub fn random_candidates(count: usize, seed: u64) -> Candidates {
    let mut rng = Rng(seed ^ 0x6f72_646f);
    // (sender, nonce) in sender-major order.
    let mut plan: Vec<(u64, u64)> = Vec::with_capacity(count);
    let mut sender = 0u64;
    while plan.len() < count {
        sender += 1;
        let first = rng.below(50);
        let n = 1 + rng.below(8);
        for k in 0..n {
            if plan.len() == count {
                break;
            }
            plan.push((sender, first + k));
        }
    }
    // Arrival times: random, then sorted within each sender so nonces mostly arrive in order;
    // one sender in ten keeps a swapped pair (a nonce gap filled late).
    let span = (count as u64).max(1) * 20;
    let mut times: Vec<u64> = plan.iter().map(|_| rng.below(span)).collect();
    let mut start = 0;
    while start < plan.len() {
        let mut end = start;
        while end < plan.len() && plan[end].0 == plan[start].0 {
            end += 1;
        }
        times[start..end].sort_unstable();
        if end - start >= 2 && rng.chance(10) {
            times.swap(start, start + 1);
        }
        start = end;
    }
    // Arrival sequence = rank of arrival time.
    let mut by_time: Vec<usize> = (0..plan.len()).collect();
    by_time.sort_by_key(|&i| (times[i], i));
    let mut seq = vec![0u64; plan.len()];
    for (rank, &i) in by_time.iter().enumerate() {
        seq[i] = rank as u64 + 1;
    }
    let specs: Vec<TxSpec> = plan
        .iter()
        .enumerate()
        .map(|(i, &(sender, nonce))| {
            let tip = rng.below(11) * BASE_FEE / 2;
            let mut spec = TxSpec::new(address(sender), nonce)
                .arrival(seq[i])
                .arrival_ms(times[i]);
            spec = if rng.chance(20) {
                spec.legacy(BASE_FEE + tip)
            } else {
                spec.fees(BASE_FEE + tip + rng.below(3) * BASE_FEE, tip)
            };
            if rng.chance(5) {
                spec.max_fee_per_gas = BASE_FEE / 2;
                spec.max_priority_fee_per_gas = spec.max_priority_fee_per_gas.min(BASE_FEE / 2);
            }
            spec.gas_limit = match rng.below(100) {
                0..70 => 21_000,
                70..95 => 50_000 + rng.below(250_000),
                _ => 1_000_000 + rng.below(2_000_000),
            };
            if rng.chance(30) {
                let len = 4 + rng.below(252) as usize;
                spec.input = random_bytes(len, rng.next());
            }
            if rng.chance(2) {
                spec.to = None;
            }
            spec.value = U256::from(rng.below(1_000_000)) * U256::from(1_000_000_000u64);
            spec
        })
        .collect();
    // Interleave senders: list positions follow arrival, but each sender's positions are
    // refilled with its nonces in ascending order, as the host's per-sender promise requires.
    let mut positions: BTreeMap<Address, Vec<usize>> = BTreeMap::new();
    for &i in &by_time {
        positions.entry(specs[i].sender).or_default().push(i);
    }
    let mut slots: Vec<Option<TxSpec>> = vec![None; specs.len()];
    for (pos, &i) in by_time.iter().enumerate() {
        slots[pos] = Some(specs[i].clone());
    }
    let mut queues: BTreeMap<Address, Vec<TxSpec>> = BTreeMap::new();
    for spec in &specs {
        queues.entry(spec.sender).or_default().push(spec.clone());
    }
    let mut taken: BTreeMap<Address, usize> = BTreeMap::new();
    let list = slots.into_iter().flatten().map(|slot| {
        let k = taken.entry(slot.sender).or_default();
        let spec = queues[&slot.sender][*k].clone();
        *k += 1;
        spec
    });
    candidates_from(list.collect::<Vec<_>>())
}

/// Why an ordering answer was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderViolation {
    /// An index is out of range.
    OutOfRange(u32),
    /// An index appears twice.
    Duplicate(u32),
    /// A sender's nonces are not ascending (at this index).
    NonceOrder {
        /// The sender.
        sender: Address,
        /// Where it went wrong.
        index: u32,
    },
    /// The gas limits sum above the block gas limit.
    GasLimit {
        /// Sum of the chosen transactions' gas limits.
        total: u128,
        /// The block gas limit.
        limit: u64,
    },
    /// A sender's chosen transactions skip one of its earlier candidates (a nonce gap: the
    /// later ones would fail to execute).
    Gap {
        /// The sender.
        sender: Address,
        /// The candidate chosen past the gap.
        index: u32,
    },
}

impl fmt::Display for OrderViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::OutOfRange(i) => write!(f, "index {i} out of range"),
            Self::Duplicate(i) => write!(f, "index {i} repeated"),
            Self::NonceOrder { sender, index } => {
                write!(f, "sender {sender} nonces out of order at index {index}")
            }
            Self::GasLimit { total, limit } => {
                write!(f, "total gas {total} above the block gas limit {limit}")
            }
            Self::Gap { sender, index } => {
                write!(f, "sender {sender} skips a candidate before index {index}")
            }
        }
    }
}

/// The host's checks on an ordering answer: indices in range and unique, each sender's nonces
/// ascending, gas limits summing to at most `ctx.gas_limit`.
pub fn check_order(
    ctx: &BlockContext,
    candidates: &Candidates,
    answer: &[u32],
) -> Result<(), OrderViolation> {
    let mut seen = vec![false; candidates.len()];
    let mut last_nonce: BTreeMap<Address, u64> = BTreeMap::new();
    let mut total: u128 = 0;
    for &i in answer {
        let c = candidates.get(i).ok_or(OrderViolation::OutOfRange(i))?;
        if core::mem::replace(&mut seen[i as usize], true) {
            return Err(OrderViolation::Duplicate(i));
        }
        if let Some(prev) = last_nonce.insert(c.sender(), c.nonce())
            && prev >= c.nonce()
        {
            return Err(OrderViolation::NonceOrder {
                sender: c.sender(),
                index: i,
            });
        }
        total += u128::from(c.gas_limit());
    }
    if total > u128::from(ctx.gas_limit) {
        return Err(OrderViolation::GasLimit {
            total,
            limit: ctx.gas_limit,
        });
    }
    Ok(())
}

/// Stricter than the host: each sender's chosen candidates are a prefix of its queue, in
/// order, so no chosen transaction waits on a nonce that was left out.
pub fn check_no_gaps(candidates: &Candidates, answer: &[u32]) -> Result<(), OrderViolation> {
    let mut position: BTreeMap<Address, (Vec<u32>, usize)> = BTreeMap::new();
    for queue in candidates.sender_queues() {
        if let Some(c) = candidates.get(queue[0]) {
            position.insert(c.sender(), (queue, 0));
        }
    }
    for &i in answer {
        let c = candidates.get(i).ok_or(OrderViolation::OutOfRange(i))?;
        let sender = c.sender();
        let Some((queue, next)) = position.get_mut(&sender) else {
            return Err(OrderViolation::OutOfRange(i));
        };
        if queue.get(*next) != Some(&i) {
            return Err(OrderViolation::Gap { sender, index: i });
        }
        *next += 1;
    }
    Ok(())
}

/// Builds policy `P` from `config`, orders `candidates`, and checks the answer with
/// [`check_order`] and [`check_no_gaps`]; panics with the violation. Returns the answer.
pub fn run_ordering<P: OrderingPolicy>(
    config: &str,
    ctx: &BlockContext,
    candidates: &Candidates,
) -> Vec<u32> {
    let policy = P::new(config).unwrap_or_else(|e| panic!("{}::new({config:?}): {e}", P::NAME));
    let answer = policy
        .order(ctx, candidates)
        .unwrap_or_else(|e| panic!("{}: order failed: {e}", P::NAME));
    if let Err(v) = check_order(ctx, candidates, &answer) {
        panic!("{}: the host would refuse this answer: {v}", P::NAME);
    }
    if let Err(v) = check_no_gaps(candidates, &answer) {
        panic!("{}: {v}", P::NAME);
    }
    answer
}

/// Named inputs every codec must round-trip: empty, tiny, text, random, zeros, batch-like
/// (repetitive records with random hashes) and 1 MiB of random bytes.
pub fn codec_samples() -> Vec<(&'static str, Vec<u8>)> {
    let mut batch = Vec::new();
    let set = random_candidates(2_000, 42);
    for c in &set {
        batch.extend_from_slice(c.hash().as_slice());
        batch.extend_from_slice(c.sender().as_slice());
        batch.extend_from_slice(&c.nonce().to_be_bytes());
        batch.extend_from_slice(&c.gas_limit().to_be_bytes());
        batch.extend_from_slice(&c.max_fee_per_gas().to_be_bytes());
        batch.extend_from_slice(c.input());
    }
    vec![
        ("empty", Vec::new()),
        ("one byte", vec![0x42]),
        (
            "text",
            "the quick brown fox jumps over the lazy dog. "
                .repeat(40)
                .into_bytes(),
        ),
        ("random 4 KiB", random_bytes(4 << 10, 1)),
        ("zeros 1 MiB", vec![0u8; 1 << 20]),
        ("batch-like", batch),
        ("random 1 MiB", random_bytes(1 << 20, 2)),
    ]
}

/// Compresses and decompresses `data`, checking the result equals the input and the codec
/// respects [`MAX_DECOMPRESSED_LEN`]. Returns the compressed bytes.
pub fn roundtrip<C: Compressor>(codec: &C, data: &[u8]) -> Result<Vec<u8>, String> {
    let compressed = codec.compress(data).map_err(|e| format!("compress: {e}"))?;
    let back = codec
        .decompress(&compressed)
        .map_err(|e| format!("decompress: {e}"))?;
    if back != data {
        return Err(format!(
            "round trip changed the data ({} bytes in, {} back)",
            data.len(),
            back.len()
        ));
    }
    if back.len() > MAX_DECOMPRESSED_LEN {
        return Err("decompressed past MAX_DECOMPRESSED_LEN".to_string());
    }
    Ok(compressed)
}

/// Round-trips every [`codec_samples`] input through codec `C` built from `config`; checks
/// that random garbage and truncated output are refused with an error, and that a few hundred
/// randomly corrupted outputs decompress without panicking (a panic is a trap on wasm).
/// Panics naming the sample that failed.
pub fn check_codec<C: Compressor>(config: &str) {
    let codec = C::new(config).unwrap_or_else(|e| panic!("{}::new({config:?}): {e}", C::NAME));
    for (name, data) in codec_samples() {
        let compressed =
            roundtrip(&codec, &data).unwrap_or_else(|e| panic!("{} on {name}: {e}", C::NAME));
        if compressed.len() > 8 {
            let cut = &compressed[..compressed.len() / 2];
            if codec.decompress(cut).is_ok_and(|d| d == data) {
                panic!(
                    "{} on {name}: half the output decompressed to the input",
                    C::NAME
                );
            }
        }
    }
    for (name, garbage) in garbage_samples() {
        if codec.decompress(&garbage).is_ok() {
            panic!("{}: decompress accepted {name}", C::NAME);
        }
    }
}

/// Inputs no codec should accept: random bytes of a few sizes and a run of `0xff`.
pub fn garbage_samples() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("random 16 bytes", random_bytes(16, 11)),
        ("random 1 KiB", random_bytes(1 << 10, 12)),
        ("random 64 KiB", random_bytes(64 << 10, 13)),
        ("0xff x 64", vec![0xff; 64]),
    ]
}

type CallFn = dyn Fn(&CallRequest) -> Result<CallResult, Error>;

/// An in-memory [`PreState`] for native searcher tests. Unset accounts read as zero; calls
/// go to the handler given with [`MockPreState::on_call`] (by default: success, no output).
#[derive(Default)]
pub struct MockPreState {
    balances: BTreeMap<Address, U256>,
    nonces: BTreeMap<Address, u64>,
    storage: BTreeMap<(Address, B256), B256>,
    code_hashes: BTreeMap<Address, B256>,
    call: Option<Box<CallFn>>,
}

impl fmt::Debug for MockPreState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MockPreState")
            .field("balances", &self.balances)
            .field("nonces", &self.nonces)
            .field("storage", &self.storage)
            .field("code_hashes", &self.code_hashes)
            .finish_non_exhaustive()
    }
}

impl MockPreState {
    /// An empty state.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets a balance.
    pub fn with_balance(mut self, address: Address, balance: U256) -> Self {
        self.balances.insert(address, balance);
        self
    }

    /// Sets a nonce.
    pub fn with_nonce(mut self, address: Address, nonce: u64) -> Self {
        self.nonces.insert(address, nonce);
        self
    }

    /// Sets a storage slot.
    pub fn with_storage(mut self, address: Address, slot: B256, value: B256) -> Self {
        self.storage.insert((address, slot), value);
        self
    }

    /// Sets a code hash.
    pub fn with_code_hash(mut self, address: Address, hash: B256) -> Self {
        self.code_hashes.insert(address, hash);
        self
    }

    /// Answers `call` with `handler`.
    pub fn on_call(
        mut self,
        handler: impl Fn(&CallRequest) -> Result<CallResult, Error> + 'static,
    ) -> Self {
        self.call = Some(Box::new(handler));
        self
    }
}

impl PreState for MockPreState {
    fn balance(&self, address: Address) -> U256 {
        self.balances.get(&address).copied().unwrap_or_default()
    }

    fn nonce(&self, address: Address) -> u64 {
        self.nonces.get(&address).copied().unwrap_or_default()
    }

    fn storage(&self, address: Address, slot: B256) -> B256 {
        self.storage
            .get(&(address, slot))
            .copied()
            .unwrap_or_default()
    }

    fn code_hash(&self, address: Address) -> B256 {
        self.code_hashes.get(&address).copied().unwrap_or_default()
    }

    fn call(&self, request: &CallRequest) -> Result<CallResult, Error> {
        match &self.call {
            Some(handler) => handler(request),
            None => Ok(CallResult {
                success: true,
                gas_used: 21_000,
                output: Vec::new(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_sets_are_deterministic_and_well_formed() {
        let a = random_candidates(1_000, 3);
        let b = random_candidates(1_000, 3);
        assert_eq!(a.records(), b.records());
        assert_eq!(a.len(), 1_000);
        // Per sender: ascending, consecutive nonces in list order.
        for queue in a.sender_queues() {
            for pair in queue.windows(2) {
                let (x, y) = (a.get(pair[0]).unwrap(), a.get(pair[1]).unwrap());
                assert_eq!(x.sender(), y.sender());
                assert_eq!(x.nonce() + 1, y.nonce());
            }
        }
        let senders = a.sender_queues().len();
        assert!(senders > 100 && senders < 500, "{senders} senders");
        assert!(a.iter().any(|c| !c.input().is_empty()));
        assert!(a.iter().any(|c| c.effective_tip(BASE_FEE).is_none()));
        let gas: u64 = a.iter().map(|c| c.gas_limit()).sum();
        assert!(gas > GAS_LIMIT, "gas {gas} should exceed a block");
        // Arrival sequence is a permutation of 1..=n.
        let mut seqs: Vec<u64> = a.iter().map(|c| c.arrival_seq()).collect();
        seqs.sort_unstable();
        assert_eq!(seqs, (1..=1_000).collect::<Vec<_>>());
    }

    #[test]
    fn check_order_enforces_the_host_rules() {
        let ctx = block_context();
        let set = candidates_from([
            TxSpec::new(address(1), 0),
            TxSpec::new(address(1), 1),
            TxSpec::new(address(2), 5).gas(GAS_LIMIT),
        ]);
        assert_eq!(check_order(&ctx, &set, &[0, 1]), Ok(()));
        assert_eq!(
            check_order(&ctx, &set, &[3]),
            Err(OrderViolation::OutOfRange(3))
        );
        assert_eq!(
            check_order(&ctx, &set, &[0, 0]),
            Err(OrderViolation::Duplicate(0))
        );
        assert!(matches!(
            check_order(&ctx, &set, &[1, 0]),
            Err(OrderViolation::NonceOrder { index: 0, .. })
        ));
        assert!(matches!(
            check_order(&ctx, &set, &[0, 2]),
            Err(OrderViolation::GasLimit { .. })
        ));
        assert!(matches!(
            check_no_gaps(&set, &[1]),
            Err(OrderViolation::Gap { index: 1, .. })
        ));
    }

    #[test]
    fn candidate_views_decode_the_records() {
        let set = candidates_from([
            TxSpec::new(address(7), 3)
                .tip(5)
                .gas(90_000)
                .input(vec![1, 2, 3])
                .arrival(9),
            TxSpec::new(address(8), 0).create().legacy(BASE_FEE + 2),
        ]);
        let c = set.get(0).unwrap();
        assert_eq!((c.index(), c.sender(), c.nonce()), (0, address(7), 3));
        assert_eq!(
            (c.gas_limit(), c.arrival_seq(), c.input()),
            (90_000, 9, &[1u8, 2, 3][..])
        );
        assert_eq!(c.effective_tip(BASE_FEE), Some(5));
        assert_eq!(c.to(), Some(address(0xdead)));
        let d = set.get(1).unwrap();
        assert_eq!((d.to(), d.tx_type(), d.input()), (None, 0, &[][..]));
        assert_eq!(d.effective_tip(BASE_FEE), Some(2));
        assert_eq!(d.effective_tip(BASE_FEE + 3), None);
        assert_eq!(
            set.iter().rev().map(|c| c.index()).collect::<Vec<_>>(),
            [1, 0]
        );
    }

    #[test]
    fn order_by_key_keeps_nonces_and_gas() {
        let ctx = block_context();
        let set = random_candidates(1_000, 5);
        let answer = crate::ordering::order_by_key(&ctx, &set, |c| c.effective_tip(ctx.base_fee));
        check_order(&ctx, &set, &answer).unwrap();
        check_no_gaps(&set, &answer).unwrap();
        assert!(!answer.is_empty());
    }

    #[test]
    fn mock_pre_state_answers_what_it_was_given() {
        let state = MockPreState::new()
            .with_balance(address(1), U256::from(5))
            .with_nonce(address(1), 2)
            .on_call(|r| {
                Ok(CallResult {
                    success: false,
                    gas_used: r.gas,
                    output: r.data.clone(),
                })
            });
        assert_eq!(state.balance(address(1)), U256::from(5));
        assert_eq!(state.balance(address(2)), U256::ZERO);
        assert_eq!(state.nonce(address(1)), 2);
        let request = CallRequest {
            from: address(1),
            to: address(2),
            value: U256::ZERO,
            gas: 7,
            data: vec![9],
        };
        assert_eq!(state.call(&request).unwrap().output, [9]);
    }
}
