//! `protector validate`: each rule's exact message on a bad file, and the JSON shape.

use crate::{files_in, protector, stderr, stdout};

/// Every invalid fixture exits 1 and prints, for each error, `file:line:column`, the offending
/// snippet and a hint. The whole text is a snapshot: a change to any message is a reviewable diff.
#[test]
fn each_invalid_fixture_reports_its_rule_with_location_snippet_and_hint() {
    let fixtures = files_in("tests/fixtures/invalid", "yaml");
    assert!(fixtures.len() >= 25, "fixtures: {fixtures:?}");
    for fixture in fixtures {
        let path = fixture.to_str().unwrap();
        let output = protector(&["validate", path]);
        assert_eq!(output.status.code(), Some(1), "{path}: {}", stderr(&output));
        assert!(stdout(&output).is_empty(), "{path}: errors go to stderr");
        let text = stderr(&output);
        let errors = text.matches("\nerror: ").count() + usize::from(text.starts_with("error: "));
        // Each diagnostic plus the closing "FILE is invalid" line.
        assert!(errors >= 2, "{path}: {text}");
        assert_eq!(
            text.matches(&format!("--> {path}:")).count(),
            errors - 1,
            "{path}: every error names file:line:column\n{text}"
        );
        assert_eq!(
            text.matches("\nhint: ").count(),
            errors - 1,
            "{path}: every error ends with a hint\n{text}"
        );
        let name = fixture.file_stem().unwrap().to_str().unwrap().to_string();
        insta::assert_snapshot!(name, text);
    }
}

#[test]
fn a_cycle_is_reported_with_its_path_and_both_locations() {
    let path = "tests/fixtures/invalid/dependency-cycle.yaml";
    let text = stderr(&protector(&["validate", path]));
    assert!(
        text.contains("error: dependency cycle: db-1 -> web-1 -> db-1"),
        "{text}"
    );
    assert!(text.contains(&format!("--> {path}:24:18")), "{text}");
    assert!(text.contains("27 |     depends_on: [db-1]"), "{text}");
    assert!(text.contains("`db-1` depends on `web-1`"), "{text}");
    assert!(text.contains("`web-1` depends on `db-1`"), "{text}");
}

#[test]
fn an_inline_token_is_rejected_without_being_printed() {
    let path = "tests/fixtures/invalid/api-token-inline.yaml";
    for format in ["text", "json"] {
        let output = protector(&["validate", path, "--format", format]);
        let everything = format!("{}{}", stdout(&output), stderr(&output));
        assert_eq!(output.status.code(), Some(1));
        assert!(
            everything.contains("secrets never live in the spec"),
            "{everything}"
        );
        assert!(
            everything.contains("{ env: FA_SITE_B_API_TOKEN }"),
            "{everything}"
        );
        assert!(
            !everything.contains("pureuser-3f9a7c2e-token"),
            "{everything}"
        );
    }
}

/// A token pasted where the spec takes no token (under another key, in a list, beside a
/// reference, under a misspelt `api_token`) is never printed either, in text or in JSON.
#[test]
fn a_misplaced_token_is_never_printed() {
    let token = "pureuser-3f9a7c2e-token";
    for fixture in [
        "api-token-value-key",
        "api-token-list",
        "api-token-misspelt-key",
        "api-token-extra-key",
    ] {
        let path = format!("tests/fixtures/invalid/{fixture}.yaml");
        let spec = std::fs::read_to_string(crate::root().join(&path)).unwrap();
        assert!(spec.contains(token), "{path}");
        for format in ["text", "json"] {
            let output = protector(&["validate", &path, "--format", format]);
            assert_eq!(output.status.code(), Some(1), "{path}");
            let everything = format!("{}{}", stdout(&output), stderr(&output));
            assert!(everything.contains("api_tok"), "{path}: {everything}");
            assert!(!everything.contains(token), "{path}: {everything}");
        }
    }
}

#[test]
fn several_errors_are_reported_together() {
    let text = stderr(&protector(&[
        "validate",
        "tests/fixtures/invalid/several-errors.yaml",
    ]));
    assert!(text.contains("primary site `site-z`"), "{text}");
    assert!(text.contains("depends on `db-9`"), "{text}");
    assert!(text.contains("rto must be greater than zero"), "{text}");
    assert!(text.contains("is invalid: 3 errors"), "{text}");
}

#[test]
fn every_stray_key_is_reported_with_the_rules_broken_elsewhere() {
    let text = stderr(&protector(&[
        "validate",
        "tests/fixtures/invalid/stray-keys.yaml",
    ]));
    assert!(text.contains("unknown key `owner`"), "{text}");
    assert!(text.contains("duplicate key `rpo`"), "{text}");
    assert!(text.contains("unknown key `tier`"), "{text}");
    assert!(text.contains("rto must be greater than zero"), "{text}");
    assert!(text.contains("is invalid: 4 errors"), "{text}");
}

#[test]
fn misspelt_keys_are_all_reported_without_what_they_cause() {
    let text = stderr(&protector(&[
        "validate",
        "tests/fixtures/invalid/misspelt-keys.yaml",
    ]));
    assert!(text.contains("unknown key `aray_name`"), "{text}");
    assert!(text.contains("did you mean `array_name`?"), "{text}");
    assert!(text.contains("unknown key `mapings`"), "{text}");
    assert!(!text.contains("missing key"), "{text}");
    assert!(text.contains("is invalid: 2 errors"), "{text}");
}

#[test]
fn json_output_has_terraform_validate_shape() {
    let output = protector(&[
        "validate",
        "-f",
        "json",
        "tests/fixtures/invalid/unknown-dependency.yaml",
    ]);
    assert_eq!(output.status.code(), Some(1));
    let document: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(document["valid"], false);
    assert_eq!(document["error_count"], 1);
    assert_eq!(document["warning_count"], 0);
    let diagnostic = &document["diagnostics"][0];
    assert_eq!(diagnostic["severity"], "error");
    assert_eq!(
        diagnostic["summary"],
        "`web-1` depends on `db-9`, which is not a member"
    );
    assert!(diagnostic["detail"].is_string());
    let range = &diagnostic["range"];
    assert_eq!(
        range["filename"],
        "tests/fixtures/invalid/unknown-dependency.yaml"
    );
    assert_eq!(range["start"]["line"], 26);
    assert_eq!(range["start"]["column"], 18);
    assert_eq!(range["end"]["line"], 26);
    assert_eq!(range["end"]["column"], 22);
    assert_eq!(diagnostic["snippet"]["code"], "    depends_on: [db-9]");
    assert_eq!(
        diagnostic["hint"],
        "add `db-9` to members, or remove it from `depends_on`"
    );
}

#[test]
fn json_output_of_a_valid_file() {
    let output = protector(&["validate", "--format", "json", "examples/prod-web-app.yaml"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let document: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(document["valid"], true);
    assert_eq!(document["error_count"], 0);
    assert_eq!(document["diagnostics"], serde_json::json!([]));
}

#[test]
fn warnings_do_not_fail_validation() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(crate::root().join("tests/fixtures/valid-minimal.yaml"))
        .unwrap()
        .replace("replication: async", "replication: sync");
    let path = dir.path().join("sync.yaml");
    std::fs::write(&path, text).unwrap();
    let output = protector(&["validate", path.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("warning: sync replication"),
        "{}",
        stderr(&output)
    );
    assert!(stdout(&output).starts_with("valid "));
}

#[test]
fn an_unreadable_file_is_an_error_with_a_hint() {
    let output = protector(&["validate", "no/such/spec.yaml"]);
    assert_eq!(output.status.code(), Some(1));
    let text = stderr(&output);
    assert!(
        text.starts_with("error: cannot read no/such/spec.yaml"),
        "{text}"
    );
    assert!(text.contains("\n\nhint: check the path"), "{text}");
}

/// A batch checks and reports every file, unreadable ones included (each as an error naming it:
/// missing, not UTF-8, a device that never ends), in text and in JSON (one valid document).
#[test]
fn a_batch_reports_every_file_even_unreadable_ones() {
    let files = [
        "tests/fixtures/valid-minimal.yaml",
        "no/such/spec.yaml",
        "tests/fixtures/unreadable/latin1.yaml",
        "/dev/zero",
        "tests/fixtures/invalid/unknown-key.yaml",
    ];
    let output = protector(&[&["validate"], &files[..]].concat());
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stdout(&output).starts_with("valid tests/fixtures/valid-minimal.yaml: "),
        "{}",
        stdout(&output)
    );
    let text = stderr(&output);
    for invalid in &files[1..] {
        assert!(
            text.contains(&format!("error: {invalid} is invalid")),
            "{text}"
        );
    }
    insta::assert_snapshot!(text);

    let output = protector(&[&["validate", "-f", "json"], &files[..]].concat());
    assert_eq!(output.status.code(), Some(1));
    let document: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(document["valid"], false);
    assert_eq!(document["error_count"], 4);
    let summaries: Vec<&str> = document["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|diagnostic| diagnostic["summary"].as_str().unwrap())
        .collect();
    assert_eq!(
        summaries,
        [
            "cannot read no/such/spec.yaml: No such file or directory (os error 2)",
            "cannot read tests/fixtures/unreadable/latin1.yaml: it is not UTF-8 text (byte 0xe9 at line 3, column 17)",
            "cannot read /dev/zero: it holds more than 4 MiB",
            "unknown key `membres`",
        ]
    );
}
