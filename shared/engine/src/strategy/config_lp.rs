//! LP-guided packing: the configuration LP's solution (see `config_lp`), rounded down, opens the
//! first nodes, each filled with exactly its configuration's pod counts; the cost-aware packer
//! places the rest, every node shrinks to the cheapest offering that holds it, and the policy
//! repair runs as usual (see `pack::guided`). The result is kept only when it beats the plain
//! cost-aware packing (fewer unplaced pods, fewer policy notes, then cheaper) and the validator
//! finds nothing wrong with it; otherwise the plain packing is returned. Where the configuration
//! LP is not solved (hostname anti-affinity dominates the covering bound, too many item kinds),
//! this is exactly the cost-aware strategy. The bounds are computed once per solve and shared.

use super::Strategy;
use super::ffd::{self, pack_best};
use crate::model::{Problem, Solution};
use crate::pack::{EnvelopeChoice, prepare, run};
use crate::validate::validate;

#[derive(Debug, Clone, Copy, Default)]
pub struct LpGuided;

impl Strategy for LpGuided {
    fn name(&self) -> &'static str {
        "lp-guided-ffd"
    }

    fn solve(&self, problem: &Problem) -> Solution {
        let prep = prepare(problem);
        let bounds = prep.solve_bounds(problem);
        let plain = pack_best(problem, &prep);
        if let Some(lp) = bounds.config.as_ref().filter(|lp| !lp.configs.is_empty()) {
            let guided = run(
                problem,
                &prep,
                ffd::options(EnvelopeChoice::PerPod),
                Some(lp),
            );
            if guided.better_than(&plain) {
                let lower = prep.bound_for(problem, &guided, Some(&bounds));
                let solution = guided.into_solution(problem, lower, self.name());
                if validate(problem, &solution).is_empty() {
                    return solution;
                }
            }
        }
        let lower = prep.bound_for(problem, &plain, Some(&bounds));
        plain.into_solution(problem, lower, self.name())
    }
}
