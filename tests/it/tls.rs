//! clouds.yaml's TLS settings against a twin serving OpenStack over HTTPS with a CA of its own
//! (`sim up --tls`): `cacert` (or `verify: PATH`) trusts that CA, the system's CAs alone do not,
//! and `verify: false` (or `insecure: true`) works without any CA and says so on every run,
//! naming each site.

use crate::plan::Setup;
use crate::stderr;

/// The twin's clouds.yaml with each `cacert:` line replaced by `lines` (indented alike), in
/// which `{cacert}` stands for the line itself and `{ca}` for its path.
fn rewrite(written: &str, lines: &[&str]) -> String {
    let mut text = String::new();
    for line in written.lines() {
        let indent = &line[..line.len() - line.trim_start().len()];
        if let Some(ca) = line.trim_start().strip_prefix("cacert:") {
            for replacement in lines {
                let replacement = replacement
                    .replace("{cacert}", line.trim_start())
                    .replace("{ca}", ca.trim());
                text.push_str(&format!("{indent}{replacement}\n"));
            }
        } else {
            text.push_str(&format!("{line}\n"));
        }
    }
    text
}

#[test]
fn cacert_and_verify_false_reach_sites_served_over_https() {
    let setup = Setup::with_twin_args(200, &["--tls"]);
    let spec = setup.spec();
    let plan = ["plan", spec.to_str().unwrap()];
    let clouds_yaml = setup.twin.clouds_yaml();
    let written = std::fs::read_to_string(&clouds_yaml).unwrap();
    assert!(
        written.contains("auth_url: https://") && written.contains("cacert: "),
        "{written}"
    );
    let unverified = |site: &str, setting: &str| {
        format!(
            "warning: TLS certificates of {site} are not verified (`{setting}` for cloud `{site}` in {}",
            clouds_yaml.display()
        )
    };

    // As written: the twin's CA, and only it, is trusted.
    let output = setup.protector(&plan);
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert!(!text.contains("warning: TLS"), "{text}");

    // The system's CAs do not know the twin's.
    std::fs::write(&clouds_yaml, rewrite(&written, &[])).unwrap();
    let output = setup.protector(&plan);
    let text = stderr(&output);
    assert_ne!(output.status.code(), Some(0), "{text}");
    assert!(text.contains("UnknownIssuer"), "{text}");

    // `verify: PATH` names a CA bundle, as keystoneauth reads it.
    std::fs::write(&clouds_yaml, rewrite(&written, &["verify: {ca}"])).unwrap();
    let output = setup.protector(&plan);
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert!(!text.contains("warning: TLS"), "{text}");

    // Verification off: it works, and says so for each site.
    std::fs::write(&clouds_yaml, rewrite(&written, &["verify: false"])).unwrap();
    let output = setup.protector(&plan);
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(0), "{text}");
    for site in ["site-a", "site-b"] {
        assert!(text.contains(&unverified(site, "verify: false")), "{text}");
    }

    // `insecure: true` beats a `cacert` beside it, as in openstacksdk, and the warning says the
    // CA goes unused.
    std::fs::write(
        &clouds_yaml,
        rewrite(&written, &["{cacert}", "insecure: true"]),
    )
    .unwrap();
    let output = setup.protector(&plan);
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert!(
        text.contains(&format!(
            "{}; its `cacert` goes unused): ",
            unverified("site-a", "insecure: true")
        )),
        "{text}"
    );
}
