//! Disruption windows: cron expressions evaluated in an IANA time zone.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use croner::Cron;

/// The zone a budget's windows are read in; empty means UTC.
pub fn zone(name: &str) -> Result<Tz, String> {
    if name.is_empty() {
        return Ok(Tz::UTC);
    }
    Tz::from_str(name)
        .map_err(|_| format!("`{name}` is not an IANA time zone (e.g. `Europe/Berlin`)"))
}

/// A window's expression, checked to open at least once in the coming years.
pub fn window(expression: &str, zone: Tz, now: DateTime<Utc>) -> Result<Cron, String> {
    let cron = Cron::from_str(expression)
        .map_err(|e| format!("`{expression}` is not a cron expression: {e}"))?;
    cron.find_next_occurrence(&now.with_timezone(&zone), true)
        .map_err(|_| format!("`{expression}` never opens"))?;
    Ok(cron)
}
