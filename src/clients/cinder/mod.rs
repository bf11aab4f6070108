//! Cinder: the block-storage client (volumes, manage/unmanage, pools, quotas) and its wire
//! models.

pub use protector_wire::cinder as model;

use std::sync::Arc;
use std::time::Duration;

use super::http::ClientError;
use super::keystone::{ServiceType, Session};
use super::openstack::{ServiceClient, query};

/// Manageable-volume listing needs 3.8; nothing protector uses needs more than 3.59.
pub const MICROVERSION: &str = "3.59";

pub struct BlockStorage {
    client: ServiceClient,
}

fn next(links: Option<Vec<model::Link>>) -> Option<String> {
    links?.into_iter().find(|l| l.rel == "next").map(|l| l.href)
}

pub use protector_wire::names::{UNMANAGED_SUFFIX, pure_unmanaged_name};

/// The host of the manage-policy probe: a name no Cinder backend can have.
pub const MANAGE_PROBE_HOST: &str = "protector-policy-probe@none#none";
/// The volume the manage-policy probe names (none such is ever created).
pub const MANAGE_PROBE_NAME: &str = "protector-policy-probe";

impl BlockStorage {
    pub fn new(session: Arc<Session>, timeout: Duration) -> Result<BlockStorage, ClientError> {
        let headers = vec![("OpenStack-API-Version", format!("volume {MICROVERSION}"))];
        Ok(BlockStorage {
            client: ServiceClient::new(session, ServiceType::BlockStorage, timeout, headers)?,
        })
    }

    /// `GET /volumes/detail` with filters, every page.
    pub async fn volumes(
        &self,
        filters: &[(&str, &str)],
    ) -> Result<Vec<model::Volume>, ClientError> {
        let mut pairs = filters.to_vec();
        pairs.push(("limit", "1000"));
        self.client
            .list(
                &format!("/volumes/detail{}", query(&pairs)),
                |page: model::VolumesDetailList| (page.volumes, next(page.volumes_links)),
            )
            .await
    }

    pub async fn volume(&self, id: &str) -> Result<Option<model::Volume>, ClientError> {
        Ok(self
            .client
            .find::<model::VolumeResponse>(&format!("/volumes/{id}"))
            .await?
            .map(|response| response.volume))
    }

    /// `GET /os-quota-sets/{project_id}?usage=true`: the project's limits and what counts
    /// against them (Cinder lets a project's members read their own).
    pub async fn quota_usage(
        &self,
        project_id: &str,
    ) -> Result<model::QuotaSet<model::QuotaUsage>, ClientError> {
        Ok(self
            .client
            .get::<model::QuotaSetResponse<model::QuotaUsage>>(&format!(
                "/os-quota-sets/{project_id}?usage=true"
            ))
            .await?
            .quota_set)
    }

    /// `GET /scheduler-stats/get_pools`: the backend pools (`host@backend#pool`) a manage
    /// request may name (admins; other roles get 403 from the default policy).
    pub async fn pools(&self) -> Result<Vec<model::Pool>, ClientError> {
        Ok(self
            .client
            .get::<model::PoolsList>("/scheduler-stats/get_pools")
            .await?
            .pools)
    }

    /// `GET /os-services?binary=cinder-volume`: the volume services, whose state tells whether
    /// a backend can take a manage request now (admins; other roles get 403 from the default
    /// policy).
    pub async fn volume_services(&self) -> Result<Vec<model::Service>, ClientError> {
        Ok(self
            .client
            .get::<model::ServicesList>("/os-services?binary=cinder-volume")
            .await?
            .services)
    }

    /// `GET /types`: the volume types the project may use.
    pub async fn volume_types(&self) -> Result<Vec<model::VolumeType>, ClientError> {
        Ok(self
            .client
            .get::<model::VolumeTypesList>("/types")
            .await?
            .volume_types)
    }

    /// Brings an array volume under Cinder's management.
    pub async fn manage(
        &self,
        request: &model::VolumeManageRequest,
    ) -> Result<model::Volume, ClientError> {
        let reply = self
            .client
            .post("/manageable_volumes", request, false)
            .await?;
        Ok(reply.json::<model::VolumeResponse>()?.volume)
    }

    /// Whether Cinder's policy lets this token manage volumes, asked without changing
    /// anything: a manage request for a marker volume on a host no Cinder service has. Cinder
    /// checks `volume_extension:volume_manage` first (403), then refuses the host (400 "Host
    /// ... not found"). Any other answer leaves the question open (`Err`).
    pub async fn may_manage(&self) -> Result<bool, ClientError> {
        let request = model::VolumeManageRequest {
            volume: model::VolumeManage {
                host: Some(MANAGE_PROBE_HOST.to_string()),
                cluster: None,
                reference: model::VolumeReference {
                    source_name: Some(MANAGE_PROBE_NAME.to_string()),
                    source_id: None,
                    name: None,
                },
                name: Some(MANAGE_PROBE_NAME.to_string()),
                description: None,
                availability_zone: None,
                volume_type: None,
                bootable: None,
                metadata: None,
            },
        };
        match self
            .client
            .post("/manageable_volumes", &request, false)
            .await
        {
            Err(error) if error.status == Some(403) => Ok(false),
            Err(error) if error.status == Some(400) && error.message.contains("not found") => {
                Ok(true)
            }
            Err(error) => Err(error),
            // No service has the marker host; should one ever accept it, its record goes.
            Ok(reply) => {
                if let Ok(created) = reply.json::<model::VolumeResponse>() {
                    let _ = self.delete_volume(&created.volume.id).await;
                }
                Ok(true)
            }
        }
    }

    /// Adds (or overwrites) metadata keys, keeping the others.
    pub async fn merge_metadata(
        &self,
        id: &str,
        metadata: &std::collections::BTreeMap<String, String>,
    ) -> Result<(), ClientError> {
        let body = model::VolumeMetadata {
            metadata: metadata.clone(),
        };
        self.client
            .post(&format!("/volumes/{id}/metadata"), &body, true)
            .await
            .map(drop)
    }

    /// Deletes a volume (404: already gone). Used only for the record of a failed manage,
    /// which has no array volume behind it (Cinder then deletes just the record).
    pub async fn delete_volume(&self, id: &str) -> Result<(), ClientError> {
        self.client.delete(&format!("/volumes/{id}")).await
    }

    /// Makes Cinder forget a volume; the array keeps its data.
    pub async fn unmanage(&self, id: &str) -> Result<(), ClientError> {
        let action = model::VolumeAction::Unmanage(model::NoArguments {});
        match self
            .client
            .post(&format!("/volumes/{id}/action"), &action, false)
            .await
        {
            Ok(_) => Ok(()),
            Err(error) if error.is_not_found() => Ok(()),
            Err(error) => Err(error),
        }
    }
}
