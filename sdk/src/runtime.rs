//! What `std` would provide on wasm32 and a `no_std` component must provide itself.
//!
//! Plugins are `no_std` because `std` on `wasm32-wasip2` imports WASI interfaces (for panic
//! messages, stdio, the environment), and the host refuses any component that imports more
//! than the `ordo:plugin` interfaces. Without `std` nobody supplies an allocator, a panic
//! handler or the `cabi_realloc` export the canonical ABI lowers lists and strings through,
//! so the SDK does, once, for every plugin. Nor does anyone supply `memcmp`: `memcpy` and
//! `memset` lower to bulk-memory instructions, but LLVM still emits calls to `memcmp` (slice
//! and string equality), which libc would provide.

#![allow(unsafe_code)]

use core::sync::atomic::{AtomicBool, Ordering};

/// dlmalloc grows linear memory with `memory.grow`; no imports needed.
#[global_allocator]
static ALLOCATOR: dlmalloc::GlobalDlmalloc = dlmalloc::GlobalDlmalloc;

/// Set while the panic handler reports, so a panic inside the report (an allocation failure
/// while formatting, say) traps instead of recursing.
static PANICKING: AtomicBool = AtomicBool::new(false);

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    // The host turns the trap into a fallback and logs "trapped"; the panic message tells the
    // author why, so it goes to the node's log first.
    if !PANICKING.swap(true, Ordering::Relaxed) {
        let message = alloc::format!("panic: {info}");
        crate::log::log(crate::log::Level::Error, &message);
    }
    core::arch::wasm32::unreachable()
}

/// The canonical ABI's allocator export: the host calls it to place lists and strings it
/// passes in, and the bindings call it to grow return buffers. wit-bindgen expects libc to
/// define it on `wasm32-wasip2`; without `std` there is no libc, so this is the definition.
///
/// # Safety
/// Called by the canonical ABI with a pointer it got from this function (or null with
/// `old_len == 0`), the alignment it was allocated with, and a non-zero `new_len` whenever
/// `old_len` is non-zero.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cabi_realloc(
    old_ptr: *mut u8,
    old_len: usize,
    align: usize,
    new_len: usize,
) -> *mut u8 {
    use alloc::alloc::{Layout, alloc, realloc};

    if new_len == 0 {
        // A zero-sized allocation only needs a well-aligned, non-null pointer.
        return align as *mut u8;
    }
    // Checked layouts: a size that rounds past `isize::MAX` or a bad alignment traps
    // instead of being undefined behaviour.
    let (Ok(new_layout), Ok(old_layout)) = (
        Layout::from_size_align(new_len, align),
        Layout::from_size_align(old_len, align),
    ) else {
        core::arch::wasm32::unreachable();
    };
    // SAFETY: both layouts are valid; `old_ptr`/`old_layout` describe the block the
    // canonical ABI allocated through this same function.
    let ptr = unsafe {
        if old_len == 0 {
            alloc(new_layout)
        } else {
            realloc(old_ptr, old_layout, new_len)
        }
    };
    if ptr.is_null() {
        // Out of memory (the host's memory cap): trapping is the only honest answer.
        core::arch::wasm32::unreachable();
    }
    ptr
}

/// Byte-wise comparison, as C's `memcmp`. A plain loop: LLVM turns loops into `memcpy` and
/// `memset` calls (which lower to instructions here), never into `memcmp` calls, so this
/// cannot recurse into itself.
///
/// # Safety
/// `a` and `b` must be valid for reads of `n` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    let mut i = 0;
    while i < n {
        // SAFETY: i < n and the caller guarantees n readable bytes behind both pointers.
        let (x, y) = unsafe { (*a.add(i), *b.add(i)) };
        if x != y {
            return i32::from(x) - i32::from(y);
        }
        i += 1;
    }
    0
}

/// `memcmp` that only reports equality; LLVM may call it for `==` on byte slices.
///
/// # Safety
/// As [`memcmp`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    // SAFETY: same contract as memcmp.
    unsafe { memcmp(a, b, n) }
}
