//! What an operation left on a site: found by the id a step recorded or by the marker of the
//! step that made it (a drill's cleanup, a rollback's), and proven gone by listing the whole
//! site (a drill's proof, a rollback's).

use std::collections::{BTreeMap, BTreeSet};

use super::{SiteRunner, marker, text};
use crate::apply::executor::{Created, Outputs};
use crate::clients::flasharray::model as fa;
use crate::plan::ResourceRef;
use crate::state::DrillResourceKind;

/// Where a cleanup finds a resource: its id, or the marker of the step that created it.
enum Found<'r> {
    Id(String),
    Marker { operation: &'r str, step: &'r str },
}

/// The id `reference` names (recorded by a step of this plan or an earlier operation), or the
/// marker to look for.
fn locate<'r>(
    reference: &'r ResourceRef,
    kind: DrillResourceKind,
    outputs: &Outputs,
) -> Result<Found<'r>, String> {
    match reference {
        ResourceRef::Step { step } => outputs
            .get(step, kind.output())
            .map(Found::Id)
            .ok_or_else(|| format!("step {step} recorded no {}", kind.output())),
        ResourceRef::Recorded { id } => Ok(Found::Id(id.clone())),
        ResourceRef::Marker { operation, step } => Ok(Found::Marker { operation, step }),
    }
}

/// Whose leftovers [`SiteRunner::leftovers`] looks for.
struct Owner<'a> {
    operation: &'a str,
    /// The name prefix its resources carry (a drill's), if any.
    prefix: Option<&'a str>,
    /// Its array volumes, by the id its steps recorded or the name they were created with.
    array_ids: BTreeSet<String>,
    array_names: BTreeSet<String>,
}

/// What [`SiteRunner::leftovers`] found.
struct Leftovers {
    left: Vec<String>,
    /// How many objects of each kind it listed.
    listed: [(&'static str, usize); 5],
    /// The owner's array volumes it found destroyed.
    destroyed: Vec<String>,
}

impl Leftovers {
    /// What a proof records: the counts listed, and the destroyed array volumes.
    fn proof(&self) -> Created {
        let mut proof: Created = self
            .listed
            .iter()
            .map(|(kind, count)| (kind.to_string(), count.to_string()))
            .collect();
        if !self.destroyed.is_empty() {
            proof.insert("destroyed".to_string(), self.destroyed.join(","));
        }
        proof
    }
}

impl SiteRunner<'_> {
    /// The ids of the `kind` resource named `name` that `reference` designates: the one
    /// recorded, or those its creating step's marker finds (an array volume by the name it was
    /// created with: a copy that recorded no id failed before Cinder could rename it, since its
    /// manage waits for it).
    pub(super) async fn find_ids(
        &self,
        site: &str,
        kind: DrillResourceKind,
        name: &str,
        reference: &ResourceRef,
        outputs: &Outputs,
    ) -> Result<Vec<String>, String> {
        let (operation, step) = match locate(reference, kind, outputs)? {
            Found::Id(id) => return Ok(vec![id]),
            Found::Marker { operation, step } => (operation, step),
        };
        let marker = marker(operation, step);
        Ok(match kind {
            DrillResourceKind::Server => self
                .marked_servers(site, name, operation, step)
                .await?
                .into_iter()
                .map(|server| server.id)
                .collect(),
            DrillResourceKind::Port => self
                .marked_ports(site, name, &marker)
                .await?
                .into_iter()
                .map(|port| port.id)
                .collect(),
            DrillResourceKind::CinderVolume => self
                .marked_volumes(site, name, &marker)
                .await?
                .into_iter()
                .map(|volume| volume.id)
                .collect(),
            DrillResourceKind::ArrayVolume => self
                .array_volume(site, "names", name)
                .await?
                .and_then(|volume| volume.id)
                .into_iter()
                .collect(),
            // No marker fits in a server group: its name is what its step made it with.
            DrillResourceKind::ServerGroup => self
                .server_groups_named(site, name)
                .await?
                .into_iter()
                .map(|group| group.id)
                .collect(),
        })
    }

    /// Lists the site's servers, Cinder volumes, ports and array volumes, and fails naming
    /// every one still tagged with drill `drill`: named with its prefix, carrying its marker
    /// (Nova and Cinder metadata, descriptions), or one of its array volumes (by id: Cinder
    /// renamed them). Its drill's array volumes found destroyed are not left: the array
    /// eradicates them. What it listed is what it returns.
    pub(super) async fn prove_clean(
        &self,
        site: &str,
        drill: &str,
        prefix: &str,
        array_volumes: &[ResourceRef],
        outputs: &Outputs,
    ) -> Result<Created, String> {
        let mut ids = BTreeSet::new();
        for reference in array_volumes {
            if let Found::Id(id) = locate(reference, DrillResourceKind::ArrayVolume, outputs)? {
                ids.insert(id);
            }
        }
        let found = self
            .leftovers(
                site,
                &Owner {
                    operation: drill,
                    prefix: Some(prefix),
                    array_ids: ids,
                    array_names: BTreeSet::new(),
                },
            )
            .await?;
        if !found.left.is_empty() {
            return Err(format!(
                "{} of drill {drill} still on {site}: {}; `protector drill cleanup {drill}` removes what the drill recorded",
                found.left.len(),
                found.left.join(", ")
            ));
        }
        Ok(found.proof())
    }

    /// The rollback of `operation` left nothing of it on this site (see [`Self::leftovers`]),
    /// and each member runs on `source` on the instance it had before.
    pub(super) async fn prove_rolled_back(
        &self,
        site: &str,
        operation: &str,
        source: &str,
        members: &BTreeMap<String, String>,
        array_volumes: &[(String, ResourceRef)],
        outputs: &Outputs,
    ) -> Result<Created, String> {
        let (mut array_ids, mut array_names) = (BTreeSet::new(), BTreeSet::new());
        for (name, reference) in array_volumes {
            match locate(reference, DrillResourceKind::ArrayVolume, outputs)? {
                Found::Id(id) => array_ids.insert(id),
                Found::Marker { .. } => array_names.insert(name.clone()),
            };
        }
        let found = self
            .leftovers(
                site,
                &Owner {
                    operation,
                    prefix: None,
                    array_ids,
                    array_names,
                },
            )
            .await?;
        let mut wrong = found.left.clone();
        for (member, id) in members {
            match self.server(source, id).await? {
                Some(server) if server.status == "ACTIVE" && server.task_state.is_none() => {}
                Some(server) => wrong.push(format!(
                    "{member} ({id}) is {} on {source}, not ACTIVE",
                    server.status
                )),
                None => wrong.push(format!("{member} ({id}) is gone from {source}")),
            }
        }
        if !wrong.is_empty() {
            return Err(format!(
                "the rollback of {operation} is not complete: {}",
                wrong.join(", ")
            ));
        }
        Ok(found.proof())
    }

    /// Lists the site's servers, Cinder volumes, ports and array volumes: what of `owner` is
    /// still there (named with its prefix, carrying its marker in Nova and Cinder metadata or
    /// descriptions, or one of its array volumes), and what was listed. Its array volumes found
    /// destroyed are not left: the array eradicates them.
    async fn leftovers(&self, site: &str, owner: &Owner<'_>) -> Result<Leftovers, String> {
        let openstack = self.openstack(site).await?;
        let operation = owner.operation;
        let named = |name: &str| owner.prefix.is_some_and(|prefix| name.starts_with(prefix));
        let marked = |description: Option<&str>| {
            description.is_some_and(|d| d.starts_with(&format!("protector {operation} ")))
        };
        let tagged = |metadata: &BTreeMap<String, String>| {
            metadata.get("protector_operation").map(String::as_str) == Some(operation)
        };
        let mut left = Vec::new();
        let servers = openstack.compute.servers(&[]).await.map_err(text)?;
        for server in &servers {
            if named(&server.name) || tagged(&server.metadata) {
                left.push(format!("server {} ({})", server.name, server.id));
            }
        }
        let volumes = openstack.block.volumes(&[]).await.map_err(text)?;
        for volume in &volumes {
            let name = volume.name.as_deref().unwrap_or_default();
            if named(name) || tagged(&volume.metadata) || marked(volume.description.as_deref()) {
                left.push(format!("Cinder volume {name} ({})", volume.id));
            }
        }
        let ports = openstack.network.ports(&[]).await.map_err(text)?;
        for port in &ports {
            if named(&port.name) || marked(port.description.as_deref()) {
                left.push(format!("port {} ({})", port.name, port.id));
            }
        }
        let groups = openstack.compute.server_groups().await.map_err(text)?;
        for group in &groups {
            if named(&group.name) {
                left.push(format!("server group {} ({})", group.name, group.id));
            }
        }
        let on_array: Vec<fa::Volume> = self
            .array(site)
            .await?
            .list("volumes", &[])
            .await
            .map_err(text)?;
        let mut destroyed = Vec::new();
        for volume in &on_array {
            let name = volume.name.clone().unwrap_or_default();
            let ours = named(&name)
                || owner.array_names.contains(&name)
                || volume
                    .id
                    .as_ref()
                    .is_some_and(|id| owner.array_ids.contains(id));
            match (ours, volume.destroyed == Some(true)) {
                (true, true) => destroyed.push(name),
                (true, false) => left.push(format!("array volume {name}")),
                (false, _) => {}
            }
        }
        Ok(Leftovers {
            left,
            listed: [
                ("servers", servers.len()),
                ("cinder_volumes", volumes.len()),
                ("ports", ports.len()),
                ("server_groups", groups.len()),
                ("array_volumes", on_array.len()),
            ],
            destroyed,
        })
    }
}
