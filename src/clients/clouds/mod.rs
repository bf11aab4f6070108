//! Finds and reads OpenStack `clouds.yaml` the way openstacksdk (and os-client-config before it)
//! does, so the file an operator already uses with the `openstack` CLI works unchanged.
//!
//! This module owns the search for `clouds.yaml`, `secure.yaml` and `clouds-public.yaml`, the
//! deep merge of the second over the first, vendor profiles laid under an entry (`profile:`),
//! clouds made of `OS_*` environment variables (openstacksdk's `envvars` cloud), openstacksdk's
//! fix-ups of legacy spellings (dashed keys, `tenant_*`, top-level auth keys, `domain_*` shared
//! by user and project, `regions`, `*endpoint_type`, `*_timeout`, `auth_plugin`), its TLS
//! settings (`verify`, `insecure`, `cacert`, as [`Verify`] says), `api_timeout`, the settings
//! per service (`compute_endpoint_override`, `block_storage_interface`, ...: [`Service`]), and
//! the validation of the kinds of Keystone v3 authentication protector supports: password,
//! application credential and token. It never talks to Keystone: a [`CloudConfig`] is everything
//! a Keystone client needs to ask for a token and find its services.
//!
//! Every setting openstacksdk honours is honoured here or refused with a message naming it; none
//! is ignored: `cert` and `key` (a TLS client certificate, which protector does not present),
//! auth types other than those above, `<service>_service_name` and the other settings that
//! change how compute, block storage, network or identity are reached (see `services`), and
//! vendor profiles that no clouds-public.yaml defines (openstacksdk's built-in ones are not
//! shipped). Settings for what protector never uses (other services, openstacksdk's cloud layer)
//! are kept in [`CloudConfig::unused_keys`], which `protector cloud show` prints.
//!
//! Where openstacksdk is silent or lenient, this module is strict on purpose, because a DR
//! runbook is the wrong moment to discover a typo: `OS_CLIENT_CONFIG_FILE` and
//! `OS_CLIENT_SECURE_FILE` name the only file read (openstacksdk falls back to searching when
//! they point nowhere), a file that is not YAML is an error (openstacksdk logs and skips it),
//! missing credentials are reported now rather than by Keystone later, an entry with an
//! application credential but no `auth_type` is refused (openstacksdk would try a password), and
//! so is a relative `cacert` that openstacksdk (from the working folder) and protector (from the
//! folder of the file that sets it) would read as two different files. A file is read bounded
//! ([`CLOUDS_FILE_LIMIT`]). `OS_CLOUD` names the cloud where a command names none (`protector
//! cloud show`); a spec always names each site's cloud, as `--os-cloud` does.
//!
//! The parts: `search` finds the files, `environment` makes a cloud of `OS_*` variables,
//! `merge` reads and merges files and fixes legacy spellings, `profile` lays vendor profiles
//! under entries, `auth` reads the credentials, `tls` the TLS settings, `services` the settings
//! per service and the refusals, `error` says what is wrong.

mod auth;
mod environment;
mod error;
mod merge;
mod profile;
mod search;
mod services;
#[cfg(test)]
mod testing;
mod tls;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Map, Value};

pub use auth::{ApplicationCredentialRef, Auth, DomainRef, ProjectRef, Scope, Secret, UserRef};
pub use environment::{ENVIRONMENT_CLOUD, OsVariables};
pub use error::{CloudsError, Origin, UnknownCloud};
pub use profile::VendorProfile;
pub use search::{CLOUDS_FILE_LIMIT, CloudsEnvironment, FileStatus, SearchedFile};
pub use services::{Service, ServiceSettings};
pub use tls::Verify;

use merge::{merge_into, parse_document};
use search::{FileKind, defined_in_ignored, search};

/// One cloud of clouds.yaml (or of `OS_*` variables), resolved and checked: what a Keystone
/// client needs, and what protector's clients need to find and call the services.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloudConfig {
    /// The entry's name under `clouds:` (`envvars` for the environment's).
    pub name: String,
    pub auth: Auth,
    pub region_name: Option<String>,
    /// Which endpoints of the service catalog to use.
    pub interface: Interface,
    /// How the services' TLS certificates are checked.
    pub verify: Verify,
    /// `api_timeout`: the per-call timeout of this cloud's HTTP calls, when it sets one (a
    /// command's `--timeout` beats it: [`CloudsEnvironment::command_timeout`]).
    pub api_timeout: Option<Duration>,
    /// What the entry says for a service alone: endpoint override, interface, region.
    pub services: BTreeMap<Service, ServiceSettings>,
    /// The clouds.yaml the entry came from, or the environment.
    pub source: Origin,
    /// The secure.yaml merged over it, if one was found.
    pub secure_source: Option<PathBuf>,
    /// The vendor profile laid under it (`profile:`), if any.
    pub profile: Option<VendorProfile>,
    /// Settings of the entry for what protector never uses (other services, openstacksdk's
    /// cloud layer), in entry order.
    pub unused_keys: Vec<String>,
}

impl CloudConfig {
    /// What to tell the operator on every run while `site`'s certificates go unchecked.
    pub fn unverified_warning(&self, site: &str) -> Option<String> {
        let Verify::Off {
            setting,
            file,
            cacert_unused,
        } = &self.verify
        else {
            return None;
        };
        Some(format!(
            "TLS certificates of {site} are not verified (`{setting}` for cloud `{}` in {file}{}): whoever can intercept its traffic can pose as its services and read the credentials protector sends; trust its CA with `cacert: <PEM file>` instead",
            self.name,
            if *cacert_unused {
                "; its `cacert` goes unused"
            } else {
                ""
            },
        ))
    }

    /// The URL to call `service` at instead of the catalog's (`compute_endpoint_override`).
    pub fn endpoint_override(&self, service: Service) -> Option<&str> {
        self.services
            .get(&service)
            .and_then(|settings| settings.endpoint_override.as_deref())
    }

    /// Which catalog endpoint of `service` to use: its own `<service>_interface`, else the
    /// cloud's.
    pub fn interface_for(&self, service: Service) -> Interface {
        self.services
            .get(&service)
            .and_then(|settings| settings.interface)
            .unwrap_or(self.interface)
    }

    /// In which region to find `service`: its own `<service>_region_name`, else the cloud's.
    pub fn region_for(&self, service: Service) -> Option<&str> {
        self.services
            .get(&service)
            .and_then(|settings| settings.region_name.as_deref())
            .or(self.region_name.as_deref())
    }
}

/// Which endpoint of each service in the Keystone catalog to call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Interface {
    #[default]
    Public,
    Internal,
    Admin,
}

impl Interface {
    /// The catalog's spelling: `public`, `internal` or `admin`.
    pub fn as_str(self) -> &'static str {
        match self {
            Interface::Public => "public",
            Interface::Internal => "internal",
            Interface::Admin => "admin",
        }
    }

    fn parse(text: &str) -> Option<Interface> {
        // keystoneauth accepts the v2 catalog's `publicURL` spellings too.
        match text.strip_suffix("URL").unwrap_or(text) {
            "public" => Some(Interface::Public),
            "internal" => Some(Interface::Internal),
            "admin" => Some(Interface::Admin),
            _ => None,
        }
    }
}

impl fmt::Display for Interface {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The cloud to use when a command names none, as openstacksdk picks it: `$OS_CLOUD`, else the
/// cloud of `OS_*` variables when they make one, else the only cloud clouds.yaml defines.
pub fn default_cloud(env: &CloudsEnvironment) -> Result<String, CloudsError> {
    if let Some(name) = env.variables.default_cloud() {
        return Ok(name.to_string());
    }
    if env.variables.entry().is_some() {
        return Ok(env.variables.cloud_name().to_string());
    }
    let defined = match read_clouds(env)? {
        Some(files) => files.clouds.keys().cloned().collect(),
        None => Vec::new(),
    };
    match defined.as_slice() {
        [only] => Ok(only.clone()),
        _ => Err(CloudsError::NoDefaultCloud { defined }),
    }
}

/// clouds.yaml with secure.yaml merged over it, as found.
struct CloudsFiles {
    path: PathBuf,
    searched: Vec<SearchedFile>,
    secure_path: Option<PathBuf>,
    /// The secure file's `clouds` mapping, before the merge (to tell which file a value came from).
    secure_clouds: Map<String, Value>,
    /// `clouds` of clouds.yaml before the merge.
    own_clouds: Map<String, Value>,
    /// `clouds` after the merge.
    clouds: Map<String, Value>,
}

/// Reads clouds.yaml and secure.yaml; `None` when there is no clouds.yaml.
fn read_clouds(env: &CloudsEnvironment) -> Result<Option<CloudsFiles>, CloudsError> {
    let clouds_search = search(env, FileKind::Clouds)?;
    let Some((path, text)) = clouds_search.found else {
        return Ok(None);
    };
    let mut document = parse_document(&path, &text)?;
    let own_clouds = clouds_of(&document);

    // The secure file is searched on its own, not next to the clouds.yaml that won: same
    // folders, same order, as openstacksdk does.
    let secure_search = search(env, FileKind::Secure)?;
    let mut secure_path = None;
    let mut secure_clouds = Map::new();
    if let Some((secure, text)) = secure_search.found {
        let overlay = parse_document(&secure, &text)?;
        secure_clouds = clouds_of(&overlay);
        merge_into(&mut document, overlay);
        secure_path = Some(secure);
    }
    Ok(Some(CloudsFiles {
        path,
        searched: clouds_search.searched,
        secure_path,
        secure_clouds,
        own_clouds,
        clouds: clouds_of(&document),
    }))
}

/// A document's `clouds` (parse_document let through only mappings and nulls for it).
fn clouds_of(document: &Map<String, Value>) -> Map<String, Value> {
    match document.get("clouds") {
        Some(Value::Object(clouds)) => clouds.clone(),
        _ => Map::new(),
    }
}

/// Loads the cloud named `cloud_name`, as `openstack --os-cloud <cloud_name>` would.
pub fn load_cloud(env: &CloudsEnvironment, cloud_name: &str) -> Result<CloudConfig, CloudsError> {
    let files = read_clouds(env)?;
    let environment_cloud = env.variables.cloud_name();
    if let Some(files) = &files
        && files.clouds.contains_key(environment_cloud)
    {
        return Err(CloudsError::EnvironmentCloudName {
            file: files.path.clone(),
            name: environment_cloud.to_string(),
        });
    }
    if cloud_name == environment_cloud
        && let Some(entry) = env.variables.entry()
    {
        let origin = Origin::Environment;
        let layers = vec![Layer {
            origin: origin.clone(),
            prefix: None,
            entry: entry.clone(),
        }];
        return finish(env, cloud_name, origin, None, layers, entry, None);
    }
    let Some(files) = files else {
        return Err(CloudsError::NoCloudsFile {
            searched: search(env, FileKind::Clouds)?.searched,
            environment_cloud: environment_cloud.to_string(),
        });
    };
    let mut entry = match files.clouds.get(cloud_name) {
        None => {
            return Err(CloudsError::UnknownCloud(Box::new(UnknownCloud {
                cloud: cloud_name.to_string(),
                defined_in_ignored: defined_in_ignored(&files.searched, cloud_name),
                file: files.path,
                secure_file: files.secure_path,
                defined: files.clouds.keys().cloned().collect(),
                searched: files.searched,
            })));
        }
        Some(Value::Object(entry)) => entry.clone(),
        Some(_) => Map::new(),
    };

    let origin = Origin::File(files.path.clone());
    let prefix = Some(format!("clouds.{cloud_name}"));
    let part = |clouds: &Map<String, Value>| match clouds.get(cloud_name) {
        Some(Value::Object(part)) => part.clone(),
        _ => Map::new(),
    };
    let mut layers = Vec::new();
    if let Some(secure) = &files.secure_path {
        layers.push(Layer {
            origin: Origin::File(secure.clone()),
            prefix: prefix.clone(),
            entry: part(&files.secure_clouds),
        });
    }
    layers.push(Layer {
        origin: origin.clone(),
        prefix,
        entry: part(&files.own_clouds),
    });
    let expanded = profile::expand(env, cloud_name, &origin, &mut entry)?;
    let profile = expanded.map(|expanded| {
        layers.push(Layer {
            origin: Origin::File(expanded.profile.file.clone()),
            prefix: Some(format!("public-clouds.{}", expanded.profile.name)),
            entry: expanded.entry,
        });
        expanded.profile
    });
    finish(
        env,
        cloud_name,
        origin,
        files.secure_path,
        layers,
        entry,
        profile,
    )
}

fn finish(
    env: &CloudsEnvironment,
    cloud_name: &str,
    origin: Origin,
    secure_path: Option<PathBuf>,
    layers: Vec<Layer>,
    entry: Map<String, Value>,
    profile: Option<VendorProfile>,
) -> Result<CloudConfig, CloudsError> {
    let context = Context {
        cloud: cloud_name,
        origin: &origin,
        secure_file: secure_path.as_deref(),
        layers,
        home_dir: env.home_dir.as_deref(),
        current_dir: &env.current_dir,
    };
    let resolved = resolve(entry, &context)?;
    Ok(CloudConfig {
        name: cloud_name.to_string(),
        auth: resolved.auth,
        region_name: resolved.region_name,
        interface: resolved.interface,
        verify: resolved.verify,
        api_timeout: env.command_timeout.or(resolved.api_timeout),
        services: resolved.services,
        unused_keys: resolved.unused_keys,
        source: origin.clone(),
        secure_source: secure_path.clone(),
        profile,
    })
}

fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// A type name for error messages: values are never quoted, since they may be secrets.
fn describe(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

/// One source of an entry's settings: secure.yaml's part of it, the entry itself, or the vendor
/// profile under it.
struct Layer {
    origin: Origin,
    /// The path of the entry from the top of its file (`clouds.site-a`); `None` for variables.
    prefix: Option<String>,
    entry: Map<String, Value>,
}

impl Layer {
    fn sets(&self, key: &str) -> bool {
        let mut segments = key.split('.');
        let mut value = segments.next().and_then(|first| self.entry.get(first));
        for segment in segments {
            value = value.and_then(|inner| inner.get(segment));
        }
        value.is_some_and(|value| !value.is_null())
    }
}

struct Context<'a> {
    cloud: &'a str,
    /// Where the entry is: clouds.yaml, or the environment.
    origin: &'a Origin,
    /// The secure.yaml merged over it, for hints.
    secure_file: Option<&'a Path>,
    /// Where its settings came from, the one that wins first.
    layers: Vec<Layer>,
    home_dir: Option<&'a Path>,
    current_dir: &'a Path,
}

impl Context<'_> {
    fn layer(&self, key: &str) -> Option<&Layer> {
        self.layers.iter().find(|layer| layer.sets(key))
    }

    /// Where `key` (a path inside the cloud entry: `auth.password`) came from: the first layer
    /// that sets it (secure.yaml's values win the merge, the profile's lose it).
    fn origin(&self, key: &str) -> &Origin {
        self.layer(key)
            .map(|layer| &layer.origin)
            .unwrap_or(self.origin)
    }

    /// How the operator finds `key`: `` `clouds.site-a.verify` ``, `` `OS_VERIFY` ``.
    fn what(&self, key: &str) -> String {
        match self.layer(key) {
            Some(Layer {
                prefix: Some(prefix),
                ..
            }) => format!("`{prefix}.{key}`"),
            Some(Layer { prefix: None, .. }) => Origin::Environment.setting(key),
            None => self.origin.setting_in(self.cloud, key),
        }
    }

    fn invalid(&self, key: &str, expected: &'static str, found: String) -> CloudsError {
        CloudsError::InvalidValue {
            file: self.origin(key).clone(),
            what: self.what(key),
            expected,
            found,
        }
    }

    fn string(&self, value: Option<&Value>, key: &str) -> Result<Option<String>, CloudsError> {
        match value {
            // Python's truthiness: openstacksdk treats `""` like an absent key.
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) if text.is_empty() => Ok(None),
            Some(Value::String(text)) => Ok(Some(text.clone())),
            Some(Value::Number(number)) => Ok(Some(number.to_string())),
            Some(other) => Err(self.invalid(key, "a string", describe(other).to_string())),
        }
    }

    /// A boolean, or the strings `true` and `false` in any case (what `OS_INSECURE` holds, and
    /// what openstacksdk's `get_boolean` reads as such; any other string it reads as false,
    /// which protector refuses to guess at).
    fn boolean(&self, value: Option<&Value>, key: &str) -> Result<Option<bool>, CloudsError> {
        match value {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(flag)) => Ok(Some(*flag)),
            Some(Value::String(text)) if text.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(Value::String(text)) if text.eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(other) => Err(self.invalid(key, "true or false", describe(other).to_string())),
        }
    }
}

struct Resolved {
    auth: Auth,
    region_name: Option<String>,
    interface: Interface,
    verify: Verify,
    api_timeout: Option<Duration>,
    services: BTreeMap<Service, ServiceSettings>,
    unused_keys: Vec<String>,
}

fn resolve(mut entry: Map<String, Value>, context: &Context<'_>) -> Result<Resolved, CloudsError> {
    let region_name = merge::select_region(&mut entry, context)?;
    let auth = merge::fix_legacy(&mut entry, context)?;

    // Mistyped settings are reported before missing credentials, so an operator fixing errors
    // one at a time sees the same order whatever auth the entry uses.
    let interface = match context.string(entry.get("interface"), "interface")? {
        None => Interface::Public,
        Some(text) => Interface::parse(&text).ok_or_else(|| {
            context.invalid(
                "interface",
                "public, internal or admin",
                format!("`{text}`"),
            )
        })?,
    };
    let verify = tls::verification(&entry, context)?;
    tls::refuse_client_certificate(&entry, context)?;
    let api_timeout = services::api_timeout(&entry, context)?;
    let services = services::service_settings(&entry, context)?;
    services::refuse_auth_options(&auth, &entry, context)?;
    let unused_keys = services::unused_keys(&entry);
    let auth = auth::authentication(&auth, &entry, context)?;

    Ok(Resolved {
        auth,
        region_name,
        interface,
        verify,
        api_timeout,
        services,
        unused_keys,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clients::clouds::testing::*;

    #[test]
    fn a_full_password_cloud() {
        let machine = Machine::new();
        let config = machine
            .load(
                "site-a",
                "clouds:\n  site-a:\n    auth:\n      auth_url: http://127.0.0.1:5000/v3\n      \
                 username: admin\n      password: s3cret\n      project_name: admin\n      \
                 user_domain_name: Users\n      project_domain_id: default\n    region_name: \
                 RegionOne\n    interface: internal\n    identity_api_version: 3\n    verify: \
                 false\n    vendor_hook: ignored\n",
            )
            .unwrap();
        assert_eq!(
            config,
            CloudConfig {
                name: "site-a".to_string(),
                auth: Auth::Password {
                    auth_url: "http://127.0.0.1:5000/v3".to_string(),
                    user: named_user("admin", domain_name("Users")),
                    password: Secret::new("s3cret"),
                    scope: named_project("admin", DomainRef::Id("default".to_string())),
                },
                region_name: Some("RegionOne".to_string()),
                interface: Interface::Internal,
                verify: Verify::Off {
                    setting: "verify: false",
                    file: Origin::File(machine.cwd.join("clouds.yaml")),
                    cacert_unused: false,
                },
                api_timeout: None,
                services: BTreeMap::new(),
                source: Origin::File(machine.cwd.join("clouds.yaml")),
                secure_source: None,
                profile: None,
                unused_keys: vec!["vendor_hook".to_string()],
            }
        );
    }

    #[test]
    fn ids_win_over_names_and_a_missing_project_means_unscoped() {
        let machine = Machine::new();
        let config = machine
            .load(
                "site-a",
                "clouds:\n  site-a:\n    auth:\n      auth_url: https://a\n      user_id: u-1\n      \
                 username: admin\n      password: x\n",
            )
            .unwrap();
        let (user, _, scope) = password_parts(&config);
        assert_eq!(user, &UserRef::Id("u-1".to_string()));
        assert_eq!(scope, &Scope::Unscoped);
        assert_eq!(config.interface, Interface::Public);
        assert_eq!(config.verify, Verify::System);
    }

    #[test]
    fn interface_accepts_the_url_suffix_and_rejects_anything_else() {
        let machine = Machine::new();
        let text = format!("{}    interface: internalURL\n", site_a("https://a"));
        assert_eq!(
            machine.load("site-a", &text).unwrap().interface,
            Interface::Internal
        );

        let text = format!("{}    interface: private\n", site_a("https://a"));
        let error = machine.error("site-a", &text);
        assert_eq!(
            error.to_string(),
            format!(
                "{}: `clouds.site-a.interface` must be public, internal or admin, found `private`",
                display(&machine.cwd.join("clouds.yaml"))
            )
        );
    }

    #[test]
    fn values_of_the_wrong_type() {
        let (message, hint) = failure("    insecure: no\n");
        assert_eq!(
            message,
            "FILE: `clouds.site-a.insecure` must be true or false, found a string"
        );
        assert!(hint.contains("yes/no"), "{hint}");

        let (message, _) = failure("    auth: https://a\n");
        assert_eq!(
            message,
            "FILE: `clouds.site-a.auth` must be a mapping, found a string"
        );

        let (message, _) = failure("    regions:\n      - name: r\n        valeus: {}\n");
        assert_eq!(
            message,
            "FILE: `clouds.site-a.regions[0]` must be a mapping of only `name` and `values`, found \
             `valeus`"
        );

        let (message, _) = failure("    regions:\n      - values: {}\n");
        assert_eq!(
            message,
            "FILE: `clouds.site-a.regions[0].name` must be a region name, found nothing"
        );

        let machine = Machine::new();
        let error = machine.error("site-a", "clouds: [site-a]\n");
        assert!(
            error.to_string().ends_with(
                ": `clouds` must be a mapping of cloud names to their settings, found a list"
            ),
            "{error}"
        );
        let error = machine.error("site-a", "# nothing yet\n");
        assert!(
            error.to_string().ends_with(
                ": the document must be a mapping with a `clouds` key, found an empty document"
            ),
            "{error}"
        );
    }

    #[test]
    fn yaml_syntax_errors_name_file_line_and_column() {
        let machine = Machine::new();
        let error = machine.error("site-a", "clouds:\n  site-a:\n    auth: [\n");
        let file = display(&machine.cwd.join("clouds.yaml"));
        let text = error.to_string();
        assert!(text.starts_with(&format!("{file}:3:")), "{text}");
        let CloudsError::Yaml { line, column, .. } = error else {
            panic!("expected a YAML error: {error:?}");
        };
        assert_eq!((line, column), (3, 11));
    }

    #[test]
    fn the_default_cloud_is_os_cloud_then_the_environments_then_the_only_one() {
        let machine = Machine::new();
        let with = |pairs: &[(&str, &str)]| CloudsEnvironment {
            variables: OsVariables::from_pairs(
                pairs
                    .iter()
                    .map(|(name, value)| (name.to_string(), value.to_string())),
            ),
            ..machine.env()
        };
        let error = default_cloud(&machine.env()).unwrap_err();
        assert_eq!(
            error.to_string(),
            "no cloud named and none to choose: set OS_CLOUD or name one (no clouds.yaml defines \
             any)"
        );
        machine.write(machine.cwd.join("clouds.yaml"), &site_a("https://a"));
        assert_eq!(default_cloud(&machine.env()).unwrap(), "site-a");
        assert_eq!(
            default_cloud(&with(&[("OS_AUTH_URL", "https://k")])).unwrap(),
            "envvars"
        );
        assert_eq!(
            default_cloud(&with(&[
                ("OS_AUTH_URL", "https://k"),
                ("OS_CLOUD", "site-b")
            ]))
            .unwrap(),
            "site-b"
        );
        machine.write(
            machine.cwd.join("clouds.yaml"),
            "clouds:\n  site-a: {}\n  site-b: {}\n",
        );
        let error = default_cloud(&machine.env()).unwrap_err();
        assert!(
            error
                .to_string()
                .ends_with("(clouds.yaml defines site-a, site-b)"),
            "{error}"
        );
        assert_eq!(
            error.hint().unwrap(),
            "name the cloud on the command line, or set OS_CLOUD to it"
        );
    }
}
