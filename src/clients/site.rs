//! One site's clients, connected from the spec: a Keystone session (its Nova, Cinder and Neutron
//! clients share it) and the site's FlashArray. Discovery reads through these; apply acts
//! through them.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use super::cinder::BlockStorage;
use super::clouds::{self, CloudsEnvironment, Secret};
use super::flasharray::FlashArray;
use super::keystone::{Authenticated, Session};
use super::neutron::Networking;
use super::nova::Compute;
use crate::spec::{SecretRef, Setting, Spec, files};

/// A site's OpenStack services, authenticated.
pub struct OpenStack {
    pub session: Arc<Session>,
    pub token: Authenticated,
    pub compute: Compute,
    pub block: BlockStorage,
    pub network: Networking,
}

impl OpenStack {
    /// Authenticates against the site's Keystone (found through clouds.yaml) and builds the
    /// service clients. The error reads as the operator should see it.
    pub async fn connect(
        spec: &Spec,
        site: &str,
        clouds_env: &CloudsEnvironment,
        timeout: Duration,
    ) -> Result<OpenStack, String> {
        let cloud_name = spec.sites.get(site).map_or(site, |s| s.cloud.as_str());
        let cloud = clouds::load_cloud(clouds_env, cloud_name).map_err(|e| e.to_string())?;
        if !cloud.unused_keys.is_empty() {
            tracing::debug!(
                site,
                cloud = cloud_name,
                settings = cloud.unused_keys.join(", "),
                "clouds.yaml settings for what protector never calls, without effect"
            );
        }
        let session = Arc::new(Session::new(site, cloud, timeout).map_err(|e| e.to_string())?);
        let token = session.current().await.map_err(|e| e.to_string())?;
        Ok(OpenStack {
            compute: Compute::new(session.clone(), timeout).map_err(|e| e.to_string())?,
            block: BlockStorage::new(session.clone(), timeout).map_err(|e| e.to_string())?,
            network: Networking::new(session.clone(), timeout).map_err(|e| e.to_string())?,
            session,
            token,
        })
    }
}

/// The value of a non-secret setting.
fn setting(setting: &Setting, what: &str) -> Result<String, String> {
    match setting {
        Setting::Literal(value) => Ok(value.clone()),
        Setting::Env(name) => std::env::var(name)
            .map_err(|_| format!("{what} is read from ${name}, which is not set")),
    }
}

/// A secret, read where the spec says (never logged).
fn secret(reference: &SecretRef) -> Result<Secret, String> {
    let value = match reference {
        SecretRef::Env(name) => std::env::var(name)
            .map_err(|_| format!("the API token is read from ${name}, which is not set"))?,
        SecretRef::File(path) => files::read_named(path)
            .map_err(|problem| problem.to_string())
            .and_then(|bytes| String::from_utf8(bytes).map_err(|_| "it is not UTF-8 text".into()))
            .map_err(|problem| {
                format!(
                    "cannot read the API token file {}: {problem}",
                    path.display()
                )
            })?,
    };
    Ok(Secret::new(value.trim()))
}

/// The FlashArray client of `site` (not logged in yet: the first call logs in).
pub fn array(spec: &Spec, site: &str, timeout: Duration) -> Result<FlashArray, String> {
    let config = &spec
        .sites
        .get(site)
        .ok_or_else(|| format!("the spec has no site `{site}`"))?
        .flasharray;
    let url = setting(&config.url, "the array URL")?;
    let ca = config
        .ca_cert
        .as_ref()
        .map(|ca| setting(ca, "the array CA certificate"))
        .transpose()?;
    FlashArray::new(
        &config.array_name,
        &url,
        secret(&config.api_token)?,
        ca.as_deref().map(Path::new),
        timeout,
    )
    .map_err(|e| e.to_string())
}
