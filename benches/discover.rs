//! Discovery at scale: `inventory::discover::discover` of a 1,000-member group (3 volumes each)
//! against the twin serving a generated fixture in process, at speed 1000, both sites read as
//! `protector plan` reads them (Keystone, Nova, Cinder, Neutron, the arrays). Prints the time
//! of each of three runs; the target is < 2 s. Run with `cargo bench --bench discover`.

use std::time::{Duration, Instant};

use protector::inventory::{Inventory, SiteInventory};
use protector_twin::fixture;

#[path = "support/scale.rs"]
mod scale;
use scale::ScaleTwin;

const MEMBERS: usize = 1_000;
const VOLUMES: usize = 3;
const RUNS: usize = 3;

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
    let scale = ScaleTwin::start(&runtime, fixture::generate(MEMBERS, VOLUMES), 1000.0);

    let mut times = Vec::new();
    for _ in 0..RUNS {
        let started = Instant::now();
        let inventory = runtime.block_on(protector::inventory::discover::discover(
            &scale.spec,
            &scale.clouds,
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
    scale.twin.shutdown();
}
