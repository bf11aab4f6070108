//! A `protector sim up` process for end-to-end tests: started on ephemeral loopback ports,
//! its env file parsed, stopped (SIGTERM) when dropped.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct TwinProcess {
    child: Option<Child>,
    /// Holds clouds.yaml, the env file and the CA for as long as the twin runs.
    _dir: tempfile::TempDir,
    /// The env file's variables (OS_CLIENT_CONFIG_FILE, PROTECTOR_SIM_CONTROL, FA_*).
    pub env: BTreeMap<String, String>,
}

impl TwinProcess {
    /// Starts the built-in two-site twin at `speed`, plus any extra `sim up` arguments.
    pub fn start(speed: u32, extra: &[&str]) -> TwinProcess {
        let dir = tempfile::tempdir().expect("temp dir");
        let clouds = dir.path().join("clouds.yaml");
        let env_file = dir.path().join("env");
        let speed = speed.to_string();
        let mut args = vec![
            "sim",
            "up",
            "--clouds-out",
            clouds.to_str().unwrap(),
            "--env-out",
            env_file.to_str().unwrap(),
            "--speed",
            &speed,
        ];
        args.extend_from_slice(extra);
        let mut child = Command::new(env!("CARGO_BIN_EXE_protector"))
            .args(&args)
            .current_dir(crate::root())
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("protector sim up starts");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("reads the ready line");
        assert!(line.starts_with("ready "), "sim up printed {line:?}");
        let env = std::fs::read_to_string(&env_file)
            .expect("env file written")
            .lines()
            .filter(|line| !line.starts_with('#'))
            .filter_map(|line| line.split_once('='))
            .map(|(key, value)| (key.to_string(), value.trim_matches('\'').to_string()))
            .collect();
        TwinProcess {
            child: Some(child),
            _dir: dir,
            env,
        }
    }

    pub fn control(&self) -> &str {
        &self.env["PROTECTOR_SIM_CONTROL"]
    }

    pub fn clouds_yaml(&self) -> PathBuf {
        PathBuf::from(&self.env["OS_CLIENT_CONFIG_FILE"])
    }

    /// Stops the twin with SIGTERM and returns its exit code.
    pub fn stop(mut self) -> Option<i32> {
        let mut child = self.child.take()?;
        terminate(&child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        None
    }
}

fn terminate(child: &Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
}

impl Drop for TwinProcess {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
