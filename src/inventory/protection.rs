//! Whether the group is protected now: the replica site's array holds a completely
//! transferred snapshot of the current primary's protection group with a copy of every
//! member's array volume. `IN SYNC` records say nothing about that: a failback that added new
//! volumes to the group leaves it unprotected until one snapshot of them has arrived.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::ArrayFacts;

/// The group's protection as the arrays report it.
#[derive(Debug, Clone, PartialEq)]
pub enum Protection {
    /// `snapshot` (taken at `since`) is complete on `array` and copies every member's volume:
    /// an unplanned failover would recover from it.
    Protected {
        since: DateTime<Utc>,
        snapshot: String,
        array: String,
    },
    /// No snapshot an unplanned failover could recover from.
    Unprotected { reason: String },
    /// The replica's array could not be asked.
    Unknown { reason: String },
}

impl Protection {
    /// One line for tables and JSON: the time, or the state with its reason.
    pub fn label(&self) -> String {
        match self {
            Protection::Protected { since, .. } => {
                since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            }
            Protection::Unprotected { reason } => format!("UNPROTECTED: {reason}"),
            Protection::Unknown { reason } => format!("unknown: {reason}"),
        }
    }
}

/// The protection of the group whose `group` on `primary_array` replicates to the replica
/// site's array (`replica`, as read, or why it could not be), given the array volumes that
/// hold the members' data on the primary.
pub fn protection(
    primary_array: &str,
    group: &str,
    replica: Result<&ArrayFacts, &str>,
    member_volumes: &[&str],
) -> Protection {
    let replica = match replica {
        Ok(replica) => replica,
        Err(error) => {
            return Protection::Unknown {
                reason: error.to_string(),
            };
        }
    };
    if member_volumes.is_empty() {
        return Protection::Unknown {
            reason: "no member's volumes are recorded yet: apply a plan first".to_string(),
        };
    }
    let replicated = format!("{primary_array}:{group}.");
    let newest = replica
        .replicated_snapshots
        .iter()
        .filter(|snapshot| snapshot.name.starts_with(&replicated) && snapshot.is_complete())
        .max_by_key(|snapshot| snapshot.created_ms);
    let Some(newest) = newest else {
        return Protection::Unprotected {
            reason: format!(
                "{} holds no completely transferred snapshot of {primary_array}:{group}",
                replica.name
            ),
        };
    };
    let missing: Vec<&str> = member_volumes
        .iter()
        .copied()
        .filter(|volume| !newest.volumes.contains_key(*volume))
        .collect();
    if !missing.is_empty() {
        return Protection::Unprotected {
            reason: format!(
                "{} on {} has no copy of {}: wait for the next replication, or take one now with a failback's --reverse-replication or sync-force",
                newest.name,
                replica.name,
                missing.join(", ")
            ),
        };
    }
    match DateTime::<Utc>::from_timestamp_millis(newest.created_ms) {
        Some(since) => Protection::Protected {
            since,
            snapshot: newest.name.clone(),
            array: replica.name.clone(),
        },
        None => Protection::Unknown {
            reason: format!("{} reports no creation time", newest.name),
        },
    }
}

/// The array volumes of every member, from the recorded members.
pub fn member_volumes(members: &BTreeMap<String, crate::state::MemberRecord>) -> Vec<&str> {
    members
        .values()
        .flat_map(|member| member.array_volumes.iter().map(String::as_str))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::ReplicatedSnapshot;

    fn replica(snapshots: Vec<ReplicatedSnapshot>) -> ArrayFacts {
        ArrayFacts {
            name: "fa-b".to_string(),
            protection_groups: Vec::new(),
            replicated_snapshots: snapshots,
            volumes: Vec::new(),
            clock_offset_ms: None,
        }
    }

    fn snapshot(
        suffix: &str,
        created_ms: i64,
        progress: f64,
        volumes: &[&str],
    ) -> ReplicatedSnapshot {
        let name = format!("fa-a:pg.{suffix}");
        ReplicatedSnapshot {
            volumes: volumes
                .iter()
                .map(|v| (v.to_string(), format!("{name}.{v}")))
                .collect(),
            name,
            created_ms,
            progress,
            completed_ms: (progress >= 1.0).then_some(created_ms + 1000),
        }
    }

    #[test]
    fn the_newest_complete_snapshot_with_every_volume_protects() {
        let array = replica(vec![
            snapshot("3", 3_000_000, 0.5, &["v1", "v2"]),
            snapshot("2", 2_000_000, 1.0, &["v1", "v2"]),
        ]);
        let found = protection("fa-a", "pg", Ok(&array), &["v1", "v2"]);
        assert_eq!(
            found,
            Protection::Protected {
                since: DateTime::from_timestamp_millis(2_000_000).unwrap(),
                snapshot: "fa-a:pg.2".to_string(),
                array: "fa-b".to_string(),
            }
        );
    }

    #[test]
    fn a_volume_the_newest_snapshot_lacks_leaves_the_group_unprotected() {
        let array = replica(vec![snapshot("2", 2_000_000, 1.0, &["v1"])]);
        let found = protection("fa-a", "pg", Ok(&array), &["v1", "v2"]);
        assert!(
            matches!(&found, Protection::Unprotected { reason } if reason.contains("v2")),
            "{found:?}"
        );
        assert!(found.label().starts_with("UNPROTECTED"));
    }

    #[test]
    fn no_complete_snapshot_or_no_answer() {
        let array = replica(vec![snapshot("2", 2_000_000, 0.2, &["v1"])]);
        assert!(matches!(
            protection("fa-a", "pg", Ok(&array), &["v1"]),
            Protection::Unprotected { .. }
        ));
        assert!(matches!(
            protection("fa-a", "pg", Err("fa-b is unreachable"), &["v1"]),
            Protection::Unknown { .. }
        ));
    }
}
