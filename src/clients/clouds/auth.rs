//! The two kinds of Keystone v3 authentication protector supports, password and application
//! credential, read from a cloud entry as keystoneauth's plugins read their options; and the
//! secrets they carry, which never print.

use std::fmt;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::Context;
use super::error::CloudsError;

/// The auth types protector can authenticate with, as written in an error.
pub(super) const SUPPORTED_AUTH_TYPES: &str = "password, v3password, v3applicationcredential";

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

/// The entry's authentication, by its `auth_type` (openstacksdk's default: `password`).
pub(super) fn authentication(
    auth: &Map<String, Value>,
    entry: &Map<String, Value>,
    context: &Context<'_>,
) -> Result<Auth, CloudsError> {
    let options = AuthOptions {
        auth,
        entry,
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
    Ok(auth)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clients::clouds::testing::*;

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
