//! Hosts and host-volume connections.

use super::{request::*, views::*, volumes::*};
use crate::flasharray::query::{self, ListOptions, Params};
use crate::flasharray::state::{self, Array, valid_name};
use crate::world::SiteContext;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use protector_wire::flasharray::{self as model};
use serde_json::Value;

pub(super) fn host_pairs(array: &Array) -> impl Iterator<Item = (&str, &str)> + Clone {
    array
        .hosts
        .values()
        .map(|h| (h.name.as_str(), h.name.as_str()))
}

pub(super) async fn hosts_get(
    _: Authorized,
    State(ctx): State<SiteContext>,
    RawQuery(raw): RawQuery,
) -> Reply {
    let params = Params::parse(raw.as_deref())?;
    let options = ListOptions::from_params(&params)?;
    let site = ctx.lock();
    let render = Render::new(&site, &ctx.world);
    let selected = optional_selection(&params, host_pairs(&site.array), "Host does not exist.")?;
    let rows = site
        .array
        .hosts
        .values()
        .filter(|h| selected.as_ref().is_none_or(|s| s.contains(&h.name)))
        .map(|host| render.host(host))
        .collect();
    list(rows, &options, query::name_key)
}

/// An initiator (IQN, WWN, NQN) another host already has.
pub(super) fn initiator_in_use(
    array: &Array,
    host: &str,
    iqns: &[String],
    wwns: &[String],
    nqns: &[String],
) -> Result<(), Failure> {
    for other in array.hosts.values().filter(|h| h.name != host) {
        let taken = iqns
            .iter()
            .find(|i| other.iqns.contains(i))
            .or_else(|| wwns.iter().find(|w| other.wwns.contains(w)))
            .or_else(|| nqns.iter().find(|n| other.nqns.contains(n)));
        if let Some(initiator) = taken {
            return Err(bad(
                format!("{initiator} is already in use by host {}.", other.name),
                host,
            ));
        }
    }
    Ok(())
}

pub(super) async fn hosts_post(
    _: Authorized,
    State(ctx): State<SiteContext>,
    RawQuery(raw): RawQuery,
    bytes: Bytes,
) -> Reply {
    let params = Params::parse(raw.as_deref())?;
    let request: model::HostPost = body(&bytes)?;
    let names = params
        .list("names")
        .filter(|names| !names.is_empty())
        .ok_or_else(|| bad_request("Missing required parameter: names."))?;
    let mut site = ctx.lock();
    let (iqns, wwns, nqns) = (
        request.iqns.clone().unwrap_or_default(),
        request.wwns.clone().unwrap_or_default(),
        request.nqns.clone().unwrap_or_default(),
    );
    for name in &names {
        if !valid_name(name) {
            return Err(bad(INVALID_NAME, name));
        }
        if site.array.hosts.contains_key(name) {
            return Err(bad("Host already exists.", name));
        }
        initiator_in_use(&site.array, name, &iqns, &wwns, &nqns)?;
    }
    for name in &names {
        site.array.hosts.insert(
            name.clone(),
            state::Host {
                name: name.clone(),
                iqns: iqns.clone(),
                wwns: wwns.clone(),
                nqns: nqns.clone(),
                personality: request.personality.clone().filter(|p| !p.is_empty()),
                connections: Default::default(),
            },
        );
    }
    let render = Render::new(&site, &ctx.world);
    Ok(items(
        names
            .iter()
            .map(|name| render.host(&site.array.hosts[name]))
            .collect(),
    ))
}

pub(super) fn merge(
    current: &[String],
    replace: &Option<Vec<String>>,
    add: &Option<Vec<String>>,
    remove: &Option<Vec<String>>,
) -> Vec<String> {
    let mut list = replace.clone().unwrap_or_else(|| current.to_vec());
    for item in add.iter().flatten() {
        if !list.contains(item) {
            list.push(item.clone());
        }
    }
    if let Some(remove) = remove {
        list.retain(|item| !remove.contains(item));
    }
    list
}

pub(super) async fn hosts_patch(
    _: Authorized,
    State(ctx): State<SiteContext>,
    RawQuery(raw): RawQuery,
    bytes: Bytes,
) -> Reply {
    let params = Params::parse(raw.as_deref())?;
    let patch: model::HostPatch = body(&bytes)?;
    let names = params
        .list("names")
        .filter(|names| !names.is_empty())
        .ok_or_else(|| bad_request("Missing required parameter: names."))?;
    let mut site = ctx.lock();
    let names = Selector::Names(names).resolve(host_pairs(&site.array), "Host does not exist.")?;
    if patch.name.is_some() && names.len() > 1 {
        return Err(bad_request(INVALID_COMBINATION));
    }
    let mut updated = Vec::new();
    for name in &names {
        let host = &site.array.hosts[name];
        let iqns = merge(&host.iqns, &patch.iqns, &patch.add_iqns, &patch.remove_iqns);
        let wwns = merge(&host.wwns, &patch.wwns, &patch.add_wwns, &patch.remove_wwns);
        let nqns = merge(&host.nqns, &patch.nqns, &patch.add_nqns, &patch.remove_nqns);
        initiator_in_use(&site.array, name, &iqns, &wwns, &nqns)?;
        if let Some(new) = &patch.name {
            if !valid_name(new) {
                return Err(bad(INVALID_NAME, new));
            }
            if new != name && site.array.hosts.contains_key(new) {
                return Err(bad("Host already exists.", new));
            }
        }
        updated.push((name.clone(), iqns, wwns, nqns));
    }
    let mut changed = Vec::new();
    for (name, iqns, wwns, nqns) in updated {
        let mut host = site.array.hosts.remove(&name).expect("resolved");
        host.iqns = iqns;
        host.wwns = wwns;
        host.nqns = nqns;
        if let Some(personality) = &patch.personality {
            host.personality = Some(personality.clone()).filter(|p| !p.is_empty());
        }
        if let Some(new) = &patch.name {
            host.name = new.clone();
        }
        changed.push(host.name.clone());
        site.array.hosts.insert(host.name.clone(), host);
    }
    let render = Render::new(&site, &ctx.world);
    Ok(items(
        changed
            .iter()
            .map(|name| render.host(&site.array.hosts[name]))
            .collect(),
    ))
}

pub(super) async fn hosts_delete(
    _: Authorized,
    State(ctx): State<SiteContext>,
    RawQuery(raw): RawQuery,
) -> Reply {
    let params = Params::parse(raw.as_deref())?;
    let names = params
        .list("names")
        .filter(|names| !names.is_empty())
        .ok_or_else(|| bad_request("Missing required parameter: names."))?;
    let mut site = ctx.lock();
    let names = Selector::Names(names).resolve(host_pairs(&site.array), "Host does not exist.")?;
    for name in &names {
        if !site.array.hosts[name].connections.is_empty() {
            return Err(bad(
                "Host cannot be deleted due to existing connections.",
                name,
            ));
        }
    }
    for name in &names {
        site.array.hosts.remove(name);
    }
    Ok(StatusCode::OK.into_response())
}

pub(super) fn connection_key(json: &Value) -> String {
    format!(
        "{}\t{}",
        json.pointer("/host/name")
            .and_then(Value::as_str)
            .unwrap_or_default(),
        json.pointer("/volume/name")
            .and_then(Value::as_str)
            .unwrap_or_default()
    )
}

/// `host_names` and `volume_names` (or `volume_ids`), resolved; `None` when absent.
pub(super) type ConnectionSelection = (Option<Vec<String>>, Option<Vec<String>>);

pub(super) fn connection_selection(
    params: &Params,
    array: &Array,
) -> Result<ConnectionSelection, Failure> {
    if params.has("host_group_names") {
        return Err(bad_request(
            "Host groups are not supported by the simulated array.",
        ));
    }
    let hosts = match params.list("host_names") {
        Some(names) => {
            Some(Selector::Names(names).resolve(host_pairs(array), "Host does not exist.")?)
        }
        None => None,
    };

    let volumes = match (params.list("volume_names"), params.list("volume_ids")) {
        (Some(_), Some(_)) => return Err(bad_request(INVALID_COMBINATION)),
        (Some(names), None) => {
            Some(Selector::Names(names).resolve(volume_pairs(array), "Volume does not exist.")?)
        }
        (None, Some(ids)) => {
            Some(Selector::Ids(ids).resolve(volume_pairs(array), "Volume does not exist.")?)
        }
        (None, None) => None,
    };

    Ok((hosts, volumes))
}

pub(super) async fn connections_get(
    _: Authorized,
    State(ctx): State<SiteContext>,
    RawQuery(raw): RawQuery,
) -> Reply {
    let params = Params::parse(raw.as_deref())?;
    let options = ListOptions::from_params(&params)?;
    let site = ctx.lock();
    let render = Render::new(&site, &ctx.world);
    let (hosts, volumes) = connection_selection(&params, &site.array)?;
    let mut rows = Vec::new();
    for host in site.array.hosts.values() {
        if hosts.as_ref().is_some_and(|h| !h.contains(&host.name)) {
            continue;
        }
        for (volume, lun) in &host.connections {
            if volumes.as_ref().is_none_or(|v| v.contains(volume)) {
                rows.push(render.connection(&host.name, volume, *lun));
            }
        }
    }
    list(rows, &options, connection_key)
}

pub(super) async fn connections_post(
    _: Authorized,
    State(ctx): State<SiteContext>,
    RawQuery(raw): RawQuery,
    bytes: Bytes,
) -> Reply {
    let params = Params::parse(raw.as_deref())?;
    let request: model::ConnectionPost = body(&bytes)?;
    let mut site = ctx.lock();
    let (hosts, volumes) = connection_selection(&params, &site.array)?;
    let hosts = hosts
        .filter(|h| !h.is_empty())
        .ok_or_else(|| bad_request("Missing required parameter: host_names."))?;
    let volumes = volumes
        .filter(|v| !v.is_empty())
        .ok_or_else(|| bad_request("Missing required parameter: volume_names or volume_ids."))?;
    if hosts.len() > 1 && volumes.len() > 1 {
        return Err(bad_request(INVALID_COMBINATION));
    }
    if request.lun.is_some_and(|lun| !(1..=4095).contains(&lun)) {
        return Err(bad_request("Invalid LUN: 1 to 4095."));
    }
    for volume in &volumes {
        if site.array.volumes[volume].destroyed {
            return Err(bad("Volume has been destroyed.", volume));
        }
        for host in &hosts {
            if site.array.hosts[host].connections.contains_key(volume) {
                return Err(bad("Connection already exists.", volume));
            }
        }
    }
    let mut rows = Vec::new();
    for host_name in &hosts {
        for volume in &volumes {
            let host = site.array.hosts.get_mut(host_name).expect("resolved");
            let lun = match request.lun {
                Some(lun) if host.connections.values().any(|l| *l == lun) => {
                    return Err(bad(format!("LUN {lun} is already in use."), host_name));
                }
                Some(lun) => lun,
                None => (1..=4095)
                    .find(|lun| !host.connections.values().any(|l| l == lun))
                    .ok_or_else(|| bad("No free LUN.", host_name))?,
            };
            host.connections.insert(volume.clone(), lun);
            rows.push((host_name.clone(), volume.clone(), lun));
        }
    }
    let render = Render::new(&site, &ctx.world);
    Ok(items(
        rows.iter()
            .map(|(host, volume, lun)| render.connection(host, volume, *lun))
            .collect(),
    ))
}

pub(super) async fn connections_delete(
    _: Authorized,
    State(ctx): State<SiteContext>,
    RawQuery(raw): RawQuery,
) -> Reply {
    let params = Params::parse(raw.as_deref())?;
    let mut site = ctx.lock();
    let (hosts, volumes) = connection_selection(&params, &site.array)?;
    let hosts = hosts
        .filter(|h| !h.is_empty())
        .ok_or_else(|| bad_request("Missing required parameter: host_names."))?;
    let volumes = volumes
        .filter(|v| !v.is_empty())
        .ok_or_else(|| bad_request("Missing required parameter: volume_names or volume_ids."))?;
    for host in &hosts {
        for volume in &volumes {
            if !site.array.hosts[host].connections.contains_key(volume) {
                return Err(bad("Connection does not exist.", volume));
            }
        }
    }
    for host in &hosts {
        let host = site.array.hosts.get_mut(host).expect("resolved");
        for volume in &volumes {
            host.connections.remove(volume);
        }
    }
    Ok(StatusCode::OK.into_response())
}
