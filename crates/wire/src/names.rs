//! Names both sides agree on: what the Pure Storage Cinder driver renames a volume it unmanages
//! to, and the environment variables that name a site's FlashArray (`FA_<SITE>_<WHAT>`).

/// What the Pure driver appends to the array volume of a volume it unmanages.
pub const UNMANAGED_SUFFIX: &str = "-unmanaged";
/// FlashArray's longest volume name.
const ARRAY_NAME_MAX: usize = 63;

/// The name the Pure driver renames an array volume to when Cinder unmanages it:
/// `<name>-unmanaged`, its last characters dropped when that would not fit FlashArray's names.
pub fn pure_unmanaged_name(name: &str) -> String {
    if name.len() + UNMANAGED_SUFFIX.len() > ARRAY_NAME_MAX {
        let keep = name.len().saturating_sub(UNMANAGED_SUFFIX.len());
        format!("{}{UNMANAGED_SUFFIX}", &name[..keep])
    } else {
        format!("{name}{UNMANAGED_SUFFIX}")
    }
}

/// The environment variable naming convention of DESIGN §5: `FA_<SITE>_<WHAT>`, the site name
/// upper-cased with every non-alphanumeric as `_` (`site-a` → `FA_SITE_A_API_TOKEN`).
pub fn site_env_name(site: &str, what: &str) -> String {
    let site: String = site
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("FA_{site}_{what}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_names_follow_the_simulator_convention() {
        assert_eq!(site_env_name("site-a", "API_TOKEN"), "FA_SITE_A_API_TOKEN");
        assert_eq!(site_env_name("dc2.east", "URL"), "FA_DC2_EAST_URL");
    }
}
