//! What one simulated OpenStack site holds: identity, compute, block storage and networking
//! objects, as plain data. The handlers in the sibling modules implement the API behaviour on
//! top of it; `GET /world` serializes it (fields marked `skip` are secrets or in-process
//! bookkeeping, and are not part of the documented dump).

use std::collections::BTreeMap;
use std::time::Instant;

use serde::Serialize;

// ---------------------------------------------------------------- identity (Keystone)

#[derive(Debug, Clone, Serialize)]
pub struct Identity {
    pub domains: BTreeMap<String, Domain>,
    pub projects: BTreeMap<String, Project>,
    pub users: BTreeMap<String, User>,
    /// Role names that exist (`admin`, `member`, `reader`, ...).
    pub roles: Vec<String>,
    pub application_credentials: BTreeMap<String, ApplicationCredential>,
    /// Issued tokens by token id.
    #[serde(skip)]
    pub tokens: BTreeMap<String, Token>,
    /// How long a new token lives (Keystone's `[token] expiration`): one hour unless the
    /// `PROTECTOR_SIM_TOKEN_LIFETIME` environment variable (seconds) of the twin process says
    /// otherwise, or a test sets it. Wall time: not scaled by `--speed`.
    pub token_lifetime_secs: i64,
    /// Tokens issued so far: numbers the next token, so token ids are deterministic without
    /// drawing from the site's identifier stream.
    #[serde(skip)]
    pub tokens_issued: u64,
}

/// Keystone's default token lifetime.
pub const DEFAULT_TOKEN_LIFETIME_SECS: i64 = 3600;

/// The environment variable that overrides the token lifetime of a twin process.
pub const TOKEN_LIFETIME_ENV: &str = "PROTECTOR_SIM_TOKEN_LIFETIME";

impl Default for Identity {
    fn default() -> Self {
        let token_lifetime_secs = std::env::var(TOKEN_LIFETIME_ENV)
            .ok()
            .and_then(|value| value.trim().parse::<i64>().ok())
            .filter(|secs| *secs > 0)
            .unwrap_or(DEFAULT_TOKEN_LIFETIME_SECS);
        Identity {
            domains: BTreeMap::new(),
            projects: BTreeMap::new(),
            users: BTreeMap::new(),
            roles: Vec::new(),
            application_credentials: BTreeMap::new(),
            tokens: BTreeMap::new(),
            token_lifetime_secs,
            tokens_issued: 0,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Domain {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Project {
    pub id: String,
    pub name: String,
    pub domain_id: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct User {
    pub id: String,
    pub name: String,
    pub domain_id: String,
    #[serde(skip)]
    pub password: String,
    /// Role names per project id.
    pub roles: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ApplicationCredential {
    pub id: String,
    pub name: String,
    pub user_id: String,
    pub project_id: String,
    #[serde(skip)]
    pub secret: String,
    /// The subset of the user's roles this credential carries.
    pub roles: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    pub user_id: String,
    pub project_id: String,
    pub roles: Vec<String>,
    /// `password` or `application_credential`.
    pub method: String,
    pub application_credential_id: Option<String>,
    pub issued_at: chrono::DateTime<chrono::Utc>,
    pub expires_at: chrono::DateTime<chrono::Utc>,
}

// ---------------------------------------------------------------- compute (Nova)

#[derive(Debug, Clone, Default, Serialize)]
pub struct Compute {
    pub flavors: BTreeMap<String, Flavor>,
    pub servers: BTreeMap<String, Server>,
    pub availability_zones: Vec<String>,
    /// The compute hosts servers are scheduled to, each in one of the zones.
    pub hosts: Vec<ComputeHost>,
    /// In the order they were created (Nova lists them so).
    pub server_groups: Vec<ServerGroup>,
    pub keypairs: Vec<KeyPair>,
    /// What Nova's API keeps of a server beyond [`Server`] (request details, launch time,
    /// ports the caller passed in), for the servers created through the API; a server without
    /// an entry (one of the fixture's) has the defaults of [`ServerExtra`].
    #[serde(skip)]
    pub server_extras: BTreeMap<String, ServerExtra>,
}

/// The API-only attributes of a server.
#[derive(Debug, Clone, Default)]
pub struct ServerExtra {
    pub access_ipv4: String,
    pub access_ipv6: String,
    /// `OS-DCF:diskConfig` `AUTO` (true) or `MANUAL`.
    pub auto_disk_config: bool,
    pub config_drive: bool,
    /// Base64, as given.
    pub user_data: Option<String>,
    /// The guest hostname (from the name unless given, >= 2.90).
    pub hostname: Option<String>,
    /// The zone the request asked for (`pinned_availability_zone`, >= 2.96).
    pub requested_zone: Option<String>,
    /// `OS-SCH-HNT:scheduler_hints` as given, each value a list (>= 2.100).
    pub scheduler_hints: BTreeMap<String, Vec<String>>,
    /// `r-xxxxxxxx`.
    pub reservation_id: String,
    /// When it first became ACTIVE; None while building or when the build failed.
    pub launched_at: Option<chrono::DateTime<chrono::Utc>>,
    /// An injected failure (the control API's `server_error` fault): when the running server
    /// turns ERROR, and the fault's message.
    pub failing: Option<(Instant, String)>,
    /// Ports the request passed in (`networks: [{"port": ..}]`): unbound, not deleted, when
    /// the server goes.
    pub preexisting_ports: Vec<String>,
}

/// A nova-compute host.
#[derive(Debug, Clone, Serialize)]
pub struct ComputeHost {
    pub name: String,
    pub zone: String,
}

/// An `os-server-groups` group: its members are the ids of servers not deleted.
#[derive(Debug, Clone, Serialize)]
pub struct ServerGroup {
    pub id: String,
    pub name: String,
    pub policy: protector_wire::nova::ServerGroupPolicy,
    /// The anti-affinity rule (>= 2.64): how many members one host may run (1 when absent).
    pub max_server_per_host: Option<u32>,
    pub project_id: String,
    pub user_id: String,
    pub members: Vec<String>,
}

/// An `os-keypairs` key pair: Nova keeps them per user, by name.
#[derive(Debug, Clone, Serialize)]
pub struct KeyPair {
    /// Nova's database id.
    pub id: u64,
    pub name: String,
    pub user_id: String,
    /// OpenSSH format, `ssh-ed25519 AAAA... comment`.
    pub public_key: String,
    /// MD5 of the key blob, `aa:bb:...`, as Nova computes it.
    pub fingerprint: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Flavor {
    pub id: String,
    pub name: String,
    pub vcpus: u32,
    pub ram_mb: u64,
    pub disk_gb: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ServerStatus {
    Build,
    Active,
    Shutoff,
    Error,
    /// Being deleted: still listed until the delete latency passes.
    Deleting,
}

#[derive(Debug, Clone, Serialize)]
pub struct Server {
    pub id: String,
    pub name: String,
    pub project_id: String,
    pub user_id: String,
    pub status: ServerStatus,
    pub flavor_id: String,
    pub key_name: Option<String>,
    /// Empty when the server was never scheduled and none was asked for.
    pub availability_zone: String,
    /// The compute host it runs on; None before scheduling, when the scheduler found no host
    /// (NoValidHost) or once a failed build took it off its host.
    pub host: Option<String>,
    pub metadata: BTreeMap<String, String>,
    /// Nova's server tags (>= 2.26).
    pub tags: Vec<String>,
    /// >= 2.19 (a server created below it is described by its name).
    pub description: Option<String>,
    pub security_groups: Vec<String>,
    /// Neutron port ids, in NIC order.
    pub ports: Vec<String>,
    /// Attached Cinder volumes, boot volume first.
    pub volumes: Vec<AttachedVolume>,
    pub fault: Option<Fault>,
    pub created: chrono::DateTime<chrono::Utc>,
    pub updated: chrono::DateTime<chrono::Utc>,
    /// The status this server reaches when its modelled latency has passed.
    #[serde(skip)]
    pub pending: Option<Pending<ServerStatus>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AttachedVolume {
    pub volume_id: String,
    /// `/dev/vda`, `/dev/vdb`, ...
    pub device: String,
    /// 0 for the boot volume; None for data volumes.
    pub boot_index: Option<u32>,
    pub delete_on_termination: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Fault {
    pub code: u16,
    pub message: String,
    pub created: chrono::DateTime<chrono::Utc>,
}

// ---------------------------------------------------------------- block storage (Cinder)

#[derive(Debug, Clone, Default, Serialize)]
pub struct BlockStorage {
    pub volume_types: BTreeMap<String, VolumeType>,
    pub volumes: BTreeMap<String, Volume>,
    /// The backend pools (`host@backend#pool`) and the array each one stores volumes on.
    pub pools: Vec<Pool>,
    pub policy: CinderPolicy,
    /// Maximum number of volumes per project (`-1`: unlimited).
    pub volume_quota: i64,
    /// Why a volume went to `error` / `error_managing` (Cinder keeps this in its user
    /// messages), by volume id; dropped with the volume.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub volume_errors: BTreeMap<String, String>,
    /// The backend work behind a volume's pending transition (what the volume manager and the
    /// Pure driver do before the status changes), by volume id.
    #[serde(skip)]
    pub jobs: BTreeMap<String, VolumeJob>,
}

/// What happens on the backend when a volume's pending transition completes.
#[derive(Debug, Clone, PartialEq)]
pub enum VolumeJob {
    /// Create the array volume `volume-<id>-cinder`: empty, or a copy of the array volume
    /// `clone_of` (a clone of another Cinder volume).
    Create { clone_of: Option<String> },
    /// Manage the backend object the request's `ref` names (kept as sent: the driver reads it).
    Manage { reference: serde_json::Value },
    /// Delete: destroy the array volume (not for a volume whose manage failed: the array object
    /// was never Cinder's).
    Delete { backend: bool },
    /// Unmanage: rename the array volume `<name>-unmanaged` (not for a failed manage).
    Unmanage { backend: bool },
}

#[derive(Debug, Clone, Serialize)]
pub struct VolumeType {
    pub id: String,
    pub name: String,
    pub extra_specs: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Pool {
    /// `site-a@pure#fa-a`.
    pub name: String,
    pub array_name: String,
}

/// Roles allowed to perform the policy-guarded actions protector needs (Cinder's defaults
/// allow only admins: the trap that fails a failover at its manage step).
#[derive(Debug, Clone, Default, Serialize)]
pub struct CinderPolicy {
    pub volume_manage: Vec<String>,
    pub volume_unmanage: Vec<String>,
    pub services_index: Vec<String>,
}

/// Cinder's volume statuses (the `GET /world` dump shows them as Cinder's database does; the
/// API shows `managing` as `creating` and `error_managing` as `error`, as Cinder does).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum VolumeStatus {
    Creating,
    Available,
    InUse,
    Deleting,
    /// Unmanage in progress: still listed until the unmanage latency passes.
    Unmanaging,
    Error,
    /// Manage in progress (API: `creating`).
    Managing,
    /// Manage failed (API: `error`); deletable and unmanageable, the array volume untouched.
    #[serde(rename = "error_managing")]
    ErrorManaging,
    /// The driver's unmanage failed (Cinder leaves it so; only an admin's reset-state helps).
    #[serde(rename = "error_unmanaging")]
    ErrorUnmanaging,
}

#[derive(Debug, Clone, Serialize)]
pub struct Volume {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub project_id: String,
    pub user_id: String,
    pub size_gb: u64,
    pub status: VolumeStatus,
    pub volume_type: String,
    pub bootable: bool,
    /// The backend host owning it, `site-a@pure#fa-a`.
    pub host: String,
    pub availability_zone: String,
    pub metadata: BTreeMap<String, String>,
    pub attachments: Vec<VolumeAttachment>,
    /// The array volume holding its data (the Pure driver names it `volume-<id>-cinder`).
    pub array_volume: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
    #[serde(skip)]
    pub pending: Option<Pending<VolumeStatus>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct VolumeAttachment {
    pub attachment_id: String,
    pub server_id: String,
    pub device: String,
    pub attached_at: chrono::DateTime<chrono::Utc>,
}

// ---------------------------------------------------------------- networking (Neutron)

#[derive(Debug, Clone, Default, Serialize)]
pub struct Networking {
    pub networks: BTreeMap<String, Network>,
    pub subnets: BTreeMap<String, Subnet>,
    pub ports: BTreeMap<String, Port>,
    pub security_groups: BTreeMap<String, SecurityGroup>,
    /// What Neutron's API adds to a port beyond [`Port`] (description, admin state, revision),
    /// for the ports created or changed through the API; a port without an entry has the
    /// defaults.
    #[serde(skip)]
    pub port_meta: BTreeMap<String, PortMeta>,
}

/// The API-only attributes of a port.
#[derive(Debug, Clone)]
pub struct PortMeta {
    pub description: String,
    pub admin_state_up: bool,
    pub revision_number: u64,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Network {
    pub id: String,
    pub name: String,
    pub project_id: String,
    pub shared: bool,
    pub subnet_ids: Vec<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Subnet {
    pub id: String,
    pub name: String,
    pub network_id: String,
    pub project_id: String,
    /// IPv4 only in the twin.
    pub cidr: String,
    pub gateway_ip: Option<String>,
    /// Inclusive `(start, end)` ranges, addresses as text.
    pub allocation_pools: Vec<(String, String)>,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Port {
    pub id: String,
    pub name: String,
    pub network_id: String,
    pub project_id: String,
    pub mac_address: String,
    pub fixed_ips: Vec<FixedIp>,
    /// The server using it, or empty.
    pub device_id: String,
    /// `compute:nova` when a server uses it.
    pub device_owner: String,
    pub security_groups: Vec<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FixedIp {
    pub subnet_id: String,
    pub ip_address: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct SecurityGroup {
    pub id: String,
    pub name: String,
    pub project_id: String,
    pub description: String,
}

// ---------------------------------------------------------------- object storage (Swift)

/// Swift's accounts (`AUTH_<project_id>`), made on first use (`account_autocreate`).
#[derive(Debug, Clone, Default, Serialize)]
pub struct ObjectStorage {
    pub accounts: BTreeMap<String, SwiftAccount>,
    /// The newest timestamp issued: writes within one tick get distinct, increasing ones.
    #[serde(skip)]
    pub last_timestamp: protector_wire::swift::Timestamp,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct SwiftAccount {
    pub containers: BTreeMap<String, SwiftContainer>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SwiftContainer {
    /// `X-Timestamp` of its creation.
    pub created: String,
    /// `X-Container-Meta-*`, names lower-cased without the prefix.
    pub metadata: BTreeMap<String, String>,
    /// History mode's archive container (`X-History-Location`).
    pub history_location: Option<String>,
    pub objects: BTreeMap<String, SwiftObject>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SwiftObject {
    /// The body; the dump shows its size only.
    #[serde(skip)]
    pub body: Vec<u8>,
    pub bytes: u64,
    /// MD5 of the body, lowercase hex.
    pub etag: String,
    pub content_type: String,
    /// `X-Timestamp` of the write (`Timestamp::internal`).
    pub timestamp: String,
    /// `X-Object-Meta-*`, names lower-cased without the prefix.
    pub metadata: BTreeMap<String, String>,
    /// `X-Delete-At`, Unix seconds.
    pub delete_at: Option<i64>,
}

// ---------------------------------------------------------------- shared

/// A status change that takes effect when the clock reaches `at`.
#[derive(Debug, Clone)]
pub struct Pending<S> {
    pub at: Instant,
    pub then: S,
    /// Set when the change ends in an error (e.g. Nova's fault message).
    pub error: Option<String>,
}
