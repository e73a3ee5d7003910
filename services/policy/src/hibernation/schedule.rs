//! A hibernation schedule: asleep from each `sleep_cron` run until the next `wake_cron` run, in
//! the schedule's IANA time zone. Validated here into domain types, with errors naming the field.

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use spot_error::Error;
use spot_proto::common::v1::Pod;
use spot_proto::policy::v1 as pb;

use super::cron::CronPattern;

/// How far ahead two schedules of a cluster are compared for overlapping asleep windows.
pub const OVERLAP_WINDOW: Duration = Duration::days(35);
/// At most this many transitions of one schedule are looked at in that window (a pattern that
/// fires every minute would otherwise be walked 50,000 times).
const MAX_EVENTS: usize = 5_000;
/// How many coming sleep runs are checked for a wake run at the same instant.
const SLEEP_RUNS_CHECKED: usize = 50;

/// True when each of the coming sleep runs falls on a wake run, which wins: the schedule would
/// never put the cluster to sleep (`0 20 * * *` with `0 20 * * 0-6`, say).
fn never_asleep(sleep: &CronPattern, wake: &CronPattern, now: DateTime<Utc>, zone: Tz) -> bool {
    // Both walked forward once (a sparse pattern's search is slow): the wake run kept is the
    // first at or after the sleep run in hand.
    let mut wake_run = wake.next_after(now, zone);
    let mut after = now;
    for _ in 0..SLEEP_RUNS_CHECKED {
        let Some(run) = sleep.next_after(after, zone) else {
            return true;
        };
        while let Some(at) = wake_run
            && at < run
        {
            wake_run = wake.next_after(at, zone);
        }
        if wake_run != Some(run) {
            return false;
        }
        after = run;
    }
    true
}

/// A workload that keeps running while the cluster sleeps, as `namespace/name`.
///
/// Its pods are recognised by name, as Kubernetes names them: the pod `name` itself, or
/// `name-<suffix>` with one or two generated segments (a Deployment's `name-<hash>-<hash>`, a
/// StatefulSet's `name-<ordinal>`, a DaemonSet's or Job's `name-<hash>`). Names are only
/// prefixes, so `shop/web` also keeps `shop/web-api` (one segment): name must-run workloads
/// precisely.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workload {
    pub namespace: String,
    pub name: String,
}

impl Workload {
    pub fn parse(text: &str) -> Result<Self, String> {
        let (namespace, name) = text
            .split_once('/')
            .ok_or_else(|| format!("`{text}` is not namespace/name"))?;
        for (what, part) in [("namespace", namespace), ("name", name)] {
            if !is_dns_label(part, 253) {
                return Err(format!(
                    "`{text}`: the {what} `{part}` is not a Kubernetes name (lower-case letters, digits, '-' and '.', starting and ending with a letter or digit)"
                ));
            }
        }
        Ok(Self {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
        })
    }

    pub fn owns(&self, pod: &Pod) -> bool {
        if pod.namespace != self.namespace {
            return false;
        }
        if pod.name == self.name {
            return true;
        }
        let Some(suffix) = pod
            .name
            .strip_prefix(self.name.as_str())
            .and_then(|rest| rest.strip_prefix('-'))
        else {
            return false;
        };
        let segments: Vec<&str> = suffix.split('-').collect();
        segments.len() <= 2
            && segments.iter().all(|s| {
                !s.is_empty()
                    && s.chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
            })
    }
}

impl std::fmt::Display for Workload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

fn is_dns_label(text: &str, max: usize) -> bool {
    let edge = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    !text.is_empty()
        && text.len() <= max
        && text.starts_with(edge)
        && text.ends_with(edge)
        && text.chars().all(|c| edge(c) || c == '-' || c == '.')
}

#[derive(Debug, Clone)]
pub struct Schedule {
    pub id: String,
    pub cluster_id: String,
    pub sleep: CronPattern,
    pub wake: CronPattern,
    pub zone: Tz,
    pub must_run: Vec<Workload>,
}

/// Whether a schedule moves the cluster to sleep or wakes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Hibernate,
    Wake,
}

impl Change {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hibernate => "hibernate",
            Self::Wake => "wake",
        }
    }
}

impl Schedule {
    /// Checks a requested schedule; `now` decides whether its windows ever open.
    pub fn from_request(
        schedule: &pb::Schedule,
        id: String,
        now: DateTime<Utc>,
    ) -> Result<Self, Error> {
        if schedule.cluster_id.is_empty() {
            return Err(Error::invalid("schedule.cluster_id", "required"));
        }
        let zone: Tz = if schedule.time_zone.is_empty() {
            return Err(Error::invalid(
                "schedule.time_zone",
                "required: an IANA time zone such as Europe/Berlin",
            ));
        } else {
            schedule.time_zone.parse().map_err(|_| {
                Error::invalid(
                    "schedule.time_zone",
                    format!(
                        "`{}` is not an IANA time zone (such as America/New_York)",
                        schedule.time_zone
                    ),
                )
            })?
        };
        let sleep = CronPattern::parse(&schedule.sleep_cron)
            .map_err(|reason| Error::invalid("schedule.sleep_cron", reason))?;
        let wake = CronPattern::parse(&schedule.wake_cron)
            .map_err(|reason| Error::invalid("schedule.wake_cron", reason))?;
        if sleep.as_str() == wake.as_str() {
            return Err(Error::invalid(
                "schedule.wake_cron",
                "the same as sleep_cron: the cluster would never sleep",
            ));
        }
        for (field, pattern) in [
            ("schedule.sleep_cron", &sleep),
            ("schedule.wake_cron", &wake),
        ] {
            if pattern.next_after(now, zone).is_none() {
                return Err(Error::invalid(
                    field,
                    format!(
                        "`{}` matches no date that exists (such as 30 February): the window never opens",
                        pattern.as_str()
                    ),
                ));
            }
        }
        if never_asleep(&sleep, &wake, now, zone) {
            return Err(Error::invalid(
                "schedule.wake_cron",
                format!(
                    "`{}` runs at every sleep run of `{}` (a wake wins at the same instant): the cluster would never sleep",
                    wake.as_str(),
                    sleep.as_str()
                ),
            ));
        }
        let must_run = schedule
            .must_run
            .iter()
            .enumerate()
            .map(|(index, text)| {
                Workload::parse(text)
                    .map_err(|reason| Error::invalid(format!("schedule.must_run[{index}]"), reason))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            id,
            cluster_id: schedule.cluster_id.clone(),
            sleep,
            wake,
            zone,
            must_run,
        })
    }

    pub fn to_proto(&self) -> pb::Schedule {
        pb::Schedule {
            id: self.id.clone(),
            cluster_id: self.cluster_id.clone(),
            sleep_cron: self.sleep.as_str().to_owned(),
            wake_cron: self.wake.as_str().to_owned(),
            time_zone: self.zone.name().to_owned(),
            must_run: self.must_run.iter().map(Workload::to_string).collect(),
        }
    }

    /// Whether the schedule has the cluster asleep at `at`: its last sleep run is later than its
    /// last wake run. When both fall on the same instant, wake wins.
    pub fn asleep_at(&self, at: DateTime<Utc>) -> bool {
        match (
            self.sleep.last_at_or_before(at, self.zone),
            self.wake.last_at_or_before(at, self.zone),
        ) {
            (Some(sleep), Some(wake)) => sleep > wake,
            (Some(_), None) => true,
            _ => false,
        }
    }

    /// The schedule's next run strictly after `after`: when, and which.
    pub fn next_change(&self, after: DateTime<Utc>) -> Option<(DateTime<Utc>, Change)> {
        let sleep = self.sleep.next_after(after, self.zone);
        let wake = self.wake.next_after(after, self.zone);
        match (sleep, wake) {
            (Some(s), Some(w)) if s < w => Some((s, Change::Hibernate)),
            (_, Some(w)) => Some((w, Change::Wake)),
            (Some(s), None) => Some((s, Change::Hibernate)),
            (None, None) => None,
        }
    }

    /// The windows `[start, end)` in which the schedule has the cluster asleep, within
    /// `[from, until)`.
    pub fn asleep_windows(
        &self,
        from: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
        let mut windows = Vec::new();
        let mut asleep_since = self.asleep_at(from).then_some(from);
        let mut cursor = from;
        for _ in 0..MAX_EVENTS {
            let Some((at, change)) = self.next_change(cursor) else {
                break;
            };
            if at >= until {
                break;
            }
            match (change, asleep_since) {
                (Change::Hibernate, None) => asleep_since = Some(at),
                (Change::Wake, Some(start)) => {
                    windows.push((start, at));
                    asleep_since = None;
                }
                _ => {}
            }
            cursor = at;
        }
        if let Some(start) = asleep_since {
            windows.push((start, until));
        }
        windows
    }
}

/// The first instant at which both schedules have the cluster asleep in the next
/// [`OVERLAP_WINDOW`], if any.
pub fn overlap(a: &Schedule, b: &Schedule, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let until = now + OVERLAP_WINDOW;
    let theirs = b.asleep_windows(now, until);
    a.asleep_windows(now, until)
        .into_iter()
        .flat_map(|(start, end)| {
            theirs
                .iter()
                .filter(move |(s, e)| start < *e && *s < end)
                .map(move |(s, _)| start.max(*s))
        })
        .min()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().to_utc()
    }

    fn request(sleep: &str, wake: &str, zone: &str) -> pb::Schedule {
        pb::Schedule {
            cluster_id: "c".into(),
            sleep_cron: sleep.into(),
            wake_cron: wake.into(),
            time_zone: zone.into(),
            ..Default::default()
        }
    }

    fn schedule(sleep: &str, wake: &str, zone: &str) -> Schedule {
        Schedule::from_request(&request(sleep, wake, zone), "s".into(), now()).unwrap()
    }

    fn now() -> DateTime<Utc> {
        utc("2026-11-25T12:00:00Z")
    }

    fn message(sleep: &str, wake: &str, zone: &str) -> String {
        let error =
            Schedule::from_request(&request(sleep, wake, zone), "s".into(), now()).unwrap_err();
        let status: tonic::Status = error.into();
        assert_eq!(status.code(), tonic::Code::InvalidArgument);
        status.message().to_owned()
    }

    #[test]
    fn bad_input_names_the_field_and_why() {
        let text = message("0 25 * * *", "0 8 * * *", "UTC");
        assert!(
            text.starts_with("invalid `schedule.sleep_cron`: the hour field `25`"),
            "{text}"
        );
        let text = message("0 20 * * *", "0 8 * * 9", "UTC");
        assert!(
            text.starts_with("invalid `schedule.wake_cron`: the day-of-week field `9`"),
            "{text}"
        );
        let text = message("0 20 * * *", "0 8 * * *", "Mars/Olympus_Mons");
        assert!(
            text.starts_with("invalid `schedule.time_zone`: `Mars/Olympus_Mons`"),
            "{text}"
        );
        let text = message("0 20 30 2 *", "0 8 * * *", "UTC");
        assert!(
            text.starts_with("invalid `schedule.sleep_cron`") && text.contains("never opens"),
            "{text}"
        );
        let text = message("0 20 * * *", "0  20 * * *", "UTC");
        assert!(
            text.starts_with("invalid `schedule.wake_cron`: the same as sleep_cron"),
            "{text}"
        );
        let mut bad_workload = request("0 20 * * *", "0 8 * * *", "UTC");
        bad_workload.must_run = vec!["kube-system/coredns".into(), "no-slash".into()];
        let error = Schedule::from_request(&bad_workload, "s".into(), now()).unwrap_err();
        let status: tonic::Status = error.into();
        assert!(
            status
                .message()
                .starts_with("invalid `schedule.must_run[1]`"),
            "{}",
            status.message()
        );
    }

    #[test]
    fn a_nightly_schedule_sleeps_at_night_in_its_zone() {
        let nightly = schedule("0 20 * * 1-5", "0 7 * * 1-5", "Europe/Berlin");
        // Wednesday 25 November 2026: 21:00 in Berlin is 20:00 UTC.
        assert!(nightly.asleep_at(utc("2026-11-25T20:00:00Z")));
        assert!(!nightly.asleep_at(utc("2026-11-25T18:59:00Z")));
        assert!(nightly.asleep_at(utc("2026-11-26T05:59:00Z")));
        assert!(!nightly.asleep_at(utc("2026-11-26T06:00:00Z")));
        // Friday night sleeps until Monday 07:00.
        assert!(nightly.asleep_at(utc("2026-11-29T12:00:00Z")));
        assert_eq!(
            nightly.next_change(utc("2026-11-28T00:00:00Z")),
            Some((utc("2026-11-30T06:00:00Z"), Change::Wake))
        );
    }

    #[test]
    fn overlapping_windows_are_found_and_disjoint_ones_are_not() {
        let nights = schedule("0 20 * * *", "0 7 * * *", "Europe/Berlin");
        let weekend = schedule("0 12 * * 6", "0 12 * * 0", "Europe/Berlin");
        let lunch = schedule("0 12 * * *", "0 13 * * *", "Europe/Berlin");
        // The weekend window covers Saturday night.
        assert!(overlap(&nights, &weekend, now()).is_some());
        assert!(overlap(&weekend, &nights, now()).is_some());
        assert_eq!(overlap(&nights, &lunch, now()), None);
        // The same hours in another zone overlap too, shifted.
        let new_york = schedule("0 20 * * *", "0 7 * * *", "America/New_York");
        assert!(overlap(&nights, &new_york, now()).is_some());
    }

    #[test]
    fn must_run_workloads_own_their_generated_pods() {
        let coredns = Workload::parse("kube-system/coredns").unwrap();
        let pod = |namespace: &str, name: &str| Pod {
            namespace: namespace.into(),
            name: name.into(),
            ..Default::default()
        };
        assert!(coredns.owns(&pod("kube-system", "coredns")));
        assert!(coredns.owns(&pod("kube-system", "coredns-5d78c9869d-x7vzp")));
        assert!(coredns.owns(&pod("kube-system", "coredns-0")));
        assert!(!coredns.owns(&pod("default", "coredns-0")));
        assert!(!coredns.owns(&pod("kube-system", "corednsx-0")));
        assert!(!coredns.owns(&pod("kube-system", "coredns-a-b-c")));
        assert!(Workload::parse("Shop/web").is_err());
        assert!(Workload::parse("shop/").is_err());
    }
}
