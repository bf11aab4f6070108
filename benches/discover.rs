//! Discovery at scale: `inventory::discover::discover` of a 1,000-member group (3 volumes each)
//! against the twin serving a generated fixture in process, at speed 1000, both sites read as
//! `protector plan` reads them (Keystone, Nova, Cinder, Neutron, the arrays). Prints the time
//! of each of three runs; the target is < 2 s. Run with `cargo bench --bench discover`.

use std::fmt::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use protector::clients::clouds::CloudsEnvironment;
use protector::diagnostic::SourceFile;
use protector::inventory::{Inventory, SiteInventory};
use protector::sim::fixture::{self, Fixture};
use protector::sim::outputs;
use protector::sim::server::{Twin, TwinOptions};
use protector::spec::Spec;

const MEMBERS: usize = 1_000;
const VOLUMES: usize = 3;
const RUNS: usize = 3;

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

/// Fails the bench when discovery did not read what a plan needs: a fast wrong answer is no
/// figure.
fn check(inventory: &Inventory) {
    for (site, read) in &inventory.sites {
        let SiteInventory::Reachable(facts) = read else {
            panic!("{site} unreachable: {read:?}");
        };
        if let Some(error) = facts
            .array_error
            .as_ref()
            .or(facts.volume_quota_error.as_ref())
        {
            panic!("{site}: {error}");
        }
    }
    let site_a = inventory.sites["site-a"].facts().expect("site-a read");
    assert_eq!(site_a.instances.len(), MEMBERS, "every member found");
    assert!(
        site_a
            .instances
            .values()
            .all(|i| i.volumes.len() == VOLUMES && i.ports.len() == 1),
        "every member with its volumes and port"
    );
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let fixture = fixture::generate(MEMBERS, VOLUMES);
    let twin = runtime
        .block_on(Twin::start(TwinOptions {
            fixture: fixture.clone(),
            seed: 1,
            speed: 1000.0,
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
        system_config_dirs: Vec::new(),
    };
    let spec = spec(&twin, &fixture, dir.path(), &ca);

    let mut times = Vec::new();
    for _ in 0..RUNS {
        let started = Instant::now();
        let inventory = runtime.block_on(protector::inventory::discover::discover(
            &spec,
            &clouds,
            Duration::from_secs(30),
        ));
        times.push(started.elapsed().as_secs_f64());
        check(&inventory);
    }
    let runs: Vec<String> = times.iter().map(|t| format!("{t:.3}")).collect();
    println!(
        "discovery of {MEMBERS} members / {} volumes, both sites, twin at speed 1000: {} s (runs, target < 2 s)",
        MEMBERS * VOLUMES,
        runs.join(" / ")
    );
    twin.shutdown();
}
