//! Scheduling priorities of the state's threads (Linux): the threads a block waits for (the
//! builder, the root walk's threads and the commit) above ingress, the prefetch thread
//! below. On two busy cores, transaction ingress (decoding, sender recovery, JSON-RPC) is
//! always runnable; at the same priority a block's root and commit waited behind it for a
//! core, and the next block grew meanwhile. A few nice levels above ingress, they take a
//! core when they need one and give it back when done (README, "Performance": root p99 at
//! 10M accounts and inclusion p99 fell).

use std::sync::atomic::{AtomicI32, Ordering};

/// The default nice value of the block threads (`[builder] thread_nice`).
pub const DEFAULT_BLOCK_NICE: i32 = -5;

/// The range `[builder] thread_nice` accepts: block threads are never put below ingress.
pub const BLOCK_NICE_RANGE: std::ops::RangeInclusive<i32> = -20..=0;

static BLOCK_NICE: AtomicI32 = AtomicI32::new(0);
/// Whether the refused raise was reported (once).
#[cfg(target_os = "linux")]
static REFUSED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Sets the nice value the block threads take when they start
/// ([`apply_block_thread_priority`]). Called once at startup, before the builder and the
/// root threads exist; 0 leaves their priority as they start.
pub fn set_block_thread_nice(nice: i32) {
    let nice = nice.clamp(*BLOCK_NICE_RANGE.start(), *BLOCK_NICE_RANGE.end());
    BLOCK_NICE.store(nice, Ordering::Relaxed);
}

/// Gives the calling thread the block threads' nice value (absolute, like systemd's
/// `Nice=`). A raise needs CAP_SYS_NICE or an RLIMIT_NICE that allows it; without, the
/// thread keeps its priority and the node says so once.
pub fn apply_block_thread_priority() {
    let nice = BLOCK_NICE.load(Ordering::Relaxed);
    if nice == 0 {
        return;
    }
    #[cfg(target_os = "linux")]
    raise(nice);
}

/// Lowers the calling thread's priority by 10 nice levels (Linux). Prefetching is
/// speculative: on a machine with every core busy, the block it reads ahead for should have
/// the core first (README, "Performance").
#[allow(unsafe_code)]
pub fn apply_prefetch_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: one syscall with no memory passed. On Linux the nice value is the calling
    // thread's own (NPTL), and `nice` adds to it, whatever the process started with.
    unsafe {
        libc::nice(10);
    }
}

/// Pins the calling thread, the `index`-th of a pool of `threads`, to a core of its own
/// among those it may use (Linux; the set it inherited), when the pool has exactly one
/// thread per such core: a smaller pool pinned to the first cores would put every node of
/// a host on the same ones. The root walk's threads do: on this project's 2-core VMs the
/// kernel packs woken threads onto one vCPU while the other idles (`perf sched timehist`
/// of `ordo bench blocks`: in about half the blocks both root threads time-shared one core
/// for 9-12 ms, the other core idle, against 6 ms when they ran side by side). A pinned
/// thread whose core is busy waits, but the pool's other threads steal its unstarted work.
pub(crate) fn pin_pool_thread(index: usize, threads: usize) {
    #[cfg(target_os = "linux")]
    {
        let Some(cores) = allowed_cores() else {
            return;
        };
        if cores.len() < 2 || threads != cores.len() {
            return;
        }
        let mut own = rustix::thread::CpuSet::new();
        own.set(cores[index]);
        if let Err(e) = rustix::thread::sched_setaffinity(None, &own) {
            tracing::debug!(target: "ordo::exec", error = %e, "a root thread stays unpinned");
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (index, threads);
}

/// The cores the calling thread may run on, in order; `None` if the kernel does not say.
#[cfg(target_os = "linux")]
pub(crate) fn allowed_cores() -> Option<Vec<usize>> {
    use rustix::thread::{CpuSet, sched_getaffinity};
    let allowed = sched_getaffinity(None).ok()?;
    Some(
        (0..CpuSet::MAX_CPU)
            .filter(|&c| allowed.is_set(c))
            .collect(),
    )
}

#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn raise(nice: i32) {
    // Linux keeps a nice value per thread, so this sets only the calling one.
    if let Err(e) = rustix::process::setpriority_process(Some(rustix::thread::gettid()), nice) {
        if !REFUSED.swap(true, Ordering::Relaxed) {
            tracing::warn!(target: "ordo::exec", nice, error = %e,
                "cannot raise the block threads' priority (it needs CAP_SYS_NICE or an RLIMIT_NICE that allows it); they run at the usual one");
        }
        return;
    }
    // A thread starts with its creator's nice value, and block threads start others (the
    // index writer on the commit thread, shadow plugin runs on the builder): with
    // SCHED_RESET_ON_FORK those start at nice 0, not above ingress.
    let param = libc::sched_param { sched_priority: 0 };
    // SAFETY: one syscall on the calling thread (0) with a valid parameter struct.
    let set = unsafe {
        libc::sched_setscheduler(0, libc::SCHED_OTHER | libc::SCHED_RESET_ON_FORK, &param)
    };
    if set != 0 {
        tracing::warn!(target: "ordo::exec", error = %std::io::Error::last_os_error(),
            "a block thread's children will start at its raised priority");
    }
}
