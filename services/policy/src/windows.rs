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

/// A window's expression (five fields, minute to day-of-week: each matching minute is inside the
/// window), checked to open at least once in the coming years.
pub fn window(expression: &str, zone: Tz, now: DateTime<Utc>) -> Result<Cron, String> {
    let cron = spot_kit::cron::five_field_parser()
        .parse(expression)
        .map_err(|e| {
            format!(
                "`{expression}` is not a five-field cron expression (minute hour day-of-month month day-of-week): {e}"
            )
        })?;
    cron.find_next_occurrence(&now.with_timezone(&zone), true)
        .map_err(|_| format!("`{expression}` never opens"))?;
    Ok(cron)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_and_zones_are_checked_precisely() {
        let now = Utc::now();
        let berlin = zone("Europe/Berlin").unwrap();
        assert_eq!(zone("").unwrap(), Tz::UTC);
        assert!(zone("Mars/Olympus_Mons").unwrap_err().contains("IANA"));
        assert!(window("* 1-5 * * MON-FRI", berlin, now).is_ok());
        assert!(
            window("every night", berlin, now)
                .unwrap_err()
                .contains("not a five-field cron")
        );
        assert!(
            window("0 * 1-5 * * MON-FRI", berlin, now)
                .unwrap_err()
                .contains("five-field")
        );
        assert!(
            window("0 0 31 2 *", berlin, now)
                .unwrap_err()
                .contains("never opens")
        );
    }
}
