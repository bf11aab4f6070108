//! Flavors: list, detail (with Nova's filters and pages) and show.

use super::request::*;
use crate::world::Site;
use crate::world::SiteContext;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use protector_wire::nova as model;
use std::collections::BTreeMap;

pub(super) fn flavor_view(api: &Api, flavor: &crate::openstack::state::Flavor) -> model::Flavor {
    model::Flavor {
        id: flavor.id.clone(),
        name: flavor.name.clone(),
        vcpus: flavor.vcpus,
        ram: flavor.ram_mb,
        disk: flavor.disk_gb,
        swap: if api.at_least(75) {
            model::FlavorSwap::Megabytes(0)
        } else {
            model::FlavorSwap::None(model::EmptyString)
        },
        ephemeral: 0,
        is_public: true,
        links: api.links("flavors", &flavor.id),
        disabled: Some(false),
        rxtx_factor: Some(1.0),
        description: api.at_least(55).then_some(None),
        extra_specs: api.at_least(61).then(BTreeMap::new),
    }
}

/// Flavors for a list: `minDisk`/`minRam` filters, `flavorid` order, `limit`/`marker`; the
/// `next` link when the page is full.
pub(super) fn flavor_page<'a>(
    api: &Api,
    site: &'a Site,
    query: &[(String, String)],
    collection: &str,
) -> Result<
    (
        Vec<&'a crate::openstack::state::Flavor>,
        Option<Vec<model::Link>>,
    ),
    Failure,
> {
    let mut min_disk = 0;
    let mut min_ram = 0;
    for (key, value) in query {
        match key.as_str() {
            "minDisk" => {
                min_disk = value
                    .parse::<u64>()
                    .map_err(|_| bad_request(format!("Invalid minDisk filter [{value}]")))?
            }
            "minRam" => {
                min_ram = value
                    .parse::<u64>()
                    .map_err(|_| bad_request(format!("Invalid minRam filter [{value}]")))?
            }
            _ => {}
        }
    }
    let (limit, marker) = limit_and_marker(query)?;
    let mut flavors: Vec<&crate::openstack::state::Flavor> = site
        .compute
        .flavors
        .values()
        .filter(|flavor| flavor.disk_gb >= min_disk && flavor.ram_mb >= min_ram)
        .collect();
    flavors.sort_by(|a, b| a.id.cmp(&b.id));
    if let Some(marker) = &marker {
        if !site.compute.flavors.contains_key(marker) {
            return Err(bad_request(format!("marker [{marker}] not found")));
        }
        flavors.retain(|flavor| flavor.id.as_str() > marker.as_str());
    }
    let page_size = limit.unwrap_or(MAX_LIMIT).min(MAX_LIMIT);
    flavors.truncate(page_size);
    let links = next_link(api, query, collection, page_size, &flavors, |f| &f.id);
    Ok((flavors, links))
}

pub(super) async fn flavors_index(
    State(ctx): State<SiteContext>,
    api: Api,
    Query(query): Query<Vec<(String, String)>>,
) -> Response {
    let site = ctx.lock();
    let result = flavor_page(&api, &site, &query, "flavors").map(|(flavors, links)| {
        model::FlavorSummariesList {
            flavors: flavors
                .into_iter()
                .map(|flavor| model::FlavorSummary {
                    id: flavor.id.clone(),
                    name: flavor.name.clone(),
                    links: api.links("flavors", &flavor.id),
                    description: api.at_least(55).then_some(None),
                })
                .collect(),
            flavors_links: links,
        }
    });
    drop(site);
    api.done(StatusCode::OK, result)
}

pub(super) async fn flavors_detail(
    State(ctx): State<SiteContext>,
    api: Api,
    Query(query): Query<Vec<(String, String)>>,
) -> Response {
    let site = ctx.lock();
    let result = flavor_page(&api, &site, &query, "flavors/detail").map(|(flavors, links)| {
        model::FlavorsList {
            flavors: flavors
                .into_iter()
                .map(|flavor| flavor_view(&api, flavor))
                .collect(),
            flavors_links: links,
        }
    });
    drop(site);
    api.done(StatusCode::OK, result)
}

pub(super) async fn flavor_show(
    State(ctx): State<SiteContext>,
    api: Api,
    Path(flavor_id): Path<String>,
) -> Response {
    let site = ctx.lock();
    let result = site
        .compute
        .flavors
        .get(&flavor_id)
        .map(|flavor| model::FlavorResponse {
            flavor: flavor_view(&api, flavor),
        })
        .ok_or_else(|| {
            fail(
                StatusCode::NOT_FOUND,
                format!("Flavor {flavor_id} could not be found."),
            )
        });
    drop(site);
    api.done(StatusCode::OK, result)
}
