//! Effects on the FlashArray's protection groups and replication: a snapshot replicated now
//! and waited for on the target, members added, taken out and retired, schedules, targets, and
//! replication set up back to the old primary.

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::json;

use super::wait::find_or_make;
use super::{SiteRunner, text};
use crate::apply::executor::Created;
use crate::clients::flasharray::model as fa;
use crate::clients::http::{ClientError, ErrorKind};

/// Volumes named in one call that adds members to a protection group (a URL stays well under
/// 8 KiB).
const MEMBERS_PER_CALL: usize = 100;

impl SiteRunner<'_> {
    /// The suffix of the protection-group snapshot this operation takes: unique per operation,
    /// so a resumed run finds the one it already took.
    fn snapshot_suffix(&self) -> String {
        let short: String = self
            .operation()
            .trim_start_matches("op-")
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .take(12)
            .collect();
        format!("protector-{short}")
    }

    pub(super) async fn snapshot_and_replicate(
        &self,
        site: &str,
        protection_group: &str,
        target_array: &str,
    ) -> Result<Created, String> {
        let source = self.array(site).await?;
        let suffix = self.snapshot_suffix();
        let name = format!("{protection_group}.{suffix}");
        find_or_make(
            async || {
                let taken: Vec<fa::ProtectionGroupSnapshot> =
                    found(source.list("protection-group-snapshots", &[("names", &name)]).await)?;
                Ok((!taken.is_empty()).then_some(()))
            },
            async || {
                source
                    .call(
                        Method::POST,
                        &format!(
                            "protection-group-snapshots?source_names={protection_group}&replicate_now=true"
                        ),
                        Some(json!({ "suffix": suffix })),
                        false,
                    )
                    .await
                    .map(drop)
            },
        )
        .await?;
        let replicated = format!("{}:{name}", source.name);
        let target_site = self.site_of_array(target_array)?;
        let target = self.array(&target_site).await?;
        let poll = self.poll(
            "transfer",
            format!("snapshot {replicated} to reach {}", target.name),
        );
        loop {
            let transfers: Vec<fa::SnapshotTransfer> = found(
                target
                    .list(
                        "protection-group-snapshots/transfer",
                        &[("names", replicated.as_str())],
                    )
                    .await,
            )?;
            if transfers
                .iter()
                .any(|t| t.completed.is_some() || t.progress.unwrap_or(0.0) >= 1.0)
            {
                break;
            }
            // A transfer whose source is lost never ends: say so now rather than at the step's
            // timeout, so that the way forward (an unplanned failover) is taken in time.
            if let Err(error) = source
                .list::<fa::ProtectionGroupSnapshot>(
                    "protection-group-snapshots",
                    &[("names", name.as_str())],
                )
                .await
                && matches!(error.kind, ErrorKind::Unreachable | ErrorKind::Timeout)
            {
                return Err(format!(
                    "the array of {site} became unreachable while {replicated} was on its way to {}: {error}",
                    target.name
                ));
            }
            poll.wait().await?;
        }
        poll.settled();
        Ok(Created::from([(
            "protection_group_snapshot".to_string(),
            replicated,
        )]))
    }

    /// Takes the array volume with id `id` out of protection group `group`, if it is in it: a
    /// volume about to be destroyed must not stay a member that replicates.
    pub(super) async fn leave_group(
        &self,
        site: &str,
        group: &str,
        id: &str,
    ) -> Result<(), String> {
        let Some(name) = self
            .array_volume(site, "ids", id)
            .await?
            .and_then(|v| v.name)
        else {
            return Ok(());
        };
        let members = match self.array(site).await?.group_volumes(group).await {
            Ok(members) => members,
            Err(error) if error.message.contains("does not exist") => return Ok(()),
            Err(error) => return Err(text(error)),
        };
        if !members.contains(&name) {
            return Ok(());
        }
        self.array_call(
            site,
            Method::DELETE,
            &format!("protection-groups/volumes?group_names={group}&member_names={name}"),
            None,
        )
        .await
    }

    pub(super) async fn ensure_group(&self, site: &str, group: &str) -> Result<(), String> {
        self.array_ensure(
            site,
            Method::POST,
            &format!("protection-groups?names={group}"),
            None,
        )
        .await
    }

    /// Adds the volumes that are not members yet, many per call (one call per volume kept a
    /// 1,500-volume group busy for minutes), then checks that all are.
    pub(super) async fn add_volumes(
        &self,
        site: &str,
        group: &str,
        volumes: &[String],
    ) -> Result<(), String> {
        let array = self.array(site).await?;
        let missing = async || -> Result<Vec<&String>, String> {
            let members: BTreeSet<String> = array
                .group_volumes(group)
                .await
                .map_err(text)?
                .into_iter()
                .collect();
            Ok(volumes.iter().filter(|v| !members.contains(*v)).collect())
        };
        for batch in missing().await?.chunks(MEMBERS_PER_CALL) {
            let names: Vec<&str> = batch.iter().map(|v| v.as_str()).collect();
            self.array_ensure(
                site,
                Method::POST,
                &format!(
                    "protection-groups/volumes?group_names={group}&member_names={}",
                    names.join(",")
                ),
                None,
            )
            .await?;
        }
        match missing().await?.as_slice() {
            [] => Ok(()),
            left => Err(format!(
                "{} volumes are still not members of protection group {group} on {site} after adding them, {} first",
                left.len(),
                left[0]
            )),
        }
    }

    pub(super) async fn set_schedule(
        &self,
        site: &str,
        group: &str,
        frequency_ms: u64,
    ) -> Result<(), String> {
        self.array_call(
            site,
            Method::PATCH,
            &format!("protection-groups?names={group}"),
            Some(json!({
                "replication_schedule": { "enabled": true, "frequency": frequency_ms }
            })),
        )
        .await
    }

    /// Takes `volumes` out of `group` (those still in it: a continued step finds fewer), then
    /// stops the group's schedule when asked.
    pub(super) async fn retire(
        &self,
        site: &str,
        group: &str,
        volumes: &[String],
        disable_replication: bool,
    ) -> Result<Created, String> {
        let array = self.array(site).await?;
        let members: BTreeSet<String> = array
            .group_volumes(group)
            .await
            .map_err(text)?
            .into_iter()
            .collect();
        let leaving: Vec<&str> = volumes
            .iter()
            .filter(|volume| members.contains(*volume))
            .map(String::as_str)
            .collect();
        for batch in leaving.chunks(MEMBERS_PER_CALL) {
            let path = format!(
                "protection-groups/volumes?group_names={group}&member_names={}",
                batch.join(",")
            );
            match array.call(Method::DELETE, &path, None, true).await {
                Ok(_) => {}
                // A lost answer retried: it is out already.
                Err(error) if error.message.contains("not a member") => {}
                Err(error) => return Err(text(error)),
            }
        }
        if disable_replication {
            self.array_call(
                site,
                Method::PATCH,
                &format!("protection-groups?names={group}"),
                Some(json!({ "replication_schedule": { "enabled": false } })),
            )
            .await?;
        }
        Ok(Created::from([("retired".to_string(), leaving.join(","))]))
    }

    pub(super) async fn add_target(
        &self,
        site: &str,
        group: &str,
        target_array: &str,
    ) -> Result<(), String> {
        self.array_ensure(
            site,
            Method::POST,
            &format!("protection-groups/targets?group_names={group}&member_names={target_array}"),
            None,
        )
        .await
    }

    /// On a target array: accept replication of `group` (`<source array>:<group>`).
    pub(super) async fn allow(&self, site: &str, group: &str) -> Result<(), String> {
        self.array_ensure(
            site,
            Method::PATCH,
            &format!("protection-groups/targets?group_names={group}"),
            Some(json!({ "allowed": true })),
        )
        .await
    }

    /// Replication from this site's array back to `target_array`: the group with the volumes
    /// the operation created, the target added, and allowed there when that site answers.
    pub(super) async fn configure_replication(
        &self,
        site: &str,
        group: &str,
        volumes: &[String],
        target_array: &str,
    ) -> Result<Created, String> {
        self.ensure_group(site, group).await?;
        self.add_volumes(site, group, volumes).await?;
        self.add_target(site, group, target_array).await?;
        self.set_schedule(site, group, self.spec.policy.rpo.as_millis() as u64)
            .await?;
        let array = self.array(site).await?.name.clone();
        let mut created = Created::from([("protection_group".to_string(), group.to_string())]);
        // When the old primary is down (an unplanned failover, or one that lost its source),
        // replication back is allowed there by `sync-force` once it returns, not waited for now.
        let allowed = match self.site_of_array(target_array) {
            Ok(peer) if self.unreachable.contains(&peer) => {
                Err("the old primary is down".to_string())
            }
            Ok(peer) => self.allow(&peer, &format!("{array}:{group}")).await,
            Err(error) => Err(error),
        };
        created.insert("allowed_on_target".to_string(), allowed.is_ok().to_string());
        Ok(created)
    }
}

/// What a list found: one that names an object the array does not have is an error on a
/// FlashArray; here it found nothing.
fn found<T>(listed: Result<Vec<T>, ClientError>) -> Result<Vec<T>, String> {
    match listed {
        Err(error) if error.message.contains("does not exist") => Ok(Vec::new()),
        other => other.map_err(text),
    }
}
