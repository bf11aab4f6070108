//! Planning at scale: a planned failover of 10,000 members with 30,000 volumes, from a
//! synthetic inventory, then its diff and text. Prints time and peak memory; the targets are
//! < 1 s and < 300 MB. Run with `cargo bench --bench plan`.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::Path;
use std::time::Instant;

use protector::diagnostic::SourceFile;
use protector::inventory::{
    ArrayFacts, Flavor, Instance, Inventory, ManagePolicy, Network, Port, ProtectionGroup,
    SiteFacts, SiteInventory, Subnet, Volume,
};
use protector::plan::{FailoverType, OperationKind, PlanOptions, PlanRequest};
use protector::state::RecordedState;

#[path = "support/rss.rs"]
mod rss;
use rss::peak_rss_mb;

const MEMBERS: usize = 10_000;
const VOLUMES: usize = 3;

fn spec_text() -> String {
    let mut text = String::from(
        "version: 1\nname: scale\nsites:\n  site-a:\n    flasharray: { url: https://fa-a, api_token: { env: T }, array_name: fa-a, cinder_host: a@pure#fa-a }\n  site-b:\n    flasharray: { url: https://fa-b, api_token: { env: T }, array_name: fa-b, cinder_host: b@pure#fa-b }\nprimary: site-a\npolicy: { replication: async, rpo: 15m, rto: 4h }\nmembers:\n",
    );
    for index in 0..MEMBERS {
        let tier = if index < MEMBERS / 5 { 1 } else { 2 };
        let _ = writeln!(
            text,
            "  - {{ instance: vm-{index:05}, boot_order: {tier} }}"
        );
    }
    text.push_str("mappings:\n  networks:\n");
    for net in 0..8 {
        let _ = writeln!(text, "    - {{ site-a: net-a-{net}, site-b: net-b-{net} }}");
    }
    text.push_str("  flavors:\n    - { site-a: m1.large, site-b: m2.large }\n");
    text
}

fn network(name: &str, index: usize) -> Network {
    Network {
        id: format!("id-{name}"),
        name: name.to_string(),
        subnets: vec![Subnet {
            id: format!("subnet-{name}"),
            cidr: format!("10.{index}.0.0/16"),
            free_ips: 60_000,
            used_ips: Vec::new(),
        }],
    }
}

fn inventory() -> Inventory {
    let mut array_volumes = Vec::new();
    let instances: BTreeMap<String, Instance> = (0..MEMBERS)
        .map(|index| {
            let name = format!("vm-{index:05}");
            let volumes: Vec<Volume> = (0..VOLUMES)
                .map(|v| {
                    let array = format!("volume-{index}-{v}-cinder");
                    array_volumes.push(array.clone());
                    Volume {
                        id: format!("vol-{index}-{v}"),
                        name: format!("{name}-{v}"),
                        size_gb: 10,
                        volume_type: Some("pure".to_string()),
                        bootable: v == 0,
                        host: Some("a@pure#fa-a".to_string()),
                        boot_index: (v == 0).then_some(0),
                        device: None,
                        array_volume_name: Some(array),
                    }
                })
                .collect();
            let instance = Instance {
                id: format!("id-{name}"),
                name: name.clone(),
                status: "ACTIVE".to_string(),
                flavor: "m1.large".to_string(),
                key_name: None,
                availability_zone: None,
                metadata: BTreeMap::new(),
                security_groups: Vec::new(),
                tags: Vec::new(),
                description: None,
                server_group: None,
                ports: vec![Port {
                    id: format!("port-{index}"),
                    network: format!("net-a-{}", index % 8),
                    mac_address: String::new(),
                    fixed_ips: vec![format!(
                        "10.{}.{}.{}",
                        index % 8,
                        index / 250,
                        index % 250 + 2
                    )],
                    security_groups: vec!["default".to_string(), "app".to_string()],
                }],
                volumes,
            };
            (name, instance)
        })
        .collect();
    let flavor = |name: &str| Flavor {
        id: name.to_string(),
        name: name.to_string(),
        vcpus: 4,
        ram_mb: 8192,
        disk_gb: 80,
    };
    let site_a = SiteFacts {
        instances,
        networks: (0..8).map(|n| network(&format!("net-a-{n}"), n)).collect(),
        flavors: vec![flavor("m1.large")],
        roles: vec!["admin".to_string()],
        volume_quota_left: None,
        volume_quota_error: None,
        cinder_pools: None,
        security_groups: vec!["default".to_string(), "app".to_string()],
        availability_zones: None,
        volume_types: None,
        manage_policy: ManagePolicy::Allowed,
        volume_services: Default::default(),
        keypairs: None,
        server_groups: None,
        array: Some(ArrayFacts {
            name: "fa-a".to_string(),
            protection_groups: vec![ProtectionGroup {
                name: "scale".to_string(),
                source: "fa-a".to_string(),
                volumes: array_volumes.clone(),
                targets: vec![("fa-b".to_string(), true)],
                replication_enabled: true,
                replication_frequency_ms: 900_000,
            }],
            replicated_snapshots: Vec::new(),
            volumes: array_volumes,
            clock_offset_ms: Some(0),
        }),
        array_error: None,
    };
    let site_b = SiteFacts {
        networks: (0..8).map(|n| network(&format!("net-b-{n}"), n)).collect(),
        flavors: vec![flavor("m2.large")],
        roles: vec!["admin".to_string()],
        security_groups: vec!["default".to_string(), "app".to_string()],
        array: Some(ArrayFacts {
            name: "fa-b".to_string(),
            protection_groups: Vec::new(),
            replicated_snapshots: Vec::new(),
            volumes: Vec::new(),
            clock_offset_ms: Some(0),
        }),
        ..SiteFacts::default()
    };
    Inventory {
        taken_at_ms: 1_800_000_000_000,
        sites: BTreeMap::from([
            (
                "site-a".to_string(),
                SiteInventory::Reachable(Box::new(site_a)),
            ),
            (
                "site-b".to_string(),
                SiteInventory::Reachable(Box::new(site_b)),
            ),
        ]),
    }
}

fn main() {
    let started = Instant::now();
    let spec = protector::spec::check(SourceFile::new("scale.yaml", spec_text()), Path::new("."))
        .spec
        .expect("the synthetic spec is valid");
    let validated = started.elapsed();
    let inventory = inventory();
    let state = RecordedState {
        sites: BTreeMap::from([("site-a".to_string(), None), ("site-b".to_string(), None)]),
        ..RecordedState::default()
    };
    let request = PlanRequest {
        operation: OperationKind::Failover,
        options: PlanOptions {
            failover_type: Some(FailoverType::Planned),
            ..PlanOptions::default()
        },
    };
    let started = Instant::now();
    let plan = protector::plan::plan(&spec, &inventory, &state, &request).expect("plans");
    let planned = started.elapsed();
    let started = Instant::now();
    let text = protector::render::plan::text(&plan);
    let rendered = started.elapsed();
    println!(
        "plan of {MEMBERS} members / {} volumes: {} steps; spec validation {:.3} s, plan {:.3} s, diff + text {:.3} s ({} KiB); total {:.3} s (target < 1 s); peak RSS {:.0} MB (target < 300 MB)",
        MEMBERS * VOLUMES,
        plan.steps.len(),
        validated.as_secs_f64(),
        planned.as_secs_f64(),
        rendered.as_secs_f64(),
        text.len() / 1024,
        (planned + rendered).as_secs_f64(),
        peak_rss_mb()
    );
    println!(
        "predicted RTO {:.0} s, phase by phase {:.0} s, one at a time {:.0} s",
        plan.estimate.predicted_secs,
        plan.estimate.phase_by_phase_secs,
        plan.estimate.one_at_a_time_secs
    );
}
