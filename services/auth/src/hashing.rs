//! Password hashing under a memory budget. Each Argon2id hash or verification holds 19 MiB for
//! tens of milliseconds; a burst of sign-ups or logins run all at once would grow the process by
//! 19 MiB per call until it is killed. A semaphore sized from `password_hash_memory_mib` lets a
//! bounded number run; the others wait their turn, and past a short wait are told to retry.
//!
//! Each turn also hands out the memory to hash in, from a pool of at most as many buffers as
//! there are turns, reused from call to call. A semaphore alone does not bound the process:
//! measured with `spot bench signups`, 200 concurrent sign-ups under 13 turns peaked at 2.6 GiB
//! of RSS, because the allocator keeps the freed 19 MiB blocks (glibc raises its mmap threshold
//! after the first free) instead of returning them; with the pool the memory is allocated once.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use argon2::Block;
use tokio::sync::Semaphore;

use crate::error::{AuthError, AuthResult};
use crate::passwords;

/// How long a call waits for its turn before it is refused (RESOURCE_EXHAUSTED).
const MAX_WAIT: Duration = Duration::from_secs(10);

#[derive(Clone)]
pub struct Hashing {
    permits: Arc<Semaphore>,
    /// Working memory for the turns: never more buffers than permits.
    memory: Arc<Mutex<Vec<Vec<Block>>>>,
}

impl Hashing {
    /// As many concurrent hashes as `memory_mib` holds (at least one).
    pub fn new(memory_mib: u64) -> Self {
        let per_hash_mib = u64::from(passwords::MEMORY_KIB) / 1024;
        let permits = (memory_mib / per_hash_mib).max(1) as usize;
        Self {
            permits: Arc::new(Semaphore::new(permits)),
            memory: Arc::default(),
        }
    }

    /// Runs a hash or verification off the async runtime once a turn is free, in the turn's
    /// working memory.
    pub async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut [Block]) -> T + Send + 'static,
    ) -> AuthResult<T> {
        let permit = tokio::time::timeout(MAX_WAIT, self.permits.clone().acquire_owned())
            .await
            .map_err(|_| {
                AuthError::Exhausted(
                    "the server is busy checking passwords; retry in a few seconds".into(),
                )
            })?
            .map_err(|e| AuthError::Internal(e.to_string()))?;
        let pool = self.memory.clone();
        tokio::task::spawn_blocking(move || {
            let _turn = permit;
            let taken = pool.lock().unwrap_or_else(|e| e.into_inner()).pop();
            let mut memory = taken.unwrap_or_else(passwords::working_memory);
            let done = work(&mut memory);
            pool.lock().unwrap_or_else(|e| e.into_inner()).push(memory);
            done
        })
        .await
        .map_err(|e| AuthError::Internal(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[test]
    fn the_budget_sizes_the_turns() {
        let turns = |mib| Hashing::new(mib).permits.available_permits();
        assert_eq!(turns(19), 1);
        assert_eq!(turns(256), 13);
        assert_eq!(turns(1), 1);
    }

    #[tokio::test]
    async fn no_more_than_the_budget_runs_at_once() {
        let hashing = Hashing::new(2 * 19);
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let calls: Vec<_> = (0..8)
            .map(|_| {
                let (hashing, running, most) = (hashing.clone(), running.clone(), most.clone());
                tokio::spawn(async move {
                    hashing
                        .run(move |_| {
                            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                            most.fetch_max(now, Ordering::SeqCst);
                            std::thread::sleep(Duration::from_millis(20));
                            running.fetch_sub(1, Ordering::SeqCst);
                        })
                        .await
                })
            })
            .collect();
        for call in calls {
            call.await.unwrap().unwrap();
        }
        assert_eq!(most.load(Ordering::SeqCst), 2);
    }
}
