//! Test fixtures for planning: the example spec and an inventory of the example twin's world.

use std::collections::BTreeMap;
use std::path::Path;

use crate::diagnostic::SourceFile;
use crate::inventory::{
    ArrayFacts, Flavor, Instance, Inventory, ManagePolicy, Network, Port, ProtectionGroup,
    ReplicatedSnapshot, ServerGroup, SiteFacts, SiteInventory, Subnet, Volume, VolumeService,
    VolumeServices,
};
use crate::plan::{FailoverType, OperationKind, Plan, PlanOptions, PlanRequest};
use crate::spec::Spec;
use crate::state::RecordedState;

pub fn example_spec() -> Spec {
    let text = include_str!("../../examples/prod-web-app.yaml");
    crate::spec::check(SourceFile::new("prod-web-app.yaml", text), Path::new("."))
        .spec
        .expect("the example is valid")
}

pub const NOW_MS: i64 = 1_800_000_000_000;

pub fn instance(name: &str, network: &str, ip: &str, volumes: usize) -> Instance {
    Instance {
        id: format!("id-{name}"),
        name: name.to_string(),
        status: "ACTIVE".to_string(),
        flavor: "m1.large".to_string(),
        key_name: Some("ops".to_string()),
        availability_zone: Some("nova".to_string()),
        metadata: BTreeMap::new(),
        security_groups: vec!["default".to_string()],
        tags: Vec::new(),
        description: None,
        server_group: None,
        ports: vec![Port {
            id: format!("port-{name}"),
            network: network.to_string(),
            mac_address: "fa:16:3e:00:00:01".to_string(),
            fixed_ips: vec![ip.to_string()],
            security_groups: vec!["default".to_string(), format!("{name}-tier")],
        }],
        volumes: (0..volumes)
            .map(|index| Volume {
                id: format!("vol-{name}-{index}"),
                name: format!("{name}-{index}"),
                size_gb: 20,
                volume_type: Some("pure-replicated".to_string()),
                bootable: index == 0,
                host: Some("site-a@pure#fa-a".to_string()),
                boot_index: (index == 0).then_some(0),
                device: None,
                array_volume_name: Some(format!("volume-{name}-{index}-cinder")),
            })
            .collect(),
    }
}

/// The security groups both sites have: `default`, and one per member (`db-1-tier`, ...).
fn groups() -> Vec<String> {
    ["default", "db-1-tier", "web-1-tier", "web-2-tier"]
        .map(str::to_string)
        .to_vec()
}

pub fn network(name: &str, cidr: &str) -> Network {
    Network {
        id: format!("net-{name}"),
        name: name.to_string(),
        subnets: vec![Subnet {
            id: format!("subnet-{name}"),
            cidr: cidr.to_string(),
            free_ips: 200,
            used_ips: Vec::new(),
        }],
    }
}

pub fn all_array_volumes() -> Vec<String> {
    ["db-1-0", "db-1-1", "web-1-0", "web-2-0"]
        .iter()
        .map(|v| format!("volume-{v}-cinder"))
        .collect()
}

/// The anti-affinity group of the web tier on site-a.
pub fn web_servers() -> ServerGroup {
    ServerGroup {
        name: "web-servers".to_string(),
        policy: "anti-affinity".to_string(),
        max_server_per_host: None,
    }
}

pub fn inventory() -> Inventory {
    let mut db = instance("db-1", "net-primary-db", "10.10.2.10", 2);
    db.tags = vec!["db".to_string(), "critical".to_string()];
    db.description = Some("PostgreSQL primary".to_string());
    let web = |name: &str, ip: &str| {
        let mut web = instance(name, "net-primary-web", ip, 1);
        web.server_group = Some(web_servers());
        (name.to_string(), web)
    };
    let site_a = SiteFacts {
        instances: BTreeMap::from([
            ("db-1".to_string(), db),
            web("web-1", "10.10.1.11"),
            web("web-2", "10.10.1.12"),
        ]),
        networks: vec![
            network("net-primary-web", "10.10.1.0/24"),
            network("net-primary-db", "10.10.2.0/24"),
        ],
        flavors: vec![Flavor {
            id: "f1".to_string(),
            name: "m1.large".to_string(),
            vcpus: 4,
            ram_mb: 8192,
            disk_gb: 80,
        }],
        roles: vec!["admin".to_string(), "member".to_string()],
        volume_quota_left: None,
        volume_quota_error: None,
        cinder_pools: Some(vec!["site-a@pure#fa-a".to_string()]),
        security_groups: groups(),
        availability_zones: Some(vec!["nova".to_string()]),
        volume_types: Some(vec!["pure-replicated".to_string()]),
        manage_policy: ManagePolicy::Allowed,
        volume_services: volume_service_up("site-a@pure"),
        keypairs: Some(vec!["ops".to_string()]),
        server_groups: Some(vec![web_servers()]),
        array_error: None,
        array: Some(ArrayFacts {
            name: "fa-a".to_string(),
            protection_groups: vec![ProtectionGroup {
                name: "prod-web-app".to_string(),
                source: "fa-a".to_string(),
                volumes: all_array_volumes(),
                targets: vec![("fa-b".to_string(), true)],
                replication_enabled: true,
                replication_frequency_ms: 900_000,
            }],
            replicated_snapshots: Vec::new(),
            volumes: all_array_volumes(),
            clock_offset_ms: Some(0),
        }),
    };
    let site_b = SiteFacts {
        instances: BTreeMap::new(),
        networks: vec![
            network("net-secondary-web", "10.10.1.0/24"),
            network("net-secondary-db", "10.10.2.0/24"),
        ],
        flavors: vec![Flavor {
            id: "f2".to_string(),
            name: "m2.large".to_string(),
            vcpus: 4,
            ram_mb: 8192,
            disk_gb: 80,
        }],
        roles: vec!["admin".to_string(), "member".to_string()],
        volume_quota_left: Some(100),
        volume_quota_error: None,
        cinder_pools: Some(vec!["site-b@pure#fa-b".to_string()]),
        security_groups: groups(),
        availability_zones: Some(vec!["nova".to_string()]),
        volume_types: Some(vec!["pure-replicated".to_string()]),
        manage_policy: ManagePolicy::Allowed,
        volume_services: volume_service_up("site-b@pure"),
        keypairs: Some(vec!["ops".to_string()]),
        server_groups: Some(Vec::new()),
        array_error: None,
        array: Some(ArrayFacts {
            name: "fa-b".to_string(),
            protection_groups: Vec::new(),
            replicated_snapshots: vec![ReplicatedSnapshot {
                name: "fa-a:prod-web-app.7".to_string(),
                created_ms: NOW_MS - 5 * 60_000,
                progress: 1.0,
                completed_ms: Some(NOW_MS - 4 * 60_000),
                volumes: all_array_volumes()
                    .into_iter()
                    .map(|v| (v.clone(), format!("fa-a:prod-web-app.7.{v}")))
                    .collect(),
            }],
            volumes: Vec::new(),
            clock_offset_ms: Some(0),
        }),
    };
    Inventory {
        taken_at_ms: NOW_MS,
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

pub fn no_state() -> RecordedState {
    RecordedState {
        sites: BTreeMap::from([("site-a".to_string(), None), ("site-b".to_string(), None)]),
        ..RecordedState::default()
    }
}

pub fn request(failover_type: FailoverType) -> PlanRequest {
    PlanRequest {
        operation: OperationKind::Failover,
        options: PlanOptions {
            failover_type: Some(failover_type),
            ..PlanOptions::default()
        },
    }
}

/// Both sites' state documents recording the members where `inventory` has them on site-a.
pub fn recorded(inventory: &Inventory) -> RecordedState {
    let spec = example_spec();
    let facts = inventory.sites["site-a"].facts().unwrap();
    let mut state = no_state();
    for site in ["site-a", "site-b"] {
        let mut document = crate::state::StateDocument::initial(&spec, site);
        document.metadata_version = 1;
        for (name, instance) in &facts.instances {
            document.members.insert(
                name.clone(),
                crate::state::MemberRecord {
                    site: "site-a".to_string(),
                    instance_id: Some(instance.id.clone()),
                    array_volumes: Vec::new(),
                    last_known: Some(instance.clone()),
                    previous: None,
                },
            );
        }
        state.sites.insert(site.to_string(), Some(document));
    }
    state
}

/// The example inventory with the drill networks the example spec maps to on site-b.
pub fn drill_inventory() -> Inventory {
    let mut inventory = inventory();
    if let SiteInventory::Reachable(facts) = inventory.sites.get_mut("site-b").unwrap() {
        facts
            .networks
            .push(network("net-drill-web", "192.168.101.0/24"));
        facts
            .networks
            .push(network("net-drill-db", "192.168.102.0/24"));
    }
    inventory
}

pub fn drill_request(keep: bool) -> PlanRequest {
    PlanRequest {
        operation: OperationKind::Drill,
        options: PlanOptions {
            keep,
            ..PlanOptions::default()
        },
    }
}

/// Step `step` of `plan` depends directly on step `on`.
pub fn depends(plan: &Plan, step: &str, on: &str) -> bool {
    plan.step(step)
        .unwrap_or_else(|| panic!("no step {step}"))
        .depends_on
        .iter()
        .any(|d| d == on)
}

pub fn converge_request() -> PlanRequest {
    PlanRequest {
        operation: OperationKind::Converge,
        options: PlanOptions::default(),
    }
}

pub fn site_a_down(inventory: &mut Inventory) {
    inventory.sites.insert(
        "site-a".to_string(),
        SiteInventory::Unreachable {
            error: "connection refused".to_string(),
        },
    );
}

/// The record of `plan`'s operation as apply writes it, with `status`.
pub fn record_of(
    plan: &Plan,
    status: crate::state::OperationStatus,
) -> crate::state::OperationRecord {
    crate::state::OperationRecord {
        id: plan.operation.id.clone(),
        kind: plan.operation.kind.as_str().to_string(),
        status,
        progress: 0,
        steps_completed: Vec::new(),
        steps_failed: Vec::new(),
        error_message: None,
        started_at: None,
        completed_at: None,
        source_site: plan.operation.source_site.clone(),
        target_site: plan.operation.target_site.clone(),
        left_on_target: Vec::new(),
        proof: None,
        rollback: None,
        rolls_back: None,
        superseded_by: None,
    }
}

/// Cinder's volume services of a site whose backend `host` is up and enabled.
pub fn volume_service_up(host: &str) -> VolumeServices {
    VolumeServices::Listed {
        services: vec![VolumeService {
            host: host.to_string(),
            up: true,
            enabled: true,
            disabled_reason: None,
            updated_at: None,
        }],
    }
}
