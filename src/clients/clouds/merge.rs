//! A clouds.yaml as openstacksdk reads it before any auth plugin sees it: the document parsed
//! and its keys normalized, secure.yaml merged over it key by key, and the legacy spellings
//! fixed up (dashed keys, `tenant_*`, auth keys at the top of the entry, `domain_*` shared by
//! user and project, `regions` and `region_name` lists, `endpoint_type`).

use std::path::Path;

use serde_json::{Map, Value};

use super::error::{CloudsError, Origin};
use super::{Context, describe};
use crate::yaml;

/// Parses a clouds.yaml or secure.yaml and normalizes each cloud entry's keys.
pub(super) fn parse_document(path: &Path, text: &str) -> Result<Map<String, Value>, CloudsError> {
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
                file: Origin::File(path.to_path_buf()),
                what: "the document".to_string(),
                expected: "a mapping with a `clouds` key",
                found: "an empty document".to_string(),
            });
        }
        other => {
            return Err(CloudsError::InvalidValue {
                file: Origin::File(path.to_path_buf()),
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
                file: Origin::File(path.to_path_buf()),
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
                    file: Origin::File(path.to_path_buf()),
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
pub(super) fn normalize_keys(map: Map<String, Value>) -> Map<String, Value> {
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
pub(super) fn merge_into(base: &mut Map<String, Value>, overlay: Map<String, Value>) {
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
    ("token", &["auth_token", "token"]),
    ("passcode", &["passcode"]),
];

/// openstacksdk's fix-ups of an entry's legacy spellings (its `magic_fixes`), before any auth
/// plugin reads it: a `*_timeout` setting becomes `api_timeout`, `auth_plugin` becomes
/// `auth_type`, the auth keys written at the top of the entry or with their `tenant_*` names
/// move into `auth`, `*endpoint_type` becomes `*interface`, and `domain_*` fills the user's and
/// the project's domain. Answers the entry's `auth` mapping, taken out of it.
pub(super) fn fix_legacy(
    entry: &mut Map<String, Value>,
    context: &Context<'_>,
) -> Result<Map<String, Value>, CloudsError> {
    // `_fix_backwards_api_timeout`: any `<something>_timeout` (`compute_timeout`) is the
    // timeout of every call, the last one in the entry winning, even over `api_timeout`.
    let legacy_timeouts: Vec<String> = entry
        .keys()
        .filter(|key| key.ends_with("timeout") && *key != "timeout" && *key != "api_timeout")
        .cloned()
        .collect();
    for key in legacy_timeouts {
        if let Some(value) = entry.shift_remove(&key) {
            entry.insert("api_timeout".to_string(), value);
        }
    }
    // `_fix_backwards_auth_plugin`: `auth_type` wins over the older `auth_plugin`, and since
    // openstacksdk 4 always holds its default `auth_type: password`, `auth_plugin` never counts
    // there: an entry that relies on it is refused rather than read as password auth unsaid.
    if let Some(plugin) = entry.shift_remove("auth_plugin") {
        let plugin = context.string(Some(&plugin), "auth_plugin")?;
        let auth_type = context.string(entry.get("auth_type"), "auth_type")?;
        if let (Some(plugin), None) = (plugin, auth_type)
            && plugin != "password"
        {
            return Err(CloudsError::Unsupported {
                cloud: context.cloud.to_string(),
                file: context.origin("auth_plugin").clone(),
                key: "auth_plugin".to_string(),
                why: format!(
                    "openstacksdk 4 reads `auth_plugin` no more (its default `auth_type: \
                     password` wins over it), so this cloud would use password auth, not \
                     `{plugin}`"
                ),
                hint: format!(
                    "write `auth_type: {plugin}` in cloud `{}` instead of `auth_plugin`",
                    context.cloud
                ),
            });
        }
    }
    // `_fix_backwards_interface`: `endpoint_type` is `interface`, `compute_endpoint_type` is
    // `compute_interface`, and so on, in entry order, so the later spelling wins; openstacksdk's
    // defaults put `interface` first, so a legacy `endpoint_type` always wins over it.
    if entry.keys().any(|key| key.ends_with("endpoint_type")) {
        let old = std::mem::take(entry);
        if let Some(interface) = old.get("interface") {
            entry.insert("interface".to_string(), interface.clone());
        }
        for (key, value) in old {
            if key != "interface" {
                entry.insert(key.replace("endpoint_type", "interface"), value);
            }
        }
    }

    let mut auth = match entry.shift_remove("auth") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(auth)) => auth,
        Some(other) => {
            return Err(context.invalid("auth", "a mapping", describe(&other).to_string()));
        }
    };
    for (target, spellings) in MOVED_INTO_AUTH {
        let mut winner = None;
        for spelling in *spellings {
            let in_auth = auth.shift_remove(*spelling);
            if let Some(value) = context.string(in_auth.as_ref(), &format!("auth.{spelling}"))? {
                winner = Some(value);
            }
            let on_top = entry.shift_remove(*spelling);
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
            if let Some(value) = auth.shift_remove(generic) {
                for key in specific {
                    auth.entry(key).or_insert_with(|| value.clone());
                }
            }
        }
    }
    Ok(auth)
}

/// openstacksdk's region choice when none is asked for: the first of `regions`, else the first
/// of `region_name` (a comma-separated list is deprecated but still read). A region given as a
/// mapping may carry `values` that override the cloud's settings.
pub(super) fn select_region(
    entry: &mut Map<String, Value>,
    context: &Context<'_>,
) -> Result<Option<String>, CloudsError> {
    let regions = entry.shift_remove("regions");
    let region_name = entry.shift_remove("region_name");
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

#[cfg(test)]
mod tests {
    use crate::clients::clouds::testing::*;
    use crate::clients::clouds::*;

    #[test]
    fn secure_yaml_merges_key_by_key_and_wins() {
        let machine = Machine::new();
        machine.write(
            machine.cwd.join("clouds.yaml"),
            "clouds:\n  site-a:\n    region_name: RegionOne\n    auth:\n      auth_url: https://a\n      \
             username: admin\n      password: from-clouds\n      project_name: admin\n      \
             domain_name: Default\n",
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
    fn a_user_or_project_named_without_its_domain_is_refused_as_keystone_would() {
        let (message, hint) = failure(
            "    auth:\n      auth_url: https://a\n      username: u\n      password: p\n      \
             project_name: p\n",
        );
        assert_eq!(
            message,
            "cloud `site-a` in FILE names its user (`auth.username`) but not the user's domain: \
             openstacksdk would send none, and Keystone refuses a user name without one"
        );
        assert!(
            hint.starts_with("add `clouds.site-a.auth.user_domain_name` (`Default` on DevStack"),
            "{hint}"
        );
        let (message, _) = failure(
            "    auth:\n      auth_url: https://a\n      user_id: u-1\n      password: p\n      \
             project_name: p\n",
        );
        assert!(
            message.contains("names its project (`auth.project_name`) but not the project's"),
            "{message}"
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
            domains("      user_domain_name: Users\n      domain_name: Corp\n"),
            (
                named_user("u", domain_name("Users")),
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
}
