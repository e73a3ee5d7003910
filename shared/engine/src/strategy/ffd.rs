//! Cost-aware first-fit decreasing with pool choice. Nodes open as the offering with the least
//! price per pod of the class being placed (on problems of up to [`TWO_ENVELOPES_UP_TO`] pods,
//! also as the most cost-efficient offering at the LP's resource prices, keeping the better
//! result), pods fill them largest first, zone-spread groups send their smallest pods to their
//! dearest zones, every node then shrinks to the cheapest offering that holds its pods, free pods
//! move into slack, and the policy's node rules are met at the least extra cost.

use super::Strategy;
use crate::model::{Problem, Solution};
use crate::pack::{EnvelopeChoice, PackOptions, Packed, Prepared, prepare, run};

/// Up to this many pods the strategy packs with both envelope choices and keeps the better.
pub const TWO_ENVELOPES_UP_TO: usize = 5_000;

#[derive(Debug, Clone, Copy, Default)]
pub struct CostAwareFfd;

pub(crate) fn options(envelope: EnvelopeChoice) -> PackOptions {
    PackOptions {
        envelope,
        shrink: true,
        use_slack: true,
    }
}

/// The better of the strategy's packing passes (the bound is left to the caller, computed once).
pub(crate) fn pack_best(problem: &Problem, prep: &Prepared) -> Packed {
    let per_pod = run(problem, prep, options(EnvelopeChoice::PerPod), None);
    if problem.pods.len() > TWO_ENVELOPES_UP_TO {
        return per_pod;
    }
    let efficient = run(problem, prep, options(EnvelopeChoice::Efficient), None);
    if efficient.better_than(&per_pod) {
        efficient
    } else {
        per_pod
    }
}

impl Strategy for CostAwareFfd {
    fn name(&self) -> &'static str {
        "cost-aware-ffd"
    }

    fn solve(&self, problem: &Problem) -> Solution {
        let prep = prepare(problem);
        let packed = pack_best(problem, &prep);
        let lower = prep.bound_for(problem, &packed, None);
        packed.into_solution(problem, lower, self.name())
    }
}
