//! Nova v2.1 wire types: server create/show/list, flavors, the `os-start`/`os-stop` actions,
//! volume attachments, server groups, key pairs, and Nova's error bodies.
//!
//! Shared by protector's Nova client (deserializes) and the simulator (serializes), so they
//! follow the API reference samples field for field (`tests/it/api_samples.rs` proves it).
//! Conventions: a field every microversion sends is plain (`Option` when JSON null is allowed,
//! and then always serialized); a field that depends on the microversion or on policy is an
//! `Option` left out when `None`, and an `Option<Option<T>>` when it can also be null (outer
//! `None`: absent; `Some(None)`: null). Unknown fields are ignored, never an error.

use std::collections::BTreeMap;
use std::fmt;

use crate::common::double_option;
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

// ---------------------------------------------------------------------------------------------
// Servers
// ---------------------------------------------------------------------------------------------

/// `GET /servers/{id}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerResponse {
    pub server: Server,
}

/// `GET /servers/detail`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServersDetailList {
    pub servers: Vec<Server>,
    /// The `next` link when the page was cut by `limit`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub servers_links: Option<Vec<Link>>,
}

/// `GET /servers`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServersList {
    pub servers: Vec<ServerSummary>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub servers_links: Option<Vec<Link>>,
}

/// A server as `GET /servers` lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerSummary {
    pub id: String,
    pub name: String,
    pub links: Vec<Link>,
}

/// A server in full, as `GET /servers/{id}` and `GET /servers/detail` show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Server {
    pub id: String,
    pub name: String,
    /// `BUILD`, `ACTIVE`, `SHUTOFF`, `ERROR`, ...
    pub status: String,
    pub tenant_id: String,
    pub user_id: String,
    /// Opaque hash of (project, compute host): equal values mean the same host.
    #[serde(rename = "hostId")]
    pub host_id: String,
    pub created: String,
    pub updated: String,
    pub flavor: ServerFlavor,
    pub image: ServerImage,
    pub addresses: ServerAddresses,
    /// Where protector tags the servers it creates (operation and step ids) so a resumed run
    /// adopts them.
    pub metadata: BTreeMap<String, String>,
    #[serde(default)]
    pub key_name: Option<String>,
    pub links: Vec<Link>,
    #[serde(rename = "accessIPv4")]
    pub access_ipv4: String,
    #[serde(rename = "accessIPv6")]
    pub access_ipv6: String,
    /// `"True"` or `""`.
    pub config_drive: String,
    /// `AUTO` or `MANUAL`.
    #[serde(rename = "OS-DCF:diskConfig")]
    pub disk_config: String,
    #[serde(rename = "OS-EXT-AZ:availability_zone")]
    pub availability_zone: String,
    /// `active`, `building`, `stopped`, `error`, ...
    #[serde(rename = "OS-EXT-STS:vm_state")]
    pub vm_state: String,
    /// `spawning`, `powering-off`, ...; null when no task runs.
    #[serde(rename = "OS-EXT-STS:task_state", default)]
    pub task_state: Option<String>,
    /// 0 no state, 1 running, 3 paused, 4 shutdown, 6 crashed, 7 suspended.
    #[serde(rename = "OS-EXT-STS:power_state")]
    pub power_state: u8,
    /// The volumes attached, the boot volume included: what a failover must carry over.
    #[serde(rename = "os-extended-volumes:volumes_attached")]
    pub volumes_attached: Vec<AttachedVolume>,
    #[serde(rename = "OS-SRV-USG:launched_at", default)]
    pub launched_at: Option<String>,
    #[serde(rename = "OS-SRV-USG:terminated_at", default)]
    pub terminated_at: Option<String>,
    /// Percent done; sent only while building, resizing or migrating, and when `ACTIVE`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<u8>,
    /// Absent when the server has no port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_groups: Option<Vec<SecurityGroupRef>>,
    /// Why the server is in `ERROR` (or was deleted); absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault: Option<ServerFault>,
    /// Admin only: the compute service's host; null before scheduling.
    #[serde(
        rename = "OS-EXT-SRV-ATTR:host",
        default,
        skip_serializing_if = "Option::is_none",
        with = "double_option"
    )]
    pub host: Option<Option<String>>,
    /// Admin only.
    #[serde(
        rename = "OS-EXT-SRV-ATTR:hypervisor_hostname",
        default,
        skip_serializing_if = "Option::is_none",
        with = "double_option"
    )]
    pub hypervisor_hostname: Option<Option<String>>,
    /// Admin only: the libvirt domain name, `instance-0000002a`.
    #[serde(
        rename = "OS-EXT-SRV-ATTR:instance_name",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub instance_name: Option<String>,
    /// >= 2.3 (admin; the owner too since 2.90): the guest's hostname.
    #[serde(
        rename = "OS-EXT-SRV-ATTR:hostname",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub hostname: Option<String>,
    /// >= 2.3, admin only.
    #[serde(
        rename = "OS-EXT-SRV-ATTR:reservation_id",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub reservation_id: Option<String>,
    /// >= 2.3, admin only.
    #[serde(
        rename = "OS-EXT-SRV-ATTR:launch_index",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub launch_index: Option<u32>,
    /// >= 2.3, admin only.
    #[serde(
        rename = "OS-EXT-SRV-ATTR:kernel_id",
        default,
        skip_serializing_if = "Option::is_none",
        with = "double_option"
    )]
    pub kernel_id: Option<Option<String>>,
    /// >= 2.3, admin only.
    #[serde(
        rename = "OS-EXT-SRV-ATTR:ramdisk_id",
        default,
        skip_serializing_if = "Option::is_none",
        with = "double_option"
    )]
    pub ramdisk_id: Option<Option<String>>,
    /// >= 2.3, admin only: `/dev/vda`, the device the guest boots from.
    #[serde(
        rename = "OS-EXT-SRV-ATTR:root_device_name",
        default,
        skip_serializing_if = "Option::is_none",
        with = "double_option"
    )]
    pub root_device_name: Option<Option<String>>,
    /// >= 2.3, admin only: base64 user data, to be passed again when the server is recreated.
    #[serde(
        rename = "OS-EXT-SRV-ATTR:user_data",
        default,
        skip_serializing_if = "Option::is_none",
        with = "double_option"
    )]
    pub user_data: Option<Option<String>>,
    /// >= 2.16, by policy: `UP`, `DOWN`, `MAINTENANCE`, `UNKNOWN` or `""`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_status: Option<String>,
    /// >= 2.9.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locked: Option<bool>,
    /// >= 2.73.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "double_option"
    )]
    pub locked_reason: Option<Option<String>>,
    /// >= 2.19.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "double_option"
    )]
    pub description: Option<Option<String>>,
    /// >= 2.26.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    /// >= 2.63.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "double_option"
    )]
    pub trusted_image_certificates: Option<Option<Vec<String>>>,
    /// >= 2.71, in `GET /servers/{id}` only: ids of the server groups the server belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_groups: Option<Vec<String>>,
    /// >= 2.96: the zone the server was asked for, null when none was.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "double_option"
    )]
    pub pinned_availability_zone: Option<Option<String>>,
    /// >= 2.100: the scheduler hints the server was created with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduler_hints: Option<BTreeMap<String, SchedulerHint>>,
}

impl Server {
    /// The fixed (not floating) addresses, network by network in Nova's order.
    pub fn fixed_ips(&self) -> impl Iterator<Item = (&str, &ServerAddress)> {
        self.addresses
            .0
            .iter()
            .flat_map(|(network, addresses)| addresses.iter().map(move |a| (network.as_str(), a)))
            .filter(|(_, address)| address.ip_type == "fixed")
    }

    /// The ids of the attached volumes, in Nova's order.
    pub fn volume_ids(&self) -> impl Iterator<Item = &str> {
        self.volumes_attached
            .iter()
            .map(|volume| volume.id.as_str())
    }
}

/// A server's flavor: a reference before 2.47, a copy of the flavor's sizes since.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ServerFlavor {
    /// >= 2.47.
    Embedded(EmbeddedFlavor),
    /// < 2.47.
    Reference(FlavorRef),
}

/// The flavor as the server was built with it (>= 2.47): the flavor may since have changed
/// or gone, so its name and sizes are what a recreated server must match.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmbeddedFlavor {
    pub original_name: String,
    pub vcpus: u32,
    /// MiB.
    pub ram: u64,
    /// GiB.
    pub disk: u64,
    /// GiB.
    pub ephemeral: u64,
    /// MiB.
    pub swap: u64,
    /// By policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra_specs: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlavorRef {
    pub id: String,
    pub links: Vec<Link>,
}

/// A server's image: `""` when the server boots from a volume.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ServerImage {
    Image(ImageRef),
    BootedFromVolume(EmptyString),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageRef {
    pub id: String,
    pub links: Vec<Link>,
    /// >= 2.98: the image properties the server was built with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub properties: Option<BTreeMap<String, String>>,
}

/// `addresses`: network name -> addresses, in Nova's order (that of the server's NICs, which
/// a recreated server should keep).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ServerAddresses(pub Vec<(String, Vec<ServerAddress>)>);

impl Serialize for ServerAddresses {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(
            self.0
                .iter()
                .map(|(network, addresses)| (network, addresses)),
        )
    }
}

impl<'de> Deserialize<'de> for ServerAddresses {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct AddressesVisitor;
        impl<'de> Visitor<'de> for AddressesVisitor {
            type Value = ServerAddresses;
            fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
                formatter.write_str("a map of network name to addresses")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut networks = Vec::new();
                while let Some(entry) = map.next_entry::<String, Vec<ServerAddress>>()? {
                    networks.push(entry);
                }
                Ok(ServerAddresses(networks))
            }
        }
        deserializer.deserialize_map(AddressesVisitor)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerAddress {
    pub addr: String,
    /// 4 or 6.
    pub version: u8,
    /// `fixed` or `floating`.
    #[serde(rename = "OS-EXT-IPS:type")]
    pub ip_type: String,
    #[serde(rename = "OS-EXT-IPS-MAC:mac_addr")]
    pub mac_addr: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttachedVolume {
    pub id: String,
    /// >= 2.3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete_on_termination: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SecurityGroupRef {
    pub name: String,
}

/// Why a server is in `ERROR`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerFault {
    pub code: u16,
    pub message: String,
    pub created: String,
    /// The traceback; admins only (and for non-500 faults, everyone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
}

/// A scheduler hint's value: one string (`"same_host": "uuid"`) or several.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SchedulerHint {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Link {
    pub href: String,
    /// `self`, `bookmark`, `next`, `alternate`.
    pub rel: String,
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Server create
// ---------------------------------------------------------------------------------------------

/// `POST /servers`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerCreateRequest {
    pub server: ServerCreate,
    #[serde(
        rename = "OS-SCH-HNT:scheduler_hints",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub scheduler_hints: Option<BTreeMap<String, SchedulerHint>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerCreate {
    pub name: String,
    /// An image id or URL; absent (or `""`) when booting from a volume.
    #[serde(rename = "imageRef", default, skip_serializing_if = "Option::is_none")]
    pub image_ref: Option<String>,
    /// A flavor id or URL.
    #[serde(rename = "flavorRef")]
    pub flavor_ref: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub networks: Option<ServerNetworks>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block_device_mapping_v2: Option<Vec<BlockDeviceMapping>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub availability_zone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_groups: Option<Vec<SecurityGroupRef>>,
    #[serde(
        rename = "accessIPv4",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub access_ipv4: Option<String>,
    #[serde(
        rename = "accessIPv6",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub access_ipv6: Option<String>,
    #[serde(
        rename = "OS-DCF:diskConfig",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub disk_config: Option<String>,
    /// Base64.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_data: Option<String>,
    /// < 2.57: files injected into the guest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub personality: Option<Vec<Personality>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_drive: Option<bool>,
    #[serde(rename = "adminPass", default, skip_serializing_if = "Option::is_none")]
    pub admin_pass: Option<String>,
    /// >= 2.19.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// >= 2.52.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    /// >= 2.90.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_count: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_count: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub return_reservation_id: Option<bool>,
    /// >= 2.74, admin only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// >= 2.74, admin only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hypervisor_hostname: Option<String>,
    /// >= 2.63.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trusted_image_certificates: Option<Vec<String>>,
}

/// `networks` of a create request: an explicit list of NICs or, >= 2.37, `"auto"`/`"none"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ServerNetworks {
    Allocation(NetworkAllocation),
    Nics(Vec<NetworkRequest>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NetworkAllocation {
    /// Nova picks (or makes) a network.
    Auto,
    /// No network at all.
    None,
}

/// One NIC: a network (`uuid`, optionally with a `fixed_ip` to keep an address across
/// sites) or an existing `port`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NetworkRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uuid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed_ip: Option<String>,
    /// >= 2.42 (and 2.32).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
}

/// One `block_device_mapping_v2` entry: how a failed-over server boots from the volumes
/// Cinder manages on the target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BlockDeviceMapping {
    /// 0 for the boot disk; absent, null or negative for a disk not to boot from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boot_index: Option<IntegerOrDigits>,
    /// The id of the volume, snapshot or image named by `source_type`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uuid: Option<String>,
    pub source_type: BlockDeviceSource,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination_type: Option<BlockDeviceDestination>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete_on_termination: Option<bool>,
    /// GiB, for a volume Nova creates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_size: Option<IntegerOrDigits>,
    /// >= 2.67, for a volume Nova creates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk_bus: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guest_format: Option<String>,
    /// >= 2.42 (and 2.32).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BlockDeviceSource {
    Volume,
    Image,
    Snapshot,
    Blank,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BlockDeviceDestination {
    Volume,
    Local,
}

/// An integer that Nova's request schema also takes as a string of digits (the API reference
/// sends `"volume_size": "1"`; `openstack server create --block-device` sends strings too).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum IntegerOrDigits {
    Integer(i64),
    Digits(String),
}

impl IntegerOrDigits {
    /// The integer, or `None` for a string that is not one.
    pub fn value(&self) -> Option<i64> {
        match self {
            IntegerOrDigits::Integer(value) => Some(*value),
            IntegerOrDigits::Digits(digits) => digits.trim().parse().ok(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Personality {
    pub path: String,
    /// Base64.
    pub contents: String,
}

/// The answer to `POST /servers` (202): the server is `BUILD`ing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerCreateResponse {
    pub server: CreatedServer,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreatedServer {
    pub id: String,
    pub links: Vec<Link>,
    #[serde(rename = "OS-DCF:diskConfig")]
    pub disk_config: String,
    /// Absent when the deployment disables instance passwords.
    #[serde(rename = "adminPass", default, skip_serializing_if = "Option::is_none")]
    pub admin_pass: Option<String>,
    /// Absent when the server has no network.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_groups: Option<Vec<SecurityGroupRef>>,
}

// ---------------------------------------------------------------------------------------------
// Server actions
// ---------------------------------------------------------------------------------------------

/// `POST /servers/{id}/action`: exactly one key naming the action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ServerAction {
    /// `{"os-start": null}`: power on a `SHUTOFF` server.
    #[serde(rename = "os-start")]
    Start(()),
    /// `{"os-stop": null}`: power off an `ACTIVE` server (planned failover quiesces with it).
    #[serde(rename = "os-stop")]
    Stop(()),
}

// ---------------------------------------------------------------------------------------------
// Flavors
// ---------------------------------------------------------------------------------------------

/// `GET /flavors/detail`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlavorsList {
    pub flavors: Vec<Flavor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flavors_links: Option<Vec<Link>>,
}

/// `GET /flavors/{id}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlavorResponse {
    pub flavor: Flavor,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Flavor {
    pub id: String,
    pub name: String,
    pub vcpus: u32,
    /// MiB.
    pub ram: u64,
    /// GiB.
    pub disk: u64,
    pub swap: FlavorSwap,
    /// GiB.
    #[serde(rename = "OS-FLV-EXT-DATA:ephemeral")]
    pub ephemeral: u64,
    #[serde(rename = "os-flavor-access:is_public")]
    pub is_public: bool,
    pub links: Vec<Link>,
    #[serde(
        rename = "OS-FLV-DISABLED:disabled",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub disabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rxtx_factor: Option<f64>,
    /// >= 2.55.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "double_option"
    )]
    pub description: Option<Option<String>>,
    /// >= 2.61, by policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra_specs: Option<BTreeMap<String, String>>,
}

/// A flavor's swap in MiB; before 2.75 Nova sends `""` for none.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum FlavorSwap {
    Megabytes(u64),
    None(EmptyString),
}

impl FlavorSwap {
    pub fn megabytes(&self) -> u64 {
        match self {
            FlavorSwap::Megabytes(megabytes) => *megabytes,
            FlavorSwap::None(_) => 0,
        }
    }
}

/// `GET /flavors`: ids and names only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlavorSummariesList {
    pub flavors: Vec<FlavorSummary>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flavors_links: Option<Vec<Link>>,
}

/// A flavor as `GET /flavors` lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlavorSummary {
    pub id: String,
    pub name: String,
    pub links: Vec<Link>,
    /// >= 2.55.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "double_option"
    )]
    pub description: Option<Option<String>>,
}

// ---------------------------------------------------------------------------------------------
// Server metadata
// ---------------------------------------------------------------------------------------------

/// `GET`/`PUT`/`POST /servers/{id}/metadata`: the whole metadata of a server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerMetadata {
    pub metadata: BTreeMap<String, String>,
}

/// `GET`/`PUT /servers/{id}/metadata/{key}`: one item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerMetadataItem {
    pub meta: BTreeMap<String, String>,
}

// ---------------------------------------------------------------------------------------------
// Versions and availability zones
// ---------------------------------------------------------------------------------------------

/// `GET /` of the compute endpoint (`/compute/` on DevStack): every API version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VersionsList {
    pub versions: Vec<ApiVersion>,
}

/// `GET /v2.1`: the version the endpoint serves, with its microversion range.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VersionResponse {
    pub version: ApiVersion,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiVersion {
    /// `v2.0`, `v2.1`.
    pub id: String,
    pub links: Vec<Link>,
    /// In `GET /v2.1` only.
    #[serde(
        rename = "media-types",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub media_types: Option<Vec<MediaType>>,
    /// `CURRENT`, `SUPPORTED`, `DEPRECATED`.
    pub status: String,
    /// The highest microversion, `""` for a version without microversions.
    pub version: String,
    /// The lowest microversion, `""` for a version without microversions.
    pub min_version: String,
    pub updated: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MediaType {
    pub base: String,
    #[serde(rename = "type")]
    pub media_type: String,
}

/// `GET /os-availability-zone`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AvailabilityZonesList {
    #[serde(rename = "availabilityZoneInfo")]
    pub availability_zone_info: Vec<AvailabilityZone>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AvailabilityZone {
    #[serde(rename = "zoneName")]
    pub zone_name: String,
    #[serde(rename = "zoneState")]
    pub zone_state: ZoneState,
    /// Null in the non-detailed list.
    #[serde(default)]
    pub hosts: Option<serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ZoneState {
    pub available: bool,
}

// ---------------------------------------------------------------------------------------------
// Volume attachments
// ---------------------------------------------------------------------------------------------

/// `POST /servers/{id}/os-volume_attachments`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VolumeAttachmentRequest {
    #[serde(rename = "volumeAttachment")]
    pub volume_attachment: NewVolumeAttachment,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewVolumeAttachment {
    #[serde(rename = "volumeId")]
    pub volume_id: String,
    /// A hint only: most hypervisors pick the device name themselves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    /// >= 2.49.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// >= 2.79.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete_on_termination: Option<bool>,
}

/// The answer to an attach, and `GET /servers/{id}/os-volume_attachments/{volume_id}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VolumeAttachmentResponse {
    #[serde(rename = "volumeAttachment")]
    pub volume_attachment: VolumeAttachment,
}

/// `GET /servers/{id}/os-volume_attachments`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VolumeAttachmentsList {
    #[serde(rename = "volumeAttachments")]
    pub volume_attachments: Vec<VolumeAttachment>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VolumeAttachment {
    /// The guest device, `/dev/vdb`; null when the hypervisor does not say.
    #[serde(default)]
    pub device: Option<String>,
    #[serde(rename = "serverId")]
    pub server_id: String,
    #[serde(rename = "volumeId")]
    pub volume_id: String,
    /// < 2.89: the volume id again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// >= 2.70.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "double_option"
    )]
    pub tag: Option<Option<String>>,
    /// >= 2.79.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete_on_termination: Option<bool>,
    /// >= 2.89: the Cinder attachment's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attachment_id: Option<String>,
    /// >= 2.89: the block device mapping's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bdm_uuid: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Server groups
// ---------------------------------------------------------------------------------------------

/// How a server group places its members: on one host, or on different hosts (`soft-*`:
/// preferably, never refusing a boot).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ServerGroupPolicy {
    Affinity,
    AntiAffinity,
    /// >= 2.15.
    SoftAffinity,
    /// >= 2.15.
    SoftAntiAffinity,
}

impl ServerGroupPolicy {
    /// As the API writes it: `anti-affinity`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            ServerGroupPolicy::Affinity => "affinity",
            ServerGroupPolicy::AntiAffinity => "anti-affinity",
            ServerGroupPolicy::SoftAffinity => "soft-affinity",
            ServerGroupPolicy::SoftAntiAffinity => "soft-anti-affinity",
        }
    }

    /// The policy the API calls `text`.
    pub fn parse(text: &str) -> Option<ServerGroupPolicy> {
        [
            ServerGroupPolicy::Affinity,
            ServerGroupPolicy::AntiAffinity,
            ServerGroupPolicy::SoftAffinity,
            ServerGroupPolicy::SoftAntiAffinity,
        ]
        .into_iter()
        .find(|policy| policy.as_str() == text)
    }
}

impl ServerGroup {
    /// Its policy, whichever microversion answered (`policy`, or `policies` before 2.64).
    pub fn the_policy(&self) -> Option<ServerGroupPolicy> {
        self.policy
            .or_else(|| self.policies.as_ref()?.first().copied())
    }
}

/// `GET /os-server-groups`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerGroupsList {
    pub server_groups: Vec<ServerGroup>,
}

/// `GET /os-server-groups/{id}`, and the answer to a create.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerGroupResponse {
    pub server_group: ServerGroup,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerGroup {
    pub id: String,
    pub name: String,
    /// < 2.64: the policy, as a list of one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policies: Option<Vec<ServerGroupPolicy>>,
    /// >= 2.64.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<ServerGroupPolicy>,
    /// >= 2.64: `{}` when the group has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rules: Option<ServerGroupRules>,
    /// The ids of the servers in it (deleted ones are not shown).
    pub members: Vec<String>,
    /// < 2.64: always `{}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<BTreeMap<String, String>>,
    /// >= 2.13.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project_id: Option<String>,
    /// >= 2.13.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
}

/// A server group's rules (>= 2.64; anti-affinity only).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServerGroupRules {
    /// How many members one host may run; 1 when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_server_per_host: Option<u32>,
}

/// `POST /os-server-groups`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerGroupCreateRequest {
    pub server_group: NewServerGroup,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewServerGroup {
    pub name: String,
    /// < 2.64: exactly one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policies: Option<Vec<ServerGroupPolicy>>,
    /// >= 2.64.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<ServerGroupPolicy>,
    /// >= 2.64, anti-affinity only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rules: Option<ServerGroupRules>,
}

// ---------------------------------------------------------------------------------------------
// Key pairs
// ---------------------------------------------------------------------------------------------

/// `GET /os-keypairs`: the caller's key pairs (an admin's, or another user's with `user_id`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeypairsList {
    pub keypairs: Vec<KeypairResponse>,
    /// >= 2.35: the `next` link when the page was cut by `limit`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keypairs_links: Option<Vec<Link>>,
}

/// `GET /os-keypairs/{name}`, and each entry of the list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeypairResponse {
    pub keypair: Keypair,
}

/// A key pair. The list shows name, key, fingerprint (and type); a create adds the owner (and
/// the private key of a generated pair); `GET /os-keypairs/{name}` the owner and the record's
/// fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Keypair {
    pub name: String,
    pub public_key: String,
    /// MD5 of the key, `aa:bb:...`.
    pub fingerprint: String,
    /// A create that generated the pair (< 2.92, no `public_key` given): the only copy of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_key: Option<String>,
    /// >= 2.2: `ssh` or `x509`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub key_type: Option<String>,
    /// In `GET /os-keypairs/{name}` only, as are the fields below.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "double_option"
    )]
    pub updated_at: Option<Option<String>>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "double_option"
    )]
    pub deleted_at: Option<Option<String>>,
}

/// `POST /os-keypairs`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeypairCreateRequest {
    pub keypair: NewKeypair,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewKeypair {
    pub name: String,
    /// >= 2.2: `ssh` (the default) or `x509`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub key_type: Option<String>,
    /// An import; without it (< 2.92 only) Nova generates the pair.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key: Option<String>,
    /// >= 2.10, admins: the user the pair is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Server tags
// ---------------------------------------------------------------------------------------------

/// `GET /servers/{id}/tags`, and the body and answer of `PUT /servers/{id}/tags` (>= 2.26).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerTags {
    pub tags: Vec<String>,
}

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

pub use crate::common::{ErrorDetail, ErrorResponse};

// ---------------------------------------------------------------------------------------------
// Wire helpers
// ---------------------------------------------------------------------------------------------

/// The JSON string `""`, which Nova sends where a value is missing (a boot-from-volume
/// server's `image`, a flavor's `swap` before 2.75). Any other string is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EmptyString;

impl Serialize for EmptyString {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str("")
    }
}

impl<'de> Deserialize<'de> for EmptyString {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        if text.is_empty() {
            Ok(EmptyString)
        } else {
            Err(de::Error::invalid_value(
                de::Unexpected::Str(&text),
                &"an empty string",
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn round_trip<T: serde::de::DeserializeOwned + Serialize>(value: Value) -> T {
        let model: T = serde_json::from_value(value.clone()).expect("deserializes");
        assert_eq!(serde_json::to_value(&model).expect("serializes"), value);
        model
    }

    #[test]
    fn flavor_reference_before_2_47() {
        let flavor: ServerFlavor = round_trip(json!({
            "id": "1",
            "links": [{"href": "http://openstack.example.com/flavors/1", "rel": "bookmark"}]
        }));
        assert!(matches!(flavor, ServerFlavor::Reference(FlavorRef { ref id, .. }) if id == "1"));
    }

    #[test]
    fn flavor_embedded_since_2_47() {
        let flavor: ServerFlavor = round_trip(json!({
            "disk": 1, "ephemeral": 0, "extra_specs": {"hw:numa_nodes": "1"},
            "original_name": "m1.tiny", "ram": 512, "swap": 0, "vcpus": 1
        }));
        let ServerFlavor::Embedded(embedded) = flavor else {
            panic!("embedded form")
        };
        assert_eq!(embedded.original_name, "m1.tiny");
        // Without extra_specs (policy may hide them) it is still the embedded form.
        let flavor: ServerFlavor = round_trip(json!({
            "disk": 1, "ephemeral": 0, "original_name": "m1.tiny", "ram": 512, "swap": 0,
            "vcpus": 1
        }));
        assert!(matches!(flavor, ServerFlavor::Embedded(_)));
    }

    #[test]
    fn image_is_empty_string_when_booted_from_volume() {
        assert_eq!(
            round_trip::<ServerImage>(json!("")),
            ServerImage::BootedFromVolume(EmptyString)
        );
        assert!(serde_json::from_value::<ServerImage>(json!("not-empty")).is_err());
        let image: ServerImage = round_trip(json!({"id": "70a5", "links": []}));
        assert!(matches!(image, ServerImage::Image(_)));
    }

    #[test]
    fn flavor_swap_empty_string_or_megabytes() {
        assert_eq!(round_trip::<FlavorSwap>(json!("")).megabytes(), 0);
        assert_eq!(round_trip::<FlavorSwap>(json!(512)).megabytes(), 512);
    }

    #[test]
    fn networks_auto_none_or_list() {
        assert_eq!(
            round_trip::<ServerNetworks>(json!("auto")),
            ServerNetworks::Allocation(NetworkAllocation::Auto)
        );
        assert_eq!(
            round_trip::<ServerNetworks>(json!("none")),
            ServerNetworks::Allocation(NetworkAllocation::None)
        );
        let nics: ServerNetworks = round_trip(json!([
            {"uuid": "net-1", "fixed_ip": "10.0.0.5"},
            {"port": "port-1"}
        ]));
        assert!(matches!(nics, ServerNetworks::Nics(ref nics) if nics.len() == 2));
    }

    #[test]
    fn boot_from_volume_mapping() {
        let mapping: BlockDeviceMapping = round_trip(json!({
            "boot_index": 0, "uuid": "vol-1", "source_type": "volume",
            "destination_type": "volume", "delete_on_termination": false
        }));
        assert_eq!(mapping.source_type, BlockDeviceSource::Volume);
        assert_eq!(mapping.boot_index.and_then(|index| index.value()), Some(0));
        let mapping: BlockDeviceMapping = round_trip(json!({
            "boot_index": "-1", "source_type": "blank", "volume_size": "10"
        }));
        assert_eq!(mapping.boot_index.and_then(|index| index.value()), Some(-1));
        assert_eq!(mapping.volume_size.and_then(|size| size.value()), Some(10));
    }

    #[test]
    fn actions() {
        assert_eq!(
            round_trip::<ServerAction>(json!({"os-stop": null})),
            ServerAction::Stop(())
        );
        assert_eq!(
            round_trip::<ServerAction>(json!({"os-start": null})),
            ServerAction::Start(())
        );
    }

    #[test]
    fn error_bodies() {
        let error: ErrorResponse = round_trip(json!({
            "itemNotFound": {"code": 404, "message": "Instance abc could not be found."}
        }));
        assert_eq!(error.detail().code, 404);
        assert_eq!(
            error,
            ErrorResponse::for_status(404, "Instance abc could not be found.")
        );
        round_trip::<ErrorResponse>(json!({
            "badRequest": {"code": 400, "message": "Invalid input for field/attribute name."}
        }));
        round_trip::<ErrorResponse>(json!({
            "conflictingRequest": {"code": 409, "message": "Cannot 'stop' instance x while it is in vm_state stopped"}
        }));
        round_trip::<ErrorResponse>(json!({
            "forbidden": {"code": 403, "message": "Policy doesn't allow os_compute_api:servers:create:forced_host to be performed."}
        }));
        let over: ErrorResponse = round_trip(json!({
            "overLimit": {"code": 429, "message": "Rate limit exceeded.", "retryAfter": "30"}
        }));
        assert_eq!(over.detail().retry_after.as_deref(), Some("30"));
        assert!(matches!(
            ErrorResponse::for_status(500, "boom"),
            ErrorResponse::ComputeFault(_)
        ));
    }

    #[test]
    fn addresses_keep_nova_order_and_fixed_ips_skip_floating() {
        let addresses: ServerAddresses = round_trip(json!({
            "zeta": [{"addr": "10.0.0.5", "version": 4, "OS-EXT-IPS:type": "fixed",
                      "OS-EXT-IPS-MAC:mac_addr": "fa:16:3e:00:00:01"},
                     {"addr": "172.24.4.9", "version": 4, "OS-EXT-IPS:type": "floating",
                      "OS-EXT-IPS-MAC:mac_addr": "fa:16:3e:00:00:01"}],
            "alpha": [{"addr": "10.1.0.5", "version": 4, "OS-EXT-IPS:type": "fixed",
                       "OS-EXT-IPS-MAC:mac_addr": "fa:16:3e:00:00:02"}]
        }));
        let names: Vec<&str> = addresses.0.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(names, ["zeta", "alpha"]);
        let server = Server {
            addresses,
            ..serde_json::from_value(minimal_server()).expect("server")
        };
        let fixed: Vec<(&str, &str)> = server
            .fixed_ips()
            .map(|(network, address)| (network, address.addr.as_str()))
            .collect();
        assert_eq!(fixed, [("zeta", "10.0.0.5"), ("alpha", "10.1.0.5")]);
    }

    #[test]
    fn absent_and_null_stay_apart() {
        let mut value = minimal_server();
        let server: Server = round_trip(value.clone());
        assert_eq!(server.description, None);
        value["description"] = Value::Null;
        let server: Server = round_trip(value.clone());
        assert_eq!(server.description, Some(None));
        value["description"] = json!("web tier");
        let server: Server = round_trip(value);
        assert_eq!(server.description, Some(Some("web tier".to_string())));
    }

    fn minimal_server() -> Value {
        json!({
            "id": "s", "name": "n", "status": "ACTIVE", "tenant_id": "t", "user_id": "u",
            "hostId": "", "created": "2024-01-01T00:00:00Z", "updated": "2024-01-01T00:00:00Z",
            "flavor": {"id": "1", "links": []}, "image": "", "addresses": {}, "metadata": {},
            "key_name": null, "links": [], "accessIPv4": "", "accessIPv6": "",
            "config_drive": "", "OS-DCF:diskConfig": "MANUAL",
            "OS-EXT-AZ:availability_zone": "nova", "OS-EXT-STS:vm_state": "active",
            "OS-EXT-STS:task_state": null, "OS-EXT-STS:power_state": 1,
            "os-extended-volumes:volumes_attached": [],
            "OS-SRV-USG:launched_at": null, "OS-SRV-USG:terminated_at": null
        })
    }
}
