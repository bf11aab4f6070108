//! What `protector sim up` writes for its clients: a clouds.yaml that openstacksdk and
//! protector use as-is, and an env file (shell syntax) naming the control API and each array's
//! URL, token and CA, as DESIGN §5 specifies.

use std::path::Path;

use serde_json::{Map, Value, json};

use super::fixture::Fixture;
use super::server::Twin;

/// One cloud per site (the site's first user, password auth) and one `<site>-appcred` cloud per
/// application credential.
pub fn clouds_yaml(twin: &Twin, fixture: &Fixture, ca_path: Option<&Path>) -> String {
    let world = twin.world();
    let mut clouds = Map::new();
    for (name, site_fixture) in &fixture.sites {
        let Some(cell) = world.site(name) else {
            continue;
        };
        let site = cell.lock(world);
        let auth_url = format!("{}/identity/v3", site.endpoints.openstack);
        let tls = site.endpoints.openstack.starts_with("https://");
        let with_tls = |mut cloud: Value| {
            cloud["region_name"] = json!(site.region);
            cloud["interface"] = json!("public");
            cloud["identity_api_version"] = json!(3);
            if let (true, Some(ca)) = (tls, ca_path) {
                cloud["cacert"] = json!(ca.display().to_string());
            }
            cloud
        };
        if let Some(user) = site_fixture.users.first() {
            clouds.insert(
                name.clone(),
                with_tls(json!({
                    "auth": {
                        "auth_url": auth_url,
                        "username": user.name,
                        "password": user.password,
                        "project_name": user.project,
                        "user_domain_name": "Default",
                        "project_domain_name": "Default",
                    }
                })),
            );
        }
        for credential in site.identity.application_credentials.values() {
            clouds.insert(
                format!("{name}-{}", credential.name),
                with_tls(json!({
                    "auth_type": "v3applicationcredential",
                    "auth": {
                        "auth_url": auth_url,
                        "application_credential_id": credential.id,
                        "application_credential_secret": credential.secret,
                    }
                })),
            );
        }
    }
    let document = json!({ "clouds": clouds });
    let body = protector_wire::yaml::to_string(&document).unwrap_or_default();
    format!(
        "# Written by `protector sim up`: the twin's sites, usable as-is by openstacksdk.\n{body}"
    )
}

/// `NAME='value'` lines for `set -a; . FILE`.
pub fn env_file(twin: &Twin, fixture: &Fixture, clouds_path: &Path, ca_path: &Path) -> String {
    let quote = |value: &str| format!("'{}'", value.replace('\'', r"'\''"));
    let mut lines = vec![
        "# Written by `protector sim up`; load with: set -a; . ./THIS_FILE; set +a".to_string(),
        format!(
            "OS_CLIENT_CONFIG_FILE={}",
            quote(&clouds_path.display().to_string())
        ),
        format!("PROTECTOR_SIM_CONTROL={}", quote(&twin.control_url)),
    ];
    let world = twin.world();
    for (name, site_fixture) in &fixture.sites {
        let Some(cell) = world.site(name) else {
            continue;
        };
        let url = cell.lock(world).endpoints.array.clone();
        let env = |what: &str| protector_wire::names::site_env_name(name, what);
        lines.push(format!("{}={}", env("URL"), quote(&url)));
        lines.push(format!(
            "{}={}",
            env("API_TOKEN"),
            quote(&site_fixture.array.api_token)
        ));
        lines.push(format!(
            "{}={}",
            env("CA_CERT"),
            quote(&ca_path.display().to_string())
        ));
    }
    lines.push(String::new());
    lines.join("\n")
}
