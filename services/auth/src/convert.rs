//! Rows to wire messages, in one place.

use spot_access::Role;
use spot_proto::auth::v1 as pb;

use crate::entity::{api_keys, memberships, tenants};
use crate::members::Member;

pub use spot_proto::time::{millis, timestamp};

fn role(text: &str) -> pb::Role {
    text.parse::<Role>()
        .map(Role::to_proto)
        .unwrap_or(pb::Role::Unspecified)
}

pub fn user(member: &Member) -> pb::User {
    pb::User {
        id: member.user.id.clone(),
        tenant_id: member.membership.tenant_id.clone(),
        email: member.user.email.clone(),
        role: role(&member.membership.role).into(),
        platform_admin: member.user.platform_admin,
        created_at: Some(timestamp(member.membership.created_at)),
    }
}

pub fn membership(membership: &memberships::Model, tenant: &tenants::Model) -> pb::Membership {
    pb::Membership {
        tenant_id: tenant.id.clone(),
        tenant_name: tenant.name.clone(),
        role: role(&membership.role).into(),
        joined_at: membership.joined_at.map(timestamp),
    }
}

pub fn api_key(row: &api_keys::Model) -> pb::ApiKey {
    pb::ApiKey {
        id: row.id.clone(),
        name: row.name.clone(),
        cluster_id: row.cluster_id.clone().unwrap_or_default(),
        role: row
            .role
            .as_deref()
            .map(role)
            .unwrap_or(pb::Role::Unspecified)
            .into(),
        created_at: Some(timestamp(row.created_at)),
        last_used_at: row.last_used_at.map(timestamp),
        revoked_at: row.revoked_at.map(timestamp),
        scope: match row.scope.as_deref() {
            Some(crate::api_keys_rpc::EVENTBRIDGE_SCOPE) => pb::ApiKeyScope::Eventbridge,
            _ => pb::ApiKeyScope::Unspecified,
        }
        .into(),
    }
}
