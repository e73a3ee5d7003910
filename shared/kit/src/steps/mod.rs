//! The one durable step runner. Multi-step work on a cluster (a plan, a hibernation, an
//! interruption response, any later workflow) is a [`Run`]: a stored list of steps with their
//! state. The runner executes the steps in order through the cluster service's execution router
//! and stores every step's progress before and after it acts, so a run picks up where it stopped
//! after a crash, on any replica:
//!
//! - Each run has a lease (holder and expiry on its row), renewed while it runs; every write is
//!   fenced by it. Each replica's sweeper takes over runs whose lease lapsed (their holder died).
//! - A step executes at most once in effect: a launch carries the step's id as its client token
//!   (the cloud answers a repeated launch with the instances of the first), an agent action keeps
//!   the outbox id chosen before its first send (the router stores it once, the agent dedupes by
//!   id), and a termination keeps the instance it looked up.
//! - Waiting for new nodes listens to the cluster's updates on the bus; the poll is only a slow
//!   fallback for a lost message.
//!
//! A workflow translates its own shape into steps, and back on every change ([`Workflow`]), so
//! what users see (`GetPlan`, `WatchPlan`, `ListHibernationRuns`) keeps its shape.

mod entity;
mod model;
mod runner;
mod store;

pub use model::{NodeSetup, PoolSpec, Run, RunState, Step, StepKind, StepStatus};
pub use runner::{RunnerSettings, StepRunner, Workflow};
pub use store::RunStore;
