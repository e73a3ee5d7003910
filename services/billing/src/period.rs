//! Billing periods: calendar months in UTC. Times are Unix milliseconds (`spot_proto::time`
//! converts them at the wire).

use chrono::{Datelike, TimeZone, Utc};

pub const HOUR_MILLIS: i64 = 3_600_000;

/// The month holding `at`: [start, end).
pub fn period_of(at: i64) -> (i64, i64) {
    let day = Utc
        .timestamp_millis_opt(at)
        .single()
        .unwrap_or_default()
        .date_naive();
    let start = month_start(day.year(), day.month());
    let end = if day.month() == 12 {
        month_start(day.year() + 1, 1)
    } else {
        month_start(day.year(), day.month() + 1)
    };
    (start, end)
}

fn month_start(year: i32, month: u32) -> i64 {
    Utc.with_ymd_and_hms(year, month, 1, 0, 0, 0)
        .single()
        .map(|at| at.timestamp_millis())
        .unwrap_or_default()
}

pub fn now_millis() -> i64 {
    Utc::now().timestamp_millis()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_period_is_the_calendar_month_in_utc() {
        let mid_december = Utc
            .with_ymd_and_hms(2026, 12, 6, 13, 0, 0)
            .unwrap()
            .timestamp_millis();
        let (start, end) = period_of(mid_december);
        assert_eq!(
            start,
            Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0)
                .unwrap()
                .timestamp_millis()
        );
        assert_eq!(
            end,
            Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0)
                .unwrap()
                .timestamp_millis()
        );
        assert_eq!(period_of(end - 1), (start, end));
        assert_eq!(period_of(end).0, end);
    }
}
