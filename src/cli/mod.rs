//! The command line: parse arguments, call one operation of the library, render its result,
//! choose the exit code. Each command lives in its own file and stays thin; the work is in the
//! library. Data goes to stdout, everything else (diagnostics, progress, hints) to stderr.
//!
//! Exit codes (DESIGN.md §4), the same for every command:
//! 0 success, 1 error, 2 changes present (with `--detailed-exitcode`), 3 refused.

mod apply;
mod cloud;
mod demo;
mod drill;
mod execute;
mod logging;
mod operation;
mod output;
mod plan;
mod protection_group;
mod report;
mod schema;
mod show;
mod sim;
mod site;
mod stage;
mod validate;

use std::collections::BTreeSet;
use std::io::Write;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand, ValueEnum};

use crate::clients::clouds::{self, CloudsEnvironment};
use crate::render;

/// What a command ended with; the process exit code is derived from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// 0: done, nothing wrong.
    Success,
    /// 1: an error (invalid input, a failed call, a failed step).
    Error,
    /// 2: a plan has changes (only with `--detailed-exitcode`).
    Changes,
    /// 3: refused (stale plan, failed precondition, lock held).
    Refused,
}

impl From<Outcome> for ExitCode {
    fn from(outcome: Outcome) -> ExitCode {
        ExitCode::from(match outcome {
            Outcome::Success => 0,
            Outcome::Error => 1,
            Outcome::Changes => 2,
            Outcome::Refused => 3,
        })
    }
}

/// An error a command reports to the operator: what failed, then the next thing to try.
#[derive(Debug)]
pub struct CommandError {
    pub message: String,
    pub hint: Option<String>,
    pub outcome: Outcome,
}

impl CommandError {
    pub fn new(message: impl Into<String>) -> Self {
        CommandError {
            message: message.into(),
            hint: None,
            outcome: Outcome::Error,
        }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Refused on purpose (exit 3), not failed.
    pub fn refused(mut self) -> Self {
        self.outcome = Outcome::Refused;
        self
    }
}

/// A state store error as a command reports it: exit 3 when refused on purpose.
pub(crate) fn store_error(error: crate::state::StoreError) -> CommandError {
    let command = CommandError::new(error.to_string()).hint(error.hint());
    if error.is_refusal() {
        command.refused()
    } else {
        command
    }
}

const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  error (invalid input, failed call or step)
  2  changes present (plan with --detailed-exitcode)
  3  refused (stale plan, failed precondition, lock held)";

/// Declarative disaster recovery for OpenStack protection groups replicated by Pure Storage
/// FlashArray.
#[derive(Debug, Parser)]
#[command(name = "protector", version = crate::LONG_VERSION, after_help = EXIT_CODES)]
pub struct Cli {
    /// Never colour the output (also: the NO_COLOR environment variable).
    #[arg(long, global = true)]
    no_color: bool,

    /// Log what happens under the hood to stderr: `-v` decisions and retries, `-vv` every HTTP
    /// call, `-vvv` with bodies (secrets masked). `RUST_LOG` overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,

    /// Log every HTTP call (method, path, status, duration, request id), as `-vv`.
    #[arg(long, global = true)]
    debug: bool,

    /// Write the log to this file (appended) instead of stderr.
    #[arg(long, global = true, value_name = "FILE")]
    log_file: Option<std::path::PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check a protection-group spec, without touching any site.
    #[command(after_help = "\
Examples:
  protector validate examples/prod-web-app.yaml
  protector validate pg.yaml --format json | jq '.diagnostics[].summary'

Exit codes: 0 valid (warnings allowed), 1 invalid or unreadable.")]
    Validate(validate::Args),

    /// Plan an operation: discover both sites, compare with the recorded state, show the steps
    /// and the change, and save the plan for `apply`.
    #[command(after_help = "\
Examples:
  protector plan pg.yaml                                  # converge: protection vs spec
  protector plan pg.yaml --operation failover --type planned -o failover.plan
  protector plan pg.yaml --operation failover --type unplanned --accept-data-loss
  protector plan pg.yaml --operation failover --network-mapping net-old=net-new -f json
  protector plan pg.yaml --operation drill -o drill.plan   # apply it, or `protector drill`

Exit codes: 0 planned (with --detailed-exitcode: no changes), 2 changes (--detailed-exitcode),
1 error, 3 refused (a precondition failed; each is printed with its fix).")]
    Plan(plan::Args),

    /// Execute a saved plan: every step journaled, concurrently where the plan allows.
    #[command(after_help = "\
Examples:
  protector apply failover.plan                      # shows the plan, asks for 'yes'
  protector apply failover.plan --auto-approve --json > events.jsonl
  protector apply --resume op-3f2a...               # continue after a crash or a fix

A plan applies once, and only while the sites are as it saw them: otherwise apply refuses
(exit 3) and says what changed.

Exit codes: 0 completed, 1 failed (the hint names the resume and rollback commands),
3 refused (stale plan, already applied, lock held, not confirmed).")]
    Apply(apply::Args),

    /// Plan and apply a failover in one command (shows the plan and asks unless --yes).
    #[command(after_help = "\
Examples:
  protector failover pg.yaml --type planned
  protector failover pg.yaml --type unplanned --accept-data-loss --yes   # site-a is gone

Exit codes: 0 completed, 1 failed, 3 refused (a precondition failed, or not confirmed).")]
    Failover(apply::FailoverArgs),

    /// Plan and apply a failback in one command: the reverse of the recorded failover.
    #[command(after_help = "\
Examples:
  protector failback pg.yaml --reverse-replication
  protector failback pg.yaml --reverse-replication --yes --json > failback.jsonl")]
    Failback(apply::FailbackArgs),

    /// Rehearse a failover without touching production: boot copies of the newest replicated
    /// snapshot on the other site's isolated drill networks, verify them, remove them, and
    /// prove nothing of the drill is left.
    #[command(after_help = "\
Examples:
  protector drill pg.yaml                             # shows the plan, asks for 'yes'
  protector drill pg.yaml --auto-approve --json > drill.jsonl
  protector drill pg.yaml --keep                      # leave the drill running to look at it
  protector drill cleanup op-3f2a...                  # then remove it, with the proof

Everything a drill creates is named `drill-<id>-...` and tagged with its operation id; its
instances get ports only on the spec's `drill.networks`. A drill that fails is cleaned up at
once (what it created is removed, then the proof runs); with --keep it stops after the
verification and `drill cleanup OP` removes it later.

Exit codes: 0 drill passed (cleaned up and proven, or kept), 1 failed (cleanup ran; the error
says how it went), 3 refused (a precondition failed, or not confirmed).")]
    Drill(drill::Args),

    /// Undo what a failed operation did, newest step first.
    #[command(after_help = "\
Examples:
  protector rollback op-3f2a...
  protector rollback op-3f2a... --json")]
    Rollback(apply::RollbackArgs),

    /// Operations as recorded: status, progress, steps.
    #[command(subcommand)]
    Operation(operation::OperationCommand),

    /// An operation's report from what it recorded: what was planned, what ran with timings
    /// and its critical path, errors, RTO predicted against measured, the data-loss disclosure
    /// and, for drills, the cleanup proof; or an evidence bundle that seals it.
    #[command(after_help = "\
Examples:
  protector report op-3f2a... > failover.md
  protector report op-3f2a... --format html > failover.html
  protector report op-3f2a... --format json | jq .rto
  protector report op-3f2a... --template team.md.j2    # your own layout, same fields as JSON
  protector report op-3f2a... --evidence evidence/op-3f2a   # plan, journal, report, manifest

It reads the state folder only (--state DIR, else $PROTECTOR_STATE, else ./.protector): it
works for completed, failed, rolled back and running operations, with the sites down. With
--evidence it prints the bundle's chain head on stdout: record it elsewhere (a change ticket);
`protector verify-evidence DIR` checks the bundle and prints it again.

Exit codes: 0 written, 1 error (no such operation, unreadable state, a template error: its file
and line, an evidence folder that is not empty).")]
    Report(report::Args),

    /// Check an evidence bundle: the manifest's seal, each file's SHA-256 and the hash chain
    /// (plan, then each journal entry in order, then the report).
    #[command(after_help = "\
Examples:
  protector verify-evidence evidence/op-3f2a
  test \"$(protector verify-evidence evidence/op-3f2a)\" = \"$RECORDED_HEAD\"

Prints the chain head on stdout; compare it with the head recorded when the bundle was written.

Exit codes: 0 the bundle verifies, 1 it does not (the first file, or journal line, that does
not match is named) or it cannot be read.")]
    VerifyEvidence(report::VerifyArgs),

    /// Show a saved plan as text, JSON, Markdown (for a change request) or a Graphviz graph of
    /// its steps.
    #[command(after_help = "\
Examples:
  protector show failover.plan
  protector show failover.plan --format markdown > failover.md
  protector show failover.plan --format dot | dot -Tsvg > failover.svg")]
    Show(show::Args),

    /// The protection group as recorded: status, policy, sync between the sites.
    #[command(subcommand)]
    ProtectionGroup(protection_group::GroupCommand),

    /// Check a site: auth, catalog, array login, Cinder manage policy and pool, mapped names.
    #[command(subcommand)]
    Site(site::SiteCommand),

    /// A cloud of clouds.yaml as protector resolves it: auth, region, TLS, endpoints.
    #[command(subcommand)]
    Cloud(cloud::CloudCommand),

    /// Write the JSON Schemas of the spec and the plan file (for editors and CI linters).
    #[command(after_help = "\
Examples:
  protector schema                  # writes schemas/protection-group.schema.json
  protector schema --out /tmp/s     # and protection-group.draft-07.schema.json

In VS Code (YAML extension), start a spec with:
  # yaml-language-server: $schema=schemas/protection-group.schema.json")]
    Schema(schema::Args),

    /// The twin: a simulated two-site OpenStack + FlashArray world to rehearse and test on.
    #[command(subcommand)]
    Sim(sim::SimCommand),

    /// A guided tour on the built-in twin: validate, plan, apply, drill, failover, failback,
    /// refusals. Leaves nothing running.
    #[command(after_help = "\
Examples:
  protector demo
  cargo run --release -- demo")]
    Demo(demo::Args),

    /// Print a shell completion script.
    #[command(after_help = "\
Examples:
  protector completions bash > /etc/bash_completion.d/protector
  protector completions zsh > \"${fpath[1]}/_protector\"")]
    Completions {
        /// The shell to complete for.
        shell: clap_complete::Shell,
    },
}

/// `text` for people, `json` for machines: the `--format` of commands that report, not list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    Text,
    Json,
}

/// Runs the command line and returns the process exit code.
pub fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if let Some(misspelt) = single_dash_long_option(&args) {
        eprint(&format!(
            "{} unknown option `{misspelt}`: did you mean `-{misspelt}`?",
            render::paint(render::ERROR, "error:")
        ));
        return Outcome::Error.into();
    }
    // clap exits with 2 on usage errors, which would read as "changes present" to CI.
    let cli = match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(error) => {
            let _ = error.print();
            return if error.use_stderr() {
                Outcome::Error.into()
            } else {
                Outcome::Success.into()
            };
        }
    };
    if cli.no_color {
        anstream::ColorChoice::Never.write_global();
    }
    if let Err(error) = logging::init(cli.verbose, cli.debug, cli.log_file.as_deref()) {
        eprintln!("error: {error}");
        return Outcome::Error.into();
    }
    let result = match cli.command {
        Command::Validate(args) => validate::run(&args),
        Command::Plan(args) => plan::run(&args),
        Command::Show(args) => show::run(&args),
        Command::Apply(args) => apply::run(&args),
        Command::Rollback(args) => apply::rollback(&args),
        Command::Failover(args) => apply::failover(&args),
        Command::Failback(args) => apply::failback(&args),
        Command::Drill(args) => drill::run(&args),
        Command::Operation(command) => operation::run(&command),
        Command::Report(args) => report::run(&args),
        Command::VerifyEvidence(args) => report::verify(&args),
        Command::ProtectionGroup(command) => protection_group::run(&command),
        Command::Site(command) => site::run(&command),
        Command::Cloud(command) => cloud::run(&command),
        Command::Schema(args) => schema::run(&args),
        Command::Sim(command) => sim::run(&command),
        Command::Demo(args) => demo::run(&args),
        Command::Completions { shell } => {
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "protector",
                &mut std::io::stdout(),
            );
            Ok(Outcome::Success)
        }
    };
    match result {
        Ok(outcome) => outcome.into(),
        Err(error) => {
            let mut text = format!(
                "{} {}",
                render::paint(render::ERROR, "error:"),
                error.message
            );
            if let Some(hint) = &error.hint {
                text.push('\n');
                text.push_str(&render::hint_line(hint));
            }
            eprint(&text);
            error.outcome.into()
        }
    }
}

/// The per-call timeout of the sites' APIs, in seconds, where neither `--timeout` nor the
/// cloud's `api_timeout` in clouds.yaml sets one.
pub const DEFAULT_CALL_TIMEOUT: u64 = 30;

/// The per-call timeout for `--timeout SECONDS`, or the default when it is not given.
fn call_timeout(flag: Option<u64>) -> std::time::Duration {
    std::time::Duration::from_secs(flag.unwrap_or(DEFAULT_CALL_TIMEOUT).max(1))
}

/// Where clouds.yaml is looked for: this process's environment, and the command's `--timeout`
/// when given (it beats every cloud's `api_timeout`). The first time in a run, a warning for
/// each of `sites` whose TLS certificates clouds.yaml says not to verify, so that nobody forgets
/// it was turned off.
fn clouds_for<'a>(
    spec: &crate::spec::Spec,
    sites: impl IntoIterator<Item = &'a String>,
    timeout: Option<u64>,
) -> CloudsEnvironment {
    static WARNED: std::sync::Once = std::sync::Once::new();
    let clouds = CloudsEnvironment {
        command_timeout: timeout.map(|_| call_timeout(timeout)),
        ..CloudsEnvironment::from_process()
    };
    WARNED.call_once(|| {
        for site in sites {
            let Some(config) = spec.sites.get(site) else {
                continue;
            };
            // A cloud that does not load fails the command later, with its own error.
            if let Ok(cloud) = clouds::load_cloud(&clouds, &config.cloud)
                && let Some(warning) = cloud.unverified_warning(site)
            {
                eprint(&format!(
                    "{} {warning}",
                    render::paint(render::WARNING, "warning:")
                ));
            }
        }
    });
    clouds
}

/// The first argument written as Terraform writes long options, with one dash (`-out`,
/// `-detailed-exitcode`, `-json=true`), that names one of protector's long options: read as
/// it stands, it would be a bundle of short options (`-out` is `-o ut`), so it is refused.
fn single_dash_long_option(args: &[std::ffi::OsString]) -> Option<String> {
    fn long_names(command: &clap::Command, names: &mut BTreeSet<String>) {
        for arg in command.get_arguments() {
            names.extend(arg.get_long().map(str::to_string));
            names.extend(
                arg.get_all_aliases()
                    .into_iter()
                    .flatten()
                    .map(str::to_string),
            );
        }
        for sub in command.get_subcommands() {
            long_names(sub, names);
        }
    }
    let mut names = BTreeSet::new();
    long_names(&Cli::command(), &mut names);
    args.iter()
        .skip(1)
        .map(|arg| arg.to_string_lossy())
        .take_while(|arg| arg != "--")
        .find(|arg| {
            arg.strip_prefix('-').is_some_and(|word| {
                let name = word.split('=').next().unwrap_or(word);
                !word.starts_with('-') && name.len() > 1 && names.contains(name)
            })
        })
        .map(|arg| arg.into_owned())
}

/// Writes data for the caller (a pipe, a file, a person) to stdout.
fn print(text: &str) {
    // A closed pipe (`protector ... | head`) is not an error worth a panic.
    let _ = writeln!(anstream::stdout(), "{text}");
}

/// Writes messages for the person (diagnostics, status, hints) to stderr.
fn eprint(text: &str) {
    let _ = writeln!(anstream::stderr(), "{text}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }
}
