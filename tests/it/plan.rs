//! `protector plan` end to end: the binary discovers the twin's two sites and plans.

use std::path::PathBuf;
use std::process::{Command, Output};

use crate::keystone_api::call;
use crate::twin::TwinProcess;
use crate::{stderr, stdout};

/// The example spec in a temporary folder (its state lands there too), run against `twin`.
pub struct Setup {
    pub twin: TwinProcess,
    pub dir: tempfile::TempDir,
    /// The user's state home (`XDG_STATE_HOME`), outside `dir`: where protector remembers the
    /// state folders it ran operations from.
    pub home: tempfile::TempDir,
}

impl Setup {
    pub fn new() -> Setup {
        Setup::at_speed(200)
    }

    /// The twin's latencies divided by `speed`.
    pub fn at_speed(speed: u32) -> Setup {
        Setup::with_twin_args(speed, &[])
    }

    /// The twin at `speed`, started with `args` added to `sim up`'s.
    pub fn with_twin_args(speed: u32, args: &[&str]) -> Setup {
        let twin = TwinProcess::start(speed, args);
        let dir = tempfile::tempdir().unwrap();
        std::fs::copy(
            crate::root().join("examples/prod-web-app.yaml"),
            dir.path().join("pg.yaml"),
        )
        .unwrap();
        Setup::around(twin, dir)
    }

    pub fn around(twin: TwinProcess, dir: tempfile::TempDir) -> Setup {
        let home = tempfile::tempdir().unwrap();
        Setup { twin, dir, home }
    }

    pub fn spec(&self) -> PathBuf {
        self.dir.path().join("pg.yaml")
    }

    pub fn protector(&self, args: &[&str]) -> Output {
        self.protector_from(self.dir.path(), args)
    }

    /// `protector ARGS` run from `dir`. The user's state home (where protector remembers the
    /// state folders it ran operations from) is the setup's own.
    pub fn protector_from(&self, dir: &std::path::Path, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_protector"))
            .args(args)
            .current_dir(dir)
            .envs(&self.twin.env)
            .env("NO_COLOR", "1")
            .env("XDG_STATE_HOME", self.home.path())
            .env_remove("RUST_LOG")
            .output()
            .expect("protector runs")
    }

    /// `protector ARGS` started in the background (its stderr to `log`), to be killed.
    pub fn spawn(&self, args: &[&str], log: &std::path::Path) -> std::process::Child {
        Command::new(env!("CARGO_BIN_EXE_protector"))
            .args(args)
            .current_dir(self.dir.path())
            .envs(&self.twin.env)
            .env("NO_COLOR", "1")
            .env("XDG_STATE_HOME", self.home.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(log).unwrap())
            .spawn()
            .unwrap()
    }

    /// A control API call with a JSON body.
    pub fn control_with(&self, method: &str, path: &str, body: &str) {
        let status = Command::new("curl")
            .args([
                "-sf",
                "-o",
                "/dev/null",
                "-X",
                method,
                "-H",
                "Content-Type: application/json",
                "-d",
                body,
                &format!("{}{path}", self.twin.control()),
            ])
            .status()
            .expect("curl runs");
        assert!(status.success(), "{method} {path} {body}");
    }

    pub fn control(&self, method: &str, path: &str) {
        let status = Command::new("curl")
            .args([
                "-sf",
                "-o",
                "/dev/null",
                "-X",
                method,
                &format!("{}{path}", self.twin.control()),
            ])
            .status()
            .expect("curl runs");
        assert!(status.success(), "{method} {path}");
    }

    /// The twin's world dump (`GET /world`).
    pub fn world(&self) -> serde_json::Value {
        call("GET", &format!("{}/world", self.twin.control()), &[], None).json()
    }

    /// Adds a fault rule (`POST /faults`).
    pub fn fault(&self, rule: serde_json::Value) {
        let url = format!("{}/faults", self.twin.control());
        let reply = call("POST", &url, &[], Some(&rule));
        assert_eq!(reply.status, 201, "{rule}: {}", reply.body);
    }

    /// Removes every fault rule.
    pub fn clear_faults(&self) {
        self.control("DELETE", "/faults");
    }
}

#[test]
fn a_planned_failover_of_the_example_group() {
    let setup = Setup::new();
    let spec = setup.spec();
    let plan_file = setup.dir.path().join("failover.plan");
    let output = setup.protector(&[
        "plan",
        spec.to_str().unwrap(),
        "--operation",
        "failover",
        "--type",
        "planned",
        "-o",
        plan_file.to_str().unwrap(),
    ]);
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{}\n{text}", stderr(&output));
    assert!(
        text.contains(
            "protector will perform a planned failover of prod-web-app from site-a to site-b."
        ),
        "{text}"
    );
    assert!(text.contains("> boot_instance/web-1"), "{text}");
    assert!(text.contains("+    flavor: m2.large"), "{text}");
    assert!(
        text.contains("+    - net-secondary-web = 10.10.1.11"),
        "fixed IP kept: {text}"
    );
    assert!(text.contains("Predicted RTO: "), "{text}");
    assert!(
        text.contains(
            "Plan: 1 server group to create on site-b, 3 instances to recreate on site-b, \
             4 volumes to promote and manage on site-b"
        ),
        "{text}"
    );
    let plan: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&plan_file).unwrap()).unwrap();
    assert_eq!(plan["format_version"], 1);
    assert_eq!(plan["protector_version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(plan["operation"]["kind"], "failover");
    assert!(plan["operation"]["id"].as_str().unwrap().starts_with("op-"));
    let serialized = plan.to_string();
    for secret in [
        "site-a-secret",
        setup.twin.env["FA_SITE_A_API_TOKEN"].as_str(),
    ] {
        assert!(!serialized.contains(secret), "no secret in the plan file");
    }
    // The saved plan shows the same.
    let shown = setup.protector(&["show", plan_file.to_str().unwrap()]);
    assert_eq!(stdout(&shown), text);
    let dot = stdout(&setup.protector(&["show", plan_file.to_str().unwrap(), "-f", "dot"]));
    assert!(
        dot.contains("\"boot_instance/db-1\" -> \"boot_instance/web-1\";"),
        "{dot}"
    );
}

/// Durations that once validated, then panicked `plan` (exit 101) or failed only at apply time
/// (`rpo: 1s`: the array replicates every 5m at the most): every plan refuses the spec, naming
/// the limit, before it touches a site.
#[test]
fn durations_beyond_what_plans_and_the_array_take_are_refused() {
    let setup = Setup::new();
    let spec = setup.spec();
    let example = std::fs::read_to_string(&spec).unwrap();
    for (from, to, says) in [
        (
            "rto: 30m",
            "rto: 18446744073709551615s",
            "is longer than 30d",
        ),
        (
            "rpo: 15m",
            "rpo: 18446744073709551615s",
            "is longer than 400d",
        ),
        ("rpo: 15m", "rpo: 1s", "rpo 1s is shorter than 5m"),
    ] {
        std::fs::write(&spec, example.replace(from, to)).unwrap();
        for operation in ["converge", "failover", "drill"] {
            let output =
                setup.protector(&["plan", spec.to_str().unwrap(), "--operation", operation]);
            let text = stderr(&output);
            assert_eq!(output.status.code(), Some(1), "{to}, {operation}: {text}");
            assert!(text.contains(says), "{to}, {operation}: {text}");
        }
    }
}

/// `/dev/zero` as the API token file or the array's CA (`plan` grew to 14 GB reading it): named
/// in the spec, validation refuses it; named through the environment, where validation cannot
/// see it, the plan refuses to read it. Memory is capped so that a regression fails this test,
/// not the machine.
#[test]
fn token_and_ca_files_that_never_end_are_not_read() {
    let setup = Setup::new();
    let spec = setup.spec();
    let example = std::fs::read_to_string(&spec).unwrap();
    let run = |env: &[(&str, &str)]| {
        let output = Command::new("sh")
            .args(["-c", "ulimit -v 4194304 && exec \"$0\" \"$@\""])
            .arg(env!("CARGO_BIN_EXE_protector"))
            .args(["plan", spec.to_str().unwrap()])
            .current_dir(setup.dir.path())
            .envs(&setup.twin.env)
            .envs(env.iter().copied())
            .env("NO_COLOR", "1")
            .output()
            .expect("protector runs");
        (output.status.code(), stderr(&output))
    };

    let token_file = example.replace(
        "api_token: { env: FA_SITE_A_API_TOKEN }",
        "api_token: { file: /dev/zero }",
    );
    std::fs::write(&spec, token_file).unwrap();
    let (code, text) = run(&[]);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("api_token file `/dev/zero` cannot be used: it is a character device, not a regular file"),
        "{text}"
    );

    std::fs::write(&spec, &example).unwrap();
    let (code, text) = run(&[("FA_SITE_A_CA_CERT", "/dev/zero")]);
    assert_eq!(code, Some(3), "{text}");
    assert!(
        text.contains("flasharray fa-a: cannot read the CA certificate /dev/zero: it is a character device, not a regular file"),
        "{text}"
    );
}

#[test]
fn planned_failover_refuses_when_the_source_is_down_and_names_unplanned() {
    let setup = Setup::new();
    setup.control("POST", "/sites/site-a/down");
    let spec = setup.spec();
    let output = setup.protector(&["plan", spec.to_str().unwrap(), "--operation", "failover"]);
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    let text = stderr(&output);
    assert!(
        text.contains("refused: remote site unreachable: site-a"),
        "{text}"
    );
    assert!(text.contains("--type unplanned"), "{text}");
}

#[test]
fn a_missing_mapping_is_refused_with_the_flag_that_adds_it() {
    let setup = Setup::new();
    let spec = setup.spec();
    let text = std::fs::read_to_string(&spec).unwrap().replace(
        "    - { site-a: net-primary-db, site-b: net-secondary-db }\n",
        "",
    );
    std::fs::write(&spec, text).unwrap();
    let output = setup.protector(&["plan", spec.to_str().unwrap(), "--operation", "failover"]);
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("network `net-primary-db` of `db-1` has no mapping to site-b")
    );
    assert!(stderr(&output).contains("--network-mapping net-primary-db=<network on site-b>"));
    let output = setup.protector(&[
        "plan",
        spec.to_str().unwrap(),
        "--operation",
        "failover",
        "--network-mapping",
        "net-primary-db=net-secondary-db",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
}

#[test]
fn converge_with_detailed_exitcode_reports_changes_for_an_unrecorded_group() {
    let setup = Setup::new();
    let spec = setup.spec();
    let output = setup.protector(&["plan", spec.to_str().unwrap(), "--detailed-exitcode"]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("record_members"),
        "{}",
        stdout(&output)
    );
    let output = setup.protector(&["plan", spec.to_str().unwrap()]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "without the flag, changes still exit 0"
    );
}

#[test]
fn site_validate_catches_the_cinder_manage_policy_trap() {
    let setup = Setup::new();
    let spec = setup.spec();
    let output = setup.protector(&["site", "validate", spec.to_str().unwrap(), "site-b"]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}{}",
        stdout(&output),
        stderr(&output)
    );
    let text = stdout(&output);
    assert!(
        text.contains("| cinder manage policy        | ok"),
        "{text}"
    );
    assert!(
        text.contains("| array login                 | ok"),
        "{text}"
    );
    assert!(
        text.contains(
            "| cinder backend pool         | ok     | site-b@pure#fa-b is a pool of Cinder"
        ),
        "{text}"
    );

    // The same site seen through a user without the admin role.
    let clouds = std::fs::read_to_string(setup.twin.clouds_yaml()).unwrap();
    let viewer = clouds
        .replacen("username: protector", "username: viewer", 2)
        .replace("site-b-secret", "viewer-secret");
    let viewer_clouds = setup.dir.path().join("viewer-clouds.yaml");
    std::fs::write(&viewer_clouds, viewer).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_protector"))
        .args([
            "site",
            "validate",
            spec.to_str().unwrap(),
            "site-b",
            "-f",
            "json",
        ])
        .current_dir(setup.dir.path())
        .envs(&setup.twin.env)
        .env("OS_CLIENT_CONFIG_FILE", &viewer_clouds)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    let checks: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let policy = checks
        .as_array()
        .unwrap()
        .iter()
        .find(|check| check["check"] == "cinder manage policy")
        .unwrap();
    assert_eq!(policy["status"], "FAILED");
    assert!(
        policy["detail"]
            .as_str()
            .unwrap()
            .contains("volume_extension:volume_manage")
    );
    assert!(
        stderr(&output).contains("site-b is not ready"),
        "{}",
        stderr(&output)
    );
    // A viewer cannot list pools either: not checked, not failed.
    let pool = checks
        .as_array()
        .unwrap()
        .iter()
        .find(|check| check["check"] == "cinder backend pool")
        .unwrap();
    assert_eq!(pool["status"], "ok", "{pool}");
    assert!(
        pool["detail"].as_str().unwrap().contains("not checked"),
        "{pool}"
    );

    // A cinder_host with a typo: the pool is named as missing, with the pools there are.
    let typo = setup.dir.path().join("typo.yaml");
    std::fs::write(
        &typo,
        std::fs::read_to_string(&spec)
            .unwrap()
            .replace("site-b@pure#fa-b", "site-b@pure#fa-bb"),
    )
    .unwrap();
    let output = setup.protector(&["site", "validate", typo.to_str().unwrap(), "site-b"]);
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("no pool site-b@pure#fa-bb (Cinder's pools: site-b@pure#fa-b)"),
        "{}",
        stdout(&output)
    );
}

/// The twin with site-b's Cinder policy for `volume_extension:volume_manage` set to `roles`.
fn with_site_b_manage_policy(roles: &str) -> (Setup, tempfile::TempDir) {
    let fixture_dir = tempfile::tempdir().unwrap();
    let fixture =
        std::fs::read_to_string(crate::root().join("examples/sim/two-sites.yaml")).unwrap();
    let site_b = fixture.rfind("cinder_policy:").unwrap();
    let fixture = format!(
        "{}{}",
        &fixture[..site_b],
        fixture[site_b..].replacen(
            "volume_manage: [admin]",
            &format!("volume_manage: [{roles}]"),
            1
        )
    );
    let path = fixture_dir.path().join("fixture.yaml");
    std::fs::write(&path, fixture).unwrap();
    let setup = Setup::with_twin_args(200, &["--fixture", path.to_str().unwrap()]);
    (setup, fixture_dir)
}

#[test]
fn a_cinder_policy_that_refuses_admin_is_found_at_plan_time_with_production_untouched() {
    let (setup, _fixture) = with_site_b_manage_policy("cloud-admin");
    let spec = setup.spec();
    let spec = spec.to_str().unwrap();
    let before = setup.world();
    let output = setup.protector(&["plan", spec, "--operation", "failover"]);
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("Cinder on site-b refuses to manage volumes"),
        "{}",
        stderr(&output)
    );
    // `failover` plans first: it stops nothing.
    let output = setup.protector(&["failover", spec, "--type", "planned", "--yes"]);
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    let after = setup.world();
    for site in ["site-a", "site-b"] {
        assert_eq!(
            before["sites"][site]["compute"]["servers"], after["sites"][site]["compute"]["servers"],
            "{site}'s servers"
        );
        assert_eq!(
            before["sites"][site]["block"]["volumes"], after["sites"][site]["block"]["volumes"],
            "{site}'s volumes: the probe created none"
        );
    }
    let output = setup.protector(&["site", "validate", spec, "site-b", "-f", "json"]);
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    let checks: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let policy = checks
        .as_array()
        .unwrap()
        .iter()
        .find(|check| check["check"] == "cinder manage policy")
        .unwrap();
    assert_eq!(policy["status"], "FAILED", "{policy}");
}

#[test]
fn a_cinder_policy_that_allows_another_role_is_not_refused_for_lacking_admin() {
    let (setup, _fixture) = with_site_b_manage_policy("admin, reader");
    let clouds = std::fs::read_to_string(setup.twin.clouds_yaml()).unwrap();
    let viewer = clouds
        .replacen("username: protector", "username: viewer", 2)
        .replace("site-b-secret", "viewer-secret");
    let viewer_clouds = setup.dir.path().join("viewer-clouds.yaml");
    std::fs::write(&viewer_clouds, viewer).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_protector"))
        .args(["site", "validate", setup.spec().to_str().unwrap(), "site-b"])
        .args(["-f", "json"])
        .current_dir(setup.dir.path())
        .envs(&setup.twin.env)
        .env("OS_CLIENT_CONFIG_FILE", &viewer_clouds)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let checks: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let policy = checks
        .as_array()
        .unwrap()
        .iter()
        .find(|check| check["check"] == "cinder manage policy")
        .unwrap();
    assert_eq!(policy["status"], "ok", "{policy}");
    assert!(
        policy["detail"].as_str().unwrap().contains("probed"),
        "{policy}"
    );
}

#[test]
fn logs_show_every_http_call_with_its_request_id_and_never_a_secret() {
    let setup = Setup::new();
    let spec = setup.spec();
    let spec = spec.to_str().unwrap();
    let quiet = setup.protector(&["plan", spec]);
    assert!(
        !stderr(&quiet).contains("http call"),
        "no logs unless asked"
    );

    let log = setup.dir.path().join("protector.log");
    let log_arg = log.to_str().unwrap();
    let traced = setup.protector(&["-vvv", "--log-file", log_arg, "plan", spec]);
    assert_eq!(traced.status.code(), quiet.status.code());
    assert_eq!(stdout(&traced), stdout(&quiet), "logs never reach stdout");
    let text = std::fs::read_to_string(&log).unwrap();
    let calls: Vec<&str> = text.lines().filter(|l| l.contains("http call")).collect();
    assert!(calls.len() > 10, "{text}");
    for call in &calls {
        for field in [
            "request_id=req-",
            "method=",
            "path=",
            "status=",
            "elapsed_ms=",
        ] {
            assert!(call.contains(field), "{field} in {call}");
        }
    }
    assert!(text.contains("http request body"), "bodies at -vvv");
    assert!(text.contains("\"password\":\"***\""), "{text}");
    for secret in [
        "site-a-secret",
        "site-b-secret",
        setup.twin.env["FA_SITE_A_API_TOKEN"].as_str(),
        setup.twin.env["FA_SITE_B_API_TOKEN"].as_str(),
    ] {
        assert!(!text.contains(secret), "{secret} logged");
    }

    // `--debug`: the calls, not the bodies, on stderr.
    let debug = setup.protector(&["--debug", "plan", spec]);
    let said = stderr(&debug);
    assert!(said.contains("http call"), "{said}");
    assert!(!said.contains("http request body"), "{said}");
    // RUST_LOG overrides the flags; a filter that does not parse is an error.
    let output = Command::new(env!("CARGO_BIN_EXE_protector"))
        .args(["plan", spec])
        .current_dir(setup.dir.path())
        .envs(&setup.twin.env)
        .env("RUST_LOG", "protector=loud")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("RUST_LOG `protector=loud` is not a log filter"));
}
