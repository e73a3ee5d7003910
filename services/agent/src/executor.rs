//! What runs an action in the cluster. The session hands every new action to an executor exactly
//! once (it dedupes redeliveries by id); the Kubernetes executor is the real one, tests use fakes.

use spot_proto::agent::v1::{Action, ActionOutcome};

/// The outcome of one action, as reported to the control plane.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub outcome: ActionOutcome,
    pub message: String,
}

impl Outcome {
    pub fn succeeded(message: impl Into<String>) -> Self {
        Self {
            outcome: ActionOutcome::Succeeded,
            message: message.into(),
        }
    }

    pub fn failed(message: impl Into<String>) -> Self {
        Self {
            outcome: ActionOutcome::Failed,
            message: message.into(),
        }
    }

    pub fn timed_out(message: impl Into<String>) -> Self {
        Self {
            outcome: ActionOutcome::TimedOut,
            message: message.into(),
        }
    }
}

#[async_trait::async_trait]
pub trait Executor: Send + Sync + 'static {
    /// Runs the action until it succeeds, fails for good, or its deadline passes.
    async fn execute(&self, action: Action) -> Outcome;
}
