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
