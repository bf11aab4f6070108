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
