//! Strategies behind one small trait, so the lab can run a candidate next to the live one on the
//! same problems and compare cost, gap and speed.

mod cheapest_per_pod;
mod config_lp;
mod ffd;

pub use cheapest_per_pod::CheapestPerPod;
pub use config_lp::LpGuided;
pub use ffd::CostAwareFfd;

use crate::model::{Problem, Solution};

pub trait Strategy: Send + Sync {
    /// A stable name, reported in every solution.
    fn name(&self) -> &'static str;
    fn solve(&self, problem: &Problem) -> Solution;
}

/// The strategy the service runs.
pub fn live() -> &'static dyn Strategy {
    &LpGuided
}

/// Every strategy, live first.
pub fn all() -> [&'static dyn Strategy; 3] {
    [&LpGuided, &CostAwareFfd, &CheapestPerPod]
}

/// The strategy with this name.
pub fn by_name(name: &str) -> Option<&'static dyn Strategy> {
    all().into_iter().find(|s| s.name() == name)
}
