//! Removing what an operation created on a site, from what its journal recorded: servers first
//! (the ports, volumes and server groups they used outlive them), ports, server groups and
//! Cinder volumes next, array volumes once Cinder has let go of them. A drill's cleanup and a rollback share it; each proves
//! afterwards, in its own terms, that nothing is left.

use super::recreate::Steps;
use super::{Action, Phase, ResourceRef};
use crate::state::{DrillResource, DrillResourceKind};

/// Where the removal happens.
pub(super) struct Removal<'a> {
    pub site: &'a str,
    /// The site's array.
    pub array: &'a str,
    pub phase: Phase,
    /// The array protection group the removed array volumes leave, if they joined it.
    pub protection_group: Option<&'a str>,
    /// Before each step id, to keep them apart from the plan's own steps of the same member
    /// (a takeover's removals beside its source cleanup).
    pub id_prefix: &'a str,
}

/// The removal steps, for the proof that follows them.
pub(super) struct Removed {
    /// Every removal step (or `after` when there was nothing to remove).
    pub steps: Vec<String>,
    /// The array volumes removed: (name when created, how to find it).
    pub array_volumes: Vec<(String, ResourceRef)>,
}

/// Adds the steps removing `resources` (each found by its recorded id, or by the marker of the
/// step that created it) once `after` are done.
pub(super) fn remove(
    steps: &mut Steps,
    how: &Removal,
    resources: &[(DrillResource, ResourceRef)],
    after: Vec<String>,
) -> Removed {
    // `boot_instance/web-1` is removed by `delete_instance/web-1`, and so on.
    let id = |verb: &str, resource: &DrillResource| {
        let (_, tail) = resource
            .step
            .split_once('/')
            .unwrap_or(("", &resource.step));
        format!("{}{verb}/{tail}", how.id_prefix)
    };
    let of_kind = |kind: DrillResourceKind| {
        resources
            .iter()
            .filter(move |(resource, _)| resource.kind == kind)
    };
    let add = |steps: &mut Steps,
               id: String,
               resource: &DrillResource,
               action: Action,
               after: Vec<String>| {
        steps.add(
            id,
            how.phase,
            how.site,
            resource.member.as_deref(),
            action,
            after,
            Vec::new(),
        )
    };
    let mut servers: Vec<String> = of_kind(DrillResourceKind::Server)
        .map(|(resource, reference)| {
            add(
                steps,
                id("delete_instance", resource),
                resource,
                Action::RemoveInstance {
                    name: resource.name.clone(),
                    server: reference.clone(),
                },
                after.clone(),
            )
        })
        .collect();
    if servers.is_empty() {
        servers = after;
    }
    // A server group goes once its servers have (Nova keeps no member it would refuse for).
    let groups: Vec<String> = of_kind(DrillResourceKind::ServerGroup)
        .map(|(resource, reference)| {
            add(
                steps,
                id("delete_server_group", resource),
                resource,
                Action::RemoveServerGroup {
                    name: resource.name.clone(),
                    server_group: reference.clone(),
                },
                servers.clone(),
            )
        })
        .collect();
    let mut removed: Vec<String> = of_kind(DrillResourceKind::Port)
        .map(|(resource, reference)| {
            add(
                steps,
                id("delete_port", resource),
                resource,
                Action::RemovePort {
                    name: resource.name.clone(),
                    port: reference.clone(),
                },
                servers.clone(),
            )
        })
        .collect();
    let mut unmanaged: Vec<String> = of_kind(DrillResourceKind::CinderVolume)
        .map(|(resource, reference)| {
            add(
                steps,
                id("unmanage_volume", resource),
                resource,
                Action::RemoveVolume {
                    name: resource.name.clone(),
                    volume: reference.clone(),
                },
                servers.clone(),
            )
        })
        .collect();
    removed.extend(unmanaged.iter().cloned());
    if unmanaged.is_empty() {
        unmanaged = servers.clone();
    }
    let array_volumes = of_kind(DrillResourceKind::ArrayVolume)
        .map(|(resource, reference)| {
            removed.push(add(
                steps,
                id("destroy_volume", resource),
                resource,
                Action::RemoveArrayVolume {
                    array: how.array.to_string(),
                    volume: resource.name.clone(),
                    array_volume: reference.clone(),
                    protection_group: how.protection_group.map(str::to_string),
                },
                unmanaged.clone(),
            ));
            (resource.name.clone(), reference.clone())
        })
        .collect();
    removed.extend(servers);
    removed.extend(groups);
    removed.sort();
    removed.dedup();
    Removed {
        steps: removed,
        array_volumes,
    }
}
