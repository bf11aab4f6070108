//! Why a cloud could not be loaded, said in one line that names the file, with a hint of what
//! to try next; never with a secret in it.

use std::fmt;
use std::path::{Path, PathBuf};

use super::auth::SUPPORTED_AUTH_TYPES;
use super::search::{CLOUDS_FILE_LIMIT, SearchedFile};
use super::tls::VERIFY_VALUES;
use crate::spec::files::{self, FileError};

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
    NoCloudsFile {
        searched: Vec<SearchedFile>,
        /// The name of the cloud `OS_*` variables would make (`envvars`).
        environment_cloud: String,
    },

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
    /// the top of the file (`` `clouds.site-a.verify` ``), the variable (`` `OS_INSECURE` ``) or a
    /// description (`the document`).
    #[error("{file}: {what} must be {expected}, found {found}")]
    InvalidValue {
        file: Origin,
        what: String,
        expected: &'static str,
        found: String,
    },

    /// Boxed: it is the largest variant, and every `Result` here would carry its size.
    #[error("{0}")]
    UnknownCloud(Box<UnknownCloud>),

    #[error(
        "no cloud named and none to choose: set OS_CLOUD or name one ({})",
        if defined.is_empty() { "no clouds.yaml defines any".to_string() } else { format!("clouds.yaml defines {}", defined.join(", ")) }
    )]
    NoDefaultCloud { defined: Vec<String> },

    #[error(
        "{file} defines a cloud named `{name}`, the name of the cloud made of OS_* variables{}",
        if name == super::environment::ENVIRONMENT_CLOUD { "" } else { " (OS_CLOUD_NAME)" }
    )]
    EnvironmentCloudName { file: PathBuf, name: String },

    #[error(
        "cloud `{cloud}` in {file} uses auth_type `{auth_type}`, which protector does not support (supported: {SUPPORTED_AUTH_TYPES})"
    )]
    UnsupportedAuthType {
        cloud: String,
        file: Origin,
        auth_type: String,
    },

    #[error("cloud `{cloud}` in {file} has no {}", file.setting("auth.auth_url"))]
    MissingAuthUrl {
        cloud: String,
        file: Origin,
        /// The vendor profile the entry names, which had no URL either.
        profile: Option<String>,
    },

    #[error(
        "cloud `{cloud}` in {file} uses {method} auth but sets neither {} nor {}",
        file.setting("auth.username"), file.setting("auth.user_id")
    )]
    MissingUser {
        cloud: String,
        file: Origin,
        /// `password` or `token`... the auth method that needs the user.
        method: &'static str,
    },

    #[error("cloud `{cloud}` in {file} uses {method} auth but has no {}", file.setting(&format!("auth.{key}")))]
    MissingSecret {
        cloud: String,
        file: Origin,
        /// `password`, `application-credential` or `token`.
        method: &'static str,
        /// `password`, `application_credential_secret` or `token`.
        key: &'static str,
        secure_file: Option<PathBuf>,
    },

    /// A user or project named by name, without its domain.
    #[error(
        "cloud `{cloud}` in {file} names its {what} ({}) but not the {what}'s domain: openstacksdk would send none, and Keystone refuses a {what} name without one",
        file.setting(&format!("auth.{named_by}"))
    )]
    MissingDomain {
        cloud: String,
        file: Origin,
        /// `user` or `project`.
        what: &'static str,
        /// `username` or `project_name`.
        named_by: &'static str,
        /// `user_domain_name` or `project_domain_name`.
        name_key: &'static str,
    },

    #[error(
        "cloud `{cloud}` in {file} uses application-credential auth but sets neither {} nor {}",
        file.setting("auth.application_credential_id"), file.setting("auth.application_credential_name")
    )]
    MissingApplicationCredential { cloud: String, file: Origin },

    #[error(
        "cloud `{cloud}` in {file} names its application credential ({}) but not its owner ({} or {})",
        file.setting("auth.application_credential_name"), file.setting("auth.username"), file.setting("auth.user_id")
    )]
    ApplicationCredentialNameWithoutUser { cloud: String, file: Origin },

    #[error(
        "cloud `{cloud}` in {file} has an application credential but no {}: openstacksdk would authenticate with a password, which it lacks",
        file.setting("auth_type")
    )]
    ApplicationCredentialWithoutAuthType { cloud: String, file: Origin },

    /// A CA bundle named by `key` (`cacert`, or `verify` as a path) is not there.
    #[error("cloud `{cloud}` in {file}: {key} {path} does not exist")]
    CaBundleNotFound {
        cloud: String,
        file: Origin,
        key: &'static str,
        path: PathBuf,
    },

    /// A relative CA bundle path that openstacksdk (from the working folder) and protector (from
    /// the file's folder) would read as two different files. Boxed, as the largest variant.
    #[error(
        "cloud `{}` in {}: {} `{}` is a relative path, which openstacksdk reads from the working folder ({}) and protector from the folder of the file ({}), and these differ",
        .0.cloud, .0.file.display(), .0.key, .0.raw, .0.from_cwd.display(), .0.from_file.display()
    )]
    RelativeCaBundle(Box<RelativeCaBundle>),

    #[error(
        "cloud `{cloud}` in {file} sets `{key}`, a TLS client certificate, which protector does not present"
    )]
    ClientCertificate {
        cloud: String,
        file: Origin,
        key: &'static str,
    },

    /// `profile: NAME` names no vendor profile of clouds-public.yaml.
    #[error(
        "cloud `{cloud}` in {file} names the vendor profile `{profile}`, which {}; searched in order: {}",
        match public_file { Some(public) => format!("{} does not define", public.display()), None => "no clouds-public.yaml defines".to_string() },
        list(searched)
    )]
    UnknownProfile {
        cloud: String,
        file: Origin,
        profile: String,
        public_file: Option<PathBuf>,
        searched: Vec<SearchedFile>,
    },

    /// A setting openstacksdk honours and protector does not, refused rather than ignored.
    #[error("cloud `{cloud}` in {file} sets {}, which protector does not honour: {why}", file.setting(key))]
    Unsupported {
        cloud: String,
        file: Origin,
        key: String,
        why: String,
        hint: String,
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
                         ./clouds.yaml, ~/.config/openstack/clouds.yaml and /etc/openstack/clouds.yaml \
                         (openstacksdk would search them without a word; protector says so, \
                         since a runbook's variable that points nowhere is a mistake to fix)"
                    )
                } else {
                    format!(
                        "point {variable} at an existing secure.yaml, or unset it to search for \
                         secure.yaml in the folders searched for clouds.yaml"
                    )
                }
            }
            CloudsError::NoCloudsFile {
                environment_cloud, ..
            } => format!(
                "create ~/.config/openstack/clouds.yaml (Horizon offers one under API Access > \
                 Download OpenStack RC File), set OS_CLIENT_CONFIG_FILE to the clouds.yaml you use \
                 with the openstack CLI, or set OS_AUTH_URL, OS_USERNAME, OS_PASSWORD, \
                 OS_PROJECT_NAME... and use the cloud `{environment_cloud}`"
            ),
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
            CloudsError::NoDefaultCloud { .. } => {
                "name the cloud on the command line, or set OS_CLOUD to it".to_string()
            }
            CloudsError::EnvironmentCloudName { file, name } => format!(
                "rename the entry `{name}` in {} (openstacksdk refuses such a file too), or set \
                 OS_CLOUD_NAME to another name for the cloud of OS_* variables",
                file.display()
            ),
            CloudsError::UnsupportedAuthType { cloud, file, .. } => match file {
                Origin::Environment => "set OS_AUTH_TYPE to v3applicationcredential (an \
                     application credential suits automation), password or v3token"
                    .to_string(),
                Origin::File(_) => format!(
                    "give cloud `{cloud}` `auth_type: v3applicationcredential` (an application \
                     credential suits automation), `auth_type: password` or `auth_type: v3token`"
                ),
            },
            CloudsError::MissingAuthUrl {
                cloud,
                file,
                profile: Some(profile),
            } => format!(
                "the vendor profile `{profile}` has no `auth.auth_url` either: add the Keystone \
                 URL as {}",
                file.setting_in(cloud, "auth.auth_url")
            ),
            CloudsError::MissingAuthUrl { cloud, file, .. } => format!(
                "add the Keystone URL as {}, e.g. `https://keystone.example.com:5000/v3` \
                 (`openstack catalog show identity` shows it)",
                file.setting_in(cloud, "auth.auth_url")
            ),
            CloudsError::MissingUser { cloud, file, .. } => format!(
                "add {} (with {} unless the user is in the Default domain) or {}",
                file.setting_in(cloud, "auth.username"),
                file.setting_in(cloud, "auth.user_domain_name"),
                file.setting_in(cloud, "auth.user_id"),
            ),
            CloudsError::MissingSecret {
                cloud,
                file: Origin::Environment,
                key,
                ..
            } => format!(
                "set {} for the cloud `{cloud}`",
                Origin::Environment.setting(key)
            ),
            CloudsError::MissingSecret {
                cloud,
                key,
                secure_file,
                ..
            } => secret_hint(cloud, key, secure_file.as_deref()),
            CloudsError::MissingDomain {
                cloud,
                file,
                name_key,
                ..
            } => format!(
                "add {} (`Default` on DevStack and most clouds; the `openstack` CLI assumes it), \
                 or {} for the user's and the project's domain at once",
                file.setting_in(cloud, &format!("auth.{name_key}")),
                file.setting_in(cloud, "auth.domain_name"),
            ),
            CloudsError::MissingApplicationCredential { cloud, file } => format!(
                "add {} (`openstack application credential show NAME` shows it)",
                file.setting_in(cloud, "auth.application_credential_id")
            ),
            CloudsError::ApplicationCredentialNameWithoutUser { cloud, file } => format!(
                "add the owner's {} (and {}) or {}, or identify the credential by {}",
                file.setting_in(cloud, "auth.username"),
                file.setting_in(cloud, "auth.user_domain_name"),
                file.setting_in(cloud, "auth.user_id"),
                file.setting_in(cloud, "auth.application_credential_id"),
            ),
            CloudsError::ApplicationCredentialWithoutAuthType { cloud, file } => match file {
                Origin::Environment => "set OS_AUTH_TYPE=v3applicationcredential".to_string(),
                Origin::File(_) => {
                    format!("add `auth_type: v3applicationcredential` to cloud `{cloud}`")
                }
            },
            CloudsError::CaBundleNotFound {
                cloud, file, key, ..
            } => format!(
                "fix {}, or remove it to trust the system's CAs",
                file.setting_in(cloud, key)
            ),
            CloudsError::RelativeCaBundle(relative) => format!(
                "write `clouds.{}.{}` as an absolute path (or ~/...), so that every tool reads \
                 the same CA bundle, or run from the folder of the file",
                relative.cloud, relative.key
            ),
            CloudsError::ClientCertificate { cloud, file, .. } => format!(
                "remove {} and {} if its services do not ask for a client certificate; if they do, \
                 protector cannot reach them",
                file.setting_in(cloud, "cert"),
                file.setting_in(cloud, "key")
            ),
            CloudsError::UnknownProfile { cloud, profile, .. } => format!(
                "define `{profile}` under `public-clouds:` in a clouds-public.yaml beside \
                 clouds.yaml (protector does not ship openstacksdk's built-in vendor profiles), \
                 or copy the profile's `auth_url` and region into `clouds.{cloud}` and remove \
                 `profile`"
            ),
            CloudsError::Unsupported { hint, .. } => hint.clone(),
        };
        Some(hint)
    }
}

/// A relative CA bundle path two tools would read as two files: [`CloudsError::RelativeCaBundle`].
#[derive(Debug)]
pub struct RelativeCaBundle {
    pub cloud: String,
    /// The file that sets it.
    pub file: PathBuf,
    /// `cacert`, or `verify`.
    pub key: &'static str,
    /// As written.
    pub raw: String,
    /// Relative to the folder of `file`: what protector would read.
    pub from_file: PathBuf,
    /// Relative to the working folder: what openstacksdk would read.
    pub from_cwd: PathBuf,
}

/// Where a cloud's settings came from: a file, or `OS_*` variables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    File(PathBuf),
    /// openstacksdk's `envvars` cloud: every setting from an `OS_*` variable.
    Environment,
}

impl Origin {
    /// How the operator writes the setting `key` (`auth.password`): `` `auth.password` `` in a
    /// file, `` `OS_PASSWORD` `` in the environment.
    pub fn setting(&self, key: &str) -> String {
        match self {
            Origin::File(_) => format!("`{key}`"),
            Origin::Environment => {
                format!("`{}`", super::environment::OsVariables::variable_for(key))
            }
        }
    }

    /// [`Origin::setting`] with the path from the top of the file: `` `clouds.site-a.cacert` ``.
    pub fn setting_in(&self, cloud: &str, key: &str) -> String {
        match self {
            Origin::File(_) => format!("`clouds.{cloud}.{key}`"),
            Origin::Environment => self.setting(key),
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::File(path) => write!(f, "{}", path.display()),
            Origin::Environment => f.write_str("the environment (OS_* variables)"),
        }
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
