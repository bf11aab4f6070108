//! Effects on Cinder: array volumes managed as Cinder volumes (tagged with the step that
//! managed them, a failed manage's record removed), unmanaged or removed again, and whether a
//! volume is in use by a server.

use std::collections::BTreeMap;

use super::wait::{LostAnswers, find_or_make};
use super::{SiteRunner, marker, text};
use crate::apply::executor::Created;
use crate::clients::cinder::model as cinder;
use crate::plan::Step;

impl SiteRunner<'_> {
    /// Cinder volumes named `name` whose description is `marker`.
    pub(super) async fn marked_volumes(
        &self,
        site: &str,
        name: &str,
        marker: &str,
    ) -> Result<Vec<cinder::Volume>, String> {
        let openstack = self.openstack(site).await?;
        Ok(openstack
            .block
            .volumes(&[("name", name)])
            .await
            .map_err(text)?
            .into_iter()
            .filter(|volume| volume.description.as_deref() == Some(marker))
            .collect())
    }

    /// Whether volume `volume_id` is `in-use` by server `server_id` of `name` (`false`: still
    /// attaching); any other state is an error that says which.
    pub(super) async fn in_use_by(
        &self,
        site: &str,
        volume_id: &str,
        server_id: &str,
        name: &str,
    ) -> Result<bool, String> {
        let volume = self
            .openstack(site)
            .await?
            .block
            .volume(volume_id)
            .await
            .map_err(text)?
            .ok_or_else(|| format!("volume {volume_id} of {name} no longer exists on {site}"))?;
        let attached = volume
            .attachments
            .iter()
            .any(|a| a.server_id.as_deref() == Some(server_id));
        match volume.status.as_str() {
            "in-use" if attached => Ok(true),
            "attaching" | "reserved" => Ok(false),
            status => Err(format!(
                "volume {} ({volume_id}) of {name} is `{status}`{} on {site}",
                volume.name.as_deref().unwrap_or_default(),
                if attached { "" } else { ", not attached to it" }
            )),
        }
    }

    pub(super) async fn manage(
        &self,
        step: &Step,
        host: &str,
        array_volume: &str,
        name: &str,
        volume_type: Option<&str>,
        bootable: bool,
    ) -> Result<Created, String> {
        let site = step.site.as_str();
        let openstack = self.openstack(site).await?;
        let marker = marker(self.operation(), &step.id);
        let request = cinder::VolumeManageRequest {
            volume: cinder::VolumeManage {
                host: Some(host.to_string()),
                cluster: None,
                // Both keys: Cinder 29's Pure driver reads `source-name`, older ones `name`
                // (see VolumeReference).
                reference: cinder::VolumeReference::array_volume(array_volume),
                name: Some(name.to_string()),
                description: Some(marker.clone()),
                availability_zone: None,
                volume_type: volume_type.map(str::to_string),
                bootable: Some(bootable),
                metadata: None,
            },
        };
        let id = find_or_make(
            async || {
                let found = self.marked_volumes(site, name, &marker).await?;
                Ok(found
                    .into_iter()
                    .find(|volume| !volume.status.starts_with("error"))
                    .map(|volume| volume.id))
            },
            async || Ok(openstack.block.manage(&request).await?.id),
        )
        .await?;
        let poll = self.poll("manage", format!("volume {name} to be managed"));
        let volume = loop {
            let volume = openstack
                .block
                .volume(&id)
                .await
                .map_err(text)?
                .ok_or_else(|| format!("volume {name} ({id}) vanished while being managed"))?;
            match volume.status.as_str() {
                "available" => {
                    poll.settled();
                    break volume;
                }
                status if status.starts_with("error") => {
                    // Cinder keeps the record of a failed manage (`error_managing`, shown as
                    // `error`), and a rollback only undoes completed steps: remove it here, so
                    // that the failed step leaves nothing behind. Delete, not unmanage: Cinder
                    // deletes only the record of a failed manage (the array volume it named
                    // stays for a retry), while the Pure driver's unmanage of it fails and
                    // leaves it in `error_unmanaging` for good.
                    let error = format!(
                        "Cinder on {site} could not manage array volume {array_volume}: volume {id} is `{status}`"
                    );
                    return Err(match self.forget_failed_manage(site, &id).await {
                        Ok(()) => format!("{error} (its record was removed)"),
                        Err(cleanup) => {
                            format!("{error}; removing its record failed too: {cleanup}")
                        }
                    });
                }
                _ => poll.wait().await?,
            }
        };
        // Managing replaces the volume's metadata with the driver's: tag it afterwards.
        let tags = BTreeMap::from([
            (
                "protector_operation".to_string(),
                self.operation().to_string(),
            ),
            ("protector_step".to_string(), step.id.clone()),
        ]);
        openstack
            .block
            .merge_metadata(&id, &tags)
            .await
            .map_err(text)?;
        let renamed = volume
            .metadata
            .get("array_volume_name")
            .cloned()
            .unwrap_or_else(|| array_volume.to_string());
        Ok(Created::from([
            ("cinder_volume".to_string(), id),
            ("array_volume".to_string(), renamed),
        ]))
    }

    /// Deletes the record a failed manage left and waits until Cinder has forgotten it.
    async fn forget_failed_manage(&self, site: &str, id: &str) -> Result<(), String> {
        let openstack = self.openstack(site).await?;
        openstack.block.delete_volume(id).await.map_err(text)?;
        let poll = self.poll("delete", format!("the record of volume {id} to go"));
        loop {
            match openstack.block.volume(id).await.map_err(text)? {
                None => {
                    poll.settled();
                    return Ok(());
                }
                Some(volume) if volume.status == "error_deleting" => {
                    return Err(format!("volume {id} is `error_deleting`"));
                }
                Some(_) => poll.wait().await?,
            }
        }
    }

    /// Makes Cinder forget a volume an operation managed: unmanaged (the array keeps the data),
    /// or, for the record a failed manage left, deleted (Cinder drops only the record of a
    /// volume it never managed, and its Pure driver cannot unmanage one).
    pub(super) async fn remove_volume(&self, site: &str, id: &str) -> Result<(), String> {
        let openstack = self.openstack(site).await?;
        match openstack.block.volume(id).await.map_err(text)? {
            None => Ok(()),
            Some(volume) if matches!(volume.status.as_str(), "error" | "error_managing") => {
                self.forget_failed_manage(site, id).await
            }
            Some(_) => self.unmanage(site, id).await,
        }
    }

    pub(super) async fn unmanage(&self, site: &str, id: &str) -> Result<(), String> {
        let openstack = self.openstack(site).await?;
        let poll = self.poll("unmanage", format!("volume {id} to be unmanaged"));
        let (mut asked, mut lost) = (false, LostAnswers::default());
        loop {
            let Some(volume) = openstack.block.volume(id).await.map_err(text)? else {
                poll.settled();
                return Ok(());
            };
            match volume.status.as_str() {
                // A volume still detaching from a deleted server settles first.
                "available" | "error" | "error_managing" if !asked => {
                    match openstack.block.unmanage(id).await {
                        Ok(()) => asked = true,
                        // The next look tells whether it is going.
                        Err(error) => lost.pause_or_fail(error).await?,
                    }
                }
                // The driver failed: Cinder leaves it so, waiting would never end.
                status @ ("error_unmanaging" | "error_deleting") if asked => {
                    return Err(format!(
                        "Cinder could not unmanage volume {id}: it is `{status}`"
                    ));
                }
                _ => {}
            }
            poll.wait().await?;
        }
    }
}
