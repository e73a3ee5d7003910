//! The live strategy: cost-aware first-fit decreasing with pool choice. Nodes open as the most
//! cost-efficient offering at the LP's resource prices, pods fill them largest first, every node
//! then shrinks to the cheapest offering that holds its pods, free pods move into slack, and the
//! policy's node rules are met at the least extra cost.

use super::Strategy;
use crate::model::{Problem, Solution};
use crate::pack::{EnvelopeChoice, PackOptions, pack};

#[derive(Debug, Clone, Copy, Default)]
pub struct CostAwareFfd;

impl Strategy for CostAwareFfd {
    fn name(&self) -> &'static str {
        "cost-aware-ffd"
    }

    fn solve(&self, problem: &Problem) -> Solution {
        let options = PackOptions {
            envelope: EnvelopeChoice::Efficient,
            shrink: true,
            use_slack: true,
        };
        pack(problem, options, self.name())
    }
}
