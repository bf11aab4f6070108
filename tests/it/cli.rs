//! Conventions every command shares: help with examples, completions, exit codes.

use crate::{protector, stderr, stdout};

#[test]
fn help_shows_an_example_for_each_command() {
    let commands: [&[&str]; 13] = [
        &["validate"],
        &["schema"],
        &["completions"],
        &["plan"],
        &["show"],
        &["demo"],
        &["sim", "up"],
        &["sim", "fixture"],
        &["site", "validate"],
        &["protection-group", "show"],
        &["protection-group", "sync-status"],
        &["report"],
        &["verify-evidence"],
    ];
    for command in commands {
        let mut args = command.to_vec();
        args.push("--help");
        let output = protector(&args);
        assert_eq!(output.status.code(), Some(0), "{command:?}");
        let text = stdout(&output);
        assert!(text.contains("Examples:"), "{command:?}: {text}");
        assert!(
            text.contains(&format!("protector {} ", command.join(" "))),
            "{command:?}: {text}"
        );
    }
    let text = stdout(&protector(&["--help"]));
    assert!(text.contains("Exit codes:"), "{text}");
    assert!(text.contains("3  refused"), "{text}");
}

#[test]
fn completions_are_generated_for_common_shells() {
    for shell in ["bash", "zsh", "fish"] {
        let output = protector(&["completions", shell]);
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
        assert!(stdout(&output).contains("validate"), "{shell}");
    }
}

#[test]
fn version_names_the_commit_and_the_build_day() {
    let output = protector(&["--version"]);
    assert_eq!(output.status.code(), Some(0));
    let text = stdout(&output);
    let commit = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(crate::root())
        .output()
        .ok()
        .filter(|output| output.status.success())
        .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".to_string());
    let expected = format!("protector {} ({commit} ", env!("CARGO_PKG_VERSION"));
    assert!(text.starts_with(&expected), "{text:?} vs {expected:?}");
    assert!(text.contains(", built 20"), "{text}");
}

#[test]
fn failover_and_failback_list_only_their_own_flags() {
    let failover = stdout(&protector(&["failover", "--help"]));
    assert!(failover.contains("--type <FAILOVER_TYPE>"), "{failover}");
    assert!(!failover.contains("--reverse-replication"), "{failover}");
    let failback = stdout(&protector(&["failback", "--help"]));
    assert!(failback.contains("--reverse-replication"), "{failback}");
    assert!(!failback.contains("--type"), "{failback}");
    let output = protector(&["failback", "pg.yaml", "--type", "planned"]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
}

#[test]
fn usage_errors_exit_1_not_2_which_means_changes() {
    let output = protector(&["validate"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("FILE"));
}

#[test]
fn terraform_single_dash_options_are_refused_with_their_spelling() {
    for (typed, meant) in [
        ("-out", "--out"),
        ("-detailed-exitcode", "--detailed-exitcode"),
        ("-out=converge.plan", "--out=converge.plan"),
    ] {
        let output = protector(&["plan", "examples/prod-web-app.yaml", typed]);
        assert_eq!(output.status.code(), Some(1), "{typed}");
        let said = stderr(&output);
        assert!(
            said.contains(&format!(
                "unknown option `{typed}`: did you mean `{meant}`?"
            )),
            "{said}"
        );
    }
    let output = protector(&["apply", "x.plan", "-auto-approve"]);
    assert!(stderr(&output).contains("did you mean `--auto-approve`?"));
    // Short options bundled as clap reads them are left alone.
    let output = protector(&["-vv", "validate", "examples/prod-web-app.yaml"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    // `apply --yes` as `failover --yes`.
    let output = protector(&["apply", "--help"]);
    assert!(stdout(&output).contains("--yes"), "{}", stdout(&output));
}

#[test]
fn protection_group_show_before_any_apply_reads_the_spec() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("pg.yaml");
    std::fs::copy(crate::root().join("examples/prod-web-app.yaml"), &spec).unwrap();
    let output = protector(&[
        "protection-group",
        "show",
        spec.to_str().unwrap(),
        "-f",
        "json",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let record: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(record["status"], "active");
    assert_eq!(record["current_primary_site"], "site-a");
    assert_eq!(record["failover_count"], 0);
    assert_eq!(record["metadata_version"], 0);
    let table = stdout(&protector(&[
        "protection-group",
        "show",
        spec.to_str().unwrap(),
    ]));
    assert!(table.starts_with("+----"), "{table}");
    assert!(table.contains("| current_primary_site | site-a"), "{table}");
}

#[test]
fn policy_show_names_where_secrets_come_from_never_their_values() {
    let output = protector(&[
        "protection-group",
        "policy-show",
        "examples/prod-web-app.yaml",
        "-f",
        "yaml",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(
        text.contains("api_token_from: env:FA_SITE_A_API_TOKEN"),
        "{text}"
    );
    assert!(text.contains("rpo: 15m"), "{text}");
    assert!(
        text.contains("flavor_mappings:\n- site-a: m1.large\n  site-b: m2.large"),
        "{text}"
    );
    for secret in ["pureuser", "api_token: "] {
        assert!(!text.contains(secret), "{text}");
    }
}
