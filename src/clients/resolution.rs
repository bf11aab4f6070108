//! A cloud as protector resolves it, for `protector cloud show`: which clouds.yaml (or `OS_*`
//! variables) it came from, how protector authenticates and checks TLS, and the endpoint of
//! each service it calls, found in the token's catalog (or the cloud's endpoint overrides).
//! What the operator checks before writing a spec, or when a site will not answer as expected;
//! and what the differential test compares with openstacksdk (tests/clouds-differential).
//! Secrets are never part of it.

use std::time::Duration;

use schemars::JsonSchema;
use serde::Serialize;

use super::clouds::{self, CloudConfig, CloudsEnvironment, CloudsError, Origin, Verify};
use super::keystone::{EndpointSource, ServiceType, Session};

/// `protector cloud show -f json` (printed, as every record, after `format_version`).
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct ResolvedCloud {
    /// The cloud's name: its entry under `clouds:`, or `envvars` for `OS_*` variables.
    pub cloud: String,
    /// The clouds.yaml it came from, or `environment` (`OS_*` variables).
    pub source: String,
    /// The secure.yaml merged over clouds.yaml, if one was found.
    pub secure_file: Option<String>,
    /// The vendor profile laid under the entry (`profile:`), from clouds-public.yaml.
    pub profile: Option<ProfileRecord>,
    /// `password`, `v3applicationcredential` or `v3token`.
    pub auth_type: String,
    /// The Keystone URL tokens are asked of.
    pub auth_url: String,
    /// The user and project the token is for (as Keystone answered).
    pub user_id: String,
    pub user_name: String,
    pub project_id: Option<String>,
    pub project_name: Option<String>,
    /// The region whose endpoints are used.
    pub region_name: Option<String>,
    /// The catalog interface used: `public`, `internal` or `admin`.
    pub interface: String,
    /// Whether the services' TLS certificates are checked.
    pub verify: bool,
    /// The CA bundle they are checked against; `null` for the system's CAs.
    pub ca_bundle: Option<String>,
    /// The per-call timeout, in seconds: `--timeout`, else the cloud's `api_timeout`, else the
    /// command's default.
    pub timeout_secs: f64,
    /// Where `timeout_secs` comes from: `command line`, `api_timeout` or `default`.
    pub timeout_source: String,
    /// The endpoint of each service protector calls.
    pub endpoints: Endpoints,
    /// Settings of the entry that configure what protector never uses.
    pub unused_keys: Vec<String>,
}

/// A vendor profile: its name and the clouds-public.yaml that defines it.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct ProfileRecord {
    pub name: String,
    pub file: String,
}

/// The services protector calls.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Endpoints {
    pub compute: Endpoint,
    pub block_storage: Endpoint,
    pub network: Endpoint,
    pub identity: Endpoint,
}

/// One service's endpoint and where it came from.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Endpoint {
    pub url: String,
    /// `catalog`, or `<service>_endpoint_override` when the cloud sets one.
    pub from: String,
}

/// Why a cloud could not be resolved, said as the operator should read it.
#[derive(Debug)]
pub struct ResolveError {
    pub message: String,
    pub hint: Option<String>,
}

impl From<CloudsError> for ResolveError {
    fn from(error: CloudsError) -> Self {
        ResolveError {
            hint: error.hint(),
            message: error.to_string(),
        }
    }
}

/// Resolves the cloud `name` (else the default cloud: `$OS_CLOUD`, ...), authenticates and
/// finds its endpoints. `timeout` is the per-call timeout where neither the command line nor the
/// cloud sets one.
pub async fn resolve(
    env: &CloudsEnvironment,
    name: Option<&str>,
    timeout: Duration,
) -> Result<(ResolvedCloud, CloudConfig), ResolveError> {
    let name = match name {
        Some(name) => name.to_string(),
        None => clouds::default_cloud(env)?,
    };
    let cloud = clouds::load_cloud(env, &name)?;
    let (timeout_secs, timeout_source) = match (env.command_timeout, cloud.api_timeout) {
        (Some(timeout), _) => (timeout, "command line"),
        (None, Some(timeout)) => (timeout, "api_timeout"),
        (None, None) => (timeout, "default"),
    };
    let session = Session::new(&name, cloud.clone(), timeout).map_err(failed)?;
    let token = session.current().await.map_err(failed)?;
    let mut endpoints = Vec::new();
    for service in [
        ServiceType::Compute,
        ServiceType::BlockStorage,
        ServiceType::Network,
        ServiceType::Identity,
    ] {
        let (url, source) = session.endpoint_and_source(service).await.map_err(failed)?;
        let from = match source {
            EndpointSource::Catalog => "catalog".to_string(),
            EndpointSource::Override => format!(
                "{}_endpoint_override",
                match service {
                    ServiceType::BlockStorage => "block_storage",
                    ServiceType::Compute => "compute",
                    ServiceType::Network => "network",
                    ServiceType::Identity => "identity",
                }
            ),
        };
        endpoints.push(Endpoint { url, from });
    }
    let [compute, block_storage, network, identity]: [Endpoint; 4] = endpoints
        .try_into()
        .map_err(|_| failed("four services asked, not four answers"))?;
    let (verify, ca_bundle) = match &cloud.verify {
        Verify::System => (true, None),
        Verify::Ca(bundle) => (true, Some(bundle.display().to_string())),
        Verify::Off { .. } => (false, None),
    };
    let body = &token.body;
    let resolved = ResolvedCloud {
        cloud: name,
        source: match &cloud.source {
            Origin::File(path) => path.display().to_string(),
            Origin::Environment => "environment".to_string(),
        },
        secure_file: cloud
            .secure_source
            .as_ref()
            .map(|path| path.display().to_string()),
        profile: cloud.profile.as_ref().map(|profile| ProfileRecord {
            name: profile.name.clone(),
            file: profile.file.display().to_string(),
        }),
        auth_type: cloud.auth.kind().to_string(),
        auth_url: cloud.auth.auth_url().to_string(),
        user_id: body.user.id.clone(),
        user_name: body.user.name.clone(),
        project_id: body.project.as_ref().map(|project| project.id.clone()),
        project_name: body.project.as_ref().map(|project| project.name.clone()),
        region_name: cloud.region_name.clone(),
        interface: cloud.interface.as_str().to_string(),
        verify,
        ca_bundle,
        timeout_secs: timeout_secs.as_secs_f64(),
        timeout_source: timeout_source.to_string(),
        endpoints: Endpoints {
            compute,
            block_storage,
            network,
            identity,
        },
        unused_keys: cloud.unused_keys.clone(),
    };
    Ok((resolved, cloud))
}

fn failed(error: impl std::fmt::Display) -> ResolveError {
    ResolveError {
        message: error.to_string(),
        hint: None,
    }
}
