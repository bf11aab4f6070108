//! Conventions every command shares: help with examples, completions, exit codes.

use crate::{protector, stderr, stdout};

#[test]
fn help_shows_an_example_for_each_command() {
    for command in ["validate", "schema", "completions"] {
        let output = protector(&[command, "--help"]);
        assert_eq!(output.status.code(), Some(0));
        let text = stdout(&output);
        assert!(text.contains("Examples:"), "{command}: {text}");
        assert!(
            text.contains(&format!("protector {command} ")),
            "{command}: {text}"
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
fn usage_errors_exit_1_not_2_which_means_changes() {
    let output = protector(&["validate"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("FILE"));
}
