//! `protector sim up`: serve the twin until interrupted.

use std::path::{Path, PathBuf};

use super::stage::{SPEC_FILE, Stage};
use super::{CommandError, Outcome, eprint, print};
use crate::render;
use protector_twin::fixture::{self, Fixture};
use protector_twin::outputs;
use protector_twin::server::{Twin, TwinOptions};

/// The fixture `sim up` and `demo` use when none is given.
pub const BUILT_IN_FIXTURE: &str = include_str!("../../examples/sim/two-sites.yaml");

#[derive(Debug, clap::Subcommand)]
pub enum SimCommand {
    /// Serve a two-site OpenStack + FlashArray twin on 127.0.0.1 until interrupted.
    #[command(after_help = "\
Examples:
  protector sim up --clouds-out /tmp/twin/clouds.yaml --env-out /tmp/twin/env --speed 100
  set -a; . /tmp/twin/env; set +a
  protector validate examples/prod-web-app.yaml && openstack --os-cloud site-a server list

Prints one `ready` line on stdout once every port listens; stops on SIGINT or SIGTERM.")]
    Up(UpArgs),

    /// Write a large two-site fixture: N instances of M volumes on site-a, in one protection
    /// group replicated to site-b (for scale rehearsals and benchmarks).
    #[command(after_help = "\
Examples:
  protector sim fixture --instances 1000 --volumes 3 > big.yaml
  protector sim up --fixture big.yaml --clouds-out /tmp/big/clouds.yaml --speed 1000")]
    Fixture(FixtureArgs),

    /// Render the example plans as Markdown: planned and unplanned failover, failback and a
    /// drill of examples/prod-web-app.yaml on the built-in twin (what `plans/` holds; a test
    /// checks it is current).
    #[command(after_help = "\
Examples:
  protector sim plans --out plans      # after a change to the planner, then review the diff")]
    Plans(PlansArgs),
}

#[derive(Debug, clap::Args)]
pub struct PlansArgs {
    /// The folder to write the plans to.
    #[arg(long, default_value = "plans", value_name = "DIR")]
    out: PathBuf,
    /// Divide the twin's modelled latencies by this.
    #[arg(long, default_value_t = 200.0)]
    speed: f64,
}

#[derive(Debug, clap::Args)]
pub struct FixtureArgs {
    /// Instances on site-a.
    #[arg(long, default_value_t = 100)]
    instances: usize,
    /// Volumes per instance (the first is its boot volume).
    #[arg(long, default_value_t = 3)]
    volumes: usize,
}

#[derive(Debug, clap::Args)]
pub struct UpArgs {
    /// The world to start with (default: the built-in two sites of examples/sim/two-sites.yaml).
    #[arg(long, value_name = "FILE")]
    fixture: Option<PathBuf>,
    /// Where to write the clouds.yaml for the twin's sites.
    #[arg(long, value_name = "PATH")]
    clouds_out: PathBuf,
    /// Where to write the env file (OS_CLIENT_CONFIG_FILE, PROTECTOR_SIM_CONTROL, FA_<SITE>_*).
    #[arg(long, value_name = "PATH")]
    env_out: Option<PathBuf>,
    /// Where to write the twin's CA certificate (default: twin-ca.pem beside the clouds.yaml).
    #[arg(long, value_name = "PATH")]
    ca_out: Option<PathBuf>,
    /// Serve the OpenStack APIs over HTTPS too (the arrays always are).
    #[arg(long)]
    tls: bool,
    /// Divide every modelled latency by this (100: a 30 s boot takes 0.3 s).
    #[arg(long, default_value_t = 1.0)]
    speed: f64,
    /// Seed of the generated identifiers.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

pub fn run(command: &SimCommand) -> Result<Outcome, CommandError> {
    match command {
        SimCommand::Up(args) => up(args),
        SimCommand::Plans(args) => plans(args),
        SimCommand::Fixture(args) => {
            let fixture = fixture::generate(args.instances, args.volumes);
            let text = crate::yaml::to_string(&fixture)
                .map_err(|error| CommandError::new(format!("cannot write the fixture: {error}")))?;
            print(text.trim_end());
            Ok(Outcome::Success)
        }
    }
}

fn load_fixture(path: Option<&Path>) -> Result<Fixture, CommandError> {
    let (name, text) = match path {
        Some(path) => (
            path.display().to_string(),
            std::fs::read_to_string(path).map_err(|error| {
                CommandError::new(format!("cannot read {}: {error}", path.display()))
            })?,
        ),
        None => (
            "the built-in fixture".to_string(),
            BUILT_IN_FIXTURE.to_string(),
        ),
    };
    fixture::parse(&text).map_err(|error| {
        CommandError::new(format!("{name}: {error}"))
            .hint("compare with examples/sim/two-sites.yaml")
    })
}

fn write(path: &Path, text: &str) -> Result<(), CommandError> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|error| {
            CommandError::new(format!("cannot create {}: {error}", parent.display()))
        })?;
    }
    std::fs::write(path, text)
        .map_err(|error| CommandError::new(format!("cannot write {}: {error}", path.display())))
}

/// An absolute version of `path`, so the files written stay usable from any folder.
fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

fn up(args: &UpArgs) -> Result<Outcome, CommandError> {
    let fixture = load_fixture(args.fixture.as_deref())?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|error| CommandError::new(format!("cannot start the async runtime: {error}")))?;
    runtime.block_on(async {
        let twin = Twin::start(TwinOptions {
            fixture: fixture.clone(),
            seed: args.seed,
            speed: args.speed,
            tls_openstack: args.tls,
        })
        .await
        .map_err(|message| CommandError::new(format!("cannot start the twin: {message}")))?;

        let clouds_path = absolute(&args.clouds_out);
        let ca_path = absolute(
            &args
                .ca_out
                .clone()
                .unwrap_or_else(|| clouds_path.with_file_name("twin-ca.pem")),
        );
        write(&ca_path, &twin.ca_pem)?;
        write(
            &clouds_path,
            &outputs::clouds_yaml(&twin, &fixture, Some(&ca_path)),
        )?;
        if let Some(env_out) = &args.env_out {
            write(
                &absolute(env_out),
                &outputs::env_file(&twin, &fixture, &clouds_path, &ca_path),
            )?;
        }
        eprint(&format!(
            "{} {} sites at speed x{}; control API {}",
            render::paint(render::SUCCESS, "twin up:"),
            fixture.sites.len(),
            args.speed,
            render::paint(render::HINT, &twin.control_url),
        ));
        print(&format!(
            "ready control={} clouds={}",
            twin.control_url,
            clouds_path.display()
        ));
        wait_for_signal().await;
        eprint("twin: stopping");
        twin.shutdown();
        Ok(Outcome::Success)
    })
}

async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut interrupt), Ok(mut terminate)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        let _ = tokio::signal::ctrl_c().await;
        return;
    };
    tokio::select! {
        _ = interrupt.recv() => {}
        _ = terminate.recv() => {}
    }
}

/// The example plans, in the order they are made: (file, why, `protector` arguments).
const EXAMPLE_PLANS: [(&str, &[&str]); 2] = [
    (
        "planned-failover.md",
        &["--operation", "failover", "--type", "planned"],
    ),
    ("drill.md", &["--operation", "drill"]),
];

/// Renders the example plans into `args.out`. The replication schedule is pushed out to 30 days
/// so the plans depend only on the fixture (seeded ids), not on when a cycle happens to run.
fn plans(args: &PlansArgs) -> Result<Outcome, CommandError> {
    const SCHEDULE: &str = "replicate_every: 15m";
    if !BUILT_IN_FIXTURE.contains(SCHEDULE) {
        return Err(CommandError::new(
            "the built-in fixture no longer replicates every 15m; update `sim plans`",
        ));
    }
    let fixture = BUILT_IN_FIXTURE.replace(SCHEDULE, "replicate_every: 30d");
    std::fs::create_dir_all(&args.out).map_err(|error| {
        CommandError::new(format!("cannot create {}: {error}", args.out.display()))
    })?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|error| CommandError::new(format!("cannot start the async runtime: {error}")))?;
    runtime.block_on(async {
        let stage = Stage::start("plans", &fixture, args.speed).await?;
        let spec = SPEC_FILE;
        let markdown = |extra: &'static [&'static str]| {
            let mut all = vec!["plan", spec, "-f", "markdown"];
            all.extend_from_slice(extra);
            all
        };
        let write = |name: &str, text: String| {
            let path = args.out.join(name);
            let header = "<!-- Generated by `protector sim plans --out plans` from \
                          examples/prod-web-app.yaml on the built-in twin; do not edit. -->\n\n";
            std::fs::write(&path, format!("{header}{text}")).map_err(|error| {
                CommandError::new(format!("cannot write {}: {error}", path.display()))
            })?;
            eprint(&format!("wrote {}", path.display()));
            Ok::<(), CommandError>(())
        };
        // Recorded members first: an unplanned failover rebuilds them from the record.
        stage.output(&["plan", spec, "-o", "converge.plan"]).await?;
        stage
            .output(&["apply", "converge.plan", "--auto-approve"])
            .await?;
        for (name, extra) in EXAMPLE_PLANS {
            write(name, stage.output(&markdown(extra)).await?)?;
        }
        stage
            .twin
            .runtime
            .set_site_up("site-a", false)
            .await
            .map_err(CommandError::new)?;
        let unplanned = stage
            .output(&markdown(&[
                "--operation",
                "failover",
                "--type",
                "unplanned",
                "--accept-data-loss",
            ]))
            .await?;
        write("unplanned-failover.md", unplanned)?;
        stage
            .twin
            .runtime
            .set_site_up("site-a", true)
            .await
            .map_err(CommandError::new)?;
        // One step at a time, so the twin hands out its seeded ids in the same order each run.
        stage
            .output(&[
                "failover",
                spec,
                "--type",
                "planned",
                "--yes",
                "--parallelism",
                "1",
            ])
            .await?;
        let failback = stage
            .output(&markdown(&[
                "--operation",
                "failback",
                "--reverse-replication",
            ]))
            .await?;
        write("failback.md", failback)?;
        Ok(Outcome::Success)
    })
}
