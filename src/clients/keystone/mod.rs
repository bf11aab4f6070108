//! Keystone v3: authenticating to one site and calling its services with the token.
//!
//! A [`Session`] holds one site's cloud configuration (from clouds.yaml), authenticates with a
//! password, an application credential or a token, caches the token until shortly before it
//! expires, finds service endpoints in the catalog by service type, interface and region (or
//! takes the cloud's `<service>_endpoint_override`), and re-authenticates once when a service
//! answers 401 (tokens can be revoked early). Every call of the cloud has its `api_timeout` when
//! clouds.yaml sets one. Tokens and passwords never reach logs or errors.

pub use protector_wire::keystone as model;

use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::Method;

use crate::clients::clouds::{self, CloudConfig};
use crate::clients::http::{Call, ClientError, ErrorKind, Failure, Http, Reply};

/// Renew a cached token this long before it expires.
const RENEW_BEFORE: Duration = Duration::from_secs(120);

/// A token and what came with it.
#[derive(Clone)]
pub struct Authenticated {
    token: String,
    pub expires_at: DateTime<Utc>,
    pub body: model::Token,
}

impl std::fmt::Debug for Authenticated {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticated")
            .field("token", &"********")
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

impl Authenticated {
    pub fn roles(&self) -> Vec<String> {
        self.body
            .roles
            .iter()
            .flatten()
            .map(|role| role.name.clone())
            .collect()
    }

    pub fn project_id(&self) -> Option<&str> {
        self.body
            .project
            .as_ref()
            .map(|project| project.id.as_str())
    }
}

/// One site's authenticated access to its OpenStack services.
pub struct Session {
    /// The site, for messages: `site-b`.
    pub site: String,
    http: Http,
    cloud: CloudConfig,
    cached: tokio::sync::Mutex<Option<Authenticated>>,
}

/// A service in the catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceType {
    Compute,
    BlockStorage,
    Network,
    Identity,
}

impl ServiceType {
    /// Catalog types to look for, preferred first.
    fn catalog_types(self) -> &'static [&'static str] {
        match self {
            ServiceType::Compute => &["compute"],
            ServiceType::BlockStorage => &["block-storage", "volumev3"],
            ServiceType::Network => &["network"],
            ServiceType::Identity => &["identity"],
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ServiceType::Compute => "nova",
            ServiceType::BlockStorage => "cinder",
            ServiceType::Network => "neutron",
            ServiceType::Identity => "keystone",
        }
    }

    /// The service as clouds.yaml names it (`compute_endpoint_override`, ...).
    fn service(self) -> clouds::Service {
        match self {
            ServiceType::Compute => clouds::Service::Compute,
            ServiceType::BlockStorage => clouds::Service::BlockStorage,
            ServiceType::Network => clouds::Service::Network,
            ServiceType::Identity => clouds::Service::Identity,
        }
    }
}

/// Where a service's endpoint came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndpointSource {
    /// The token's service catalog.
    Catalog,
    /// The cloud's `<service>_endpoint_override`.
    Override,
}

impl Session {
    /// `timeout` is the per-call timeout of Keystone's calls unless the cloud sets its own
    /// (`api_timeout`, or the command line's `--timeout` over it).
    pub fn new(site: &str, cloud: CloudConfig, timeout: Duration) -> Result<Session, ClientError> {
        let http = Http::new(
            format!("keystone on {site}"),
            &cloud.verify.trust(),
            cloud.api_timeout.unwrap_or(timeout),
        )?;
        Ok(Session {
            site: site.to_string(),
            http,
            cloud,
            cached: tokio::sync::Mutex::new(None),
        })
    }

    /// The token, authenticating when there is none or it is about to expire.
    pub async fn current(&self) -> Result<Authenticated, ClientError> {
        let mut cached = self.cached.lock().await;
        if let Some(token) = cached.as_ref() {
            let renew_at =
                token.expires_at - chrono::Duration::from_std(RENEW_BEFORE).unwrap_or_default();
            if Utc::now() < renew_at {
                return Ok(token.clone());
            }
        }
        let fresh = self.authenticate().await?;
        *cached = Some(fresh.clone());
        Ok(fresh)
    }

    async fn forget(&self, token: &str) {
        let mut cached = self.cached.lock().await;
        if cached.as_ref().is_some_and(|cached| cached.token == token) {
            *cached = None;
        }
    }

    /// `POST /v3/auth/tokens`.
    async fn authenticate(&self) -> Result<Authenticated, ClientError> {
        let url = format!("{}/auth/tokens", v3_url(self.cloud.auth.auth_url()));
        // Asking for a token twice is harmless, so a lost answer may be retried.
        let call = Call::new(Method::POST, url)
            .json(&auth_request(&self.cloud.auth))
            .idempotent();
        let reply = self.http.send(call).await?;
        let token = reply
            .header("x-subject-token")
            .map(str::to_string)
            .ok_or_else(|| -> ClientError {
                Failure {
                    service: self.http.service.clone(),
                    method: "POST".to_string(),
                    path: "/v3/auth/tokens".to_string(),
                    status: Some(reply.status.as_u16()),
                    message: "the answer has no X-Subject-Token header".to_string(),
                    request_id: reply.request_id().to_string(),
                    kind: ErrorKind::Decode,
                }
                .into()
            })?;
        let body: model::TokenResponse = reply.json()?;
        let expires_at = DateTime::parse_from_rfc3339(&body.token.expires_at)
            .map(|time| time.with_timezone(&Utc))
            .unwrap_or_else(|_| Utc::now() + chrono::Duration::minutes(5));
        Ok(Authenticated {
            token,
            expires_at,
            body: body.token,
        })
    }

    /// The cloud configuration this session authenticates with.
    pub fn cloud(&self) -> &CloudConfig {
        &self.cloud
    }

    /// The endpoint of `service`: the cloud's `<service>_endpoint_override` when it sets one,
    /// else the catalog's, for the service's interface and region.
    pub async fn endpoint(&self, service: ServiceType) -> Result<String, ClientError> {
        self.endpoint_and_source(service).await.map(|(url, _)| url)
    }

    /// [`Session::endpoint`], and where it came from.
    pub async fn endpoint_and_source(
        &self,
        service: ServiceType,
    ) -> Result<(String, EndpointSource), ClientError> {
        if let Some(url) = self.cloud.endpoint_override(service.service()) {
            return Ok((versioned(service, url), EndpointSource::Override));
        }
        let token = self.current().await?;
        let interface = self.cloud.interface_for(service.service()).as_str();
        let region = self.cloud.region_for(service.service());
        let found = service
            .catalog_types()
            .iter()
            .find_map(|kind| token.body.endpoint_url(kind, interface, region));
        let url = found.ok_or_else(|| -> ClientError {
            Failure {
                service: format!("{} on {}", service.name(), self.site),
                method: String::new(),
                path: String::new(),
                status: None,
                message: format!(
                    "the catalog has no {} endpoint with interface `{interface}`{}",
                    service.catalog_types().join("/"),
                    region
                        .map(|r| format!(" in region `{r}`"))
                        .unwrap_or_default()
                ),
                request_id: String::new(),
                kind: ErrorKind::Config,
            }
            .into()
        })?;
        Ok((versioned(service, url), EndpointSource::Catalog))
    }

    /// Sends a call to `service`: `path` is appended to its endpoint (or used as is when it is
    /// a full URL, as pagination links are). Re-authenticates once on 401.
    pub async fn call(
        &self,
        service: ServiceType,
        http: &Http,
        build: impl Fn(String) -> Call,
        path: &str,
    ) -> Result<Reply, ClientError> {
        let url = if path.starts_with("http://") || path.starts_with("https://") {
            path.to_string()
        } else {
            format!("{}{path}", self.endpoint(service).await?)
        };
        let mut retried = false;
        loop {
            let token = self.current().await?;
            let call = build(url.clone()).header("X-Auth-Token", &token.token);
            match http.send(call).await {
                Err(error) if error.status == Some(401) && !retried => {
                    self.forget(&token.token).await;
                    retried = true;
                }
                outcome => return outcome,
            }
        }
    }

    /// An HTTP client for one of this site's services, checking certificates as Keystone's,
    /// with `timeout` per call unless the cloud sets its own.
    pub fn service_http(
        &self,
        service: ServiceType,
        timeout: Duration,
    ) -> Result<Http, ClientError> {
        Http::new(
            format!("{} on {}", service.name(), self.site),
            &self.cloud.verify.trust(),
            self.cloud.api_timeout.unwrap_or(timeout),
        )
    }
}

/// The root of the API version protector speaks at `url` (an endpoint of the catalog or an
/// override), as openstacksdk's version discovery finds it on a standard service: a URL with a
/// version in its path (`/compute/v2.1`, `/volume/v3/<project>`) as it is, else the version
/// appended (Neutron registers its root and serves its API under `/v2.0`; an unversioned
/// Nova, Cinder or Keystone root lists `v2.1`, `v3`, `v3`).
fn versioned(service: ServiceType, url: &str) -> String {
    let url = url.trim_end_matches('/');
    let path = url.split_once("://").map_or(url, |(_, rest)| {
        rest.split_once('/').map_or("", |(_, path)| path)
    });
    let has_version = path.split('/').any(|segment| {
        segment.strip_prefix('v').is_some_and(|number| {
            !number.is_empty()
                && number.split('.').count() <= 2
                && number
                    .split('.')
                    .all(|part| !part.is_empty() && part.bytes().all(|byte| byte.is_ascii_digit()))
        })
    });
    if has_version {
        return url.to_string();
    }
    let version = match service {
        ServiceType::Compute => "v2.1",
        ServiceType::BlockStorage | ServiceType::Identity => "v3",
        ServiceType::Network => "v2.0",
    };
    format!("{url}/{version}")
}

/// `.../identity` or `.../identity/v3` -> `.../identity/v3`.
fn v3_url(auth_url: &str) -> String {
    let trimmed = auth_url.trim_end_matches('/');
    if trimmed.ends_with("/v3") {
        trimmed.to_string()
    } else {
        format!("{trimmed}/v3")
    }
}

fn domain(reference: &clouds::DomainRef) -> model::DomainRef {
    match reference {
        clouds::DomainRef::Id(id) => model::DomainRef {
            id: Some(id.clone()),
            name: None,
        },
        clouds::DomainRef::Name(name) => model::DomainRef {
            id: None,
            name: Some(name.clone()),
        },
    }
}

fn user(reference: &clouds::UserRef) -> model::UserRef {
    match reference {
        clouds::UserRef::Id(id) => model::UserRef {
            id: Some(id.clone()),
            name: None,
            domain: None,
        },
        clouds::UserRef::Name { name, domain: d } => model::UserRef {
            id: None,
            name: Some(name.clone()),
            domain: Some(domain(d)),
        },
    }
}

/// The auth request for a cloud's credentials.
fn auth_request(auth: &clouds::Auth) -> model::AuthRequest {
    let identity = match auth {
        clouds::Auth::Password {
            user: u, password, ..
        } => {
            let user = user(u);
            model::Identity {
                methods: vec!["password".to_string()],
                password: Some(model::PasswordMethod {
                    user: model::PasswordUser {
                        id: user.id,
                        name: user.name,
                        domain: user.domain,
                        password: password.expose().to_string(),
                    },
                }),
                application_credential: None,
                token: None,
            }
        }
        clouds::Auth::Token { token, .. } => model::Identity {
            methods: vec!["token".to_string()],
            password: None,
            application_credential: None,
            token: Some(model::TokenMethod {
                id: token.expose().to_string(),
            }),
        },
        clouds::Auth::ApplicationCredential {
            credential, secret, ..
        } => {
            let (id, name, owner) = match credential {
                clouds::ApplicationCredentialRef::Id(id) => (Some(id.clone()), None, None),
                clouds::ApplicationCredentialRef::Name { name, user: u } => {
                    (None, Some(name.clone()), Some(user(u)))
                }
            };
            model::Identity {
                methods: vec!["application_credential".to_string()],
                password: None,
                application_credential: Some(model::ApplicationCredentialMethod {
                    id,
                    name,
                    secret: secret.expose().to_string(),
                    user: owner,
                }),
                token: None,
            }
        }
    };
    let scope = match auth {
        clouds::Auth::Password { scope, .. } | clouds::Auth::Token { scope, .. } => match scope {
            clouds::Scope::Project(clouds::ProjectRef::Id(id)) => {
                Some(model::Scope::Project(model::ProjectRef {
                    id: Some(id.clone()),
                    name: None,
                    domain: None,
                }))
            }
            clouds::Scope::Project(clouds::ProjectRef::Name { name, domain: d }) => {
                Some(model::Scope::Project(model::ProjectRef {
                    id: None,
                    name: Some(name.clone()),
                    domain: Some(domain(d)),
                }))
            }
            clouds::Scope::Domain(d) => Some(model::Scope::Domain(domain(d))),
            clouds::Scope::Unscoped => None,
        },
        // An application credential carries its own project scope.
        clouds::Auth::ApplicationCredential { .. } => None,
    };
    model::AuthRequest {
        auth: model::Auth { identity, scope },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_without_a_version_gain_the_one_protector_speaks() {
        for (service, url, expected) in [
            (
                ServiceType::Compute,
                "https://h/compute/v2.1/",
                "https://h/compute/v2.1",
            ),
            (
                ServiceType::Compute,
                "https://h:8774",
                "https://h:8774/v2.1",
            ),
            (
                ServiceType::Compute,
                "https://h/compute",
                "https://h/compute/v2.1",
            ),
            (
                ServiceType::BlockStorage,
                "https://h/volume/v3/0c1d2e",
                "https://h/volume/v3/0c1d2e",
            ),
            (
                ServiceType::BlockStorage,
                "https://h/volume",
                "https://h/volume/v3",
            ),
            (
                ServiceType::Network,
                "https://h:9696",
                "https://h:9696/v2.0",
            ),
            (
                ServiceType::Network,
                "https://h/network/v2.0",
                "https://h/network/v2.0",
            ),
            (
                ServiceType::Identity,
                "https://h/identity",
                "https://h/identity/v3",
            ),
            // A `v` that is not a version does not count.
            (
                ServiceType::Identity,
                "https://h/vault",
                "https://h/vault/v3",
            ),
        ] {
            assert_eq!(versioned(service, url), expected, "{url}");
        }
    }

    #[test]
    fn auth_urls_gain_v3_once() {
        assert_eq!(v3_url("http://h/identity"), "http://h/identity/v3");
        assert_eq!(v3_url("http://h/identity/v3/"), "http://h/identity/v3");
    }

    #[test]
    fn password_auth_requests_scope_the_project_by_name_and_domain() {
        let auth = clouds::Auth::Password {
            auth_url: "http://h/identity".to_string(),
            user: clouds::UserRef::Name {
                name: "protector".to_string(),
                domain: clouds::DomainRef::Name("Default".to_string()),
            },
            password: clouds::Secret::new("s3cret"),
            scope: clouds::Scope::Project(clouds::ProjectRef::Name {
                name: "prod".to_string(),
                domain: clouds::DomainRef::Name("Default".to_string()),
            }),
        };
        let body = serde_json::to_value(auth_request(&auth)).unwrap();
        assert_eq!(body["auth"]["identity"]["methods"][0], "password");
        assert_eq!(
            body["auth"]["identity"]["password"]["user"]["name"],
            "protector"
        );
        assert_eq!(body["auth"]["scope"]["project"]["name"], "prod");
        assert_eq!(
            body["auth"]["scope"]["project"]["domain"]["name"],
            "Default"
        );
    }

    #[test]
    fn application_credentials_by_name_name_their_user() {
        let auth = clouds::Auth::ApplicationCredential {
            auth_url: "http://h/identity/v3".to_string(),
            credential: clouds::ApplicationCredentialRef::Name {
                name: "dr".to_string(),
                user: clouds::UserRef::Id("u1".to_string()),
            },
            secret: clouds::Secret::new("s"),
        };
        let body = serde_json::to_value(auth_request(&auth)).unwrap();
        let credential = &body["auth"]["identity"]["application_credential"];
        assert_eq!(credential["name"], "dr");
        assert_eq!(credential["user"]["id"], "u1");
        assert!(body["auth"].get("scope").is_none_or(|s| s.is_null()));
    }
}
