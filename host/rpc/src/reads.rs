//! The pool that runs expensive reads (`eth_call`, `eth_estimateGas`, `eth_getLogs`,
//! `eth_callBundle`, ...): a few threads of its own, so no number of calls can take the
//! threads that build blocks and take in transactions, and tokio's blocking pool (hundreds
//! of threads) never runs EVM code for clients.
//!
//! ```text
//! Server::read(client, f)
//!   ├─ client's time budget spent? ─────────────▶ -32005 "rate limit exceeded"
//!   ├─ queue full? ─────────────────────────────▶ -32005 "server busy"
//!   ▼
//! worker thread: deadline passed while queued? ─▶ "execution aborted (timeout = 5s)"
//!   ├─ CallDeadline::current() = Some(deadline) (the backend hands it to the EVM, which
//!   │  stops at the deadline: the same timeout error)
//!   ├─ f()
//!   └─ charge the client the wall time it ran (milliseconds from its budget)
//! ```
//!
//! The budget is time, not a count of calls: one client's 5-second calls and another's
//! 1-millisecond ones cost what they cost.

use std::{
    cell::Cell,
    net::IpAddr,
    sync::Arc,
    time::{Duration, Instant},
};

use tokio::sync::oneshot;

use crate::{
    BackendError, BackendResult, RateLimiter,
    workers::{Job, Refused, Workers},
};

/// When the read running on this thread must stop, and the timeout it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallDeadline {
    /// The instant after which the read is aborted.
    pub at: Instant,
    /// The configured timeout (what the error message names).
    pub timeout: Duration,
}

thread_local! {
    static CURRENT: Cell<Option<CallDeadline>> = const { Cell::new(None) };
}

impl CallDeadline {
    /// The deadline of the read this thread is running for a client, if it runs one. The
    /// backend passes it to the EVM so a call stops when its time is up.
    pub fn current() -> Option<Self> {
        CURRENT.with(Cell::get)
    }

    /// Whether the deadline has passed.
    pub fn expired(&self) -> bool {
        Instant::now() >= self.at
    }

    /// geth's error for a call stopped by its timeout (code -32000).
    pub fn error(&self) -> BackendError {
        timeout_error(self.timeout)
    }
}

/// geth's wording: "execution aborted (timeout = 5s)", the duration as Go prints it.
pub fn timeout_error(timeout: Duration) -> BackendError {
    let ms = timeout.as_millis();
    let text = if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    };
    BackendError::new(-32000, format!("execution aborted (timeout = {text})"))
}

/// The bounded read pool. Dropping it lets the workers finish the queued reads and exit.
pub(crate) struct ReadPool {
    workers: Workers,
    timeout: Duration,
    budget: Arc<RateLimiter<IpAddr>>,
}

impl ReadPool {
    /// Starts `threads` workers behind a queue of `queue` waiting reads; each read may run
    /// `timeout` from the moment it is queued; `budget` holds each client's milliseconds.
    pub(crate) fn new(
        threads: usize,
        queue: usize,
        timeout: Duration,
        budget: Arc<RateLimiter<IpAddr>>,
    ) -> Self {
        Self {
            workers: Workers::new("ordo-read", threads, queue, lower_priority),
            timeout,
            budget,
        }
    }

    /// Runs `f` on a worker for `client` and answers its result, or the refusal/timeout.
    pub(crate) async fn run<T, F>(&self, client: Option<IpAddr>, f: F) -> BackendResult<T>
    where
        T: Send + 'static,
        F: FnOnce() -> BackendResult<T> + Send + 'static,
    {
        if let Some(ip) = client
            && !self.budget.check(&ip)
        {
            return Err(BackendError::limit_exceeded("rate limit exceeded"));
        }
        let deadline = CallDeadline {
            at: Instant::now() + self.timeout,
            timeout: self.timeout,
        };
        let (tx, rx) = oneshot::channel();
        let budget = self.budget.clone();
        let job: Job = Box::new(move || {
            if deadline.expired() {
                let _ = tx.send(Err(deadline.error()));
                return;
            }
            let started = Instant::now();
            CURRENT.with(|c| c.set(Some(deadline)));
            let result = f();
            CURRENT.with(|c| c.set(None));
            if let Some(ip) = client {
                budget.charge(&ip, started.elapsed().as_secs_f64() * 1000.0);
            }
            let _ = tx.send(result);
        });
        match self.workers.execute(job) {
            Ok(()) => {}
            Err((Refused::Full, _)) => {
                metrics::counter!("ordo_rpc_reads_refused_total", "reason" => "busy").increment(1);
                return Err(BackendError::limit_exceeded(
                    "server busy: too many expensive calls queued",
                ));
            }
            Err((Refused::Stopped, _)) => {
                return Err(BackendError::internal("read pool stopped"));
            }
        }
        rx.await
            .map_err(|_| BackendError::internal("read worker failed"))?
    }
}

/// Nice value of the read threads: when the cores are busy, block production and
/// transaction ingress get the CPU first.
#[cfg(target_os = "linux")]
const READ_NICE: i32 = 10;

fn lower_priority() {
    // Linux keeps a nice value per thread, so this lowers only this worker.
    #[cfg(target_os = "linux")]
    if let Err(e) = rustix::process::setpriority_process(Some(rustix::thread::gettid()), READ_NICE)
    {
        tracing::debug!(target: "ordo::rpc", error = %e, "cannot lower a read thread's priority");
    }
}

#[cfg(test)]
mod tests {
    use std::thread;

    use parking_lot::Mutex;

    use super::*;
    use crate::Quota;

    fn pool(threads: usize, queue: usize, timeout: Duration, quota: Quota) -> ReadPool {
        ReadPool::new(threads, queue, timeout, Arc::new(RateLimiter::new(quota)))
    }

    #[test]
    fn timeout_message_is_gets() {
        assert_eq!(
            timeout_error(Duration::from_secs(5)).message,
            "execution aborted (timeout = 5s)"
        );
        assert_eq!(
            timeout_error(Duration::from_millis(250)).message,
            "execution aborted (timeout = 250ms)"
        );
    }

    #[tokio::test]
    async fn a_read_sees_its_deadline_and_other_threads_do_not() {
        let p = pool(1, 4, Duration::from_secs(5), Quota::UNLIMITED);
        let seen = p.run(None, || Ok(CallDeadline::current())).await.unwrap();
        let seen = seen.expect("the worker sets the deadline");
        assert_eq!(seen.timeout, Duration::from_secs(5));
        assert!(CallDeadline::current().is_none());
    }

    #[tokio::test]
    async fn a_full_queue_refuses_instead_of_growing() {
        let p = Arc::new(pool(1, 1, Duration::from_secs(30), Quota::UNLIMITED));
        let (release, hold) = std::sync::mpsc::channel::<()>();
        let hold = Arc::new(Mutex::new(hold));
        // One read occupies the worker, one waits in the queue; the third is refused.
        let mut running = Vec::new();
        for _ in 0..2 {
            let (p, hold) = (p.clone(), hold.clone());
            running.push(tokio::spawn(async move {
                p.run(None, move || {
                    let _ = hold.lock().recv();
                    Ok(())
                })
                .await
            }));
            tokio::task::yield_now().await;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let refused = p.run(None, || Ok(())).await.unwrap_err();
        assert_eq!(refused.code, -32005, "{}", refused.message);
        release.send(()).unwrap();
        release.send(()).unwrap();
        for r in running {
            r.await.unwrap().unwrap();
        }
    }

    #[tokio::test]
    async fn a_client_that_spent_its_time_is_refused_others_are_not() {
        // 1 ms per second, 1 ms burst: one 30 ms read overdraws it for a long while.
        let p = pool(
            1,
            4,
            Duration::from_secs(5),
            Quota {
                per_sec: 1,
                burst: 1,
            },
        );
        let greedy: IpAddr = [10, 0, 0, 1].into();
        let other: IpAddr = [10, 0, 0, 2].into();
        p.run(Some(greedy), || {
            thread::sleep(Duration::from_millis(30));
            Ok(())
        })
        .await
        .unwrap();
        let refused = p.run(Some(greedy), || Ok(())).await.unwrap_err();
        assert_eq!(refused.code, -32005);
        p.run(Some(other), || Ok(())).await.unwrap();
    }

    #[tokio::test]
    async fn a_read_queued_past_its_deadline_does_not_run() {
        let p = Arc::new(pool(1, 4, Duration::from_millis(50), Quota::UNLIMITED));
        let blocker = {
            let p = p.clone();
            tokio::spawn(async move {
                p.run(None, || {
                    thread::sleep(Duration::from_millis(200));
                    Ok(())
                })
                .await
            })
        };
        tokio::time::sleep(Duration::from_millis(10)).await;
        let ran = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = ran.clone();
        let err = p
            .run(None, move || {
                flag.store(true, std::sync::atomic::Ordering::SeqCst);
                Ok(())
            })
            .await
            .unwrap_err();
        assert_eq!(err.message, "execution aborted (timeout = 50ms)");
        assert!(!ran.load(std::sync::atomic::Ordering::SeqCst));
        blocker.await.unwrap().unwrap();
    }
}
