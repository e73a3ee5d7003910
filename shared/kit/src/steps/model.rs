//! A run as stored: its steps, each with what it must do and what it did so far. Plain data,
//! serialized into the run's row; every workflow (plans, hibernation, interruption responses)
//! translates its own shape into these steps and back.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A capacity pool a launch may draw from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolSpec {
    pub zone: String,
    pub instance_type: String,
}

/// Labels and taints the nodes of one launch step's instances get before any pod moves to them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeSetup {
    /// The index of the launch step in its run.
    pub launch_step: usize,
    pub labels: BTreeMap<String, String>,
    /// `spot.common.v1.Taint`s as (key, value, effect number).
    pub taints: Vec<(String, String, i32)>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StepKind {
    /// Launches `count` instances from the pools; the step's id is the launch's client token.
    Launch {
        pools: Vec<PoolSpec>,
        /// `spot.common.v1.CapacityType` as its number.
        capacity_type: i32,
        count: u32,
    },
    /// Every instance the run launched so far is a ready node; then each gets the set-up of its
    /// pool.
    WaitReady {
        setup: Vec<NodeSetup>,
        /// When set, the run goes on at this time (unix millis) with the nodes that are ready
        /// then, rather than waiting for all of them.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        go_ahead_at_millis: Option<i64>,
    },
    Cordon {
        node: String,
    },
    Drain {
        node: String,
    },
    /// Terminates the node's instance (looked up once, then kept in `instance_ids`).
    Terminate {
        node: String,
    },
    /// Terminates the instances that never joined the cluster (they would run, unused, forever).
    Release {
        instance_ids: Vec<String>,
    },
    /// A step the workflow could not translate: fails with this reason.
    Invalid {
        reason: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    #[default]
    Pending,
    Running,
    Succeeded,
    Failed,
    Skipped,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    /// `<run id>-<index>`: stable across retries, the launch's client token.
    pub id: String,
    #[serde(flatten)]
    pub kind: StepKind,
    #[serde(default)]
    pub status: StepStatus,
    /// What it did, or why it failed.
    #[serde(default)]
    pub message: String,
    /// Launched (launch), or terminated (terminate, release).
    #[serde(default)]
    pub instance_ids: Vec<String>,
    /// The outbox ids of the agent actions this step sent, by what they do (`drain`,
    /// `label/<node>`, ...): chosen before the first send and reused by every retry.
    #[serde(default)]
    pub action_ids: BTreeMap<String, String>,
    /// How many times it was started (more than one: resumed after a crash).
    #[serde(default)]
    pub attempts: u32,
}

impl Step {
    pub fn new(kind: StepKind) -> Self {
        Self {
            id: String::new(),
            kind,
            status: StepStatus::Pending,
            message: String::new(),
            instance_ids: Vec::new(),
            action_ids: BTreeMap::new(),
            attempts: 0,
        }
    }

    /// The step kind's name as workflows show it.
    pub fn kind_name(&self) -> &'static str {
        match self.kind {
            StepKind::Launch { .. } => "launch",
            StepKind::WaitReady { .. } => "wait_ready",
            StepKind::Cordon { .. } => "cordon",
            StepKind::Drain { .. } => "drain",
            StepKind::Terminate { .. } => "terminate",
            StepKind::Release { .. } => "release",
            StepKind::Invalid { .. } => "invalid",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    #[default]
    Running,
    Succeeded,
    Failed,
    /// Safe mode or a dry-run refused a step: nothing of it left the platform.
    Refused,
}

impl RunState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Refused => "refused",
        }
    }

    pub fn is_final(self) -> bool {
        self != Self::Running
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Run {
    /// The workflow's own id for it (the plan's, the hibernation run's).
    pub id: String,
    /// Which workflow owns it: only that workflow's runners take it up.
    pub workflow: String,
    pub tenant_id: String,
    pub cluster_id: String,
    /// Running until it ends; a failed or refused run's reason is its failed step's message.
    #[serde(default)]
    pub state: RunState,
    pub steps: Vec<Step>,
    /// How the run ends, once a step ended it early and its clean-up (the release) still runs.
    #[serde(default)]
    pub ending: Option<RunState>,
    /// After a failure, terminate what the run launched that never joined (a wake that could
    /// not finish must not leave instances running that no node stands for).
    #[serde(default)]
    pub release_on_failure: bool,
    /// The run answers an interruption: the nodes it drains go anyway (AWS takes them back). A
    /// failed launch does not end it (the steps after it go on without that capacity, and the
    /// run ends failed, naming the launch), and a cluster that could not launch again does not
    /// hold it back.
    #[serde(default)]
    pub interrupted: bool,
}

impl Run {
    /// A new run of the steps; each step gets its stable id.
    pub fn new(
        workflow: &str,
        id: &str,
        tenant_id: &str,
        cluster_id: &str,
        steps: Vec<StepKind>,
    ) -> Self {
        let mut run = Self {
            id: id.to_owned(),
            workflow: workflow.to_owned(),
            tenant_id: tenant_id.to_owned(),
            cluster_id: cluster_id.to_owned(),
            state: RunState::Running,
            steps: Vec::new(),
            ending: None,
            release_on_failure: false,
            interrupted: false,
        };
        for kind in steps {
            run.push(kind);
        }
        run
    }

    pub fn push(&mut self, kind: StepKind) {
        let mut step = Step::new(kind);
        step.id = format!("{}-{}", self.id, self.steps.len());
        self.steps.push(step);
    }

    /// The step that ended the run early, if one did.
    pub fn failed_step(&self) -> Option<usize> {
        self.steps
            .iter()
            .position(|s| s.status == StepStatus::Failed)
    }

    /// Every instance the run's launch steps launched, in order.
    pub fn launched(&self) -> Vec<String> {
        self.steps
            .iter()
            .filter(|s| matches!(s.kind, StepKind::Launch { .. }))
            .flat_map(|s| s.instance_ids.iter().cloned())
            .collect()
    }
}
