//! Finds and reads OpenStack `clouds.yaml` the way openstacksdk (and os-client-config before it)
//! does, so the file an operator already uses with the `openstack` CLI works unchanged.
//!
//! This module owns the search for `clouds.yaml` and `secure.yaml`, the deep merge of the
//! second over the first, openstacksdk's fix-ups of legacy spellings (dashed keys, `tenant_*`,
//! top-level auth keys, `domain_*` shared by user and project, `regions`, `endpoint_type`),
//! its TLS settings (`verify`, `insecure`, `cacert`, as [`Verify`] says), and the validation of
//! the two kinds of Keystone v3 authentication protector supports: password and application
//! credential. It never talks to Keystone: a [`CloudConfig`] is everything a Keystone client
//! needs to ask for a token.
//!
//! Where openstacksdk is silent or lenient, this module is strict on purpose, because a DR
//! runbook is the wrong moment to discover a typo: `OS_CLIENT_CONFIG_FILE` and
//! `OS_CLIENT_SECURE_FILE` name the only file read (openstacksdk falls back to searching when
//! they point nowhere), a file that is not YAML is an error (openstacksdk logs and skips it), and
//! missing credentials are reported now rather than by Keystone later. A relative `cacert` is
//! relative to the folder of the file that sets it (openstacksdk: the working directory), so a
//! clouds.yaml and its CA can move together. A file is read bounded ([`CLOUDS_FILE_LIMIT`]).
//! Refused rather than ignored: `cert` and `key` (a TLS client certificate, which protector
//! does not present: ignoring them would turn a cloud that asks for one into an unexplained
//! handshake failure). Not read: vendor profiles (`profile:`), `clouds-public.yaml`,
//! `clouds.json`, XDG and macOS config folders, and clouds made of `OS_*` environment
//! variables.
//!
//! The parts: `search` finds the files, `merge` reads and merges them and fixes legacy
//! spellings, `auth` reads the credentials, `tls` the TLS settings, `error` says what is wrong.

mod auth;
mod error;
mod merge;
mod search;
#[cfg(test)]
mod testing;
mod tls;

use std::fmt;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

pub use auth::{ApplicationCredentialRef, Auth, DomainRef, ProjectRef, Scope, Secret, UserRef};
pub use error::{CloudsError, UnknownCloud};
pub use search::{CLOUDS_FILE_LIMIT, CloudsEnvironment, FileStatus, SearchedFile};
pub use tls::Verify;

use merge::{merge_into, parse_document};
use search::{FileKind, defined_in_ignored, search};

/// One cloud of clouds.yaml, resolved and checked: what a Keystone client needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloudConfig {
    /// The entry's name under `clouds:`.
    pub name: String,
    pub auth: Auth,
    pub region_name: Option<String>,
    /// Which endpoints of the service catalog to use.
    pub interface: Interface,
    /// How the services' TLS certificates are checked.
    pub verify: Verify,
    /// The clouds.yaml the entry came from.
    pub source: PathBuf,
    /// The secure.yaml merged over it, if one was found.
    pub secure_source: Option<PathBuf>,
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
            "TLS certificates of {site} are not verified (`{setting}` for cloud `{}` in {}{}): whoever can intercept its traffic can pose as its services and read the credentials protector sends; trust its CA with `cacert: <PEM file>` instead",
            self.name,
            file.display(),
            if *cacert_unused {
                "; its `cacert` goes unused"
            } else {
                ""
            },
        ))
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

/// Loads the cloud named `cloud_name`, as `openstack --os-cloud <cloud_name>` would.
pub fn load_cloud(env: &CloudsEnvironment, cloud_name: &str) -> Result<CloudConfig, CloudsError> {
    let clouds_search = search(env, FileKind::Clouds)?;
    let Some((clouds_path, clouds_text)) = clouds_search.found else {
        return Err(CloudsError::NoCloudsFile {
            searched: clouds_search.searched,
        });
    };
    let mut document = parse_document(&clouds_path, &clouds_text)?;

    // The secure file is searched on its own, not next to the clouds.yaml that won: same
    // folders, same order, as openstacksdk does.
    let secure_search = search(env, FileKind::Secure)?;
    let mut secure_path = None;
    let mut secure_entry = None;
    if let Some((path, text)) = secure_search.found {
        let secure = parse_document(&path, &text)?;
        // Kept to tell which file a bad value came from.
        if let Some(Value::Object(entry)) = secure.get("clouds").and_then(|c| c.get(cloud_name)) {
            secure_entry = Some(entry.clone());
        }
        merge_into(&mut document, secure);
        secure_path = Some(path);
    }

    // parse_document let through only mappings and nulls for `clouds` and its entries.
    let clouds = match document.remove("clouds") {
        Some(Value::Object(clouds)) => clouds,
        _ => Map::new(),
    };
    let entry = match clouds.get(cloud_name) {
        None => {
            return Err(CloudsError::UnknownCloud(Box::new(UnknownCloud {
                cloud: cloud_name.to_string(),
                defined_in_ignored: defined_in_ignored(&clouds_search.searched, cloud_name),
                file: clouds_path,
                secure_file: secure_path,
                defined: clouds.keys().cloned().collect(),
                searched: clouds_search.searched,
            })));
        }
        Some(Value::Object(entry)) => entry.clone(),
        Some(_) => Map::new(),
    };

    let context = Context {
        cloud: cloud_name,
        file: &clouds_path,
        secure_file: secure_path.as_deref(),
        secure_entry: secure_entry.as_ref(),
        home_dir: env.home_dir.as_deref(),
    };
    let resolved = resolve(entry, &context)?;
    Ok(CloudConfig {
        name: cloud_name.to_string(),
        auth: resolved.auth,
        region_name: resolved.region_name,
        interface: resolved.interface,
        verify: resolved.verify,
        source: clouds_path,
        secure_source: secure_path,
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

struct Context<'a> {
    cloud: &'a str,
    file: &'a Path,
    secure_file: Option<&'a Path>,
    /// This cloud's entry in the secure file, before the merge.
    secure_entry: Option<&'a Map<String, Value>>,
    home_dir: Option<&'a Path>,
}

impl Context<'_> {
    /// The file `key` (a path inside the cloud entry: `auth.password`) came from: the secure
    /// file when it sets the key, since its values win the merge.
    fn origin(&self, key: &str) -> &Path {
        let in_secure = self.secure_entry.is_some_and(|entry| {
            let mut segments = key.split('.');
            let mut value = segments.next().and_then(|first| entry.get(first));
            for segment in segments {
                value = value.and_then(|inner| inner.get(segment));
            }
            value.is_some_and(|value| !value.is_null())
        });
        match self.secure_file {
            Some(secure) if in_secure => secure,
            _ => self.file,
        }
    }

    fn invalid(&self, key: &str, expected: &'static str, found: String) -> CloudsError {
        CloudsError::InvalidValue {
            file: self.origin(key).to_path_buf(),
            what: format!("`clouds.{}.{key}`", self.cloud),
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

    fn boolean(&self, value: Option<&Value>, key: &str) -> Result<Option<bool>, CloudsError> {
        match value {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(flag)) => Ok(Some(*flag)),
            Some(other) => Err(self.invalid(key, "true or false", describe(other).to_string())),
        }
    }
}

struct Resolved {
    auth: Auth,
    region_name: Option<String>,
    interface: Interface,
    verify: Verify,
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
    let auth = auth::authentication(&auth, &entry, context)?;

    Ok(Resolved {
        auth,
        region_name,
        interface,
        verify,
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
                    file: machine.cwd.join("clouds.yaml"),
                    cacert_unused: false,
                },
                source: machine.cwd.join("clouds.yaml"),
                secure_source: None,
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
}
