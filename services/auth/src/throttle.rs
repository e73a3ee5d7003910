//! Login throttling: per account and per client address, with a lockout that ends by itself.

use std::time::Duration;

use spot_bus::SharedBus;

use crate::error::{AuthError, AuthResult};

/// Failed logins allowed per account within the window before it locks.
pub const ACCOUNT_LIMIT: u64 = 5;
/// Failed logins allowed per client address within the window (many accounts from one address).
pub const ADDRESS_LIMIT: u64 = 20;
/// The window, which is also how long a lockout lasts after the last counted failure's window starts.
pub const WINDOW: Duration = Duration::from_secs(15 * 60);

#[derive(Clone)]
pub struct LoginThrottle {
    bus: SharedBus,
}

impl LoginThrottle {
    pub fn new(bus: SharedBus) -> Self {
        Self { bus }
    }

    /// Refuses the attempt when the account or the address is locked out.
    pub async fn check(&self, email: &str, address: &str) -> AuthResult<()> {
        for (key, limit) in [
            (account_key(email), ACCOUNT_LIMIT),
            (address_key(address), ADDRESS_LIMIT),
        ] {
            let failures = self
                .bus
                .get(&key)
                .await?
                .and_then(|v| String::from_utf8(v).ok()?.parse::<u64>().ok())
                .unwrap_or(0);
            if failures >= limit {
                return Err(AuthError::Throttled {
                    retry_after_seconds: WINDOW.as_secs(),
                });
            }
        }
        Ok(())
    }

    pub async fn record_failure(&self, email: &str, address: &str) -> AuthResult<()> {
        self.bus.increment(&account_key(email), WINDOW).await?;
        self.bus.increment(&address_key(address), WINDOW).await?;
        Ok(())
    }

    /// A successful login clears the account's count (not the address's).
    pub async fn record_success(&self, email: &str) -> AuthResult<()> {
        self.bus.delete(&account_key(email)).await?;
        Ok(())
    }
}

fn account_key(email: &str) -> String {
    format!("login-failures:account:{}", spot_access::hash_secret(email))
}

fn address_key(address: &str) -> String {
    format!(
        "login-failures:address:{}",
        address.replace(char::is_whitespace, "")
    )
}
