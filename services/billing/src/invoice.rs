//! An invoice from the period's metered hours and the terms in force: one line per cluster (and
//! share, when the terms changed in the period), and a minimum line where the plan has one.
//!
//! Rounding, the one rule: a cluster's savings are the sum of its hourly savings in micro units,
//! a negative sum counts as zero, rounded half up to minor units once; its fee is savings x share,
//! rounded half up to minor units. The monthly minimum is prorated by the time each term was in
//! force in the period, rounded half up once; the minimum line tops the fees up to it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::plans::CURRENCY;

/// Micro units in one minor unit (cents): 1,000,000 per dollar, 100 cents per dollar.
const MICROS_PER_MINOR: i64 = 10_000;

/// A term in force from `effective_from` until the next term.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    pub effective_from: i64,
    pub plan_id: String,
    pub share_basis_points: u32,
    pub minimum_minor_units: i64,
}

/// One cluster's hour of savings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hour {
    pub cluster_id: String,
    pub hour_start: i64,
    pub savings_micros: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LineKind {
    SavingsShare,
    Minimum,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Line {
    pub kind: LineKind,
    pub cluster_id: String,
    pub description: String,
    pub hours: u32,
    pub savings_minor_units: i64,
    pub share_basis_points: u32,
    pub amount_minor_units: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Computed {
    pub lines: Vec<Line>,
    pub savings_minor_units: i64,
    pub total_minor_units: i64,
}

/// `numerator / denominator` (denominator positive) rounded half away from zero: half up for
/// the non-negative amounts invoices round.
pub fn rounded(numerator: i128, denominator: i128) -> i64 {
    let half = denominator / 2;
    let value = if numerator >= 0 {
        (numerator + half) / denominator
    } else {
        (numerator - half) / denominator
    };
    i64::try_from(value).unwrap_or(if value > 0 { i64::MAX } else { i64::MIN })
}

/// Micro units to minor units, negative as zero, rounded half up.
pub fn minor_of_micros(micros: i64) -> i64 {
    rounded(i128::from(micros.max(0)), i128::from(MICROS_PER_MINOR))
}

/// The fee on `savings` at a share, rounded half up.
pub fn fee(savings_minor_units: i64, share_basis_points: u32) -> i64 {
    rounded(
        i128::from(savings_minor_units) * i128::from(share_basis_points),
        10_000,
    )
}

/// The term in force at `at` (terms oldest first); None before the first.
pub fn term_at(terms: &[Term], at: i64) -> Option<&Term> {
    terms.iter().rev().find(|term| term.effective_from <= at)
}

/// The period's invoice. `terms` oldest first; hours outside the period are ignored.
pub fn compute(period: (i64, i64), hours: &[Hour], terms: &[Term]) -> Computed {
    let (start, end) = period;
    // (cluster, share) -> (hours, savings micros)
    let mut by_cluster: BTreeMap<(String, u32), (u32, i64)> = BTreeMap::new();
    for hour in hours
        .iter()
        .filter(|h| h.hour_start >= start && h.hour_start < end)
    {
        let share = term_at(terms, hour.hour_start).map_or(0, |t| t.share_basis_points);
        let entry = by_cluster
            .entry((hour.cluster_id.clone(), share))
            .or_default();
        entry.0 += 1;
        entry.1 += hour.savings_micros;
    }
    let mut lines = Vec::new();
    let mut savings = 0;
    let mut fees = 0;
    for ((cluster_id, share), (count, micros)) in by_cluster {
        let savings_minor_units = minor_of_micros(micros);
        let amount = fee(savings_minor_units, share);
        savings += savings_minor_units;
        fees += amount;
        lines.push(Line {
            kind: LineKind::SavingsShare,
            description: format!(
                "Cluster {cluster_id}: {count} h metered, {}.{:02} % of savings",
                share / 100,
                share % 100
            ),
            cluster_id,
            hours: count,
            savings_minor_units,
            share_basis_points: share,
            amount_minor_units: amount,
        });
    }
    let minimum = prorated_minimum(period, terms);
    let mut total = fees;
    if minimum > fees {
        lines.push(Line {
            kind: LineKind::Minimum,
            cluster_id: String::new(),
            description: format!(
                "Monthly minimum, prorated to {}.{:02} {CURRENCY}, less the fees above",
                minimum / 100,
                minimum % 100
            ),
            hours: 0,
            savings_minor_units: 0,
            share_basis_points: 0,
            amount_minor_units: minimum - fees,
        });
        total = minimum;
    }
    Computed {
        lines,
        savings_minor_units: savings,
        total_minor_units: total,
    }
}

/// The minimum owed for the period: each term's minimum for the share of the period it was in
/// force, summed, rounded half up once.
fn prorated_minimum(period: (i64, i64), terms: &[Term]) -> i64 {
    let (start, end) = period;
    let length = i128::from(end - start);
    let mut owed: i128 = 0;
    for (i, term) in terms.iter().enumerate() {
        let from = term.effective_from.max(start);
        let until = terms
            .get(i + 1)
            .map_or(end, |next| next.effective_from)
            .min(end);
        if until > from {
            owed += i128::from(term.minimum_minor_units) * i128::from(until - from);
        }
    }
    if length <= 0 {
        0
    } else {
        rounded(owed, length)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3_600_000;

    fn term(from: i64, share: u32, minimum: i64) -> Term {
        Term {
            effective_from: from,
            plan_id: "p".to_owned(),
            share_basis_points: share,
            minimum_minor_units: minimum,
        }
    }

    fn hour(cluster: &str, at: i64, micros: i64) -> Hour {
        Hour {
            cluster_id: cluster.to_owned(),
            hour_start: at,
            savings_micros: micros,
        }
    }

    #[test]
    fn savings_round_half_up_once_per_line_and_the_fee_after() {
        // 12.345 dollars = 1234.5 cents -> 1235; 20 % of 1235 = 247.
        let hours = [hour("a", 0, 6_000_000), hour("a", H, 6_345_000)];
        let invoice = compute((0, 10 * H), &hours, &[term(0, 2_000, 0)]);
        assert_eq!(invoice.lines.len(), 1);
        assert_eq!(invoice.lines[0].savings_minor_units, 1_235);
        assert_eq!(invoice.lines[0].amount_minor_units, 247);
        assert_eq!(invoice.lines[0].hours, 2);
        assert_eq!(invoice.total_minor_units, 247);
    }

    #[test]
    fn a_cluster_that_lost_money_is_charged_nothing() {
        let hours = [hour("a", 0, -9_000_000), hour("b", 0, 1_000_000)];
        let invoice = compute((0, H), &hours, &[term(0, 2_000, 0)]);
        assert_eq!(invoice.lines[0].savings_minor_units, 0);
        assert_eq!(invoice.lines[0].amount_minor_units, 0);
        assert_eq!(invoice.savings_minor_units, 100);
        assert_eq!(invoice.total_minor_units, 20);
    }

    #[test]
    fn the_minimum_is_prorated_from_an_upgrade_and_tops_the_fees_up() {
        // Free for the first quarter of the period, then 20 % with a 100.00 minimum.
        let period = (0, 4 * H);
        let terms = [term(0, 0, 0), term(H, 2_000, 10_000)];
        let hours = [hour("a", 0, 50_000_000), hour("a", H, 50_000_000)];
        let invoice = compute(period, &hours, &terms);
        // Two lines for the cluster: the free hour (no fee) and the paid hour (10.00).
        assert_eq!(invoice.lines.len(), 3, "{:?}", invoice.lines);
        let fees: i64 = invoice
            .lines
            .iter()
            .filter(|l| l.kind == LineKind::SavingsShare)
            .map(|l| l.amount_minor_units)
            .sum();
        assert_eq!(fees, 1_000);
        // 3/4 of 100.00 = 75.00 owed: the minimum line adds 65.00.
        assert_eq!(invoice.lines[2].amount_minor_units, 6_500);
        assert_eq!(invoice.total_minor_units, 7_500);
    }

    #[test]
    fn no_minimum_line_when_the_fees_exceed_it() {
        let invoice = compute(
            (0, H),
            &[hour("a", 0, 1_000_000_000)],
            &[term(0, 2_000, 100)],
        );
        assert_eq!(invoice.lines.len(), 1);
        assert_eq!(invoice.total_minor_units, 20_000);
    }
}
