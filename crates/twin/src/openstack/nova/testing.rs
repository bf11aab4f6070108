//! Helpers of Nova's tests: a booted site, request bodies.

use crate::clock::Clock;
use crate::fixture;
use crate::openstack::state::Volume;
use crate::openstack::state::VolumeStatus;
use crate::world::SiteContext;
use crate::world::World;
use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use serde_json::Value;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

pub(super) const FIXTURE: &str = include_str!("../../../../../examples/sim/two-sites.yaml");

/// Site-a of the built-in world behind the OpenStack router, with a token per role set.
pub(super) struct Twin {
    pub(super) router: Router,
    pub(super) ctx: SiteContext,
}

pub(super) struct Reply {
    pub(super) status: StatusCode,
    pub(super) headers: HeaderMap,
    pub(super) body: Value,
}

impl Twin {
    pub(super) fn new(speed: f64) -> Twin {
        Twin::from_fixture(&fixture::parse(FIXTURE).unwrap(), speed)
    }

    pub(super) fn from_fixture(fixture: &fixture::Fixture, speed: f64) -> Twin {
        let world = Arc::new(World::from_fixture(fixture, 7, Clock::new(speed)).unwrap());
        let cell = world.site("site-a").unwrap().clone();
        let ctx = SiteContext { world, cell };
        {
            let mut site = ctx.lock();
            for (id, roles) in [
                ("admin-token", &["admin", "member"][..]),
                ("member-token", &["member"][..]),
                ("reader-token", &["reader"][..]),
            ] {
                crate::openstack::testing::grant_token(&mut site, id, "protector", roles);
            }
        }
        let router = crate::openstack::router().with_state(ctx.clone());
        Twin { router, ctx }
    }

    pub(super) async fn call(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Value>,
    ) -> Reply {
        let (status, headers, body) =
            crate::openstack::testing::call(&self.router, "twin.test", method, path, headers, body)
                .await;
        Reply {
            status,
            headers,
            body,
        }
    }

    /// As the admin (`protector`) at a microversion.
    pub(super) async fn nova(
        &self,
        method: &str,
        path: &str,
        version: &str,
        body: Option<Value>,
    ) -> Reply {
        self.call(
            method,
            &format!("/compute/v2.1{path}"),
            &[
                ("x-auth-token", "admin-token"),
                ("openstack-api-version", &format!("compute {version}")),
            ],
            body,
        )
        .await
    }

    pub(super) fn server_id(&self, name: &str) -> String {
        let site = self.ctx.lock();
        site.compute
            .servers
            .values()
            .find(|server| server.name == name)
            .unwrap()
            .id
            .clone()
    }

    /// A new available volume, a copy of an existing one.
    pub(super) fn volume(&self, name: &str, bootable: bool) -> String {
        let mut site = self.ctx.lock();
        let mut volume: Volume = site.block.volumes.values().next().unwrap().clone();
        let id = site.ids.uuid();
        volume.id = id.clone();
        volume.name = name.to_string();
        volume.status = VolumeStatus::Available;
        volume.attachments.clear();
        volume.bootable = bootable;
        volume.pending = None;
        site.block.volumes.insert(id.clone(), volume);
        id
    }

    pub(super) fn network_id(&self, name: &str) -> String {
        let site = self.ctx.lock();
        site.network
            .networks
            .values()
            .find(|network| network.name == name)
            .unwrap()
            .id
            .clone()
    }

    /// Waits (real time) for the twin's latencies.
    pub(super) async fn settle(&self, ms: u64) {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
}

pub(super) fn boot_body(name: &str, flavor: &str, volumes: &[&str], networks: Value) -> Value {
    let mappings: Vec<Value> = volumes
        .iter()
        .enumerate()
        .map(|(index, id)| {
            let mut mapping = json!({
                "uuid": id, "source_type": "volume", "destination_type": "volume",
                "delete_on_termination": false
            });
            if index == 0 {
                mapping["boot_index"] = json!(0);
            }
            mapping
        })
        .collect();
    json!({"server": {
        "name": name, "flavorRef": flavor, "networks": networks,
        "block_device_mapping_v2": mappings, "metadata": {"protector:step": "boot"},
        "key_name": "ops", "availability_zone": "az-2",
        "security_groups": [{"name": "default"}, {"name": "web"}]
    }})
}

pub(super) fn flavor_id(twin: &Twin, name: &str) -> String {
    let site = twin.ctx.lock();
    site.compute
        .flavors
        .values()
        .find(|flavor| flavor.name == name)
        .unwrap()
        .id
        .clone()
}

/// A boot of a new volume on net-primary-web, as the admin at `version`, with `extra` merged
/// into the `server` object and `hints` as the scheduler hints.
pub(super) async fn boot(
    twin: &Twin,
    name: &str,
    version: &str,
    extra: Value,
    hints: Value,
) -> Reply {
    let flavor = flavor_id(twin, "m1.small");
    let web = twin.network_id("net-primary-web");
    let boot = twin.volume(&format!("{name}-boot"), true);
    let mut body = boot_body(name, &flavor, &[&boot], json!([{"uuid": web}]));
    if let (Some(server), Some(extra)) = (body["server"].as_object_mut(), extra.as_object()) {
        server.remove("availability_zone");
        server.extend(extra.clone());
    }
    if !hints.is_null() {
        body["OS-SCH-HNT:scheduler_hints"] = hints;
    }
    twin.nova("POST", "/servers", version, Some(body)).await
}
