//! The settings of a cloud entry beyond auth and TLS, sorted as openstacksdk reads them: those
//! protector honours (`api_timeout`, and per service `<service>_endpoint_override`,
//! `_interface`, `_region_name`, `_api_version` where it names the version protector speaks),
//! those it refuses because they would change how it reaches compute, block storage, network or
//! identity in a way it does not implement (`<service>_service_type`, `_service_name`,
//! `_default_microversion`, the retry settings, `has_<service>: false`, ...), and those that
//! configure only what protector never uses (other services, openstacksdk's cloud layer:
//! `image_format`, `networks`, `floating_ip_source`, ...), which are listed, not ignored
//! unseen: `protector cloud show` prints them.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Map, Value};

use super::error::CloudsError;
use super::{Context, Interface, describe};

/// A service protector calls, as clouds.yaml names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Service {
    Compute,
    BlockStorage,
    Network,
    Identity,
}

impl Service {
    pub const ALL: [Service; 4] = [
        Service::Compute,
        Service::BlockStorage,
        Service::Network,
        Service::Identity,
    ];

    /// The prefixes of its settings, in the order openstacksdk looks them up (the service
    /// type's aliases in os-service-types): `block_storage_endpoint_override`, else
    /// `volumev3_endpoint_override`, ...
    pub fn prefixes(self) -> &'static [&'static str] {
        match self {
            Service::Compute => &["compute"],
            Service::BlockStorage => &[
                "block_storage",
                "volumev3",
                "volumev2",
                "volume",
                "block_store",
            ],
            Service::Network => &["network"],
            Service::Identity => &["identity"],
        }
    }

    /// The official service type: `compute`, `block-storage`, `network`, `identity`.
    pub fn service_type(self) -> &'static str {
        match self {
            Service::Compute => "compute",
            Service::BlockStorage => "block-storage",
            Service::Network => "network",
            Service::Identity => "identity",
        }
    }

    /// The `<prefix>_api_version` values that name the API protector speaks. openstacksdk reads
    /// a version with a minor part as a default microversion too (`compute_api_version: 2.79`),
    /// which protector does not take: it sends the microversion each call needs.
    fn speaks(self, version: &str) -> bool {
        match self {
            Service::Compute => matches!(version, "2" | "2.1"),
            Service::BlockStorage | Service::Identity => matches!(version, "3" | "3.0"),
            Service::Network => matches!(version, "2" | "2.0"),
        }
    }

    fn api(self) -> &'static str {
        match self {
            Service::Compute => "Nova's API v2.1 (with the microversions it needs)",
            Service::BlockStorage => "Cinder's API v3",
            Service::Network => "Neutron's API v2.0",
            Service::Identity => "Keystone's API v3",
        }
    }
}

/// What a cloud entry says about one service.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceSettings {
    /// `<service>_endpoint_override` (else `<service>_endpoint`): the URL to call instead of
    /// the catalog's.
    pub endpoint_override: Option<String>,
    /// `<service>_interface` (or `<service>_endpoint_type`): which catalog endpoint, for this
    /// service only.
    pub interface: Option<Interface>,
    /// `<service>_region_name`: which region's endpoint, for this service only.
    pub region_name: Option<String>,
}

/// Settings that take the service's prefix and protector does not honour, with why.
const REFUSED_PER_SERVICE: [(&str, &str); 8] = [
    (
        "service_type",
        "it finds each service in the catalog by its official type",
    ),
    (
        "service_name",
        "it finds each service in the catalog by its type alone",
    ),
    (
        "default_microversion",
        "it sends the microversion each of its calls needs",
    ),
    ("connect_retries", RETRIES),
    ("connect_retry_delay", RETRIES),
    ("status_code_retries", RETRIES),
    ("status_code_retry_delay", RETRIES),
    ("retriable_status_codes", RETRIES),
];

const RETRIES: &str = "it retries by its own policy (reads on connection errors and any 5xx, a \
     429 after its Retry-After, each until the step's deadline; changes only where a lost answer \
     cannot do harm)";

/// Auth settings that change the token protector would get in a way it does not implement.
const REFUSED_AUTH: [(&str, &str); 3] = [
    (
        "system_scope",
        "it asks for project-scoped (or domain-scoped) tokens, never system-scoped ones",
    ),
    ("trust_id", "it does not authenticate through trusts"),
    (
        "passcode",
        "it authenticates without a second factor (TOTP is not among its auth types)",
    ),
];

/// Every top-level setting protector reads (or refuses by name) elsewhere, after the legacy
/// fix-ups: anything else in an entry configures what protector does not use.
const READ_ELSEWHERE: [&str; 30] = [
    "auth",
    "auth_type",
    "profile",
    "cloud",
    "region_name",
    "interface",
    "verify",
    "insecure",
    "cacert",
    "cert",
    "key",
    "api_timeout",
    // Auth options, which openstacksdk also takes from the top of the entry.
    "auth_url",
    "username",
    "user_id",
    "password",
    "user_domain_id",
    "user_domain_name",
    "project_id",
    "project_name",
    "project_domain_id",
    "project_domain_name",
    "domain_id",
    "domain_name",
    "default_domain_id",
    "default_domain_name",
    "application_credential_id",
    "application_credential_name",
    "application_credential_secret",
    "token",
];

/// The settings of `entry` (a cloud entry after the legacy fix-ups) for each service, after
/// refusing those protector does not honour.
pub(super) fn service_settings(
    entry: &Map<String, Value>,
    context: &Context<'_>,
) -> Result<BTreeMap<Service, ServiceSettings>, CloudsError> {
    refuse_unhonoured(entry, context)?;
    let mut all = BTreeMap::new();
    for service in Service::ALL {
        let first = |suffix: &str| -> Result<Option<(String, String)>, CloudsError> {
            for prefix in service.prefixes() {
                let key = format!("{prefix}_{suffix}");
                if let Some(value) = context.string(entry.get(&key), &key)? {
                    return Ok(Some((key, value)));
                }
            }
            Ok(None)
        };
        let endpoint_override = match first("endpoint_override")? {
            Some((_, url)) => Some(url),
            None => first("endpoint")?.map(|(_, url)| url),
        };
        let interface = match first("interface")? {
            None => None,
            Some((key, text)) => Some(Interface::parse(&text).ok_or_else(|| {
                context.invalid(&key, "public, internal or admin", format!("`{text}`"))
            })?),
        };
        let settings = ServiceSettings {
            endpoint_override,
            interface,
            region_name: first("region_name")?.map(|(_, region)| region),
        };
        if settings != ServiceSettings::default() {
            all.insert(service, settings);
        }
    }
    Ok(all)
}

fn refuse_unhonoured(entry: &Map<String, Value>, context: &Context<'_>) -> Result<(), CloudsError> {
    let refuse = |key: &str, why: String, hint: String| CloudsError::Unsupported {
        cloud: context.cloud.to_string(),
        file: context.origin(key).clone(),
        key: key.to_string(),
        why,
        hint,
    };
    for service in Service::ALL {
        for prefix in service.prefixes() {
            for (suffix, why) in REFUSED_PER_SERVICE {
                let key = format!("{prefix}_{suffix}");
                if is_set(entry.get(&key)) {
                    return Err(refuse(
                        &key,
                        format!("for {}, {why}", service.service_type()),
                        format!(
                            "remove `{key}` from cloud `{}`; protector works with a standard \
                             {} endpoint",
                            context.cloud,
                            service.service_type()
                        ),
                    ));
                }
            }
            let key = format!("{prefix}_api_version");
            if let Some(version) = context.string(entry.get(&key), &key)?
                && !service.speaks(&version)
            {
                return Err(refuse(
                    &key,
                    format!("it speaks {}, not version {version}", service.api()),
                    format!(
                        "remove `{key}` from cloud `{}`, or set it to the version protector speaks",
                        context.cloud
                    ),
                ));
            }
            let key = format!("has_{prefix}");
            if entry.get(&key) == Some(&Value::Bool(false)) {
                return Err(refuse(
                    &key,
                    format!(
                        "it needs {}, which this says the cloud lacks",
                        service.api()
                    ),
                    format!("remove `{key}: false` from cloud `{}`", context.cloud),
                ));
            }
        }
    }
    for (key, why) in REFUSED_PER_SERVICE.iter().skip(3) {
        if is_set(entry.get(*key)) {
            return Err(refuse(
                key,
                why.to_string(),
                format!("remove `{key}` from cloud `{}`", context.cloud),
            ));
        }
    }
    for key in ["rate_limit", "concurrency"] {
        let limits = match entry.get(key) {
            None | Some(Value::Null) => continue,
            Some(Value::Object(limits)) => limits,
            Some(other) => {
                return Err(context.invalid(
                    key,
                    "a mapping of service types to numbers",
                    describe(other).to_string(),
                ));
            }
        };
        let named = Service::ALL.iter().find(|service| {
            limits.contains_key(service.service_type())
                || service
                    .prefixes()
                    .iter()
                    .any(|prefix| limits.contains_key(&prefix.replace('_', "-")))
        });
        if let Some(service) = named {
            return Err(refuse(
                key,
                format!(
                    "for {}, it limits its calls by its own budgets (`--parallelism` and the \
                     per-service budgets of apply)",
                    service.service_type()
                ),
                format!(
                    "remove `{}` from `{key}` in cloud `{}`",
                    service.service_type(),
                    context.cloud
                ),
            ));
        }
    }
    Ok(())
}

/// Refuses auth options that would change the token in a way protector does not implement.
pub(super) fn refuse_auth_options(
    auth: &Map<String, Value>,
    entry: &Map<String, Value>,
    context: &Context<'_>,
) -> Result<(), CloudsError> {
    for (option, why) in REFUSED_AUTH {
        let key = if is_set(auth.get(option)) {
            format!("auth.{option}")
        } else if is_set(entry.get(option)) {
            option.to_string()
        } else {
            continue;
        };
        return Err(CloudsError::Unsupported {
            cloud: context.cloud.to_string(),
            file: context.origin(&key).clone(),
            key: key.clone(),
            why: why.to_string(),
            hint: format!("remove `{key}` from cloud `{}`", context.cloud),
        });
    }
    Ok(())
}

/// `api_timeout`: seconds, a number or a string of one (the form `OS_API_TIMEOUT` takes).
pub(super) fn api_timeout(
    entry: &Map<String, Value>,
    context: &Context<'_>,
) -> Result<Option<Duration>, CloudsError> {
    let seconds = match entry.get("api_timeout") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(text)) if text.is_empty() => return Ok(None),
        Some(Value::Number(number)) => number.as_f64(),
        Some(Value::String(text)) => text.trim().parse::<f64>().ok(),
        Some(_) => None,
    };
    match seconds {
        Some(seconds) if seconds.is_finite() && seconds > 0.0 && seconds <= 86_400.0 => {
            Ok(Some(Duration::from_secs_f64(seconds)))
        }
        _ => Err(context.invalid(
            "api_timeout",
            "a number of seconds above 0 (at most a day)",
            entry
                .get("api_timeout")
                .map(|value| match value {
                    Value::Number(number) => number.to_string(),
                    Value::String(text) => format!("`{text}`"),
                    other => describe(other).to_string(),
                })
                .unwrap_or_default(),
        )),
    }
}

/// The settings of `entry` that configure what protector never uses, in entry order.
pub(super) fn unused_keys(entry: &Map<String, Value>) -> Vec<String> {
    entry
        .iter()
        .filter(|(_, value)| is_set(Some(value)))
        .map(|(key, _)| key)
        .filter(|key| !READ_ELSEWHERE.contains(&key.as_str()))
        .filter(|key| {
            !Service::ALL.iter().any(|service| {
                service.prefixes().iter().any(|prefix| {
                    [
                        "endpoint_override",
                        "endpoint",
                        "interface",
                        "region_name",
                        "api_version",
                    ]
                    .iter()
                    .any(|suffix| **key == format!("{prefix}_{suffix}"))
                        || **key == format!("has_{prefix}")
                })
            })
        })
        .cloned()
        .collect()
}

/// Set as Python's truthiness would have it: not null, not `""`, not an empty list or mapping.
fn is_set(value: Option<&Value>) -> bool {
    match value {
        None | Some(Value::Null) => false,
        Some(Value::String(text)) => !text.is_empty(),
        Some(Value::Array(items)) => !items.is_empty(),
        Some(Value::Object(map)) => !map.is_empty(),
        Some(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::clients::clouds::testing::*;
    use crate::clients::clouds::*;

    fn with(lines: &str) -> Result<CloudConfig, CloudsError> {
        Machine::new().load("site-a", &format!("{}{lines}", site_a("https://a")))
    }

    #[test]
    fn endpoint_overrides_per_service_with_openstacksdks_aliases() {
        let config = with(
            "    compute_endpoint_override: https://nova\n    volume_endpoint_override: \
             https://old-cinder\n    volumev3_endpoint_override: https://cinder\n    \
             network_endpoint: https://neutron\n    network_endpoint_override: \
             https://neutron-override\n",
        )
        .unwrap();
        assert_eq!(
            config.endpoint_override(Service::Compute),
            Some("https://nova")
        );
        // `volumev3_` comes before `volume_` among block storage's aliases.
        assert_eq!(
            config.endpoint_override(Service::BlockStorage),
            Some("https://cinder")
        );
        // `_endpoint_override` beats `_endpoint`.
        assert_eq!(
            config.endpoint_override(Service::Network),
            Some("https://neutron-override")
        );
        assert_eq!(config.endpoint_override(Service::Identity), None);
        let config = with("    block-storage-endpoint-override: https://dashed\n").unwrap();
        assert_eq!(
            config.endpoint_override(Service::BlockStorage),
            Some("https://dashed")
        );
    }

    #[test]
    fn interface_and_region_per_service_and_their_legacy_spelling() {
        let config = with(
            "    interface: internal\n    compute_endpoint_type: adminURL\n    \
             network_region_name: West\n    region_name: East\n",
        )
        .unwrap();
        assert_eq!(config.interface_for(Service::Compute), Interface::Admin);
        assert_eq!(config.interface_for(Service::Network), Interface::Internal);
        assert_eq!(config.region_for(Service::Network), Some("West"));
        assert_eq!(config.region_for(Service::Compute), Some("East"));
        let error = with("    identity_interface: private\n").unwrap_err();
        assert!(
            error.to_string().ends_with(
                "`clouds.site-a.identity_interface` must be public, internal or admin, found \
                 `private`"
            ),
            "{error}"
        );
    }

    #[test]
    fn settings_that_change_how_a_service_is_reached_are_refused() {
        for (line, key, why) in [
            (
                "compute_service_name: nova",
                "compute_service_name",
                "by its type alone",
            ),
            (
                "volumev3_service_type: volume",
                "volumev3_service_type",
                "official type",
            ),
            (
                "compute_default_microversion: '2.60'",
                "compute_default_microversion",
                "microversion each of its calls needs",
            ),
            ("connect_retries: 3", "connect_retries", "its own policy"),
            (
                "network_status_code_retries: 3",
                "network_status_code_retries",
                "own policy",
            ),
            (
                "volume_api_version: 2",
                "volume_api_version",
                "Cinder's API v3, not version 2",
            ),
            (
                "identity_api_version: 2",
                "identity_api_version",
                "Keystone's API v3",
            ),
            (
                "compute_api_version: '2.79'",
                "compute_api_version",
                "not version 2.79",
            ),
            ("has_network: false", "has_network", "lacks"),
            ("rate_limit: {compute: 5}", "rate_limit", "own budgets"),
        ] {
            let error = with(&format!("    {line}\n")).unwrap_err();
            let message = error.to_string();
            assert!(
                message.contains(&format!("sets `{key}`, which protector does not honour: ")),
                "{message}"
            );
            assert!(message.contains(why), "{line}: {message}");
            let hint = error.hint().unwrap();
            assert!(hint.starts_with("remove `") && hint.contains(key), "{hint}");
        }
    }

    #[test]
    fn the_versions_protector_speaks_and_limits_on_other_services_pass() {
        let config = with(
            "    identity_api_version: 3\n    compute_api_version: '2.1'\n    \
             volume_api_version: 3\n    network_api_version: '2.0'\n    has_compute: true\n    \
             rate_limit: {image: 5}\n    image_api_version: 2\n",
        )
        .unwrap();
        assert_eq!(config.unused_keys, ["rate_limit", "image_api_version"]);
    }

    #[test]
    fn api_timeout_is_seconds_and_any_legacy_timeout_beats_it() {
        for (lines, seconds) in [
            ("    api_timeout: 42\n", 42.0),
            ("    api_timeout: '7.5'\n", 7.5),
            ("    api_timeout: 5\n    compute_timeout: 17\n", 17.0),
            ("    compute-timeout: 3\n", 3.0),
        ] {
            assert_eq!(
                with(lines).unwrap().api_timeout,
                Some(Duration::from_secs_f64(seconds)),
                "{lines}"
            );
        }
        // `timeout` alone is the command line's in openstacksdk, not clouds.yaml's.
        let config = with("    timeout: 9\n").unwrap();
        assert_eq!(config.api_timeout, None);
        assert_eq!(config.unused_keys, ["timeout"]);
        for value in ["0", "-1", "soon", "[1]"] {
            let error = with(&format!("    api_timeout: {value}\n")).unwrap_err();
            assert!(
                error
                    .to_string()
                    .contains("`clouds.site-a.api_timeout` must be a number of seconds above 0"),
                "{error}"
            );
        }
    }

    #[test]
    fn the_command_lines_timeout_beats_the_clouds() {
        let machine = Machine::new();
        machine.write(
            machine.cwd.join("clouds.yaml"),
            &format!("{}    api_timeout: 42\n", site_a("https://a")),
        );
        let env = CloudsEnvironment {
            command_timeout: Some(Duration::from_secs(5)),
            ..machine.env()
        };
        assert_eq!(
            load_cloud(&env, "site-a").unwrap().api_timeout,
            Some(Duration::from_secs(5))
        );
    }

    #[test]
    fn settings_for_what_protector_never_uses_are_listed_in_entry_order() {
        let config = with(
            "    floating_ip_source: neutron\n    image_format: raw\n    networks: []\n    \
             object_store_endpoint_override: https://swift\n    force_ipv4: true\n",
        )
        .unwrap();
        // An empty list says nothing, as in Python.
        assert_eq!(
            config.unused_keys,
            [
                "floating_ip_source",
                "image_format",
                "object_store_endpoint_override",
                "force_ipv4"
            ]
        );
    }
}
