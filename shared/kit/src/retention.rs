//! Retention sweeps: each service deletes its own rows that are older than the operator's limits
//! (`[limits] keep_*_days`), every hour, on one replica (a singleton job), so its tables stay
//! bounded however long the platform runs.

use std::fmt::{Debug, Display};
use std::future::Future;
use std::time::Duration;

use crate::{ServiceContext, singleton};

pub const DAY_MILLIS: i64 = 24 * 3_600 * 1_000;
const EVERY: Duration = Duration::from_secs(3_600);

/// The instant `days` days before `now_millis`: rows older than it are no longer kept.
pub fn cutoff(now_millis: i64, days: u64) -> i64 {
    let span = i64::try_from(days)
        .unwrap_or(i64::MAX)
        .saturating_mul(DAY_MILLIS);
    now_millis.saturating_sub(span)
}

/// Runs `sweep(now_millis)` every hour on one replica until shutdown, logging what it deleted
/// (its result, when not the default "nothing").
pub fn every_hour<F, Fut, T, E>(ctx: &ServiceContext, name: &'static str, sweep: F)
where
    F: Fn(i64) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<T, E>> + Send,
    T: Debug + Default + PartialEq,
    E: Display,
{
    singleton(ctx, name, move |lost| {
        let sweep = sweep.clone();
        async move {
            let mut every = tokio::time::interval(EVERY);
            loop {
                tokio::select! {
                    () = lost.cancelled() => return,
                    _ = every.tick() => {}
                }
                match sweep(chrono::Utc::now().timestamp_millis()).await {
                    Ok(swept) if swept != T::default() => {
                        tracing::info!(job = name, ?swept, "old records deleted");
                    }
                    Ok(_) => {}
                    Err(error) => tracing::warn!(job = name, %error, "old records not deleted"),
                }
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cutoff_is_whole_days_back_and_never_overflows() {
        assert_eq!(cutoff(10 * DAY_MILLIS, 3), 7 * DAY_MILLIS);
        assert_eq!(cutoff(0, u64::MAX), -i64::MAX);
    }
}
