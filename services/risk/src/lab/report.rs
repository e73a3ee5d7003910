//! An experiment's report from the decisions both sides made: calibration of two risk models
//! against what happened, or cost and risk of the node sets two strategies would pick. Pure.

use spot_proto::risk::v1::ExperimentReport;

use super::entity::experiment_decisions::Model as Decision;

/// Matured risk decisions a Brier comparison needs before it says which model is better.
const MIN_MATURED: u32 = 20;

/// Risk models: each matured decision is a prediction that an interruption hits its pool before
/// `matures_at`; `interrupted` says whether one did.
pub fn risk_models(
    candidate: &str,
    decisions: &[Decision],
    now_millis: i64,
    interrupted: impl Fn(&Decision) -> bool,
) -> ExperimentReport {
    let mut report = ExperimentReport {
        decisions: decisions.len() as u32,
        ..ExperimentReport::default()
    };
    let (mut live_squares, mut candidate_squares) = (0.0, 0.0);
    for decision in decisions.iter().filter(|d| d.matures_at <= now_millis) {
        let observed = if interrupted(decision) { 1.0 } else { 0.0 };
        report.matured_decisions += 1;
        report.observed_interruptions += observed as u32;
        report.live_predicted_interruptions += decision.live_value;
        report.candidate_predicted_interruptions += decision.candidate_value;
        live_squares += (decision.live_value - observed).powi(2);
        candidate_squares += (decision.candidate_value - observed).powi(2);
    }
    let matured = report.matured_decisions;
    if matured > 0 {
        report.live_brier = live_squares / f64::from(matured);
        report.candidate_brier = candidate_squares / f64::from(matured);
    }
    report.summary = if matured < MIN_MATURED {
        format!(
            "{matured} of {} predictions have reached their horizon; {MIN_MATURED} are needed before comparing",
            report.decisions
        )
    } else {
        let verdict = if report.candidate_brier < report.live_brier {
            "the candidate is better calibrated"
        } else if report.candidate_brier > report.live_brier {
            "the live model is better calibrated"
        } else {
            "both are equally calibrated"
        };
        format!(
            "{candidate}: Brier {:.5} vs {:.5} live over {matured} predictions (lower is better): {verdict}; {} interruptions observed, {:.2} expected by the candidate, {:.2} by the live model",
            report.candidate_brier,
            report.live_brier,
            report.observed_interruptions,
            report.candidate_predicted_interruptions,
            report.live_predicted_interruptions
        )
    };
    report
}

/// Optimizer strategies: the mean hourly cost, and the expected interruptions a day (risk is
/// recorded per hour), of the node sets each would pick.
pub fn strategies(candidate: &str, decisions: &[Decision]) -> ExperimentReport {
    let mut report = ExperimentReport {
        decisions: decisions.len() as u32,
        ..ExperimentReport::default()
    };
    if decisions.is_empty() {
        report.summary = "no decision yet".to_owned();
        return report;
    }
    let n = decisions.len() as f64;
    let mean = |value: fn(&Decision) -> f64| decisions.iter().map(value).sum::<f64>() / n;
    report.live_cost_usd_per_hour = mean(|d| d.live_value);
    report.candidate_cost_usd_per_hour = mean(|d| d.candidate_value);
    report.live_interruptions_per_day = mean(|d| d.live_risk) * 24.0;
    report.candidate_interruptions_per_day = mean(|d| d.candidate_risk) * 24.0;
    let change = if report.live_cost_usd_per_hour > 0.0 {
        (report.candidate_cost_usd_per_hour / report.live_cost_usd_per_hour - 1.0) * 100.0
    } else {
        0.0
    };
    report.summary = format!(
        "{candidate} would cost ${:.3}/h vs ${:.3}/h live ({change:+.1} %), expecting {:.3} vs {:.3} interruptions a day, over {} decisions",
        report.candidate_cost_usd_per_hour,
        report.live_cost_usd_per_hour,
        report.candidate_interruptions_per_day,
        report.live_interruptions_per_day,
        report.decisions
    );
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decision(subject: &str, live: f64, candidate: f64, matures_at: i64) -> Decision {
        Decision {
            id: format!("{subject}-{matures_at}"),
            experiment_id: "e".into(),
            cluster_id: "c".into(),
            subject: subject.into(),
            at: matures_at - 10,
            matures_at,
            live_value: live,
            candidate_value: candidate,
            live_risk: 0.0,
            candidate_risk: 0.0,
        }
    }

    #[test]
    fn the_model_closer_to_what_happened_wins_and_unmatured_predictions_wait() {
        let mut decisions: Vec<Decision> = (0..30)
            .map(|i| decision(if i % 10 == 0 { "hit" } else { "quiet" }, 0.1, 0.0, 100 + i))
            .collect();
        // The hit pool: the candidate said 0.9.
        for d in decisions.iter_mut().filter(|d| d.subject == "hit") {
            d.candidate_value = 0.9;
        }
        decisions.push(decision("hit", 0.1, 0.9, 10_000));
        let report = risk_models("cand-v2", &decisions, 1_000, |d| d.subject == "hit");
        assert_eq!(report.decisions, 31);
        assert_eq!(report.matured_decisions, 30);
        assert_eq!(report.observed_interruptions, 3);
        // live: 3 × 0.81 + 27 × 0.01 over 30; candidate: 3 × 0.01 over 30.
        assert!((report.live_brier - (3.0 * 0.81 + 27.0 * 0.01) / 30.0).abs() < 1e-9);
        assert!((report.candidate_brier - 0.03 / 30.0).abs() < 1e-9);
        assert!((report.live_predicted_interruptions - 3.0).abs() < 1e-9);
        assert!(
            report
                .summary
                .contains("the candidate is better calibrated"),
            "{}",
            report.summary
        );

        let early = risk_models("cand-v2", &decisions[..5], 1_000, |_| false);
        assert!(
            early.summary.contains("are needed before comparing"),
            "{}",
            early.summary
        );
    }

    #[test]
    fn strategies_compare_mean_cost_and_daily_risk() {
        let mut a = decision("plan", 2.0, 1.5, 1);
        a.live_risk = 0.01;
        a.candidate_risk = 0.02;
        let mut b = decision("plan", 4.0, 2.5, 2);
        b.live_risk = 0.03;
        b.candidate_risk = 0.04;
        let report = strategies("cost-aware-ffd", &[a, b]);
        assert!((report.live_cost_usd_per_hour - 3.0).abs() < 1e-9);
        assert!((report.candidate_cost_usd_per_hour - 2.0).abs() < 1e-9);
        assert!((report.live_interruptions_per_day - 0.48).abs() < 1e-9);
        assert!((report.candidate_interruptions_per_day - 0.72).abs() < 1e-9);
        assert!(report.summary.contains("-33.3 %"), "{}", report.summary);
        assert_eq!(strategies("x", &[]).summary, "no decision yet");
    }
}
