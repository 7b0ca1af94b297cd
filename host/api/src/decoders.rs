//! Ingress decoding threads: the signature recovery of submitted transactions runs here,
//! off tokio's reactor threads and off its blocking pool (which other work can fill).
//!
//! Not on rayon: a rayon worker that runs out of jobs spins (some thirty `sched_yield`s)
//! before it sleeps, and ingress hands it one short job per transaction. Below saturation
//! the spinning cost as much CPU as the recoveries: a replica group's leader at 1,700 tx/s
//! made 26,000 `sched_yield` calls a second. The queue here is a mutex and a condition
//! variable, which block in the kernel without yielding first (channels such as
//! crossbeam's, and std's built on it, yield a few times before they park).

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, OnceLock};

use tokio::sync::oneshot;

type Job = Box<dyn FnOnce() + Send>;

#[derive(Default)]
struct Queue {
    jobs: Mutex<VecDeque<Job>>,
    ready: Condvar,
}

/// The queue of the process's decoding threads (started on first use, one per core, at
/// the caller's priority: the first caller is an RPC worker); `None` if none could start.
fn queue() -> Option<&'static Arc<Queue>> {
    static QUEUE: OnceLock<Option<Arc<Queue>>> = OnceLock::new();
    QUEUE
        .get_or_init(|| {
            let queue = Arc::new(Queue::default());
            let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
            let mut started = 0;
            for i in 0..threads {
                let queue = queue.clone();
                match std::thread::Builder::new()
                    .name(format!("ordo-decode-{i}"))
                    .spawn(move || serve(&queue))
                {
                    Ok(_) => started += 1,
                    Err(e) => {
                        tracing::error!(target: "ordo::rpc", error = %e, "cannot start a decoding thread")
                    }
                }
            }
            (started > 0).then_some(queue)
        })
        .as_ref()
}

fn serve(queue: &Queue) {
    loop {
        let job = {
            let mut jobs = queue.jobs.lock().unwrap_or_else(|e| e.into_inner());
            loop {
                match jobs.pop_front() {
                    Some(job) => break job,
                    None => jobs = queue.ready.wait(jobs).unwrap_or_else(|e| e.into_inner()),
                }
            }
        };
        run(job);
    }
}

/// Runs one job; a panic is logged and drops the job's answer channel (its caller sees
/// the failure), and the thread goes on.
fn run(job: Job) {
    if std::panic::catch_unwind(std::panic::AssertUnwindSafe(job)).is_err() {
        tracing::error!(target: "ordo::rpc", "decoding a transaction panicked");
        metrics::counter!("ordo_tx_decode_panics_total").increment(1);
    }
}

/// Runs `f` on a decoding thread (on this thread if none could be started); its result
/// arrives on the returned channel.
pub(crate) fn decode<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> oneshot::Receiver<T> {
    let (answer, answered) = oneshot::channel();
    let job: Job = Box::new(move || {
        let _ = answer.send(f());
    });
    match queue() {
        Some(queue) => {
            queue
                .jobs
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push_back(job);
            queue.ready.notify_one();
        }
        None => run(job),
    }
    answered
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::decode;

    fn on_a_decoding_thread(name: Option<String>) -> bool {
        name.is_some_and(|n| n.starts_with("ordo-decode-"))
    }

    #[tokio::test]
    async fn jobs_run_on_the_decoding_threads_which_outlive_a_panicking_job() {
        let within = Duration::from_secs(20);
        let here = || std::thread::current().name().map(String::from);
        let name = tokio::time::timeout(within, decode(here))
            .await
            .expect("answered")
            .expect("a name");
        assert!(on_a_decoding_thread(name));
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
        for _ in 0..threads {
            let failed =
                tokio::time::timeout(within, decode(|| -> u8 { panic!("a job that panics") }))
                    .await
                    .expect("answered");
            assert!(failed.is_err(), "a panicking job has no answer");
        }
        // Had each panic ended its thread, these would not run on one.
        let pending: Vec<_> = (0..threads * 4).map(|_| decode(here)).collect();
        let answers = async {
            let mut names = Vec::new();
            for answer in pending {
                names.push(answer.await.expect("an answer"));
            }
            names
        };
        let names = tokio::time::timeout(within, answers)
            .await
            .expect("answered after the panics");
        assert!(names.into_iter().all(on_a_decoding_thread));
    }
}
