use std::collections::BTreeMap;
use std::fmt;

use crate::{LaunchSpec, NodeClass, NodeClassError};

/// A spot capacity pool: the unit AWS prices and interrupts.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pool {
    pub region: String,
    pub zone: String,
    pub instance_type: String,
}

impl fmt::Display for Pool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.zone, self.instance_type)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CapacityType {
    OnDemand,
    Spot,
}

/// A type offered in a zone.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Offering {
    pub zone: String,
    pub instance_type: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SpotPrice {
    pub pool: Pool,
    pub usd_per_hour: f64,
    /// Unix seconds of the price point.
    pub at: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstanceState {
    Pending,
    Running,
    /// A spot interruption notice was given; AWS reclaims it at the notice's deadline.
    MarkedForInterruption,
    Terminated,
}

/// The tag the platform puts on every instance it launches for a cluster (its id): how a
/// cluster's machines are found again, in the simulated cloud as on EC2.
pub const CLUSTER_ID_TAG: &str = "spot-optimizer/cluster-id";

/// The tag on everything the platform creates in an account; the permission policy allows
/// launches only with it, and terminations and template deletions only of what carries it.
pub const MANAGED_TAG: &str = "spot-optimizer/managed";

/// The tag naming the client token a launch carried: which step launched an instance.
pub const LAUNCH_TOKEN_TAG: &str = "spot-optimizer/launch-token";

#[derive(Debug, Clone, PartialEq)]
pub struct Instance {
    pub id: String,
    pub pool: Pool,
    pub capacity_type: CapacityType,
    pub state: InstanceState,
    pub tags: BTreeMap<String, String>,
    /// Unix seconds.
    pub launched_at: i64,
}

/// Launch `count` instances of one capacity type from `pools`, in their order of preference: a
/// pool only when the ones before it are short (a fleet's prioritized strategies).
#[derive(Debug, Clone, PartialEq)]
pub struct LaunchRequest {
    pub region: String,
    pub pools: Vec<Pool>,
    pub capacity_type: CapacityType,
    pub count: u32,
    pub tags: BTreeMap<String, String>,
    /// How the nodes boot: the cluster's node class resolved in the account. EC2 needs it; the
    /// simulated cloud does not.
    pub spec: Option<crate::LaunchSpec>,
    /// Idempotency: a launch repeated with the token of an earlier one launches nothing more and
    /// answers with what the first one launched (EC2's `ClientToken`). `None`: every call launches.
    pub client_token: Option<String>,
}

/// Why a pool gave no (or not all) capacity.
#[derive(Debug, Clone, PartialEq)]
pub struct LaunchFailure {
    pub pool: Pool,
    /// e.g. InsufficientInstanceCapacity.
    pub code: String,
    pub message: String,
}

/// What a launch gave: possibly fewer instances than asked, with a failure per pool that fell short.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LaunchResult {
    pub instances: Vec<Instance>,
    pub failures: Vec<LaunchFailure>,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CloudError {
    #[error("invalid `{field}`: {reason}")]
    InvalidArgument { field: &'static str, reason: String },
    #[error("the cloud refused the credentials: {0}")]
    AccessDenied(String),
    #[error("the cloud is throttling requests; retried without success: {0}")]
    Throttled(String),
    #[error("the cloud is unreachable: {0}")]
    Unavailable(String),
}

/// The narrow contract the platform needs from a cloud. One implementation per account and region
/// set; every method is safe to retry.
#[async_trait::async_trait]
pub trait CloudProvider: Send + Sync {
    /// The regions enabled in the account. A real call: it proves the credentials work.
    async fn regions(&self) -> Result<Vec<String>, CloudError>;

    /// The instance types the region sells (names), to check the embedded catalog against.
    async fn instance_types(&self, region: &str) -> Result<Vec<String>, CloudError>;

    /// Which types each zone of `region` offers.
    async fn offerings(&self, region: &str) -> Result<Vec<Offering>, CloudError>;

    /// The latest spot price of every pool in `region`.
    async fn spot_prices(&self, region: &str) -> Result<Vec<SpotPrice>, CloudError>;

    async fn launch(&self, request: LaunchRequest) -> Result<LaunchResult, CloudError>;

    async fn terminate(&self, region: &str, instance_ids: &[String]) -> Result<(), CloudError>;

    /// Instances (not terminated) that carry the tag key `tag_key`.
    async fn instances_tagged(
        &self,
        region: &str,
        tag_key: &str,
    ) -> Result<Vec<Instance>, CloudError>;

    /// Checks `class` against the account (subnets and groups exist in the cluster's VPC, the
    /// images exist with the right architecture, the profile exists) and resolves it into what
    /// a launch of `cluster_name`'s nodes uses.
    async fn resolve_node_class(
        &self,
        region: &str,
        cluster_name: &str,
        class: &NodeClass,
    ) -> Result<LaunchSpec, NodeClassError>;

    /// A starting node class for `cluster_name`, derived from its current nodes.
    async fn import_node_class(
        &self,
        region: &str,
        cluster_name: &str,
    ) -> Result<NodeClass, NodeClassError>;
}
