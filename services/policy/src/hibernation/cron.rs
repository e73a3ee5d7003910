//! Five-field cron patterns (minute hour day-of-month month day-of-week) run on a time zone's wall
//! clock.
//!
//! croner matches the pattern against wall-clock times (zone-less `NaiveDateTime`); each match is then
//! placed in the zone, which is where daylight saving matters:
//! - a wall time that does not exist (the spring-forward gap) runs at the first instant after the
//!   gap: `30 2 * * *` in New York on the day clocks jump from 02:00 to 03:00 runs at 03:00 EDT;
//! - a wall time that exists twice (fall-back) runs once, at its first occurrence (the earlier,
//!   still-summer-time one): `30 1 * * *` on New York's fall-back day runs at 01:30 EDT only.
//!
//! So a daily schedule runs exactly once every local day, and never twice in one hour.

use chrono::{DateTime, Duration, LocalResult, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use croner::Cron;

const FIELDS: [&str; 5] = ["minute", "hour", "day-of-month", "month", "day-of-week"];

/// Every pattern that matches a real date does so within 8 years (29 February included), so a
/// pattern with no match in that time never matches.
const HORIZON: Duration = Duration::days(8 * 366 + 1);

/// A DST shift is at most a few hours: a wall time that much later than an instant's may still
/// lie before it (the repeated hour of fall-back).
const LARGEST_SHIFT: Duration = Duration::hours(3);

#[derive(Debug, Clone)]
pub struct CronPattern {
    text: String,
    cron: Cron,
}

impl CronPattern {
    /// Parses a five-field pattern; the error says which field is wrong and why.
    pub fn parse(text: &str) -> Result<Self, String> {
        let fields: Vec<&str> = text.split_whitespace().collect();
        if fields.len() != 5 {
            return Err(format!(
                "`{text}` has {} fields; a cron pattern has five: minute hour day-of-month month day-of-week",
                fields.len()
            ));
        }
        let parser = spot_kit::cron::five_field_parser();
        // Each field alone, the others `*`, so the error can name the field.
        for (index, field) in fields.iter().enumerate() {
            let mut probe = ["*"; 5];
            probe[index] = field;
            if let Err(error) = parser.parse(&probe.join(" ")) {
                return Err(format!(
                    "the {} field `{field}` is not valid ({error})",
                    FIELDS[index]
                ));
            }
        }
        let text = fields.join(" ");
        let cron = parser.parse(&text).map_err(|e| format!("`{text}`: {e}"))?;
        Ok(Self { text, cron })
    }

    /// The pattern, its fields separated by single spaces.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The first run strictly after `after`; None when the pattern never matches again.
    pub fn next_after(&self, after: DateTime<Utc>, zone: Tz) -> Option<DateTime<Utc>> {
        let local = after.with_timezone(&zone).naive_local();
        let limit = local + HORIZON;
        let mut cursor = local;
        let mut inclusive = true;
        loop {
            let wall = self.cron.find_next_occurrence(&cursor, inclusive).ok()?;
            if wall > limit {
                return None;
            }
            let at = place(wall, zone);
            if at > after {
                return Some(at);
            }
            cursor = wall;
            inclusive = false;
        }
    }

    /// The last run at or before `at`; None when the pattern has not matched in the horizon.
    pub fn last_at_or_before(&self, at: DateTime<Utc>, zone: Tz) -> Option<DateTime<Utc>> {
        let local = at.with_timezone(&zone).naive_local();
        let limit = local - HORIZON;
        let mut cursor = local + LARGEST_SHIFT;
        let mut inclusive = true;
        loop {
            let wall = self
                .cron
                .find_previous_occurrence(&cursor, inclusive)
                .ok()?;
            if wall < limit {
                return None;
            }
            let placed = place(wall, zone);
            if placed <= at {
                return Some(placed);
            }
            cursor = wall;
            inclusive = false;
        }
    }
}

/// The instant a wall-clock time of `zone` runs at (see the module's DST rules).
pub fn place(wall: NaiveDateTime, zone: Tz) -> DateTime<Utc> {
    match zone.from_local_datetime(&wall) {
        LocalResult::Single(at) | LocalResult::Ambiguous(at, _) => at.to_utc(),
        LocalResult::None => {
            // In a gap: transitions happen on minute boundaries, so the first wall minute that
            // exists is the instant the gap ends.
            let mut probe = wall;
            for _ in 0..24 * 60 {
                probe += Duration::minutes(1);
                if let LocalResult::Single(at) | LocalResult::Ambiguous(at, _) =
                    zone.from_local_datetime(&probe)
                {
                    return at.to_utc();
                }
            }
            wall.and_utc()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().to_utc()
    }

    fn zone(name: &str) -> Tz {
        name.parse().unwrap()
    }

    fn runs(pattern: &str, zone_name: &str, after: &str, count: usize) -> Vec<DateTime<Utc>> {
        let pattern = CronPattern::parse(pattern).unwrap();
        let mut at = utc(after);
        let mut out = Vec::new();
        for _ in 0..count {
            at = pattern.next_after(at, zone(zone_name)).unwrap();
            out.push(at);
        }
        out
    }

    #[test]
    fn new_york_spring_forward_runs_a_missing_time_when_the_gap_ends() {
        // 8 March 2026: 02:00 EST jumps to 03:00 EDT; 02:30 does not exist.
        assert_eq!(
            runs("30 2 * * *", "America/New_York", "2026-03-07T12:00:00Z", 2),
            [utc("2026-03-08T07:00:00Z"), utc("2026-03-09T06:30:00Z")]
        );
        // A time outside the gap keeps its wall-clock time across the change.
        assert_eq!(
            runs("0 9 * * *", "America/New_York", "2026-03-07T00:00:00Z", 2),
            [utc("2026-03-07T14:00:00Z"), utc("2026-03-08T13:00:00Z")]
        );
    }

    #[test]
    fn new_york_fall_back_runs_a_repeated_time_once() {
        // 1 November 2026: 02:00 EDT falls back to 01:00 EST; 01:30 happens twice.
        assert_eq!(
            runs("30 1 * * *", "America/New_York", "2026-10-31T12:00:00Z", 2),
            [utc("2026-11-01T05:30:00Z"), utc("2026-11-02T06:30:00Z")]
        );
        // Asked during the second 01:xx, the last run is the first 01:30, not a second one.
        let pattern = CronPattern::parse("30 1 * * *").unwrap();
        let ny = zone("America/New_York");
        assert_eq!(
            pattern.last_at_or_before(utc("2026-11-01T06:45:00Z"), ny),
            Some(utc("2026-11-01T05:30:00Z"))
        );
        assert_eq!(
            pattern.next_after(utc("2026-11-01T06:31:00Z"), ny),
            Some(utc("2026-11-02T06:30:00Z"))
        );
    }

    #[test]
    fn berlin_spring_forward_and_fall_back() {
        // 29 March 2026: 02:00 CET jumps to 03:00 CEST.
        assert_eq!(
            runs("30 2 * * *", "Europe/Berlin", "2026-03-28T12:00:00Z", 2),
            [utc("2026-03-29T01:00:00Z"), utc("2026-03-30T00:30:00Z")]
        );
        // 25 October 2026: 03:00 CEST falls back to 02:00 CET; 02:30 runs at its first occurrence.
        assert_eq!(
            runs("30 2 * * *", "Europe/Berlin", "2026-10-24T12:00:00Z", 2),
            [utc("2026-10-25T00:30:00Z"), utc("2026-10-26T01:30:00Z")]
        );
    }

    #[test]
    fn sydney_changes_the_other_way_round_in_april_and_october() {
        // 5 April 2026: 03:00 AEDT falls back to 02:00 AEST (southern autumn).
        assert_eq!(
            runs("30 2 * * *", "Australia/Sydney", "2026-04-04T00:00:00Z", 2),
            [utc("2026-04-04T15:30:00Z"), utc("2026-04-05T16:30:00Z")]
        );
        // 4 October 2026: 02:00 AEST jumps to 03:00 AEDT (southern spring).
        assert_eq!(
            runs("30 2 * * *", "Australia/Sydney", "2026-10-03T00:00:00Z", 2),
            [utc("2026-10-03T16:00:00Z"), utc("2026-10-04T15:30:00Z")]
        );
    }

    #[test]
    fn every_gap_minute_collapses_into_one_run() {
        // Every 15 minutes of New York's missing hour run once, when the gap ends, then 03:00.
        let at = runs(
            "*/15 2,3 8 3 *",
            "America/New_York",
            "2026-03-08T06:50:00Z",
            3,
        );
        assert_eq!(
            at,
            [
                utc("2026-03-08T07:00:00Z"),
                utc("2026-03-08T07:15:00Z"),
                utc("2026-03-08T07:30:00Z")
            ]
        );
    }

    #[test]
    fn errors_name_the_field() {
        let error = CronPattern::parse("0 25 * * *").unwrap_err();
        assert!(error.contains("hour field `25`"), "{error}");
        let error = CronPattern::parse("0 8 * * MON-XYZ").unwrap_err();
        assert!(error.contains("day-of-week field"), "{error}");
        let error = CronPattern::parse("0 8 * *").unwrap_err();
        assert!(error.contains("has 4 fields"), "{error}");
        let error = CronPattern::parse("61 8 * * *").unwrap_err();
        assert!(error.contains("minute field"), "{error}");
    }

    #[test]
    fn a_date_that_never_exists_never_matches() {
        let pattern = CronPattern::parse("0 0 30 2 *").unwrap();
        assert_eq!(
            pattern.next_after(utc("2026-01-01T00:00:00Z"), zone("Europe/Berlin")),
            None
        );
        let leap = CronPattern::parse("0 0 29 2 *").unwrap();
        assert_eq!(
            leap.next_after(utc("2026-01-01T00:00:00Z"), zone("UTC")),
            Some(utc("2028-02-29T00:00:00Z"))
        );
    }
}
