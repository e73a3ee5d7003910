//! LP-guided packing: the configuration LP's solution (see `config_lp`), rounded down, opens the
//! first nodes, each filled with exactly its configuration's pod counts; the cost-aware packer
//! places the rest, every node shrinks to the cheapest offering that holds it, and the policy
//! repair runs as usual (see `pack::guided`). The result is kept only when it beats the plain
//! cost-aware packing (fewer unplaced pods, fewer policy notes, then cheaper) and the validator
//! finds nothing wrong with it; otherwise the plain packing is returned. Where the configuration
//! LP is not solved (hostname anti-affinity dominates the covering bound, too many item kinds),
//! this is exactly the cost-aware strategy. The bounds are computed once per solve and shared; the
//! plain packing runs on a second thread beside the bounds and the guided pass.

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
        // The plain packing does not need the bounds: it runs beside them and the guided pass.
        let (plain, bounds, guided) = std::thread::scope(|scope| {
            let plain = scope.spawn(|| pack_best(problem, &prep));
            let bounds = prep.solve_bounds(problem);
            let guided = bounds
                .config
                .as_ref()
                .filter(|lp| !lp.configs.is_empty())
                .map(|lp| {
                    run(
                        problem,
                        &prep,
                        ffd::options(EnvelopeChoice::PerPod),
                        Some(lp),
                    )
                });
            let plain = plain
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            (plain, bounds, guided)
        });
        if let Some(guided) = guided
            && guided.better_than(&plain)
        {
            let lower = prep.bound_for(problem, &guided, Some(&bounds));
            let solution = guided.into_solution(problem, lower, self.name());
            if validate(problem, &solution).is_empty() {
                return solution;
            }
        }
        let lower = prep.bound_for(problem, &plain, Some(&bounds));
        plain.into_solution(problem, lower, self.name())
    }
}
