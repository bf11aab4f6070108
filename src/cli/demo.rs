//! `protector demo`: the tour a newcomer runs. Starts the built-in twin (two sites, two
//! arrays) in this process and runs the real commands against it, printing each command line
//! first, so the reader sees exactly what to type on their own clouds. Leaves nothing running.

use super::sim::BUILT_IN_FIXTURE;
use super::stage::Stage;
use super::{CommandError, Outcome, eprint};
use crate::render::{self, HINT, SUCCESS, paint};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Divide the twin's modelled latencies by this.
    #[arg(long, default_value_t = 200.0)]
    speed: f64,
}

pub fn run(args: &Args) -> Result<Outcome, CommandError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|error| CommandError::new(format!("cannot start the async runtime: {error}")))?;
    runtime.block_on(async {
        let stage = Stage::start("demo", BUILT_IN_FIXTURE, args.speed).await?;
        let dir = &stage.dir;
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
            step(why, command, &stage).await?;
        }
        // The failover's id is known only now: read it from the state the tour wrote.
        let failover = crate::state::store::open_folder(&dir.join(".protector"))
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
                &stage,
            )
            .await?;
        }
        eprint(&paint(
            render::WARNING,
            "\nNow site-a goes down (the twin's control API closes its ports).",
        ));
        stage
            .twin
            .runtime
            .set_site_up("site-a", false)
            .await
            .map_err(CommandError::new)?;
        step(
            "A planned failover needs both sites, so protector refuses and says what to do instead:",
            &["plan", "prod-web-app.yaml", "--operation", "failover", "--type", "planned"],
            &stage,
        )
        .await?;
        let dir = dir.display().to_string();
        // Stops the twin and removes the scratch folder.
        drop(stage);
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
            dir
        ));
        Ok(Outcome::Success)
    })
}

/// Runs `protector <command>` on the stage, showing the command first.
async fn step(why: &str, command: &[&str], stage: &Stage) -> Result<(), CommandError> {
    eprint(&format!(
        "\n{why}\n{} {}",
        paint(HINT.bold(), "$ protector"),
        paint(HINT.bold(), command.join(" "))
    ));
    let status = stage
        .command(command)?
        .status()
        .await
        .map_err(|error| CommandError::new(format!("cannot run protector: {error}")))?;
    eprint(&format!(
        "(exit code {})",
        status.code().map_or("none".to_string(), |c| c.to_string())
    ));
    Ok(())
}
