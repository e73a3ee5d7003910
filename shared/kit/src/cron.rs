//! The one cron dialect of the platform: five fields (minute hour day-of-month month
//! day-of-week), as hibernation schedules and disruption windows are written. The service that
//! checks a pattern and the one that runs it read it alike.

use croner::parser::{CronParser, Seconds, Year};

/// A parser of five-field patterns (no seconds, no year).
pub fn five_field_parser() -> CronParser {
    CronParser::builder()
        .seconds(Seconds::Disallowed)
        .year(Year::Disallowed)
        .build()
}
