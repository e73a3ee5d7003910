//! Login throttling: per account and per client address, with a lockout that ends by itself.
//!
//! Every attempt is counted before the password is checked, and refused when the count passes the
//! limit: checking and counting are one atomic increment, so concurrent guesses cannot all slip in
//! under the limit before any of them is counted. A successful login gives its count back.

use std::net::IpAddr;
use std::time::Duration;

use spot_bus::SharedBus;

use crate::error::{AuthError, AuthResult};

/// Failed logins allowed per account within the window before it locks.
pub const ACCOUNT_LIMIT: u64 = 5;
/// Failed logins allowed per client address within the window (many accounts from one address).
pub const ADDRESS_LIMIT: u64 = 20;
/// The window, which is also how long a lockout lasts after the first counted attempt.
pub const WINDOW: Duration = Duration::from_secs(15 * 60);

#[derive(Clone)]
pub struct LoginThrottle {
    bus: SharedBus,
}

/// An attempt the throttle let through; it counts as a failure unless [`LoginThrottle::succeeded`]
/// gives it back.
#[must_use]
pub struct Admitted {
    account: String,
    address: String,
}

impl LoginThrottle {
    pub fn new(bus: SharedBus) -> Self {
        Self { bus }
    }

    /// Counts the attempt, then refuses it when the account or the address is over its limit.
    pub async fn admit(&self, email: &str, address: IpAddr) -> AuthResult<Admitted> {
        let admitted = Admitted {
            account: account_key(email),
            address: address_key(address),
        };
        let account = self.bus.increment(&admitted.account, WINDOW).await?;
        let from_address = self.bus.increment(&admitted.address, WINDOW).await?;
        if account > ACCOUNT_LIMIT || from_address > ADDRESS_LIMIT {
            return Err(AuthError::Throttled {
                retry_after_seconds: WINDOW.as_secs(),
            });
        }
        Ok(admitted)
    }

    /// A successful login clears the account's count and takes its own attempt back from the
    /// address's, so many people behind one address can sign in.
    pub async fn succeeded(&self, attempt: Admitted) -> AuthResult<()> {
        self.bus.delete(&attempt.account).await?;
        self.bus.decrement(&attempt.address).await?;
        Ok(())
    }
}

fn account_key(email: &str) -> String {
    format!("login-failures:account:{}", spot_access::hash_secret(email))
}

/// An IPv6 client usually holds a whole /64, so that is what one address means there.
fn address_key(address: IpAddr) -> String {
    format!("login-failures:address:{}", address_group(address))
}

/// What one client is counted as: an IPv4 address, or an IPv6 /64 (one subscriber's usual
/// allocation, so rotating addresses inside it buys nothing).
pub(crate) fn address_group(address: IpAddr) -> String {
    match address.to_canonical() {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let prefix = u128::from(v6) & !((1u128 << 64) - 1);
            format!("{}/64", std::net::Ipv6Addr::from(prefix))
        }
    }
}
