//! `protector cloud show` against the twin: what protector resolved for a cloud (auth, region,
//! interface, TLS, timeout, the endpoints from the catalog or the cloud's overrides), in the
//! published JSON shape, with no secret in it. The same command is compared with openstacksdk
//! over many configurations by tests/clouds-differential.

use std::process::{Command, Output};

use serde_json::Value;

use crate::plan::Setup;
use crate::{root, stderr, stdout};

/// `protector cloud show ARGS` with the twin's environment and `env` over it.
fn show(setup: &Setup, args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_protector"))
        .args(["cloud", "show"])
        .args(args)
        .current_dir(setup.dir.path())
        .env_remove("OS_CLOUD")
        .envs(&setup.twin.env)
        .envs(env.iter().copied())
        .env("NO_COLOR", "1")
        .output()
        .expect("protector runs")
}

fn json(output: &Output) -> Value {
    assert_eq!(output.status.code(), Some(0), "{}", stderr(output));
    serde_json::from_str(&stdout(output)).expect("JSON on stdout")
}

#[test]
fn cloud_show_prints_what_protector_resolved_in_the_published_shape() {
    let setup = Setup::new();
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("schemas/cloud-show.schema.json")).unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).expect("the schema compiles");

    let output = show(&setup, &["site-a", "-f", "json"], &[]);
    let shown = json(&output);
    assert!(validator.is_valid(&shown), "{shown:#}");
    assert_eq!(shown["format_version"], "1.0");
    assert_eq!(shown["auth_type"], "password");
    assert_eq!(shown["user_name"], "protector");
    assert_eq!(shown["project_name"], "prod");
    assert_eq!(shown["region_name"], "RegionOne");
    assert_eq!(shown["interface"], "public");
    assert_eq!(
        (&shown["verify"], &shown["ca_bundle"]),
        (&true.into(), &Value::Null)
    );
    assert_eq!(shown["timeout_source"], "default");
    let compute = shown["endpoints"]["compute"]["url"].as_str().unwrap();
    assert!(compute.ends_with("/compute/v2.1"), "{compute}");
    assert_eq!(shown["endpoints"]["compute"]["from"], "catalog");
    assert!(
        shown["endpoints"]["identity"]["url"]
            .as_str()
            .unwrap()
            .ends_with("/identity/v3")
    );
    let everything = format!("{}{}", stdout(&output), stderr(&output));
    assert!(!everything.contains("site-a-secret"), "{everything}");

    // The application credential, by $OS_CLOUD, as a table.
    let output = show(&setup, &[], &[("OS_CLOUD", "site-b-protector-dr")]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let table = stdout(&output);
    assert!(
        table.contains("| auth_type              | v3applicationcredential"),
        "{table}"
    );
    assert!(table.contains("| compute_endpoint "), "{table}");
    assert!(!table.contains("site-b-appcred-secret"), "{table}");
}

#[test]
fn endpoint_overrides_and_api_timeout_are_honoured_and_the_command_line_wins() {
    let setup = Setup::new();
    let written = std::fs::read_to_string(setup.twin.clouds_yaml()).unwrap();
    let twin_clouds: Value = protector::yaml::from_str(&written).unwrap();
    let site_b = twin_clouds["clouds"]["site-b"]["auth"]["auth_url"]
        .as_str()
        .unwrap()
        .trim_end_matches("/identity/v3")
        .to_string();
    let extra = format!(
        "    compute_endpoint_override: {site_b}/compute\n    api_timeout: 42\n    \
         image_api_version: 2\n"
    );
    let mut clouds = String::new();
    for line in written.lines() {
        clouds.push_str(line);
        clouds.push('\n');
        if line == "  site-a:" {
            clouds.push_str(&extra);
        }
    }
    let file = setup.dir.path().join("clouds.yaml");
    std::fs::write(&file, clouds).unwrap();
    let env = [("OS_CLIENT_CONFIG_FILE", file.to_str().unwrap())];

    let shown = json(&show(&setup, &["site-a", "-f", "json"], &env));
    assert_eq!(
        shown["endpoints"]["compute"],
        serde_json::json!({"url": format!("{site_b}/compute/v2.1"), "from": "compute_endpoint_override"})
    );
    assert_eq!(shown["endpoints"]["network"]["from"], "catalog");
    assert_eq!(
        (&shown["timeout_secs"], &shown["timeout_source"]),
        (&42.0.into(), &"api_timeout".into())
    );
    assert_eq!(
        shown["unused_keys"],
        serde_json::json!(["image_api_version"])
    );

    let shown = json(&show(
        &setup,
        &["site-a", "-f", "json", "--timeout", "5"],
        &env,
    ));
    assert_eq!(
        (&shown["timeout_secs"], &shown["timeout_source"]),
        (&5.0.into(), &"command line".into())
    );
}

#[test]
fn a_refused_setting_is_an_error_that_names_it_and_says_what_to_do() {
    let setup = Setup::new();
    let file = setup.dir.path().join("clouds.yaml");
    std::fs::write(
        &file,
        "clouds:\n  site-a:\n    auth:\n      auth_url: https://127.0.0.1:1/identity/v3\n      \
         username: u\n      user_domain_name: Default\n      password: hunter2\n    \
         compute_service_name: nova\n",
    )
    .unwrap();
    let output = show(
        &setup,
        &["site-a"],
        &[("OS_CLIENT_CONFIG_FILE", file.to_str().unwrap())],
    );
    assert_eq!(output.status.code(), Some(1));
    let text = stderr(&output);
    assert!(
        text.starts_with(&format!(
            "error: cloud `site-a` in {} sets `compute_service_name`, which protector does not \
             honour: for compute, it finds each service in the catalog by its type alone\n\nhint: \
             remove `compute_service_name` from cloud `site-a`; protector works with a standard \
             compute endpoint",
            file.display()
        )),
        "{text}"
    );
    assert!(!text.contains("hunter2"), "{text}");
}
