//! Keystone v3 wire types: `POST /v3/auth/tokens` (password and application credential), the
//! token it returns with its service catalog, the `GET /v3` version document, and the error body.
//!
//! Shared by protector's Keystone client (deserializes) and the simulator (serializes), so they
//! follow the API reference samples field for field (`tests/it/api_samples.rs` proves it).
//! Conventions: a field every Keystone sends is plain (`Option` when JSON null is allowed, and
//! then always serialized); a field that depends on the request or the deployment is an `Option`
//! left out when `None`. Unknown fields are ignored, never an error.

use serde::{Deserialize, Serialize};

/// The body of `POST /v3/auth/tokens`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuthRequest {
    pub auth: Auth,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Auth {
    pub identity: Identity,
    /// Absent for an unscoped token (and for application credentials, which carry their own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<Scope>,
}

/// Who is authenticating: `methods` names the sections that follow (`password`,
/// `application_credential`, `token`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Identity {
    pub methods: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<PasswordMethod>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application_credential: Option<ApplicationCredentialMethod>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<TokenMethod>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PasswordMethod {
    pub user: PasswordUser,
}

/// A user with a password: by `id`, or by `name` plus `domain`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PasswordUser {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Required with `name`: user names are unique per domain only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<DomainRef>,
    pub password: String,
}

/// An application credential: by `id`, or by `name` plus the `user` who owns it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApplicationCredentialMethod {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub secret: String,
    /// Required with `name`: application credential names are unique per user only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<UserRef>,
}

/// Re-authentication with an existing token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenMethod {
    pub id: String,
}

/// A user named in a request: by `id`, or by `name` plus `domain`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserRef {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<DomainRef>,
}

/// A domain named in a request: by `id` or by `name`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DomainRef {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// A project named in a request: by `id`, or by `name` plus `domain`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProjectRef {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<DomainRef>,
}

/// What the token is to be scoped to: exactly one of these keys.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    Project(ProjectRef),
    Domain(DomainRef),
    System(SystemScope),
}

/// `{"all": true}`: the deployment-wide system scope.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SystemScope {
    pub all: bool,
}

/// The body of a successful `POST /v3/auth/tokens` (the token itself is the `X-Subject-Token`
/// header) and of `GET /v3/auth/tokens`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenResponse {
    pub token: Token,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Token {
    /// The methods that proved the identity, e.g. `["password"]`.
    pub methods: Vec<String>,
    pub user: TokenUser,
    /// ISO 8601, UTC: when the token stops working; clients re-authenticate before.
    pub expires_at: String,
    pub issued_at: String,
    pub audit_ids: Vec<String>,
    /// Present when the token is project-scoped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<TokenProject>,
    /// Present when the token is domain-scoped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<Domain>,
    /// Present when the token is system-scoped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<SystemScope>,
    /// Present when the token is scoped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_domain: Option<bool>,
    /// Present when the token is scoped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<Role>>,
    /// Present when the token is scoped (and `?nocatalog` was not asked): where the services are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catalog: Option<Vec<CatalogEntry>>,
    /// Present when the token was obtained with an application credential.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application_credential: Option<TokenApplicationCredential>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_admin_project: Option<bool>,
}

impl Token {
    /// The URL of the first endpoint of a service type (`compute`, `volumev3`, `network`, ...)
    /// with this interface (`public`, `internal`, `admin`), in `region` when one is given.
    pub fn endpoint_url(
        &self,
        service_type: &str,
        interface: &str,
        region: Option<&str>,
    ) -> Option<&str> {
        self.catalog
            .as_deref()?
            .iter()
            .filter(|entry| entry.service_type == service_type)
            .flat_map(|entry| &entry.endpoints)
            .find(|endpoint| {
                endpoint.interface == interface
                    && region.is_none_or(|region| endpoint.region_id == region)
            })
            .map(|endpoint| endpoint.url.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenUser {
    pub id: String,
    pub name: String,
    pub domain: Domain,
    /// When the user's password expires; null when it never does (or for non-password users).
    #[serde(default)]
    pub password_expires_at: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenProject {
    pub id: String,
    pub name: String,
    pub domain: Domain,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Domain {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Role {
    pub id: String,
    pub name: String,
}

/// The application credential a token was obtained with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenApplicationCredential {
    pub id: String,
    pub name: String,
    /// A restricted credential cannot create further credentials or trusts.
    pub restricted: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_rules: Option<Vec<AccessRule>>,
}

/// One API call an application credential with access rules may make.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccessRule {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub path: String,
    pub method: String,
    pub service: String,
}

/// One service in the catalog.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CatalogEntry {
    pub id: String,
    /// `identity`, `compute`, `volumev3`, `network`, ...
    #[serde(rename = "type")]
    pub service_type: String,
    pub name: String,
    pub endpoints: Vec<Endpoint>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Endpoint {
    pub id: String,
    /// `public`, `internal` or `admin`.
    pub interface: String,
    /// The region's id (the legacy spelling of `region_id`; Keystone sends both).
    pub region: String,
    pub region_id: String,
    pub url: String,
}

/// The body of `GET /v3`: the version document clients use for discovery.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VersionResponse {
    pub version: Version,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Version {
    /// `v3.14` and the like.
    pub id: String,
    /// `stable`.
    pub status: String,
    pub updated: String,
    pub links: Vec<Link>,
    #[serde(rename = "media-types")]
    pub media_types: Vec<MediaType>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MediaType {
    pub base: String,
    #[serde(rename = "type")]
    pub media_type: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Link {
    pub href: String,
    pub rel: String,
}

/// The body of `GET /` (Keystone's root, `/identity` on DevStack): every API version, answered
/// with `300 Multiple Choices`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VersionsResponse {
    pub versions: Versions,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Versions {
    pub values: Vec<Version>,
}

/// The body of `GET /v3/auth/catalog`: the catalog of the token in `X-Auth-Token`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CatalogResponse {
    pub catalog: Vec<CatalogEntry>,
    pub links: CollectionLinks,
}

/// The body of `GET /v3/auth/projects`: the projects the token's user may scope to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProjectsResponse {
    pub projects: Vec<Project>,
    pub links: CollectionLinks,
}

/// A project as Keystone's project API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Project {
    pub id: String,
    pub name: String,
    pub domain_id: String,
    #[serde(default)]
    pub description: String,
    pub enabled: bool,
    pub is_domain: bool,
    /// The parent project, or the domain for a top-level project.
    #[serde(default)]
    pub parent_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<serde_json::Map<String, serde_json::Value>>,
    pub links: SelfLink,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SelfLink {
    #[serde(rename = "self")]
    pub self_link: String,
}

/// The `links` of a Keystone collection: `self`, and `previous`/`next` (null: Keystone does not
/// paginate).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CollectionLinks {
    #[serde(rename = "self")]
    pub self_link: String,
    #[serde(default)]
    pub previous: Option<String>,
    #[serde(default)]
    pub next: Option<String>,
}

/// Keystone's error body, `{"error": {"code", "message", "title"}}`. keystonemiddleware answers
/// with the same shape when any service rejects a token (401), so every client may see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorResponse {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// The HTTP status, repeated.
    pub code: u16,
    pub message: String,
    /// The HTTP reason phrase: `Unauthorized`, `Not Found`, ...
    pub title: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn round_trip<T: serde::de::DeserializeOwned + Serialize>(value: Value) -> T {
        let model: T = serde_json::from_value(value.clone()).expect("deserializes");
        assert_eq!(serde_json::to_value(&model).expect("serializes"), value);
        model
    }

    #[test]
    fn password_project_scoped_request_by_name_and_domain() {
        // The form the API reference documents for "Password authentication with scoped
        // authorization" (its sample file in api-samples/ is empty).
        let request: AuthRequest = round_trip(json!({
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {
                        "user": {
                            "name": "admin",
                            "domain": {"name": "Default"},
                            "password": "devstacker"
                        }
                    }
                },
                "scope": {"project": {"name": "admin", "domain": {"id": "default"}}}
            }
        }));
        let Some(Scope::Project(project)) = request.auth.scope else {
            panic!("project scope")
        };
        assert_eq!(project.name.as_deref(), Some("admin"));
    }

    #[test]
    fn scopes_by_id_domain_and_system() {
        round_trip::<Scope>(json!({"project": {"id": "a6944d763bf64ee6a275f1263fae0352"}}));
        round_trip::<Scope>(json!({"domain": {"name": "Default"}}));
        round_trip::<Scope>(json!({"system": {"all": true}}));
        assert!(serde_json::from_value::<Scope>(json!({"galaxy": {}})).is_err());
    }

    #[test]
    fn application_credential_by_name_with_user_name_and_domain() {
        round_trip::<AuthRequest>(json!({
            "auth": {
                "identity": {
                    "methods": ["application_credential"],
                    "application_credential": {
                        "name": "protector",
                        "secret": "s3cret",
                        "user": {"name": "dr", "domain": {"id": "default"}}
                    }
                }
            }
        }));
    }

    #[test]
    fn version_document() {
        let version: VersionResponse = round_trip(json!({
            "version": {
                "id": "v3.14",
                "links": [{"href": "http://localhost/identity/v3/", "rel": "self"}],
                "media-types": [{
                    "base": "application/json",
                    "type": "application/vnd.openstack.identity-v3+json"
                }],
                "status": "stable",
                "updated": "2020-04-07T00:00:00Z"
            }
        }));
        assert_eq!(version.version.status, "stable");
    }

    #[test]
    fn error_body() {
        let error: ErrorResponse = round_trip(json!({
            "error": {
                "code": 401,
                "message": "The request you have made requires authentication.",
                "title": "Unauthorized"
            }
        }));
        assert_eq!(error.error.code, 401);
    }

    #[test]
    fn endpoint_url_picks_type_interface_and_region() {
        let token: Token = serde_json::from_value(json!({
            "methods": ["password"],
            "user": {"id": "u", "name": "n", "domain": {"id": "default", "name": "Default"},
                     "password_expires_at": null},
            "expires_at": "2030-01-01T00:00:00.000000Z",
            "issued_at": "2030-01-01T00:00:00.000000Z",
            "audit_ids": [],
            "catalog": [{"id": "c", "type": "compute", "name": "nova", "endpoints": [
                {"id": "1", "interface": "public", "region": "One", "region_id": "One",
                 "url": "https://one/compute/v2.1"},
                {"id": "2", "interface": "public", "region": "Two", "region_id": "Two",
                 "url": "https://two/compute/v2.1"}
            ]}]
        }))
        .expect("token");
        assert_eq!(
            token.endpoint_url("compute", "public", Some("Two")),
            Some("https://two/compute/v2.1")
        );
        assert_eq!(
            token.endpoint_url("compute", "public", None),
            Some("https://one/compute/v2.1")
        );
        assert_eq!(token.endpoint_url("compute", "admin", None), None);
        assert_eq!(token.endpoint_url("network", "public", None), None);
    }
}
