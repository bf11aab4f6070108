//! The twin's Cinder over real loopback HTTP (`protector sim up --speed 1000` + curl, tokens
//! from the twin's Keystone): version discovery, lists with filters and pages, create and
//! delete through the FlashArray, manage of an array volume Cinder does not know (by
//! `source-name`; the listing's `name` reference fails, as on Cinder 29's Pure driver) and
//! unmanage back, the policy denial of manage and unmanage, the refusal to unmanage an in-use
//! volume, and the volume quota. Every answer reads into the wire models protector's client
//! uses.

use std::time::{Duration, Instant};

use protector::clients::cinder::model as cinder;
use serde_json::{Value, json};

use crate::keystone_api::{SiteInfo, call, site_info, token};
use crate::twin::TwinProcess;

/// The exact body Cinder answers a denied manage with (`PolicyNotAuthorized`).
const MANAGE_DENIED: &str = "Policy doesn't allow volume_extension:volume_manage to be performed.";
const UNMANAGE_DENIED: &str =
    "Policy doesn't allow volume_extension:volume_unmanage to be performed.";
/// Cinder's `InvalidVolume` for deleting or unmanaging a volume in use.
const INVALID_STATE: &str = "Invalid volume: Volume status must be available or error or \
    error_restoring or error_extending or error_managing and must not be migrating, attached, \
    belong to a group, have snapshots or be disassociated from snapshots after volume transfer.";

/// One site's Cinder, as a client with a token sees it.
struct Cinder {
    site: SiteInfo,
    token: String,
    microversion: &'static str,
}

impl Cinder {
    fn new(site: SiteInfo, user: &str, password: &str) -> Cinder {
        let token = token(&site.openstack, user, password);
        Cinder {
            site,
            token,
            microversion: "volume 3.69",
        }
    }

    fn url(&self, path: &str) -> String {
        format!(
            "{}/volume/v3/{}{path}",
            self.site.openstack, self.site.project_id
        )
    }

    fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> crate::keystone_api::Reply {
        call(
            method,
            &self.url(path),
            &[
                ("X-Auth-Token", self.token.as_str()),
                ("OpenStack-API-Version", self.microversion),
            ],
            body,
        )
    }

    fn volume(&self, id: &str) -> Option<cinder::Volume> {
        let reply = self.request("GET", &format!("/volumes/{id}"), None);
        match reply.status {
            404 => None,
            200 => Some(
                serde_json::from_str::<cinder::VolumeResponse>(&reply.body)
                    .expect("the volume reads into the model")
                    .volume,
            ),
            other => panic!("GET volume {id}: {other} {}", reply.body),
        }
    }

    /// Polls until the volume has `status` (or is gone, for `None`).
    fn wait_for(&self, id: &str, status: Option<&str>) -> Option<cinder::Volume> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let volume = self.volume(id);
            if volume.as_ref().map(|v| v.status.as_str()) == status {
                return volume;
            }
            assert!(
                Instant::now() < deadline,
                "volume {id} never reached {status:?}: {volume:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn world(twin: &TwinProcess) -> Value {
    call("GET", &format!("{}/world", twin.control()), &[], None).json()
}

fn fault(reply: &crate::keystone_api::Reply) -> cinder::ErrorResponse {
    serde_json::from_str(&reply.body)
        .unwrap_or_else(|error| panic!("{error}: not a Cinder fault: {}", reply.body))
}

#[test]
fn volumes_are_listed_created_and_deleted_through_the_array() {
    let twin = TwinProcess::start(1000, &[]);
    let site = site_info(twin.control(), "site-a");
    let openstack = site.openstack.clone();
    let admin = Cinder::new(site, "protector", "site-a-secret");

    // Discovery, as keystoneauth does it, without a token.
    let versions = call("GET", &format!("{openstack}/volume/v3/"), &[], None);
    assert_eq!(versions.status, 200);
    let versions: cinder::VersionsList = serde_json::from_str(&versions.body).unwrap();
    assert_eq!(versions.versions[0].version, "3.71");
    assert_eq!(versions.versions[0].min_version, "3.0");

    // The fixture's four volumes, two pages of two, newest first by default.
    let first = admin.request("GET", "/volumes/detail?limit=2", None);
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(first.header("openstack-api-version"), Some("volume 3.69"));
    let first: cinder::VolumesDetailList = serde_json::from_str(&first.body).unwrap();
    assert_eq!(first.volumes.len(), 2);
    let next = &first.volumes_links.as_ref().expect("a next link")[0];
    assert_eq!(next.rel, "next");
    assert!(
        next.href
            .starts_with(&admin.url("/volumes/detail?limit=2&marker="))
    );
    let second = call(
        "GET",
        &next.href,
        &[
            ("X-Auth-Token", admin.token.as_str()),
            ("OpenStack-API-Version", "volume 3.69"),
        ],
        None,
    );
    let second: cinder::VolumesDetailList = serde_json::from_str(&second.body).unwrap();
    assert_eq!(second.volumes.len(), 2);
    let mut ids: Vec<&str> = first
        .volumes
        .iter()
        .chain(&second.volumes)
        .map(|volume| volume.id.as_str())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 4, "no volume twice");
    assert!(
        first
            .volumes
            .iter()
            .chain(&second.volumes)
            .all(|v| v.status == "in-use")
    );

    let named = admin.request("GET", "/volumes?name=db-1-boot", None);
    let named: cinder::VolumesList = serde_json::from_str(&named.body).unwrap();
    assert_eq!(named.volumes.len(), 1);
    assert_eq!(named.volumes[0].name.as_deref(), Some("db-1-boot"));

    // Create: creating, then available with its array volume on fa-a.
    let reply = admin.request(
        "POST",
        "/volumes",
        Some(&json!({"volume": {"size": 3, "name": "scratch", "volume_type": "pure"}})),
    );
    assert_eq!(reply.status, 202, "{}", reply.body);
    let created: cinder::VolumeResponse = serde_json::from_str(&reply.body).unwrap();
    assert_eq!(created.volume.status, "creating");
    let id = created.volume.id;
    let volume = admin.wait_for(&id, Some("available")).unwrap();
    let array_volume = format!("volume-{id}-cinder");
    assert_eq!(volume.metadata["array_volume_name"], array_volume);
    assert_eq!(volume.metadata["array_name"], "fa-a");
    let on_array = &world(&twin)["sites"]["site-a"]["array"]["volumes"][&array_volume];
    assert_eq!(on_array["provisioned"], 3u64 << 30);
    assert_eq!(on_array["destroyed"], false);

    // An in-use volume is not deleted; the new one is, and its array volume destroyed.
    let in_use = &first.volumes[0].id;
    let reply = admin.request("DELETE", &format!("/volumes/{in_use}"), None);
    assert_eq!(reply.status, 400);
    assert_eq!(fault(&reply).detail().message, INVALID_STATE);
    let reply = admin.request("DELETE", &format!("/volumes/{id}"), None);
    assert_eq!(reply.status, 202, "{}", reply.body);
    admin.wait_for(&id, None);
    let on_array = &world(&twin)["sites"]["site-a"]["array"]["volumes"][&array_volume];
    assert_eq!(
        on_array["destroyed"], true,
        "destroyed, recoverable, not eradicated"
    );
}

#[test]
fn manage_and_unmanage_rename_the_array_volume() {
    let twin = TwinProcess::start(1000, &[]);
    let site = site_info(twin.control(), "site-b");
    let admin = Cinder::new(site, "protector", "site-b-secret");

    // An array volume Cinder does not know: made by unmanaging a new volume.
    let reply = admin.request("POST", "/volumes", Some(&json!({"volume": {"size": 5}})));
    let id = serde_json::from_str::<cinder::VolumeResponse>(&reply.body)
        .unwrap()
        .volume
        .id;
    admin.wait_for(&id, Some("available"));
    let reply = admin.request(
        "POST",
        &format!("/volumes/{id}/action"),
        Some(&json!({"os-unmanage": {}})),
    );
    assert_eq!(reply.status, 202, "{}", reply.body);
    assert_eq!(reply.body, "");
    admin.wait_for(&id, None);
    let unmanaged = format!("volume-{id}-cinder-unmanaged");
    let volumes = &world(&twin)["sites"]["site-b"]["array"]["volumes"];
    assert_eq!(volumes[&unmanaged]["destroyed"], false, "kept on the array");
    assert!(volumes.get(format!("volume-{id}-cinder")).is_none());

    // Listed as manageable, with the Pure driver's reference.
    let reply = admin.request(
        "GET",
        "/manageable_volumes/detail?host=site-b@pure%23fa-b",
        None,
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    let list: cinder::ManageableVolumesList = serde_json::from_str(&reply.body).unwrap();
    let entry = list
        .manageable_volumes
        .iter()
        .find(|m| m.reference.name.as_deref() == Some(unmanaged.as_str()))
        .expect("listed");
    assert!(entry.safe_to_manage);
    assert_eq!(entry.size, 5);

    assert_eq!(
        serde_json::to_value(&entry.reference).unwrap(),
        json!({"name": unmanaged}),
        "the Pure driver lists `name`"
    );

    // Cinder 29's driver reads `source-name`: the listed reference, sent as-is, is accepted and
    // then fails, the array volume untouched.
    let request = json!({"volume": {"host": "site-b@pure#fa-b", "ref": entry.reference}});
    let reply = admin.request("POST", "/manageable_volumes", Some(&request));
    assert_eq!(reply.status, 202, "{}", reply.body);
    let as_listed = serde_json::from_str::<cinder::VolumeResponse>(&reply.body)
        .unwrap()
        .volume
        .id;
    admin.wait_for(&as_listed, Some("error"));
    let world_now = world(&twin);
    assert_eq!(
        world_now["sites"]["site-b"]["block"]["volume_errors"][&as_listed],
        format!(
            "Manage existing volume failed due to invalid backend reference {{'name': \
             '{unmanaged}'}}: manage_existing requires a 'source-name' key to identify an \
             existing volume."
        )
    );
    let volumes = &world_now["sites"]["site-b"]["array"]["volumes"];
    assert_eq!(volumes[&unmanaged]["destroyed"], false, "untouched");
    let reply = admin.request("DELETE", &format!("/volumes/{as_listed}"), None);
    assert_eq!(reply.status, 202, "{}", reply.body);
    admin.wait_for(&as_listed, None);

    // Manage it back by `source-name` (with `name` too, as protector sends it): creating, then
    // available under a new id, renamed on the array.
    let request = json!({"volume": {
        "host": "site-b@pure#fa-b",
        "ref": cinder::VolumeReference::array_volume(&unmanaged),
        "name": "recovered",
        "volume_type": "pure-replicated",
        "bootable": true,
    }});
    let reply = admin.request("POST", "/manageable_volumes", Some(&request));
    assert_eq!(reply.status, 202, "{}", reply.body);
    let managed: cinder::VolumeResponse = serde_json::from_str(&reply.body).unwrap();
    assert_eq!(managed.volume.status, "creating");
    let new_id = managed.volume.id;
    let volume = admin.wait_for(&new_id, Some("available")).unwrap();
    let renamed = format!("volume-{new_id}-cinder");
    assert_eq!(volume.size, 5);
    assert_eq!(volume.bootable, cinder::StringBool(true));
    assert_eq!(volume.metadata["array_volume_name"], renamed);
    assert_eq!(volume.metadata["array_name"], "fa-b");
    let volumes = &world(&twin)["sites"]["site-b"]["array"]["volumes"];
    assert!(volumes.get(&unmanaged).is_none());
    assert_eq!(
        volumes[&renamed]["content"],
        format!("empty:fa-b:volume-{id}-cinder"),
        "the same data under its new name"
    );

    // A reference to nothing: accepted, then error.
    let reply = admin.request(
        "POST",
        "/manageable_volumes",
        Some(&json!({"volume": {"host": "site-b@pure#fa-b", "ref": {"source-name": "ghost"}}})),
    );
    assert_eq!(reply.status, 202);
    let ghost = serde_json::from_str::<cinder::VolumeResponse>(&reply.body)
        .unwrap()
        .volume
        .id;
    admin.wait_for(&ghost, Some("error"));
    let errors = &world(&twin)["sites"]["site-b"]["block"]["volume_errors"];
    assert!(
        errors[&ghost]
            .as_str()
            .unwrap()
            .ends_with("Unable to find Purity ref with source-name=ghost")
    );
    // An unknown host is refused at once.
    let reply = admin.request(
        "POST",
        "/manageable_volumes",
        Some(&json!({"volume": {"host": "nowhere@pure", "ref": {"source-name": "x"}}})),
    );
    assert_eq!(reply.status, 400);
    assert_eq!(
        fault(&reply).detail().message,
        "Host 'nowhere@pure' not found"
    );
}

#[test]
fn policy_in_use_and_quota_refusals_are_cinders() {
    let twin = TwinProcess::start(1000, &[]);
    let site_a = site_info(twin.control(), "site-a");
    let admin = Cinder::new(
        site_info(twin.control(), "site-a"),
        "protector",
        "site-a-secret",
    );
    let viewer = Cinder::new(site_a, "viewer", "viewer-secret");

    // The viewer (reader) may list, not manage or unmanage.
    assert_eq!(viewer.request("GET", "/volumes", None).status, 200);
    let reply = viewer.request(
        "POST",
        "/manageable_volumes",
        Some(&json!({"volume": {"host": "site-a@pure#fa-a", "ref": {"source-name": "x"}}})),
    );
    assert_eq!(reply.status, 403);
    assert_eq!(
        reply.json(),
        json!({"forbidden": {"code": 403, "message": MANAGE_DENIED}})
    );
    let first = admin.request("GET", "/volumes", None);
    let first: cinder::VolumesList = serde_json::from_str(&first.body).unwrap();
    let in_use = &first.volumes[0].id;
    let reply = viewer.request(
        "POST",
        &format!("/volumes/{in_use}/action"),
        Some(&json!({"os-unmanage": {}})),
    );
    assert_eq!(reply.status, 403);
    assert_eq!(
        reply.json(),
        json!({"forbidden": {"code": 403, "message": UNMANAGE_DENIED}})
    );

    // The admin may, but not while a server uses the volume.
    let reply = admin.request(
        "POST",
        &format!("/volumes/{in_use}/action"),
        Some(&json!({"os-unmanage": {}})),
    );
    assert_eq!(reply.status, 400);
    assert_eq!(
        reply.json(),
        json!({"badRequest": {"code": 400, "message": INVALID_STATE}})
    );
    assert_eq!(admin.volume(in_use).unwrap().status, "in-use");

    // Before 3.8 there is no manageable_volumes; os-volume-manage answers at any version.
    let legacy = Cinder {
        microversion: "volume 3.0",
        ..admin
    };
    let reply = legacy.request("GET", "/manageable_volumes?host=site-a@pure", None);
    assert_eq!(reply.status, 404);
    let reply = legacy.request("GET", "/os-volume-manage?host=site-a@pure", None);
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.header("openstack-api-version"), Some("volume 3.0"));
}

#[test]
fn the_volume_quota_is_a_413() {
    let fixture_dir = tempfile::tempdir().unwrap();
    let fixture = std::fs::read_to_string(crate::root().join("examples/sim/two-sites.yaml"))
        .unwrap()
        .replace(
            "    cinder_host: site-b@pure#fa-b\n",
            "    volume_quota: 1\n    cinder_host: site-b@pure#fa-b\n",
        );
    assert!(fixture.contains("volume_quota: 1"), "site-b got a quota");
    let path = fixture_dir.path().join("fixture.yaml");
    std::fs::write(&path, fixture).unwrap();
    let twin = TwinProcess::start(1000, &["--fixture", path.to_str().unwrap()]);
    let admin = Cinder::new(
        site_info(twin.control(), "site-b"),
        "protector",
        "site-b-secret",
    );
    let body = json!({"volume": {"size": 1}});
    assert_eq!(admin.request("POST", "/volumes", Some(&body)).status, 202);
    let reply = admin.request("POST", "/volumes", Some(&body));
    assert_eq!(reply.status, 413, "{}", reply.body);
    assert_eq!(reply.header("retry-after"), Some("0"));
    let error = fault(&reply);
    assert!(matches!(error, cinder::ErrorResponse::OverLimit(_)));
    assert_eq!(
        error.detail().message,
        "VolumeLimitExceeded: Maximum number of volumes allowed (1) exceeded for quota 'volumes'."
    );
    assert_eq!(error.detail().retry_after.as_deref(), Some("0"));
}
