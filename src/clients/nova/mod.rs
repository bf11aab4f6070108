//! Nova: the compute client (servers, flavors, key pairs, server groups) and its wire models.

pub use protector_wire::nova as model;

use std::sync::Arc;
use std::time::Duration;

use super::http::ClientError;
use super::keystone::{ServiceType, Session};
use super::openstack::{ServiceClient, query};

/// The microversion protector speaks: embedded flavors (2.47), volume types in
/// block_device_mapping_v2 (2.67), tags and descriptions; old enough for every supported cloud.
pub const MICROVERSION: &str = "2.79";

pub struct Compute {
    client: ServiceClient,
}

fn next(links: Option<Vec<model::Link>>) -> Option<String> {
    links?.into_iter().find(|l| l.rel == "next").map(|l| l.href)
}

impl Compute {
    pub fn new(session: Arc<Session>, timeout: Duration) -> Result<Compute, ClientError> {
        let headers = vec![
            ("OpenStack-API-Version", format!("compute {MICROVERSION}")),
            ("X-OpenStack-Nova-API-Version", MICROVERSION.to_string()),
        ];
        Ok(Compute {
            client: ServiceClient::new(session, ServiceType::Compute, timeout, headers)?,
        })
    }

    /// `GET /servers/detail` with filters, every page.
    pub async fn servers(
        &self,
        filters: &[(&str, &str)],
    ) -> Result<Vec<model::Server>, ClientError> {
        let mut pairs = filters.to_vec();
        pairs.push(("limit", "1000"));
        self.client
            .list(
                &format!("/servers/detail{}", query(&pairs)),
                |page: model::ServersDetailList| (page.servers, next(page.servers_links)),
            )
            .await
    }

    pub async fn server(&self, id: &str) -> Result<Option<model::Server>, ClientError> {
        Ok(self
            .client
            .find::<model::ServerResponse>(&format!("/servers/{id}"))
            .await?
            .map(|response| response.server))
    }

    pub async fn create_server(
        &self,
        request: &model::ServerCreateRequest,
    ) -> Result<model::CreatedServer, ClientError> {
        let reply = self.client.post("/servers", request, false).await?;
        Ok(reply.json::<model::ServerCreateResponse>()?.server)
    }

    pub async fn action(&self, id: &str, action: &model::ServerAction) -> Result<(), ClientError> {
        self.client
            .post(&format!("/servers/{id}/action"), action, false)
            .await
            .map(drop)
    }

    pub async fn delete_server(&self, id: &str) -> Result<(), ClientError> {
        self.client.delete(&format!("/servers/{id}")).await
    }

    /// The availability zones instances may be booted in.
    pub async fn availability_zones(&self) -> Result<Vec<model::AvailabilityZone>, ClientError> {
        Ok(self
            .client
            .get::<model::AvailabilityZonesList>("/os-availability-zone")
            .await?
            .availability_zone_info)
    }

    /// The names of the key pairs of protector's user: the only ones it may boot with.
    pub async fn keypairs(&self) -> Result<Vec<String>, ClientError> {
        self.client
            .list("/os-keypairs?limit=1000", |page: model::KeypairsList| {
                (
                    page.keypairs
                        .into_iter()
                        .map(|entry| entry.keypair.name)
                        .collect(),
                    next(page.keypairs_links),
                )
            })
            .await
    }

    /// The project's server groups (Nova pages them by offset; no project has more than its
    /// quota, 10 by default, far below a page).
    pub async fn server_groups(&self) -> Result<Vec<model::ServerGroup>, ClientError> {
        Ok(self
            .client
            .get::<model::ServerGroupsList>("/os-server-groups?limit=1000")
            .await?
            .server_groups)
    }

    pub async fn create_server_group(
        &self,
        request: &model::ServerGroupCreateRequest,
    ) -> Result<model::ServerGroup, ClientError> {
        let reply = self
            .client
            .post("/os-server-groups", request, false)
            .await?;
        Ok(reply.json::<model::ServerGroupResponse>()?.server_group)
    }

    pub async fn delete_server_group(&self, id: &str) -> Result<(), ClientError> {
        self.client.delete(&format!("/os-server-groups/{id}")).await
    }

    pub async fn flavors(&self) -> Result<Vec<model::Flavor>, ClientError> {
        self.client
            .list("/flavors/detail", |page: model::FlavorsList| {
                (page.flavors, next(page.flavors_links))
            })
            .await
    }
}
