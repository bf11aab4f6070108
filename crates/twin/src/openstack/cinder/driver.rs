//! The array as Cinder's Pure driver uses it: array volume names, creates, renames, host connections, destroys.

use crate::flasharray::state as fa;
use crate::world::Site;

/// The array volume the Pure driver keeps a Cinder volume in.
pub fn array_volume_name(volume_id: &str) -> String {
    format!("volume-{volume_id}-cinder")
}

/// Creates an array volume of `bytes`, empty or a copy of the array volume `source`.
pub(super) fn array_create(
    site: &mut Site,
    name: &str,
    bytes: u64,
    source: Option<&str>,
) -> Result<(), String> {
    if site.array.volumes.contains_key(name) {
        return Err(format!(
            "Volume {name} already exists on {}.",
            site.array.name
        ));
    }
    let content = match source {
        Some(source) => match site.array.volumes.get(source).filter(|v| !v.destroyed) {
            Some(volume) => volume.content.clone(),
            None => return Err(format!("Source volume {source} does not exist.")),
        },
        None => format!("empty:{}:{name}", site.array.name),
    };

    let volume = fa::Volume {
        id: site.ids.uuid(),
        name: name.to_string(),
        provisioned: bytes,
        serial: site.ids.hex(24).to_uppercase(),
        created: site.clock.wall_ms(),
        destroyed: false,
        source: source.map(str::to_string),
        content,
    };

    site.array.volumes.insert(name.to_string(), volume);
    Ok(())
}

/// Renames an array volume (with its memberships and connections, as FlashArray does).
pub(super) fn array_rename(site: &mut Site, old: &str, new: &str) -> Result<(), String> {
    if !site.array.volumes.contains_key(old) {
        return Err(format!("Unable to rename {old}: Volume does not exist."));
    }
    if site.array.volumes.contains_key(new) {
        return Err(format!(
            "Unable to rename {old} to {new}: Volume already exists."
        ));
    }
    site.array.rename_volume(old, new);
    Ok(())
}

/// The iSCSI initiator of a compute host, as os-brick's connector reports it.
pub fn initiator_of(compute_host: &str) -> String {
    format!("iqn.2010-10.org.openstack:{compute_host}")
}

/// The Pure driver's name for a Purity host it creates: the connector's host name (at most 23
/// characters, anything but letters, digits and `-` made `-`), a random hex, `-cinder`.
pub(super) fn purity_host_name(compute_host: &str, hex: &str) -> String {
    let name: String = compute_host
        .chars()
        .take(23)
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("{}-{hex}-cinder", name.trim_start_matches('-'))
}

/// Whether the Pure driver made this Purity host (`.*-[a-f0-9]{32}-cinder$`): it deletes such a
/// host once its last connection goes.
pub(super) fn generated_host(name: &str) -> bool {
    name.strip_suffix("-cinder")
        .and_then(|rest| rest.len().checked_sub(33).map(|at| &rest[at..]))
        .is_some_and(|tail| {
            tail.starts_with('-')
                && tail[1..]
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        })
}

/// `initialize_connection`: the Purity host with the compute host's initiator (created when
/// missing) gets a private connection to the array volume, at the lowest free LUN.
pub(super) fn array_connect(site: &mut Site, volume: &str, compute_host: &str) {
    if !site.array.volumes.contains_key(volume) {
        return;
    }
    let initiator = initiator_of(compute_host);
    let existing = site
        .array
        .hosts
        .values()
        .find(|host| host.iqns.contains(&initiator))
        .map(|host| host.name.clone());
    let name = match existing {
        Some(name) => name,
        None => {
            let name = purity_host_name(compute_host, &site.ids.hex(32));
            site.array.hosts.insert(
                name.clone(),
                fa::Host {
                    name: name.clone(),
                    iqns: vec![initiator],
                    ..Default::default()
                },
            );
            name
        }
    };

    if let Some(host) = site.array.hosts.get_mut(&name)
        && !host.connections.contains_key(volume)
    {
        // The lowest free LUN; one pass over the host's connections (a compute host can carry
        // thousands of volumes in a scale fixture).
        let used: std::collections::HashSet<u32> = host.connections.values().copied().collect();
        let lun = (1..).find(|lun| !used.contains(lun)).unwrap_or(1);
        host.connections.insert(volume.to_string(), lun);
    }
}

/// `terminate_connection` without a connector (and `delete_volume`'s first step): every host
/// connection of the array volume goes; a host the driver made goes with its last connection.
pub(super) fn array_disconnect_all(site: &mut Site, volume: &str) {
    let mut unused = Vec::new();
    for host in site.array.hosts.values_mut() {
        if host.connections.remove(volume).is_some()
            && host.connections.is_empty()
            && generated_host(&host.name)
        {
            unused.push(host.name.clone());
        }
    }
    for name in unused {
        site.array.hosts.remove(&name);
    }
}

/// Destroys an array volume: it waits in the destroyed bin (recoverable) until eradicated.
pub(super) fn array_destroy(site: &mut Site, name: &str) {
    let now = site.clock.now();
    site.array.set_volume_destroyed(name, true, now);
}
