//! Cinder's volume quota end to end: discovery reads it from the twin's `os-quota-sets`, and a
//! failover whose target cannot take the members' volumes is refused before anything changes.

use std::process::Command;

use crate::twin::TwinProcess;
use crate::{stderr, stdout};

#[test]
fn a_failover_beyond_the_targets_volume_quota_is_refused_with_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    // The built-in world, with room for 3 volumes on site-b; the example group has 4.
    let text = std::fs::read_to_string(crate::root().join("examples/sim/two-sites.yaml")).unwrap();
    let mut fixture = protector_twin::fixture::parse(&text).unwrap();
    fixture.sites.get_mut("site-b").unwrap().volume_quota = 3;
    let fixture_path = dir.path().join("fixture.yaml");
    std::fs::write(&fixture_path, protector::yaml::to_string(&fixture).unwrap()).unwrap();
    let twin = TwinProcess::start(200, &["--fixture", fixture_path.to_str().unwrap()]);
    let spec = dir.path().join("pg.yaml");
    std::fs::copy(crate::root().join("examples/prod-web-app.yaml"), &spec).unwrap();

    let output = Command::new(env!("CARGO_BIN_EXE_protector"))
        .args(["plan", spec.to_str().unwrap(), "--operation", "failover"])
        .current_dir(dir.path())
        .envs(&twin.env)
        .env("NO_COLOR", "1")
        .output()
        .expect("protector runs");
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(3), "{}\n{text}", stdout(&output));
    assert!(
        text.contains("volume quota on site-b allows 3 more volumes; the members need 4"),
        "{text}"
    );
    assert!(text.contains("openstack quota set --volumes N"), "{text}");
}
