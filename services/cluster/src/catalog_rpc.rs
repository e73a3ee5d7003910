//! CatalogService: instance types with their allocatable resources and prices per pool.

use spot_cloud::{Architecture, Catalog, CatalogError, InstanceType, TypeFilter, zones_of};
use spot_proto::cluster::v1 as pb;
use spot_proto::cluster::v1::catalog_service_server::CatalogService;
use spot_proto::common::v1::{self as common, PageResponse};
use tonic::{Request, Response, Status};

use crate::ClusterApi;

const DEFAULT_PAGE: usize = 100;
const MAX_PAGE: usize = 1000;

fn catalog_status(error: CatalogError) -> Status {
    match error {
        CatalogError::UnknownType(_) => Status::not_found(error.to_string()),
        CatalogError::UnknownRegion(_) => {
            Status::invalid_argument(format!("invalid `region`: {error}"))
        }
    }
}

fn architecture(value: i32) -> Result<Option<Architecture>, Status> {
    match common::Architecture::try_from(value) {
        Ok(common::Architecture::Unspecified) => Ok(None),
        Ok(common::Architecture::Amd64) => Ok(Some(Architecture::Amd64)),
        Ok(common::Architecture::Arm64) => Ok(Some(Architecture::Arm64)),
        Err(_) => Err(Status::invalid_argument(
            "invalid `architecture`: must be ARCHITECTURE_AMD64 or ARCHITECTURE_ARM64",
        )),
    }
}

pub fn to_proto(t: &InstanceType) -> pb::InstanceType {
    pb::InstanceType {
        name: t.name.clone(),
        family: t.family.clone(),
        category: t.category.clone(),
        generation: t.generation as i32,
        architecture: match t.architecture {
            Architecture::Amd64 => common::Architecture::Amd64,
            Architecture::Arm64 => common::Architecture::Arm64,
        }
        .into(),
        vcpu: t.vcpu as i32,
        memory_mib: t.memory_mib,
        allocatable: Some(common::Resources {
            cpu_millis: t.allocatable.cpu_millis,
            memory_mib: t.allocatable.memory_mib,
            pods: t.allocatable.pods,
            gpus: t.allocatable.gpus,
            // A node's disk is its node class's root volume, not its type's.
            ephemeral_storage_mib: 0,
        }),
        on_demand_usd_per_hour: t.on_demand_usd_per_hour.unwrap_or_default(),
    }
}

#[tonic::async_trait]
impl CatalogService for ClusterApi {
    async fn list_instance_types(
        &self,
        request: Request<pb::ListInstanceTypesRequest>,
    ) -> Result<Response<pb::ListInstanceTypesResponse>, Status> {
        let request = request.into_inner();
        if request.min_cpu_millis < 0 || request.min_memory_mib < 0 {
            return Err(Status::invalid_argument(
                "invalid `min_cpu_millis`/`min_memory_mib`: must not be negative",
            ));
        }
        let filter = TypeFilter {
            families: request.families,
            categories: request.categories,
            architecture: architecture(request.architecture)?,
            min_cpu_millis: request.min_cpu_millis,
            min_memory_mib: request.min_memory_mib,
            gpu_only: request.gpu_only,
            region: Some(request.region).filter(|r| !r.is_empty()),
        };
        let types = Catalog::embedded()
            .filter(&filter)
            .map_err(catalog_status)?;
        let page = request.page.unwrap_or_default();
        let size = match page.page_size as usize {
            0 => DEFAULT_PAGE,
            n => n.min(MAX_PAGE),
        };
        // Types are sorted by name; the token is the last name of the previous page.
        let remaining: Vec<_> = types
            .into_iter()
            .filter(|t| page.page_token.is_empty() || t.name > page.page_token)
            .collect();
        let next_page_token = if remaining.len() > size {
            remaining[size - 1].name.clone()
        } else {
            String::new()
        };
        Ok(Response::new(pb::ListInstanceTypesResponse {
            instance_types: remaining.iter().take(size).map(|t| to_proto(t)).collect(),
            page: Some(PageResponse { next_page_token }),
        }))
    }

    async fn get_instance_type(
        &self,
        request: Request<pb::GetInstanceTypeRequest>,
    ) -> Result<Response<pb::GetInstanceTypeResponse>, Status> {
        let name = request.into_inner().name;
        let instance_type = Catalog::embedded().get(&name).map_err(catalog_status)?;
        Ok(Response::new(pb::GetInstanceTypeResponse {
            instance_type: Some(to_proto(instance_type)),
        }))
    }

    /// Per zone of the region: the on-demand price and the spot price of the pool, with the
    /// interruption bucket and whether the zone offers the type.
    async fn list_pool_prices(
        &self,
        request: Request<pb::ListPoolPricesRequest>,
    ) -> Result<Response<pb::ListPoolPricesResponse>, Status> {
        let tenant_id = spot_access::caller(&request)?
            .tenant_id()
            .unwrap_or_default()
            .to_owned();
        let request = request.into_inner();
        let catalog = Catalog::embedded();
        if request.region.is_empty() {
            return Err(Status::invalid_argument("invalid `region`: is required"));
        }
        let instance_type = catalog
            .get(&request.instance_type)
            .map_err(catalog_status)?;
        let advice = catalog
            .advice(&request.region, &instance_type.name)
            .map_err(catalog_status)?;
        let bucket = advice.map_or(-1, |a| i32::from(a.interruption_bucket));
        let live = self.spot_prices(&tenant_id, &request.region).await?;
        let mut prices = Vec::new();
        for zone in zones_of(&request.region) {
            let pool = spot_cloud::Pool {
                region: request.region.clone(),
                zone: zone.clone(),
                instance_type: instance_type.name.clone(),
            };
            // Without a live source, a listed type is taken as offered in every zone.
            let offered = live.contains_key(&pool) || (live.is_empty() && advice.is_some());
            let proto_pool = common::Pool {
                region: pool.region.clone(),
                zone,
                instance_type: pool.instance_type.clone(),
            };
            if let Some(on_demand) = instance_type.on_demand_usd_per_hour {
                prices.push(pb::PoolPrice {
                    pool: Some(proto_pool.clone()),
                    capacity_type: common::CapacityType::OnDemand.into(),
                    usd_per_hour: on_demand,
                    estimated: request.region != "us-east-1",
                    interruption_bucket: -1,
                    available: offered,
                });
            }
            let spot = live
                .get(&pool)
                .map(|price| (*price, live.distrusted.contains(&pool)))
                .or_else(|| {
                    catalog
                        .estimated_spot_price(&request.region, &instance_type.name)
                        .ok()
                        .flatten()
                        .map(|price| (price, true))
                });
            if let Some((usd_per_hour, estimated)) = spot {
                prices.push(pb::PoolPrice {
                    pool: Some(proto_pool),
                    capacity_type: common::CapacityType::Spot.into(),
                    usd_per_hour,
                    estimated,
                    interruption_bucket: bucket,
                    available: offered,
                });
            }
        }
        Ok(Response::new(pb::ListPoolPricesResponse { prices }))
    }
}
