//! A cloud's TLS settings as openstacksdk combines them: `verify`, `insecure`, `cacert` (see
//! [`Verify`]), CA bundle paths (`~` and relative ones), and the client certificate protector
//! refuses (`cert`, `key`).

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::error::{CloudsError, Origin};
use super::{Context, describe, parent_dir};
use crate::clients::http::Trust;

/// What `verify` may be, as written in an error.
pub(super) const VERIFY_VALUES: &str = "true, false or the path of a CA bundle";

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
        /// The file that says so (clouds.yaml, or secure.yaml merged over it), or the
        /// environment.
        file: Origin,
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

/// The entry's TLS settings, combined as openstacksdk's `get_requests_verify_args` does (see
/// [`Verify`]). A CA bundle that is not there is an error now, not a failed handshake later.
pub(super) fn verification(
    entry: &Map<String, Value>,
    context: &Context<'_>,
) -> Result<Verify, CloudsError> {
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
        file: context.origin(key).clone(),
        cacert_unused: cacert.is_some(),
    };
    let (key, raw) = match (insecure, verify, &cacert) {
        (Some(true), _, _) => return Ok(off("insecure: true", "insecure")),
        (_, Setting::Flag(false), _) => return Ok(off("verify: false", "verify")),
        (_, _, Some(cacert)) => ("cacert", cacert.as_str()),
        (_, Setting::Bundle(path), None) => ("verify", path),
        (_, Setting::Flag(true), None) => return Ok(Verify::System),
    };
    let origin = context.origin(key);
    let from_cwd = resolve_path(raw, context.current_dir, context.home_dir);
    let path = match origin {
        // openstacksdk hands the path to requests as it stands: relative to the working folder.
        Origin::Environment => from_cwd,
        // protector reads it from the folder of the file that sets it, so that a clouds.yaml
        // and its CA can move together; where that is another file than openstacksdk would
        // read, it says so rather than pick one.
        Origin::File(file) => {
            let from_file = resolve_path(raw, &parent_dir(file), context.home_dir);
            if !same_file(&from_file, &from_cwd) && (from_file.exists() || from_cwd.exists()) {
                return Err(CloudsError::RelativeCaBundle(Box::new(
                    super::error::RelativeCaBundle {
                        cloud: context.cloud.to_string(),
                        file: file.clone(),
                        key,
                        raw: raw.to_string(),
                        from_file,
                        from_cwd,
                    },
                )));
            }
            from_file
        }
    };
    if !path.exists() {
        return Err(CloudsError::CaBundleNotFound {
            cloud: context.cloud.to_string(),
            file: origin.clone(),
            key,
            path,
        });
    }
    Ok(Verify::Ca(path))
}

/// `cert` and `key` (a TLS client certificate) are refused, not ignored: protector does not
/// present one, and a cloud that asks for one would fail its handshakes unexplained.
pub(super) fn refuse_client_certificate(
    entry: &Map<String, Value>,
    context: &Context<'_>,
) -> Result<(), CloudsError> {
    for key in ["cert", "key"] {
        if context.string(entry.get(key), key)?.is_some() {
            return Err(CloudsError::ClientCertificate {
                cloud: context.cloud.to_string(),
                file: context.origin(key).clone(),
                key,
            });
        }
    }
    Ok(())
}

/// The same path, or two paths to the same file.
fn same_file(one: &Path, other: &Path) -> bool {
    one == other
        || matches!(
            (one.canonicalize(), other.canonicalize()),
            (Ok(one), Ok(other)) if one == other
        )
}

/// A word YAML 1.1 (PyYAML) reads as a boolean and YAML 1.2 (protector) as a string.
fn is_yaml11_boolean(text: &str) -> bool {
    ["yes", "no", "on", "off", "true", "false"]
        .iter()
        .any(|word| text.eq_ignore_ascii_case(word))
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
    use crate::clients::clouds::testing::*;
    use crate::clients::clouds::*;

    #[test]
    fn a_relative_cacert_read_alike_from_the_working_folder_and_the_files_is_used() {
        let machine = Machine::new();
        let ca = machine.write(machine.cwd.join("certs").join("ca.pem"), "PEM");
        let text = format!("{}    cacert: certs/ca.pem\n", site_a("https://a"));
        assert_eq!(
            machine.load("site-a", &text).unwrap().verify,
            Verify::Ca(ca)
        );
    }

    #[test]
    fn a_relative_cacert_openstacksdk_would_read_elsewhere_is_refused() {
        let machine = Machine::new();
        let ca = machine.write(machine.user_dir().join("certs").join("ca.pem"), "PEM");
        let clouds = machine.write(
            machine.user_dir().join("clouds.yaml"),
            &format!("{}    cacert: certs/ca.pem\n", site_a("https://a")),
        );
        let error = load_cloud(&machine.env(), "site-a").unwrap_err();
        assert_eq!(
            error.to_string(),
            format!(
                "cloud `site-a` in {}: cacert `certs/ca.pem` is a relative path, which \
                 openstacksdk reads from the working folder ({}) and protector from the folder \
                 of the file ({}), and these differ",
                display(&clouds),
                display(&machine.cwd.join("certs/ca.pem")),
                display(&ca),
            )
        );
        assert!(
            error
                .hint()
                .unwrap()
                .starts_with("write `clouds.site-a.cacert` as an absolute path"),
            "{:?}",
            error.hint()
        );

        // The same from secure.yaml, whose folder counts for what it sets.
        let machine = Machine::new();
        machine.write(machine.etc.join("ca.pem"), "PEM");
        let secure = machine.write(
            machine.etc.join("secure.yaml"),
            "clouds:\n  site-a:\n    cacert: ca.pem\n",
        );
        let error = machine.error("site-a", &site_a("https://a"));
        assert!(
            error.to_string().starts_with(&format!(
                "cloud `site-a` in {}: cacert `ca.pem`",
                display(&secure)
            )),
            "{error}"
        );
    }

    #[test]
    fn a_cacert_from_the_environment_is_relative_to_the_working_folder() {
        let machine = Machine::new();
        let ca = machine.write(machine.cwd.join("ca.pem"), "PEM");
        let env = CloudsEnvironment {
            variables: OsVariables::from_pairs([
                ("OS_AUTH_URL".to_string(), "https://a".to_string()),
                ("OS_USERNAME".to_string(), "u".to_string()),
                ("OS_USER_DOMAIN_NAME".to_string(), "Default".to_string()),
                ("OS_PASSWORD".to_string(), "p".to_string()),
                ("OS_CACERT".to_string(), "ca.pem".to_string()),
            ]),
            ..machine.env()
        };
        assert_eq!(load_cloud(&env, "envvars").unwrap().verify, Verify::Ca(ca));
    }

    #[test]
    fn a_cacert_of_tilde_is_in_home() {
        let machine = Machine::new();
        let home_ca = machine.write(machine.home.join("ca.pem"), "PEM");
        let text = format!("{}    cacert: ~/ca.pem\n", site_a("https://a"));
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
                error
                    .hint()
                    .unwrap()
                    .starts_with("remove `clouds.site-a.cert` and `clouds.site-a.key`"),
                "{:?}",
                error.hint()
            );
        }
    }

    #[test]
    fn insecure_may_be_the_string_true_or_false_as_os_insecure_is() {
        assert_eq!(verification_of(None, Some("'True'"), false), Trust::Off);
        assert_eq!(
            verification_of(None, Some("'false'"), true),
            Trust::Only(PathBuf::from("ca.pem"))
        );
    }
}
