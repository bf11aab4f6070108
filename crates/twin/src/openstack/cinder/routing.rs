//! Routing: one handler for every `/volume` path (Cinder routes by path segments and method), the call's context.

use super::{call::*, list::*, manage::*, pools::*, quotas::*, request::*, views::*, volumes::*};
use crate::openstack::auth;
use crate::world::Site;
use crate::world::SiteContext;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{OriginalUri, Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use protector_wire::cinder as wire;
use std::collections::BTreeMap;

pub fn routes() -> Router<SiteContext> {
    Router::new()
        .route("/", any(dispatch))
        .route("/{*path}", any(dispatch))
}

/// The one handler behind every Cinder path (it routes by itself, to answer unknown paths and
/// methods with Cinder's faults). `openstack::router()` may also mount it at `/volume/`: axum
/// maps the nested `/` to `/volume` only.
pub async fn dispatch(
    State(ctx): State<SiteContext>,
    method: Method,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut site = ctx.lock();
    handle(&mut site, &method, &uri, &headers, &body)
}

/// One request, with the site locked.
pub(super) fn handle(
    site: &mut Site,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &Bytes,
) -> Response {
    let path = uri.path();
    let rest = path.strip_prefix("/volume").unwrap_or(path);
    let segments: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    let base = base_url(site, headers);
    match segments.as_slice() {
        [] if method == Method::GET => json(
            StatusCode::MULTIPLE_CHOICES,
            &wire::VersionsList {
                versions: vec![version_document(&base)],
            },
        ),
        ["v3"] if method == Method::GET => json(
            StatusCode::OK,
            &wire::VersionsList {
                versions: vec![version_document(&base)],
            },
        ),
        ["v3", project, rest @ ..] => {
            let token = match auth::token(site, headers) {
                Ok(token) => token,
                Err(unauthorized) => return unauthorized.into_response(),
            };
            let version = match microversion(headers) {
                Ok(version) => version,
                Err(error) => return error.into_response(),
            };
            let query = Query::<Vec<(String, String)>>::try_from_uri(uri)
                .map(|Query(pairs)| pairs)
                .unwrap_or_default();
            let admin = token.roles.iter().any(|role| role == "admin");
            let call = Call {
                method: method.clone(),
                query,
                body: body.clone(),
                version,
                admin,
                base,
                token,
            };
            let mut response = if *project != call.token.project_id.as_str() {
                CinderError::bad_request("Malformed request url").into_response()
            } else {
                let rest: Vec<String> = rest.iter().map(|s| percent_decode(s)).collect();
                let rest: Vec<&str> = rest.iter().map(String::as_str).collect();
                route(site, &call, &rest).unwrap_or_else(IntoResponse::into_response)
            };
            let headers = response.headers_mut();
            if let Ok(value) = HeaderValue::from_str(&format!("volume 3.{version}")) {
                headers.insert("openstack-api-version", value);
            }
            headers.insert(
                header::VARY,
                HeaderValue::from_static("OpenStack-API-Version"),
            );
            response
        }
        [] | ["v3"] => CinderError::new(405, "The method is not allowed for the requested URL.")
            .into_response(),
        _ => CinderError::not_found().into_response(),
    }
}

pub(super) fn route(site: &mut Site, call: &Call, rest: &[&str]) -> Result<Response, CinderError> {
    let method = &call.method;
    let get = method == Method::GET;
    let post = method == Method::POST;
    let put = method == Method::PUT;
    let delete = method == Method::DELETE;
    match rest {
        ["volumes"] if get => list_volumes(site, call, false),
        ["volumes", "detail"] if get => list_volumes(site, call, true),
        ["volumes"] if post => create_volume(site, call),
        ["volumes", id] if get => show_volume(site, call, id),
        ["volumes", id] if put => update_volume(site, call, id),
        ["volumes", id] if delete => delete_volume(site, call, id),
        ["volumes", id, "action"] if post => volume_action(site, call, id),
        ["volumes", id, "metadata"] if get => {
            let volume = visible(site, call, id)?;
            Ok(json(
                StatusCode::OK,
                &wire::VolumeMetadata {
                    metadata: volume.metadata.clone(),
                },
            ))
        }
        ["volumes", id, "metadata"] if post || put => set_metadata(site, call, id, put),
        ["volumes", id, "metadata", key] if get => {
            let volume = visible(site, call, id)?;
            let value = volume
                .metadata
                .get(*key)
                .ok_or_else(|| metadata_not_found(id, key))?;
            Ok(json(
                StatusCode::OK,
                &wire::VolumeMetadataItem {
                    meta: BTreeMap::from([(key.to_string(), value.clone())]),
                },
            ))
        }
        ["volumes", id, "metadata", key] if put => set_metadata_item(site, call, id, key),
        ["volumes", id, "metadata", key] if delete => {
            visible(site, call, id)?;
            call.require_writer("volume:delete_volume_metadata")?;
            let wall = site.clock.wall();
            let volume = site
                .block
                .volumes
                .get_mut(*id)
                .ok_or_else(|| CinderError::volume_not_found(id))?;
            volume
                .metadata
                .remove(*key)
                .ok_or_else(|| metadata_not_found(id, key))?;
            volume.updated_at = wall;
            Ok(empty(StatusCode::OK))
        }
        ["types"] if get => {
            let mut types: Vec<&crate::openstack::state::VolumeType> =
                site.block.volume_types.values().collect();
            types.sort_by(|a, b| a.name.cmp(&b.name));
            Ok(json(
                StatusCode::OK,
                &wire::VolumeTypesList {
                    volume_types: types
                        .into_iter()
                        .map(|t| type_view(t, call.admin))
                        .collect(),
                },
            ))
        }
        ["types", id] if get => {
            let volume_type = if *id == "default" {
                default_type(site)
            } else {
                site.block.volume_types.get(*id)
            }
            .ok_or_else(|| {
                CinderError::new(404, format!("Volume type {id} could not be found."))
            })?;
            Ok(json(
                StatusCode::OK,
                &wire::VolumeTypeResponse {
                    volume_type: type_view(volume_type, call.admin),
                },
            ))
        }
        ["scheduler-stats", "get_pools"] if get => get_pools(site, call),
        ["os-services"] if get => list_services(site, call),
        ["manageable_volumes"] if get => list_manageable(site, call, false, true),
        ["manageable_volumes", "detail"] if get => list_manageable(site, call, true, true),
        ["manageable_volumes"] if post => manage(site, call, true),
        ["os-volume-manage"] if get => list_manageable(site, call, false, false),
        ["os-volume-manage", "detail"] if get => list_manageable(site, call, true, false),
        ["os-volume-manage"] if post => manage(site, call, false),
        ["os-quota-sets", target] if get => show_quotas(site, call, target),
        _ => Err(CinderError::not_found()),
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use axum::http::StatusCode;
    use protector_wire::cinder as wire;

    #[tokio::test]
    async fn version_documents_need_no_token() {
        let twin = Twin::new("site-a");
        // (`/volume/` with the slash needs a route in `openstack::router()`: axum maps the
        // nested `/` to `/volume` only.)
        let (status, _, body) = twin.call("GET", "/volume", None, None, None).await;
        assert_eq!(status, StatusCode::MULTIPLE_CHOICES);
        assert_eq!(body["versions"][0]["id"], "v3.0");
        assert_eq!(body["versions"][0]["version"], "3.71");
        assert_eq!(body["versions"][0]["min_version"], "3.0");
        let (status, _, body) = twin.call("GET", "/volume/v3/", None, None, None).await;
        assert_eq!(status, StatusCode::OK);
        let parsed: wire::VersionsList = serde_json::from_value(body.clone()).unwrap();
        assert_eq!(
            parsed.versions[0].links[1].href,
            "http://cinder.test/volume/v3/"
        );
        let (status, _, _) = twin.call("GET", "/volume/v3", None, None, None).await;
        assert_eq!(status, StatusCode::OK);
    }

    #[tokio::test]
    async fn tokens_projects_and_microversions_are_checked() {
        let twin = Twin::new("site-a");
        let (status, headers, body) = twin
            .call("GET", "/volume/v3/{project}/volumes", None, None, None)
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(body["error"]["code"], 401);
        assert!(headers.contains_key("www-authenticate"));

        let token = twin.token("protector", &["admin", "member"]);
        let (status, _, body) = twin
            .call(
                "GET",
                "/volume/v3/other-project/volumes",
                Some(&token),
                None,
                None,
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["badRequest"]["message"], "Malformed request url");

        let (status, headers, _) = twin
            .call(
                "GET",
                "/volume/v3/{project}/volumes",
                Some(&token),
                None,
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers["openstack-api-version"], "volume 3.0");
        assert_eq!(headers["vary"], "OpenStack-API-Version");
        let (_, headers, _) = twin
            .call(
                "GET",
                "/volume/v3/{project}/volumes",
                Some(&token),
                Some("3.60"),
                None,
            )
            .await;
        assert_eq!(headers["openstack-api-version"], "volume 3.60");
        let (_, headers, _) = twin
            .call(
                "GET",
                "/volume/v3/{project}/volumes",
                Some(&token),
                Some("latest"),
                None,
            )
            .await;
        assert_eq!(headers["openstack-api-version"], "volume 3.71");
        let (status, _, body) = twin
            .call(
                "GET",
                "/volume/v3/{project}/volumes",
                Some(&token),
                Some("3.99"),
                None,
            )
            .await;
        assert_eq!(status.as_u16(), 406);
        assert_eq!(
            body["computeFault"]["message"],
            "Version 3.99 is not supported by the API. Minimum is 3.0 and maximum is 3.71."
        );
        let (status, _, _) = twin
            .call(
                "GET",
                "/volume/v3/{project}/nothing-here",
                Some(&token),
                None,
                None,
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
}
