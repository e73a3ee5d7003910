use crate::Role;

/// What an API key may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiKeyScope {
    /// The in-cluster agent of one cluster.
    Agent { cluster_id: String },
    /// Automation acting in its tenant with a role.
    Automation { role: Role },
    /// The tenant's EventBridge rule: may only report its spot interruption events.
    EventBridge,
}

/// Who is calling, as verified by the access layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// A public RPC called without credentials.
    Anonymous,
    User {
        user_id: String,
        tenant_id: String,
        role: Role,
        platform_admin: bool,
    },
    ApiKey {
        key_id: String,
        tenant_id: String,
        scope: ApiKeyScope,
    },
    /// Another service of the platform (internal credential).
    Service { name: String },
}

impl Caller {
    /// The tenant whose data this caller may see, if any.
    pub fn tenant_id(&self) -> Option<&str> {
        match self {
            Self::User { tenant_id, .. } | Self::ApiKey { tenant_id, .. } => Some(tenant_id),
            Self::Anonymous | Self::Service { .. } => None,
        }
    }

    /// The role this caller acts with in its tenant.
    pub fn role(&self) -> Option<Role> {
        match self {
            Self::User { role, .. } => Some(*role),
            Self::ApiKey {
                scope: ApiKeyScope::Automation { role },
                ..
            } => Some(*role),
            _ => None,
        }
    }

    pub fn user_id(&self) -> Option<&str> {
        match self {
            Self::User { user_id, .. } => Some(user_id),
            _ => None,
        }
    }

    pub fn is_platform_admin(&self) -> bool {
        matches!(
            self,
            Self::User {
                platform_admin: true,
                ..
            }
        )
    }

    /// `(kind, id)` as recorded in audit events: user, api_key, service or anonymous.
    pub fn audit_identity(&self) -> (&'static str, String) {
        match self {
            Self::Anonymous => ("anonymous", String::new()),
            Self::User { user_id, .. } => ("user", user_id.clone()),
            Self::ApiKey { key_id, .. } => ("api_key", key_id.clone()),
            Self::Service { name } => ("service", name.clone()),
        }
    }
}

/// The id of the request, from `x-request-id` or generated; put into the request by the access layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub String);
