//! Cinder v3 of one simulated site, at `/volume` as DevStack serves it, backed by the site's
//! FlashArray the way Cinder's Pure Storage driver uses it.
//!
//! | method | path (under `/volume`) | what |
//! |---|---|---|
//! | GET | `/` | version discovery, `300 Multiple Choices` |
//! | GET | `/v3/` | the v3 version document (microversions 3.0 to [`MAX_MICROVERSION`]) |
//! | GET | `/v3/{project}/volumes[/detail]` | list; filters `name`, `status`, `metadata`, `bootable`, `availability_zone`, `size` (`name~` etc. for admins), `all_tenants` (admins); `limit`/`marker`/`offset`, `sort`/`sort_key`/`sort_dir`, `with_count` (>= 3.45); `volumes_links` |
//! | POST | `/v3/{project}/volumes` | create (empty, or a clone with `source_volid`); quota |
//! | GET, PUT, DELETE | `/v3/{project}/volumes/{id}` | show, update name/description/metadata, delete |
//! | POST | `/v3/{project}/volumes/{id}/action` | `os-unmanage`, `os-set_bootable`, `os-reset_status` (admins) |
//! | GET, POST, PUT | `/v3/{project}/volumes/{id}/metadata` | metadata (merge with POST, replace with PUT) |
//! | GET, PUT, DELETE | `/v3/{project}/volumes/{id}/metadata/{key}` | one metadata item |
//! | GET | `/v3/{project}/types[/{id}\|default]` | volume types (`extra_specs` for admins) |
//! | GET | `/v3/{project}/scheduler-stats/get_pools[?detail=true]` | backend pools (admins) |
//! | GET | `/v3/{project}/os-services[?binary=&host=]` | a scheduler and a volume service per backend, always up (`cinder_policy.services_index`, default admins) |
//! | GET | `/v3/{project}/manageable_volumes[/detail]` | array volumes Cinder could manage (>= 3.8) |
//! | POST | `/v3/{project}/manageable_volumes` | manage (>= 3.8); `os-volume-manage` at any version |
//! | GET | `/v3/{project}/os-quota-sets/{project}[?usage=true]` | the project's quotas (with usage) |
//!
//! Every v3 answer carries `OpenStack-API-Version: volume 3.N` and `Vary`; errors have Cinder's
//! fault bodies (`{"itemNotFound": {"code": 404, "message": ...}}`); a request without a valid
//! token gets keystonemiddleware's 401 ([`auth::token`]).
//!
//! Lifecycles take the modelled time of [`Op`]: a new volume is `creating` until
//! `Op::CreateVolume` has passed, then the array volume `volume-<id>-cinder` exists and the
//! volume is `available`; `deleting` destroys the array volume (FlashArray's destroyed bin, as
//! the Pure driver does unless `pure_eradicate_on_delete`); a manage is `creating` (Cinder's
//! `managing`) until `Op::ManageVolume`, when the driver's checks run and the array volume is
//! renamed `volume-<id>-cinder`, or the volume goes to `error` (`error_managing`); an unmanage
//! (`unmanaging`, `Op::UnmanageVolume`) renames the array volume `<name>-unmanaged` and never
//! destroys it. Why a volume failed is in the world dump's `block.volume_errors`.
//!
//! Nova's handlers attach and detach volumes with [`attach`], [`detach`] and [`detach_server`],
//! and delete `delete_on_termination` volumes with [`start_delete`].

mod attachments;
mod call;
mod driver;
mod lifecycle;
mod list;
mod manage;
mod pools;
mod quotas;
mod request;
mod routing;
#[cfg(test)]
mod testing;
mod views;
mod volumes;

pub use attachments::{attach, connect_attached_volumes, detach, detach_server, start_delete};
pub use lifecycle::advance;
pub use routing::{dispatch, routes};
