//! The twin's world: every site's OpenStack objects and FlashArray, and the clock.
//!
//! Each site is one [`SiteCell`]: an up/down flag readable without locking, and one mutex
//! around all of the site's state (the twin's concurrency model: one lock per site, never held
//! across an `.await`, never two at once). Time-driven changes (a server reaching ACTIVE, a
//! replication transfer progressing) belong to the services: the world is made with them (its
//! [`Advance`]) and applies them lazily whenever the site is touched, so the world needs no
//! background ticking to be exact.
//!
//! The world holds state and imports no service: [`World::from_fixture`] (in `populate`, a
//! layer above the services) builds one by the services' own rules.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use serde::Serialize;

use super::clock::Clock;
use super::faults::Faults;
use super::flasharray::state::Array;
use super::openstack::state::*;
use protector_wire::ids::IdGen;

/// The whole simulated world.
pub struct World {
    pub clock: Clock,
    pub sites: BTreeMap<String, Arc<SiteCell>>,
    /// Array name -> site name, to route replication between arrays.
    pub array_sites: BTreeMap<String, String>,
    /// The faults injected through the control API: on requests, and on servers.
    pub faults: Faults,
    /// The services' time-driven changes, applied to a site whenever it is touched.
    advance: Advance,
}

/// Applies every time-driven change due by `now` to a site. `peer_array_up` tells whether the
/// site of a peer array is reachable (replication only progresses while both ends are up);
/// `faults` may make running servers fail. The services own these changes; the world is made
/// with them.
pub type Advance = fn(&mut Site, Instant, &dyn Fn(&str) -> bool, &Faults);

/// One site: its state behind one lock, and whether it is reachable.
pub struct SiteCell {
    pub name: String,
    up: AtomicBool,
    state: Mutex<Site>,
}

impl SiteCell {
    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::SeqCst)
    }

    pub fn set_up(&self, up: bool) {
        self.up.store(up, Ordering::SeqCst);
    }

    /// The site's state with every due transition applied. A poisoned lock (a handler panicked)
    /// still yields the state: the twin keeps serving rather than failing every later call.
    pub fn lock(&self, world: &World) -> MutexGuard<'_, Site> {
        let mut site = self
            .state
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        let peer_array_up =
            |array: &str| world.site_of_array(array).is_some_and(|cell| cell.is_up());
        (world.advance)(&mut site, world.clock.now(), &peer_array_up, &world.faults);
        site
    }
}

/// Everything one site holds.
#[derive(Debug, Serialize)]
pub struct Site {
    pub name: String,
    pub region: String,
    pub identity: Identity,
    pub compute: Compute,
    pub block: BlockStorage,
    pub network: Networking,
    pub object: ObjectStorage,
    pub array: Array,
    /// Base URLs this site is served at, filled in when the servers bind.
    pub endpoints: Endpoints,
    #[serde(skip)]
    pub ids: IdGen,
    #[serde(skip)]
    pub clock: Clock,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Endpoints {
    /// `http://127.0.0.1:PORT`: Keystone, Nova, Cinder and Neutron (DevStack-style paths), Swift.
    pub openstack: String,
    /// `https://127.0.0.1:PORT`: the FlashArray REST API.
    pub array: String,
}

impl Site {
    /// The id of the project named `name`.
    pub fn project_id(&self, name: &str) -> Option<&str> {
        self.identity
            .projects
            .values()
            .find(|project| project.name == name)
            .map(|project| project.id.as_str())
    }

    /// The id of the user named `name`.
    pub fn user_id(&self, name: &str) -> Option<&str> {
        self.identity
            .users
            .values()
            .find(|user| user.name == name)
            .map(|user| user.id.as_str())
    }
}

impl World {
    pub fn is_up(&self, site: &str) -> bool {
        self.sites.get(site).is_some_and(|cell| cell.is_up())
    }

    pub fn site(&self, name: &str) -> Option<&Arc<SiteCell>> {
        self.sites.get(name)
    }

    /// The site whose array is named `array`.
    pub fn site_of_array(&self, array: &str) -> Option<&Arc<SiteCell>> {
        self.array_sites
            .get(array)
            .and_then(|site| self.sites.get(site))
    }

    /// A world of `sites`, all up, that `advance` brings up to date whenever a site is touched.
    pub fn new(clock: Clock, sites: Vec<Site>, advance: Advance) -> World {
        let mut cells = BTreeMap::new();
        let mut array_sites = BTreeMap::new();
        for site in sites {
            let name = site.name.clone();
            array_sites.insert(site.array.name.clone(), name.clone());
            cells.insert(
                name.clone(),
                Arc::new(SiteCell {
                    name,
                    up: AtomicBool::new(true),
                    state: Mutex::new(site),
                }),
            );
        }
        World {
            clock,
            sites: cells,
            array_sites,
            faults: Faults::default(),
            advance,
        }
    }

    /// The whole world as JSON: the documented shape `GET /world` returns and tests assert on.
    pub fn dump(&self) -> serde_json::Value {
        let sites: serde_json::Map<String, serde_json::Value> = self
            .sites
            .iter()
            .map(|(name, cell)| {
                let site = cell.lock(self);
                let mut value = serde_json::to_value(&*site).unwrap_or_default();
                if let Some(object) = value.as_object_mut() {
                    object.insert("up".to_string(), cell.is_up().into());
                }
                (name.clone(), value)
            })
            .collect();
        serde_json::json!({ "speed": self.clock.speed(), "sites": sites })
    }
}

/// What a request handler of one site works with.
#[derive(Clone)]
pub struct SiteContext {
    pub world: Arc<World>,
    pub cell: Arc<SiteCell>,
}

impl SiteContext {
    /// The site's state, brought up to date.
    pub fn lock(&self) -> std::sync::MutexGuard<'_, super::world::Site> {
        self.cell.lock(&self.world)
    }
}
