//! A twin serving a generated fixture in this process, and the group of all its instances as an
//! operator would write it for those sites: shared by the benches that talk to sites.

use std::fmt::Write;
use std::path::Path;

use protector::clients::clouds::CloudsEnvironment;
use protector::diagnostic::SourceFile;
use protector::spec::Spec;
use protector_twin::fixture::Fixture;
use protector_twin::outputs;
use protector_twin::server::{Twin, TwinOptions};

pub struct ScaleTwin {
    pub twin: Twin,
    pub clouds: CloudsEnvironment,
    pub spec: Spec,
    /// Holds clouds.yaml, the CA, the array tokens and the group's state.
    pub _dir: tempfile::TempDir,
}

impl ScaleTwin {
    /// Serves `fixture` (see `fixture::generate`) at `speed`; the spec's state lives in a
    /// temporary folder.
    pub fn start(runtime: &tokio::runtime::Runtime, fixture: Fixture, speed: f64) -> ScaleTwin {
        let twin = runtime
            .block_on(Twin::start(TwinOptions {
                fixture: fixture.clone(),
                seed: 1,
                speed,
                tls_openstack: false,
            }))
            .expect("the twin starts");
        let dir = tempfile::tempdir().expect("temp dir");
        let ca = dir.path().join("twin-ca.pem");
        std::fs::write(&ca, &twin.ca_pem).expect("CA written");
        let clouds_file = dir.path().join("clouds.yaml");
        std::fs::write(
            &clouds_file,
            outputs::clouds_yaml(&twin, &fixture, Some(&ca)),
        )
        .expect("clouds.yaml written");
        let clouds = CloudsEnvironment {
            os_client_config_file: Some(clouds_file),
            os_client_secure_file: None,
            current_dir: dir.path().to_path_buf(),
            home_dir: None,
            xdg_config_home: None,
            system_config_dirs: Vec::new(),
            variables: Default::default(),
            command_timeout: None,
        };
        let spec = spec(&twin, &fixture, dir.path(), &ca);
        ScaleTwin {
            twin,
            clouds,
            spec,
            _dir: dir,
        }
    }
}

/// The group of every instance of the generated fixture, its arrays' tokens in files and
/// their CA trusted, as an operator would write it for these sites.
fn spec(twin: &Twin, fixture: &Fixture, dir: &Path, ca: &Path) -> Spec {
    let mut text = String::from("version: 1\nname: scale-group\nsites:\n");
    for (site, site_fixture) in &fixture.sites {
        let token = dir.join(format!("{site}.token"));
        std::fs::write(&token, &site_fixture.array.api_token).expect("token file written");
        let url = twin
            .world()
            .site(site)
            .expect("site")
            .lock(twin.world())
            .endpoints
            .array
            .clone();
        let _ = writeln!(
            text,
            "  {site}:\n    cloud: {site}\n    flasharray: {{ url: \"{url}\", api_token: {{ file: \"{}\" }}, ca_cert: \"{}\", array_name: {}, cinder_host: \"{}\" }}",
            token.display(),
            ca.display(),
            site_fixture.array.name,
            site_fixture.cinder_host,
        );
    }
    text.push_str("primary: site-a\npolicy: { replication: async, rpo: 15m, rto: 4h }\nmembers:\n");
    for instance in &fixture.sites["site-a"].instances {
        let _ = writeln!(text, "  - {{ instance: {} }}", instance.name);
    }
    text.push_str("mappings:\n  networks:\n");
    let networks = |site: &str| fixture.sites[site].networks.iter().map(|n| n.name.clone());
    for (a, b) in networks("site-a").zip(networks("site-b")) {
        let _ = writeln!(text, "    - {{ site-a: {a}, site-b: {b} }}");
    }
    text.push_str("  flavors:\n    - { site-a: m1.large, site-b: m2.large }\n");
    let checked = protector::spec::check(SourceFile::new("scale.yaml", text), dir);
    checked.spec.unwrap_or_else(|| {
        panic!(
            "the generated spec is invalid: {:?}",
            checked.report.diagnostics
        )
    })
}
