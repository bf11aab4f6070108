//! `protector demo`: the tour a newcomer runs. Starts the built-in twin (two sites, two
//! arrays) in this process and runs the real commands against it, printing each command line
//! first, so the reader sees exactly what to type on their own clouds. Leaves nothing running.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::sim::BUILT_IN_FIXTURE;
use super::{CommandError, Outcome, eprint};
use crate::render::{self, HINT, SUCCESS, paint};
use crate::sim::fixture;
use crate::sim::outputs;
use crate::sim::server::{Twin, TwinOptions};

const EXAMPLE_SPEC: &str = include_str!("../../examples/prod-web-app.yaml");

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Divide the twin's modelled latencies by this.
    #[arg(long, default_value_t = 200.0)]
    speed: f64,
}

/// A folder removed when dropped.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn write(path: &Path, text: &str) -> Result<(), CommandError> {
    std::fs::write(path, text)
        .map_err(|error| CommandError::new(format!("cannot write {}: {error}", path.display())))
}

pub fn run(args: &Args) -> Result<Outcome, CommandError> {
    let fixture = fixture::parse(BUILT_IN_FIXTURE)
        .map_err(|error| CommandError::new(format!("the built-in fixture: {error}")))?;
    let scratch =
        Scratch(std::env::temp_dir().join(format!("protector-demo-{}", std::process::id())));
    std::fs::create_dir_all(&scratch.0).map_err(|error| {
        CommandError::new(format!("cannot create {}: {error}", scratch.0.display()))
    })?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|error| CommandError::new(format!("cannot start the async runtime: {error}")))?;
    runtime.block_on(async {
        let twin = Twin::start(TwinOptions {
            fixture: fixture.clone(),
            seed: 1,
            speed: args.speed,
            tls_openstack: false,
        })
        .await
        .map_err(|message| CommandError::new(format!("cannot start the twin: {message}")))?;
        let dir = &scratch.0;
        let (clouds, ca, env_path) = (dir.join("clouds.yaml"), dir.join("twin-ca.pem"), dir.join("twin.env"));
        write(&ca, &twin.ca_pem)?;
        write(&clouds, &outputs::clouds_yaml(&twin, &fixture, Some(&ca)))?;
        let env_text = outputs::env_file(&twin, &fixture, &clouds, &ca);
        write(&env_path, &env_text)?;
        write(&dir.join("prod-web-app.yaml"), EXAMPLE_SPEC)?;
        let env: BTreeMap<String, String> = env_text
            .lines()
            .filter(|line| !line.starts_with('#'))
            .filter_map(|line| line.split_once('='))
            .map(|(key, value)| (key.to_string(), value.trim_matches('\'').to_string()))
            .collect();

        eprint(&format!(
            "{} a simulated world of two OpenStack sites, site-a and site-b, each with a FlashArray\n\
             (fa-a replicates the volumes of db-1, web-1 and web-2 to fa-b). Its clouds.yaml and\n\
             env file are in {}.\n",
            paint(SUCCESS, "twin up:"),
            paint(HINT, dir.display())
        ));
        let tour: &[(&str, &[&str])] = &[
            ("Check the protection group's spec (no network needed):", &["validate", "prod-web-app.yaml"]),
            ("Compare the protection with the spec (what CI runs on every change; exit 2: changes):", &["plan", "prod-web-app.yaml", "--detailed-exitcode", "-o", "converge.plan"]),
            ("Apply it: both sites' state now records the members:", &["apply", "converge.plan", "--auto-approve"]),
            ("Rehearse first: a drill boots copies on site-b in isolated networks, verifies them, cleans up and proves it:", &["drill", "prod-web-app.yaml", "--auto-approve"]),
            ("Plan a planned failover to site-b and save it for review:", &["plan", "prod-web-app.yaml", "--operation", "failover", "--type", "planned", "-o", "failover.plan"]),
            ("Apply the reviewed plan (in a terminal, without --auto-approve, it asks first):", &["apply", "failover.plan", "--auto-approve"]),
            ("The group as recorded: failed over to site-b:", &["protection-group", "show", "prod-web-app.yaml"]),
            ("A plan applies once; applying it again is refused (exit 3):", &["apply", "failover.plan", "--auto-approve"]),
            ("Fail back: the reverse of the recorded failover, replication restored:", &["failback", "prod-web-app.yaml", "--reverse-replication", "--yes"]),
            ("The operations, as recorded:", &["operation", "list", "prod-web-app.yaml"]),
            ("The policy, with where secrets come from (never their values):", &["protection-group", "policy-show", "prod-web-app.yaml"]),
        ];
        for &(why, command) in tour {
            step(why, command, dir, &env).await?;
        }
        // The failover's id is known only now: read it from the state the tour wrote.
        let failover = crate::state::local::LocalStore::new(dir.join(".protector"))
            .load("site-a", "prod-web-app")
            .ok()
            .flatten()
            .and_then(|doc| {
                doc.operations
                    .iter()
                    .find(|op| op.kind == "failover")
                    .map(|op| op.id.clone())
            });
        if let Some(id) = failover {
            step(
                "The failover's report for the change record (also --format html|json, --evidence DIR):",
                &["report", &id],
                dir,
                &env,
            )
            .await?;
        }
        eprint(&paint(
            render::WARNING,
            "\nNow site-a goes down (the twin's control API closes its ports).",
        ));
        twin.runtime
            .set_site_up("site-a", false)
            .await
            .map_err(CommandError::new)?;
        step(
            "A planned failover needs both sites, so protector refuses and says what to do instead:",
            &["plan", "prod-web-app.yaml", "--operation", "failover", "--type", "planned"],
            dir,
            &env,
        )
        .await?;
        twin.shutdown();
        eprint(&format!(
            "\n{} the twin is stopped and {} removed.\n\n\
             On your own clouds: describe your group like examples/prod-web-app.yaml, then\n  \
             protector validate my-group.yaml\n  \
             protector plan my-group.yaml --detailed-exitcode\n  \
             protector plan my-group.yaml --operation failover --type planned -o failover.plan\n  \
             protector apply failover.plan\n  \
             protector drill my-group.yaml\n\
             To rehearse on the twin yourself: protector sim up --clouds-out twin/clouds.yaml --env-out twin/env",
            paint(SUCCESS, "done:"),
            dir.display()
        ));
        Ok(Outcome::Success)
    })
}

/// Runs `protector <command>` in `dir` with the twin's environment, showing the command first.
async fn step(
    why: &str,
    command: &[&str],
    dir: &Path,
    env: &BTreeMap<String, String>,
) -> Result<(), CommandError> {
    let exe = std::env::current_exe()
        .map_err(|error| CommandError::new(format!("cannot find the protector binary: {error}")))?;
    eprint(&format!(
        "\n{why}\n{} {}",
        paint(HINT.bold(), "$ protector"),
        paint(HINT.bold(), command.join(" "))
    ));
    let status = tokio::process::Command::new(exe)
        .args(command)
        .current_dir(dir)
        .envs(env)
        .status()
        .await
        .map_err(|error| CommandError::new(format!("cannot run protector: {error}")))?;
    eprint(&format!(
        "(exit code {})",
        status.code().map_or("none".to_string(), |c| c.to_string())
    ));
    Ok(())
}
