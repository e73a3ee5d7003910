use spot_config::ServiceName;
use spot_proto::auth::v1::admin_service_server::AdminService;
use spot_proto::auth::v1::{GetSystemHealthRequest, GetSystemHealthResponse, ServiceHealth};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use crate::AuthApi;

#[tonic::async_trait]
impl AdminService for AuthApi {
    /// Asks each service, wherever it runs, for its health under its platform name (`cluster`, ...).
    async fn get_system_health(
        &self,
        _request: tonic::Request<GetSystemHealthRequest>,
    ) -> Result<tonic::Response<GetSystemHealthResponse>, tonic::Status> {
        let checks = ServiceName::ALL.map(|service| async move {
            let Some(channel) = self.ctx.clients.channel(service) else {
                return unhealthy(service, "no URL configured".to_owned());
            };
            let mut client = HealthClient::new(channel);
            let request = HealthCheckRequest {
                service: service.as_str().to_owned(),
            };
            match client.check(request).await {
                Ok(response) => {
                    let status = response.into_inner().status();
                    ServiceHealth {
                        service: service.as_str().to_owned(),
                        serving: status == ServingStatus::Serving,
                        detail: status.as_str_name().to_owned(),
                    }
                }
                Err(status) => unhealthy(service, status.message().to_owned()),
            }
        });
        let services = futures::future::join_all(checks).await;
        Ok(tonic::Response::new(GetSystemHealthResponse { services }))
    }
}

fn unhealthy(service: ServiceName, detail: String) -> ServiceHealth {
    ServiceHealth {
        service: service.as_str().to_owned(),
        serving: false,
        detail,
    }
}
