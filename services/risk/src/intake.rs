//! Interruption intake: notices from agents (forwarded by the cluster service on the bus) and from
//! the internal RPC. Each event id counts once (a bus key remembers it for a day, so a flood of the
//! same event changes nothing and memory stays bounded); each accepted notice flags its pool for
//! GLOBAL_RISK_TTL (system config), counting its tenant among the pool's reporters (a tenant, not
//! an event, is what corroborates a flag).

use std::time::Duration;

use futures::StreamExt;
use spot_bus::SharedBus;
use spot_cloud::Catalog;
use spot_db::{Database, SystemSettingsStore};
use spot_kit::risk_flags::{self, Flag};
use spot_kit::topics::INTERRUPTIONS;
use spot_proto::events::v1::InterruptionReported;
use tokio_util::sync::CancellationToken;

use crate::evidence::{EvidenceStore, MEMORY_MILLIS};
use crate::notice::{Notice, reporter_name};

const REMEMBER_EVENTS: Duration = Duration::from_secs(24 * 3_600);
/// Notices about a moment further ahead than this are not believed.
pub(crate) const MAX_FUTURE_MILLIS: i64 = 15 * 60 * 1_000;
/// Nor notices older than this.
pub(crate) const MAX_AGE_MILLIS: i64 = 60 * 60 * 1_000;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum IntakeError {
    #[error("invalid `{0}`: {1}")]
    Invalid(&'static str, String),
}

/// Checks a notice: a known region and type, a zone of that region, a plausible time.
pub fn check(notice: &Notice, now_millis: i64) -> Result<(), IntakeError> {
    if notice.event_id.is_empty() || notice.event_id.len() > 256 {
        return Err(IntakeError::Invalid(
            "event_id",
            "1 to 256 characters".into(),
        ));
    }
    let catalog = Catalog::embedded();
    catalog
        .check_region(&notice.region)
        .map_err(|e| IntakeError::Invalid("region", e.to_string()))?;
    catalog
        .get(&notice.instance_type)
        .map_err(|e| IntakeError::Invalid("instance_type", e.to_string()))?;
    if !notice.zone.starts_with(&notice.region) || notice.zone.len() > notice.region.len() + 3 {
        return Err(IntakeError::Invalid(
            "zone",
            format!("`{}` is not a zone of {}", notice.zone, notice.region),
        ));
    }
    if notice.at_millis != 0 {
        if notice.at_millis > now_millis + MAX_FUTURE_MILLIS {
            return Err(IntakeError::Invalid(
                "time",
                "more than 15 minutes ahead".into(),
            ));
        }
        if notice.at_millis < now_millis - MAX_AGE_MILLIS {
            return Err(IntakeError::Invalid("time", "more than an hour old".into()));
        }
    }
    Ok(())
}

#[derive(Clone)]
pub struct Intake {
    pub bus: SharedBus,
    pub db: Database,
    pub evidence: EvidenceStore,
    /// Distinct pools one tenant may flag an hour (`limits.flagged_pools_per_tenant_per_hour`).
    pub pools_per_tenant_per_hour: u64,
}

impl Intake {
    /// Flags the notice's pool unless its event was seen; true when it was accepted.
    pub async fn accept(&self, notice: &Notice) -> Result<bool, tonic::Status> {
        let now = chrono::Utc::now().timestamp_millis();
        check(notice, now).map_err(|e| tonic::Status::invalid_argument(e.to_string()))?;
        let first = self
            .bus
            .set_if_absent(
                &format!("risk.event.{}", notice.event_id),
                b"1",
                REMEMBER_EVENTS,
            )
            .await
            .map_err(spot_error::ServiceError::into_status)?;
        if !first {
            return Ok(false);
        }
        let ttl_seconds = SystemSettingsStore::new(self.db.clone())
            .get()
            .await
            .map_err(spot_error::ServiceError::into_status)?
            .global_risk_ttl_seconds;
        let ttl = Duration::from_secs(u64::from(ttl_seconds.max(1)));
        let mut flag = Flag {
            region: notice.region.clone(),
            zone: notice.zone.clone(),
            instance_type: notice.instance_type.clone(),
            expires_at_millis: now + ttl.as_millis() as i64,
            reporters: 0,
        };
        let reporter = reporter_name(&notice.reporter);
        if !risk_flags::admit_pool(
            self.bus.as_ref(),
            &flag,
            &reporter,
            self.pools_per_tenant_per_hour,
        )
        .await
        .map_err(spot_error::ServiceError::into_status)?
        {
            tracing::warn!(
                pool = %format!("{}/{}", flag.zone, flag.instance_type),
                "a tenant flagged more than {} pools this hour; this one is not flagged",
                self.pools_per_tenant_per_hour
            );
            return Ok(false);
        }
        flag.reporters = risk_flags::add_reporter(self.bus.as_ref(), &flag, &reporter, ttl)
            .await
            .map_err(spot_error::ServiceError::into_status)?;
        risk_flags::raise(self.bus.as_ref(), &flag, ttl)
            .await
            .map_err(spot_error::ServiceError::into_status)?;
        let at = if notice.at_millis == 0 {
            now
        } else {
            notice.at_millis.min(now)
        };
        self.evidence
            .record(notice, at)
            .await
            .map_err(spot_db::status)?;
        Ok(true)
    }

    /// Takes agents' notices from the bus until shutdown. Every replica listens; the event-id
    /// key makes the duplicates harmless.
    pub async fn run(self, shutdown: CancellationToken) {
        let mut notices = match INTERRUPTIONS.subscribe(self.bus.as_ref()).await {
            Ok(notices) => notices,
            Err(error) => {
                tracing::error!(%error, "the risk intake cannot listen on the bus");
                return;
            }
        };
        let mut housekeeping = tokio::time::interval(Duration::from_secs(3_600));
        loop {
            let message = tokio::select! {
                () = shutdown.cancelled() => return,
                _ = housekeeping.tick() => {
                    let before = chrono::Utc::now().timestamp_millis() - MEMORY_MILLIS;
                    if let Err(error) = self.evidence.forget_before(before).await {
                        tracing::warn!(%error, "old interruption evidence not cleared");
                    }
                    continue;
                }
                message = notices.next() => match message {
                    Some(message) => message,
                    None => return,
                },
            };
            let Some(notice) = from_agent(message) else {
                continue;
            };
            if let Err(status) = self.accept(&notice).await {
                tracing::warn!(%status, event = %notice.event_id, "interruption notice refused");
            }
        }
    }
}

/// What the cluster service forwards. Only what the flag needs is read: the cluster stays out
/// of the hive mind, the tenant is only counted.
fn from_agent(reported: InterruptionReported) -> Option<Notice> {
    let pool = reported.pool?;
    Some(Notice {
        event_id: reported.event_id,
        region: pool.region,
        zone: pool.zone,
        instance_type: pool.instance_type,
        at_millis: reported.action_at_millis,
        reporter: reported.tenant_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notice() -> Notice {
        Notice {
            event_id: "e1".into(),
            region: "us-east-1".into(),
            zone: "us-east-1a".into(),
            instance_type: "m5.large".into(),
            at_millis: 1_000_000,
            reporter: "t1".into(),
        }
    }

    #[test]
    fn bad_notices_are_named() {
        let now = 1_000_000;
        assert_eq!(check(&notice(), now), Ok(()));
        let field = |n: Notice| match check(&n, now) {
            Err(IntakeError::Invalid(field, _)) => field,
            Ok(()) => "accepted",
        };
        assert_eq!(
            field(Notice {
                region: "mars-1".into(),
                ..notice()
            }),
            "region"
        );
        assert_eq!(
            field(Notice {
                instance_type: "m99.huge".into(),
                ..notice()
            }),
            "instance_type"
        );
        assert_eq!(
            field(Notice {
                zone: "eu-west-1a".into(),
                ..notice()
            }),
            "zone"
        );
        assert_eq!(
            field(Notice {
                event_id: String::new(),
                ..notice()
            }),
            "event_id"
        );
        assert_eq!(
            field(Notice {
                at_millis: now + 3_600_000,
                ..notice()
            }),
            "time"
        );
        assert_eq!(
            field(Notice {
                at_millis: now - 7_200_000,
                ..notice()
            }),
            "time"
        );
    }
}
