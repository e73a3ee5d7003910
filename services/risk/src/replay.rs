//! A seeded, simulated interruption history to evaluate risk models on (`spot bench risk`).
//!
//! Each pool gets a real advisor bucket (from the catalog's us-east-1 pools), a fleet of 2 to 40
//! instances, and a true rate that the bucket only roughly describes: a persistent per-pool
//! factor (log-normal) and capacity crunches (about one every three weeks, lasting hours, twenty
//! times the rate, the spot price climbing meanwhile). Every hour after a week of warm-up, each
//! model predicts, for each pool, the chance of an interruption within the next hour; the Brier
//! score measures calibration and the AUC how well it ranks the pools that were hit.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use spot_cloud::Catalog;

use crate::model::{BucketPrior, Evidence, RiskModel, bucket_rate};

const REGION: &str = "us-east-1";
/// Interruptions older than this are not evidence any more.
const MEMORY_HOURS: f64 = 7.0 * 24.0;
/// A flag lasts GLOBAL_RISK_TTL's default.
const FLAG_HOURS: f64 = 0.5;
const CRUNCH_START_PER_HOUR: f64 = 1.0 / 500.0;
const CRUNCH_END_PER_HOUR: f64 = 1.0 / 8.0;
const CRUNCH_FACTOR: f64 = 20.0;
const PRICE_HOURS: usize = 6;

#[derive(Debug, Clone, Copy)]
pub struct ReplaySettings {
    pub seed: u64,
    pub pools: usize,
    pub days: u32,
    pub warmup_days: u32,
}

impl Default for ReplaySettings {
    fn default() -> Self {
        Self {
            seed: 1,
            pools: 300,
            days: 60,
            warmup_days: 7,
        }
    }
}

struct Pool {
    bucket: Option<u8>,
    instances: f64,
    /// interruption times, hours since the start
    events: Vec<f64>,
    /// spot price each hour
    prices: Vec<f64>,
}

/// The simulated history: every pool's interruptions and prices.
pub struct History {
    pools: Vec<Pool>,
    hours: usize,
    warmup_hours: usize,
}

fn poisson(rng: &mut ChaCha8Rng, mean: f64) -> u32 {
    // Knuth's method; the means here are far below 30.
    let limit = (-mean).exp();
    let mut product = rng.random::<f64>();
    let mut count = 0;
    while product > limit {
        count += 1;
        product *= rng.random::<f64>();
    }
    count
}

fn normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1: f64 = rng.random::<f64>().max(f64::MIN_POSITIVE);
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

impl History {
    pub fn simulate(settings: &ReplaySettings) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(settings.seed);
        let catalog = Catalog::embedded();
        let buckets: Vec<Option<u8>> = catalog
            .types()
            .iter()
            .filter_map(|t| catalog.advice(REGION, &t.name).ok().flatten())
            .map(|a| Some(a.interruption_bucket.min(4)))
            .collect();
        let hours = settings.days as usize * 24;
        let pools = (0..settings.pools)
            .map(|_| {
                let bucket = buckets[rng.random_range(0..buckets.len())];
                let instances = f64::from(rng.random_range(2..=40_u32));
                let factor = (0.6 * normal(&mut rng)).exp();
                let base = bucket_rate(bucket) * factor * instances;
                let mut crunch = false;
                let mut events = Vec::new();
                let mut prices = Vec::with_capacity(hours);
                for hour in 0..hours {
                    crunch = if crunch {
                        rng.random::<f64>() >= CRUNCH_END_PER_HOUR
                    } else {
                        rng.random::<f64>() < CRUNCH_START_PER_HOUR
                    };
                    let multiplier = if crunch { CRUNCH_FACTOR } else { 1.0 };
                    for _ in 0..poisson(&mut rng, base * multiplier) {
                        events.push(hour as f64 + rng.random::<f64>());
                    }
                    let level = if crunch { 1.6 } else { 1.0 };
                    prices.push(level * (1.0 + 0.02 * normal(&mut rng)));
                }
                events.sort_by(f64::total_cmp);
                Pool {
                    bucket,
                    instances,
                    events,
                    prices,
                }
            })
            .collect();
        Self {
            pools,
            hours,
            warmup_hours: settings.warmup_days as usize * 24,
        }
    }

    pub fn events(&self) -> usize {
        self.pools.iter().map(|p| p.events.len()).sum()
    }

    /// What the platform knows about `pool` at hour `t`.
    fn evidence(pool: &Pool, t: usize) -> Evidence {
        let now = t as f64;
        let ages: Vec<f64> = pool
            .events
            .iter()
            .filter(|e| **e <= now && now - **e <= MEMORY_HOURS)
            .map(|e| now - e)
            .collect();
        let window = &pool.prices[t.saturating_sub(PRICE_HOURS)..t.max(1)];
        let mean = window.iter().sum::<f64>() / window.len() as f64;
        let variance = window.iter().map(|p| (p - mean).powi(2)).sum::<f64>() / window.len() as f64;
        Evidence {
            bucket: pool.bucket,
            instances: pool.instances,
            flagged: ages.iter().any(|age| *age <= FLAG_HOURS),
            interruption_ages_hours: ages,
            price_volatility: Some(variance.sqrt() / mean),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    pub predictions: usize,
    /// Pool-hours in which an interruption came.
    pub positives: usize,
    pub brier: f64,
    pub auc: f64,
}

/// Every hour after the warm-up, every pool: the chance of an interruption in the next hour.
pub fn evaluate(model: &dyn RiskModel, history: &History) -> Evaluation {
    let mut scored: Vec<(f64, bool)> = Vec::new();
    for pool in &history.pools {
        for t in history.warmup_hours..history.hours.saturating_sub(1) {
            let evidence = History::evidence(pool, t);
            let p = model.score(&evidence).probability(pool.instances, 1.0);
            let next = t as f64;
            let hit = pool.events.iter().any(|e| *e > next && *e <= next + 1.0);
            scored.push((p, hit));
        }
    }
    let brier = scored
        .iter()
        .map(|(p, hit)| (p - if *hit { 1.0 } else { 0.0 }).powi(2))
        .sum::<f64>()
        / scored.len().max(1) as f64;
    Evaluation {
        predictions: scored.len(),
        positives: scored.iter().filter(|(_, hit)| *hit).count(),
        brier,
        auc: auc(&mut scored),
    }
}

/// The chance a random hit pool-hour was ranked above a random quiet one (ties count half).
fn auc(scored: &mut [(f64, bool)]) -> f64 {
    scored.sort_by(|a, b| a.0.total_cmp(&b.0));
    let positives = scored.iter().filter(|(_, hit)| *hit).count() as f64;
    let negatives = scored.len() as f64 - positives;
    if positives == 0.0 || negatives == 0.0 {
        return 0.5;
    }
    // Rank sum of the positives, with average ranks for ties.
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < scored.len() {
        let mut j = i;
        while j < scored.len() && scored[j].0 == scored[i].0 {
            j += 1;
        }
        let average_rank = (i + 1 + j) as f64 / 2.0;
        rank_sum += average_rank * scored[i..j].iter().filter(|(_, hit)| *hit).count() as f64;
        i = j;
    }
    (rank_sum - positives * (positives + 1.0) / 2.0) / (positives * negatives)
}

/// The model against the bucket prior on one seeded history.
pub fn compare(
    model: &dyn RiskModel,
    settings: &ReplaySettings,
) -> (Evaluation, Evaluation, usize) {
    let history = History::simulate(settings);
    let candidate = evaluate(model, &history);
    let prior = evaluate(&BucketPrior, &history);
    (candidate, prior, history.events())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::RecencyModel;

    fn small(seed: u64) -> ReplaySettings {
        ReplaySettings {
            seed,
            pools: 120,
            days: 30,
            warmup_days: 7,
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_history() {
        let a = History::simulate(&small(3));
        let b = History::simulate(&small(3));
        assert_eq!(a.events(), b.events());
        assert!(a.events() > 100, "{}", a.events());
    }

    #[test]
    fn the_live_model_beats_the_bucket_prior_on_fresh_seeds() {
        for seed in [11, 12] {
            let (model, prior, _) = compare(&RecencyModel::default(), &small(seed));
            assert!(
                model.brier < prior.brier,
                "seed {seed}: {model:?} vs {prior:?}"
            );
            assert!(model.auc > prior.auc, "seed {seed}: {model:?} vs {prior:?}");
        }
    }

    #[test]
    fn auc_ranks_perfectly_randomly_and_backwards() {
        let mut perfect = vec![(0.1, false), (0.2, false), (0.8, true), (0.9, true)];
        assert_eq!(auc(&mut perfect), 1.0);
        let mut backwards = vec![(0.9, false), (0.1, true)];
        assert_eq!(auc(&mut backwards), 0.0);
        let mut ties = vec![(0.5, false), (0.5, true)];
        assert_eq!(auc(&mut ties), 0.5);
    }
}
