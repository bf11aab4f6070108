//! What the tests of the clouds.yaml modules share: a fake machine (working folder, home,
//! system folder) and the clouds they load.

use std::path::{Path, PathBuf};

use tempfile::TempDir;

use super::*;

/// A fake machine: a working folder, a home and a system folder, all under one temp dir.
pub struct Machine {
    _root: TempDir,
    pub cwd: PathBuf,
    pub home: PathBuf,
    pub etc: PathBuf,
}

impl Machine {
    pub fn new() -> Self {
        let root = tempfile::tempdir().unwrap();
        let cwd = root.path().join("work");
        let home = root.path().join("home");
        let etc = root.path().join("etc").join("openstack");
        for dir in [&cwd, &home, &etc] {
            std::fs::create_dir_all(dir).unwrap();
        }
        Machine {
            _root: root,
            cwd,
            home,
            etc,
        }
    }

    pub fn env(&self) -> CloudsEnvironment {
        CloudsEnvironment {
            os_client_config_file: None,
            os_client_secure_file: None,
            current_dir: self.cwd.clone(),
            home_dir: Some(self.home.clone()),
            xdg_config_home: None,
            system_config_dirs: vec![self.etc.clone()],
            variables: OsVariables::default(),
            command_timeout: None,
        }
    }

    pub fn user_dir(&self) -> PathBuf {
        self.home.join(".config").join("openstack")
    }

    pub fn write(&self, path: PathBuf, text: &str) -> PathBuf {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }

    /// Writes `text` as ./clouds.yaml and loads `cloud` from it.
    pub fn load(&self, cloud: &str, text: &str) -> Result<CloudConfig, CloudsError> {
        self.write(self.cwd.join("clouds.yaml"), text);
        load_cloud(&self.env(), cloud)
    }

    pub fn error(&self, cloud: &str, text: &str) -> CloudsError {
        self.load(cloud, text).unwrap_err()
    }
}

pub fn site_a(auth_url: &str) -> String {
    format!(
        "clouds:\n  site-a:\n    auth:\n      auth_url: {auth_url}\n      username: admin\n      \
         password: hunter2\n      project_name: admin\n      domain_name: Default\n"
    )
}

pub fn display(path: &Path) -> String {
    path.display().to_string()
}

pub fn password_parts(config: &CloudConfig) -> (&UserRef, &str, &Scope) {
    match &config.auth {
        Auth::Password {
            user,
            password,
            scope,
            ..
        } => (user, password.expose(), scope),
        other => panic!("expected password auth, got {other:?}"),
    }
}

pub fn named_user(name: &str, domain: DomainRef) -> UserRef {
    UserRef::Name {
        name: name.to_string(),
        domain,
    }
}

pub fn named_project(name: &str, domain: DomainRef) -> Scope {
    Scope::Project(ProjectRef::Name {
        name: name.to_string(),
        domain,
    })
}

pub fn domain_name(name: &str) -> DomainRef {
    DomainRef::Name(name.to_string())
}

/// The message (its file path written `FILE`) and hint of loading `site-a` with this entry.
pub fn failure(cloud_entry: &str) -> (String, String) {
    let machine = Machine::new();
    let error = machine.error("site-a", &format!("clouds:\n  site-a:\n{cloud_entry}"));
    let file = display(&machine.cwd.join("clouds.yaml"));
    (
        error.to_string().replace(&file, "FILE"),
        error.hint().unwrap(),
    )
}
