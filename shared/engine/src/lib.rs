//! The optimizer's pure engine: no I/O, no clock, no randomness outside seeded scenarios.
//!
//! - [`solve`]: choose instance type x zone x capacity type and counts so every pod fits, at the
//!   least hourly cost the live strategy finds, within the policy; unplaceable pods come back with
//!   a reason. Every solution carries an LP lower bound and the gap to it.
//! - [`validate`]: an independent check of a solution (capacity, constraints, policy, accounting).
//! - [`plan()`], [`consolidate`], [`respond_to_interruption`]: safe, ordered steps from the nodes
//!   that exist to a target.
//! - [`strategy`]: strategies behind one trait; [`scenarios`] and [`bench_report`]: benchmarks.

mod admission;
mod architectures;
mod bench;
mod bitset;
mod carry_out;
mod catalog_offerings;
mod classes;
mod compliance;
mod config_lp;
mod consolidation;
mod deletion_cost;
mod dump;
mod emptying;
mod explain;
mod fallback;
mod interruption;
mod labels;
pub mod lower_bound;
pub mod model;
mod pack;
mod paying_consolidation;
mod pinned;
mod plan;
mod pool_filter;
mod preferences;
mod provisioning;
pub mod scenarios;
pub mod scheduler_sim;
mod simplex;
pub mod strategy;
mod validate;

pub use admission::is_admitted;
pub use architectures::{architectures_in_use, keep_architectures_in_use};
pub use bench::bench_report;
pub use carry_out::{Replay, SafePlan, Stranded, carry_out_safely, remove_underused, replay};
pub use catalog_offerings::{
    DEFAULT_ROOT_VOLUME_GIB, ephemeral_storage_allocatable_mib, offerings_in,
};
pub use compliance::{Breach, Held, Rule, breaches, breaches_after, fleet_breaches};
pub use consolidation::{Consolidation, consolidate, remove_empty_nodes};
pub use deletion_cost::pod_deletion_costs;
pub use dump::dump_json;
pub use emptying::{EMPTYING_TAINT_KEY, emptying_taint, nodes_to_empty};
pub use fallback::{FALLBACK_PRICE_MARGIN_PERCENT, MAX_FALLBACK_POOLS, fallback_instance_types};
pub use interruption::{Interrupted, respond_to_interruption};
pub use labels::requirement_holds;
pub use model::*;
pub use paying_consolidation::{
    MIN_MONTHLY_SAVING_PER_MOVED_NODE_USD, MOVE_OVERLAP_HOURS, MOVE_PAYBACK_HOURS,
    PayingConsolidation, Verdict, paying_consolidation,
};
pub use pinned::{
    NEW_NODE_SETTLES_MS, count_pinned, describe_pinned, set_aside_do_not_disrupt, set_aside_pinned,
};
pub use plan::{DisruptionBudget, HOURS_PER_MONTH, Plan, Step, StepAction, plan};
pub use pool_filter::PoolFilter;
pub use preferences::PREFERENCE_COST_TOLERANCE_PERCENT;
pub use provisioning::{Provisioning, provision};
pub use validate::{Violation, validate};

/// Solves with the live strategy.
pub fn solve(problem: &Problem) -> Solution {
    preferences::solve_with_preferences(problem, |p| strategy::live().solve(p))
}
