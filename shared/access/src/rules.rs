//! Authorization as data: for every RPC of every service, who may call it and whether it changes
//! anything (mutating calls are audited). An RPC missing from this table is refused, and a test
//! that enumerates the descriptor sets fails until it has an entry.

use crate::Role;

/// Who may call an RPC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, without credentials (sign-up, login, the JWKS).
    Public,
    /// A user of the tenant (or an automation key) with at least this role.
    Tenant(Role),
    /// The agent key of a cluster.
    Agent,
    /// A user or automation key with the admin role or higher, or the tenant's EventBridge
    /// intake key (which may call nothing else).
    EventIntake,
    /// A platform admin.
    PlatformAdmin,
    /// Any service of the platform, with the internal credential (the access layer's own calls:
    /// API-key checks and audit records, made by every service).
    Internal,
    /// Only these services of the platform, each calling with a credential in its own name: a
    /// service that has no business with an RPC (the optimizer issuing agent keys) is refused.
    InternalFrom(&'static [&'static str]),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub access: Access,
    /// Changes state: every call is recorded in the audit trail.
    pub mutating: bool,
}

const fn read(access: Access) -> Rule {
    Rule {
        access,
        mutating: false,
    }
}

const fn write(access: Access) -> Rule {
    Rule {
        access,
        mutating: true,
    }
}

use Access::{Agent, EventIntake, Internal, InternalFrom, PlatformAdmin, Public, Tenant};
use Role::{Admin, Member, Owner, Viewer};

/// `package.Service/Method` -> rule. Keep grouped by service, in proto order.
pub const RULES: &[(&str, Rule)] = &[
    // spot.auth.v1
    ("spot.auth.v1.AuthService/SignUp", write(Public)),
    ("spot.auth.v1.AuthService/VerifyEmail", write(Public)),
    (
        "spot.auth.v1.AuthService/ResendVerificationEmail",
        write(Public),
    ),
    ("spot.auth.v1.AuthService/Login", write(Public)),
    ("spot.auth.v1.AuthService/Refresh", read(Public)),
    ("spot.auth.v1.AuthService/Logout", write(Public)),
    ("spot.auth.v1.AuthService/Me", read(Tenant(Viewer))),
    (
        "spot.auth.v1.AuthService/ChangePassword",
        write(Tenant(Viewer)),
    ),
    (
        "spot.auth.v1.AuthService/SwitchTenant",
        write(Tenant(Viewer)),
    ),
    ("spot.auth.v1.AuthService/GetJwks", read(Public)),
    ("spot.auth.v1.AuthService/VerifyApiKey", read(Internal)),
    ("spot.auth.v1.UserService/InviteUser", write(Tenant(Admin))),
    ("spot.auth.v1.UserService/ListUsers", read(Tenant(Viewer))),
    (
        "spot.auth.v1.UserService/ChangeUserRole",
        write(Tenant(Admin)),
    ),
    ("spot.auth.v1.UserService/RemoveUser", write(Tenant(Admin))),
    ("spot.auth.v1.UserService/AcceptInvite", write(Public)),
    (
        "spot.auth.v1.ApiKeyService/CreateApiKey",
        write(Tenant(Admin)),
    ),
    (
        "spot.auth.v1.ApiKeyService/ListApiKeys",
        read(Tenant(Admin)),
    ),
    (
        "spot.auth.v1.ApiKeyService/RevokeApiKey",
        write(Tenant(Admin)),
    ),
    (
        "spot.auth.v1.ApiKeyService/IssueAgentKey",
        write(InternalFrom(&["cluster"])),
    ),
    (
        "spot.auth.v1.AuditService/ListAuditEvents",
        read(Tenant(Admin)),
    ),
    // Not audited itself: it is how audit records arrive.
    (
        "spot.auth.v1.AuditService/RecordAuditEvents",
        read(Internal),
    ),
    (
        "spot.auth.v1.NotificationService/ListNotifications",
        read(Tenant(Viewer)),
    ),
    (
        "spot.auth.v1.NotificationService/MarkNotificationRead",
        write(Tenant(Viewer)),
    ),
    (
        "spot.auth.v1.AdminService/GetSystemHealth",
        read(PlatformAdmin),
    ),
    ("spot.auth.v1.AdminService/ListTenants", read(PlatformAdmin)),
    (
        "spot.auth.v1.AdminService/GetSystemConfig",
        read(PlatformAdmin),
    ),
    (
        "spot.auth.v1.AdminService/UpdateSystemConfig",
        write(PlatformAdmin),
    ),
    (
        "spot.auth.v1.AdminService/RotateSigningKey",
        write(PlatformAdmin),
    ),
    // spot.agent.v1: actions on the stream are audited one by one where they are created.
    ("spot.agent.v1.AgentService/Session", read(Agent)),
    // spot.cluster.v1
    (
        "spot.cluster.v1.ClusterService/RegisterCluster",
        write(Tenant(Admin)),
    ),
    (
        "spot.cluster.v1.ClusterService/ListClusters",
        read(Tenant(Viewer)),
    ),
    (
        "spot.cluster.v1.ClusterService/GetCluster",
        read(Tenant(Viewer)),
    ),
    (
        "spot.cluster.v1.ClusterService/ListNodes",
        read(Tenant(Viewer)),
    ),
    (
        "spot.cluster.v1.ClusterService/ListPods",
        read(Tenant(Viewer)),
    ),
    (
        "spot.cluster.v1.ClusterService/GetAgentStatus",
        read(Tenant(Viewer)),
    ),
    (
        "spot.cluster.v1.ClusterService/ListClusterEvents",
        read(Tenant(Viewer)),
    ),
    (
        "spot.cluster.v1.ClusterService/WatchCluster",
        read(Tenant(Viewer)),
    ),
    (
        "spot.cluster.v1.ClusterService/ListActions",
        read(Tenant(Viewer)),
    ),
    (
        "spot.cluster.v1.ClusterService/WatchActions",
        read(Tenant(Viewer)),
    ),
    (
        "spot.cluster.v1.ClusterService/SubmitAction",
        write(Tenant(Member)),
    ),
    (
        "spot.cluster.v1.ClusterService/SetClusterDryRun",
        write(Tenant(Admin)),
    ),
    (
        "spot.cluster.v1.ExecutionService/ExecuteStep",
        write(InternalFrom(&["optimizer", "policy"])),
    ),
    (
        "spot.cluster.v1.ExecutionService/CheckCanLaunch",
        read(InternalFrom(&["optimizer", "policy"])),
    ),
    (
        "spot.cluster.v1.FleetService/GetClusterState",
        read(InternalFrom(&["auth", "optimizer", "policy", "risk"])),
    ),
    (
        "spot.cluster.v1.FleetService/ForwardCloudNotice",
        write(InternalFrom(&["risk"])),
    ),
    (
        "spot.cluster.v1.FleetService/GetFleetExposure",
        read(InternalFrom(&["risk"])),
    ),
    (
        "spot.cluster.v1.FleetService/GetSpotPrices",
        read(InternalFrom(&["optimizer"])),
    ),
    (
        "spot.cluster.v1.FleetService/CountClusters",
        read(InternalFrom(&["auth", "billing"])),
    ),
    (
        "spot.cluster.v1.AccountService/GetLinkInstructions",
        read(Tenant(Admin)),
    ),
    (
        "spot.cluster.v1.AccountService/LinkAwsAccount",
        write(Tenant(Admin)),
    ),
    (
        "spot.cluster.v1.AccountService/VerifyAwsAccount",
        write(Tenant(Admin)),
    ),
    (
        "spot.cluster.v1.AccountService/ListAwsAccounts",
        read(Tenant(Viewer)),
    ),
    (
        "spot.cluster.v1.AccountService/UnlinkAwsAccount",
        write(Tenant(Admin)),
    ),
    (
        "spot.cluster.v1.AccountService/DiscoverClusters",
        write(Tenant(Admin)),
    ),
    (
        "spot.cluster.v1.AccountService/AdoptCluster",
        write(Tenant(Admin)),
    ),
    (
        "spot.cluster.v1.NodeClassService/GetNodeClass",
        read(Tenant(Viewer)),
    ),
    (
        "spot.cluster.v1.NodeClassService/ListNodeClasses",
        read(Tenant(Viewer)),
    ),
    (
        "spot.cluster.v1.NodeClassService/CreateNodeClass",
        write(Tenant(Admin)),
    ),
    (
        "spot.cluster.v1.NodeClassService/UpdateNodeClass",
        write(Tenant(Admin)),
    ),
    (
        "spot.cluster.v1.NodeClassService/DeleteNodeClass",
        write(Tenant(Admin)),
    ),
    (
        "spot.cluster.v1.NodeClassService/ValidateNodeClass",
        read(Tenant(Viewer)),
    ),
    (
        "spot.cluster.v1.CatalogService/ListInstanceTypes",
        read(Tenant(Viewer)),
    ),
    (
        "spot.cluster.v1.CatalogService/GetInstanceType",
        read(Tenant(Viewer)),
    ),
    (
        "spot.cluster.v1.CatalogService/ListPoolPrices",
        read(Tenant(Viewer)),
    ),
    // spot.policy.v1
    (
        "spot.policy.v1.PolicyService/GetPolicy",
        read(Tenant(Viewer)),
    ),
    (
        "spot.policy.v1.PolicyService/UpdatePolicy",
        write(Tenant(Admin)),
    ),
    (
        "spot.policy.v1.PolicyService/ValidatePolicy",
        read(Tenant(Viewer)),
    ),
    (
        "spot.policy.v1.PolicyService/PreviewPolicy",
        read(Tenant(Viewer)),
    ),
    (
        "spot.policy.v1.PolicyService/ListPolicyVersions",
        read(Tenant(Viewer)),
    ),
    (
        "spot.policy.v1.PolicyService/RollbackPolicy",
        write(Tenant(Admin)),
    ),
    (
        "spot.policy.v1.PolicyService/ResolvePolicy",
        read(InternalFrom(&["optimizer", "cluster"])),
    ),
    (
        "spot.policy.v1.NodeTemplateService/CreateNodeTemplate",
        write(Tenant(Admin)),
    ),
    (
        "spot.policy.v1.NodeTemplateService/GetNodeTemplate",
        read(Tenant(Viewer)),
    ),
    (
        "spot.policy.v1.NodeTemplateService/ListNodeTemplates",
        read(Tenant(Viewer)),
    ),
    (
        "spot.policy.v1.NodeTemplateService/UpdateNodeTemplate",
        write(Tenant(Admin)),
    ),
    (
        "spot.policy.v1.NodeTemplateService/DeleteNodeTemplate",
        write(Tenant(Admin)),
    ),
    (
        "spot.policy.v1.HibernationService/CreateSchedule",
        write(Tenant(Member)),
    ),
    (
        "spot.policy.v1.HibernationService/ListSchedules",
        read(Tenant(Viewer)),
    ),
    (
        "spot.policy.v1.HibernationService/DeleteSchedule",
        write(Tenant(Member)),
    ),
    (
        "spot.policy.v1.HibernationService/CreateOverride",
        write(Tenant(Member)),
    ),
    (
        "spot.policy.v1.HibernationService/ListTransitions",
        read(Tenant(Viewer)),
    ),
    (
        "spot.policy.v1.HibernationService/ListHibernationRuns",
        read(Tenant(Viewer)),
    ),
    // spot.billing.v1
    (
        "spot.billing.v1.BillingService/ListPlans",
        read(Tenant(Viewer)),
    ),
    (
        "spot.billing.v1.BillingService/GetSubscription",
        read(Tenant(Viewer)),
    ),
    (
        "spot.billing.v1.BillingService/ChangePlan",
        write(Tenant(Owner)),
    ),
    (
        "spot.billing.v1.BillingService/CancelSubscription",
        write(Tenant(Owner)),
    ),
    (
        "spot.billing.v1.BillingService/GetUsage",
        read(Tenant(Viewer)),
    ),
    (
        "spot.billing.v1.BillingService/PreviewInvoice",
        read(Tenant(Viewer)),
    ),
    (
        "spot.billing.v1.BillingService/ListInvoices",
        read(Tenant(Viewer)),
    ),
    (
        "spot.billing.v1.BillingService/CheckAutomation",
        read(InternalFrom(&["optimizer"])),
    ),
    (
        "spot.billing.v1.BillingAdminService/ListSubscriptions",
        read(PlatformAdmin),
    ),
    (
        "spot.billing.v1.BillingAdminService/GetRevenue",
        read(PlatformAdmin),
    ),
    (
        "spot.billing.v1.BillingAdminService/SetEnterpriseTerms",
        write(PlatformAdmin),
    ),
    (
        "spot.billing.v1.BillingAdminService/RunBillingCycle",
        write(PlatformAdmin),
    ),
    (
        "spot.billing.v1.StripeWebhookService/ReceiveStripeEvent",
        write(Public),
    ),
    // spot.risk.v1
    (
        "spot.risk.v1.RiskService/ReportInterruption",
        write(InternalFrom(&["cluster"])),
    ),
    (
        "spot.risk.v1.RiskService/IngestEventBridgeEvent",
        write(EventIntake),
    ),
    (
        "spot.risk.v1.RiskService/ListRiskFlags",
        read(Tenant(Viewer)),
    ),
    (
        "spot.risk.v1.RiskService/WatchRiskFlags",
        read(Tenant(Viewer)),
    ),
    (
        "spot.risk.v1.RiskService/GetRiskScores",
        read(Tenant(Viewer)),
    ),
    (
        "spot.risk.v1.ExperimentService/CreateExperiment",
        write(Tenant(Admin)),
    ),
    (
        "spot.risk.v1.ExperimentService/ListExperiments",
        read(Tenant(Viewer)),
    ),
    (
        "spot.risk.v1.ExperimentService/GetExperiment",
        read(Tenant(Viewer)),
    ),
    (
        "spot.risk.v1.ExperimentService/StopExperiment",
        write(Tenant(Admin)),
    ),
    (
        "spot.risk.v1.ExperimentService/ArchiveExperiment",
        write(Tenant(Admin)),
    ),
    // spot.optimizer.v1
    (
        "spot.optimizer.v1.MeteringService/ListMeteredHours",
        read(InternalFrom(&["billing"])),
    ),
    (
        "spot.optimizer.v1.OptimizerService/CompareStrategies",
        read(InternalFrom(&["risk"])),
    ),
    (
        "spot.optimizer.v1.OptimizerService/Recommend",
        read(Tenant(Member)),
    ),
    (
        "spot.optimizer.v1.OptimizerService/ApplyPlan",
        write(Tenant(Member)),
    ),
    (
        "spot.optimizer.v1.OptimizerService/ListPlans",
        read(Tenant(Viewer)),
    ),
    (
        "spot.optimizer.v1.OptimizerService/GetAutopilotStatus",
        read(Tenant(Viewer)),
    ),
    (
        "spot.optimizer.v1.OptimizerService/GetPlan",
        read(Tenant(Viewer)),
    ),
    (
        "spot.optimizer.v1.OptimizerService/WatchPlan",
        read(Tenant(Viewer)),
    ),
    (
        "spot.optimizer.v1.OptimizerService/GetSavingsReport",
        read(Tenant(Viewer)),
    ),
    (
        "spot.optimizer.v1.DashboardService/GetKpis",
        read(Tenant(Viewer)),
    ),
    (
        "spot.optimizer.v1.DashboardService/GetCostSeries",
        read(Tenant(Viewer)),
    ),
];

/// Infrastructure every gRPC client and load balancer expects without credentials.
const OPEN_PREFIXES: &[&str] = &["grpc.health.v1.Health/", "grpc.reflection."];

/// The rule for `package.Service/Method`; None means the call is refused.
pub fn rule_for(method: &str) -> Option<Rule> {
    if OPEN_PREFIXES
        .iter()
        .any(|prefix| method.starts_with(prefix))
    {
        return Some(read(Public));
    }
    RULES
        .iter()
        .find(|(name, _)| *name == method)
        .map(|(_, rule)| *rule)
}

#[cfg(test)]
mod tests {
    use prost::Message;

    use super::*;

    fn every_rpc() -> Vec<String> {
        let set = prost_types::FileDescriptorSet::decode(spot_proto::FILE_DESCRIPTOR_SET)
            .expect("descriptor set decodes");
        let mut rpcs = Vec::new();
        for file in set.file {
            for service in &file.service {
                for method in &service.method {
                    rpcs.push(format!(
                        "{}.{}/{}",
                        file.package(),
                        service.name(),
                        method.name()
                    ));
                }
            }
        }
        rpcs
    }

    #[test]
    fn every_rpc_has_exactly_one_rule_and_every_rule_an_rpc() {
        let rpcs = every_rpc();
        assert!(rpcs.len() > 80, "the descriptor set holds every service");
        let missing: Vec<_> = rpcs.iter().filter(|rpc| rule_for(rpc).is_none()).collect();
        assert!(
            missing.is_empty(),
            "RPCs without an access rule: {missing:?}"
        );
        for (name, _) in RULES {
            assert!(
                rpcs.iter().any(|rpc| rpc == name),
                "rule for an RPC that does not exist: {name}"
            );
            let count = RULES.iter().filter(|(other, _)| other == name).count();
            assert_eq!(count, 1, "{name} has {count} rules");
        }
    }

    #[test]
    fn unknown_methods_are_refused() {
        assert_eq!(rule_for("spot.auth.v1.AuthService/Backdoor"), None);
        assert_eq!(
            rule_for("grpc.health.v1.Health/Check").map(|r| r.access),
            Some(Public)
        );
    }
}
