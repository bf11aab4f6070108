//! Property tests of the plan-file loader and checker ([`super::file`]): no file makes them
//! panic; whatever loads is a plan the checks hold of, reads back the same, renders, and is
//! kept by the state store inside its folder; and an edited plan that passes every check apply
//! makes ([`file::check_spec`], [`file::check_resources`], [`file::compare`] with the plan
//! protector made) acts exactly as that plan does.
//!
//! Bounded under `cargo test`; `PROPTEST_CASES` for a longer run (README, "Development").
//! Inputs that once failed are files `tests/fixtures/fuzz/*.plan.json`, checked by
//! `every_plan_file_that_once_failed_passes`.

use std::path::Path;
use std::sync::LazyLock;

use proptest::prelude::*;
use serde_json::Value;

use super::file::{self, Reference};
use super::testing;
use super::{FailoverType, Plan, PlanRequest};
use crate::inventory::Inventory;
use crate::spec::Spec;
use crate::spec::fuzz::{Edit, apply, cases, edit_with};
use crate::state::RecordedState;

/// A plan of each kind protector makes, with what it was made from.
struct Seed {
    spec: Spec,
    inventory: Inventory,
    state: RecordedState,
    plan: Plan,
    bytes: Vec<u8>,
}

static SEEDS: LazyLock<Vec<Seed>> = LazyLock::new(|| {
    let mut unplanned = testing::inventory();
    testing::site_a_down(&mut unplanned);
    let recorded = testing::recorded(&testing::inventory());
    let made: [(Inventory, RecordedState, PlanRequest); 5] = [
        (
            testing::inventory(),
            testing::no_state(),
            testing::converge_request(),
        ),
        (
            testing::inventory(),
            testing::no_state(),
            testing::request(FailoverType::Planned),
        ),
        (
            unplanned,
            recorded.clone(),
            PlanRequest {
                options: super::PlanOptions {
                    accept_data_loss: true,
                    ..testing::request(FailoverType::Unplanned).options
                },
                ..testing::request(FailoverType::Unplanned)
            },
        ),
        (
            testing::drill_inventory(),
            testing::no_state(),
            testing::drill_request(false),
        ),
        (
            testing::drill_inventory(),
            recorded,
            testing::drill_request(true),
        ),
    ];
    made.into_iter()
        .map(|(inventory, state, request)| {
            let spec = testing::example_spec();
            let plan = super::plan(&spec, &inventory, &state, &request).expect("the seed plans");
            let bytes = file::to_bytes(&plan);
            Seed {
                spec,
                inventory,
                state,
                plan,
                bytes,
            }
        })
        .collect()
});

const TOKENS: [&str; 22] = [
    "\"",
    ",",
    ":",
    "{",
    "}",
    "[",
    "]",
    "\n",
    "null",
    "0",
    "-1",
    "1e999",
    "18446744073709551616",
    "\"\"",
    "\"../../x\"",
    "\"site-aa\"",
    "\"op-00000000-0000-4000-8000-000000000000\"",
    "\\u0000",
    "\\ud800",
    "é",
    "/",
    "true",
];

/// What a tester puts in place of a string of the plan: nothing, a path out of the state
/// folder, a near miss, a control character, another value the plan holds (see
/// [`strings_of`]).
const STRINGS: [&str; 10] = [
    "",
    "../../../../x/pwned",
    "site-aa",
    "op-1",
    "op-00000000-0000-4000-8000-000000000000",
    "a\nb",
    "/",
    ".",
    "billing-1",
    "id-billing-1",
];

/// A JSON-level edit, as a person editing a plan file (or a state document) makes one: at the `at`-th node (in
/// document order, modulo their number).
#[derive(Debug, Clone)]
pub(crate) enum ValueEdit {
    /// A string replaced with one of [`STRINGS`], or with the plan's `n`-th string.
    String(usize, Result<&'static str, usize>),
    /// A number replaced.
    Number(usize, f64),
    /// An array's element removed, repeated, or moved to the end.
    Remove(usize, usize),
    Repeat(usize, usize),
    ToEnd(usize, usize),
    /// An object's key removed.
    Forget(usize, usize),
}

pub(crate) fn value_edit() -> impl Strategy<Value = ValueEdit> {
    let string = prop_oneof![
        proptest::sample::select(&STRINGS[..]).prop_map(Ok),
        any::<usize>().prop_map(Err),
    ];
    let number = prop_oneof![
        Just(0.0),
        Just(-1.0),
        Just(1e300),
        Just(f64::from(u32::MAX) + 1.0),
        any::<f64>(),
    ];
    prop_oneof![
        (any::<usize>(), string).prop_map(|(at, s)| ValueEdit::String(at, s)),
        (any::<usize>(), number).prop_map(|(at, n)| ValueEdit::Number(at, n)),
        (any::<usize>(), any::<usize>()).prop_map(|(at, i)| ValueEdit::Remove(at, i)),
        (any::<usize>(), any::<usize>()).prop_map(|(at, i)| ValueEdit::Repeat(at, i)),
        (any::<usize>(), any::<usize>()).prop_map(|(at, i)| ValueEdit::ToEnd(at, i)),
        (any::<usize>(), any::<usize>()).prop_map(|(at, i)| ValueEdit::Forget(at, i)),
    ]
}

/// Every string in `value`, in document order: what [`ValueEdit::String`] may put elsewhere.
pub(crate) fn strings_of(value: &Value) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![value];
    while let Some(value) = stack.pop() {
        match value {
            Value::String(text) => found.push(text.clone()),
            Value::Array(items) => stack.extend(items.iter().rev()),
            Value::Object(fields) => stack.extend(fields.values().rev()),
            _ => {}
        }
    }
    found
}

/// The nodes of `value` that `select` picks, in document order, as mutable references.
fn nodes<'a>(value: &'a mut Value, select: &dyn Fn(&Value) -> bool) -> Vec<&'a mut Value> {
    let mut found = Vec::new();
    let mut stack = vec![value];
    while let Some(value) = stack.pop() {
        if select(value) {
            found.push(value);
            continue;
        }
        match value {
            Value::Array(items) => stack.extend(items.iter_mut().rev()),
            Value::Object(fields) => stack.extend(fields.values_mut().rev()),
            _ => {}
        }
    }
    found
}

/// The `at`-th of `found`, modulo their number.
fn pick(found: Vec<&mut Value>, at: usize) -> Option<&mut Value> {
    let count = found.len();
    found.into_iter().nth(at % count.max(1))
}

pub(crate) fn edit_value(plan: &mut Value, edit: &ValueEdit, strings: &[String]) {
    match edit {
        ValueEdit::String(at, with) => {
            if let Some(node) = pick(nodes(plan, &Value::is_string), *at) {
                *node = Value::String(match with {
                    Ok(text) => text.to_string(),
                    Err(n) => strings[n % strings.len()].clone(),
                });
            }
        }
        ValueEdit::Number(at, with) => {
            if let Some(node) = pick(nodes(plan, &Value::is_number), *at) {
                *node = serde_json::Number::from_f64(*with).map_or(Value::Null, Value::Number);
            }
        }
        ValueEdit::Remove(at, index)
        | ValueEdit::Repeat(at, index)
        | ValueEdit::ToEnd(at, index) => {
            let arrays = |value: &Value| value.as_array().is_some_and(|items| !items.is_empty());
            if let Some(Value::Array(items)) = pick(nodes(plan, &arrays), *at) {
                let index = index % items.len();
                match edit {
                    ValueEdit::Remove(..) => {
                        items.remove(index);
                    }
                    ValueEdit::Repeat(..) => items.insert(index, items[index].clone()),
                    _ => {
                        let item = items.remove(index);
                        items.push(item);
                    }
                }
            }
        }
        ValueEdit::Forget(at, index) => {
            let objects =
                |value: &Value| value.as_object().is_some_and(|fields| !fields.is_empty());
            if let Some(Value::Object(fields)) = pick(nodes(plan, &objects), *at) {
                let key = fields.keys().nth(index % fields.len()).cloned();
                if let Some(key) = key {
                    fields.shift_remove(&key);
                }
            }
        }
    }
}

/// What holds of every plan that loads, whatever bytes it came from.
fn holds_of_what_loads(bytes: &[u8]) -> Result<Option<Plan>, TestCaseError> {
    let Ok(plan) = file::read(bytes) else {
        return Ok(None);
    };
    prop_assert_eq!(file::check(&plan), Ok(()));
    let again = file::read(&file::to_bytes(&plan));
    prop_assert_eq!(again.as_ref(), Ok(&plan));
    let _ = crate::render::plan::text(&plan);
    let _ = crate::render::plan::dot(&plan);
    let _ = crate::render::markdown::plan(&plan, Some(&file::sha256(bytes)));
    let _ = crate::plan::diff::summary(&plan);
    // The store keeps a copy of it, and finds it again, without leaving its folder.
    let dir = tempfile::tempdir().map_err(|e| TestCaseError::fail(e.to_string()))?;
    let store = crate::state::store::open_folder(&dir.path().join("state"));
    let site = &plan.operation.target_site;
    prop_assert!(store.save_plan(site, &plan).is_ok());
    let found = store.find_plan(&plan.operation.id).ok().flatten();
    prop_assert_eq!(found.as_ref(), Some(&plan));
    let entries: Vec<_> = std::fs::read_dir(dir.path())
        .map_err(|e| TestCaseError::fail(e.to_string()))?
        .flatten()
        .map(|entry| entry.file_name())
        .collect();
    prop_assert_eq!(entries, vec![std::ffi::OsString::from("state")]);
    Ok(Some(plan))
}

/// What apply acts on, of a plan: everything [`file::compare`] compares, as this test states it
/// apart (a field added to plans and forgotten there shows up here).
fn acted_on(plan: &Plan) -> Value {
    let mut value = serde_json::to_value(plan).unwrap_or_default();
    if let Some(fields) = value.as_object_mut() {
        for informative in [
            "spec_file",
            "spec_sha256",
            "estimate",
            "warnings",
            "before",
            "after",
        ] {
            fields.shift_remove(informative);
        }
        if let Some(Value::Object(loss)) = fields.get_mut("data_loss") {
            loss.shift_remove("age_secs");
            loss.shift_remove("exceeds_rpo");
        }
        if let Some(Value::Array(steps)) = fields.get_mut("steps") {
            for step in steps.iter_mut().filter_map(Value::as_object_mut) {
                step.shift_remove("estimate_secs");
            }
        }
    }
    value
}

proptest! {
    #![proptest_config(cases(256))]

    #[test]
    fn plan_files_edited_as_text_never_panic_the_loader(
        seed in 0..SEEDS.len(),
        edits in proptest::collection::vec(edit_with(&TOKENS), 1..6),
    ) {
        let text = String::from_utf8_lossy(&SEEDS[seed].bytes).into_owned();
        let text = edits.iter().fold(text, |text, e: &Edit| apply(&text, e));
        holds_of_what_loads(text.as_bytes())?;
    }

    #[test]
    fn arbitrary_bytes_never_panic_the_loader(
        bytes in proptest::collection::vec(any::<u8>(), 0..400),
    ) {
        holds_of_what_loads(&bytes)?;
    }

    /// However a plan file is edited, what passes every check apply makes does what the plan
    /// protector made does.
    #[test]
    fn an_edited_plan_that_passes_every_check_acts_as_the_plan_protector_made(
        seed in 0..SEEDS.len(),
        edits in proptest::collection::vec(value_edit(), 1..4),
    ) {
        let seed = &SEEDS[seed];
        let mut value = serde_json::to_value(&seed.plan).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let strings = strings_of(&value);
        for edit in &edits {
            edit_value(&mut value, edit, &strings);
        }
        let bytes = serde_json::to_vec_pretty(&value).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let Some(edited) = holds_of_what_loads(&bytes)? else {
            return Ok(());
        };
        let passes = file::check_spec(&edited, &seed.spec).is_ok()
            && file::check_resources(&edited, &seed.spec, &seed.inventory, &seed.state).is_ok()
            && file::compare(&edited, &seed.plan, Reference::Fresh).is_ok();
        if passes {
            prop_assert_eq!(acted_on(&edited), acted_on(&seed.plan));
        }
    }
}

/// The plan files the properties above (and testers) once failed on: each still loads or is
/// refused without panicking, and what loads holds. Those named `*.refused.plan.json` were
/// edited plans that once got applied: they are refused for their structure.
#[test]
fn every_plan_file_that_once_failed_passes() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fuzz");
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).expect("tests/fixtures/fuzz") {
        let path = entry.expect("entry").path();
        let name = path.to_string_lossy();
        if !name.ends_with(".plan.json") {
            continue;
        }
        let bytes = std::fs::read(&path).expect("a fixture");
        if let Err(error) = holds_of_what_loads(&bytes) {
            panic!("{name}: {error}");
        }
        if name.ends_with(".refused.plan.json") {
            let read = file::read(&bytes);
            assert!(
                matches!(read, Err(file::Invalid::Structure(_))),
                "{name}: {read:?}"
            );
        }
        count += 1;
    }
    assert!(count > 0, "no plan files in {}", dir.display());
}

#[test]
fn the_seeds_load_and_pass_every_check() {
    for seed in SEEDS.iter() {
        assert_eq!(file::read(&seed.bytes).as_ref(), Ok(&seed.plan));
        assert_eq!(file::check_spec(&seed.plan, &seed.spec), Ok(()));
        assert_eq!(
            file::check_resources(&seed.plan, &seed.spec, &seed.inventory, &seed.state),
            Ok(())
        );
    }
}
