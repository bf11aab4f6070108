//! Fault schedules (DESIGN §7): random sequences of SIGKILL at journal points (of apply,
//! resume, rollback, failover, failback, sync-force), lost answers, 5xx and 429 storms, delays,
//! refused actions, and the loss of either site (a power loss) at random moments, each followed
//! by the recovery command the tool itself prints, on a small group at high speed. The world
//! the twin dumps must hold, after every command:
//!
//! 1. no member ACTIVE on both sites;
//! 4. no array volume that held a member's data destroyed;
//!
//! and after a command that reports success, with both sites back:
//!
//! 2. exactly one ACTIVE instance of each member, on the site the group's record names;
//! 3. nothing an operation created left orphaned (server, port, Cinder volume, array copy);
//! 5. after a rollback, the source as the undone operation found it (ids, statuses, addresses,
//!    attachments).
//!
//! `PROTECTOR_FAULT_SCHEDULES` sets how many schedules run (default 200, four at a time; the
//! soak in README's Development section runs thousands), `PROTECTOR_FAULT_SEED` replays one:
//! a failure names its seed and the commands it ran.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Output;
use std::time::Duration;

use protector_wire::ids::IdGen;
use serde_json::{Value, json};

use crate::apply_crash::{named, new_items, text, values, wait_until};
use crate::plan::Setup;
use crate::{stderr, stdout};

/// The group of the schedules: db-1 (boot tier 1) and web-1 (tier 2, after db-1).
const GROUP: [&str; 2] = ["db-1", "web-1"];

/// Schedules run at once.
const LANES: usize = 8;

/// Recovery commands a schedule may run before it must have recovered.
const MAX_RECOVERIES: usize = 10;

#[test]
fn random_fault_schedules_keep_the_safety_invariants() {
    let seeds: Vec<u64> = match std::env::var("PROTECTOR_FAULT_SEED") {
        Ok(seed) => vec![seed.parse().expect("PROTECTOR_FAULT_SEED is a number")],
        Err(_) => {
            let count: u64 = std::env::var("PROTECTOR_FAULT_SCHEDULES")
                .ok()
                .and_then(|count| count.parse().ok())
                .unwrap_or(200);
            (1..=count).collect()
        }
    };
    // Schedules mostly wait on the twin's modelled latencies: four at a time keep two cores busy.
    let mut lanes: Vec<Vec<u64>> = vec![Vec::new(); LANES];
    for (index, seed) in seeds.iter().enumerate() {
        lanes[index % LANES].push(*seed);
    }
    let threads: Vec<_> = lanes
        .into_iter()
        .map(|seeds| {
            std::thread::spawn(move || {
                seeds
                    .into_iter()
                    .filter_map(|seed| {
                        std::panic::catch_unwind(|| Schedule::run(seed))
                            .err()
                            .map(|panic| (seed, message(&panic)))
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let failures: Vec<(u64, String)> = threads
        .into_iter()
        .flat_map(|thread| thread.join().expect("a schedule thread"))
        .collect();
    if std::env::var_os("PROTECTOR_FAULT_VERBOSE").is_some() {
        eprintln!("{} schedules", seeds.len());
    }
    assert!(
        failures.is_empty(),
        "{} of {} schedules failed; replay one with PROTECTOR_FAULT_SEED=<seed>:\n\n{}",
        failures.len(),
        seeds.len(),
        failures
            .iter()
            .map(|(seed, message)| format!("seed {seed}: {message}"))
            .collect::<Vec<_>>()
            .join("\n\n")
    );
}

fn message(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "panicked".to_string())
}

/// What happens while a command runs, once the journals record `done` more steps done.
#[derive(Debug, Clone)]
enum Event {
    Kill,
    SiteLost(&'static str),
}

/// A moment of a run: after `done` more steps are journaled done, `delay_ms` later.
#[derive(Debug, Clone)]
struct Moment {
    done: usize,
    delay_ms: u64,
    event: Event,
}

struct Schedule {
    seed: u64,
    rng: IdGen,
    setup: Setup,
    /// The world before anything ran: what is new is judged against it.
    start: Value,
    /// Array volume ids that held a member's data at the start of an operation.
    protected: BTreeSet<String>,
    down: BTreeSet<&'static str>,
    /// Sites that lost power since the operation began: what ran there was stopped by it.
    lost_power: BTreeSet<&'static str>,
    transcript: Vec<String>,
}

impl Schedule {
    fn run(seed: u64) {
        let setup = Setup::at_speed(2000);
        std::fs::copy(
            crate::root().join("tests/fixtures/fault-schedule.yaml"),
            setup.spec(),
        )
        .unwrap();
        let start = setup.world();
        let mut schedule = Schedule {
            seed,
            rng: IdGen::new(seed),
            setup,
            protected: BTreeSet::new(),
            start,
            down: BTreeSet::new(),
            lost_power: BTreeSet::new(),
            transcript: Vec::new(),
        };
        schedule.protect();
        // A planned failover under faults, then (sometimes) a failback under faults.
        let plan = schedule.setup.dir.path().join("failover.plan");
        let spec = schedule.spec();
        let planned = schedule.command(
            &[
                "plan",
                &spec,
                "--operation",
                "failover",
                "--type",
                "planned",
                "-o",
                plan.to_str().unwrap(),
            ],
            None,
        );
        schedule.expect(planned.as_ref().unwrap(), 0);
        schedule.drive(&["apply", plan.to_str().unwrap(), "--auto-approve"]);
        if schedule.group()["status"] == "failed_over" && schedule.chance(50) {
            schedule.protect();
            schedule.drive(&["failback", &spec, "--yes"]);
        }
        if std::env::var_os("PROTECTOR_FAULT_VERBOSE").is_some() {
            eprintln!("{}\n", schedule.transcript());
        }
    }

    fn spec(&self) -> String {
        self.setup.spec().to_str().unwrap().to_string()
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.rng.next_u64() % 100 < percent
    }

    fn pick(&mut self, below: u64) -> u64 {
        self.rng.next_u64() % below.max(1)
    }

    /// Runs `first` under random faults and events, then the commands the tool prints until
    /// one succeeds with both sites up; checks the invariants along the way.
    fn drive(&mut self, first: &[&str]) {
        let before = self.setup.world();
        self.lost_power.clear();
        self.inject_faults();
        let moment = self.moment();
        let mut output = self.command(first, moment);
        let mut last: Vec<String> = first.iter().map(|s| s.to_string()).collect();
        for attempt in 0.. {
            self.check_always();
            let succeeded = output.as_ref().is_some_and(|o| o.status.code() == Some(0));
            if succeeded && self.down.is_empty() {
                self.sync_force_if_needed();
                self.check_success(&last, &before);
                return;
            }
            assert!(
                attempt < MAX_RECOVERIES,
                "no recovery after {MAX_RECOVERIES} commands\n{}",
                self.transcript()
            );
            // The second recovery runs with both sites back and no more faults.
            if attempt >= 1 || self.chance(50) {
                self.restore_sites();
            }
            if attempt >= 1 || self.chance(50) {
                self.setup.clear_faults();
            }
            let Some(next) = self.next_command(output.as_ref()) else {
                // Nothing to recover (the plan was applied already, say): the world must hold.
                self.restore_sites();
                self.sync_force_if_needed();
                self.check_success(&last, &before);
                return;
            };
            let moment = if self.chance(25) { self.moment() } else { None };
            let args: Vec<&str> = next.iter().map(String::as_str).collect();
            output = self.command(&args, moment);
            last = next;
        }
    }

    /// Array volumes backing the members now: never to be destroyed.
    fn protect(&mut self) {
        let world = self.setup.world();
        for site in ["site-a", "site-b"] {
            let site = &world["sites"][site];
            for member in GROUP {
                for server in named(&site["compute"]["servers"], member) {
                    for attached in server["volumes"].as_array().into_iter().flatten() {
                        let volume = &site["block"]["volumes"][text(&attached["volume_id"])];
                        let name = text(&volume["array_volume"]);
                        for array_volume in values(&site["array"]["volumes"]) {
                            if array_volume["name"] == name {
                                self.protected.insert(text(&array_volume["id"]).to_string());
                            }
                        }
                    }
                }
            }
        }
    }

    /// 0 to 3 fault rules from the catalogue, on either site.
    fn inject_faults(&mut self) {
        for _ in 0..self.pick(4) {
            let site = if self.chance(70) { "site-b" } else { "site-a" };
            let rule = match self.pick(6) {
                0 => {
                    let (service, method, path) = [
                        ("nova", "POST", "/compute/v2.1/servers"),
                        ("neutron", "POST", "/network/v2.0/ports"),
                        ("cinder", "POST", "/volume/v3/*/manageable_volumes"),
                        ("flasharray", "POST", "/api/*/volumes"),
                    ][self.pick(4) as usize];
                    let status = [500, 502, 503][self.pick(3) as usize];
                    json!({ "site": site, "service": service, "method": method, "path": path,
                            "action": { "kind": "status", "status": status, "served": true },
                            "count": 1 })
                }
                1 => {
                    let status = [500, 503][self.pick(2) as usize];
                    json!({ "site": site, "method": "GET",
                            "action": { "kind": "status", "status": status },
                            "count": 1 + self.pick(6) })
                }
                2 => json!({ "site": site,
                             "action": { "kind": "rate_limit", "retry_after": 0 },
                             "count": 1 + self.pick(10) }),
                3 => {
                    json!({ "site": site, "action": { "kind": "delay", "ms": 20 + self.pick(200) },
                             "count": 1 + self.pick(5) })
                }
                4 => json!({ "site": site, "service": "nova", "method": "POST",
                             "path": "/compute/v2.1/servers/*/action",
                             "action": { "kind": "status", "status": 409 },
                             "count": 1 + self.pick(3) }),
                _ => json!({ "site": site, "service": "cinder", "method": "GET",
                             "action": { "kind": "status", "status": 503 },
                             "count": 1 + self.pick(8) }),
            };
            self.transcript.push(format!("fault {rule}"));
            self.setup.fault(rule);
        }
    }

    /// Half the runs meet a kill or a site loss at a random journal point.
    fn moment(&mut self) -> Option<Moment> {
        if !self.chance(60) {
            return None;
        }
        let event = match self.pick(10) {
            0..=5 => Event::Kill,
            6..=8 => Event::SiteLost("site-a"),
            _ => Event::SiteLost("site-b"),
        };
        Some(Moment {
            done: self.pick(14) as usize,
            delay_ms: self.pick(80),
            event,
        })
    }

    /// Runs `protector ARGS`, meeting `moment` on the way; `None` when it was killed.
    fn command(&mut self, args: &[&str], moment: Option<Moment>) -> Option<Output> {
        let started = std::time::Instant::now();
        let output = self.command_at(args, moment);
        if let Some(last) = self.transcript.last_mut() {
            last.push_str(&format!(" ({:.2}s)", started.elapsed().as_secs_f64()));
        }
        output
    }

    fn command_at(&mut self, args: &[&str], moment: Option<Moment>) -> Option<Output> {
        let line = format!("$ protector {}", args.join(" "));
        // Waits on the twin take milliseconds at this speed: one that does not end is stuck.
        let mut args: Vec<&str> = args.to_vec();
        if args.first() != Some(&"plan") {
            args.extend(["--step-timeout", "20"]);
        }
        let log = self.setup.dir.path().join("run.log");
        let baseline = self.journaled_done();
        let mut child = self.setup.spawn(&args, &log);
        if let Some(moment) = &moment {
            let reached = wait_until(&mut child, || {
                self.journaled_done() >= baseline + moment.done
            });
            if reached {
                std::thread::sleep(Duration::from_millis(moment.delay_ms));
            }
            let running = child.try_wait().unwrap().is_none();
            match moment.event {
                Event::Kill if running => {
                    child.kill().unwrap();
                    child.wait().unwrap();
                    self.transcript.push(format!(
                        "{line}\n  killed after {} more steps done",
                        moment.done
                    ));
                    return None;
                }
                Event::SiteLost(site) if reached || running => {
                    self.setup.control_with(
                        "POST",
                        &format!("/sites/{site}/down"),
                        r#"{"power_off": true}"#,
                    );
                    self.down.insert(site);
                    self.lost_power.insert(site);
                    self.transcript.push(format!("  {site} lost (power)"));
                }
                _ => {}
            }
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(180);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if std::time::Instant::now() > deadline {
                child.kill().unwrap();
                panic!("{line} ran over 3 minutes\n{}", self.transcript());
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        let output = Output {
            status,
            stdout: Vec::new(),
            stderr: std::fs::read(&log).unwrap_or_default(),
        };
        self.record(&line, &output);
        Some(output)
    }

    fn record(&mut self, line: &str, output: &Output) {
        let printed = stderr(output);
        let tail: Vec<&str> = printed
            .lines()
            .filter(|l| l.starts_with("error") || l.starts_with("hint") || l.contains("`protector"))
            .collect();
        self.transcript.push(format!(
            "{line}\n  exit {:?}\n  {}",
            output.status.code(),
            tail.join("\n  ")
        ));
    }

    /// Steps journaled done so far, over every operation of the group.
    fn journaled_done(&self) -> usize {
        let root = self.setup.dir.path().join(".protector");
        let mut done = 0;
        for site in ["site-a", "site-b"] {
            let folder = root.join(site).join("prod-web-app");
            for entry in std::fs::read_dir(folder).into_iter().flatten().flatten() {
                let path: PathBuf = entry.path();
                if path.extension().is_some_and(|e| e == "jsonl") {
                    done += std::fs::read_to_string(&path)
                        .unwrap_or_default()
                        .matches(r#""event":"done""#)
                        .count();
                }
            }
        }
        done
    }

    fn restore_sites(&mut self) {
        for site in std::mem::take(&mut self.down) {
            self.setup.control("POST", &format!("/sites/{site}/up"));
            self.transcript.push(format!("  {site} back"));
        }
    }

    /// The recovery command the tool printed last (its hint first, then its notes, then what
    /// `operation show` names for a run that was killed), one at random when it names several;
    /// `None` when it names none.
    fn next_command(&mut self, output: Option<&Output>) -> Option<Vec<String>> {
        let printed = match output {
            Some(output) => stderr(output),
            None => {
                let operation = self.newest_operation()?;
                let shown = self
                    .setup
                    .protector(&["operation", "show", &operation, "-f", "json"]);
                let shown: Value = serde_json::from_slice(&shown.stdout).ok()?;
                format!("hint: {}", text(&shown["next"]))
            }
        };
        let mut commands: Vec<String> = Vec::new();
        for line in printed
            .lines()
            .filter(|line| line.starts_with("hint:"))
            .chain(printed.lines().filter(|line| !line.starts_with("hint:")))
        {
            for (index, part) in line.split('`').enumerate() {
                if index % 2 == 1 && is_recovery(part) && !commands.contains(&part.to_string()) {
                    commands.push(part.to_string());
                }
            }
            if !commands.is_empty() && line.starts_with("hint:") {
                break;
            }
        }
        if commands.is_empty() {
            return None;
        }
        let chosen = commands[self.pick(commands.len() as u64) as usize].clone();
        let spec = self.spec();
        let mut args: Vec<String> = chosen
            .split_whitespace()
            .skip(1)
            .map(|word| {
                if word == "FILE" {
                    spec.clone()
                } else {
                    word.to_string()
                }
            })
            .collect();
        if let Some("failover" | "failback" | "protection-group") = args.first().map(String::as_str)
        {
            args.push("--yes".to_string());
        }
        if args.iter().any(|a| a == "unplanned") {
            args.push("--accept-data-loss".to_string());
        }
        Some(args)
    }

    /// The operation an operator would look at after a kill: the newest one that did not
    /// settle (a rollback undone by its own compensation settles as `rolled_back`, and the
    /// operation it tried to undo is the one left to finish).
    fn newest_operation(&self) -> Option<String> {
        let list = self
            .setup
            .protector(&["operation", "list", &self.spec(), "-f", "json"]);
        let list: Value = serde_json::from_slice(&list.stdout).ok()?;
        let operations = list.as_array()?;
        operations
            .iter()
            .rev()
            .find(|op| !matches!(text(&op["status"]), "completed" | "rolled_back"))
            .or(operations.last())
            .map(|op| text(&op["id"]).to_string())
    }

    fn group(&self) -> Value {
        let output =
            self.setup
                .protector(&["protection-group", "show", &self.spec(), "-f", "json"]);
        serde_json::from_slice(&output.stdout).unwrap_or(Value::Null)
    }

    /// With both sites up, brings a site that missed an operation in line, as the tool asks.
    fn sync_force_if_needed(&mut self) {
        let output = self.setup.protector(&[
            "protection-group",
            "sync-status",
            &self.spec(),
            "-f",
            "json",
        ]);
        if stdout(&output).contains("IN SYNC")
            && !stdout(&output).contains("UNREACHABLE")
            && !stdout(&output).contains("OUT OF SYNC")
        {
            return;
        }
        let output = self.command(
            &["protection-group", "sync-force", &self.spec(), "--yes"],
            None,
        );
        let output = output.unwrap();
        self.expect(&output, 0);
        self.check_always();
    }

    fn expect(&self, output: &Output, code: i32) {
        assert_eq!(
            output.status.code(),
            Some(code),
            "{}\n{}",
            stderr(output),
            self.transcript()
        );
    }

    fn transcript(&self) -> String {
        format!("seed {}:\n{}", self.seed, self.transcript.join("\n"))
    }

    /// 1 and 4, on whatever the world is now.
    fn check_always(&self) {
        let world = self.setup.world();
        for member in GROUP {
            let running: Vec<&str> = ["site-a", "site-b"]
                .into_iter()
                .filter(|site| {
                    named(&world["sites"][*site]["compute"]["servers"], member)
                        .iter()
                        .any(|server| server["status"] == "ACTIVE")
                })
                .collect();
            assert!(
                running.len() < 2,
                "{member} ACTIVE on both sites\n{}",
                self.transcript()
            );
        }
        for site in ["site-a", "site-b"] {
            for volume in values(&world["sites"][site]["array"]["volumes"]) {
                assert!(
                    !(self.protected.contains(text(&volume["id"])) && volume["destroyed"] == true),
                    "array volume {} holding a member's data was destroyed\n{}",
                    volume["name"],
                    self.transcript()
                );
            }
        }
    }

    /// 2, 3 and (after a rollback) 5.
    fn check_success(&self, command: &[String], before: &Value) {
        let world = self.setup.world();
        let group = self.group();
        let primary = text(&group["current_primary_site"]).to_string();
        assert!(
            matches!(text(&group["status"]), "active" | "failed_over"),
            "the group is {} after success\n{}",
            group["status"],
            self.transcript()
        );
        let other = if primary == "site-a" {
            "site-b"
        } else {
            "site-a"
        };
        let mut members = BTreeSet::new();
        // A site that lost power stopped what ran there, after the tool had done its part.
        let powered_off = self.lost_power.contains(primary.as_str());
        for member in GROUP {
            let running: Vec<&Value> =
                named(&world["sites"][&primary]["compute"]["servers"], member)
                    .into_iter()
                    .filter(|server| powered_off || server["status"] == "ACTIVE")
                    .collect();
            assert_eq!(
                running.len(),
                1,
                "{member} ACTIVE {} times on {primary}\n{}",
                running.len(),
                self.transcript()
            );
            members.insert(text(&running[0]["id"]).to_string());
            assert!(
                named(&world["sites"][other]["compute"]["servers"], member).is_empty(),
                "{member} left on {other}\n{}",
                self.transcript()
            );
        }
        for site in ["site-a", "site-b"] {
            let (start, now) = (&self.start["sites"][site], &world["sites"][site]);
            for server in new_items(&start["compute"]["servers"], &now["compute"]["servers"]) {
                assert!(
                    members.contains(text(&server["id"])),
                    "server {} ({}) orphaned on {site}\n{}",
                    server["name"],
                    server["id"],
                    self.transcript()
                );
            }
            for port in new_items(&start["network"]["ports"], &now["network"]["ports"]) {
                assert!(
                    members.contains(text(&port["device_id"])),
                    "port {} orphaned on {site}\n{}",
                    port["id"],
                    self.transcript()
                );
            }
            let managed: BTreeSet<&str> = values(&now["block"]["volumes"])
                .map(|volume| text(&volume["array_volume"]))
                .collect();
            for volume in new_items(&start["block"]["volumes"], &now["block"]["volumes"]) {
                assert_eq!(
                    volume["status"],
                    "in-use",
                    "Cinder volume {} orphaned on {site}\n{}",
                    volume["id"],
                    self.transcript()
                );
            }
            for copy in new_items(&start["array"]["volumes"], &now["array"]["volumes"]) {
                let name = text(&copy["name"]);
                assert!(
                    copy["destroyed"] == true
                        || managed.contains(name)
                        // Unmanaged by a completed operation: its data kept, by design.
                        || name.ends_with("-unmanaged"),
                    "array volume {name} orphaned on {site}\n{}",
                    self.transcript()
                );
            }
        }
        if command.first().map(String::as_str) == Some("rollback") {
            let source = primary.as_str();
            for member in GROUP {
                let shape = |world: &Value| {
                    named(&world["sites"][source]["compute"]["servers"], member)
                        .first()
                        .map(|server| json!([server["id"], server["volumes"], server["ports"]]))
                };
                assert_eq!(
                    shape(&world),
                    shape(before),
                    "{member} on {source} is not as before the rolled back operation\n{}",
                    self.transcript()
                );
            }
        }
    }
}

/// A command that changes something, as hints name it (not `show`, `list`, `plan`, ...).
fn is_recovery(command: &str) -> bool {
    let words: Vec<&str> = command.split_whitespace().collect();
    matches!(
        words.as_slice(),
        ["protector", "apply", "--resume", ..]
            | ["protector", "rollback", ..]
            | ["protector", "failover", ..]
            | ["protector", "failback", ..]
            | ["protector", "protection-group", "sync-force", ..]
    )
}
