//! Project quotas: what counts, the check before a create or manage, `os-quota-sets`.

use super::{call::*, request::*};
use crate::openstack::state::{Volume, VolumeStatus};
use crate::world::Site;
use axum::http::StatusCode;
use axum::response::Response;
use protector_wire::cinder as wire;
use std::collections::BTreeMap;

/// The volumes of `project` that count against its quota. A manage counts once it succeeds:
/// Cinder's volume manager reserves and commits the quota inside its manage flow, so a volume
/// waiting to be managed holds none, and one whose manage failed never does.
pub(super) fn quota_volumes<'a>(
    site: &'a Site,
    project: &'a str,
) -> impl Iterator<Item = &'a Volume> {
    site.block
        .volumes
        .values()
        .filter(move |volume| volume.project_id == project)
        .filter(|volume| {
            !matches!(
                volume.status,
                VolumeStatus::Managing | VolumeStatus::ErrorManaging
            )
        })
}

/// How many volumes count against `project`'s quota, `except` one.
pub(super) fn quota_usage(site: &Site, project: &str, except: Option<&str>) -> i64 {
    quota_volumes(site, project)
        .filter(|volume| Some(volume.id.as_str()) != except)
        .count() as i64
}

/// `VolumeLimitExceeded` (413) when one more volume would exceed the project's quota.
pub(super) fn check_quota(
    site: &Site,
    project: &str,
    except: Option<&str>,
) -> Result<(), CinderError> {
    let quota = site.block.volume_quota;
    if quota >= 0 && quota_usage(site, project, except) + 1 > quota {
        return Err(CinderError::new(
            413,
            format!(
                "VolumeLimitExceeded: Maximum number of volumes allowed ({quota}) exceeded for \
                 quota 'volumes'."
            ),
        ));
    }
    Ok(())
}

/// `GET /os-quota-sets/{project_id}[?usage=true]`, under `volume_extension:quotas:show` (an
/// admin, or any role on the project itself). The twin enforces only the site's volume count
/// ([`check_quota`]); every other limit is `-1`, so the answer never claims a limit the twin
/// would not apply. Usage counts what [`quota_volumes`] counts; nothing is ever `reserved`,
/// because the twin commits quota in one step. A project Cinder has never seen gets the same
/// limits and no usage, as Cinder answers with the defaults.
pub(super) fn show_quotas(site: &Site, call: &Call, target: &str) -> Result<Response, CinderError> {
    if !call.admin && target != call.project() {
        return Err(CinderError::policy("volume_extension:quotas:show"));
    }
    let mut params = call.query.clone();
    let usage = match take(&mut params, "usage") {
        // `utils.get_bool_param`: strict, `InvalidParameterValue` otherwise.
        Some(value) => parse_bool(&value, true).ok_or_else(|| {
            CinderError::bad_request(format!("Value '{value}' for 'usage' is not a boolean."))
        })?,
        None => false,
    };

    let unlimited = wire::QuotaUsage {
        limit: -1,
        in_use: 0,
        reserved: 0,
        allocated: None,
    };

    let mut volumes = wire::QuotaUsage {
        limit: site.block.volume_quota,
        ..unlimited
    };

    let mut gigabytes = unlimited;
    let mut per_type: BTreeMap<String, wire::QuotaUsage> = BTreeMap::new();
    for volume_type in site.block.volume_types.values() {
        for resource in ["volumes", "snapshots", "gigabytes"] {
            per_type.insert(format!("{resource}_{}", volume_type.name), unlimited);
        }
    }
    for volume in quota_volumes(site, target) {
        let size = volume.size_gb as i64;
        volumes.in_use += 1;
        gigabytes.in_use += size;
        if let Some(count) = per_type.get_mut(&format!("volumes_{}", volume.volume_type)) {
            count.in_use += 1;
        }
        if let Some(count) = per_type.get_mut(&format!("gigabytes_{}", volume.volume_type)) {
            count.in_use += size;
        }
    }
    let quota_set = wire::QuotaSet {
        id: target.to_string(),
        volumes,
        snapshots: unlimited,
        gigabytes,
        backups: unlimited,
        backup_gigabytes: unlimited,
        groups: unlimited,
        per_volume_gigabytes: unlimited,
        per_type,
    };

    Ok(if usage {
        json(StatusCode::OK, &wire::QuotaSetResponse { quota_set })
    } else {
        let quota_set = quota_set.map(|usage| usage.limit);
        json(StatusCode::OK, &wire::QuotaSetResponse { quota_set })
    })
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use axum::http::StatusCode;
    use protector_wire::cinder as wire;
    use serde_json::json;

    #[tokio::test]
    async fn quota_is_a_413_with_retry_after() {
        let twin = Twin::new("site-b");
        let token = twin.token("protector", &["admin", "member"]);
        twin.site().block.volume_quota = 1;
        let create = json!({"volume": {"size": 1}});
        let (status, _, _) = twin
            .call(
                "POST",
                "/volume/v3/{project}/volumes",
                Some(&token),
                None,
                Some(create.clone()),
            )
            .await;
        assert_eq!(status, StatusCode::ACCEPTED);
        let (status, headers, body) = twin
            .call(
                "POST",
                "/volume/v3/{project}/volumes",
                Some(&token),
                None,
                Some(create),
            )
            .await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(headers["retry-after"], "0");
        assert_eq!(
            body,
            json!({"overLimit": {"code": 413, "retryAfter": "0", "message":
                "VolumeLimitExceeded: Maximum number of volumes allowed (1) exceeded for quota \
                 'volumes'."}})
        );
        let parsed: wire::ErrorResponse = serde_json::from_value(body).unwrap();
        assert_eq!(parsed.detail().retry_after.as_deref(), Some("0"));
    }

    #[tokio::test]
    async fn quota_sets_show_limits_and_usage() {
        let twin = Twin::new("site-a");
        let admin = twin.token("protector", &["admin", "member"]);
        let reader = twin.token("viewer", &["reader"]);
        twin.site().block.volume_quota = 10;
        let project = twin.project();
        let path = format!("/volume/v3/{{project}}/os-quota-sets/{project}");
        let (status, _, body) = twin
            .call(
                "GET",
                &format!("{path}?usage=true"),
                Some(&reader),
                None,
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let shown: wire::QuotaSetResponse<wire::QuotaUsage> =
            serde_json::from_value(body.clone()).unwrap();
        let quotas = shown.quota_set;
        assert_eq!(quotas.id, project);
        let usage = |limit, in_use| wire::QuotaUsage {
            limit,
            in_use,
            reserved: 0,
            allocated: None,
        };
        assert_eq!(quotas.volumes, usage(10, 4), "db-1 (2), web-1, web-2");
        assert_eq!(quotas.gigabytes, usage(-1, 40 + 200 + 20 + 20));
        assert_eq!(quotas.snapshots, usage(-1, 0));
        assert_eq!(quotas.per_type["volumes_pure-replicated"], usage(-1, 4));
        assert_eq!(quotas.per_type["gigabytes_pure-replicated"], usage(-1, 280));
        assert_eq!(quotas.per_type["volumes_pure"], usage(-1, 0));
        assert_eq!(
            body["quota_set"]["per_volume_gigabytes"],
            json!({"limit": -1, "in_use": 0, "reserved": 0}),
            "no `allocated`: that was the nested quota driver's"
        );

        // Without usage (or with usage=false): the limits alone.
        for query in ["", "?usage=False"] {
            let (status, _, body) = twin
                .call("GET", &format!("{path}{query}"), Some(&admin), None, None)
                .await;
            assert_eq!(status, StatusCode::OK);
            let limits: wire::QuotaSetResponse<i64> = serde_json::from_value(body).unwrap();
            assert_eq!(limits.quota_set.volumes, 10);
            assert_eq!(limits.quota_set.per_type["gigabytes_pure"], -1);
        }

        // A volume being managed is not counted until its manage succeeds.
        let (status, _, _) = twin
            .call(
                "POST",
                "/volume/v3/{project}/manageable_volumes",
                Some(&admin),
                Some("3.8"),
                Some(json!({"volume": {"host": "site-a@pure#fa-a", "ref": {"source-name": "nothing"}}})),
            )
            .await;
        assert_eq!(status, StatusCode::ACCEPTED);
        let (_, _, body) = twin
            .call("GET", &format!("{path}?usage=1"), Some(&admin), None, None)
            .await;
        assert_eq!(body["quota_set"]["volumes"]["in_use"], 4);

        // Another project's quotas are an admin's to see; a bad `usage` is Cinder's 400.
        let other =
            "/volume/v3/{project}/os-quota-sets/0123456789abcdef0123456789abcdef".to_string();
        let (status, _, body) = twin
            .call(
                "GET",
                &format!("{other}?usage=true"),
                Some(&reader),
                None,
                None,
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(
            body,
            json!({"forbidden": {"code": 403, "message":
                "Policy doesn't allow volume_extension:quotas:show to be performed."}})
        );
        let (status, _, body) = twin
            .call(
                "GET",
                &format!("{other}?usage=true"),
                Some(&admin),
                None,
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["quota_set"]["volumes"]["in_use"], 0);
        let (status, _, body) = twin
            .call(
                "GET",
                &format!("{path}?usage=maybe"),
                Some(&admin),
                None,
                None,
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(
            body,
            json!({"badRequest": {"code": 400, "message":
                "Value 'maybe' for 'usage' is not a boolean."}})
        );
    }
}
