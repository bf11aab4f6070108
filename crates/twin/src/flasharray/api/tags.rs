//! Volume tags.

use super::{request::*, volumes::*};
use crate::flasharray::query::{ListOptions, Params};
use crate::flasharray::state::{self, Array};
use crate::world::SiteContext;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use protector_wire::flasharray::{self as model};
use serde_json::Value;

/// The namespace of a tag given without one.
pub(super) const DEFAULT_NAMESPACE: &str = "default";

/// The most tags one `PUT /volumes/tags/batch` carries.
pub(super) const MAX_TAG_BATCH: usize = 30;

/// The volumes a tag request names (`resource_names` or `resource_ids`, not both); `None` when
/// it names none and may.
pub(super) fn tagged_volumes(
    params: &Params,
    array: &Array,
    required: bool,
) -> Result<Option<Vec<String>>, Failure> {
    let selector = match (params.list("resource_names"), params.list("resource_ids")) {
        (Some(_), Some(_)) => return Err(bad_request(INVALID_COMBINATION)),
        (Some(names), None) if !names.is_empty() => Selector::Names(names),
        (None, Some(ids)) if !ids.is_empty() => Selector::Ids(ids),
        _ if required => {
            return Err(bad_request(
                "Missing required parameter: resource_names or resource_ids.",
            ));
        }
        _ => return Ok(None),
    };

    Ok(Some(
        selector.resolve(volume_pairs(array), "Volume does not exist.")?,
    ))
}

pub(super) fn tag_model(volume: &state::Volume, tag: &state::Tag) -> model::Tag {
    model::Tag {
        copyable: Some(tag.copyable),
        key: Some(tag.key.clone()),
        namespace: Some(tag.namespace.clone()),
        resource: Some(model::Reference::new(&volume.id, &volume.name)),
        value: Some(tag.value.clone()),
        ..Default::default()
    }
}

pub(super) fn tag_key(json: &Value) -> String {
    ["/resource/name", "/namespace", "/key"]
        .map(|pointer| {
            json.pointer(pointer)
                .and_then(Value::as_str)
                .unwrap_or_default()
        })
        .join("\t")
}

pub(super) async fn volume_tags_get(
    _: Authorized,
    State(ctx): State<SiteContext>,
    RawQuery(raw): RawQuery,
) -> Reply {
    let params = Params::parse(raw.as_deref())?;
    let options = ListOptions::from_params(&params)?;
    let namespaces = params.list("namespaces");
    let destroyed = params.bool("resource_destroyed")?;
    let site = ctx.lock();
    let array = &site.array;
    let volumes = tagged_volumes(&params, array, false)?;
    let mut rows = Vec::new();
    for volume in array.volumes.values() {
        if volumes.as_ref().is_some_and(|v| !v.contains(&volume.name))
            || !keep(destroyed, volume.destroyed)
        {
            continue;
        }
        for tag in array.volume_tags.get(&volume.id).into_iter().flatten() {
            if namespaces
                .as_ref()
                .is_none_or(|n| n.contains(&tag.namespace))
            {
                rows.push(tag_model(volume, tag));
            }
        }
    }
    list(rows, &options, tag_key)
}

/// Creates the body's tags on every named volume, or updates those whose namespace and key
/// they already have.
pub(super) async fn volume_tags_put(
    _: Authorized,
    State(ctx): State<SiteContext>,
    RawQuery(raw): RawQuery,
    bytes: Bytes,
) -> Reply {
    let params = Params::parse(raw.as_deref())?;
    let batch: Vec<model::TagBatch> = body(&bytes)?;
    if batch.is_empty() || batch.len() > MAX_TAG_BATCH {
        return Err(bad_request(format!(
            "Invalid tags: give 1 to {MAX_TAG_BATCH}."
        )));
    }
    let tags = batch
        .into_iter()
        .map(|item| {
            Ok(state::Tag {
                namespace: item
                    .namespace
                    .unwrap_or_else(|| DEFAULT_NAMESPACE.to_string()),
                key: item
                    .key
                    .filter(|key| !key.is_empty())
                    .ok_or_else(|| bad_request("Missing required field: key."))?,
                value: item.value.unwrap_or_default(),
                copyable: item.copyable.unwrap_or(true),
            })
        })
        .collect::<Result<Vec<_>, Failure>>()?;
    let mut site = ctx.lock();
    let array = &mut site.array;
    let volumes = tagged_volumes(&params, array, true)?.unwrap_or_default();
    let mut changed = Vec::new();
    for name in &volumes {
        let volume = &array.volumes[name];
        let stored = array.volume_tags.entry(volume.id.clone()).or_default();
        for tag in &tags {
            match stored
                .iter_mut()
                .find(|t| t.namespace == tag.namespace && t.key == tag.key)
            {
                Some(existing) => *existing = tag.clone(),
                None => stored.push(tag.clone()),
            }
            changed.push(tag_model(volume, tag));
        }
    }
    Ok(items(changed))
}

/// Deletes the named volumes' tags in one namespace (`default` when not given), all of them or
/// those of `keys`.
pub(super) async fn volume_tags_delete(
    _: Authorized,
    State(ctx): State<SiteContext>,
    RawQuery(raw): RawQuery,
) -> Reply {
    let params = Params::parse(raw.as_deref())?;
    let namespaces = params.list("namespaces").unwrap_or_default();
    if namespaces.len() > 1 {
        return Err(bad_request(
            "Only one namespace is allowed per delete request.",
        ));
    }
    let namespace = namespaces
        .into_iter()
        .next()
        .unwrap_or_else(|| DEFAULT_NAMESPACE.to_string());
    let keys = params.list("keys");
    let mut site = ctx.lock();
    let array = &mut site.array;
    let volumes = tagged_volumes(&params, array, true)?.unwrap_or_default();
    for name in &volumes {
        let id = &array.volumes[name].id;
        if let Some(tags) = array.volume_tags.get_mut(id) {
            tags.retain(|tag| {
                tag.namespace != namespace || keys.as_ref().is_some_and(|k| !k.contains(&tag.key))
            });
            if tags.is_empty() {
                array.volume_tags.remove(id);
            }
        }
    }
    Ok(StatusCode::OK.into_response())
}
