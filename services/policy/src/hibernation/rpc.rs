//! HibernationService: schedules, overrides, the next transitions and the runs. A cluster is the
//! caller's only if the cluster service says it belongs to the caller's tenant; another tenant's
//! cluster, schedule or run does not exist for them (NOT_FOUND).

use chrono::{DateTime, Utc};
use spot_access::{AuditNote, tenant};
use spot_error::Error;
use spot_kit::page;
use spot_proto::policy::v1 as pb;
use spot_proto::policy::v1::hibernation_service_server::HibernationService;
use tonic::{Request, Response, Status};

use super::HibernationApi;
use super::overrides::{Calendar, Override};
use super::schedule::{Schedule, overlap};

const DEFAULT_TRANSITIONS: usize = 10;
const MAX_TRANSITIONS: usize = 100;

fn new_id() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}

impl HibernationApi {
    /// NOT_FOUND unless the cluster belongs to the tenant.
    async fn check_cluster(
        &self,
        tenant_id: &str,
        field: &str,
        cluster_id: &str,
    ) -> Result<(), Status> {
        if cluster_id.is_empty() {
            return Err(Error::invalid(field, "required").into());
        }
        spot_kit::clusters::tenant_cluster_state(&self.ctx, tenant_id, cluster_id)
            .await
            .map(drop)
    }

    async fn calendar(&self, cluster_id: &str, now: DateTime<Utc>) -> Result<Calendar, Status> {
        Ok(Calendar {
            schedules: self.store.schedules(None, cluster_id).await?,
            overrides: self.store.overrides(cluster_id, now).await?,
        })
    }
}

#[tonic::async_trait]
impl HibernationService for HibernationApi {
    async fn create_schedule(
        &self,
        request: Request<pb::CreateScheduleRequest>,
    ) -> Result<Response<pb::CreateScheduleResponse>, Status> {
        let tenant_id = tenant(&request)?;
        let requested = request
            .into_inner()
            .schedule
            .ok_or_else(|| Error::invalid("schedule", "required"))?;
        let now = Utc::now();
        self.check_cluster(&tenant_id, "schedule.cluster_id", &requested.cluster_id)
            .await?;
        let others = self.store.schedules(None, &requested.cluster_id).await?;
        // Cron searches are CPU work: off the async threads.
        let schedule = tokio::task::spawn_blocking(move || {
            let schedule = Schedule::from_request(&requested, new_id(), now)?;
            for other in &others {
                if let Some(at) = overlap(&schedule, other, now) {
                    return Err(Error::invalid(
                        "schedule",
                        format!(
                            "its asleep windows overlap those of schedule {} on the same cluster (both asleep at {}): change one, or delete {}",
                            other.id,
                            at.to_rfc3339(),
                            other.id
                        ),
                    ));
                }
            }
            Ok(schedule)
        })
        .await
        .map_err(|_| Status::internal("the schedule could not be checked"))??;
        self.store
            .insert_schedule(&tenant_id, &schedule, now)
            .await?;
        self.calendar_changed(&schedule.cluster_id).await;
        let schedule = schedule.to_proto();
        Ok(
            AuditNote::target(format!("schedule/{}", schedule.id)).attach(Response::new(
                pb::CreateScheduleResponse {
                    schedule: Some(schedule),
                },
            )),
        )
    }

    async fn list_schedules(
        &self,
        request: Request<pb::ListSchedulesRequest>,
    ) -> Result<Response<pb::ListSchedulesResponse>, Status> {
        let tenant_id = tenant(&request)?;
        let cluster_id = request.into_inner().cluster_id;
        if !cluster_id.is_empty() {
            self.check_cluster(&tenant_id, "cluster_id", &cluster_id)
                .await?;
        }
        let schedules = self.store.schedules(Some(&tenant_id), &cluster_id).await?;
        Ok(Response::new(pb::ListSchedulesResponse {
            schedules: schedules.iter().map(Schedule::to_proto).collect(),
        }))
    }

    async fn delete_schedule(
        &self,
        request: Request<pb::DeleteScheduleRequest>,
    ) -> Result<Response<pb::DeleteScheduleResponse>, Status> {
        let tenant_id = tenant(&request)?;
        let id = request.into_inner().id;
        if id.is_empty() {
            return Err(Error::invalid("id", "required").into());
        }
        let cluster_id = self
            .store
            .delete_schedule(&tenant_id, &id)
            .await?
            .ok_or_else(|| Status::not_found("schedule not found"))?;
        self.calendar_changed(&cluster_id).await;
        Ok(AuditNote::target(format!("schedule/{id}"))
            .attach(Response::new(pb::DeleteScheduleResponse {})))
    }

    async fn create_override(
        &self,
        request: Request<pb::CreateOverrideRequest>,
    ) -> Result<Response<pb::CreateOverrideResponse>, Status> {
        let tenant_id = tenant(&request)?;
        let request = request.into_inner();
        self.check_cluster(&tenant_id, "cluster_id", &request.cluster_id)
            .await?;
        let created = Override::from_request(&request, new_id(), Utc::now())?;
        self.store.insert_override(&tenant_id, &created).await?;
        self.calendar_changed(&created.cluster_id).await;
        let what = if created.asleep {
            format!("sleep until {}", created.ends_at.to_rfc3339())
        } else {
            format!("wake until {}", created.ends_at.to_rfc3339())
        };
        let mut note = AuditNote::target(format!("cluster/{}", created.cluster_id));
        note.target.push_str(&format!(" ({what})"));
        Ok(note.attach(Response::new(pb::CreateOverrideResponse {})))
    }

    async fn list_transitions(
        &self,
        request: Request<pb::ListTransitionsRequest>,
    ) -> Result<Response<pb::ListTransitionsResponse>, Status> {
        let tenant_id = tenant(&request)?;
        let request = request.into_inner();
        self.check_cluster(&tenant_id, "cluster_id", &request.cluster_id)
            .await?;
        let count = match request.count as usize {
            0 => DEFAULT_TRANSITIONS,
            n if n > MAX_TRANSITIONS => {
                return Err(Error::invalid("count", format!("at most {MAX_TRANSITIONS}")).into());
            }
            n => n,
        };
        let now = Utc::now();
        let calendar = self.calendar(&request.cluster_id, now).await?;
        // Cron searches are CPU work: off the async threads.
        let (asleep, transitions) = tokio::task::spawn_blocking(move || {
            (calendar.asleep_at(now), calendar.transitions(now, count))
        })
        .await
        .map_err(|_| Status::internal("the transitions could not be computed"))?;
        let last_run = self
            .store
            .runs(&tenant_id, &request.cluster_id, None, 1)
            .await?
            .into_iter()
            .next();
        Ok(Response::new(pb::ListTransitionsResponse {
            transitions: transitions
                .into_iter()
                .map(|(at, change)| pb::Transition {
                    cluster_id: request.cluster_id.clone(),
                    kind: change.as_str().to_owned(),
                    at: Some(spot_proto::time::timestamp(at.timestamp_millis())),
                })
                .collect(),
            asleep,
            last_run,
        }))
    }

    async fn list_hibernation_runs(
        &self,
        request: Request<pb::ListHibernationRunsRequest>,
    ) -> Result<Response<pb::ListHibernationRunsResponse>, Status> {
        let tenant_id = tenant(&request)?;
        let request = request.into_inner();
        self.check_cluster(&tenant_id, "cluster_id", &request.cluster_id)
            .await?;
        let size = page::size(request.page.as_ref());
        let before = page::cursor(request.page.as_ref())?;
        let runs = self
            .store
            .runs(&tenant_id, &request.cluster_id, before, size + 1)
            .await?;
        let (runs, page) = page::split(runs, size, |r| r.id.clone());
        Ok(Response::new(pb::ListHibernationRunsResponse {
            runs,
            page: Some(page),
        }))
    }
}
