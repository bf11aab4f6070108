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

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::http::Trust;
use crate::spec::files::{self, FileError};
use crate::yaml;

/// The largest clouds.yaml or secure.yaml protector reads: hundreds of clouds take a few KiB.
pub const CLOUDS_FILE_LIMIT: u64 = 4 * 1024 * 1024;

/// What `verify` may be, as written in an error.
const VERIFY_VALUES: &str = "true, false or the path of a CA bundle";

/// The auth types protector can authenticate with, as written in an error.
const SUPPORTED_AUTH_TYPES: &str = "password, v3password, v3applicationcredential";

/// Where to look for clouds.yaml: the process's environment captured in one value, so tests build
/// one from temporary folders instead of changing the real environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloudsEnvironment {
    /// `$OS_CLIENT_CONFIG_FILE`: when set, the only clouds.yaml read.
    pub os_client_config_file: Option<PathBuf>,
    /// `$OS_CLIENT_SECURE_FILE`: when set, the only secure.yaml read.
    pub os_client_secure_file: Option<PathBuf>,
    /// Searched first; relative paths in the two variables above are relative to it.
    pub current_dir: PathBuf,
    /// `$HOME`: `~/.config/openstack` is searched second, and a `cacert` of `~/...` expands here.
    pub home_dir: Option<PathBuf>,
    /// Searched last, in order: `/etc/openstack` for a real process.
    pub system_config_dirs: Vec<PathBuf>,
}

impl CloudsEnvironment {
    /// The environment of this process: `OS_CLIENT_CONFIG_FILE`, `OS_CLIENT_SECURE_FILE`, the
    /// working directory, `HOME`, and `/etc/openstack`.
    pub fn from_process() -> Self {
        // openstacksdk treats an empty variable as unset (`if config_file_override:`).
        fn path_from_var(name: &str) -> Option<PathBuf> {
            std::env::var_os(name)
                .filter(|value| !value.is_empty())
                .map(PathBuf::from)
        }
        CloudsEnvironment {
            os_client_config_file: path_from_var("OS_CLIENT_CONFIG_FILE"),
            os_client_secure_file: path_from_var("OS_CLIENT_SECURE_FILE"),
            current_dir: std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")),
            home_dir: path_from_var("HOME"),
            system_config_dirs: vec![PathBuf::from("/etc/openstack")],
        }
    }

    fn search_dirs(&self) -> Vec<PathBuf> {
        let mut dirs = vec![self.current_dir.clone()];
        if let Some(home) = &self.home_dir {
            dirs.push(home.join(".config").join("openstack"));
        }
        dirs.extend(self.system_config_dirs.iter().cloned());
        let mut unique: Vec<PathBuf> = Vec::with_capacity(dirs.len());
        for dir in dirs {
            if !unique.contains(&dir) {
                unique.push(dir);
            }
        }
        unique
    }
}

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

/// How a cloud's TLS certificates are checked: openstacksdk's `get_requests_verify_args`.
/// `insecure: true` wins, then `verify: false`, then `cacert`, then a `verify` naming a CA
/// bundle (keystoneauth takes a string `verify` as one); else the system's CAs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verify {
    /// Against the system's CAs.
    System,
    /// Against only the CAs of this PEM bundle, as requests does with `verify=PATH`.
    Ca(PathBuf),
    /// Not at all.
    Off {
        /// What said so: `verify: false` or `insecure: true`.
        setting: &'static str,
        /// The file that says so (clouds.yaml, or secure.yaml merged over it).
        file: PathBuf,
        /// A `cacert` is set too, and goes unused (openstacksdk warns about it as well).
        cacert_unused: bool,
    },
}

impl Verify {
    /// Whose certificates the HTTP clients of the cloud accept.
    pub fn trust(&self) -> Trust {
        match self {
            Verify::System => Trust::System,
            Verify::Ca(bundle) => Trust::Only(bundle.clone()),
            Verify::Off { .. } => Trust::Off,
        }
    }
}

/// How to authenticate to Keystone v3. Where Keystone accepts an id or a name, only the one
/// Keystone would use is kept: an id wins over a name, as in keystoneauth.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    /// `auth_type: password` or `v3password`.
    Password {
        auth_url: String,
        user: UserRef,
        password: Secret,
        scope: Scope,
    },
    /// `auth_type: v3applicationcredential`. The credential fixes the project, so no scope.
    ApplicationCredential {
        auth_url: String,
        credential: ApplicationCredentialRef,
        secret: Secret,
    },
}

impl Auth {
    /// The Keystone endpoint, as written (the Keystone client decides about a `/v3` suffix).
    pub fn auth_url(&self) -> &str {
        match self {
            Auth::Password { auth_url, .. } | Auth::ApplicationCredential { auth_url, .. } => {
                auth_url
            }
        }
    }
}

/// A Keystone user: its id, or its name within a domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserRef {
    Id(String),
    Name { name: String, domain: DomainRef },
}

/// A Keystone domain. When a file names none, keystoneauth-based tools end up in the domain
/// named `Default`, and so does protector ([`DomainRef::default`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DomainRef {
    Id(String),
    Name(String),
}

impl Default for DomainRef {
    fn default() -> Self {
        DomainRef::Name("Default".to_string())
    }
}

/// What a password token is scoped to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    Project(ProjectRef),
    /// `domain_id`/`domain_name` without any project: a domain-scoped token.
    Domain(DomainRef),
    /// No project and no domain: a token good only for discovering what the user may access.
    Unscoped,
}

/// A Keystone project: its id, or its name within a domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProjectRef {
    Id(String),
    Name { name: String, domain: DomainRef },
}

/// An application credential: its id, or its name with its owner (names are unique per user).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApplicationCredentialRef {
    Id(String),
    Name { name: String, user: UserRef },
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

/// A password or application-credential secret. It prints as `********` in `{}` and `{:?}`, so
/// it cannot leak into logs, errors or debug output, and it is not `Serialize`:
/// [`Secret::expose`] is the one way to read it, where it is sent to Keystone.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret itself, for the request that needs it and nothing else.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("********")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("********")
    }
}

/// A file the search looked at, and what it found there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchedFile {
    pub path: PathBuf,
    pub status: FileStatus,
}

/// What the search found at one candidate path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileStatus {
    Missing,
    /// There, but this user may not read it; skipped, as openstacksdk does.
    Unreadable,
    /// The file that was read.
    Used,
    /// There, but not read: an earlier file in the search order won.
    Ignored,
}

impl fmt::Display for SearchedFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let status = match self.status {
            FileStatus::Missing => "missing",
            FileStatus::Unreadable => "unreadable, skipped",
            FileStatus::Used => "used",
            FileStatus::Ignored => "ignored: an earlier file wins",
        };
        write!(f, "{} ({status})", self.path.display())
    }
}

/// The cloud asked for is in none of the files read: what was searched and what was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownCloud {
    pub cloud: String,
    /// The clouds.yaml read.
    pub file: PathBuf,
    /// The secure.yaml merged over it, if any.
    pub secure_file: Option<PathBuf>,
    /// The clouds these files define, in file order.
    pub defined: Vec<String>,
    pub searched: Vec<SearchedFile>,
    /// A later file in the search order that does define the cloud, but was not read.
    pub defined_in_ignored: Option<PathBuf>,
}

impl fmt::Display for UnknownCloud {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let files = match &self.secure_file {
            Some(secure) => format!("{} and {}", self.file.display(), secure.display()),
            None => self.file.display().to_string(),
        };
        let verb = if self.secure_file.is_some() {
            "define"
        } else {
            "defines"
        };
        let defined = if self.defined.is_empty() {
            format!("{verb} no clouds")
        } else {
            let names: Vec<String> = self
                .defined
                .iter()
                .map(|name| format!("`{name}`"))
                .collect();
            format!("{verb} only {}", names.join(", "))
        };
        write!(
            f,
            "cloud `{}` not found: {files} {defined}; searched in order: {}",
            self.cloud,
            list(&self.searched)
        )
    }
}

/// Why a cloud could not be loaded. Messages are one line, name the file, and never contain a
/// secret; [`CloudsError::hint`] says what to try next.
#[derive(Debug, thiserror::Error)]
pub enum CloudsError {
    #[error("{variable} is set to {path}, which does not exist")]
    ExplicitFileMissing {
        variable: &'static str,
        path: PathBuf,
    },

    #[error("no clouds.yaml found; searched in order: {}", list(searched))]
    NoCloudsFile { searched: Vec<SearchedFile> },

    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: FileError,
    },

    #[error("{}: {message}", at(path, *line, *column))]
    Yaml {
        path: PathBuf,
        /// 1-based; 0 when the parser did not say.
        line: usize,
        column: usize,
        message: String,
    },

    /// A value of the wrong type or outside its allowed values. `what` is the dotted path from
    /// the top of the file (`` `clouds.site-a.verify` ``) or a description (`the document`).
    #[error("{file}: {what} must be {expected}, found {found}")]
    InvalidValue {
        file: PathBuf,
        what: String,
        expected: &'static str,
        found: String,
    },

    /// Boxed: it is the largest variant, and every `Result` here would carry its size.
    #[error("{0}")]
    UnknownCloud(Box<UnknownCloud>),

    #[error(
        "cloud `{cloud}` in {file} uses auth_type `{auth_type}`, which protector does not support (supported: {SUPPORTED_AUTH_TYPES})"
    )]
    UnsupportedAuthType {
        cloud: String,
        file: PathBuf,
        auth_type: String,
    },

    #[error("cloud `{cloud}` in {file} has no `auth.auth_url`")]
    MissingAuthUrl {
        cloud: String,
        file: PathBuf,
        /// The vendor profile the entry names, which openstacksdk would take the URL from.
        profile: Option<String>,
    },

    #[error(
        "cloud `{cloud}` in {file} uses password auth but sets neither `auth.username` nor `auth.user_id`"
    )]
    MissingUser { cloud: String, file: PathBuf },

    #[error("cloud `{cloud}` in {file} uses password auth but has no `auth.password`")]
    MissingPassword {
        cloud: String,
        file: PathBuf,
        secure_file: Option<PathBuf>,
    },

    #[error(
        "cloud `{cloud}` in {file} uses application-credential auth but sets neither `auth.application_credential_id` nor `auth.application_credential_name`"
    )]
    MissingApplicationCredential { cloud: String, file: PathBuf },

    #[error(
        "cloud `{cloud}` in {file} uses application-credential auth but has no `auth.application_credential_secret`"
    )]
    MissingApplicationCredentialSecret {
        cloud: String,
        file: PathBuf,
        secure_file: Option<PathBuf>,
    },

    #[error(
        "cloud `{cloud}` in {file} names its application credential (`auth.application_credential_name`) but not its owner (`auth.username` or `auth.user_id`)"
    )]
    ApplicationCredentialNameWithoutUser { cloud: String, file: PathBuf },

    /// A CA bundle named by `key` (`cacert`, or `verify` as a path) is not there.
    #[error("cloud `{cloud}` in {file}: {key} {path} does not exist")]
    CaBundleNotFound {
        cloud: String,
        file: PathBuf,
        key: &'static str,
        path: PathBuf,
    },

    #[error(
        "cloud `{cloud}` in {file} sets `{key}`, a TLS client certificate, which protector does not present"
    )]
    ClientCertificate {
        cloud: String,
        file: PathBuf,
        key: &'static str,
    },
}

impl CloudsError {
    /// The next thing to try, for the `hint:` line under the error.
    pub fn hint(&self) -> Option<String> {
        let hint = match self {
            CloudsError::ExplicitFileMissing { variable, .. } => {
                if *variable == "OS_CLIENT_CONFIG_FILE" {
                    format!(
                        "point {variable} at an existing clouds.yaml, or unset it to search \
                         ./clouds.yaml, ~/.config/openstack/clouds.yaml and /etc/openstack/clouds.yaml"
                    )
                } else {
                    format!(
                        "point {variable} at an existing secure.yaml, or unset it to search for \
                         secure.yaml in the folders searched for clouds.yaml"
                    )
                }
            }
            CloudsError::NoCloudsFile { .. } => "create ~/.config/openstack/clouds.yaml (Horizon \
                 offers one under API Access > Download OpenStack RC File), or set \
                 OS_CLIENT_CONFIG_FILE to the clouds.yaml you use with the openstack CLI"
                .to_string(),
            CloudsError::Read { path, .. } => format!(
                "check that {} is the file you mean: UTF-8 text of at most {}, readable by the \
                 user running protector",
                path.display(),
                files::bytes(CLOUDS_FILE_LIMIT)
            ),
            CloudsError::Yaml { path, .. } => format!(
                "fix the YAML in {} at the line and column shown (openstacksdk would skip this \
                 file with a warning and read the next one found)",
                path.display()
            ),
            CloudsError::InvalidValue { expected, .. }
                if *expected == "true or false" || *expected == VERIFY_VALUES =>
            {
                "write `true` or `false` (yes/no/on/off are strings here, not booleans)".to_string()
            }
            CloudsError::InvalidValue { what, expected, .. } => {
                format!("set {what} to {expected}, or remove it")
            }
            CloudsError::UnknownCloud(unknown) => {
                let UnknownCloud {
                    cloud,
                    file,
                    searched,
                    defined_in_ignored,
                    ..
                } = unknown.as_ref();
                match defined_in_ignored {
                    Some(other) => format!(
                        "`{cloud}` is defined in {}, but {} comes first in the search order and is \
                         the only file read: set OS_CLIENT_CONFIG_FILE={}, or move the entry",
                        other.display(),
                        file.display(),
                        other.display()
                    ),
                    // Only OS_CLIENT_CONFIG_FILE makes a search of a single file.
                    None if searched.len() == 1 => format!(
                        "add a `{cloud}` entry under `clouds:` in {}, or point OS_CLIENT_CONFIG_FILE \
                         at the clouds.yaml that has it",
                        file.display()
                    ),
                    None => format!(
                        "set OS_CLIENT_CONFIG_FILE to your clouds.yaml, or add a `{cloud}` entry \
                         under `clouds:` in {}",
                        file.display()
                    ),
                }
            }
            CloudsError::UnsupportedAuthType { cloud, .. } => format!(
                "give cloud `{cloud}` `auth_type: v3applicationcredential` (an application \
                 credential suits automation) or `auth_type: password`"
            ),
            CloudsError::MissingAuthUrl {
                cloud,
                profile: Some(profile),
                ..
            } => format!(
                "protector does not read vendor profiles (`profile: {profile}`): copy the \
                 Keystone URL into `clouds.{cloud}.auth.auth_url`"
            ),
            CloudsError::MissingAuthUrl { cloud, .. } => format!(
                "add the Keystone URL under `clouds.{cloud}.auth`, e.g. \
                 `auth_url: https://keystone.example.com:5000/v3` (`openstack catalog show identity` \
                 shows it)"
            ),
            CloudsError::MissingUser { cloud, .. } => format!(
                "add `username` (with `user_domain_name` unless the user is in the Default \
                 domain) or `user_id` under `clouds.{cloud}.auth`"
            ),
            CloudsError::MissingPassword {
                cloud, secure_file, ..
            } => secret_hint(cloud, "password", secure_file.as_deref()),
            CloudsError::MissingApplicationCredentialSecret {
                cloud, secure_file, ..
            } => secret_hint(
                cloud,
                "application_credential_secret",
                secure_file.as_deref(),
            ),
            CloudsError::MissingApplicationCredential { cloud, .. } => format!(
                "add `application_credential_id` under `clouds.{cloud}.auth` (`openstack \
                 application credential show NAME` shows it)"
            ),
            CloudsError::ApplicationCredentialNameWithoutUser { cloud, .. } => format!(
                "add the owner's `username` (and `user_domain_name`) or `user_id` under \
                 `clouds.{cloud}.auth`, or identify the credential by `application_credential_id`"
            ),
            CloudsError::CaBundleNotFound { cloud, key, .. } => format!(
                "fix `clouds.{cloud}.{key}` (a relative path is relative to the folder of the \
                 file that sets it), or remove it to trust the system's CAs"
            ),
            CloudsError::ClientCertificate { cloud, .. } => format!(
                "remove `cert` and `key` from `clouds.{cloud}` if its services do not ask for a \
                 client certificate; if they do, protector cannot reach them"
            ),
        };
        Some(hint)
    }
}

fn secret_hint(cloud: &str, key: &str, secure_file: Option<&Path>) -> String {
    match secure_file {
        Some(secure) => format!(
            "add `{key}` under `clouds.{cloud}.auth` in {} (merged over clouds.yaml) or in \
             clouds.yaml itself",
            secure.display()
        ),
        None => format!(
            "add `{key}` under `clouds.{cloud}.auth`, in clouds.yaml or, to keep it out of that \
             file, in a secure.yaml beside it (or named by OS_CLIENT_SECURE_FILE)"
        ),
    }
}

fn list(searched: &[SearchedFile]) -> String {
    let entries: Vec<String> = searched.iter().map(ToString::to_string).collect();
    entries.join(", ")
}

fn at(path: &Path, line: usize, column: usize) -> String {
    if line > 0 {
        format!("{}:{line}:{column}", path.display())
    } else {
        path.display().to_string()
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

#[derive(Clone, Copy)]
enum FileKind {
    Clouds,
    Secure,
}

impl FileKind {
    fn file_names(self) -> [&'static str; 2] {
        match self {
            FileKind::Clouds => ["clouds.yaml", "clouds.yml"],
            FileKind::Secure => ["secure.yaml", "secure.yml"],
        }
    }

    fn variable(self) -> &'static str {
        match self {
            FileKind::Clouds => "OS_CLIENT_CONFIG_FILE",
            FileKind::Secure => "OS_CLIENT_SECURE_FILE",
        }
    }

    fn explicit(self, env: &CloudsEnvironment) -> Option<&Path> {
        match self {
            FileKind::Clouds => env.os_client_config_file.as_deref(),
            FileKind::Secure => env.os_client_secure_file.as_deref(),
        }
    }
}

struct Search {
    found: Option<(PathBuf, String)>,
    searched: Vec<SearchedFile>,
}

fn search(env: &CloudsEnvironment, kind: FileKind) -> Result<Search, CloudsError> {
    if let Some(explicit) = kind.explicit(env) {
        let path = env.current_dir.join(explicit);
        return match read_text(&path) {
            Ok(text) => Ok(Search {
                searched: vec![SearchedFile {
                    path: path.clone(),
                    status: FileStatus::Used,
                }],
                found: Some((path, text)),
            }),
            Err(FileError::Io(error)) if is_missing(&error) => {
                Err(CloudsError::ExplicitFileMissing {
                    variable: kind.variable(),
                    path,
                })
            }
            Err(source) => Err(CloudsError::Read { path, source }),
        };
    }

    let mut found = None;
    let mut searched = Vec::new();
    for dir in env.search_dirs() {
        for name in kind.file_names() {
            let path = dir.join(name);
            let status = if found.is_some() {
                if path.exists() {
                    FileStatus::Ignored
                } else {
                    FileStatus::Missing
                }
            } else {
                match read_text(&path) {
                    Ok(text) => {
                        found = Some((path.clone(), text));
                        FileStatus::Used
                    }
                    Err(FileError::Io(error)) if is_missing(&error) => FileStatus::Missing,
                    // openstacksdk moves on past a file it may not open (a root-only
                    // /etc/openstack/clouds.yaml must not hide ~/.config's from other users).
                    Err(FileError::Io(error))
                        if error.kind() == io::ErrorKind::PermissionDenied =>
                    {
                        FileStatus::Unreadable
                    }
                    Err(source) => return Err(CloudsError::Read { path, source }),
                }
            };
            searched.push(SearchedFile { path, status });
        }
    }
    Ok(Search { found, searched })
}

/// A clouds.yaml or secure.yaml: at most [`CLOUDS_FILE_LIMIT`] bytes of UTF-8 (a path to
/// `/dev/zero` or a disk image ends in an error, not in memory filled).
fn read_text(path: &Path) -> Result<String, FileError> {
    let bytes = files::read_at_most(path, CLOUDS_FILE_LIMIT)?;
    String::from_utf8(bytes).map_err(|_| {
        FileError::Io(io::Error::new(
            io::ErrorKind::InvalidData,
            "it is not UTF-8 text",
        ))
    })
}

/// What Python's `os.path.exists` would call absent.
fn is_missing(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
    )
}

/// Parses a clouds.yaml or secure.yaml and normalizes each cloud entry's keys.
fn parse_document(path: &Path, text: &str) -> Result<Map<String, Value>, CloudsError> {
    let value: Value = yaml::from_str(text).map_err(|error| CloudsError::Yaml {
        path: path.to_path_buf(),
        line: error.span.line,
        column: error.span.column,
        message: error.message,
    })?;
    let mut document = match value {
        Value::Object(document) => document,
        // openstacksdk refuses these too ("is empty or not a valid mapping").
        Value::Null => {
            return Err(CloudsError::InvalidValue {
                file: path.to_path_buf(),
                what: "the document".to_string(),
                expected: "a mapping with a `clouds` key",
                found: "an empty document".to_string(),
            });
        }
        other => {
            return Err(CloudsError::InvalidValue {
                file: path.to_path_buf(),
                what: "the document".to_string(),
                expected: "a mapping with a `clouds` key",
                found: describe(&other).to_string(),
            });
        }
    };
    let clouds = match document.get_mut("clouds") {
        // openstacksdk only warns about a file without `clouds`: it simply defines none.
        None | Some(Value::Null) => return Ok(document),
        Some(Value::Object(clouds)) => clouds,
        Some(other) => {
            return Err(CloudsError::InvalidValue {
                file: path.to_path_buf(),
                what: "`clouds`".to_string(),
                expected: "a mapping of cloud names to their settings",
                found: describe(other).to_string(),
            });
        }
    };
    for (name, entry) in clouds.iter_mut() {
        match entry {
            Value::Null => {}
            // Normalizing each file before merging lets `project-name` in one file and
            // `project_name` in the other meet as one key, with the secure file's value winning.
            Value::Object(map) => *map = normalize_keys(std::mem::take(map)),
            other => {
                return Err(CloudsError::InvalidValue {
                    file: path.to_path_buf(),
                    what: format!("`clouds.{name}`"),
                    expected: "a mapping",
                    found: describe(other).to_string(),
                });
            }
        }
    }
    Ok(document)
}

/// openstacksdk's `normalize_keys`: `-` in keys becomes `_`, and numbers become strings (so
/// `project_id: 1234` is the id "1234"), in nested mappings but not in lists.
fn normalize_keys(map: Map<String, Value>) -> Map<String, Value> {
    map.into_iter()
        .map(|(key, value)| {
            let value = match value {
                Value::Object(inner) => Value::Object(normalize_keys(inner)),
                Value::Number(number) => Value::String(number.to_string()),
                other => other,
            };
            (key.replace('-', "_"), value)
        })
        .collect()
}

/// openstacksdk's `merge_clouds`: mappings merge key by key, anything else in `overlay` wins.
fn merge_into(base: &mut Map<String, Value>, overlay: Map<String, Value>) {
    for (key, value) in overlay {
        match (base.get_mut(&key), value) {
            (Some(Value::Object(existing)), Value::Object(incoming)) => {
                merge_into(existing, incoming)
            }
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

/// The first later file in the search that defines `cloud`, to explain a shadowed entry.
fn defined_in_ignored(searched: &[SearchedFile], cloud: &str) -> Option<PathBuf> {
    searched
        .iter()
        .filter(|file| file.status == FileStatus::Ignored)
        .find(|file| {
            read_text(&file.path)
                .ok()
                .and_then(|text| yaml::from_str::<Value>(&text).ok())
                .and_then(|document| document.get("clouds")?.get(cloud).cloned())
                .is_some()
        })
        .map(|file| file.path.clone())
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

/// Auth keys openstacksdk also accepts at the top of a cloud entry, then moves into `auth`
/// (the top-level value wins), with their legacy spellings in increasing priority.
const MOVED_INTO_AUTH: &[(&str, &[&str])] = &[
    ("domain_id", &["domain_id"]),
    ("domain_name", &["domain_name"]),
    ("user_domain_id", &["user_domain_id"]),
    ("user_domain_name", &["user_domain_name"]),
    ("project_domain_id", &["project_domain_id"]),
    ("project_domain_name", &["project_domain_name"]),
    ("project_id", &["tenant_id", "project_id"]),
    ("project_name", &["tenant_name", "project_name"]),
];

fn resolve(mut entry: Map<String, Value>, context: &Context<'_>) -> Result<Resolved, CloudsError> {
    let region_name = select_region(&mut entry, context)?;

    // openstacksdk renames `endpoint_type` to `interface`, and the legacy key wins.
    if let Some(endpoint_type) = entry.remove("endpoint_type") {
        entry.insert("interface".to_string(), endpoint_type);
    }

    let mut auth = match entry.remove("auth") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(auth)) => auth,
        Some(other) => {
            return Err(context.invalid("auth", "a mapping", describe(&other).to_string()));
        }
    };
    for (target, spellings) in MOVED_INTO_AUTH {
        let mut winner = None;
        for spelling in *spellings {
            let in_auth = auth.remove(*spelling);
            if let Some(value) = context.string(in_auth.as_ref(), &format!("auth.{spelling}"))? {
                winner = Some(value);
            }
            let on_top = entry.remove(*spelling);
            if let Some(value) = context.string(on_top.as_ref(), spelling)? {
                winner = Some(value);
            }
        }
        if let Some(value) = winner {
            auth.insert((*target).to_string(), Value::String(value));
        }
    }
    // openstacksdk's `_handle_domain_id`: with a project, `domain_*` is the default for both the
    // user's and the project's domain, filling only the exact key that is absent (so `domain_id`
    // still fills `user_domain_id` next to an explicit `user_domain_name`, and the id wins).
    // Without a project, `domain_*` stays and scopes the token to that domain.
    if auth.contains_key("project_id") || auth.contains_key("project_name") {
        for (generic, specific) in [
            ("domain_id", ["user_domain_id", "project_domain_id"]),
            ("domain_name", ["user_domain_name", "project_domain_name"]),
        ] {
            if let Some(value) = auth.remove(generic) {
                for key in specific {
                    auth.entry(key).or_insert_with(|| value.clone());
                }
            }
        }
    }

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
    let verify = verification(&entry, context)?;
    for key in ["cert", "key"] {
        if context.string(entry.get(key), key)?.is_some() {
            return Err(CloudsError::ClientCertificate {
                cloud: context.cloud.to_string(),
                file: context.origin(key).to_path_buf(),
                key,
            });
        }
    }
    let options = AuthOptions {
        auth: &auth,
        entry: &entry,
        context,
    };
    let auth_type = context.string(entry.get("auth_type"), "auth_type")?;
    let auth = match auth_type.as_deref() {
        Some("password" | "v3password") => password_auth(&options)?,
        Some("v3applicationcredential") => application_credential_auth(&options)?,
        Some(other) => {
            return Err(CloudsError::UnsupportedAuthType {
                cloud: context.cloud.to_string(),
                file: context.file.to_path_buf(),
                auth_type: other.to_string(),
            });
        }
        None => {
            // openstacksdk defaults to `password`. Picking the application credential when
            // only its keys are present saves writing `auth_type`; with a password present,
            // openstacksdk's choice stands so both tools agree.
            let has_credential = options.get("application_credential_id")?.is_some()
                || options.get("application_credential_name")?.is_some()
                || options.get("application_credential_secret")?.is_some();
            if has_credential && options.get("password")?.is_none() {
                application_credential_auth(&options)?
            } else {
                password_auth(&options)?
            }
        }
    };

    Ok(Resolved {
        auth,
        region_name,
        interface,
        verify,
    })
}

/// The entry's TLS settings, combined as openstacksdk's `get_requests_verify_args` does (see
/// [`Verify`]). A CA bundle that is not there is an error now, not a failed handshake later.
fn verification(entry: &Map<String, Value>, context: &Context<'_>) -> Result<Verify, CloudsError> {
    enum Setting<'a> {
        Flag(bool),
        Bundle(&'a str),
    }
    let insecure = context.boolean(entry.get("insecure"), "insecure")?;
    let verify = match entry.get("verify") {
        None | Some(Value::Null) => Setting::Flag(true),
        Some(Value::Bool(verify)) => Setting::Flag(*verify),
        // PyYAML, so openstacksdk, reads `verify: no` as false: such a word is refused here
        // rather than taken for a path; so is an empty path, which requests reads as false.
        Some(Value::String(text)) if text.is_empty() || is_yaml11_boolean(text) => {
            return Err(context.invalid("verify", VERIFY_VALUES, format!("`{text}`")));
        }
        Some(Value::String(path)) => Setting::Bundle(path),
        Some(other) => {
            return Err(context.invalid("verify", VERIFY_VALUES, describe(other).to_string()));
        }
    };
    let cacert = context.string(entry.get("cacert"), "cacert")?;
    let off = |setting, key| Verify::Off {
        setting,
        file: context.origin(key).to_path_buf(),
        cacert_unused: cacert.is_some(),
    };
    let (key, raw) = match (insecure, verify, &cacert) {
        (Some(true), _, _) => return Ok(off("insecure: true", "insecure")),
        (_, Setting::Flag(false), _) => return Ok(off("verify: false", "verify")),
        (_, _, Some(cacert)) => ("cacert", cacert.as_str()),
        (_, Setting::Bundle(path), None) => ("verify", path),
        (_, Setting::Flag(true), None) => return Ok(Verify::System),
    };
    let path = resolve_path(raw, &parent_dir(context.origin(key)), context.home_dir);
    if !path.exists() {
        return Err(CloudsError::CaBundleNotFound {
            cloud: context.cloud.to_string(),
            file: context.origin(key).to_path_buf(),
            key,
            path,
        });
    }
    Ok(Verify::Ca(path))
}

/// A word YAML 1.1 (PyYAML) reads as a boolean and YAML 1.2 (protector) as a string.
fn is_yaml11_boolean(text: &str) -> bool {
    ["yes", "no", "on", "off", "true", "false"]
        .iter()
        .any(|word| text.eq_ignore_ascii_case(word))
}

/// openstacksdk's region choice when none is asked for: the first of `regions`, else the first
/// of `region_name` (a comma-separated list is deprecated but still read). A region given as a
/// mapping may carry `values` that override the cloud's settings.
fn select_region(
    entry: &mut Map<String, Value>,
    context: &Context<'_>,
) -> Result<Option<String>, CloudsError> {
    let regions = entry.remove("regions");
    let region_name = entry.remove("region_name");
    let (first, key) = match (regions, region_name) {
        (Some(Value::Array(regions)), _) => (regions.into_iter().next(), "regions[0]"),
        (Some(other), _) if !other.is_null() => {
            return Err(context.invalid("regions", "a list", describe(&other).to_string()));
        }
        (_, Some(Value::Array(names))) => (names.into_iter().next(), "region_name[0]"),
        (_, Some(Value::String(names))) => (
            names
                .split(',')
                .next()
                .map(|name| Value::String(name.to_string())),
            "region_name",
        ),
        (_, other) => (other, "region_name"),
    };
    let Some(first) = first else {
        return Ok(None);
    };
    match first {
        Value::Object(mut region) => {
            let name = region.remove("name");
            let values = region.remove("values");
            if let Some(extra) = region.keys().next() {
                return Err(context.invalid(
                    key,
                    "a mapping of only `name` and `values`",
                    format!("`{extra}`"),
                ));
            }
            let Some(name) = context.string(name.as_ref(), &format!("{key}.name"))? else {
                return Err(context.invalid(
                    &format!("{key}.name"),
                    "a region name",
                    "nothing".to_string(),
                ));
            };
            match values {
                None | Some(Value::Null) => {}
                Some(Value::Object(values)) => apply_region_values(entry, normalize_keys(values)),
                Some(other) => {
                    return Err(context.invalid(
                        &format!("{key}.values"),
                        "a mapping",
                        describe(&other).to_string(),
                    ));
                }
            }
            Ok(Some(name))
        }
        other => context.string(Some(&other), key),
    }
}

/// openstacksdk's `_auth_update`: each key replaces the cloud's, except `auth`, which is updated
/// key by key.
fn apply_region_values(entry: &mut Map<String, Value>, values: Map<String, Value>) {
    for (key, value) in values {
        match (key.as_str(), entry.get_mut(&key), value) {
            ("auth", Some(Value::Object(auth)), Value::Object(incoming)) => auth.extend(incoming),
            (_, _, value) => {
                entry.insert(key, value);
            }
        }
    }
}

/// The auth plugin's view of the options: `auth.<key>`, else `<key>` at the top of the entry
/// (openstacksdk's `_validate_auth`).
struct AuthOptions<'a> {
    auth: &'a Map<String, Value>,
    entry: &'a Map<String, Value>,
    context: &'a Context<'a>,
}

impl AuthOptions<'_> {
    fn get(&self, key: &str) -> Result<Option<String>, CloudsError> {
        let in_auth = self
            .context
            .string(self.auth.get(key), &format!("auth.{key}"))?;
        match in_auth {
            Some(value) => Ok(Some(value)),
            None => self.context.string(self.entry.get(key), key),
        }
    }

    fn missing(&self) -> (String, PathBuf) {
        (
            self.context.cloud.to_string(),
            self.context.file.to_path_buf(),
        )
    }

    fn auth_url(&self) -> Result<String, CloudsError> {
        match self.get("auth_url")? {
            Some(url) => Ok(url),
            None => {
                let (cloud, file) = self.missing();
                let profile = match self.entry.get("profile").or(self.entry.get("cloud")) {
                    Some(Value::String(profile)) => Some(profile.clone()),
                    _ => None,
                };
                Err(CloudsError::MissingAuthUrl {
                    cloud,
                    file,
                    profile,
                })
            }
        }
    }

    /// keystoneauth sends the id when there is one; the domain only qualifies a name.
    fn domain(&self, id_key: &str, name_key: &str) -> Result<DomainRef, CloudsError> {
        if let Some(id) = self.get(id_key)? {
            return Ok(DomainRef::Id(id));
        }
        if let Some(name) = self.get(name_key)? {
            return Ok(DomainRef::Name(name));
        }
        // keystoneauth's generic plugins take `default_domain_*` for a domain left unsaid.
        if let Some(id) = self.get("default_domain_id")? {
            return Ok(DomainRef::Id(id));
        }
        if let Some(name) = self.get("default_domain_name")? {
            return Ok(DomainRef::Name(name));
        }
        Ok(DomainRef::default())
    }

    fn user(&self) -> Result<Option<UserRef>, CloudsError> {
        if let Some(id) = self.get("user_id")? {
            return Ok(Some(UserRef::Id(id)));
        }
        match self.get("username")? {
            Some(name) => Ok(Some(UserRef::Name {
                name,
                domain: self.domain("user_domain_id", "user_domain_name")?,
            })),
            None => Ok(None),
        }
    }

    fn scope(&self) -> Result<Scope, CloudsError> {
        if let Some(id) = self.get("domain_id")? {
            return Ok(Scope::Domain(DomainRef::Id(id)));
        }
        if let Some(name) = self.get("domain_name")? {
            return Ok(Scope::Domain(DomainRef::Name(name)));
        }
        if let Some(id) = self.get("project_id")? {
            return Ok(Scope::Project(ProjectRef::Id(id)));
        }
        match self.get("project_name")? {
            Some(name) => Ok(Scope::Project(ProjectRef::Name {
                name,
                domain: self.domain("project_domain_id", "project_domain_name")?,
            })),
            None => Ok(Scope::Unscoped),
        }
    }
}

fn password_auth(options: &AuthOptions<'_>) -> Result<Auth, CloudsError> {
    let auth_url = options.auth_url()?;
    let Some(user) = options.user()? else {
        let (cloud, file) = options.missing();
        return Err(CloudsError::MissingUser { cloud, file });
    };
    let Some(password) = options.get("password")? else {
        let (cloud, file) = options.missing();
        return Err(CloudsError::MissingPassword {
            cloud,
            file,
            secure_file: options.context.secure_file.map(Path::to_path_buf),
        });
    };
    Ok(Auth::Password {
        auth_url,
        user,
        password: Secret(password),
        scope: options.scope()?,
    })
}

fn application_credential_auth(options: &AuthOptions<'_>) -> Result<Auth, CloudsError> {
    let auth_url = options.auth_url()?;
    let Some(secret) = options.get("application_credential_secret")? else {
        let (cloud, file) = options.missing();
        return Err(CloudsError::MissingApplicationCredentialSecret {
            cloud,
            file,
            secure_file: options.context.secure_file.map(Path::to_path_buf),
        });
    };
    let credential = if let Some(id) = options.get("application_credential_id")? {
        ApplicationCredentialRef::Id(id)
    } else if let Some(name) = options.get("application_credential_name")? {
        let Some(user) = options.user()? else {
            let (cloud, file) = options.missing();
            return Err(CloudsError::ApplicationCredentialNameWithoutUser { cloud, file });
        };
        ApplicationCredentialRef::Name { name, user }
    } else {
        let (cloud, file) = options.missing();
        return Err(CloudsError::MissingApplicationCredential { cloud, file });
    };
    Ok(Auth::ApplicationCredential {
        auth_url,
        credential,
        secret: Secret(secret),
    })
}

/// `~/` is the home folder (openstacksdk expands it); a relative path is relative to `base`.
fn resolve_path(raw: &str, base: &Path, home: Option<&Path>) -> PathBuf {
    let expanded = match (raw.strip_prefix('~'), home) {
        (Some(""), Some(home)) => home.to_path_buf(),
        (Some(rest), Some(home)) if rest.starts_with('/') => home.join(&rest[1..]),
        _ => PathBuf::from(raw),
    };
    // `join` keeps an absolute path as it is.
    base.join(expanded)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tempfile::TempDir;

    /// A fake machine: a working folder, a home and a system folder, all under one temp dir.
    struct Machine {
        _root: TempDir,
        cwd: PathBuf,
        home: PathBuf,
        etc: PathBuf,
    }

    impl Machine {
        fn new() -> Self {
            let root = tempfile::tempdir().unwrap();
            let cwd = root.path().join("work");
            let home = root.path().join("home");
            let etc = root.path().join("etc").join("openstack");
            for dir in [&cwd, &home, &etc] {
                std::fs::create_dir_all(dir).unwrap();
            }
            Machine {
                _root: root,
                cwd,
                home,
                etc,
            }
        }

        fn env(&self) -> CloudsEnvironment {
            CloudsEnvironment {
                os_client_config_file: None,
                os_client_secure_file: None,
                current_dir: self.cwd.clone(),
                home_dir: Some(self.home.clone()),
                system_config_dirs: vec![self.etc.clone()],
            }
        }

        fn user_dir(&self) -> PathBuf {
            self.home.join(".config").join("openstack")
        }

        fn write(&self, path: PathBuf, text: &str) -> PathBuf {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, text).unwrap();
            path
        }

        /// Writes `text` as ./clouds.yaml and loads `cloud` from it.
        fn load(&self, cloud: &str, text: &str) -> Result<CloudConfig, CloudsError> {
            self.write(self.cwd.join("clouds.yaml"), text);
            load_cloud(&self.env(), cloud)
        }

        fn error(&self, cloud: &str, text: &str) -> CloudsError {
            self.load(cloud, text).unwrap_err()
        }
    }

    fn site_a(auth_url: &str) -> String {
        format!(
            "clouds:\n  site-a:\n    auth:\n      auth_url: {auth_url}\n      username: admin\n      \
             password: hunter2\n      project_name: admin\n"
        )
    }

    fn display(path: &Path) -> String {
        path.display().to_string()
    }

    fn password_parts(config: &CloudConfig) -> (&UserRef, &str, &Scope) {
        match &config.auth {
            Auth::Password {
                user,
                password,
                scope,
                ..
            } => (user, password.expose(), scope),
            other => panic!("expected password auth, got {other:?}"),
        }
    }

    fn named_user(name: &str, domain: DomainRef) -> UserRef {
        UserRef::Name {
            name: name.to_string(),
            domain,
        }
    }

    fn named_project(name: &str, domain: DomainRef) -> Scope {
        Scope::Project(ProjectRef::Name {
            name: name.to_string(),
            domain,
        })
    }

    fn domain_name(name: &str) -> DomainRef {
        DomainRef::Name(name.to_string())
    }

    // --- search order -------------------------------------------------------------------------

    #[test]
    fn search_order_is_variable_then_cwd_then_user_config_then_system() {
        let machine = Machine::new();
        let etc = machine.write(machine.etc.join("clouds.yaml"), &site_a("https://etc"));
        assert_eq!(load_cloud(&machine.env(), "site-a").unwrap().source, etc);

        let user = machine.write(
            machine.user_dir().join("clouds.yaml"),
            &site_a("https://user"),
        );
        let config = load_cloud(&machine.env(), "site-a").unwrap();
        assert_eq!(
            (config.source, config.auth.auth_url()),
            (user, "https://user")
        );

        let cwd = machine.write(machine.cwd.join("clouds.yaml"), &site_a("https://cwd"));
        assert_eq!(load_cloud(&machine.env(), "site-a").unwrap().source, cwd);

        let explicit = machine.write(machine.home.join("elsewhere.yaml"), &site_a("https://env"));
        let env = CloudsEnvironment {
            os_client_config_file: Some(explicit.clone()),
            ..machine.env()
        };
        let config = load_cloud(&env, "site-a").unwrap();
        assert_eq!(
            (config.source, config.auth.auth_url()),
            (explicit, "https://env")
        );
    }

    #[test]
    fn clouds_yml_is_accepted_after_clouds_yaml_in_the_same_folder() {
        let machine = Machine::new();
        let yml = machine.write(
            machine.user_dir().join("clouds.yml"),
            &site_a("https://yml"),
        );
        assert_eq!(load_cloud(&machine.env(), "site-a").unwrap().source, yml);
        let yaml = machine.write(
            machine.user_dir().join("clouds.yaml"),
            &site_a("https://yaml"),
        );
        assert_eq!(load_cloud(&machine.env(), "site-a").unwrap().source, yaml);
    }

    #[test]
    fn a_relative_os_client_config_file_is_relative_to_the_current_dir() {
        let machine = Machine::new();
        let file = machine.write(
            machine.cwd.join("conf").join("my.yaml"),
            &site_a("https://a"),
        );
        let env = CloudsEnvironment {
            os_client_config_file: Some(PathBuf::from("conf/my.yaml")),
            ..machine.env()
        };
        assert_eq!(load_cloud(&env, "site-a").unwrap().source, file);
    }

    #[test]
    fn os_client_config_file_pointing_nowhere_is_an_error_even_with_other_files_present() {
        let machine = Machine::new();
        machine.write(machine.cwd.join("clouds.yaml"), &site_a("https://cwd"));
        let missing = machine.home.join("typo.yaml");
        let env = CloudsEnvironment {
            os_client_config_file: Some(missing.clone()),
            ..machine.env()
        };
        let error = load_cloud(&env, "site-a").unwrap_err();
        assert_eq!(
            error.to_string(),
            format!(
                "OS_CLIENT_CONFIG_FILE is set to {}, which does not exist",
                display(&missing)
            )
        );
        assert!(
            error
                .hint()
                .unwrap()
                .starts_with("point OS_CLIENT_CONFIG_FILE at an existing")
        );
    }

    #[test]
    fn no_clouds_file_lists_every_candidate_in_order() {
        let machine = Machine::new();
        let error = load_cloud(&machine.env(), "site-a").unwrap_err();
        let user = machine.user_dir();
        let expected = [
            machine.cwd.join("clouds.yaml"),
            machine.cwd.join("clouds.yml"),
            user.join("clouds.yaml"),
            user.join("clouds.yml"),
            machine.etc.join("clouds.yaml"),
            machine.etc.join("clouds.yml"),
        ]
        .iter()
        .map(|path| format!("{} (missing)", display(path)))
        .collect::<Vec<_>>()
        .join(", ");
        assert_eq!(
            error.to_string(),
            format!("no clouds.yaml found; searched in order: {expected}")
        );
        assert!(error.hint().unwrap().contains("OS_CLIENT_CONFIG_FILE"));
    }

    #[test]
    fn the_same_folder_is_searched_once() {
        let machine = Machine::new();
        let env = CloudsEnvironment {
            current_dir: machine.etc.clone(),
            ..machine.env()
        };
        let CloudsError::NoCloudsFile { searched } = load_cloud(&env, "site-a").unwrap_err() else {
            panic!("expected NoCloudsFile");
        };
        assert_eq!(searched.len(), 4);
    }

    // --- unknown cloud ------------------------------------------------------------------------

    #[test]
    fn unknown_cloud_lists_the_files_searched_and_the_clouds_found() {
        let machine = Machine::new();
        let used = machine.write(
            machine.user_dir().join("clouds.yaml"),
            "clouds:\n  site-b: {}\n  site-c: {}\n",
        );
        let ignored = machine.write(machine.etc.join("clouds.yaml"), &site_a("https://etc"));
        let error = load_cloud(&machine.env(), "site-a").unwrap_err();
        let cwd = &machine.cwd;
        assert_eq!(
            error.to_string(),
            format!(
                "cloud `site-a` not found: {used} defines only `site-b`, `site-c`; searched in \
                 order: {} (missing), {} (missing), {used} (used), {} (missing), {ignored} \
                 (ignored: an earlier file wins), {} (missing)",
                display(&cwd.join("clouds.yaml")),
                display(&cwd.join("clouds.yml")),
                display(&machine.user_dir().join("clouds.yml")),
                display(&machine.etc.join("clouds.yml")),
                used = display(&used),
                ignored = display(&ignored),
            )
        );
        assert_eq!(
            error.hint().unwrap(),
            format!(
                "`site-a` is defined in {ignored}, but {used} comes first in the search order and \
                 is the only file read: set OS_CLIENT_CONFIG_FILE={ignored}, or move the entry",
                ignored = display(&ignored),
                used = display(&used),
            )
        );
    }

    #[test]
    fn unknown_cloud_in_the_named_file_suggests_adding_it() {
        let machine = Machine::new();
        let file = machine.write(machine.home.join("c.yaml"), "clouds: {}\n");
        let secure = machine.write(machine.home.join("s.yaml"), "clouds:\n  site-b: {}\n");
        let env = CloudsEnvironment {
            os_client_config_file: Some(file.clone()),
            os_client_secure_file: Some(secure.clone()),
            ..machine.env()
        };
        let error = load_cloud(&env, "site-a").unwrap_err();
        assert_eq!(
            error.to_string(),
            format!(
                "cloud `site-a` not found: {file} and {secure} define only `site-b`; searched in \
                 order: {file} (used)",
                file = display(&file),
                secure = display(&secure),
            )
        );
        assert_eq!(
            error.hint().unwrap(),
            format!(
                "add a `site-a` entry under `clouds:` in {}, or point OS_CLIENT_CONFIG_FILE at \
                 the clouds.yaml that has it",
                display(&file)
            )
        );
    }

    #[test]
    fn a_file_without_clouds_defines_none() {
        let machine = Machine::new();
        let error = machine.error("site-a", "client:\n  force_ipv4: true\n");
        assert!(
            error
                .to_string()
                .contains("clouds.yaml defines no clouds; searched"),
            "{error}"
        );
        assert!(
            error.hint().unwrap().starts_with(
                "set OS_CLIENT_CONFIG_FILE to your clouds.yaml, or add a `site-a` entry"
            )
        );
    }

    // --- secure.yaml --------------------------------------------------------------------------

    #[test]
    fn secure_yaml_merges_key_by_key_and_wins() {
        let machine = Machine::new();
        machine.write(
            machine.cwd.join("clouds.yaml"),
            "clouds:\n  site-a:\n    region_name: RegionOne\n    auth:\n      auth_url: https://a\n      \
             username: admin\n      password: from-clouds\n      project_name: admin\n",
        );
        // In another search folder: the secure file is searched on its own.
        let secure = machine.write(
            machine.user_dir().join("secure.yaml"),
            "clouds:\n  site-a:\n    auth:\n      password: from-secure\n",
        );
        let config = load_cloud(&machine.env(), "site-a").unwrap();
        let (user, password, _) = password_parts(&config);
        assert_eq!(password, "from-secure");
        assert_eq!(user, &named_user("admin", DomainRef::default()));
        assert_eq!(config.region_name.as_deref(), Some("RegionOne"));
        assert_eq!(config.secure_source, Some(secure));
    }

    #[test]
    fn secure_yml_and_dashed_keys_meet_their_underscored_twins() {
        let machine = Machine::new();
        machine.write(
            machine.cwd.join("secure.yml"),
            "clouds:\n  site-a:\n    auth:\n      project-name: from-secure\n",
        );
        let config = machine.load("site-a", &site_a("https://a")).unwrap();
        let (_, _, scope) = password_parts(&config);
        assert_eq!(scope, &named_project("from-secure", DomainRef::default()));
    }

    #[test]
    fn a_cloud_only_in_secure_yaml_exists() {
        let machine = Machine::new();
        machine.write(machine.cwd.join("secure.yaml"), &site_a("https://secure"));
        let config = machine.load("site-a", "clouds: {}\n").unwrap();
        assert_eq!(config.auth.auth_url(), "https://secure");
    }

    #[test]
    fn os_client_secure_file_names_the_only_secure_file() {
        let machine = Machine::new();
        machine.write(
            machine.cwd.join("secure.yaml"),
            "clouds:\n  site-a:\n    auth:\n      password: ignored\n",
        );
        let named = machine.write(
            machine.home.join("vault.yaml"),
            "clouds:\n  site-a:\n    auth:\n      password: named\n",
        );
        machine.write(machine.cwd.join("clouds.yaml"), &site_a("https://a"));
        let env = CloudsEnvironment {
            os_client_secure_file: Some(named),
            ..machine.env()
        };
        let config = load_cloud(&env, "site-a").unwrap();
        assert_eq!(password_parts(&config).1, "named");

        let missing = machine.home.join("nope.yaml");
        let env = CloudsEnvironment {
            os_client_secure_file: Some(missing.clone()),
            ..machine.env()
        };
        let error = load_cloud(&env, "site-a").unwrap_err();
        assert_eq!(
            error.to_string(),
            format!(
                "OS_CLIENT_SECURE_FILE is set to {}, which does not exist",
                display(&missing)
            )
        );
    }

    #[test]
    fn a_bad_value_from_secure_yaml_names_secure_yaml() {
        let machine = Machine::new();
        let secure = machine.write(
            machine.cwd.join("secure.yaml"),
            "clouds:\n  site-a:\n    auth:\n      password: [oops]\n",
        );
        let error = machine.error("site-a", &site_a("https://a"));
        assert_eq!(
            error.to_string(),
            format!(
                "{}: `clouds.site-a.auth.password` must be a string, found a list",
                display(&secure)
            )
        );

        machine.write(machine.cwd.join("secure.yaml"), "clouds:\n  site-b: 3\n");
        let error = machine.error("site-a", &site_a("https://a"));
        assert_eq!(
            error.to_string(),
            format!(
                "{}: `clouds.site-b` must be a mapping, found a number",
                display(&secure)
            )
        );
    }

    // --- password auth ------------------------------------------------------------------------

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
    fn legacy_spellings_are_read_like_openstacksdk() {
        let machine = Machine::new();
        // tenant_name, dashed keys, auth keys at the top of the entry (which win), a number as
        // an id, and `endpoint_type`.
        let config = machine
            .load(
                "site-a",
                "clouds:\n  site-a:\n    project_id: 1234\n    auth:\n      auth-url: https://a\n      \
                 tenant_name: old\n      project_id: loses\n      username: admin\n      \
                 user-domain-name: Users\n    password: top-level\n    endpoint_type: adminURL\n",
            )
            .unwrap();
        let (user, password, scope) = password_parts(&config);
        assert_eq!(user, &named_user("admin", domain_name("Users")));
        assert_eq!(password, "top-level");
        assert_eq!(scope, &Scope::Project(ProjectRef::Id("1234".to_string())));
        assert_eq!(config.interface, Interface::Admin);
    }

    // --- domains ------------------------------------------------------------------------------

    fn domains(auth_lines: &str) -> (UserRef, Scope) {
        let machine = Machine::new();
        let text = format!(
            "clouds:\n  site-a:\n    auth:\n      auth_url: https://a\n      username: u\n      \
             password: p\n{auth_lines}"
        );
        let config = machine.load("site-a", &text).unwrap();
        let (user, _, scope) = password_parts(&config);
        (user.clone(), scope.clone())
    }

    #[test]
    fn domains_default_to_the_domain_named_default() {
        assert_eq!(
            domains("      project_name: p\n"),
            (
                named_user("u", DomainRef::default()),
                named_project("p", DomainRef::default())
            )
        );
        assert_eq!(DomainRef::default(), domain_name("Default"));
    }

    #[test]
    fn domain_name_applies_to_user_and_project_unless_they_name_their_own() {
        assert_eq!(
            domains("      project_name: p\n      domain_name: Corp\n"),
            (
                named_user("u", domain_name("Corp")),
                named_project("p", domain_name("Corp"))
            )
        );
        assert_eq!(
            domains(
                "      project_name: p\n      domain_name: Corp\n      project_domain_name: Apps\n"
            ),
            (
                named_user("u", domain_name("Corp")),
                named_project("p", domain_name("Apps"))
            )
        );
    }

    #[test]
    fn domain_id_fills_the_id_even_next_to_an_explicit_name_as_openstacksdk_does() {
        assert_eq!(
            domains("      project_name: p\n      domain_id: d1\n      user_domain_name: Users\n"),
            (
                named_user("u", DomainRef::Id("d1".to_string())),
                named_project("p", DomainRef::Id("d1".to_string()))
            )
        );
    }

    #[test]
    fn domain_without_project_scopes_the_token_to_the_domain() {
        assert_eq!(
            domains("      domain_name: Corp\n"),
            (
                named_user("u", DomainRef::default()),
                Scope::Domain(domain_name("Corp"))
            )
        );
    }

    #[test]
    fn default_domain_id_fills_domains_left_unsaid() {
        assert_eq!(
            domains("      project_name: p\n      default_domain_id: default\n"),
            (
                named_user("u", DomainRef::Id("default".to_string())),
                named_project("p", DomainRef::Id("default".to_string()))
            )
        );
    }

    // --- application credentials --------------------------------------------------------------

    #[test]
    fn application_credential_by_id_needs_no_auth_type() {
        let machine = Machine::new();
        let config = machine
            .load(
                "site-a",
                "clouds:\n  site-a:\n    auth:\n      auth_url: https://a\n      \
                 application_credential_id: ac-1\n      application_credential_secret: s3cret\n",
            )
            .unwrap();
        assert_eq!(
            config.auth,
            Auth::ApplicationCredential {
                auth_url: "https://a".to_string(),
                credential: ApplicationCredentialRef::Id("ac-1".to_string()),
                secret: Secret::new("s3cret"),
            }
        );
    }

    #[test]
    fn application_credential_by_name_and_user() {
        let machine = Machine::new();
        let config = machine
            .load(
                "site-a",
                "clouds:\n  site-a:\n    auth_type: v3applicationcredential\n    auth:\n      \
                 auth_url: https://a\n      application_credential_name: dr\n      \
                 application_credential_secret: s3cret\n      username: robot\n      \
                 user_domain_name: Ops\n",
            )
            .unwrap();
        let Auth::ApplicationCredential {
            credential, secret, ..
        } = &config.auth
        else {
            panic!("expected an application credential: {:?}", config.auth);
        };
        assert_eq!(
            credential,
            &ApplicationCredentialRef::Name {
                name: "dr".to_string(),
                user: named_user("robot", domain_name("Ops")),
            }
        );
        assert_eq!(secret.expose(), "s3cret");
    }

    #[test]
    fn with_a_password_present_and_no_auth_type_password_auth_wins() {
        let machine = Machine::new();
        let config = machine
            .load(
                "site-a",
                "clouds:\n  site-a:\n    auth:\n      auth_url: https://a\n      username: u\n      \
                 password: p\n      application_credential_id: ac-1\n",
            )
            .unwrap();
        assert!(matches!(config.auth, Auth::Password { .. }));
    }

    // --- TLS, interface, regions --------------------------------------------------------------

    #[test]
    fn a_relative_cacert_is_relative_to_the_clouds_yaml_folder() {
        let machine = Machine::new();
        let ca = machine.write(machine.user_dir().join("certs").join("ca.pem"), "PEM");
        machine.write(
            machine.user_dir().join("clouds.yaml"),
            &format!("{}    cacert: certs/ca.pem\n", site_a("https://a")),
        );
        let config = load_cloud(&machine.env(), "site-a").unwrap();
        assert_eq!(config.verify, Verify::Ca(ca));
    }

    #[test]
    fn a_cacert_from_secure_yaml_is_relative_to_its_folder_and_tilde_is_home() {
        let machine = Machine::new();
        let ca = machine.write(machine.etc.join("ca.pem"), "PEM");
        machine.write(
            machine.etc.join("secure.yaml"),
            "clouds:\n  site-a:\n    cacert: ca.pem\n",
        );
        assert_eq!(
            machine.load("site-a", &site_a("https://a")).unwrap().verify,
            Verify::Ca(ca)
        );

        let home_ca = machine.write(machine.home.join("ca.pem"), "PEM");
        let text = format!("{}    cacert: ~/ca.pem\n", site_a("https://a"));
        std::fs::remove_file(machine.etc.join("secure.yaml")).unwrap();
        assert_eq!(
            machine.load("site-a", &text).unwrap().verify,
            Verify::Ca(home_ca)
        );
    }

    #[test]
    fn a_missing_cacert_is_an_error_unless_verification_is_off() {
        let machine = Machine::new();
        let text = format!("{}    cacert: nope.pem\n", site_a("https://a"));
        let error = machine.error("site-a", &text);
        assert_eq!(
            error.to_string(),
            format!(
                "cloud `site-a` in {}: cacert {} does not exist",
                display(&machine.cwd.join("clouds.yaml")),
                display(&machine.cwd.join("nope.pem"))
            )
        );
        let insecure = format!("{text}    insecure: true\n");
        let config = machine.load("site-a", &insecure).unwrap();
        assert!(matches!(
            config.verify,
            Verify::Off {
                cacert_unused: true,
                ..
            }
        ));
        assert_eq!(config.verify.trust(), Trust::Off);
    }

    /// `verify`, `insecure` and `cacert` together, as openstacksdk's
    /// `get_requests_verify_args` combines them (`None`: the key is not in the entry).
    fn verification_of(verify: Option<&str>, insecure: Option<&str>, cacert: bool) -> Trust {
        let machine = Machine::new();
        let ca = machine.write(machine.cwd.join("ca.pem"), "PEM");
        let mut text = site_a("https://a");
        for (key, value) in [("verify", verify), ("insecure", insecure)] {
            if let Some(value) = value {
                text.push_str(&format!("    {key}: {value}\n"));
            }
        }
        if cacert {
            text.push_str("    cacert: ca.pem\n");
        }
        let config = machine
            .load("site-a", &text)
            .unwrap_or_else(|error| panic!("{verify:?} {insecure:?} {cacert}: {error}"));
        // Paths come back relative to the machine, to compare across machines.
        match config.verify.trust() {
            Trust::Only(path) if path == ca => Trust::Only(PathBuf::from("ca.pem")),
            trust => trust,
        }
    }

    #[test]
    fn verify_insecure_and_cacert_combine_as_in_openstacksdk() {
        let ca = || Trust::Only(PathBuf::from("ca.pem"));
        for (verify, insecure, cacert, trust) in [
            (None, None, false, Trust::System),
            (None, None, true, ca()),
            (Some("true"), None, false, Trust::System),
            (Some("true"), None, true, ca()),
            // Off means off: no cacert brings verification back.
            (Some("false"), None, false, Trust::Off),
            (Some("false"), None, true, Trust::Off),
            (None, Some("true"), false, Trust::Off),
            (None, Some("true"), true, Trust::Off),
            (None, Some("false"), false, Trust::System),
            (None, Some("false"), true, ca()),
            // The most aggressive setting wins.
            (Some("true"), Some("true"), true, Trust::Off),
            (Some("false"), Some("false"), true, Trust::Off),
            // A string `verify` is a CA bundle (keystoneauth), and `cacert` beats it.
            (Some("ca.pem"), None, false, ca()),
            (Some("elsewhere.pem"), None, true, ca()),
            (Some("ca.pem"), Some("true"), false, Trust::Off),
        ] {
            assert_eq!(
                verification_of(verify, insecure, cacert),
                trust,
                "verify {verify:?}, insecure {insecure:?}, cacert {cacert}"
            );
        }
    }

    #[test]
    fn verification_off_is_said_on_every_run_with_the_setting_and_its_file() {
        let machine = Machine::new();
        let config = machine
            .load(
                "site-a",
                &format!("{}    verify: false\n", site_a("https://a")),
            )
            .unwrap();
        assert_eq!(
            config.unverified_warning("site-a").unwrap(),
            format!(
                "TLS certificates of site-a are not verified (`verify: false` for cloud `site-a` \
                 in {}): whoever can intercept its traffic can pose as its services and read the \
                 credentials protector sends; trust its CA with `cacert: <PEM file>` instead",
                display(&machine.cwd.join("clouds.yaml"))
            )
        );

        machine.write(machine.cwd.join("ca.pem"), "PEM");
        machine.write(
            machine.etc.join("secure.yaml"),
            "clouds:\n  site-a:\n    insecure: true\n",
        );
        let text = format!("{}    cacert: ca.pem\n", site_a("https://a"));
        let warning = machine
            .load("site-a", &text)
            .unwrap()
            .unverified_warning("site-b")
            .unwrap();
        assert!(
            warning.starts_with(&format!(
                "TLS certificates of site-b are not verified (`insecure: true` for cloud \
                 `site-a` in {}; its `cacert` goes unused): ",
                display(&machine.etc.join("secure.yaml"))
            )),
            "{warning}"
        );

        // Without the secure.yaml that turned it off, the cloud is verified and nothing is said.
        std::fs::remove_file(machine.etc.join("secure.yaml")).unwrap();
        let verified = machine.load("site-a", &site_a("https://a")).unwrap();
        assert_eq!(verified.unverified_warning("site-a"), None);
    }

    #[test]
    fn a_verify_that_is_not_a_boolean_or_a_path_is_refused() {
        for (value, found) in [
            ("no", "`no`"),
            ("'off'", "`off`"),
            ("Yes", "`Yes`"),
            ("''", "``"),
            ("[ca.pem]", "a list"),
        ] {
            let (message, hint) = failure(&format!("    verify: {value}\n"));
            assert_eq!(
                message,
                format!(
                    "FILE: `clouds.site-a.verify` must be true, false or the path of a CA \
                     bundle, found {found}"
                )
            );
            assert!(hint.contains("yes/no"), "{hint}");
        }
        let (message, hint) = failure("    insecure: yes\n");
        assert_eq!(
            message,
            "FILE: `clouds.site-a.insecure` must be true or false, found a string"
        );
        assert!(hint.contains("yes/no"), "{hint}");
    }

    #[test]
    fn a_missing_ca_bundle_named_by_verify_is_an_error() {
        let machine = Machine::new();
        let text = format!("{}    verify: certs/ca.pem\n", site_a("https://a"));
        let error = machine.error("site-a", &text);
        assert_eq!(
            error.to_string(),
            format!(
                "cloud `site-a` in {}: verify {} does not exist",
                display(&machine.cwd.join("clouds.yaml")),
                display(&machine.cwd.join("certs/ca.pem"))
            )
        );
        assert!(
            error
                .hint()
                .unwrap()
                .starts_with("fix `clouds.site-a.verify`"),
            "{:?}",
            error.hint()
        );
    }

    #[test]
    fn a_client_certificate_is_refused_not_ignored() {
        let machine = Machine::new();
        for (lines, key) in [
            ("    cert: client.pem\n    key: client.key\n", "cert"),
            ("    key: client.key\n", "key"),
        ] {
            let text = format!("{}{lines}", site_a("https://a"));
            let error = machine.error("site-a", &text);
            assert_eq!(
                error.to_string(),
                format!(
                    "cloud `site-a` in {} sets `{key}`, a TLS client certificate, which \
                     protector does not present",
                    display(&machine.cwd.join("clouds.yaml"))
                )
            );
            assert!(
                error.hint().unwrap().starts_with("remove `cert` and `key`"),
                "{:?}",
                error.hint()
            );
        }
    }

    #[test]
    fn clouds_files_are_read_bounded() {
        let machine = Machine::new();
        let env = CloudsEnvironment {
            os_client_config_file: Some(PathBuf::from("/dev/zero")),
            ..machine.env()
        };
        let error = load_cloud(&env, "site-a").unwrap_err();
        assert_eq!(
            error.to_string(),
            "cannot read /dev/zero: it holds more than 4 MiB"
        );
        std::fs::write(machine.cwd.join("clouds.yaml"), b"clouds:\n  \xff: {}\n").unwrap();
        let error = load_cloud(&machine.env(), "site-a").unwrap_err();
        assert!(
            error
                .to_string()
                .ends_with("clouds.yaml: it is not UTF-8 text"),
            "{error}"
        );
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
    fn the_first_region_is_used_and_its_values_apply() {
        let machine = Machine::new();
        let text = format!(
            "{}    region_name: ignored\n    regions:\n      - name: RegionTwo\n        values:\n          \
             interface: admin\n          auth:\n            password: region-password\n      - RegionThree\n",
            site_a("https://a")
        );
        let config = machine.load("site-a", &text).unwrap();
        assert_eq!(config.region_name.as_deref(), Some("RegionTwo"));
        assert_eq!(config.interface, Interface::Admin);
        assert_eq!(password_parts(&config).1, "region-password");

        let text = format!("{}    region_name: East,West\n", site_a("https://a"));
        assert_eq!(
            machine
                .load("site-a", &text)
                .unwrap()
                .region_name
                .as_deref(),
            Some("East")
        );
    }

    // --- errors -------------------------------------------------------------------------------

    fn failure(cloud_entry: &str) -> (String, String) {
        let machine = Machine::new();
        let error = machine.error("site-a", &format!("clouds:\n  site-a:\n{cloud_entry}"));
        let file = display(&machine.cwd.join("clouds.yaml"));
        (
            error.to_string().replace(&file, "FILE"),
            error.hint().unwrap(),
        )
    }

    #[test]
    fn missing_auth_url() {
        let (message, hint) = failure("    auth:\n      username: u\n      password: p\n");
        assert_eq!(message, "cloud `site-a` in FILE has no `auth.auth_url`");
        assert!(
            hint.starts_with("add the Keystone URL under `clouds.site-a.auth`"),
            "{hint}"
        );

        let (_, hint) = failure("    profile: vexxhost\n    auth:\n      username: u\n");
        assert_eq!(
            hint,
            "protector does not read vendor profiles (`profile: vexxhost`): copy the Keystone URL \
             into `clouds.site-a.auth.auth_url`"
        );
    }

    #[test]
    fn password_auth_without_a_user() {
        let (message, _) = failure("    auth:\n      auth_url: https://a\n      password: p\n");
        assert_eq!(
            message,
            "cloud `site-a` in FILE uses password auth but sets neither `auth.username` nor \
             `auth.user_id`"
        );
    }

    #[test]
    fn password_auth_without_a_password() {
        let (message, hint) = failure("    auth:\n      auth_url: https://a\n      username: u\n");
        assert_eq!(
            message,
            "cloud `site-a` in FILE uses password auth but has no `auth.password`"
        );
        assert!(hint.contains("in a secure.yaml beside it"), "{hint}");

        let machine = Machine::new();
        let secure = machine.write(machine.cwd.join("secure.yaml"), "clouds: {}\n");
        let error = machine.error(
            "site-a",
            "clouds:\n  site-a:\n    auth:\n      auth_url: https://a\n      username: u\n",
        );
        assert_eq!(
            error.hint().unwrap(),
            format!(
                "add `password` under `clouds.site-a.auth` in {} (merged over clouds.yaml) or in \
                 clouds.yaml itself",
                display(&secure)
            )
        );
    }

    #[test]
    fn application_credential_without_a_secret() {
        let (message, _) =
            failure("    auth:\n      auth_url: https://a\n      application_credential_id: ac\n");
        assert_eq!(
            message,
            "cloud `site-a` in FILE uses application-credential auth but has no \
             `auth.application_credential_secret`"
        );
    }

    #[test]
    fn application_credential_by_name_without_a_user() {
        let (message, hint) = failure(
            "    auth_type: v3applicationcredential\n    auth:\n      auth_url: https://a\n      \
             application_credential_name: dr\n      application_credential_secret: s\n",
        );
        assert_eq!(
            message,
            "cloud `site-a` in FILE names its application credential \
             (`auth.application_credential_name`) but not its owner (`auth.username` or \
             `auth.user_id`)"
        );
        assert!(hint.contains("application_credential_id"), "{hint}");
    }

    #[test]
    fn application_credential_without_id_or_name() {
        let (message, _) = failure(
            "    auth_type: v3applicationcredential\n    auth:\n      auth_url: https://a\n      \
             application_credential_secret: s\n",
        );
        assert_eq!(
            message,
            "cloud `site-a` in FILE uses application-credential auth but sets neither \
             `auth.application_credential_id` nor `auth.application_credential_name`"
        );
    }

    #[test]
    fn unsupported_auth_type() {
        let (message, hint) =
            failure("    auth_type: v3oidcpassword\n    auth:\n      auth_url: https://a\n");
        assert_eq!(
            message,
            "cloud `site-a` in FILE uses auth_type `v3oidcpassword`, which protector does not \
             support (supported: password, v3password, v3applicationcredential)"
        );
        assert!(
            hint.contains("auth_type: v3applicationcredential"),
            "{hint}"
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

    // --- secrets ------------------------------------------------------------------------------

    #[test]
    fn secrets_never_reach_debug_display_or_errors() {
        let machine = Machine::new();
        let config = machine.load("site-a", &site_a("https://a")).unwrap();
        let debug = format!("{config:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(debug.contains("password: ********"), "{debug}");

        let secret = Secret::new("hunter2");
        assert_eq!(format!("{secret} {secret:?}"), "******** ********");
        assert_eq!(secret.expose(), "hunter2");

        let credential = machine
            .load(
                "site-a",
                "clouds:\n  site-a:\n    auth:\n      auth_url: https://a\n      \
                 application_credential_id: ac\n      application_credential_secret: hunter2\n",
            )
            .unwrap();
        assert!(!format!("{credential:?}").contains("hunter2"));

        // A secret of the wrong shape is described, never quoted.
        let error = machine.error(
            "site-a",
            "clouds:\n  site-a:\n    auth:\n      auth_url: https://a\n      username: u\n      \
             password: [hunter2]\n",
        );
        assert!(!format!("{error} {error:?}").contains("hunter2"), "{error}");
        assert!(
            error
                .to_string()
                .ends_with("`clouds.site-a.auth.password` must be a string, found a list")
        );
    }
}
