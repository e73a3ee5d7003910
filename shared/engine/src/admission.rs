//! Which offerings the policy lets the solver use for new capacity. The caller has already applied
//! the pool allow/deny lists (families, categories, architectures, generation); this applies what
//! depends on live data: interruption buckets, risk flags, price caps, and sanity of the numbers.
//! The validator uses the same predicate, so "admitted" means one thing everywhere.

use std::collections::HashSet;

use crate::model::{CapacityType, Offering, Policy, PoolRef, Problem};

/// Why an offering is not admitted, for the "policy admits no instance type" explanation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rejection {
    InvalidNumbers,
    InterruptionBucket,
    RiskFlag,
    PriceCap,
}

impl Rejection {
    pub fn text(self) -> &'static str {
        match self {
            Rejection::InvalidNumbers => "invalid price or allocatable resources",
            Rejection::InterruptionBucket => "spot interruption bucket above the policy's maximum",
            Rejection::RiskFlag => "spot pool has an active risk flag",
            Rejection::PriceCap => "price per vCPU-hour above the policy's cap",
        }
    }
}

/// The admitted offerings (indices into the problem) and a count per rejection reason.
#[derive(Debug, Clone, Default)]
pub struct Admission {
    pub admitted: Vec<usize>,
    pub rejected: Vec<(Rejection, usize)>,
}

pub fn admit(problem: &Problem) -> Admission {
    let flagged = flagged_pools(problem);
    let mut admission = Admission::default();
    for (index, offering) in problem.offerings.iter().enumerate() {
        match rejection(offering, &problem.policy, &flagged) {
            None => admission.admitted.push(index),
            Some(reason) => match admission.rejected.iter_mut().find(|(r, _)| *r == reason) {
                Some((_, count)) => *count += 1,
                None => admission.rejected.push((reason, 1)),
            },
        }
    }
    admission
}

pub fn is_admitted(offering: &Offering, problem: &Problem) -> bool {
    let flagged = flagged_pools(problem);
    rejection(offering, &problem.policy, &flagged).is_none()
}

fn flagged_pools(problem: &Problem) -> HashSet<(&str, &str)> {
    problem
        .risk_flags
        .iter()
        .map(|p: &PoolRef| (p.instance_type.as_str(), p.zone.as_str()))
        .collect()
}

/// Why the policy alone (not risk flags) keeps new capacity off this offering, if it does.
pub(crate) fn rejection_of(offering: &Offering, policy: &Policy) -> Option<Rejection> {
    rejection(offering, policy, &HashSet::new())
}

fn rejection(
    offering: &Offering,
    policy: &Policy,
    flagged: &HashSet<(&str, &str)>,
) -> Option<Rejection> {
    let a = &offering.allocatable;
    if !offering.price_per_hour.is_finite()
        || offering.price_per_hour < 0.0
        || a.cpu_m <= 0
        || a.memory_mib <= 0
        || a.pods <= 0
        || a.gpus < 0
        || a.ephemeral_storage_mib < 0
    {
        return Some(Rejection::InvalidNumbers);
    }
    if offering.capacity_type == CapacityType::Spot {
        if let Some(max) = policy.max_interruption_bucket
            && offering.interruption_bucket.is_none_or(|b| b > max)
        {
            return Some(Rejection::InterruptionBucket);
        }
        if flagged.contains(&(offering.instance_type.as_str(), offering.zone.as_str())) {
            return Some(Rejection::RiskFlag);
        }
    }
    if let Some(cap) = policy.max_price_per_vcpu_hour
        && (offering.vcpus == 0 || offering.price_per_hour / f64::from(offering.vcpus) > cap)
    {
        return Some(Rejection::PriceCap);
    }
    None
}
