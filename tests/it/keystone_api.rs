//! The twin's Keystone over real loopback HTTP (`protector sim up` + curl): version documents,
//! password and application-credential tokens on both sites, the catalog, token validation and
//! revocation, and the 401s (wrong secrets, expired tokens) every service answers.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use protector::clients::keystone::model as keystone;
use serde_json::{Value, json};

use crate::twin::TwinProcess;

/// One HTTP exchange: status, headers (lower-cased names) and body.
pub struct Reply {
    pub status: u16,
    pub headers: BTreeMap<String, String>,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|error| panic!("{error}: not JSON: {:?}", self.body))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }
}

/// `curl` with headers and an optional JSON body.
pub fn call(method: &str, url: &str, headers: &[(&str, &str)], body: Option<&Value>) -> Reply {
    let mut command = Command::new("curl");
    command.args(["-s", "-S", "-i", "-X", method, url]);
    for (name, value) in headers {
        command.args(["-H", &format!("{name}: {value}")]);
    }
    if let Some(body) = body {
        command.args(["-H", "Content-Type: application/json", "--data-binary"]);
        command.arg(body.to_string());
    }
    run(&mut command)
}

/// Runs a `curl -i` command and reads its answer.
pub fn run(command: &mut Command) -> Reply {
    let output = command.output().expect("curl runs");
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_string()))
        .collect();
    Reply {
        status,
        headers,
        body: body.to_string(),
    }
}

/// What a test needs to know about one site of a running twin.
pub struct SiteInfo {
    /// `http://127.0.0.1:PORT`.
    pub openstack: String,
    pub project_id: String,
    pub credential_id: String,
}

pub fn site_info(control: &str, site: &str) -> SiteInfo {
    let world = call("GET", &format!("{control}/world"), &[], None).json();
    let site = &world["sites"][site];
    let project_id = site["identity"]["projects"]
        .as_object()
        .unwrap()
        .values()
        .find(|project| project["name"] == "prod")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    SiteInfo {
        openstack: site["endpoints"]["openstack"].as_str().unwrap().to_string(),
        project_id,
        credential_id: site["identity"]["application_credentials"]
            .as_object()
            .unwrap()
            .keys()
            .next()
            .unwrap()
            .clone(),
    }
}

pub fn password_request(user: &str, password: &str) -> Value {
    json!({"auth": {
        "identity": {"methods": ["password"], "password": {"user": {
            "name": user, "domain": {"name": "Default"}, "password": password}}},
        "scope": {"project": {"name": "prod", "domain": {"id": "default"}}}
    }})
}

/// Issues a token, asserting 201; returns its id and body.
pub fn issue(openstack: &str, request: &Value) -> (String, keystone::Token) {
    let reply = call(
        "POST",
        &format!("{openstack}/identity/v3/auth/tokens"),
        &[],
        Some(request),
    );
    assert_eq!(reply.status, 201, "{}", reply.body);
    let id = reply
        .header("x-subject-token")
        .expect("X-Subject-Token")
        .to_string();
    let body: keystone::TokenResponse =
        serde_json::from_str(&reply.body).expect("the token body reads into the model");
    (id, body.token)
}

/// A token of `user` on the site (password auth, project `prod`).
pub fn token(openstack: &str, user: &str, password: &str) -> String {
    issue(openstack, &password_request(user, password)).0
}

fn assert_keystone_401(reply: &Reply) {
    assert_eq!(reply.status, 401, "{}", reply.body);
    let error: keystone::ErrorResponse = serde_json::from_str(&reply.body).unwrap();
    assert_eq!(error.error.code, 401);
    assert_eq!(error.error.title, "Unauthorized");
    assert_eq!(
        error.error.message,
        "The request you have made requires authentication."
    );
    assert!(reply.header("www-authenticate").is_some());
}

#[test]
fn version_documents_answer_discovery() {
    let twin = TwinProcess::start(100, &[]);
    let site = site_info(twin.control(), "site-a");
    let os = &site.openstack;

    let root = call("GET", &format!("{os}/identity"), &[], None);
    assert_eq!(root.status, 300, "Keystone's root is Multiple Choices");
    let versions: keystone::VersionsResponse = serde_json::from_str(&root.body).unwrap();
    let v3 = &versions.versions.values[0];
    assert_eq!((v3.id.as_str(), v3.status.as_str()), ("v3.14", "stable"));
    assert_eq!(v3.links[0].href, format!("{os}/identity/v3/"));
    assert_eq!(root.header("location"), Some(v3.links[0].href.as_str()));

    for path in ["/identity/v3", "/identity/v3/"] {
        let reply = call("GET", &format!("{os}{path}"), &[], None);
        assert_eq!(reply.status, 200, "{path}");
        let version: keystone::VersionResponse = serde_json::from_str(&reply.body).unwrap();
        assert_eq!(version.version.id, "v3.14");
        assert_eq!(
            version.version.media_types[0].media_type,
            "application/vnd.openstack.identity-v3+json"
        );
    }

    let network = call("GET", &format!("{os}/network"), &[], None).json();
    assert_eq!(network["versions"][0]["id"], "v2.0");
    assert_eq!(
        network["versions"][0]["links"][0]["href"],
        format!("{os}/network/v2.0/")
    );
}

#[test]
fn password_and_application_credential_tokens_on_both_sites() {
    let twin = TwinProcess::start(100, &[]);
    for (name, password, secret) in [
        ("site-a", "site-a-secret", "site-a-appcred-secret"),
        ("site-b", "site-b-secret", "site-b-appcred-secret"),
    ] {
        let site = site_info(twin.control(), name);
        let os = &site.openstack;

        // Password, project scope by name.
        let (id, token) = issue(os, &password_request("protector", password));
        assert_eq!(token.methods, ["password"]);
        assert_eq!(token.user.name, "protector");
        assert_eq!(token.project.as_ref().unwrap().id, site.project_id);
        let roles: Vec<&str> = token
            .roles
            .as_ref()
            .unwrap()
            .iter()
            .map(|role| role.name.as_str())
            .collect();
        assert_eq!(roles, ["admin", "member"]);
        let expires = chrono::DateTime::parse_from_rfc3339(&token.expires_at).unwrap();
        let issued = chrono::DateTime::parse_from_rfc3339(&token.issued_at).unwrap();
        assert_eq!(
            (expires - issued).num_seconds(),
            3600,
            "one hour by default"
        );

        // The catalog: every service with public and internal endpoints in the region.
        let catalog = token.catalog.as_ref().unwrap();
        let types: Vec<&str> = catalog
            .iter()
            .map(|entry| entry.service_type.as_str())
            .collect();
        assert_eq!(
            types,
            [
                "identity",
                "compute",
                "volumev3",
                "block-storage",
                "network",
                "object-store"
            ]
        );
        for entry in catalog {
            for interface in ["public", "internal"] {
                let endpoint = entry
                    .endpoints
                    .iter()
                    .find(|endpoint| endpoint.interface == interface)
                    .unwrap_or_else(|| panic!("{} {interface}", entry.service_type));
                assert_eq!(endpoint.region_id, "RegionOne");
                assert_eq!(endpoint.region, "RegionOne");
            }
        }
        let volume = format!("{os}/volume/v3/{}", site.project_id);
        assert_eq!(
            token.endpoint_url("volumev3", "public", None),
            Some(volume.as_str())
        );
        assert_eq!(
            token.endpoint_url("block-storage", "internal", Some("RegionOne")),
            Some(volume.as_str())
        );
        assert_eq!(
            token.endpoint_url("compute", "public", None),
            Some(format!("{os}/compute/v2.1").as_str())
        );
        assert_eq!(
            token.endpoint_url("network", "public", None),
            Some(format!("{os}/network").as_str())
        );
        assert_eq!(
            token.endpoint_url("identity", "public", None),
            Some(format!("{os}/identity").as_str())
        );

        // Validation, catalog and project listing with the token.
        let auth = [
            ("X-Auth-Token", id.as_str()),
            ("X-Subject-Token", id.as_str()),
        ];
        let validated = call("GET", &format!("{os}/identity/v3/auth/tokens"), &auth, None);
        assert_eq!(validated.status, 200, "{}", validated.body);
        assert_eq!(validated.header("x-subject-token"), Some(id.as_str()));
        let again: keystone::TokenResponse = serde_json::from_str(&validated.body).unwrap();
        assert_eq!(again.token, token);
        let catalog = call(
            "GET",
            &format!("{os}/identity/v3/auth/catalog"),
            &auth,
            None,
        );
        let catalog: keystone::CatalogResponse = serde_json::from_str(&catalog.body).unwrap();
        assert_eq!(
            catalog.catalog.len(),
            6,
            "identity, compute, volumev3, block-storage, network, object-store"
        );
        let projects = call(
            "GET",
            &format!("{os}/identity/v3/auth/projects"),
            &auth,
            None,
        );
        let projects: keystone::ProjectsResponse = serde_json::from_str(&projects.body).unwrap();
        assert_eq!(projects.projects[0].id, site.project_id);

        // Application credential by id, then by name and owner.
        let by_id = json!({"auth": {"identity": {"methods": ["application_credential"],
            "application_credential": {"id": site.credential_id, "secret": secret}}}});
        let (credential_token, body) = issue(os, &by_id);
        assert_eq!(body.methods, ["application_credential"]);
        assert_eq!(body.project.as_ref().unwrap().id, site.project_id);
        let credential = body.application_credential.as_ref().unwrap();
        assert_eq!(
            (credential.id.as_str(), credential.name.as_str()),
            (site.credential_id.as_str(), "protector-dr")
        );
        assert!(body.catalog.is_some());
        let by_name = json!({"auth": {"identity": {"methods": ["application_credential"],
            "application_credential": {"name": "protector-dr", "secret": secret,
                "user": {"name": "protector", "domain": {"name": "Default"}}}}}});
        assert_eq!(issue(os, &by_name).1.user.id, body.user.id);

        // Both tokens open the other services of this site.
        for token in [&id, &credential_token] {
            let networks = call(
                "GET",
                &format!("{os}/network/v2.0/networks"),
                &[("X-Auth-Token", token)],
                None,
            );
            assert_eq!(networks.status, 200, "{}", networks.body);
        }
    }

    // A token of one site means nothing on the other.
    let (a, b) = (
        site_info(twin.control(), "site-a"),
        site_info(twin.control(), "site-b"),
    );
    let token_a = token(&a.openstack, "protector", "site-a-secret");
    let reply = call(
        "GET",
        &format!("{}/network/v2.0/networks", b.openstack),
        &[("X-Auth-Token", &token_a)],
        None,
    );
    assert_keystone_401(&reply);
}

#[test]
fn wrong_credentials_are_401_with_keystones_body() {
    let twin = TwinProcess::start(100, &[]);
    let site = site_info(twin.control(), "site-a");
    let url = format!("{}/identity/v3/auth/tokens", site.openstack);
    let unknown_project = json!({"auth": {
        "identity": {"methods": ["password"], "password": {"user": {
            "name": "protector", "domain": {"name": "Default"}, "password": "site-a-secret"}}},
        "scope": {"project": {"name": "nowhere", "domain": {"id": "default"}}}
    }});
    for request in [
        password_request("protector", "wrong"),
        password_request("protector", "site-b-secret"),
        password_request("nobody", "site-a-secret"),
        unknown_project,
        json!({"auth": {"identity": {"methods": ["application_credential"],
            "application_credential": {"id": site.credential_id, "secret": "wrong"}}}}),
        json!({"auth": {"identity": {"methods": ["application_credential"],
            "application_credential": {"id": "0123456789abcdef", "secret": "x"}}}}),
    ] {
        let reply = call("POST", &url, &[], Some(&request));
        assert_keystone_401(&reply);
        assert!(reply.header("x-subject-token").is_none());
    }
    let malformed = call("POST", &url, &[], None);
    assert_eq!(malformed.status, 400, "{}", malformed.body);
    assert_eq!(malformed.json()["error"]["title"], "Bad Request");
    // No token at all, on any service.
    for path in ["/network/v2.0/ports", "/identity/v3/auth/catalog"] {
        assert_keystone_401(&call(
            "GET",
            &format!("{}{path}", site.openstack),
            &[],
            None,
        ));
    }
}

/// `protector sim up` with extra environment (TwinProcess inherits the test's).
struct EnvTwin {
    child: Child,
    _dir: tempfile::TempDir,
    control: String,
}

impl EnvTwin {
    fn start(env: &[(&str, &str)]) -> EnvTwin {
        let dir = tempfile::tempdir().unwrap();
        let clouds = dir.path().join("clouds.yaml");
        let mut child = Command::new(env!("CARGO_BIN_EXE_protector"))
            .args(["sim", "up", "--speed", "100", "--clouds-out"])
            .arg(&clouds)
            .current_dir(crate::root())
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("protector sim up starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let control = line
            .split_whitespace()
            .find_map(|word| word.strip_prefix("control="))
            .unwrap_or_else(|| panic!("ready line {line:?}"))
            .to_string();
        EnvTwin {
            child,
            _dir: dir,
            control,
        }
    }
}

impl Drop for EnvTwin {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn expired_and_revoked_tokens_are_refused_everywhere() {
    let twin = EnvTwin::start(&[("PROTECTOR_SIM_TOKEN_LIFETIME", "3")]);
    let site = site_info(&twin.control, "site-a");
    let os = &site.openstack;
    let world = call("GET", &format!("{}/world", twin.control), &[], None).json();
    assert_eq!(
        world["sites"]["site-a"]["identity"]["token_lifetime_secs"],
        3
    );

    let (id, body) = issue(os, &password_request("protector", "site-a-secret"));
    let expires = chrono::DateTime::parse_from_rfc3339(&body.expires_at).unwrap();
    let issued = chrono::DateTime::parse_from_rfc3339(&body.issued_at).unwrap();
    assert_eq!((expires - issued).num_seconds(), 3);
    let ports = format!("{os}/network/v2.0/ports");
    assert_eq!(
        call("GET", &ports, &[("X-Auth-Token", &id)], None).status,
        200
    );

    // Revocation: the revoked token stops working at once.
    let (revoked, _) = issue(os, &password_request("protector", "site-a-secret"));
    let tokens = format!("{os}/identity/v3/auth/tokens");
    let reply = call(
        "DELETE",
        &tokens,
        &[("X-Auth-Token", &id), ("X-Subject-Token", &revoked)],
        None,
    );
    assert_eq!(reply.status, 204, "{}", reply.body);
    assert_keystone_401(&call("GET", &ports, &[("X-Auth-Token", &revoked)], None));

    std::thread::sleep(Duration::from_millis(3200));
    assert_keystone_401(&call("GET", &ports, &[("X-Auth-Token", &id)], None));
    assert_keystone_401(&call(
        "GET",
        &format!("{os}/identity/v3/auth/catalog"),
        &[("X-Auth-Token", &id)],
        None,
    ));
    // A fresh token validating the expired one: 404, as Keystone answers.
    let fresh = token(os, "protector", "site-a-secret");
    let reply = call(
        "GET",
        &tokens,
        &[("X-Auth-Token", &fresh), ("X-Subject-Token", &id)],
        None,
    );
    assert_eq!(reply.status, 404, "{}", reply.body);
    assert_eq!(reply.json()["error"]["code"], 404);
}
