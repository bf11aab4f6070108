//! Property tests of the spec reader and validator: no input makes them or the diagnostic
//! renderers panic, whatever validates plans and renders without panicking, and no secret
//! written anywhere under a secret-looking key is ever shown.
//!
//! Each property runs a bounded number of cases under `cargo test` (seconds); `PROPTEST_CASES`
//! raises it for a longer run (README, "Development"). Every input that ever failed is a file of
//! `tests/fixtures/fuzz/`, checked by `every_input_that_once_failed_passes`.

use std::path::Path;

use proptest::prelude::*;

use super::*;
use crate::plan::FailoverType;
use crate::plan::testing;
use crate::render::diagnostics;

const SEEDS: [&str; 3] = [
    include_str!("../../examples/prod-web-app.yaml"),
    include_str!("../../examples/three-tier-erp.yaml"),
    include_str!("../../tests/fixtures/valid-minimal.yaml"),
];

const TOKENS: [&str; 24] = [
    ":",
    "- ",
    "{",
    "}",
    "[",
    "]",
    ",",
    "\n",
    "  ",
    "\t",
    "#",
    "&a ",
    "*a",
    "<<: ",
    "!!str ",
    "'",
    "\"",
    "|",
    ">",
    "~",
    "é",
    "site-a",
    "{ env: X }",
    "\u{FEFF}",
];

/// `default` cases, or `PROPTEST_CASES` for a longer run (every fuzzer of the crate).
pub(crate) fn cases(default: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|cases| cases.parse().ok())
        .unwrap_or(default);
    ProptestConfig::with_cases(cases)
}

fn check_text(text: &str) -> Validation {
    check(SourceFile::new("fuzz.yaml", text), Path::new("."))
}

/// The diagnostics as people and machines read them.
fn rendered(validation: &Validation) -> String {
    let text = diagnostics::text(&validation.report);
    let json = serde_json::to_string(&diagnostics::json(&validation.report)).unwrap();
    format!("{text}\n{json}")
}

/// Checks `text`; when it validates, plans every operation on the example's inventory and
/// renders each plan. Returns what validation printed.
fn check_everything(text: &str) -> String {
    let validation = check_text(text);
    assert_eq!(validation.spec.is_some(), !validation.report.has_errors());
    if let Some(spec) = &validation.spec {
        plan_everything(spec);
    }
    rendered(&validation)
}

fn plan_everything(spec: &Spec) {
    let mut unplanned = testing::inventory();
    testing::site_a_down(&mut unplanned);
    let cases = [
        (testing::inventory(), testing::converge_request()),
        (
            testing::inventory(),
            testing::request(FailoverType::Planned),
        ),
        (unplanned, testing::request(FailoverType::Unplanned)),
        (testing::drill_inventory(), testing::drill_request(false)),
    ];
    for (inventory, request) in cases {
        match crate::plan::plan(spec, &inventory, &testing::no_state(), &request) {
            Ok(plan) => {
                let _ = crate::render::plan::text(&plan);
                let _ = crate::render::markdown::plan(&plan, None);
                let _ = serde_json::to_string(&plan).unwrap();
            }
            Err(refusals) => {
                assert!(!refusals.is_empty());
                // What validates makes plans the plan-file checks accept (`plan::plan` checks
                // each plan it makes, and blames itself when they refuse one).
                for refusal in &refusals {
                    assert!(
                        !refusal.hint.contains("bug in protector's planner"),
                        "{}",
                        refusal.message
                    );
                }
            }
        }
    }
}

/// An edit of a text: what a careless hand or a torn write does to a file. Shared by the
/// fuzzers of the other files protector reads (plans, journals, state documents).
#[derive(Debug, Clone)]
pub(crate) enum Edit {
    Insert(usize, &'static str),
    Delete(usize, usize),
    SwapLines(usize, usize),
    DuplicateLine(usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    edit_with(&TOKENS)
}

/// An edit that inserts one of `tokens`, deletes a few bytes, or moves or repeats a line.
pub(crate) fn edit_with(tokens: &'static [&'static str]) -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), proptest::sample::select(tokens))
            .prop_map(|(at, token)| Edit::Insert(at, token)),
        (any::<usize>(), 1..12usize).prop_map(|(at, len)| Edit::Delete(at, len)),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Edit::SwapLines(a, b)),
        any::<usize>().prop_map(Edit::DuplicateLine),
    ]
}

pub(crate) fn apply(text: &str, edit: &Edit) -> String {
    let boundary = |at: usize| {
        let mut at = at % (text.len() + 1);
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        at
    };
    match edit {
        Edit::Insert(at, token) => {
            let at = boundary(*at);
            format!("{}{token}{}", &text[..at], &text[at..])
        }
        Edit::Delete(at, len) => {
            let start = boundary(*at);
            let end = boundary(start + len);
            format!("{}{}", &text[..start], &text[end..])
        }
        Edit::SwapLines(a, b) => {
            let mut lines: Vec<&str> = text.lines().collect();
            if !lines.is_empty() {
                let len = lines.len();
                lines.swap(a % len, b % len);
            }
            lines.join("\n")
        }
        Edit::DuplicateLine(a) => {
            let mut lines: Vec<&str> = text.lines().collect();
            if !lines.is_empty() {
                let line = lines[a % lines.len()];
                lines.insert(a % lines.len(), line);
            }
            lines.join("\n")
        }
    }
}

/// A duration as an operator might write it, well-formed or not: small and huge numbers, any
/// units, in and out of order.
fn duration_text() -> impl Strategy<Value = String> {
    let number = prop_oneof![0..100u64, 100..1_000_000u64, any::<u64>()];
    let part = (
        number,
        proptest::sample::select(&["d", "h", "m", "s", ""][..]),
    )
        .prop_map(|(number, unit)| format!("{number}{unit}"));
    proptest::collection::vec(part, 1..4).prop_map(|parts| parts.concat())
}

/// The example spec with its durations and its first boot orders replaced.
fn example_with(rpo: &str, rto: &str, boot_orders: &[u32]) -> String {
    let text = SEEDS[0]
        .replace("rpo: 15m", &format!("rpo: {rpo}"))
        .replace("rto: 30m", &format!("rto: {rto}"));
    let mut orders = boot_orders.iter();
    text.lines()
        .map(|line| match line.split_once("boot_order: ") {
            Some((indent, _)) => match orders.next() {
                Some(order) => format!("{indent}boot_order: {order}\n"),
                None => format!("{line}\n"),
            },
            None => format!("{line}\n"),
        })
        .collect()
}

/// A random token-like secret, never a valid variable name (it has `-`).
fn secret() -> impl Strategy<Value = String> {
    "[a-z]{4,8}-[0-9a-f]{8}-[0-9a-f]{4}"
}

const SECRET_KEYS: [&str; 8] = [
    "api_token",
    "api_tokn",
    "apitoken",
    "token",
    "password",
    "passwrd",
    "secret",
    "api_key",
];

/// A secret under `key`, in one of the shapes a token pasted in the wrong place takes, as the
/// lines of a mapping at 6 spaces.
fn misplaced(key: &str, secret: &str, shape: usize) -> String {
    let indent = "      ";
    let value = match shape {
        0 => format!(" {secret}"),
        1 => format!(" \"{secret}\""),
        2 => format!(" '{secret}'"),
        3 => format!(" {{ value: {secret} }}"),
        4 => format!(" [{secret}]"),
        5 => format!(" [x, {secret}]"),
        6 => format!(" {{ env: FA_SITE_B_API_TOKEN, extra: {secret} }}"),
        7 => format!(" {{ env: {secret} }}"),
        8 => format!(" {{{secret}}}"),
        9 => format!("\n{indent}  value: {secret}"),
        10 => format!("\n{indent}  - {secret}"),
        11 => format!(" |\n{indent}  {secret}"),
        12 => format!(" {{ env: FA_SITE_B_API_TOKEN }} # was {secret}"),
        13 => format!(" {{ {secret}: 1 }}"),
        _ => format!(" {{ env: [{secret}"),
    };
    format!("{indent}{key}:{value}")
}

const SHAPES: usize = 15;

proptest! {
    #![proptest_config(cases(384))]

    #[test]
    fn mutated_specs_never_panic(
        seed in 0..SEEDS.len(),
        edits in proptest::collection::vec(edit(), 1..6),
    ) {
        let text = edits.iter().fold(SEEDS[seed].to_string(), |text, e| apply(&text, e));
        check_everything(&text);
    }

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,400}") {
        check_everything(&text);
    }

    #[test]
    fn token_soup_never_panics(
        tokens in proptest::collection::vec(proptest::sample::select(&TOKENS[..]), 0..80),
    ) {
        check_everything(&tokens.concat());
    }
}

proptest! {
    #![proptest_config(cases(128))]

    /// What validates plans and renders: durations and boot orders are what once panicked.
    #[test]
    fn whatever_validates_plans_without_panicking(
        rpo in duration_text(),
        rto in duration_text(),
        boot_orders in proptest::collection::vec(any::<u32>(), 0..3),
    ) {
        check_everything(&example_with(&rpo, &rto, &boot_orders));
    }

    /// A secret under a secret-looking key, in any shape, is in no rendered diagnostic, whatever
    /// else is wrong in the file.
    #[test]
    fn a_misplaced_secret_is_never_shown(
        key in proptest::sample::select(&SECRET_KEYS[..]),
        secret in secret(),
        shape in 0..SHAPES,
        edits in proptest::collection::vec(edit(), 0..3),
    ) {
        // The edits change the rest of the file, not the lines of the secret: moved elsewhere,
        // those might no longer be under its key.
        let text = edits.iter().fold(SEEDS[2].to_string(), |text, e| apply(&text, e));
        let line = "\n      api_token: { env: FA_SITE_B_API_TOKEN }\n";
        prop_assume!(text.contains(line));
        let text = text.replace(line, &format!("\n{}\n", misplaced(key, &secret, shape)));
        let shown = check_everything(&text);
        prop_assert!(!shown.contains(&secret), "{text}\n{shown}");
    }
}

/// The token put in the files of `tests/fixtures/fuzz/` that hold one, where they say
/// `@@FIXTURE_SECRET@@` (so that no token-like literal is committed).
const FIXTURE_SECRET: &str = "pureuser-3f9a7c2e-token";
const FIXTURE_SECRET_PLACEHOLDER: &str = "@@FIXTURE_SECRET@@";

/// The inputs the properties above (and testers) once failed on, kept as files: each still
/// validates or fails without panicking, and never shows the token it may hold.
#[test]
fn every_input_that_once_failed_passes() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fuzz");
    let (mut count, mut with_token) = (0, 0);
    for entry in std::fs::read_dir(&dir).expect("tests/fixtures/fuzz") {
        let path = entry.expect("entry").path();
        // The other readers' inputs are beside them (`*.plan.json`, `*.jsonl`, `*.state.json`).
        if path.extension().is_none_or(|ext| ext != "yaml") {
            continue;
        }
        let stored = std::fs::read_to_string(&path).expect("UTF-8 fixture");
        with_token += usize::from(stored.contains(FIXTURE_SECRET_PLACEHOLDER));
        let text = stored.replace(FIXTURE_SECRET_PLACEHOLDER, FIXTURE_SECRET);
        let shown = check_everything(&text);
        assert!(
            !shown.contains(FIXTURE_SECRET),
            "{}:\n{shown}",
            path.display()
        );
        count += 1;
    }
    assert!(count > 0, "no fixtures in {}", dir.display());
    assert!(
        with_token > 0,
        "no fixture holds {FIXTURE_SECRET_PLACEHOLDER}"
    );
}
