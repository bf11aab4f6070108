//! Effects on the FlashArray's volumes: copies of a replicated snapshot, destroyed ones (a
//! drill's, an operation's undone), retired ones destroyed while still retired; and the array
//! calls that are safe to repeat.

use reqwest::Method;
use serde_json::json;

use super::wait::find_or_make;
use super::{SiteRunner, text};
use crate::apply::executor::Created;
use crate::clients::flasharray::model as fa;

impl SiteRunner<'_> {
    /// A change that is safe to repeat, so the HTTP layer retries it when its answer is lost: a
    /// PATCH, or a create whose "already exists" answer means done ([`Self::array_ensure`]).
    pub(super) async fn array_call(
        &self,
        site: &str,
        method: Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> Result<(), String> {
        self.array(site)
            .await?
            .call(method, path, body, true)
            .await
            .map(drop)
            .map_err(text)
    }

    /// A call whose "already there" answer means the work is done (a resumed step).
    pub(super) async fn array_ensure(
        &self,
        site: &str,
        method: Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> Result<(), String> {
        match self.array_call(site, method, path, body).await {
            Err(error) if error.contains("already") => Ok(()),
            other => other,
        }
    }

    /// The spec's site whose FlashArray is `array`.
    pub(super) fn site_of_array(&self, array: &str) -> Result<String, String> {
        self.spec
            .sites
            .iter()
            .find(|(_, site)| site.flasharray.array_name == array)
            .map(|(name, _)| name.clone())
            .ok_or_else(|| format!("no site of the spec has array {array}"))
    }

    /// The array volume whose `key` (`names` or `ids`) is `value`, unless destroyed.
    pub(super) async fn array_volume(
        &self,
        site: &str,
        key: &str,
        value: &str,
    ) -> Result<Option<fa::Volume>, String> {
        let volumes: Vec<fa::Volume> = match self
            .array(site)
            .await?
            .list("volumes", &[(key, value)])
            .await
        {
            Ok(found) => found,
            Err(error) if error.message.contains("does not exist") => Vec::new(),
            Err(error) => return Err(text(error)),
        };
        Ok(volumes.into_iter().find(|v| v.destroyed != Some(true)))
    }

    pub(super) async fn copy_volume(
        &self,
        site: &str,
        snapshot: &str,
        volume: &str,
    ) -> Result<Created, String> {
        let array = self.array(site).await?;
        let find = async || {
            self.array_volume(site, "names", volume)
                .await
                .map(|found| found.and_then(|v| v.id))
        };
        find_or_make(
            async || Ok(find().await?.map(drop)),
            async || {
                array
                    .call(
                        Method::POST,
                        &format!("volumes?names={volume}"),
                        Some(json!({ "source": { "name": snapshot } })),
                        false,
                    )
                    .await
                    .map(drop)
            },
        )
        .await?;
        // The id too: Cinder renames the volumes it manages, and a cleanup must still find it.
        let id = find().await?.ok_or_else(|| {
            format!("array volume {volume} is not on the array of {site} after its copy")
        })?;
        Ok(Created::from([
            ("array_volume".to_string(), volume.to_string()),
            ("array_volume_id".to_string(), id),
        ]))
    }

    /// Destroys (recoverably: the array keeps it for its eradication delay) the array volume
    /// whose `key` (`names` or `ids`) is `value`, which this operation or the drill it cleans
    /// up created.
    pub(super) async fn destroy_volume(
        &self,
        site: &str,
        key: &str,
        value: &str,
    ) -> Result<(), String> {
        if self.array_volume(site, key, value).await?.is_none() {
            return Ok(());
        }
        self.array_call(
            site,
            Method::PATCH,
            &format!("volumes?{key}={value}"),
            Some(json!({ "destroyed": true })),
        )
        .await
    }

    /// Destroys (and with `eradicate`, eradicates) each retired volume that is still retired:
    /// there under its name, connected to no host, in no protection group. One that is not is
    /// left, never destroyed: named in what the step records (`kept`), and why in the log.
    pub(super) async fn destroy_retired(
        &self,
        site: &str,
        volumes: &[String],
        eradicate: bool,
    ) -> Result<Created, String> {
        let array = self.array(site).await?;
        let (mut destroyed, mut kept) = (Vec::new(), Vec::new());
        for name in volumes {
            let listed = array
                .list::<fa::Volume>("volumes", &[("names", name.as_str())])
                .await;
            let volume = match listed {
                Ok(found) => found.into_iter().next(),
                Err(error) if error.message.contains("does not exist") => None,
                Err(error) => return Err(text(error)),
            };
            let Some(volume) = volume else {
                continue; // renamed (managed again) or eradicated: nothing retired is left
            };
            if volume.destroyed != Some(true) {
                let connections: Vec<serde_json::Value> = array
                    .list("connections", &[("volume_names", name.as_str())])
                    .await
                    .map_err(text)?;
                let groups: Vec<serde_json::Value> = array
                    .list(
                        "volumes/protection-groups",
                        &[("member_names", name.as_str())],
                    )
                    .await
                    .map_err(text)?;
                if !connections.is_empty() || !groups.is_empty() {
                    let why = if connections.is_empty() {
                        "in a protection group again"
                    } else {
                        "connected to a host"
                    };
                    tracing::warn!(volume = %name, why, "a retired volume in use again is kept");
                    kept.push(name.clone());
                    continue;
                }
                self.array_call(
                    site,
                    Method::PATCH,
                    &format!("volumes?names={name}"),
                    Some(json!({ "destroyed": true })),
                )
                .await?;
            }
            if eradicate {
                match array
                    .call(Method::DELETE, &format!("volumes?names={name}"), None, true)
                    .await
                {
                    Ok(_) => {}
                    // A lost answer retried: it is gone already.
                    Err(error) if error.message.contains("does not exist") => {}
                    Err(error) => return Err(text(error)),
                }
            }
            destroyed.push(name.clone());
        }
        let mut created = Created::from([("destroyed".to_string(), destroyed.join(","))]);
        if !kept.is_empty() {
            created.insert("kept".to_string(), kept.join(","));
        }
        Ok(created)
    }
}
