//! `spot bench risk`: the live risk model against the advisor-bucket prior on a seeded,
//! simulated interruption history (see spot_risk::replay).

use std::time::Instant;

use spot_risk::model::{self, RiskModel};
use spot_risk::replay::{ReplaySettings, compare};

pub fn run(
    seed: u64,
    pools: usize,
    days: u32,
    model: Option<&str>,
) -> Result<serde_json::Value, String> {
    if pools == 0 {
        return Err("invalid `--pools`: at least 1".to_owned());
    }
    if days <= 7 {
        return Err("invalid `--days`: more than the 7-day warm-up".to_owned());
    }
    let candidate: Box<dyn RiskModel> = match model {
        Some(version) => model::by_version(version).ok_or_else(|| {
            format!(
                "invalid `--model`: `{version}` is not one of {}",
                model::versions().join(", ")
            )
        })?,
        None => model::live(),
    };
    let settings = ReplaySettings {
        seed,
        pools,
        days,
        warmup_days: 7,
    };
    let started = Instant::now();
    let (evaluated, prior, events) = compare(candidate.as_ref(), &settings);
    Ok(serde_json::json!({
        "bench": "risk",
        "seed": seed,
        "model_version": candidate.version(),
        "pools": pools,
        "days": days,
        "events": events,
        "predictions": evaluated.predictions,
        "hit_pool_hours": evaluated.positives,
        "model_brier": evaluated.brier,
        "prior_brier": prior.brier,
        "brier_skill": 1.0 - evaluated.brier / prior.brier,
        "model_auc": evaluated.auc,
        "prior_auc": prior.auc,
        "eval_ms": started.elapsed().as_secs_f64() * 1_000.0,
    }))
}
