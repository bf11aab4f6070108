//! Neutron: the network client (networks, subnets, ports) and its wire models.

pub use protector_wire::neutron as model;

use std::sync::Arc;
use std::time::Duration;

use super::http::ClientError;
use super::keystone::{ServiceType, Session};
use super::openstack::{ServiceClient, query};

pub struct Networking {
    client: ServiceClient,
}

fn next(links: Option<Vec<model::Link>>) -> Option<String> {
    links?.into_iter().find(|l| l.rel == "next").map(|l| l.href)
}

impl Networking {
    pub fn new(session: Arc<Session>, timeout: Duration) -> Result<Networking, ClientError> {
        Ok(Networking {
            client: ServiceClient::new(session, ServiceType::Network, timeout, Vec::new())?,
        })
    }

    pub async fn networks(&self) -> Result<Vec<model::Network>, ClientError> {
        self.client
            .list("/networks?limit=1000", |page: model::NetworksList| {
                (page.networks, next(page.networks_links))
            })
            .await
    }

    pub async fn subnets(&self) -> Result<Vec<model::Subnet>, ClientError> {
        self.client
            .list("/subnets?limit=1000", |page: model::SubnetsList| {
                (page.subnets, next(page.subnets_links))
            })
            .await
    }

    pub async fn ports(&self, filters: &[(&str, &str)]) -> Result<Vec<model::Port>, ClientError> {
        let mut pairs = filters.to_vec();
        pairs.push(("limit", "1000"));
        self.client
            .list(
                &format!("/ports{}", query(&pairs)),
                |page: model::PortsList| (page.ports, next(page.ports_links)),
            )
            .await
    }

    /// The security groups the project sees (its own and shared ones).
    pub async fn security_groups(&self) -> Result<Vec<model::SecurityGroup>, ClientError> {
        self.client
            .list(
                "/security-groups?limit=1000",
                |page: model::SecurityGroupsList| {
                    (page.security_groups, next(page.security_groups_links))
                },
            )
            .await
    }

    pub async fn create_port(
        &self,
        request: &model::PortCreateRequest,
    ) -> Result<model::Port, ClientError> {
        let reply = self.client.post("/ports", request, false).await?;
        Ok(reply.json::<model::PortResponse>()?.port)
    }

    pub async fn delete_port(&self, id: &str) -> Result<(), ClientError> {
        self.client.delete(&format!("/ports/{id}")).await
    }
}
