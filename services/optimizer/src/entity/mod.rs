//! sea-orm entities of the optimizer's tables. Times are unix milliseconds.

pub mod cost_samples;
pub mod plan_problems;
pub mod plans;
