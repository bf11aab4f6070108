//! Every example under `examples/` is a valid spec.

use crate::{files_in, protector, stderr, stdout};

#[test]
fn every_example_validates() {
    let examples = files_in("examples", "yaml");
    assert!(examples.len() >= 3, "{examples:?}");
    let mut args = vec!["validate"];
    args.extend(examples.iter().map(|path| path.to_str().unwrap()));
    let output = protector(&args);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(
        stderr(&output).is_empty(),
        "no warnings: {}",
        stderr(&output)
    );
    assert_eq!(stdout(&output).lines().count(), examples.len());
}

#[test]
fn the_main_example_has_the_documented_shape() {
    let output = protector(&["validate", "examples/prod-web-app.yaml"]);
    assert_eq!(
        stdout(&output).trim(),
        "valid examples/prod-web-app.yaml: protection group prod-web-app between site-a \
         (primary) and site-b; 3 members in 2 boot tiers; mappings: 2 networks, 1 flavor"
    );
}

/// The snapshot age an unplanned failover or a drill discloses depends on when the plan is made:
/// the one thing `plans/` may not repeat byte for byte.
fn without_ages(text: &str) -> String {
    let mask = |line: &str, before: &str, after: &str| -> String {
        match line.find(before).map(|start| start + before.len()) {
            Some(start) => match line[start..].find(after) {
                Some(length) => format!("{}<age>{}", &line[..start], &line[start + length..]),
                None => line.to_string(),
            },
            None => line.to_string(),
        }
    };
    text.lines()
        .map(|line| {
            if line.contains("**Data loss:**") {
                mask(&mask(line, "up to ", " of writes"), "on data ", " old")
            } else {
                line.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn the_example_plans_are_current() {
    let out = tempfile::tempdir().unwrap();
    let output = protector(&["sim", "plans", "--out", out.path().to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let committed = files_in("plans", "md");
    let names = |paths: &[std::path::PathBuf]| -> Vec<String> {
        paths
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect()
    };
    let mut fresh: Vec<std::path::PathBuf> = std::fs::read_dir(out.path())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    fresh.sort();
    assert_eq!(names(&committed), names(&fresh), "the same plans");
    for path in &fresh {
        let name = path.file_name().unwrap();
        let expected = std::fs::read_to_string(crate::root().join("plans").join(name)).unwrap();
        let actual = std::fs::read_to_string(path).unwrap();
        assert!(
            without_ages(&expected) == without_ages(&actual),
            "plans/{} is stale: run `cargo run -- sim plans --out plans` and review the diff",
            name.to_string_lossy()
        );
    }
}

#[test]
fn ages_are_all_the_plan_check_forgives() {
    let line = "- **Data loss:** up to 5s of writes (snapshot fa-a:prod-web-app.1); RPO 15m";
    assert_eq!(
        without_ages(line),
        "- **Data loss:** up to <age> of writes (snapshot fa-a:prod-web-app.1); RPO 15m"
    );
    let drill = "- **Data loss:** none in production; the drill runs on data 1m2s old (snapshot x)";
    assert!(without_ages(drill).contains("on data <age> old"));
    assert_eq!(without_ages("| step | 5s |"), "| step | 5s |");
}
