//! Rate limits on the account actions that cost a password hash each (sign-up, invite
//! acceptance, password change) or send mail (verification), per client address: one address cannot make the server hash
//! passwords without end, nor create tenants by the thousand.

use std::net::IpAddr;
use std::time::Duration;

use spot_bus::SharedBus;

use crate::error::{AuthError, AuthResult};

const WINDOW: Duration = Duration::from_secs(3600);

#[derive(Debug, Clone, Copy)]
pub enum AccountAction {
    SignUp,
    AcceptInvite,
    ChangePassword,
    ResendVerification,
}

impl AccountAction {
    fn as_str(self) -> &'static str {
        match self {
            Self::SignUp => "sign-ups",
            Self::AcceptInvite => "invite acceptances",
            Self::ChangePassword => "password changes",
            Self::ResendVerification => "verification emails",
        }
    }
}

#[derive(Clone)]
pub struct AccountActions {
    bus: SharedBus,
    per_hour: u64,
}

impl AccountActions {
    pub fn new(bus: SharedBus, per_hour: u64) -> Self {
        Self { bus, per_hour }
    }

    /// Counts the action, then refuses it when the address is over its hourly limit (one atomic
    /// increment, so concurrent calls cannot all pass).
    pub async fn admit(&self, action: AccountAction, address: IpAddr) -> AuthResult<()> {
        let key = format!(
            "account-actions:{}:{}",
            action.as_str().replace(' ', "-"),
            crate::throttle::address_group(address)
        );
        let count = self.bus.increment(&key, WINDOW).await?;
        if count > self.per_hour {
            return Err(AuthError::Exhausted(format!(
                "too many {} from this address (at most {} an hour); try again later",
                action.as_str(),
                self.per_hour
            )));
        }
        Ok(())
    }
}
