//! Clouds made of `OS_*` environment variables, as openstacksdk makes its `envvars` cloud: every
//! `OS_<KEY>` variable becomes the setting `<key>` of a cloud named `envvars` (or
//! `$OS_CLOUD_NAME`), which then reads like any entry of clouds.yaml (`OS_PROJECT_NAME` is
//! `project_name`, `OS_CACERT` is `cacert`, `OS_INTERFACE` is `interface`). The cloud exists when
//! at least one variable other than the ones that only choose (`OS_CLOUD`, `OS_REGION_NAME`,
//! `OS_CLIENT_CONFIG_FILE`, `OS_CLIENT_SECURE_FILE`, `OS_CLOUD_NAME`) is set. `OS_CLOUD` names the
//! cloud to use when none is named.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::{Map, Value};

/// The cloud's name when `OS_CLOUD_NAME` does not give another.
pub const ENVIRONMENT_CLOUD: &str = "envvars";

/// Variables that only choose a cloud or a file: alone, they make no cloud.
const SELECTORS: [&str; 5] = [
    "OS_CLOUD",
    "OS_REGION_NAME",
    "OS_CLIENT_CONFIG_FILE",
    "OS_CLIENT_SECURE_FILE",
    "OS_CLOUD_NAME",
];

/// The `OS_*` variables of a process (without those of test runners openstacksdk skips too:
/// `OS_TEST*`, `OS_STD*`, `OS_LOG*`). Their values may be secrets (`OS_PASSWORD`), so `{:?}`
/// shows only their names.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct OsVariables(BTreeMap<String, String>);

impl fmt::Debug for OsVariables {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

impl OsVariables {
    /// This process's `OS_*` variables (those that are not UTF-8 are left out).
    pub fn from_process() -> Self {
        OsVariables::from_pairs(std::env::vars())
    }

    /// The `OS_*` variables among `pairs`, as a process environment holds them.
    pub fn from_pairs(pairs: impl IntoIterator<Item = (String, String)>) -> Self {
        OsVariables(
            pairs
                .into_iter()
                .filter(|(name, _)| {
                    name.starts_with("OS_")
                        && !["OS_TEST", "OS_STD", "OS_LOG"]
                            .iter()
                            .any(|skipped| name.starts_with(skipped))
                })
                .collect(),
        )
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// `$OS_CLOUD`: the cloud to use when a command names none (an empty value is unset).
    pub fn default_cloud(&self) -> Option<&str> {
        self.get("OS_CLOUD").filter(|name| !name.is_empty())
    }

    /// The name of the cloud the variables make: `$OS_CLOUD_NAME`, else `envvars`.
    pub fn cloud_name(&self) -> &str {
        self.get("OS_CLOUD_NAME").unwrap_or(ENVIRONMENT_CLOUD)
    }

    /// The cloud entry the variables make, as clouds.yaml would hold it (every value a string),
    /// or `None` when only selectors are set. The variables that choose a file or a cloud are
    /// left out; `OS_REGION_NAME` stays, as the cloud's region.
    pub fn entry(&self) -> Option<Map<String, Value>> {
        if self.0.keys().all(|name| SELECTORS.contains(&name.as_str())) {
            return None;
        }
        Some(
            self.0
                .iter()
                .filter(|(name, _)| {
                    name.as_str() == "OS_REGION_NAME" || !SELECTORS.contains(&name.as_str())
                })
                .map(|(name, value)| {
                    (
                        name["OS_".len()..].to_ascii_lowercase(),
                        Value::String(value.clone()),
                    )
                })
                .collect(),
        )
    }

    /// The variable that sets `key` (a path in the entry: `auth.password`), for messages.
    pub fn variable_for(key: &str) -> String {
        let last = key.rsplit('.').next().unwrap_or(key);
        let last = last.split('[').next().unwrap_or(last);
        format!("OS_{}", last.to_ascii_uppercase())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn variables(pairs: &[(&str, &str)]) -> OsVariables {
        OsVariables::from_pairs(
            pairs
                .iter()
                .map(|(name, value)| (name.to_string(), value.to_string())),
        )
    }

    #[test]
    fn each_os_variable_becomes_a_lowercase_setting() {
        let entry = variables(&[
            ("OS_AUTH_URL", "https://k/v3"),
            ("OS_PROJECT_NAME", "prod"),
            ("OS_REGION_NAME", "East"),
            ("OS_CLOUD", "elsewhere"),
            ("OS_TEST_TIMEOUT", "60"),
            ("HOME", "/root"),
        ])
        .entry()
        .unwrap();
        assert_eq!(
            serde_json::to_value(&entry).unwrap(),
            serde_json::json!({"auth_url": "https://k/v3", "project_name": "prod", "region_name": "East"})
        );
    }

    #[test]
    fn selectors_alone_make_no_cloud() {
        assert_eq!(
            variables(&[("OS_CLOUD", "site-a"), ("OS_REGION_NAME", "East")]).entry(),
            None
        );
        assert_eq!(variables(&[]).entry(), None);
    }

    #[test]
    fn the_cloud_is_named_envvars_unless_os_cloud_name_says_otherwise() {
        assert_eq!(variables(&[]).cloud_name(), "envvars");
        assert_eq!(
            variables(&[("OS_CLOUD_NAME", "from-env")]).cloud_name(),
            "from-env"
        );
        assert_eq!(variables(&[("OS_CLOUD", "")]).default_cloud(), None);
        assert_eq!(
            variables(&[("OS_CLOUD", "site-b")]).default_cloud(),
            Some("site-b")
        );
    }

    #[test]
    fn values_never_show_in_debug() {
        let shown = format!("{:?}", variables(&[("OS_PASSWORD", "hunter2")]));
        assert_eq!(shown, "{\"OS_PASSWORD\"}");
    }

    #[test]
    fn messages_name_the_variable_of_a_setting() {
        assert_eq!(OsVariables::variable_for("auth.password"), "OS_PASSWORD");
        assert_eq!(OsVariables::variable_for("insecure"), "OS_INSECURE");
    }

    mod loading {
        use crate::clients::clouds::testing::*;
        use crate::clients::clouds::*;

        fn env(machine: &Machine, pairs: &[(&str, &str)]) -> CloudsEnvironment {
            CloudsEnvironment {
                variables: OsVariables::from_pairs(
                    pairs
                        .iter()
                        .map(|(name, value)| (name.to_string(), value.to_string())),
                ),
                ..machine.env()
            }
        }

        const AUTH: [(&str, &str); 6] = [
            ("OS_AUTH_URL", "https://k/v3"),
            ("OS_USERNAME", "u"),
            ("OS_PASSWORD", "hunter2"),
            ("OS_PROJECT_NAME", "p"),
            ("OS_USER_DOMAIN_NAME", "Default"),
            ("OS_PROJECT_DOMAIN_NAME", "Default"),
        ];

        #[test]
        fn os_variables_make_a_cloud_without_any_clouds_yaml() {
            let machine = Machine::new();
            let mut pairs = AUTH.to_vec();
            pairs.extend([
                ("OS_REGION_NAME", "East"),
                ("OS_ENDPOINT_TYPE", "internalURL"),
                ("OS_INSECURE", "True"),
                ("OS_COMPUTE_API_VERSION", "2.1"),
            ]);
            let config = load_cloud(&env(&machine, &pairs), "envvars").unwrap();
            assert_eq!(config.source, Origin::Environment);
            assert_eq!(config.auth.auth_url(), "https://k/v3");
            assert_eq!(password_parts(&config).1, "hunter2");
            assert_eq!(config.region_name.as_deref(), Some("East"));
            assert_eq!(config.interface, Interface::Internal);
            assert_eq!(
                config.verify,
                Verify::Off {
                    setting: "insecure: true",
                    file: Origin::Environment,
                    cacert_unused: false
                }
            );
            assert!(
                config
                    .unverified_warning("site-a")
                    .unwrap()
                    .contains("in the environment (OS_* variables)")
            );
            assert!(!format!("{config:?}").contains("hunter2"));
        }

        #[test]
        fn errors_about_a_cloud_of_variables_name_the_variables() {
            let machine = Machine::new();
            let pairs: Vec<_> = AUTH
                .iter()
                .filter(|(name, _)| *name != "OS_PASSWORD")
                .collect();
            let pairs: Vec<(&str, &str)> = pairs.into_iter().copied().collect();
            let error = load_cloud(&env(&machine, &pairs), "envvars").unwrap_err();
            assert_eq!(
                error.to_string(),
                "cloud `envvars` in the environment (OS_* variables) uses password auth but has \
                 no `OS_PASSWORD`"
            );
            assert_eq!(
                error.hint().unwrap(),
                "set `OS_PASSWORD` for the cloud `envvars`"
            );

            let mut pairs = AUTH.to_vec();
            pairs.push(("OS_INSECURE", "yes"));
            let error = load_cloud(&env(&machine, &pairs), "envvars").unwrap_err();
            assert_eq!(
                error.to_string(),
                "the environment (OS_* variables): `OS_INSECURE` must be true or false, found a \
                 string"
            );
        }

        #[test]
        fn os_cloud_name_renames_the_cloud_and_a_clouds_yaml_may_not_take_its_name() {
            let machine = Machine::new();
            let mut pairs = AUTH.to_vec();
            pairs.push(("OS_CLOUD_NAME", "from-env"));
            let config = load_cloud(&env(&machine, &pairs), "from-env").unwrap();
            assert_eq!(config.name, "from-env");

            let clouds = machine.write(
                machine.cwd.join("clouds.yaml"),
                "clouds:\n  envvars: {}\n  site-a: {}\n",
            );
            let error = load_cloud(&env(&machine, &AUTH), "site-a").unwrap_err();
            assert_eq!(
                error.to_string(),
                format!(
                    "{} defines a cloud named `envvars`, the name of the cloud made of OS_* \
                     variables",
                    display(&clouds)
                )
            );
            assert!(error.hint().unwrap().contains("OS_CLOUD_NAME"));
        }

        #[test]
        fn a_cloud_of_variables_is_used_beside_a_clouds_yaml_and_only_when_asked_for() {
            let machine = Machine::new();
            machine.write(machine.cwd.join("clouds.yaml"), &site_a("https://file"));
            let env = env(&machine, &AUTH);
            assert_eq!(
                load_cloud(&env, "envvars").unwrap().auth.auth_url(),
                "https://k/v3"
            );
            assert_eq!(
                load_cloud(&env, "site-a").unwrap().auth.auth_url(),
                "https://file"
            );
            // Without variables, `envvars` is a cloud like any other: not found.
            let error = load_cloud(&machine.env(), "envvars").unwrap_err();
            assert!(matches!(error, CloudsError::UnknownCloud(_)), "{error}");
        }
    }
}
