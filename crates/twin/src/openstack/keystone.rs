//! Keystone v3 of one simulated site, at `/identity` as DevStack serves it: the version
//! documents clients discover (`GET /identity` answers `300 Multiple Choices` with every version,
//! `GET /identity/v3` the one), and `/v3/auth/tokens`: issue (password, application credential,
//! token), validate, revoke; plus `/v3/auth/catalog` and `/v3/auth/projects`.
//!
//! A project-scoped token carries the user's roles on the project (an application credential's
//! token: the credential's roles that the user still has, on the credential's project) and the
//! service catalog: identity, compute, volumev3 and block-storage, network, object-store, each with public and
//! internal endpoints in the site's region, at the site's one OpenStack port. Tokens live
//! `identity.token_lifetime_secs` (wall time, one hour by default); every service rejects an
//! expired or revoked token with keystonemiddleware's 401 ([`auth::token`]).
//!
//! Failed authentication is a 401 with Keystone's generic message whatever the cause (wrong
//! password, unknown user, credential or project, no role on the project), as Keystone answers
//! when not in debug mode: it does not tell an attacker which part was wrong.

use std::collections::HashMap;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, SubsecRound, Utc};

use super::auth::{self, Unauthorized};
use super::state::Token;
use crate::errors::{self, Service};
use crate::world::Site;
use crate::world::SiteContext;
use protector_wire::ids::IdGen;
use protector_wire::keystone as wire;

/// The Identity API version the twin implements (Keystone since Ussuri).
pub const VERSION_ID: &str = "v3.14";
pub const VERSION_UPDATED: &str = "2020-04-07T00:00:00Z";
const MEDIA_TYPE: &str = "application/vnd.openstack.identity-v3+json";

/// The suffix of Keystone's `ValidationError` messages.
const NOT_COMPLY: &str = "The server could not comply with the request since it is either \
                          malformed or otherwise incorrect. The client is assumed to be in error.";

pub fn routes() -> Router<SiteContext> {
    Router::new()
        .route("/", get(versions))
        .route("/v3", get(version))
        .route("/v3/", get(version))
        .route("/v3/auth/tokens", get(validate).post(issue).delete(revoke))
        .route("/v3/auth/catalog", get(auth_catalog))
        .route("/v3/auth/projects", get(auth_projects))
}

// ---------------------------------------------------------------- errors

/// Why Keystone refuses a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeystoneError {
    /// 400 `ValidationError`.
    BadRequest(String),
    /// 401, with the generic message and `WWW-Authenticate`.
    Unauthorized,
    /// 403.
    Forbidden(String),
    /// 404.
    NotFound(String),
}

impl KeystoneError {
    fn expecting(attribute: &str, target: &str) -> KeystoneError {
        KeystoneError::BadRequest(format!(
            "Expecting to find {attribute} in {target}. {NOT_COMPLY}"
        ))
    }
}

impl IntoResponse for KeystoneError {
    fn into_response(self) -> Response {
        let (status, message) = match self {
            KeystoneError::Unauthorized => return Unauthorized.into_response(),
            KeystoneError::BadRequest(message) => (StatusCode::BAD_REQUEST, message),
            KeystoneError::Forbidden(message) => (StatusCode::FORBIDDEN, message),
            KeystoneError::NotFound(message) => (StatusCode::NOT_FOUND, message),
        };
        errors::respond(Service::Keystone, status, message)
    }
}

impl From<Unauthorized> for KeystoneError {
    fn from(_: Unauthorized) -> Self {
        KeystoneError::Unauthorized
    }
}

// ---------------------------------------------------------------- version documents

fn identity_url(site: &Site) -> String {
    format!("{}/identity", site.endpoints.openstack)
}

fn version_document(site: &Site) -> wire::Version {
    wire::Version {
        id: VERSION_ID.to_string(),
        status: "stable".to_string(),
        updated: VERSION_UPDATED.to_string(),
        links: vec![wire::Link {
            href: format!("{}/v3/", identity_url(site)),
            rel: "self".to_string(),
        }],
        media_types: vec![wire::MediaType {
            base: "application/json".to_string(),
            media_type: MEDIA_TYPE.to_string(),
        }],
    }
}

/// `GET /identity`: every version, `300 Multiple Choices`, `Location` naming v3.
pub async fn versions(State(ctx): State<SiteContext>) -> Response {
    let (body, location) = {
        let site = ctx.lock();
        let version = version_document(&site);
        let location = version.links[0].href.clone();
        (
            wire::VersionsResponse {
                versions: wire::Versions {
                    values: vec![version],
                },
            },
            location,
        )
    };

    let mut response = (StatusCode::MULTIPLE_CHOICES, Json(body)).into_response();
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    with_vary(response)
}

/// `GET /identity/v3`.
async fn version(State(ctx): State<SiteContext>) -> Response {
    let body = wire::VersionResponse {
        version: version_document(&ctx.lock()),
    };

    with_vary(Json(body).into_response())
}

fn with_vary(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::VARY, HeaderValue::from_static("X-Auth-Token"));
    response
}

// ---------------------------------------------------------------- authentication

/// Checks a `POST /v3/auth/tokens` body and returns the token it earns, not yet stored.
pub fn authenticate(
    site: &Site,
    request: &wire::AuthRequest,
    now: DateTime<Utc>,
) -> Result<Token, KeystoneError> {
    let identity = &request.auth.identity;
    let scope = request.auth.scope.as_ref();
    let Some(method) = identity.methods.first() else {
        return Err(KeystoneError::expecting("methods", "identity"));
    };

    let issued_at = now.trunc_subsecs(0);
    let expires_at = issued_at + chrono::Duration::seconds(site.identity.token_lifetime_secs);
    match method.as_str() {
        "password" => {
            let password = identity
                .password
                .as_ref()
                .ok_or_else(|| KeystoneError::expecting("password", "identity"))?;
            let user_id = find_user(
                site,
                password.user.id.as_deref(),
                password.user.name.as_deref(),
                password.user.domain.as_ref(),
            )?;
            let user = &site.identity.users[&user_id];
            if user.password != password.user.password {
                return Err(KeystoneError::Unauthorized);
            }
            let (project_id, roles) = project_scope(site, &user_id, scope)?;
            Ok(Token {
                user_id,
                project_id,
                roles,
                method: "password".to_string(),
                application_credential_id: None,
                issued_at,
                expires_at,
            })
        }
        "application_credential" => {
            let method = identity
                .application_credential
                .as_ref()
                .ok_or_else(|| KeystoneError::expecting("application_credential", "identity"))?;
            let credential = match (&method.id, &method.name) {
                (Some(id), _) => site.identity.application_credentials.get(id),
                (None, Some(name)) => {
                    let user = method.user.as_ref().ok_or_else(|| {
                        KeystoneError::expecting("user", "application credential")
                    })?;
                    let user_id = find_user(
                        site,
                        user.id.as_deref(),
                        user.name.as_deref(),
                        user.domain.as_ref(),
                    )?;
                    site.identity
                        .application_credentials
                        .values()
                        .find(|credential| {
                            credential.user_id == user_id && &credential.name == name
                        })
                }
                (None, None) => {
                    return Err(KeystoneError::expecting(
                        "id or name",
                        "application credential",
                    ));
                }
            }
            .ok_or(KeystoneError::Unauthorized)?;
            if credential.secret != method.secret {
                return Err(KeystoneError::Unauthorized);
            }
            // A credential is bound to its project: another scope is refused.
            match scope {
                None => {}
                Some(wire::Scope::Project(project))
                    if resolve_project(site, project)? == credential.project_id => {}
                Some(_) => return Err(KeystoneError::Unauthorized),
            }
            let user_roles = site
                .identity
                .users
                .get(&credential.user_id)
                .and_then(|user| user.roles.get(&credential.project_id))
                .ok_or(KeystoneError::Unauthorized)?;
            let roles: Vec<String> = credential
                .roles
                .iter()
                .filter(|role| user_roles.contains(role))
                .cloned()
                .collect();
            if roles.is_empty() {
                return Err(KeystoneError::Unauthorized);
            }
            Ok(Token {
                user_id: credential.user_id.clone(),
                project_id: credential.project_id.clone(),
                roles,
                method: "application_credential".to_string(),
                application_credential_id: Some(credential.id.clone()),
                issued_at,
                expires_at,
            })
        }
        "token" => {
            let method = identity
                .token
                .as_ref()
                .ok_or_else(|| KeystoneError::expecting("token", "identity"))?;
            let old = site
                .identity
                .tokens
                .get(&method.id)
                .filter(|token| token.expires_at > now)
                .ok_or(KeystoneError::Unauthorized)?;
            if old.application_credential_id.is_some() {
                // An application credential's token cannot be traded for another scope.
                return Err(KeystoneError::Unauthorized);
            }
            let (project_id, roles) = match scope {
                None if !old.project_id.is_empty() => (old.project_id.clone(), old.roles.clone()),
                _ => project_scope(site, &old.user_id, scope)?,
            };
            Ok(Token {
                user_id: old.user_id.clone(),
                project_id,
                roles,
                method: "token".to_string(),
                application_credential_id: None,
                issued_at,
                // A token from a token never outlives the original.
                expires_at: expires_at.min(old.expires_at),
            })
        }
        _ => Err(KeystoneError::Unauthorized),
    }
}

/// The user a request names: by id, or by name within a domain (by id or name).
fn find_user(
    site: &Site,
    id: Option<&str>,
    name: Option<&str>,
    domain: Option<&wire::DomainRef>,
) -> Result<String, KeystoneError> {
    if let Some(id) = id {
        return site
            .identity
            .users
            .get(id)
            .map(|user| user.id.clone())
            .ok_or(KeystoneError::Unauthorized);
    }
    let name = name.ok_or_else(|| KeystoneError::expecting("id or name", "user"))?;
    let domain = domain.ok_or_else(|| KeystoneError::expecting("domain", "user"))?;
    let domain_id = find_domain(site, domain)?;
    site.identity
        .users
        .values()
        .find(|user| user.name == name && user.domain_id == domain_id)
        .map(|user| user.id.clone())
        .ok_or(KeystoneError::Unauthorized)
}

fn find_domain(site: &Site, domain: &wire::DomainRef) -> Result<String, KeystoneError> {
    let found = match (&domain.id, &domain.name) {
        (Some(id), _) => site.identity.domains.get(id),
        (None, Some(name)) => site
            .identity
            .domains
            .values()
            .find(|domain| &domain.name == name),
        (None, None) => return Err(KeystoneError::expecting("id or name", "domain")),
    };

    found
        .map(|domain| domain.id.clone())
        .ok_or(KeystoneError::Unauthorized)
}

fn resolve_project(site: &Site, project: &wire::ProjectRef) -> Result<String, KeystoneError> {
    if let Some(id) = &project.id {
        return site
            .identity
            .projects
            .get(id)
            .map(|project| project.id.clone())
            .ok_or(KeystoneError::Unauthorized);
    }
    let name = project
        .name
        .as_deref()
        .ok_or_else(|| KeystoneError::expecting("id or name", "project"))?;
    let domain = project
        .domain
        .as_ref()
        .ok_or_else(|| KeystoneError::expecting("domain", "project"))?;
    let domain_id = find_domain(site, domain)?;
    site.identity
        .projects
        .values()
        .find(|project| project.name == name && project.domain_id == domain_id)
        .map(|project| project.id.clone())
        .ok_or(KeystoneError::Unauthorized)
}

/// The project and roles a user's token gets for `scope`: `("", [])` when unscoped; 401 for a
/// project the user has no role on, and for domain and system scopes (no such role
/// assignments in the twin).
fn project_scope(
    site: &Site,
    user_id: &str,
    scope: Option<&wire::Scope>,
) -> Result<(String, Vec<String>), KeystoneError> {
    match scope {
        None => Ok((String::new(), Vec::new())),
        Some(wire::Scope::Project(project)) => {
            let project_id = resolve_project(site, project)?;
            let roles = site
                .identity
                .users
                .get(user_id)
                .and_then(|user| user.roles.get(&project_id))
                .filter(|roles| !roles.is_empty())
                .cloned()
                .ok_or(KeystoneError::Unauthorized)?;
            Ok((project_id, roles))
        }
        Some(_) => Err(KeystoneError::Unauthorized),
    }
}

/// Stores a token and returns its id: Fernet-looking, deterministic (site name and count).
pub fn store_token(site: &mut Site, token: Token) -> String {
    let now = site.clock.wall();
    let identity = &mut site.identity;
    identity.tokens.retain(|_, token| token.expires_at > now);
    identity.tokens_issued += 1;
    let mut ids = IdGen::for_site(identity.tokens_issued, &format!("{}/token", site.name));
    let id = format!("gAAAAAB{}", url_safe(&mut ids, 176));
    identity.tokens.insert(id.clone(), token);
    id
}

/// `len` characters of the URL-safe base64 alphabet.
fn url_safe(ids: &mut IdGen, len: usize) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut text = String::with_capacity(len);
    while text.len() < len {
        let mut value = ids.next_u64();
        for _ in 0..10 {
            if text.len() == len {
                break;
            }
            text.push(ALPHABET[(value & 63) as usize] as char);
            value >>= 6;
        }
    }
    text
}

/// A stable identifier for a catalog entry, endpoint or role of a site.
fn stable_hex(site: &Site, key: &str) -> String {
    IdGen::for_site(0, &format!("{}/{key}", site.name)).hex(32)
}

/// Keystone's time format (Fernet tokens carry whole seconds).
fn keystone_time(time: DateTime<Utc>) -> String {
    time.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// The service catalog of a token scoped to `project_id`.
pub fn catalog(site: &Site, project_id: &str) -> Vec<wire::CatalogEntry> {
    let base = &site.endpoints.openstack;
    let volume = format!("{base}/volume/v3/{project_id}");
    let services: [(&str, &str, String, &[&str]); 6] = [
        (
            "identity",
            "keystone",
            format!("{base}/identity"),
            &["public", "internal", "admin"],
        ),
        (
            "compute",
            "nova",
            format!("{base}/compute/v2.1"),
            &["public", "internal"],
        ),
        (
            "volumev3",
            "cinderv3",
            volume.clone(),
            &["public", "internal"],
        ),
        ("block-storage", "cinder", volume, &["public", "internal"]),
        (
            "network",
            "neutron",
            format!("{base}/network"),
            &["public", "internal"],
        ),
        (
            protector_wire::swift::SERVICE_TYPE,
            "swift",
            format!("{base}/v1/AUTH_{project_id}"),
            &["public", "internal"],
        ),
    ];
    services
        .into_iter()
        .map(|(service_type, name, url, interfaces)| wire::CatalogEntry {
            id: stable_hex(site, &format!("service/{service_type}")),
            service_type: service_type.to_string(),
            name: name.to_string(),
            endpoints: interfaces
                .iter()
                .map(|interface| wire::Endpoint {
                    id: stable_hex(site, &format!("endpoint/{service_type}/{interface}")),
                    interface: interface.to_string(),
                    region: site.region.clone(),
                    region_id: site.region.clone(),
                    url: url.clone(),
                })
                .collect(),
        })
        .collect()
}

fn domain_of(site: &Site, domain_id: &str) -> wire::Domain {
    wire::Domain {
        id: domain_id.to_string(),
        name: site
            .identity
            .domains
            .get(domain_id)
            .map(|domain| domain.name.clone())
            .unwrap_or_default(),
    }
}

/// The body Keystone answers a token with.
pub fn token_body(site: &Site, id: &str, token: &Token, with_catalog: bool) -> wire::Token {
    let user = site.identity.users.get(&token.user_id);
    let scoped = !token.project_id.is_empty();
    let project = site
        .identity
        .projects
        .get(&token.project_id)
        .map(|project| wire::TokenProject {
            id: project.id.clone(),
            name: project.name.clone(),
            domain: domain_of(site, &project.domain_id),
        });
    let application_credential = token
        .application_credential_id
        .as_ref()
        .and_then(|id| site.identity.application_credentials.get(id))
        .map(|credential| wire::TokenApplicationCredential {
            id: credential.id.clone(),
            name: credential.name.clone(),
            restricted: true,
            access_rules: None,
        });
    let mut audit = IdGen::for_site(0, &format!("{}/audit/{id}", site.name));
    wire::Token {
        methods: vec![token.method.clone()],
        user: wire::TokenUser {
            id: token.user_id.clone(),
            name: user.map(|user| user.name.clone()).unwrap_or_default(),
            domain: domain_of(
                site,
                user.map(|user| user.domain_id.as_str())
                    .unwrap_or("default"),
            ),
            password_expires_at: None,
        },
        expires_at: keystone_time(token.expires_at),
        issued_at: keystone_time(token.issued_at),
        audit_ids: vec![url_safe(&mut audit, 22)],
        project,
        domain: None,
        system: None,
        is_domain: scoped.then_some(false),
        roles: scoped.then(|| {
            token
                .roles
                .iter()
                .map(|role| wire::Role {
                    id: stable_hex(site, &format!("role/{role}")),
                    name: role.clone(),
                })
                .collect()
        }),
        catalog: (scoped && with_catalog).then(|| catalog(site, &token.project_id)),
        application_credential,
        is_admin_project: None,
    }
}

fn token_response(status: StatusCode, id: &str, body: wire::Token) -> Response {
    let mut response = (status, Json(wire::TokenResponse { token: body })).into_response();
    if let Ok(value) = HeaderValue::from_str(id) {
        response.headers_mut().insert("x-subject-token", value);
    }
    with_vary(response)
}

/// `POST /v3/auth/tokens`: 201, the token id in `X-Subject-Token`.
async fn issue(
    State(ctx): State<SiteContext>,
    Query(query): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    let request: wire::AuthRequest = match serde_json::from_slice::<serde_json::Value>(&body) {
        Err(_) => return KeystoneError::expecting("valid JSON", "request body").into_response(),
        Ok(value) => match serde_json::from_value(value) {
            Ok(request) => request,
            Err(error) => {
                return KeystoneError::BadRequest(format!(
                    "Invalid input for field 'auth': {error}"
                ))
                .into_response();
            }
        },
    };

    let mut site = ctx.lock();
    let now = site.clock.wall();
    let token = match authenticate(&site, &request, now) {
        Ok(token) => token,
        Err(error) => return error.into_response(),
    };

    let id = store_token(&mut site, token.clone());
    let body = token_body(&site, &id, &token, !query.contains_key("nocatalog"));
    drop(site);
    token_response(StatusCode::CREATED, &id, body)
}

fn subject_token(headers: &HeaderMap) -> Result<&str, KeystoneError> {
    headers
        .get("x-subject-token")
        .and_then(|value| value.to_str().ok())
        .ok_or_else(|| KeystoneError::NotFound("No token in the request".to_string()))
}

/// The valid token named by `X-Subject-Token`, else 404 as Keystone answers.
fn subject(site: &Site, id: &str) -> Result<Token, KeystoneError> {
    let token = site
        .identity
        .tokens
        .get(id)
        .ok_or_else(|| KeystoneError::NotFound(format!("Could not find token: {id}.")))?;
    if token.expires_at <= site.clock.wall() {
        return Err(KeystoneError::NotFound(
            "Failed to validate token".to_string(),
        ));
    }
    Ok(token.clone())
}

/// `GET /v3/auth/tokens` (and `HEAD`): validates `X-Subject-Token` for the caller of
/// `X-Auth-Token`.
async fn validate(
    State(ctx): State<SiteContext>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let site = ctx.lock();
    let result = (|| {
        auth::token(&site, &headers)?;
        let id = subject_token(&headers)?;
        let token = subject(&site, id)?;
        Ok::<_, KeystoneError>((
            id.to_string(),
            token_body(&site, id, &token, !query.contains_key("nocatalog")),
        ))
    })();
    drop(site);
    match result {
        Ok((id, body)) => token_response(StatusCode::OK, &id, body),
        Err(error) => error.into_response(),
    }
}

/// `DELETE /v3/auth/tokens`: revokes `X-Subject-Token`; 204.
async fn revoke(State(ctx): State<SiteContext>, headers: HeaderMap) -> Response {
    let mut site = ctx.lock();
    let result = (|| {
        auth::token(&site, &headers)?;
        let id = subject_token(&headers)?.to_string();
        subject(&site, &id)?;
        site.identity.tokens.remove(&id);
        Ok::<_, KeystoneError>(())
    })();
    drop(site);
    match result {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(error) => error.into_response(),
    }
}

/// `GET /v3/auth/catalog`: the catalog of the caller's (project-scoped) token.
async fn auth_catalog(State(ctx): State<SiteContext>, headers: HeaderMap) -> Response {
    let site = ctx.lock();
    let result = (|| {
        let token = auth::token(&site, &headers)?;
        if token.project_id.is_empty() {
            return Err(KeystoneError::Forbidden(
                "A project-scoped token is required to produce a service catalog.".to_string(),
            ));
        }
        Ok(wire::CatalogResponse {
            catalog: catalog(&site, &token.project_id),
            links: wire::CollectionLinks {
                self_link: format!("{}/v3/auth/catalog", identity_url(&site)),
                previous: None,
                next: None,
            },
        })
    })();
    drop(site);
    match result {
        Ok(body) => with_vary(Json(body).into_response()),
        Err(error) => error.into_response(),
    }
}

/// `GET /v3/auth/projects`: the projects the caller may scope a token to.
async fn auth_projects(State(ctx): State<SiteContext>, headers: HeaderMap) -> Response {
    let site = ctx.lock();
    let result = auth::token(&site, &headers).map(|token| {
        let base = identity_url(&site);
        let projects = site
            .identity
            .projects
            .values()
            .filter(|project| match &token.application_credential_id {
                Some(_) => project.id == token.project_id,
                None => site
                    .identity
                    .users
                    .get(&token.user_id)
                    .and_then(|user| user.roles.get(&project.id))
                    .is_some_and(|roles| !roles.is_empty()),
            })
            .map(|project| wire::Project {
                id: project.id.clone(),
                name: project.name.clone(),
                domain_id: project.domain_id.clone(),
                description: String::new(),
                enabled: true,
                is_domain: false,
                parent_id: Some(project.domain_id.clone()),
                tags: Some(Vec::new()),
                options: Some(serde_json::Map::new()),
                links: wire::SelfLink {
                    self_link: format!("{base}/v3/projects/{}", project.id),
                },
            })
            .collect();
        wire::ProjectsResponse {
            projects,
            links: wire::CollectionLinks {
                self_link: format!("{base}/v3/auth/projects"),
                previous: None,
                next: None,
            },
        }
    });
    drop(site);
    match result {
        Ok(body) => with_vary(Json(body).into_response()),
        Err(error) => error.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Clock;
    use crate::world::World;
    use serde_json::json;

    fn world() -> World {
        let fixture =
            crate::fixture::parse(include_str!("../../../../examples/sim/two-sites.yaml")).unwrap();
        World::from_fixture(&fixture, 1, Clock::new(100.0)).unwrap()
    }

    fn request(value: serde_json::Value) -> wire::AuthRequest {
        serde_json::from_value(value).unwrap()
    }

    fn password(user: &str, secret: &str, project: serde_json::Value) -> wire::AuthRequest {
        request(json!({"auth": {
            "identity": {"methods": ["password"], "password": {"user": {
                "name": user, "domain": {"name": "Default"}, "password": secret}}},
            "scope": {"project": project}
        }}))
    }

    #[test]
    fn password_scoped_by_project_name_or_id() {
        let world = world();
        let site = world.sites["site-a"].lock(&world);
        let now = site.clock.wall();
        let by_name = password(
            "protector",
            "site-a-secret",
            json!({"name": "prod", "domain": {"id": "default"}}),
        );
        let token = authenticate(&site, &by_name, now).unwrap();
        let project_id = site.project_id("prod").unwrap().to_string();
        assert_eq!(token.project_id, project_id);
        assert_eq!(token.roles, ["admin", "member"]);
        assert_eq!(
            (token.expires_at - token.issued_at).num_seconds(),
            site.identity.token_lifetime_secs
        );
        let by_id = password("protector", "site-a-secret", json!({"id": project_id}));
        assert!(authenticate(&site, &by_id, now).is_ok());
    }

    #[test]
    fn wrong_secrets_and_unknown_names_are_401_and_malformed_requests_400() {
        let world = world();
        let site = world.sites["site-a"].lock(&world);
        let now = site.clock.wall();
        let prod = json!({"name": "prod", "domain": {"name": "Default"}});
        for request in [
            password("protector", "wrong", prod.clone()),
            password("nobody", "site-a-secret", prod.clone()),
            password("protector", "site-b-secret", prod.clone()),
            password(
                "protector",
                "site-a-secret",
                json!({"name": "nowhere", "domain": {"name": "Default"}}),
            ),
        ] {
            assert_eq!(
                authenticate(&site, &request, now),
                Err(KeystoneError::Unauthorized)
            );
        }
        let no_domain = request(json!({"auth": {"identity": {"methods": ["password"],
            "password": {"user": {"name": "protector", "password": "site-a-secret"}}}}}));
        assert!(matches!(
            authenticate(&site, &no_domain, now),
            Err(KeystoneError::BadRequest(message)) if message.starts_with("Expecting to find domain in user.")
        ));
    }

    #[test]
    fn application_credentials_by_id_and_by_name_carry_their_project_and_roles() {
        let world = world();
        let site = world.sites["site-a"].lock(&world);
        let now = site.clock.wall();
        let credential = site
            .identity
            .application_credentials
            .values()
            .next()
            .unwrap();
        let by_id = request(json!({"auth": {"identity": {
            "methods": ["application_credential"],
            "application_credential": {"id": credential.id, "secret": "site-a-appcred-secret"}}}}));
        let token = authenticate(&site, &by_id, now).unwrap();
        assert_eq!(token.project_id, credential.project_id);
        assert_eq!(token.roles, credential.roles);
        assert_eq!(
            token.application_credential_id.as_deref(),
            Some(credential.id.as_str())
        );
        let by_name = request(json!({"auth": {"identity": {
            "methods": ["application_credential"],
            "application_credential": {"name": "protector-dr", "secret": "site-a-appcred-secret",
                "user": {"name": "protector", "domain": {"id": "default"}}}}}}));
        assert_eq!(
            authenticate(&site, &by_name, now).unwrap().user_id,
            credential.user_id
        );
        let wrong = request(json!({"auth": {"identity": {
            "methods": ["application_credential"],
            "application_credential": {"id": credential.id, "secret": "nope"}}}}));
        assert_eq!(
            authenticate(&site, &wrong, now),
            Err(KeystoneError::Unauthorized)
        );
    }

    #[test]
    fn token_body_has_catalog_roles_and_deterministic_ids() {
        let world = world();
        let mut site = world.sites["site-a"].lock(&world);
        site.endpoints.openstack = "http://127.0.0.1:5000".to_string();
        let now = site.clock.wall();
        let request = password(
            "protector",
            "site-a-secret",
            json!({"name": "prod", "domain": {"name": "Default"}}),
        );
        let token = authenticate(&site, &request, now).unwrap();
        let id = store_token(&mut site, token.clone());
        assert!(id.starts_with("gAAAAAB") && id.len() == 183, "{id}");
        let body = token_body(&site, &id, &token, true);
        let project_id = site.project_id("prod").unwrap().to_string();
        assert_eq!(
            body.endpoint_url("volumev3", "public", Some("RegionOne")),
            Some(format!("http://127.0.0.1:5000/volume/v3/{project_id}").as_str())
        );
        assert_eq!(
            body.endpoint_url("block-storage", "internal", None),
            body.endpoint_url("volumev3", "internal", None)
        );
        assert_eq!(
            body.endpoint_url("compute", "public", None),
            Some("http://127.0.0.1:5000/compute/v2.1")
        );
        assert_eq!(
            body.endpoint_url("network", "public", None),
            Some("http://127.0.0.1:5000/network")
        );
        assert_eq!(
            body.endpoint_url("object-store", "public", None),
            Some(format!("http://127.0.0.1:5000/v1/AUTH_{project_id}").as_str())
        );
        assert_eq!(
            body.endpoint_url("identity", "public", None),
            Some("http://127.0.0.1:5000/identity")
        );
        assert_eq!(body.roles.as_ref().unwrap().len(), 2);
        assert_eq!(body.audit_ids[0].len(), 22);
        assert!(body.expires_at.ends_with(".000000Z"));
        // The same world gives the same ids.
        assert_eq!(token_body(&site, &id, &token, true), body);
        assert!(token_body(&site, &id, &token, false).catalog.is_none());
        let second = store_token(&mut site, token);
        assert_ne!(second, id);
    }

    #[test]
    fn lifetime_comes_from_state() {
        let world = world();
        let mut site = world.sites["site-b"].lock(&world);
        site.identity.token_lifetime_secs = 5;
        let now = site.clock.wall();
        let request = password(
            "viewer",
            "viewer-secret",
            json!({"name": "prod", "domain": {"name": "Default"}}),
        );
        let token = authenticate(&site, &request, now).unwrap();
        assert_eq!((token.expires_at - token.issued_at).num_seconds(), 5);
        assert_eq!(token.roles, ["reader"]);
    }
}
