//! The kinds of Keystone v3 authentication protector supports, password, application
//! credential and token, read from a cloud entry as keystoneauth's plugins read their options;
//! and the secrets they carry, which never print.

use std::fmt;
use std::path::Path;

use serde_json::{Map, Value};

use super::Context;
use super::error::{CloudsError, Origin};

/// The auth types protector can authenticate with, as written in an error.
pub(super) const SUPPORTED_AUTH_TYPES: &str =
    "password, v3password, v3applicationcredential, token, v3token";

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
    /// `auth_type: token` or `v3token`: a token obtained elsewhere (`openstack token issue`),
    /// traded for one scoped as the entry says. It stops working when that token expires.
    Token {
        auth_url: String,
        token: Secret,
        scope: Scope,
    },
}

impl Auth {
    /// The Keystone endpoint, as written (the Keystone client decides about a `/v3` suffix).
    pub fn auth_url(&self) -> &str {
        match self {
            Auth::Password { auth_url, .. }
            | Auth::ApplicationCredential { auth_url, .. }
            | Auth::Token { auth_url, .. } => auth_url,
        }
    }

    /// The `auth_type` that means this kind, as `protector cloud show` prints it.
    pub fn kind(&self) -> &'static str {
        match self {
            Auth::Password { .. } => "password",
            Auth::ApplicationCredential { .. } => "v3applicationcredential",
            Auth::Token { .. } => "v3token",
        }
    }
}

/// A Keystone user: its id, or its name within a domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserRef {
    Id(String),
    Name { name: String, domain: DomainRef },
}

/// A Keystone domain. A user or project named by name needs one: a cloud entry that names none
/// (and no `default_domain_*`) is refused, since openstacksdk would send none and Keystone
/// refuses that (the `openstack` CLI alone assumes the domain whose id is `default`).
/// [`DomainRef::default`] is the domain named `Default`, which DevStack and most clouds create.
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
        Some("token" | "v3token") => token_auth(&options)?,
        Some(other) => {
            return Err(CloudsError::UnsupportedAuthType {
                cloud: context.cloud.to_string(),
                file: context.origin("auth_type").clone(),
                auth_type: other.to_string(),
            });
        }
        None => {
            // openstacksdk defaults to `password`, whatever else the entry holds: an entry with
            // an application credential and no password would have it fail for want of a user
            // or password, so it is refused here with the setting that makes it work.
            let has_credential = options.get("application_credential_id")?.is_some()
                || options.get("application_credential_name")?.is_some()
                || options.get("application_credential_secret")?.is_some();
            if has_credential && options.get("password")?.is_none() {
                let (cloud, file) = options.missing();
                return Err(CloudsError::ApplicationCredentialWithoutAuthType { cloud, file });
            }
            password_auth(&options)?
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

    fn missing(&self) -> (String, Origin) {
        (self.context.cloud.to_string(), self.context.origin.clone())
    }

    fn missing_secret(&self, method: &'static str, key: &'static str) -> CloudsError {
        let (cloud, file) = self.missing();
        CloudsError::MissingSecret {
            cloud,
            file,
            method,
            key,
            secure_file: self.context.secure_file.map(Path::to_path_buf),
        }
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

    /// keystoneauth sends the id when there is one; the domain only qualifies a name, of a
    /// `what` (`user` or `project`) named by `named_by`.
    fn domain(
        &self,
        what: &'static str,
        named_by: &'static str,
        id_key: &'static str,
        name_key: &'static str,
    ) -> Result<DomainRef, CloudsError> {
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
        let (cloud, file) = self.missing();
        Err(CloudsError::MissingDomain {
            cloud,
            file,
            what,
            named_by,
            name_key,
        })
    }

    fn user(&self) -> Result<Option<UserRef>, CloudsError> {
        if let Some(id) = self.get("user_id")? {
            return Ok(Some(UserRef::Id(id)));
        }
        match self.get("username")? {
            Some(name) => Ok(Some(UserRef::Name {
                name,
                domain: self.domain("user", "username", "user_domain_id", "user_domain_name")?,
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
                domain: self.domain(
                    "project",
                    "project_name",
                    "project_domain_id",
                    "project_domain_name",
                )?,
            })),
            None => Ok(Scope::Unscoped),
        }
    }
}

fn password_auth(options: &AuthOptions<'_>) -> Result<Auth, CloudsError> {
    let auth_url = options.auth_url()?;
    let no_user = || {
        let (cloud, file) = options.missing();
        CloudsError::MissingUser {
            cloud,
            file,
            method: "password",
        }
    };
    // What is missing first, then what is incomplete (a user's domain).
    if options.get("user_id")?.is_none() && options.get("username")?.is_none() {
        return Err(no_user());
    }
    let Some(password) = options.get("password")? else {
        return Err(options.missing_secret("password", "password"));
    };
    let user = options.user()?.ok_or_else(no_user)?;
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
        return Err(
            options.missing_secret("application-credential", "application_credential_secret")
        );
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

/// `token` / `v3token`: keystoneauth's token plugins, which trade the token (`auth.token`, or
/// the older `auth_token`) for one scoped to the entry's project or domain.
fn token_auth(options: &AuthOptions<'_>) -> Result<Auth, CloudsError> {
    let auth_url = options.auth_url()?;
    let Some(token) = options.get("token")? else {
        return Err(options.missing_secret("token", "token"));
    };
    Ok(Auth::Token {
        auth_url,
        token: Secret(token),
        scope: options.scope()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clients::clouds::testing::*;

    #[test]
    fn application_credential_by_id() {
        let machine = Machine::new();
        let config = machine
            .load(
                "site-a",
                "clouds:\n  site-a:\n    auth_type: v3applicationcredential\n    auth:\n      \
                 auth_url: https://a\n      application_credential_id: ac-1\n      \
                 application_credential_secret: s3cret\n",
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
    fn an_application_credential_without_auth_type_is_refused_as_openstacksdk_would_fail() {
        let (message, hint) = failure(
            "    auth:\n      auth_url: https://a\n      application_credential_id: ac-1\n      \
             application_credential_secret: s3cret\n",
        );
        assert_eq!(
            message,
            "cloud `site-a` in FILE has an application credential but no `auth_type`: \
             openstacksdk would authenticate with a password, which it lacks"
        );
        assert_eq!(
            hint,
            "add `auth_type: v3applicationcredential` to cloud `site-a`"
        );
    }

    #[test]
    fn token_auth_trades_a_token_for_a_scoped_one() {
        for (auth_type, token_key) in [("v3token", "token"), ("token", "auth_token")] {
            let machine = Machine::new();
            let config = machine
                .load(
                    "site-a",
                    &format!(
                        "clouds:\n  site-a:\n    auth_type: {auth_type}\n    {token_key}: t0k3n\n    \
                         auth:\n      auth_url: https://a\n      project_name: p\n      \
                         project_domain_name: Default\n"
                    ),
                )
                .unwrap();
            assert_eq!(
                config.auth,
                Auth::Token {
                    auth_url: "https://a".to_string(),
                    token: Secret::new("t0k3n"),
                    scope: named_project("p", DomainRef::default()),
                }
            );
            assert_eq!(config.auth.kind(), "v3token");
            assert!(!format!("{config:?}").contains("t0k3n"));
        }
        let (message, hint) =
            failure("    auth_type: v3token\n    auth:\n      auth_url: https://a\n");
        assert_eq!(
            message,
            "cloud `site-a` in FILE uses token auth but has no `auth.token`"
        );
        assert!(
            hint.starts_with("add `token` under `clouds.site-a.auth`"),
            "{hint}"
        );
    }

    #[test]
    fn auth_plugin_alone_is_refused_as_openstacksdk_reads_it_no_more() {
        let (message, hint) =
            failure("    auth_plugin: v3token\n    auth:\n      auth_url: https://a\n");
        assert_eq!(
            message,
            "cloud `site-a` in FILE sets `auth_plugin`, which protector does not honour: \
             openstacksdk 4 reads `auth_plugin` no more (its default `auth_type: password` wins \
             over it), so this cloud would use password auth, not `v3token`"
        );
        assert_eq!(
            hint,
            "write `auth_type: v3token` in cloud `site-a` instead of `auth_plugin`"
        );
        let machine = Machine::new();
        let config = machine
            .load(
                "site-a",
                "clouds:\n  site-a:\n    auth_plugin: v3oidcpassword\n    auth_type: v3token\n    \
                 auth:\n      auth_url: https://a\n      token: t\n",
            )
            .unwrap();
        assert_eq!(config.auth.kind(), "v3token");
    }

    #[test]
    fn auth_options_that_change_the_token_are_refused() {
        for (lines, key) in [
            ("      system_scope: all\n", "auth.system_scope"),
            ("      trust_id: t\n", "auth.trust_id"),
            ("      passcode: '123456'\n", "auth.passcode"),
        ] {
            let (message, hint) = failure(&format!(
                "    auth:\n      auth_url: https://a\n      username: u\n      password: p\n{lines}"
            ));
            assert!(
                message.starts_with(&format!(
                    "cloud `site-a` in FILE sets `{key}`, which protector does not honour: "
                )),
                "{message}"
            );
            assert_eq!(hint, format!("remove `{key}` from cloud `site-a`"));
        }
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
                 user_domain_name: Default\n      password: p\n      application_credential_id: ac-1\n",
            )
            .unwrap();
        assert!(matches!(config.auth, Auth::Password { .. }));
    }

    #[test]
    fn missing_auth_url() {
        let (message, hint) = failure("    auth:\n      username: u\n      password: p\n");
        assert_eq!(message, "cloud `site-a` in FILE has no `auth.auth_url`");
        assert!(
            hint.starts_with("add the Keystone URL as `clouds.site-a.auth.auth_url`"),
            "{hint}"
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
        let (message, _) = failure(
            "    auth_type: v3applicationcredential\n    auth:\n      auth_url: https://a\n      \
             application_credential_id: ac\n",
        );
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
             support (supported: password, v3password, v3applicationcredential, token, v3token)"
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
                "clouds:\n  site-a:\n    auth_type: v3applicationcredential\n    auth:\n      \
                 auth_url: https://a\n      application_credential_id: ac\n      \
                 application_credential_secret: hunter2\n",
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
