//! The example group on the built-in twin, in this process: what `demo` tours and what
//! `sim plans` renders. A scratch folder holds the twin's clouds.yaml, env file, CA and the
//! example spec (its state lands there too); commands run as the real binary with the twin's
//! environment, exactly as an operator types them. Dropping the stage removes the folder.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::CommandError;
use protector_twin::fixture;
use protector_twin::outputs;
use protector_twin::server::{Twin, TwinOptions};

pub const EXAMPLE_SPEC: &str = include_str!("../../examples/prod-web-app.yaml");
pub const SPEC_FILE: &str = "prod-web-app.yaml";

pub struct Stage {
    pub twin: Twin,
    pub dir: PathBuf,
    pub env: BTreeMap<String, String>,
}

impl Drop for Stage {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn write(path: &Path, text: &str) -> Result<(), CommandError> {
    std::fs::write(path, text)
        .map_err(|error| CommandError::new(format!("cannot write {}: {error}", path.display())))
}

impl Stage {
    /// Starts the twin from `fixture_text` (seed 1, so ids repeat run to run) and writes the
    /// scratch folder `protector-<purpose>-<pid>` in the temporary directory.
    pub async fn start(
        purpose: &str,
        fixture_text: &str,
        speed: f64,
    ) -> Result<Stage, CommandError> {
        let fixture = fixture::parse(fixture_text)
            .map_err(|error| CommandError::new(format!("the built-in fixture: {error}")))?;
        let dir = std::env::temp_dir().join(format!("protector-{purpose}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|error| {
            CommandError::new(format!("cannot create {}: {error}", dir.display()))
        })?;
        let twin = Twin::start(TwinOptions {
            fixture: fixture.clone(),
            seed: 1,
            speed,
            tls_openstack: false,
        })
        .await
        .map_err(|message| CommandError::new(format!("cannot start the twin: {message}")))?;
        let (clouds, ca, env_path) = (
            dir.join("clouds.yaml"),
            dir.join("twin-ca.pem"),
            dir.join("twin.env"),
        );
        write(&ca, &twin.ca_pem)?;
        write(&clouds, &outputs::clouds_yaml(&twin, &fixture, Some(&ca)))?;
        let env_text = outputs::env_file(&twin, &fixture, &clouds, &ca);
        write(&env_path, &env_text)?;
        write(&dir.join(SPEC_FILE), EXAMPLE_SPEC)?;
        let env = env_text
            .lines()
            .filter(|line| !line.starts_with('#'))
            .filter_map(|line| line.split_once('='))
            .map(|(key, value)| (key.to_string(), value.trim_matches('\'').to_string()))
            .collect();
        Ok(Stage { twin, dir, env })
    }

    /// `protector <args>` in the scratch folder with the twin's environment.
    pub fn command(&self, args: &[&str]) -> Result<tokio::process::Command, CommandError> {
        let exe = std::env::current_exe().map_err(|error| {
            CommandError::new(format!("cannot find the protector binary: {error}"))
        })?;
        let mut command = tokio::process::Command::new(exe);
        command.args(args).current_dir(&self.dir).envs(&self.env);
        Ok(command)
    }

    /// Runs `protector <args>` and returns its stdout, or the error it printed.
    pub async fn output(&self, args: &[&str]) -> Result<String, CommandError> {
        let output = self
            .command(args)?
            .env("NO_COLOR", "1")
            .output()
            .await
            .map_err(|error| CommandError::new(format!("cannot run protector: {error}")))?;
        if !output.status.success() {
            return Err(CommandError::new(format!(
                "`protector {}` failed:\n{}",
                args.join(" "),
                String::from_utf8_lossy(&output.stderr)
            )));
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }
}
