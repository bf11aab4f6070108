//! `protector report` and `protector verify-evidence` end to end: a planned failover on the
//! twin, its report as Markdown, HTML and JSON (and through an operator's template), an
//! evidence bundle that verifies, and one flipped byte in any file of the bundle found and
//! named.

use std::path::Path;

use serde_json::Value;

use crate::plan::Setup;
use crate::stderr;

const BUNDLE: [&str; 4] = ["plan.json", "journal.jsonl", "report.md", "manifest.json"];

/// Copies the bundle in `from` to `to`, with byte `position` of `file` flipped.
fn flipped_copy(from: &Path, to: &Path, file: &str, position: usize) {
    std::fs::create_dir(to).unwrap();
    for name in BUNDLE {
        let mut bytes = std::fs::read(from.join(name)).unwrap();
        if name == file {
            bytes[position] ^= 0x01;
        }
        std::fs::write(to.join(name), bytes).unwrap();
    }
}

#[test]
fn a_failovers_report_in_each_format_and_its_evidence() {
    let setup = Setup::new();
    let spec = setup.spec();
    let events = setup.expect(
        0,
        &[
            "failover",
            spec.to_str().unwrap(),
            "--type",
            "planned",
            "--yes",
            "--json",
        ],
    );
    let done: Value = serde_json::from_str(events.lines().last().unwrap()).unwrap();
    assert_eq!(done["status"], "completed", "{done}");
    let id = done["operation"].as_str().unwrap().to_string();

    let markdown = setup.expect(0, &["report", &id]);
    for expected in [
        "## Report: planned failover of prod-web-app, site-a → site-b",
        &format!("Operation `{id}`: **completed**, 100% of "),
        "- **RTO measured:** ",
        "- **Data loss:** none: the instances stop before a fresh snapshot is taken and replicated",
        "### Critical path",
        "| `finalize` | finalize | site-b | done | +",
    ] {
        assert!(markdown.contains(expected), "{expected}\n{markdown}");
    }

    let html = setup.expect(0, &["report", &id, "--format", "html"]);
    assert!(html.starts_with("<!doctype html>"), "{html}");
    assert!(html.contains(&format!("<code>{id}</code>")), "{html}");

    let state = setup.dir.path().join(".protector");
    let json: Value = serde_json::from_str(&setup.expect(
        0,
        &[
            "report",
            &id,
            "--format",
            "json",
            "--state",
            state.to_str().unwrap(),
        ],
    ))
    .unwrap();
    assert_eq!(json["operation"]["status"], "completed");
    let steps = json["steps"].as_array().unwrap();
    assert!(steps.iter().all(|step| step["status"] == "done"), "{json}");
    assert!(json["rto"]["measured_secs"].is_f64(), "{json}");
    assert_eq!(json["data_loss"]["snapshot"], Value::Null);
    // The critical path ends with the step that ended last: finalize.
    let path = json["critical_path"].as_array().unwrap();
    assert_eq!(path.last().unwrap()["step"], "finalize", "{json}");
    assert_eq!(
        path[0]["start_secs"], 0.0,
        "it starts with the first step: {json}"
    );

    // An operator's template, and one with a mistake on its second line.
    let template = setup.dir.path().join("short.md.j2");
    std::fs::write(&template, "{{ operation.id }}: {{ operation.status }}\n").unwrap();
    let short = setup.expect(
        0,
        &["report", &id, "--template", template.to_str().unwrap()],
    );
    assert_eq!(short.trim(), format!("{id}: completed"));
    std::fs::write(&template, "# Report\n{{ operation.sattus | upper }}\n").unwrap();
    let output = setup.protector(&["report", &id, "--template", template.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains(&format!("{}:2: undefined value", template.display())),
        "{}",
        stderr(&output)
    );

    // The evidence: the recorded plan and journal as they are, the report, the manifest.
    let bundle = setup.dir.path().join("evidence");
    let head = setup.expect(0, &["report", &id, "--evidence", bundle.to_str().unwrap()]);
    let head = head.trim();
    assert_eq!(head.len(), 64, "{head}");
    let kept = state.join("site-b/prod-web-app");
    assert_eq!(
        std::fs::read(bundle.join("plan.json")).unwrap(),
        std::fs::read(kept.join(format!("{id}.plan.json"))).unwrap()
    );
    assert_eq!(
        std::fs::read(bundle.join("journal.jsonl")).unwrap(),
        std::fs::read(kept.join(format!("{id}.jsonl"))).unwrap()
    );
    assert_eq!(
        std::fs::read_to_string(bundle.join("report.md"))
            .unwrap()
            .trim(),
        markdown.trim()
    );
    let verified = setup.expect(0, &["verify-evidence", bundle.to_str().unwrap()]);
    assert_eq!(verified.trim(), head);
    let output = setup.protector(&["report", &id, "--evidence", bundle.to_str().unwrap()]);
    assert_eq!(
        output.status.code(),
        Some(1),
        "a bundle is never overwritten"
    );
    assert!(
        stderr(&output).contains("is not empty"),
        "{}",
        stderr(&output)
    );

    // One flipped byte, anywhere in any file, and the bundle no longer verifies.
    let copies = tempfile::tempdir().unwrap();
    for file in BUNDLE {
        let length = std::fs::metadata(bundle.join(file)).unwrap().len() as usize;
        for position in [0, length / 2, length - 1] {
            let copy = copies.path().join(format!("{file}-{position}"));
            flipped_copy(&bundle, &copy, file, position);
            let output = setup.protector(&["verify-evidence", copy.to_str().unwrap()]);
            assert_eq!(
                output.status.code(),
                Some(1),
                "{file} byte {position}: {}",
                stderr(&output)
            );
            assert!(
                stderr(&output).contains(&format!("does not verify: {file}")),
                "{file} byte {position}: {}",
                stderr(&output)
            );
        }
    }
}
