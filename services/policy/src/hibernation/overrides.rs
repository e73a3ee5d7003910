//! One-off overrides of a cluster's schedules: wake now for N hours, or sleep now until a time.
//!
//! Precedence: the newest override still in force decides; with none in force, the schedules do
//! (asleep when any of them is asleep). So "sleep until Monday" followed by "wake for 2 hours"
//! wakes the cluster for two hours, then it sleeps again until Monday; a schedule's run in the
//! meantime changes nothing.

use chrono::{DateTime, Duration, Utc};
use spot_error::Error;
use spot_proto::policy::v1 as pb;

use super::schedule::{Change, Schedule};

/// The longest WAKE_FOR, and how far ahead SLEEP_UNTIL may reach.
const MAX_WAKE_HOURS: u32 = 24 * 31;
const MAX_SLEEP: Duration = Duration::days(366);
/// Transitions are looked for this far ahead, through at most this many moments at which
/// something could change (a schedule that fires every minute under a year-long override would
/// otherwise be walked half a million times).
const TRANSITIONS_HORIZON: Duration = Duration::days(400);
const MAX_MOMENTS: usize = 20_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Override {
    pub id: String,
    pub cluster_id: String,
    /// True for SLEEP_UNTIL, false for WAKE_FOR.
    pub asleep: bool,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
}

impl Override {
    /// Checks a request; the override starts `now`.
    pub fn from_request(
        request: &pb::CreateOverrideRequest,
        id: String,
        now: DateTime<Utc>,
    ) -> Result<Self, Error> {
        if request.cluster_id.is_empty() {
            return Err(Error::invalid("cluster_id", "required"));
        }
        let (asleep, ends_at) = match request.kind() {
            pb::OverrideKind::WakeFor => {
                if request.wake_hours == 0 || request.wake_hours > MAX_WAKE_HOURS {
                    return Err(Error::invalid(
                        "wake_hours",
                        format!("1 to {MAX_WAKE_HOURS} hours"),
                    ));
                }
                (false, now + Duration::hours(i64::from(request.wake_hours)))
            }
            pb::OverrideKind::SleepUntil => {
                let until = request
                    .sleep_until
                    .as_ref()
                    .map(spot_proto::time::millis)
                    .and_then(DateTime::from_timestamp_millis)
                    .ok_or_else(|| Error::invalid("sleep_until", "required for SLEEP_UNTIL"))?;
                if until <= now {
                    return Err(Error::invalid("sleep_until", "must be in the future"));
                }
                if until > now + MAX_SLEEP {
                    return Err(Error::invalid("sleep_until", "at most a year ahead"));
                }
                (true, until)
            }
            pb::OverrideKind::Unspecified => {
                return Err(Error::invalid("kind", "WAKE_FOR or SLEEP_UNTIL"));
            }
        };
        Ok(Self {
            id,
            cluster_id: request.cluster_id.clone(),
            asleep,
            starts_at: now,
            ends_at,
        })
    }

    pub fn in_force_at(&self, at: DateTime<Utc>) -> bool {
        self.starts_at <= at && at < self.ends_at
    }
}

/// A cluster's schedules and overrides: what it should be at any time, and when that changes.
pub struct Calendar {
    pub schedules: Vec<Schedule>,
    pub overrides: Vec<Override>,
}

impl Calendar {
    pub fn asleep_at(&self, at: DateTime<Utc>) -> bool {
        // Newest first: ids are UUIDv7, so they break ties in start time by creation order.
        let newest = self
            .overrides
            .iter()
            .filter(|o| o.in_force_at(at))
            .max_by(|a, b| (a.starts_at, &a.id).cmp(&(b.starts_at, &b.id)));
        match newest {
            Some(decides) => decides.asleep,
            None => self.schedules.iter().any(|s| s.asleep_at(at)),
        }
    }

    /// The next instant strictly after `after` at which anything could change.
    pub fn next_moment(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let schedules = self
            .schedules
            .iter()
            .filter_map(|s| s.next_change(after).map(|(at, _)| at));
        let overrides = self
            .overrides
            .iter()
            .flat_map(|o| [o.starts_at, o.ends_at])
            .filter(|at| *at > after);
        schedules.chain(overrides).min()
    }

    /// The next `count` changes of state after `now`.
    pub fn transitions(&self, now: DateTime<Utc>, count: usize) -> Vec<(DateTime<Utc>, Change)> {
        let mut found = Vec::new();
        let mut asleep = self.asleep_at(now);
        let mut cursor = now;
        let horizon = now + TRANSITIONS_HORIZON;
        for _ in 0..MAX_MOMENTS {
            if found.len() >= count {
                break;
            }
            let Some(at) = self.next_moment(cursor) else {
                break;
            };
            if at > horizon {
                break;
            }
            let then = self.asleep_at(at);
            if then != asleep {
                found.push((
                    at,
                    if then {
                        Change::Hibernate
                    } else {
                        Change::Wake
                    },
                ));
                asleep = then;
            }
            cursor = at;
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().to_utc()
    }

    fn nightly() -> Schedule {
        Schedule::from_request(
            &pb::Schedule {
                cluster_id: "c".into(),
                sleep_cron: "0 20 * * *".into(),
                wake_cron: "0 8 * * *".into(),
                time_zone: "UTC".into(),
                must_run: vec![],
                id: String::new(),
            },
            "s".into(),
            utc("2026-11-25T00:00:00Z"),
        )
        .unwrap()
    }

    fn overriding(id: &str, asleep: bool, starts: &str, ends: &str) -> Override {
        Override {
            id: id.into(),
            cluster_id: "c".into(),
            asleep,
            starts_at: utc(starts),
            ends_at: utc(ends),
        }
    }

    #[test]
    fn the_newest_override_in_force_beats_the_schedule_and_older_overrides() {
        let mut calendar = Calendar {
            schedules: vec![nightly()],
            overrides: vec![],
        };
        // Midday: the schedule has it awake.
        let noon = utc("2026-11-25T12:00:00Z");
        assert!(!calendar.asleep_at(noon));
        // Sleep until tomorrow 10:00, given at 11:00: asleep at noon and all night.
        calendar.overrides.push(overriding(
            "1",
            true,
            "2026-11-25T11:00:00Z",
            "2026-11-26T10:00:00Z",
        ));
        assert!(calendar.asleep_at(noon));
        // The schedule's 08:00 wake does not wake it: the override is still in force.
        assert!(calendar.asleep_at(utc("2026-11-26T09:00:00Z")));
        // Wake for two hours at 13:00: awake until 15:00, then asleep again (the older one).
        calendar.overrides.push(overriding(
            "2",
            false,
            "2026-11-25T13:00:00Z",
            "2026-11-25T15:00:00Z",
        ));
        assert!(!calendar.asleep_at(utc("2026-11-25T14:00:00Z")));
        assert!(calendar.asleep_at(utc("2026-11-25T15:00:00Z")));
        // A wake override also beats the schedule's night.
        calendar.overrides.push(overriding(
            "3",
            false,
            "2026-11-25T19:00:00Z",
            "2026-11-25T23:00:00Z",
        ));
        assert!(!calendar.asleep_at(utc("2026-11-25T21:00:00Z")));
        // Once every override ends, the schedule decides again: awake at noon the next day.
        assert!(!calendar.asleep_at(utc("2026-11-26T12:00:00Z")));

        let transitions = calendar.transitions(utc("2026-11-25T12:00:00Z"), 6);
        let kinds: Vec<_> = transitions
            .iter()
            .map(|(at, change)| (at.to_rfc3339(), change.as_str()))
            .collect();
        assert_eq!(
            kinds,
            [
                ("2026-11-25T13:00:00+00:00".to_owned(), "wake"),
                ("2026-11-25T15:00:00+00:00".to_owned(), "hibernate"),
                ("2026-11-25T19:00:00+00:00".to_owned(), "wake"),
                ("2026-11-25T23:00:00+00:00".to_owned(), "hibernate"),
                ("2026-11-26T10:00:00+00:00".to_owned(), "wake"),
                ("2026-11-26T20:00:00+00:00".to_owned(), "hibernate"),
            ]
        );
    }

    #[test]
    fn override_requests_are_checked() {
        let now = utc("2026-11-25T12:00:00Z");
        let request =
            |kind: pb::OverrideKind, hours: u32, until: Option<&str>| pb::CreateOverrideRequest {
                cluster_id: "c".into(),
                kind: kind.into(),
                wake_hours: hours,
                sleep_until: until.map(|u| spot_proto::time::timestamp(utc(u).timestamp_millis())),
            };
        let message = |r: pb::CreateOverrideRequest| {
            tonic::Status::from(Override::from_request(&r, "o".into(), now).unwrap_err())
                .message()
                .to_owned()
        };
        assert!(
            message(request(pb::OverrideKind::WakeFor, 0, None))
                .starts_with("invalid `wake_hours`")
        );
        assert!(
            message(request(
                pb::OverrideKind::SleepUntil,
                0,
                Some("2026-11-25T11:00:00Z")
            ))
            .starts_with("invalid `sleep_until`: must be in the future")
        );
        assert!(
            message(request(pb::OverrideKind::Unspecified, 1, None)).starts_with("invalid `kind`")
        );
        let wake = Override::from_request(
            &request(pb::OverrideKind::WakeFor, 3, None),
            "o".into(),
            now,
        )
        .unwrap();
        assert!(!wake.asleep);
        assert_eq!(wake.ends_at, utc("2026-11-25T15:00:00Z"));
    }
}
