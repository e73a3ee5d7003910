//! The fleet service: what the other services read about the clusters and their fleet (a
//! cluster's reported state, the platform's spot exposure per pool, live spot prices, cluster
//! counts), and the cloud notices the risk service passes on. Nothing here changes a cluster;
//! that is the execution router's (`execution.rs`).

use spot_proto::cluster::v1 as pb;
use spot_proto::cluster::v1::fleet_service_server::FleetService;
use tonic::{Request, Response, Status};

use crate::ClusterApi;

#[tonic::async_trait]
impl FleetService for ClusterApi {
    async fn forward_cloud_notice(
        &self,
        request: Request<pb::ForwardCloudNoticeRequest>,
    ) -> Result<Response<pb::ForwardCloudNoticeResponse>, Status> {
        self.cloud_notice(request).await
    }

    async fn get_fleet_exposure(
        &self,
        request: Request<pb::GetFleetExposureRequest>,
    ) -> Result<Response<pb::GetFleetExposureResponse>, Status> {
        Ok(Response::new(
            self.fleet_exposure(&request.into_inner().region).await?,
        ))
    }

    async fn count_clusters(
        &self,
        request: Request<pb::CountClustersRequest>,
    ) -> Result<Response<pb::CountClustersResponse>, Status> {
        let tenant_ids = request.into_inner().tenant_ids;
        if tenant_ids.len() > 1_000 {
            return Err(Status::invalid_argument(
                "invalid `tenant_ids`: at most 1000",
            ));
        }
        Ok(Response::new(pb::CountClustersResponse {
            clusters: self.cluster_counts(&tenant_ids).await?,
        }))
    }

    async fn get_spot_prices(
        &self,
        request: Request<pb::GetSpotPricesRequest>,
    ) -> Result<Response<pb::GetSpotPricesResponse>, Status> {
        let request = request.into_inner();
        let prices = self
            .spot_prices(&request.tenant_id, &request.region)
            .await?;
        Ok(Response::new(pb::GetSpotPricesResponse {
            prices: prices
                .iter()
                .map(|(pool, usd_per_hour)| pb::SpotPoolPrice {
                    zone: pool.zone.clone(),
                    instance_type: pool.instance_type.clone(),
                    usd_per_hour: *usd_per_hour,
                    estimated: prices.distrusted.contains(pool),
                })
                .collect(),
        }))
    }

    async fn get_cluster_state(
        &self,
        request: Request<pb::GetClusterStateRequest>,
    ) -> Result<Response<pb::GetClusterStateResponse>, Status> {
        let cluster_id = request.into_inner().cluster_id;
        let cluster = self.internal_cluster(&cluster_id).await?;
        let launchable = self.launchable(&cluster).await?;
        Ok(Response::new(pb::GetClusterStateResponse {
            nodes: self.inventory.nodes(&cluster.id, None, None).await?,
            pods: self.inventory.pods(&cluster.id, None, None).await?,
            pdbs: self.inventory.pdbs(&cluster.id).await?,
            launchable_zones: launchable.zones,
            launchable_architectures: launchable.architectures,
            launchable_root_volume_gib: launchable.root_volume_gib,
            agent_connected: self.presence.get(&cluster.id).await.is_some(),
            cluster: Some(crate::clusters_rpc::to_proto(&cluster)),
        }))
    }
}
