use std::fmt;
use std::str::FromStr;

use spot_proto::auth::v1 as pb;

/// A user's role in their tenant, weakest first, so `role >= Role::Admin` reads naturally.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Viewer,
    Member,
    Admin,
    Owner,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Viewer => "viewer",
            Self::Member => "member",
            Self::Admin => "admin",
            Self::Owner => "owner",
        }
    }

    pub fn to_proto(self) -> pb::Role {
        match self {
            Self::Viewer => pb::Role::Viewer,
            Self::Member => pb::Role::Member,
            Self::Admin => pb::Role::Admin,
            Self::Owner => pb::Role::Owner,
        }
    }

    /// From the wire; `field` names the request field in the error.
    pub fn from_proto(value: i32, field: &str) -> Result<Self, spot_error::Error> {
        match pb::Role::try_from(value) {
            Ok(pb::Role::Viewer) => Ok(Self::Viewer),
            Ok(pb::Role::Member) => Ok(Self::Member),
            Ok(pb::Role::Admin) => Ok(Self::Admin),
            Ok(pb::Role::Owner) => Ok(Self::Owner),
            _ => Err(spot_error::Error::invalid(
                field,
                "must be one of ROLE_VIEWER, ROLE_MEMBER, ROLE_ADMIN, ROLE_OWNER",
            )),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "viewer" => Ok(Self::Viewer),
            "member" => Ok(Self::Member),
            "admin" => Ok(Self::Admin),
            "owner" => Ok(Self::Owner),
            other => Err(format!("unknown role `{other}`")),
        }
    }
}
