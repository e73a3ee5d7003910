//! ExperimentService: create, list, get, stop and archive a tenant's experiments.

use spot_access::{AuditNote, Caller, caller, tenant};
use spot_kit::page;
use spot_proto::risk::v1 as pb;
use spot_proto::risk::v1::experiment_service_server::ExperimentService;
use tonic::{Request, Response, Status};

use super::entity::{experiment_decisions, experiments};
use super::validate::{self, Kind};
use crate::RiskApi;

/// Running experiments one tenant may have.
const MAX_RUNNING: u64 = 10;
const RECENT_DECISIONS: u64 = 50;

fn state_of(stored: &str) -> pb::ExperimentState {
    match stored {
        "running" => pb::ExperimentState::Running,
        "stopped" => pb::ExperimentState::Stopped,
        "archived" => pb::ExperimentState::Archived,
        _ => pb::ExperimentState::Unspecified,
    }
}

fn to_proto(row: &experiments::Model) -> pb::Experiment {
    use prost::Message;
    pb::Experiment {
        id: row.id.clone(),
        name: row.name.clone(),
        kind: Kind::parse(&row.kind)
            .map(Kind::to_proto)
            .unwrap_or_default()
            .into(),
        candidate: row.candidate.clone(),
        cluster_ids: serde_json::from_str(&row.cluster_ids).unwrap_or_default(),
        duration_hours: row.duration_hours.max(0) as u32,
        state: state_of(&row.state).into(),
        report: pb::ExperimentReport::decode(row.report.as_slice()).ok(),
        started_at: Some(spot_proto::time::timestamp(row.started_at)),
        live: row.live.clone(),
        ends_at: Some(spot_proto::time::timestamp(row.ends_at)),
        stop_reason: row.stop_reason.clone(),
    }
}

fn decision_to_proto(row: &experiment_decisions::Model) -> pb::ExperimentDecision {
    pb::ExperimentDecision {
        cluster_id: row.cluster_id.clone(),
        subject: row.subject.clone(),
        at: Some(spot_proto::time::timestamp(row.at)),
        live_value: row.live_value,
        candidate_value: row.candidate_value,
        live_risk: row.live_risk,
        candidate_risk: row.candidate_risk,
    }
}

fn who(caller: &Caller) -> String {
    match caller {
        Caller::User { user_id, .. } => format!("user:{user_id}"),
        Caller::ApiKey { key_id, .. } => format!("api-key:{key_id}"),
        Caller::Service { name } => format!("service:{name}"),
        Caller::Anonymous => "anonymous".to_owned(),
    }
}

fn audit(row: &experiments::Model) -> AuditNote {
    AuditNote::target(format!("experiment/{} ({})", row.id, row.name))
}

#[tonic::async_trait]
impl ExperimentService for RiskApi {
    async fn create_experiment(
        &self,
        request: Request<pb::CreateExperimentRequest>,
    ) -> Result<Response<pb::CreateExperimentResponse>, Status> {
        let tenant_id = tenant(&request)?;
        let created_by = who(caller(&request)?);
        let asked = request
            .into_inner()
            .experiment
            .ok_or_else(|| Status::invalid_argument("invalid `experiment`: required"))?;
        let new = validate::check(&asked)?;
        for (index, cluster_id) in new.cluster_ids.iter().enumerate() {
            match spot_kit::clusters::tenant_cluster_state(&self.ctx, &tenant_id, cluster_id).await
            {
                Ok(_) => {}
                Err(status) if status.code() == tonic::Code::NotFound => {
                    return Err(Status::invalid_argument(format!(
                        "invalid `experiment.cluster_ids[{index}]`: no cluster `{cluster_id}` in your account"
                    )));
                }
                Err(status) => return Err(status),
            }
        }
        if self.lab.count_running(&tenant_id).await? >= MAX_RUNNING {
            return Err(Status::resource_exhausted(format!(
                "{MAX_RUNNING} experiments are running already: stop one first"
            )));
        }
        let now = chrono::Utc::now().timestamp_millis();
        let row = experiments::Model {
            id: uuid::Uuid::now_v7().simple().to_string(),
            tenant_id,
            name: new.name,
            kind: new.kind.as_str().to_owned(),
            candidate: new.candidate,
            live: new.kind.live().to_owned(),
            cluster_ids: serde_json::to_string(&new.cluster_ids)
                .map_err(|_| Status::internal("cluster ids not encodable"))?,
            duration_hours: new.duration_hours as i32,
            state: "running".to_owned(),
            stop_reason: String::new(),
            created_by,
            started_at: now,
            ends_at: now + i64::from(new.duration_hours) * 3_600_000,
            stopped_at: None,
            report: Vec::new(),
        };
        self.lab.insert(row.clone()).await?;
        Ok(
            audit(&row).attach(Response::new(pb::CreateExperimentResponse {
                experiment: Some(to_proto(&row)),
            })),
        )
    }

    async fn list_experiments(
        &self,
        request: Request<pb::ListExperimentsRequest>,
    ) -> Result<Response<pb::ListExperimentsResponse>, Status> {
        let tenant_id = tenant(&request)?;
        let request = request.into_inner();
        let size = page::size(request.page.as_ref());
        let before = page::cursor(request.page.as_ref())?;
        let rows = self.lab.list(&tenant_id, before, size + 1).await?;
        let (rows, page) = page::split(rows, size, |row| row.id.clone());
        Ok(Response::new(pb::ListExperimentsResponse {
            experiments: rows.iter().map(to_proto).collect(),
            page: Some(page),
        }))
    }

    async fn get_experiment(
        &self,
        request: Request<pb::GetExperimentRequest>,
    ) -> Result<Response<pb::GetExperimentResponse>, Status> {
        let tenant_id = tenant(&request)?;
        let row = self.lab.get(&tenant_id, &request.into_inner().id).await?;
        let recent = self.lab.recent_decisions(&row.id, RECENT_DECISIONS).await?;
        Ok(Response::new(pb::GetExperimentResponse {
            experiment: Some(to_proto(&row)),
            recent_decisions: recent.iter().map(decision_to_proto).collect(),
        }))
    }

    async fn stop_experiment(
        &self,
        request: Request<pb::StopExperimentRequest>,
    ) -> Result<Response<pb::StopExperimentResponse>, Status> {
        let tenant_id = tenant(&request)?;
        let by = who(caller(&request)?);
        let row = self.lab.get(&tenant_id, &request.into_inner().id).await?;
        let now = chrono::Utc::now().timestamp_millis();
        if !self
            .lab
            .stop(&row.id, &format!("stopped by {by}"), now)
            .await?
        {
            return Err(Status::failed_precondition(format!(
                "experiment {} is {}, not running",
                row.id, row.state
            )));
        }
        if let Some(kind) = Kind::parse(&row.kind) {
            self.refresh_report(&row, kind, now).await?;
        }
        let row = self.lab.get(&tenant_id, &row.id).await?;
        Ok(
            audit(&row).attach(Response::new(pb::StopExperimentResponse {
                experiment: Some(to_proto(&row)),
            })),
        )
    }

    async fn archive_experiment(
        &self,
        request: Request<pb::ArchiveExperimentRequest>,
    ) -> Result<Response<pb::ArchiveExperimentResponse>, Status> {
        let tenant_id = tenant(&request)?;
        let row = self.lab.get(&tenant_id, &request.into_inner().id).await?;
        if !self.lab.archive(&row.id).await? {
            return Err(Status::failed_precondition(format!(
                "experiment {} is {}: only a stopped experiment can be archived",
                row.id, row.state
            )));
        }
        Ok(audit(&row).attach(Response::new(pb::ArchiveExperimentResponse {})))
    }
}
