//! Where clouds.yaml, secure.yaml and clouds-public.yaml are, as openstacksdk looks for them:
//! `OS_CLIENT_CONFIG_FILE` / `OS_CLIENT_SECURE_FILE` when set, else the working folder,
//! `$XDG_CONFIG_HOME/openstack`, `~/.config/openstack`, `$XDG_CONFIG_DIRS/openstack` (default
//! `/etc/xdg/openstack`) and `/etc/openstack`, in that order, each for `.yaml`, `.yml` and
//! `.json`; and how a file is read (bounded, UTF-8). The `OS_*` variables that make a cloud of
//! their own are captured here too (see `environment`).

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::environment::OsVariables;
use super::error::CloudsError;
use crate::spec::files::{self, FileError};
use crate::yaml;

/// The largest clouds.yaml or secure.yaml protector reads: hundreds of clouds take a few KiB.
pub const CLOUDS_FILE_LIMIT: u64 = 4 * 1024 * 1024;

/// Where to look for clouds.yaml: the process's environment captured in one value, so tests build
/// one from temporary folders instead of changing the real environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloudsEnvironment {
    /// `$OS_CLIENT_CONFIG_FILE`: when set, the only clouds.yaml read.
    pub os_client_config_file: Option<PathBuf>,
    /// `$OS_CLIENT_SECURE_FILE`: when set, the only secure.yaml read.
    pub os_client_secure_file: Option<PathBuf>,
    /// Searched first; relative paths in the two variables above, and in a cloud made of `OS_*`
    /// variables, are relative to it.
    pub current_dir: PathBuf,
    /// `$HOME`: `~/.config/openstack` is searched after the working folder, and a `cacert` of
    /// `~/...` expands here.
    pub home_dir: Option<PathBuf>,
    /// `$XDG_CONFIG_HOME`: its `openstack` folder is searched before `~/.config/openstack`.
    pub xdg_config_home: Option<PathBuf>,
    /// Searched last, in order: `$XDG_CONFIG_DIRS/openstack` (`/etc/xdg/openstack` when unset)
    /// and `/etc/openstack` for a real process.
    pub system_config_dirs: Vec<PathBuf>,
    /// The other `OS_*` variables: `OS_CLOUD`, and those that make openstacksdk's `envvars`
    /// cloud (`OS_AUTH_URL`, `OS_USERNAME`, ...).
    pub variables: OsVariables,
    /// A per-call timeout the command line sets (`--timeout`), which beats every cloud's
    /// `api_timeout`, as `openstack --timeout` does.
    pub command_timeout: Option<std::time::Duration>,
}

impl CloudsEnvironment {
    /// The environment of this process: `OS_*` variables, the working directory, `HOME`,
    /// `XDG_CONFIG_HOME`, `XDG_CONFIG_DIRS` and `/etc/openstack`.
    pub fn from_process() -> Self {
        // openstacksdk treats an empty variable as unset (`if config_file_override:`).
        fn path_from_var(name: &str) -> Option<PathBuf> {
            std::env::var_os(name)
                .filter(|value| !value.is_empty())
                .map(PathBuf::from)
        }
        CloudsEnvironment {
            os_client_config_file: path_from_var("OS_CLIENT_CONFIG_FILE"),
            os_client_secure_file: path_from_var("OS_CLIENT_SECURE_FILE"),
            current_dir: std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")),
            home_dir: path_from_var("HOME"),
            xdg_config_home: path_from_var("XDG_CONFIG_HOME"),
            system_config_dirs: system_config_dirs(std::env::var_os("XDG_CONFIG_DIRS")),
            variables: OsVariables::from_process(),
            command_timeout: None,
        }
    }

    /// The folders searched after the working folder, in order, each once.
    pub(super) fn search_dirs(&self) -> Vec<PathBuf> {
        let mut dirs = vec![self.current_dir.clone()];
        if let Some(config_home) = &self.xdg_config_home {
            dirs.push(config_home.join("openstack"));
        }
        if let Some(home) = &self.home_dir {
            dirs.push(home.join(".config").join("openstack"));
        }
        dirs.extend(self.system_config_dirs.iter().cloned());
        let mut unique: Vec<PathBuf> = Vec::with_capacity(dirs.len());
        for dir in dirs {
            if !unique.contains(&dir) {
                unique.push(dir);
            }
        }
        unique
    }
}

/// platformdirs' site config folder as openstacksdk 4 asks for it: `$XDG_CONFIG_DIRS/openstack`
/// when the variable names one folder, `/etc/xdg/openstack` when it is unset or empty. With
/// several folders, openstacksdk joins them into one path that names no folder (`a/openstack:
/// b/openstack`), so none of them is searched here either. `/etc/openstack` comes last.
fn system_config_dirs(xdg_config_dirs: Option<std::ffi::OsString>) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    match xdg_config_dirs.as_ref().and_then(|dirs| dirs.to_str()) {
        None | Some("") => dirs.push(PathBuf::from("/etc/xdg/openstack")),
        Some(value) if !value.contains(':') => dirs.push(Path::new(value).join("openstack")),
        Some(_) => {}
    }
    dirs.push(PathBuf::from("/etc/openstack"));
    dirs
}

/// A file the search looked at, and what it found there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchedFile {
    pub path: PathBuf,
    pub status: FileStatus,
}

/// What the search found at one candidate path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileStatus {
    Missing,
    /// There, but this user may not read it; skipped, as openstacksdk does.
    Unreadable,
    /// The file that was read.
    Used,
    /// There, but not read: an earlier file in the search order won.
    Ignored,
}

impl fmt::Display for SearchedFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let status = match self.status {
            FileStatus::Missing => "missing",
            FileStatus::Unreadable => "unreadable, skipped",
            FileStatus::Used => "used",
            FileStatus::Ignored => "ignored: an earlier file wins",
        };
        write!(f, "{} ({status})", self.path.display())
    }
}

/// The three files openstacksdk reads: the clouds, their secrets merged over them, and the
/// vendor profiles an entry may name (`profile:`).
#[derive(Clone, Copy)]
pub(super) enum FileKind {
    Clouds,
    Secure,
    Public,
}

impl FileKind {
    /// In each folder, in this order (openstacksdk also reads JSON, which is YAML).
    fn file_names(self) -> [&'static str; 3] {
        match self {
            FileKind::Clouds => ["clouds.yaml", "clouds.yml", "clouds.json"],
            FileKind::Secure => ["secure.yaml", "secure.yml", "secure.json"],
            FileKind::Public => [
                "clouds-public.yaml",
                "clouds-public.yml",
                "clouds-public.json",
            ],
        }
    }

    fn variable(self) -> &'static str {
        match self {
            FileKind::Clouds => "OS_CLIENT_CONFIG_FILE",
            FileKind::Secure => "OS_CLIENT_SECURE_FILE",
            FileKind::Public => "",
        }
    }

    /// The file a variable names; clouds-public.yaml has no variable of its own.
    fn explicit(self, env: &CloudsEnvironment) -> Option<&Path> {
        match self {
            FileKind::Clouds => env.os_client_config_file.as_deref(),
            FileKind::Secure => env.os_client_secure_file.as_deref(),
            FileKind::Public => None,
        }
    }
}

pub(super) struct Search {
    pub(super) found: Option<(PathBuf, String)>,
    pub(super) searched: Vec<SearchedFile>,
}

pub(super) fn search(env: &CloudsEnvironment, kind: FileKind) -> Result<Search, CloudsError> {
    if let Some(explicit) = kind.explicit(env) {
        let path = env.current_dir.join(explicit);
        return match read_text(&path) {
            Ok(text) => Ok(Search {
                searched: vec![SearchedFile {
                    path: path.clone(),
                    status: FileStatus::Used,
                }],
                found: Some((path, text)),
            }),
            Err(FileError::Io(error)) if is_missing(&error) => {
                Err(CloudsError::ExplicitFileMissing {
                    variable: kind.variable(),
                    path,
                })
            }
            Err(source) => Err(CloudsError::Read { path, source }),
        };
    }

    let mut found = None;
    let mut searched = Vec::new();
    for dir in env.search_dirs() {
        for name in kind.file_names() {
            let path = dir.join(name);
            let status = if found.is_some() {
                if path.exists() {
                    FileStatus::Ignored
                } else {
                    FileStatus::Missing
                }
            } else {
                match read_text(&path) {
                    Ok(text) => {
                        found = Some((path.clone(), text));
                        FileStatus::Used
                    }
                    Err(FileError::Io(error)) if is_missing(&error) => FileStatus::Missing,
                    // openstacksdk moves on past a file it may not open (a root-only
                    // /etc/openstack/clouds.yaml must not hide ~/.config's from other users).
                    Err(FileError::Io(error))
                        if error.kind() == io::ErrorKind::PermissionDenied =>
                    {
                        FileStatus::Unreadable
                    }
                    Err(source) => return Err(CloudsError::Read { path, source }),
                }
            };
            searched.push(SearchedFile { path, status });
        }
    }
    Ok(Search { found, searched })
}

/// A clouds.yaml or secure.yaml: at most [`CLOUDS_FILE_LIMIT`] bytes of UTF-8 (a path to
/// `/dev/zero` or a disk image ends in an error, not in memory filled).
fn read_text(path: &Path) -> Result<String, FileError> {
    let bytes = files::read_at_most(path, CLOUDS_FILE_LIMIT)?;
    String::from_utf8(bytes).map_err(|_| {
        FileError::Io(io::Error::new(
            io::ErrorKind::InvalidData,
            "it is not UTF-8 text",
        ))
    })
}

/// What Python's `os.path.exists` would call absent.
fn is_missing(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
    )
}

/// The first later file in the search that defines `cloud`, to explain a shadowed entry.
pub(super) fn defined_in_ignored(searched: &[SearchedFile], cloud: &str) -> Option<PathBuf> {
    searched
        .iter()
        .filter(|file| file.status == FileStatus::Ignored)
        .find(|file| {
            read_text(&file.path)
                .ok()
                .and_then(|text| yaml::from_str::<Value>(&text).ok())
                .and_then(|document| document.get("clouds")?.get(cloud).cloned())
                .is_some()
        })
        .map(|file| file.path.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clients::clouds::testing::*;
    use crate::clients::clouds::*;

    #[test]
    fn search_order_is_variable_then_cwd_then_user_config_then_system() {
        let machine = Machine::new();
        let etc = machine.write(machine.etc.join("clouds.yaml"), &site_a("https://etc"));
        assert_eq!(
            load_cloud(&machine.env(), "site-a").unwrap().source,
            Origin::File(etc)
        );

        let user = machine.write(
            machine.user_dir().join("clouds.yaml"),
            &site_a("https://user"),
        );
        let config = load_cloud(&machine.env(), "site-a").unwrap();
        assert_eq!(
            (config.source, config.auth.auth_url()),
            (Origin::File(user), "https://user")
        );

        let cwd = machine.write(machine.cwd.join("clouds.yaml"), &site_a("https://cwd"));
        assert_eq!(
            load_cloud(&machine.env(), "site-a").unwrap().source,
            Origin::File(cwd)
        );

        let explicit = machine.write(machine.home.join("elsewhere.yaml"), &site_a("https://env"));
        let env = CloudsEnvironment {
            os_client_config_file: Some(explicit.clone()),
            ..machine.env()
        };
        let config = load_cloud(&env, "site-a").unwrap();
        assert_eq!(
            (config.source, config.auth.auth_url()),
            (Origin::File(explicit), "https://env")
        );
    }

    #[test]
    fn clouds_yml_is_accepted_after_clouds_yaml_in_the_same_folder() {
        let machine = Machine::new();
        let yml = machine.write(
            machine.user_dir().join("clouds.yml"),
            &site_a("https://yml"),
        );
        assert_eq!(
            load_cloud(&machine.env(), "site-a").unwrap().source,
            Origin::File(yml)
        );
        let yaml = machine.write(
            machine.user_dir().join("clouds.yaml"),
            &site_a("https://yaml"),
        );
        assert_eq!(
            load_cloud(&machine.env(), "site-a").unwrap().source,
            Origin::File(yaml)
        );
    }

    #[test]
    fn a_relative_os_client_config_file_is_relative_to_the_current_dir() {
        let machine = Machine::new();
        let file = machine.write(
            machine.cwd.join("conf").join("my.yaml"),
            &site_a("https://a"),
        );
        let env = CloudsEnvironment {
            os_client_config_file: Some(PathBuf::from("conf/my.yaml")),
            ..machine.env()
        };
        assert_eq!(
            load_cloud(&env, "site-a").unwrap().source,
            Origin::File(file)
        );
    }

    #[test]
    fn os_client_config_file_pointing_nowhere_is_an_error_even_with_other_files_present() {
        let machine = Machine::new();
        machine.write(machine.cwd.join("clouds.yaml"), &site_a("https://cwd"));
        let missing = machine.home.join("typo.yaml");
        let env = CloudsEnvironment {
            os_client_config_file: Some(missing.clone()),
            ..machine.env()
        };
        let error = load_cloud(&env, "site-a").unwrap_err();
        assert_eq!(
            error.to_string(),
            format!(
                "OS_CLIENT_CONFIG_FILE is set to {}, which does not exist",
                display(&missing)
            )
        );
        assert!(
            error
                .hint()
                .unwrap()
                .starts_with("point OS_CLIENT_CONFIG_FILE at an existing")
        );
    }

    #[test]
    fn no_clouds_file_lists_every_candidate_in_order() {
        let machine = Machine::new();
        let error = load_cloud(&machine.env(), "site-a").unwrap_err();
        let user = machine.user_dir();
        let expected = [
            machine.cwd.join("clouds.yaml"),
            machine.cwd.join("clouds.yml"),
            machine.cwd.join("clouds.json"),
            user.join("clouds.yaml"),
            user.join("clouds.yml"),
            user.join("clouds.json"),
            machine.etc.join("clouds.yaml"),
            machine.etc.join("clouds.yml"),
            machine.etc.join("clouds.json"),
        ]
        .iter()
        .map(|path| format!("{} (missing)", display(path)))
        .collect::<Vec<_>>()
        .join(", ");
        assert_eq!(
            error.to_string(),
            format!("no clouds.yaml found; searched in order: {expected}")
        );
        let hint = error.hint().unwrap();
        assert!(hint.contains("OS_CLIENT_CONFIG_FILE"), "{hint}");
        assert!(hint.contains("use the cloud `envvars`"), "{hint}");
    }

    #[test]
    fn the_same_folder_is_searched_once() {
        let machine = Machine::new();
        let env = CloudsEnvironment {
            current_dir: machine.etc.clone(),
            ..machine.env()
        };
        let CloudsError::NoCloudsFile { searched, .. } = load_cloud(&env, "site-a").unwrap_err()
        else {
            panic!("expected NoCloudsFile");
        };
        assert_eq!(searched.len(), 6);
    }

    #[test]
    fn unknown_cloud_lists_the_files_searched_and_the_clouds_found() {
        let machine = Machine::new();
        let used = machine.write(
            machine.user_dir().join("clouds.yaml"),
            "clouds:\n  site-b: {}\n  site-c: {}\n",
        );
        let ignored = machine.write(machine.etc.join("clouds.yaml"), &site_a("https://etc"));
        let error = load_cloud(&machine.env(), "site-a").unwrap_err();
        let cwd = &machine.cwd;
        assert_eq!(
            error.to_string(),
            format!(
                "cloud `site-a` not found: {used} defines only `site-b`, `site-c`; searched in \
                 order: {} (missing), {} (missing), {} (missing), {used} (used), {} (missing), \
                 {} (missing), {ignored} (ignored: an earlier file wins), {} (missing), {} \
                 (missing)",
                display(&cwd.join("clouds.yaml")),
                display(&cwd.join("clouds.yml")),
                display(&cwd.join("clouds.json")),
                display(&machine.user_dir().join("clouds.yml")),
                display(&machine.user_dir().join("clouds.json")),
                display(&machine.etc.join("clouds.yml")),
                display(&machine.etc.join("clouds.json")),
                used = display(&used),
                ignored = display(&ignored),
            )
        );
        assert_eq!(
            error.hint().unwrap(),
            format!(
                "`site-a` is defined in {ignored}, but {used} comes first in the search order and \
                 is the only file read: set OS_CLIENT_CONFIG_FILE={ignored}, or move the entry",
                ignored = display(&ignored),
                used = display(&used),
            )
        );
    }

    #[test]
    fn unknown_cloud_in_the_named_file_suggests_adding_it() {
        let machine = Machine::new();
        let file = machine.write(machine.home.join("c.yaml"), "clouds: {}\n");
        let secure = machine.write(machine.home.join("s.yaml"), "clouds:\n  site-b: {}\n");
        let env = CloudsEnvironment {
            os_client_config_file: Some(file.clone()),
            os_client_secure_file: Some(secure.clone()),
            ..machine.env()
        };
        let error = load_cloud(&env, "site-a").unwrap_err();
        assert_eq!(
            error.to_string(),
            format!(
                "cloud `site-a` not found: {file} and {secure} define only `site-b`; searched in \
                 order: {file} (used)",
                file = display(&file),
                secure = display(&secure),
            )
        );
        assert_eq!(
            error.hint().unwrap(),
            format!(
                "add a `site-a` entry under `clouds:` in {}, or point OS_CLIENT_CONFIG_FILE at \
                 the clouds.yaml that has it",
                display(&file)
            )
        );
    }

    #[test]
    fn a_file_without_clouds_defines_none() {
        let machine = Machine::new();
        let error = machine.error("site-a", "client:\n  force_ipv4: true\n");
        assert!(
            error
                .to_string()
                .contains("clouds.yaml defines no clouds; searched"),
            "{error}"
        );
        assert!(
            error.hint().unwrap().starts_with(
                "set OS_CLIENT_CONFIG_FILE to your clouds.yaml, or add a `site-a` entry"
            )
        );
    }

    #[test]
    fn os_client_secure_file_names_the_only_secure_file() {
        let machine = Machine::new();
        machine.write(
            machine.cwd.join("secure.yaml"),
            "clouds:\n  site-a:\n    auth:\n      password: ignored\n",
        );
        let named = machine.write(
            machine.home.join("vault.yaml"),
            "clouds:\n  site-a:\n    auth:\n      password: named\n",
        );
        machine.write(machine.cwd.join("clouds.yaml"), &site_a("https://a"));
        let env = CloudsEnvironment {
            os_client_secure_file: Some(named),
            ..machine.env()
        };
        let config = load_cloud(&env, "site-a").unwrap();
        assert_eq!(password_parts(&config).1, "named");

        let missing = machine.home.join("nope.yaml");
        let env = CloudsEnvironment {
            os_client_secure_file: Some(missing.clone()),
            ..machine.env()
        };
        let error = load_cloud(&env, "site-a").unwrap_err();
        assert_eq!(
            error.to_string(),
            format!(
                "OS_CLIENT_SECURE_FILE is set to {}, which does not exist",
                display(&missing)
            )
        );
    }

    #[test]
    fn clouds_files_are_read_bounded() {
        let machine = Machine::new();
        let env = CloudsEnvironment {
            os_client_config_file: Some(PathBuf::from("/dev/zero")),
            ..machine.env()
        };
        let error = load_cloud(&env, "site-a").unwrap_err();
        assert_eq!(
            error.to_string(),
            "cannot read /dev/zero: it holds more than 4 MiB"
        );
        std::fs::write(machine.cwd.join("clouds.yaml"), b"clouds:\n  \xff: {}\n").unwrap();
        let error = load_cloud(&machine.env(), "site-a").unwrap_err();
        assert!(
            error
                .to_string()
                .ends_with("clouds.yaml: it is not UTF-8 text"),
            "{error}"
        );
    }

    #[test]
    fn xdg_config_home_comes_before_the_home_config_folder() {
        let machine = Machine::new();
        machine.write(
            machine.user_dir().join("clouds.yaml"),
            &site_a("https://home"),
        );
        let xdg = machine.home.join("xdg");
        let file = machine.write(
            xdg.join("openstack").join("clouds.yaml"),
            &site_a("https://xdg"),
        );
        let env = CloudsEnvironment {
            xdg_config_home: Some(xdg),
            ..machine.env()
        };
        assert_eq!(
            load_cloud(&env, "site-a").unwrap().source,
            Origin::File(file)
        );
    }

    #[test]
    fn system_folders_follow_xdg_config_dirs_as_openstacksdk_does() {
        let etc = || PathBuf::from("/etc/openstack");
        assert_eq!(
            system_config_dirs(None),
            vec![PathBuf::from("/etc/xdg/openstack"), etc()]
        );
        assert_eq!(
            system_config_dirs(Some("".into())),
            vec![PathBuf::from("/etc/xdg/openstack"), etc()]
        );
        assert_eq!(
            system_config_dirs(Some("/opt/conf".into())),
            vec![PathBuf::from("/opt/conf/openstack"), etc()]
        );
        // Several folders: openstacksdk joins them into a path that names none.
        assert_eq!(system_config_dirs(Some("/a:/b".into())), vec![etc()]);
    }

    #[test]
    fn clouds_json_is_read_after_clouds_yaml_and_yml() {
        let machine = Machine::new();
        let json = machine.write(
            machine.cwd.join("clouds.json"),
            r#"{"clouds": {"site-a": {"auth": {"auth_url": "https://json", "username": "u",
                "user_domain_name": "Default", "password": "p"}}}}"#,
        );
        let config = load_cloud(&machine.env(), "site-a").unwrap();
        assert_eq!(
            (config.source, config.auth.auth_url()),
            (Origin::File(json), "https://json")
        );
        let yml = machine.write(machine.cwd.join("clouds.yml"), &site_a("https://yml"));
        assert_eq!(
            load_cloud(&machine.env(), "site-a").unwrap().source,
            Origin::File(yml)
        );
    }
}
