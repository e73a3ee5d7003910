//! The live strategy: cost-aware first-fit decreasing with pool choice. Nodes open as the offering
//! with the least price per pod of the class being placed (on problems of up to
//! [`TWO_ENVELOPES_UP_TO`] pods, also as the most cost-efficient offering at the LP's resource
//! prices, keeping the better result), pods fill them largest first, zone-spread groups send their
//! smallest pods to their dearest zones, every node then shrinks to the cheapest offering that
//! holds its pods, free pods move into slack, and the policy's node rules are met at the least
//! extra cost.

use super::Strategy;
use crate::model::{Problem, Solution};
use crate::pack::{EnvelopeChoice, PackOptions, pack};

/// Up to this many pods the strategy packs with both envelope choices and keeps the better.
pub const TWO_ENVELOPES_UP_TO: usize = 5_000;

#[derive(Debug, Clone, Copy, Default)]
pub struct CostAwareFfd;

impl Strategy for CostAwareFfd {
    fn name(&self) -> &'static str {
        "cost-aware-ffd"
    }

    fn solve(&self, problem: &Problem) -> Solution {
        let options = |envelope| PackOptions {
            envelope,
            shrink: true,
            use_slack: true,
        };
        let per_pod = pack(problem, options(EnvelopeChoice::PerPod), self.name());
        if problem.pods.len() > TWO_ENVELOPES_UP_TO {
            return per_pod;
        }
        let efficient = pack(problem, options(EnvelopeChoice::Efficient), self.name());
        let key = |s: &Solution| (s.unschedulable.len(), s.notes.len());
        let better = key(&efficient) < key(&per_pod)
            || (key(&efficient) == key(&per_pod)
                && efficient.cost_per_hour < per_pod.cost_per_hour);
        if better { efficient } else { per_pod }
    }
}
