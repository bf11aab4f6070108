//! Cinder: the block-storage client (volumes, manage/unmanage, pools, quotas) and its wire
//! models.

pub mod model;

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
