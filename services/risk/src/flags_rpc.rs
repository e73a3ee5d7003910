//! RiskService: the intake (internal, and EventBridge events from tenants) and the hive mind's flags, global across tenants and
//! anonymous: a flag says which pool and until when, never who raised it.

use futures::StreamExt;
use spot_access::{AuditNote, tenant};
use spot_cloud::Catalog;
use spot_config::ServiceName;
use spot_kit::risk_flags::{self, Flag};
use spot_proto::agent::v1::InterruptionNotice;
use spot_proto::cluster::v1::ForwardCloudNoticeRequest;
use spot_proto::cluster::v1::fleet_service_client::FleetServiceClient;
use spot_proto::common::v1::Pool;
use spot_proto::risk::v1 as pb;
use spot_proto::risk::v1::risk_service_server::RiskService;
use tonic::{Request, Response, Status};

use crate::RiskApi;
use crate::eventbridge;
use crate::notice::{Notice, PLATFORM_REPORTER};

fn to_proto(flag: &Flag) -> pb::RiskFlag {
    pb::RiskFlag {
        pool: Some(Pool {
            region: flag.region.clone(),
            zone: flag.zone.clone(),
            instance_type: flag.instance_type.clone(),
        }),
        expires_at: Some(spot_proto::time::timestamp(flag.expires_at_millis)),
    }
}

fn check_region(region: &str) -> Result<(), Status> {
    Catalog::embedded()
        .check_region(region)
        .map_err(|e| Status::invalid_argument(format!("invalid `region`: {e}")))
}

#[tonic::async_trait]
impl RiskService for RiskApi {
    async fn report_interruption(
        &self,
        request: Request<pb::ReportInterruptionRequest>,
    ) -> Result<Response<pb::ReportInterruptionResponse>, Status> {
        let notice = request
            .into_inner()
            .notice
            .ok_or_else(|| Status::invalid_argument("invalid `notice`: required"))?;
        let pool = notice
            .pool
            .ok_or_else(|| Status::invalid_argument("invalid `notice.pool`: required"))?;
        let accepted = self
            .intake
            .accept(&Notice {
                event_id: notice.event_id,
                region: pool.region,
                zone: pool.zone,
                instance_type: pool.instance_type,
                at_millis: notice
                    .action_at
                    .as_ref()
                    .map(spot_proto::time::millis)
                    .unwrap_or(0),
                reporter: PLATFORM_REPORTER.to_owned(),
            })
            .await?;
        Ok(Response::new(pb::ReportInterruptionResponse { accepted }))
    }

    /// A tenant forwards the events AWS sends to its account (an EventBridge rule with an API
    /// destination): the instance must be one of its clusters' nodes; the notice then takes the
    /// agent's path (the cluster's event, the optimizer's response, the hive mind).
    async fn ingest_event_bridge_event(
        &self,
        request: Request<pb::IngestEventBridgeEventRequest>,
    ) -> Result<Response<pb::IngestEventBridgeEventResponse>, Status> {
        let tenant_id = tenant(&request)?;
        let now = chrono::Utc::now().timestamp_millis();
        let event = eventbridge::parse(&request.get_ref().event_json, now)
            .map_err(|e| Status::invalid_argument(e.to_string()))?;
        let channel = self
            .ctx
            .clients
            .channel(ServiceName::Cluster)
            .ok_or_else(|| Status::unavailable("the cluster service is not reachable"))?;
        let forwarded = FleetServiceClient::new(channel)
            .forward_cloud_notice(ForwardCloudNoticeRequest {
                tenant_id,
                aws_account_id: event.account.clone(),
                region: event.region.clone(),
                notice: Some(InterruptionNotice {
                    event_id: event.event_id.clone(),
                    kind: event.kind.into(),
                    instance_id: event.instance_id.clone(),
                    action_at: event.action_at_millis.map(spot_proto::time::timestamp),
                    ..Default::default()
                }),
            })
            .await?
            .into_inner();
        let note = AuditNote::target(format!(
            "{} {} (cluster {}, node {})",
            event.kind.as_str_name(),
            event.instance_id,
            forwarded.cluster_id,
            forwarded.node_name
        ));
        Ok(
            note.attach(Response::new(pb::IngestEventBridgeEventResponse {
                accepted: forwarded.accepted,
            })),
        )
    }

    async fn get_risk_scores(
        &self,
        request: Request<pb::GetRiskScoresRequest>,
    ) -> Result<Response<pb::GetRiskScoresResponse>, Status> {
        let scores = self.scores(request.into_inner().pools).await?;
        Ok(Response::new(pb::GetRiskScoresResponse { scores }))
    }

    async fn list_risk_flags(
        &self,
        request: Request<pb::ListRiskFlagsRequest>,
    ) -> Result<Response<pb::ListRiskFlagsResponse>, Status> {
        let region = request.into_inner().region;
        check_region(&region)?;
        let flags = risk_flags::active(self.ctx.bus.as_ref(), &region)
            .await
            .map_err(spot_error::ServiceError::into_status)?;
        Ok(Response::new(pb::ListRiskFlagsResponse {
            flags: flags.iter().map(to_proto).collect(),
        }))
    }

    async fn watch_risk_flags(
        &self,
        request: Request<pb::WatchRiskFlagsRequest>,
    ) -> Result<Response<tonic::codegen::BoxStream<pb::WatchRiskFlagsResponse>>, Status> {
        let region = request.into_inner().region;
        check_region(&region)?;
        // Subscribe before reading the flags in force, so none falls between the two.
        let raised = risk_flags::TOPIC
            .subscribe(self.ctx.bus.as_ref())
            .await
            .map_err(spot_error::ServiceError::into_status)?;
        let current = risk_flags::active(self.ctx.bus.as_ref(), &region)
            .await
            .map_err(spot_error::ServiceError::into_status)?;
        let wanted = region.clone();
        let raised = raised.filter_map(move |raised| {
            let flag = Flag::from_event(raised).filter(|f| f.region == wanted);
            std::future::ready(flag.map(|f| {
                Ok(pb::WatchRiskFlagsResponse {
                    flag: Some(to_proto(&f)),
                })
            }))
        });
        let shutdown = self.ctx.shutdown.clone();
        let stream = futures::stream::iter(current.into_iter().map(|f| {
            Ok(pb::WatchRiskFlagsResponse {
                flag: Some(to_proto(&f)),
            })
        }))
        .chain(raised)
        .take_until(async move { shutdown.cancelled().await });
        Ok(Response::new(Box::pin(stream)))
    }
}
