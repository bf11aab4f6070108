//! Listing servers (ids or details, Nova's filters, sorting and pages) and showing one.

use super::{request::*, views::*};
use crate::openstack::state::Server;
use crate::world::Site;
use crate::world::SiteContext;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use protector_wire::nova as model;

/// The query parameters Nova's server list schema knows (>= 2.75 anything else is a 400).
pub(super) const SERVER_QUERY_PARAMS: &[&str] = &[
    "user_id",
    "project_id",
    "tenant_id",
    "launch_index",
    "image_ref",
    "image",
    "kernel_id",
    "ramdisk_id",
    "hostname",
    "key_name",
    "power_state",
    "vm_state",
    "task_state",
    "host",
    "node",
    "flavor",
    "reservation_id",
    "launched_at",
    "terminated_at",
    "availability_zone",
    "name",
    "display_name",
    "description",
    "display_description",
    "locked_by",
    "uuid",
    "root_device_name",
    "config_drive",
    "access_ip_v4",
    "access_ip_v6",
    "auto_disk_config",
    "progress",
    "sort_key",
    "sort_dir",
    "all_tenants",
    "soft_deleted",
    "deleted",
    "status",
    "changes-since",
    "changes-before",
    "ip",
    "ip6",
    "created_at",
    "block_device_mapping",
    "services",
    "metadata",
    "system_metadata",
    "info_cache",
    "security_groups",
    "pci_devices",
    "tags",
    "tags-any",
    "not-tags",
    "not-tags-any",
    "locked",
    "limit",
    "marker",
];

/// The Nova status names `task_and_vm_state_from_status` knows.
pub(super) const KNOWN_STATUSES: &[&str] = &[
    "ACTIVE",
    "BUILD",
    "SHUTOFF",
    "ERROR",
    "DELETED",
    "SOFT_DELETED",
    "REBOOT",
    "HARD_REBOOT",
    "REBUILD",
    "PASSWORD",
    "RESIZE",
    "VERIFY_RESIZE",
    "REVERT_RESIZE",
    "MIGRATING",
    "PAUSED",
    "SUSPENDED",
    "RESCUE",
    "SHELVED",
    "SHELVED_OFFLOADED",
];

/// A timestamp as `timeutils.parse_isotime` reads it (UTC when no offset is given).
pub(super) fn parse_time(text: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    if let Ok(time) = chrono::DateTime::parse_from_rfc3339(text) {
        return Some(time.with_timezone(&chrono::Utc));
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S%.f",
    ] {
        if let Ok(naive) = chrono::NaiveDateTime::parse_from_str(text, format) {
            return Some(naive.and_utc());
        }
    }
    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|date| date.and_hms_opt(0, 0, 0))
        .map(|naive| naive.and_utc())
}

pub(super) fn bool_param(text: &str) -> Option<bool> {
    match text.to_ascii_lowercase().as_str() {
        "" | "1" | "t" | "true" | "on" | "y" | "yes" => Some(true),
        "0" | "f" | "false" | "off" | "n" | "no" => Some(false),
        _ => None,
    }
}

/// One page of the servers a list request selects, newest first, and its `next` link.
pub(super) fn server_page<'a>(
    api: &Api,
    site: &'a Site,
    query: &[(String, String)],
    collection: &str,
) -> Result<(Vec<&'a Server>, Option<Vec<model::Link>>), Failure> {
    known_params(api, query, SERVER_QUERY_PARAMS)?;
    let (limit, marker) = limit_and_marker(query)?;
    let values = |name: &str| -> Vec<&str> {
        query
            .iter()
            .filter(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
            .collect()
    };

    let last = |name: &str| values(name).last().copied();

    // all_tenants: admins only (the policy `servers:detail:get_all_tenants`).
    let all_tenants = match last("all_tenants") {
        None => false,
        Some(value) => bool_param(value).ok_or_else(|| {
            invalid_query(
                "all_tenants",
                value,
                format!("'{value}' is not a valid boolean"),
            )
        })?,
    };

    if all_tenants {
        let rule = if collection.ends_with("detail") {
            "servers:detail:get_all_tenants"
        } else {
            "servers:index:get_all_tenants"
        };
        api.policy(api.is_admin(), rule)?;
    }
    let project_filter: Option<&str> = if all_tenants {
        last("project_id").or_else(|| last("tenant_id"))
    } else {
        Some(api.token.project_id.as_str())
    };

    // status: a Nova status name (case-insensitive); unknown ones are a 400 since 2.38.
    let statuses: Vec<String> = values("status")
        .iter()
        .map(|status| status.to_ascii_uppercase())
        .collect();
    if !statuses.is_empty() {
        let known: Vec<&String> = statuses
            .iter()
            .filter(|status| KNOWN_STATUSES.contains(&status.as_str()))
            .collect();
        if known.is_empty() {
            if api.at_least(38) {
                return Err(bad_request("Invalid status value"));
            }
            return Ok((Vec::new(), None));
        }
        if known.iter().any(|status| status.as_str() == "DELETED") && !api.is_admin() {
            return Err(fail(
                StatusCode::FORBIDDEN,
                "Only administrators may list deleted instances",
            ));
        }
    }

    let time_filter = |name: &str| -> Result<Option<chrono::DateTime<chrono::Utc>>, Failure> {
        match last(name) {
            None => Ok(None),
            Some(text) => parse_time(text)
                .map(Some)
                .ok_or_else(|| invalid_query(name, text, format!("'{text}' is not a 'date-time'"))),
        }
    };

    let changes_since = time_filter("changes-since")?;
    let changes_before = if api.at_least(66) {
        time_filter("changes-before")?
    } else {
        None
    };

    if let (Some(since), Some(before)) = (changes_since, changes_before)
        && since > before
    {
        return Err(bad_request(
            "The value of changes-since must be less than or equal to changes-before.",
        ));
    }
    let name = last("name")
        .or_else(|| last("display_name"))
        .map(super::pattern::Pattern::new);
    let ip = last("ip").map(super::pattern::Pattern::new);
    let flavor = last("flavor");
    let uuid = last("uuid");
    // Filters Nova lets only admins use before 2.83 (silently dropped for others).
    let extended = api.is_admin() || api.at_least(83);
    let zone = last("availability_zone").filter(|_| extended);
    let key_name = last("key_name").filter(|_| extended);
    let user_id = last("user_id").filter(|_| extended);
    let tag_filters: Vec<(&str, &str)> = ["tags", "tags-any", "not-tags", "not-tags-any"]
        .into_iter()
        .filter(|_| api.at_least(26))
        .filter_map(|filter| Some((filter, last(filter)?)))
        .collect();

    let selected = |server: &&Server| -> bool {
        if let Some(project) = project_filter
            && server.project_id != project
        {
            return false;
        }
        if !statuses.is_empty()
            && !statuses
                .iter()
                .any(|status| status == status_text(server.status))
        {
            return false;
        }
        if let Some(since) = changes_since
            && server.updated < since
        {
            return false;
        }
        if let Some(before) = changes_before
            && server.updated > before
        {
            return false;
        }
        if let Some(name) = &name
            && !name.is_match(&server.name)
        {
            return false;
        }
        if flavor.is_some_and(|flavor| flavor != server.flavor_id) {
            return false;
        }
        if uuid.is_some_and(|uuid| uuid != server.id) {
            return false;
        }
        if zone.is_some_and(|zone| zone != server.availability_zone) {
            return false;
        }
        if key_name.is_some_and(|key| Some(key) != server.key_name.as_deref()) {
            return false;
        }
        if user_id.is_some_and(|user| user != server.user_id) {
            return false;
        }
        if !tag_filters
            .iter()
            .all(|(filter, value)| super::tags::selected(server, filter, value))
        {
            return false;
        }
        if let Some(ip) = &ip {
            let matched = server
                .ports
                .iter()
                .filter_map(|port_id| site.network.ports.get(port_id))
                .flat_map(|port| port.fixed_ips.iter())
                .any(|fixed| ip.is_match(&fixed.ip_address));
            if !matched {
                return false;
            }
        }
        true
    };

    let mut servers: Vec<&Server> = site.compute.servers.values().filter(selected).collect();
    let newest_first =
        |a: &&Server, b: &&Server| b.created.cmp(&a.created).then_with(|| b.id.cmp(&a.id));
    servers.sort_by(newest_first);
    if let Some(marker) = &marker {
        let Some(marker_server) = site
            .compute
            .servers
            .get(marker)
            .filter(|server| api.sees(&server.project_id))
        else {
            return Err(bad_request(format!("marker [{marker}] not found")));
        };
        servers.retain(|server| newest_first(&marker_server, server).is_lt());
    }
    let page_size = limit.unwrap_or(MAX_LIMIT).min(MAX_LIMIT);
    servers.truncate(page_size);
    let links = next_link(api, query, collection, page_size, &servers, |s| &s.id);
    Ok((servers, links))
}

pub(super) async fn servers_index(
    State(ctx): State<SiteContext>,
    api: Api,
    Query(query): Query<Vec<(String, String)>>,
) -> Response {
    let site = ctx.lock();
    let result = api
        .policy(api.can_read(), "servers:index")
        .and_then(|()| server_page(&api, &site, &query, "servers"))
        .map(|(servers, links)| model::ServersList {
            servers: servers
                .into_iter()
                .map(|server| model::ServerSummary {
                    id: server.id.clone(),
                    name: server.name.clone(),
                    links: api.links("servers", &server.id),
                })
                .collect(),
            servers_links: links,
        });
    drop(site);
    api.done(StatusCode::OK, result)
}

pub(super) async fn servers_detail(
    State(ctx): State<SiteContext>,
    api: Api,
    Query(query): Query<Vec<(String, String)>>,
) -> Response {
    let site = ctx.lock();
    let result = api
        .policy(api.can_read(), "servers:detail")
        .and_then(|()| server_page(&api, &site, &query, "servers/detail"))
        .map(|(servers, links)| model::ServersDetailList {
            servers: servers
                .into_iter()
                .map(|server| server_view(&site, &api, server, false))
                .collect(),
            servers_links: links,
        });
    drop(site);
    api.done(StatusCode::OK, result)
}

/// The server the caller may see, or Nova's 404.
pub(super) fn find_server<'a>(
    site: &'a Site,
    api: &Api,
    server_id: &str,
) -> Result<&'a Server, Failure> {
    site.compute
        .servers
        .get(server_id)
        .filter(|server| api.sees(&server.project_id))
        .ok_or_else(|| {
            fail(
                StatusCode::NOT_FOUND,
                format!("Instance {server_id} could not be found."),
            )
        })
}

pub(super) async fn server_show(
    State(ctx): State<SiteContext>,
    api: Api,
    Path(server_id): Path<String>,
) -> Response {
    let site = ctx.lock();
    let result = find_server(&site, &api, &server_id).and_then(|server| {
        api.policy(api.can_read(), "servers:show")?;
        Ok(model::ServerResponse {
            server: server_view(&site, &api, server, true),
        })
    });
    drop(site);
    api.done(StatusCode::OK, result)
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use crate::fixture;
    use axum::http::StatusCode;
    use protector_wire::nova as model;
    use serde_json::json;
    use std::collections::HashSet;

    #[tokio::test]
    async fn fixture_servers_list_show_and_page() {
        let twin = Twin::new(1.0);
        let reply = twin.nova("GET", "/servers/detail", "2.100", None).await;
        assert_eq!(reply.status, StatusCode::OK);
        let list: model::ServersDetailList = serde_json::from_value(reply.body.clone()).unwrap();
        assert_eq!(list.servers.len(), 3);
        assert!(list.servers_links.is_none());
        let db = list.servers.iter().find(|s| s.name == "db-1").unwrap();
        assert_eq!(db.status, "ACTIVE");
        assert_eq!(db.metadata["tier"], "db");
        assert_eq!(db.volumes_attached.len(), 2);
        let (network, address) = db.fixed_ips().next().unwrap();
        assert_eq!(
            (network, address.addr.as_str()),
            ("net-primary-db", "10.10.2.10")
        );
        assert!(address.mac_addr.starts_with("fa:16:3e:"));
        assert!(
            matches!(db.flavor, model::ServerFlavor::Embedded(ref f) if f.original_name == "m1.large")
        );
        assert!(db.launched_at.is_some());
        assert_eq!(
            db.host.clone().flatten().as_deref(),
            Some("site-a-compute-1")
        );
        assert_eq!(db.availability_zone, "az-1");
        assert_eq!(
            db.tags.as_deref(),
            Some(&["db".to_string(), "critical".to_string()][..])
        );
        assert_eq!(db.description, Some(Some("PostgreSQL primary".to_string())));
        assert_eq!(db.host_id.len(), 56);
        let groups: Vec<&str> = db
            .security_groups
            .iter()
            .flatten()
            .map(|g| g.name.as_str())
            .collect();
        assert_eq!(groups, ["default", "db", "db-admin"]);
        assert!(db.fault.is_none());
        assert_eq!(db.pinned_availability_zone, Some(None));
        assert_eq!(reply.body["servers"][0]["image"], "");

        // 2.1: flavor by reference, no microversioned fields.
        let reply = twin
            .nova("GET", &format!("/servers/{}", db.id), "2.1", None)
            .await;
        let show: model::ServerResponse = serde_json::from_value(reply.body.clone()).unwrap();
        assert!(matches!(
            show.server.flavor,
            model::ServerFlavor::Reference(_)
        ));
        assert!(reply.body["server"].get("locked").is_none());
        assert!(
            reply.body["server"]["os-extended-volumes:volumes_attached"][0]
                .get("delete_on_termination")
                .is_none()
        );

        // Pages of one, newest first, each with a `next` link carrying the request's parameters.
        let mut seen = Vec::new();
        let mut path = "/servers/detail?limit=1&name=-".to_string();
        loop {
            let reply = twin.nova("GET", &path, "2.100", None).await;
            let page: model::ServersDetailList = serde_json::from_value(reply.body).unwrap();
            seen.extend(page.servers.iter().map(|s| s.name.clone()));
            let Some(links) = page.servers_links else {
                break;
            };
            let href = &links[0].href;
            assert_eq!(links[0].rel, "next");
            assert!(
                href.starts_with("http://twin.test/compute/v2.1/servers/detail?limit=1&marker="),
                "{href}"
            );
            assert!(href.ends_with("&name=-"), "{href}");
            path = href
                .trim_start_matches("http://twin.test/compute/v2.1")
                .to_string();
        }
        seen.sort();
        assert_eq!(seen, ["db-1", "web-1", "web-2"]);

        let reply = twin.nova("GET", "/servers?marker=nope", "2.1", None).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        assert_eq!(
            reply.body["badRequest"]["message"],
            "marker [nope] not found"
        );

        let reply = twin
            .nova(
                "GET",
                "/servers/5b9f5d3c-0000-4000-8000-000000000000",
                "2.1",
                None,
            )
            .await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND);
        assert_eq!(
            reply.body,
            json!({"itemNotFound": {"code": 404, "message": "Instance 5b9f5d3c-0000-4000-8000-000000000000 could not be found."}})
        );
    }

    #[tokio::test]
    async fn filters_follow_nova() {
        let twin = Twin::new(1.0);
        let names = |reply: Reply| -> Vec<String> {
            let mut names: Vec<String> = reply.body["servers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s["name"].as_str().unwrap().to_string())
                .collect();
            names.sort();
            names
        };
        assert_eq!(
            names(twin.nova("GET", "/servers?name=web", "2.1", None).await),
            ["web-1", "web-2"]
        );
        assert_eq!(
            names(twin.nova("GET", "/servers?name=%5Edb", "2.1", None).await),
            ["db-1"]
        );
        assert_eq!(
            names(
                twin.nova("GET", "/servers?name=WEB-%5B2-9%5D%24", "2.1", None)
                    .await
            ),
            ["web-2"]
        );
        assert_eq!(
            names(
                twin.nova(
                    "GET",
                    "/servers/detail?status=active&ip=10%5C.10%5C.1%5C.",
                    "2.1",
                    None
                )
                .await
            ),
            ["web-1", "web-2"]
        );
        assert!(
            names(
                twin.nova("GET", "/servers?status=SHUTOFF", "2.1", None)
                    .await
            )
            .is_empty()
        );
        // Unknown status: an empty list before 2.38, a 400 since.
        let reply = twin
            .nova("GET", "/servers?status=bogus", "2.37", None)
            .await;
        assert_eq!(reply.status, StatusCode::OK);
        assert!(names(reply).is_empty());
        let reply = twin
            .nova("GET", "/servers?status=bogus", "2.38", None)
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        assert_eq!(reply.body["badRequest"]["message"], "Invalid status value");
        // Unknown parameters: ignored before 2.75, a 400 since.
        assert_eq!(
            twin.nova("GET", "/servers?foo=1", "2.74", None)
                .await
                .status,
            StatusCode::OK
        );
        assert_eq!(
            twin.nova("GET", "/servers?foo=1", "2.75", None)
                .await
                .status,
            StatusCode::BAD_REQUEST
        );
        let future = (chrono::Utc::now() + chrono::Duration::hours(1)).format("%Y-%m-%dT%H:%M:%SZ");
        assert!(
            names(
                twin.nova(
                    "GET",
                    &format!("/servers?changes-since={future}"),
                    "2.1",
                    None
                )
                .await
            )
            .is_empty()
        );
        assert_eq!(
            names(
                twin.nova(
                    "GET",
                    "/servers?changes-since=2000-01-01T00:00:00Z",
                    "2.1",
                    None
                )
                .await
            )
            .len(),
            3
        );
        let reply = twin
            .nova("GET", "/servers?changes-since=yesterday", "2.1", None)
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        // all_tenants needs admin.
        let reply = twin
            .call(
                "GET",
                "/compute/v2.1/servers/detail?all_tenants=1",
                &[("x-auth-token", "member-token")],
                None,
            )
            .await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN);
        assert_eq!(
            reply.body["forbidden"]["message"],
            "Policy doesn't allow os_compute_api:servers:detail:get_all_tenants to be performed."
        );
    }

    #[tokio::test]
    async fn a_thousand_servers_list_in_pages() {
        let twin = Twin::from_fixture(&fixture::generate(1000, 3), 1.0);
        let reply = twin.nova("GET", "/servers/detail", "2.100", None).await;
        let list: model::ServersDetailList = serde_json::from_value(reply.body).unwrap();
        assert_eq!(list.servers.len(), 1000);
        assert!(
            list.servers_links.is_some(),
            "a full page of max_limit has a next link"
        );
        let mut seen = HashSet::new();
        let mut path = "/servers?limit=250".to_string();
        loop {
            let reply = twin.nova("GET", &path, "2.1", None).await;
            let page: model::ServersList = serde_json::from_value(reply.body).unwrap();
            seen.extend(page.servers.into_iter().map(|s| s.id));
            match page.servers_links {
                Some(links) => {
                    path = links[0]
                        .href
                        .trim_start_matches("http://twin.test/compute/v2.1")
                        .to_string()
                }
                None => break,
            }
        }
        assert_eq!(seen.len(), 1000);
    }
}
