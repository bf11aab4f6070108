//! Vendor profiles: a cloud entry's `profile: NAME` (or the older `cloud: NAME`) takes the
//! settings of `public-clouds.NAME` in clouds-public.yaml as defaults under its own, as
//! openstacksdk's `_expand_vendor_profile` does: the entry's keys win, `auth` merges key by key,
//! and the profile's region applies only when the entry names none. clouds-public.yaml is
//! searched in the folders of clouds.yaml (the first one found is read). openstacksdk's built-in
//! vendor profiles (`vexxhost`, `ovh`, ...) are not shipped with protector: a profile that
//! clouds-public.yaml does not define is refused, where openstacksdk would use its own copy or
//! carry on without one.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::error::{CloudsError, Origin};
use super::merge::normalize_keys;
use super::search::{FileKind, search};
use super::{CloudsEnvironment, describe};
use crate::yaml;

/// The vendor profile an entry was built on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VendorProfile {
    /// Its name under `public-clouds:`.
    pub name: String,
    /// The clouds-public.yaml that defines it.
    pub file: PathBuf,
}

/// What the profile gave: where it came from, and its entry (keys normalized) before the merge.
pub(super) struct Expanded {
    pub profile: VendorProfile,
    pub entry: Map<String, Value>,
}

/// Lays the profile `entry` names under it, in place. `Ok(None)` when it names none.
pub(super) fn expand(
    env: &CloudsEnvironment,
    cloud: &str,
    origin: &Origin,
    entry: &mut Map<String, Value>,
) -> Result<Option<Expanded>, CloudsError> {
    let (key, named) = match entry.get("profile") {
        None | Some(Value::Null) => ("cloud", entry.get("cloud")),
        named => ("profile", named),
    };
    let name = match named {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(name)) if name.is_empty() => return Ok(None),
        Some(Value::String(name)) => name.clone(),
        Some(other) => {
            return Err(CloudsError::InvalidValue {
                file: origin.clone(),
                what: origin.setting_in(cloud, key),
                expected: "the name of a vendor profile",
                found: describe(other).to_string(),
            });
        }
    };
    // openstacksdk: a cloud of OS_* variables names itself this way, not a profile.
    if name == env.variables.cloud_name() {
        return Ok(None);
    }

    let public = search(env, FileKind::Public)?;
    let mut public_file = None;
    let mut profile = None;
    if let Some((path, text)) = public.found {
        profile = public_clouds(&path, &text)?.remove(&name);
        public_file = Some(path);
    }
    let (Some(mut profile), Some(file)) = (profile, public_file.clone()) else {
        return Err(CloudsError::UnknownProfile {
            cloud: cloud.to_string(),
            file: origin.clone(),
            profile: name,
            public_file,
            searched: public.searched,
        });
    };
    let profile_entry = match profile.take() {
        Value::Object(map) => normalize_keys(map),
        Value::Null => Map::new(),
        other => {
            return Err(CloudsError::InvalidValue {
                file: Origin::File(file),
                what: format!("`public-clouds.{name}`"),
                expected: "a mapping",
                found: describe(&other).to_string(),
            });
        }
    };

    let mut merged = profile_entry.clone();
    let names_region = |map: &Map<String, Value>| {
        ["regions", "region_name"]
            .iter()
            .any(|key| map.get(*key).is_some_and(|value| !value.is_null()))
    };
    if names_region(entry) {
        merged.shift_remove("regions");
        merged.shift_remove("region_name");
    }
    for (key, value) in std::mem::take(entry) {
        match (merged.get_mut(&key), value) {
            (Some(Value::Object(auth)), Value::Object(incoming)) if key == "auth" => {
                auth.extend(incoming)
            }
            (_, value) => {
                merged.insert(key, value);
            }
        }
    }
    *entry = merged;
    Ok(Some(Expanded {
        profile: VendorProfile { name, file },
        entry: profile_entry,
    }))
}

/// The `public-clouds` mapping of a clouds-public.yaml.
fn public_clouds(path: &Path, text: &str) -> Result<Map<String, Value>, CloudsError> {
    let value: Value = yaml::from_str(text).map_err(|error| CloudsError::Yaml {
        path: path.to_path_buf(),
        line: error.span.line,
        column: error.span.column,
        message: error.message,
    })?;
    let invalid = |what: &str, found: &Value| CloudsError::InvalidValue {
        file: Origin::File(path.to_path_buf()),
        what: what.to_string(),
        expected: "a mapping of profile names to their settings",
        found: describe(found).to_string(),
    };
    match value {
        Value::Object(mut document) => match document.remove("public-clouds") {
            None | Some(Value::Null) => Ok(Map::new()),
            Some(Value::Object(clouds)) => Ok(clouds),
            Some(other) => Err(invalid("`public-clouds`", &other)),
        },
        other => Err(invalid("the document", &other)),
    }
}

#[cfg(test)]
mod tests {
    use crate::clients::clouds::testing::*;
    use crate::clients::clouds::*;

    const PUBLIC: &str = "public-clouds:\n  acme:\n    auth:\n      auth_url: https://keystone.acme\n      \
         user_domain_name: Acme\n      project_domain_name: Acme\n    region_name: Acme-1\n    interface: internal\n";

    #[test]
    fn a_profile_lays_its_settings_under_the_entry() {
        let machine = Machine::new();
        let public = machine.write(machine.user_dir().join("clouds-public.yaml"), PUBLIC);
        let config = machine
            .load(
                "site-a",
                "clouds:\n  site-a:\n    profile: acme\n    interface: public\n    auth:\n      \
                 username: u\n      password: p\n      project_name: p\n",
            )
            .unwrap();
        assert_eq!(config.auth.auth_url(), "https://keystone.acme");
        let (user, _, _) = password_parts(&config);
        assert_eq!(user, &named_user("u", domain_name("Acme")));
        assert_eq!(config.region_name.as_deref(), Some("Acme-1"));
        // The entry's own value wins.
        assert_eq!(config.interface, Interface::Public);
        assert_eq!(
            config.profile,
            Some(VendorProfile {
                name: "acme".to_string(),
                file: public
            })
        );
    }

    #[test]
    fn the_entrys_region_wins_over_the_profiles_and_cloud_is_the_older_spelling() {
        let machine = Machine::new();
        machine.write(machine.cwd.join("clouds-public.yml"), PUBLIC);
        let config = machine
            .load(
                "site-a",
                "clouds:\n  site-a:\n    cloud: acme\n    regions: [Acme-2]\n    auth:\n      \
                 username: u\n      password: p\n",
            )
            .unwrap();
        assert_eq!(config.region_name.as_deref(), Some("Acme-2"));
        assert_eq!(config.auth.auth_url(), "https://keystone.acme");
    }

    #[test]
    fn a_profile_clouds_public_yaml_lacks_is_refused_not_ignored() {
        let machine = Machine::new();
        let text = "clouds:\n  site-a:\n    profile: vexxhost\n    auth:\n      auth_url: https://a\n      \
             username: u\n      password: p\n";
        let error = machine.error("site-a", text);
        let message = error.to_string();
        assert!(
            message.starts_with(&format!(
                "cloud `site-a` in {} names the vendor profile `vexxhost`, which no \
                 clouds-public.yaml defines; searched in order: {} (missing)",
                display(&machine.cwd.join("clouds.yaml")),
                display(&machine.cwd.join("clouds-public.yaml")),
            )),
            "{message}"
        );
        assert!(
            error
                .hint()
                .unwrap()
                .contains("does not ship openstacksdk's built-in vendor profiles"),
            "{:?}",
            error.hint()
        );

        let public = machine.write(machine.etc.join("clouds-public.yaml"), PUBLIC);
        let message = machine.error("site-a", text).to_string();
        assert!(
            message.contains(&format!("which {} does not define;", display(&public))),
            "{message}"
        );
    }

    #[test]
    fn a_bad_clouds_public_yaml_is_named() {
        let machine = Machine::new();
        let public = machine.write(
            machine.cwd.join("clouds-public.yaml"),
            "public-clouds: [acme]\n",
        );
        let error = machine.error(
            "site-a",
            "clouds:\n  site-a:\n    profile: acme\n    auth:\n      username: u\n",
        );
        assert_eq!(
            error.to_string(),
            format!(
                "{}: `public-clouds` must be a mapping of profile names to their settings, found \
                 a list",
                display(&public)
            )
        );
    }
}
