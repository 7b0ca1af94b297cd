//! The candidate set lowered as two memcpys instead of field by field.
//!
//! wasmtime lowers a `list<record>` one field at a time, each store re-deriving the memory
//! base and bounds-checking (≈0.5 µs per 25-field `candidate`, 5 ms for 10k candidates,
//! more than the ordering itself), and even a `list<u8>` byte by byte. The host instead
//! writes each candidate straight into a byte image laid out by the canonical ABI (the
//! layout is fixed by the WIT contract), then hands the guest the image and the calldata
//! with one `realloc` and one copy each.
//!
//! The layout is pinned twice: a compile-time check of the record's size and alignment
//! against wasmtime's own derivation, and a test in which a guest built with wit-bindgen
//! reads the records back field by field
//! (`kinds::ordering::tests::the_guest_reads_the_image_as_records`).

// `ComponentType`/`Lower` are unsafe traits: implementing them promises that the lowered
// bytes match the type that was type-checked. Here that is `list<candidate>` / `list<u8>`
// with the layout checked as described above; nothing else in this module is unsafe.
#![allow(unsafe_code)]

use std::mem::MaybeUninit;

use wasmtime::{
    ValRaw,
    component::{
        __internal::{CanonicalAbiInfo, InstanceType, InterfaceType, LowerContext},
        ComponentType, Lower,
    },
};

use crate::bindings::types;

/// Canonical ABI size of the WIT `candidate` record (alignment 8).
pub(crate) const CANDIDATE_SIZE: usize = 184;

const _: () = {
    assert!(<types::Candidate as ComponentType>::SIZE32 == CANDIDATE_SIZE);
    assert!(<types::Candidate as ComponentType>::ALIGN32 == 8);
};

/// `list<candidate>` as the bytes the guest will see.
#[derive(Debug, Default)]
pub(crate) struct CandidateImage {
    bytes: Vec<u8>,
    len: usize,
}

/// `list<u8>`, copied in one go.
#[derive(Debug, Default)]
pub(crate) struct RawBytes(pub Vec<u8>);

/// The WIT `candidate-set` with both lists pre-built.
#[derive(Debug, Default, ComponentType, Lower)]
#[component(record)]
pub(crate) struct RawCandidateSet {
    #[component(name = "txs")]
    pub txs: CandidateImage,
    #[component(name = "calldata")]
    pub calldata: RawBytes,
}

impl RawCandidateSet {
    pub fn clear(&mut self) {
        self.txs.bytes.clear();
        self.txs.len = 0;
        self.calldata.0.clear();
    }

    pub fn len(&self) -> usize {
        self.txs.len
    }

    /// Room for `n` more records (a no-op once the buffers have grown to a typical block).
    pub fn reserve(&mut self, n: usize) {
        self.txs.bytes.reserve(n * CANDIDATE_SIZE);
    }
}

fn put64(r: &mut [u8], at: usize, v: u64) {
    r[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

fn put32(r: &mut [u8], at: usize, v: u32) {
    r[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

fn put_bytes32(r: &mut [u8], at: usize, v: &types::Bytes32) {
    put64(r, at, v.w0);
    put64(r, at + 8, v.w1);
    put64(r, at + 16, v.w2);
    put64(r, at + 24, v.w3);
}

/// `bytes20` is `{hi: u64, mid: u64, lo: u32}`: 20 bytes of fields, 24 with padding.
fn put_bytes20(r: &mut [u8], at: usize, v: &types::Bytes20) {
    put64(r, at, v.hi);
    put64(r, at + 8, v.mid);
    put32(r, at + 16, v.lo);
}

impl CandidateImage {
    /// Appends one record. Offsets follow the canonical ABI: each field at the next
    /// multiple of its alignment, padding zeroed.
    pub fn push(&mut self, c: &types::Candidate) {
        let start = self.bytes.len();
        self.bytes.resize(start + CANDIDATE_SIZE, 0);
        let r = &mut self.bytes[start..];
        put_bytes32(r, 0, &c.hash);
        put_bytes20(r, 32, &c.sender);
        put64(r, 56, c.nonce);
        put_bytes20(r, 64, &c.to);
        r[88] = u8::from(c.is_create);
        r[89] = c.tx_type;
        put_bytes32(r, 96, &c.value);
        put64(r, 128, c.gas_limit);
        put64(r, 136, c.max_fee_per_gas);
        put64(r, 144, c.max_priority_fee_per_gas);
        put64(r, 152, c.arrival_seq);
        put64(r, 160, c.arrival_ms);
        put32(r, 168, c.encoded_len);
        put32(r, 172, c.input_offset);
        put32(r, 176, c.input_len);
        self.len += 1;
    }
}

/// Allocates `bytes.len()` in the guest with `align` and copies `bytes` there.
fn copy_in<T>(cx: &mut LowerContext<'_, T>, align: u32, bytes: &[u8]) -> wasmtime::Result<usize> {
    let ptr = cx.realloc(0, 0, align, bytes.len())?;
    if ptr % align as usize != 0 {
        wasmtime::bail!("realloc returned a misaligned pointer");
    }
    let dst = ptr
        .checked_add(bytes.len())
        .and_then(|end| cx.as_slice_mut().get_mut(ptr..end))
        .ok_or_else(|| wasmtime::format_err!("realloc returned an out-of-bounds pointer"))?;
    dst.copy_from_slice(bytes);
    Ok(ptr)
}

fn pair_to_flat(dst: &mut MaybeUninit<[ValRaw; 2]>, ptr: usize, len: usize) {
    // The canonical ABI passes pointer-sized values as i64 in wasmtime's flat form.
    dst.write([ValRaw::i64(ptr as i64), ValRaw::i64(len as i64)]);
}

fn pair_to_memory<T>(
    cx: &mut LowerContext<'_, T>,
    offset: usize,
    ptr: usize,
    len: usize,
) -> wasmtime::Result<()> {
    *cx.get::<4>(offset) = u32::try_from(ptr)?.to_le_bytes();
    *cx.get::<4>(offset + 4) = u32::try_from(len)?.to_le_bytes();
    Ok(())
}

unsafe impl ComponentType for CandidateImage {
    type Lower = [ValRaw; 2];

    const ABI: CanonicalAbiInfo = CanonicalAbiInfo::POINTER_PAIR;

    fn typecheck(ty: &InterfaceType, types: &InstanceType<'_>) -> wasmtime::Result<()> {
        <[types::Candidate] as ComponentType>::typecheck(ty, types)
    }
}

unsafe impl Lower for CandidateImage {
    fn linear_lower_to_flat<T>(
        &self,
        cx: &mut LowerContext<'_, T>,
        _ty: InterfaceType,
        dst: &mut MaybeUninit<[ValRaw; 2]>,
    ) -> wasmtime::Result<()> {
        let ptr = copy_in(cx, 8, &self.bytes)?;
        pair_to_flat(dst, ptr, self.len);
        Ok(())
    }

    fn linear_lower_to_memory<T>(
        &self,
        cx: &mut LowerContext<'_, T>,
        _ty: InterfaceType,
        offset: usize,
    ) -> wasmtime::Result<()> {
        let ptr = copy_in(cx, 8, &self.bytes)?;
        pair_to_memory(cx, offset, ptr, self.len)
    }
}

unsafe impl ComponentType for RawBytes {
    type Lower = [ValRaw; 2];

    const ABI: CanonicalAbiInfo = CanonicalAbiInfo::POINTER_PAIR;

    fn typecheck(ty: &InterfaceType, types: &InstanceType<'_>) -> wasmtime::Result<()> {
        <[u8] as ComponentType>::typecheck(ty, types)
    }
}

unsafe impl Lower for RawBytes {
    fn linear_lower_to_flat<T>(
        &self,
        cx: &mut LowerContext<'_, T>,
        _ty: InterfaceType,
        dst: &mut MaybeUninit<[ValRaw; 2]>,
    ) -> wasmtime::Result<()> {
        let ptr = copy_in(cx, 1, &self.0)?;
        pair_to_flat(dst, ptr, self.0.len());
        Ok(())
    }

    fn linear_lower_to_memory<T>(
        &self,
        cx: &mut LowerContext<'_, T>,
        _ty: InterfaceType,
        offset: usize,
    ) -> wasmtime::Result<()> {
        let ptr = copy_in(cx, 1, &self.0)?;
        pair_to_memory(cx, offset, ptr, self.0.len())
    }
}
