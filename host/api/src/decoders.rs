//! Ingress decoding threads: the signature recovery of submitted transactions runs on
//! [`Workers`] of its own (`ordo-decode-*`, one per core), off tokio's reactor threads and
//! off its blocking pool (which other work can fill). Not on rayon, whose idle workers spin
//! after every job (see `ordo_rpc::Workers`).

use std::sync::OnceLock;

use ordo_rpc::Workers;
use tokio::sync::oneshot;

/// The process's decoding threads, started on first use at the caller's priority (the first
/// caller is an RPC worker).
fn workers() -> &'static Workers {
    static WORKERS: OnceLock<Workers> = OnceLock::new();
    WORKERS.get_or_init(|| {
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
        Workers::new("ordo-decode", threads, usize::MAX, || {})
    })
}

/// Runs `f` on a decoding thread (on this thread if none could be started); its result
/// arrives on the returned channel.
pub(crate) fn decode<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> oneshot::Receiver<T> {
    let (answer, answered) = oneshot::channel();
    let workers = workers();
    if let Err((_, job)) = workers.execute(Box::new(move || {
        let _ = answer.send(f());
    })) {
        workers.run_here(job);
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
