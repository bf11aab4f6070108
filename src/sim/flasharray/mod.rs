//! The simulated FlashArray: one per site, served over HTTPS on its own port with the REST 2.x
//! API. `state` is its data, `replication` moves protection-group snapshots between arrays.

pub mod api;
pub mod replication;
pub mod state;

use std::time::Instant;

use super::world::Site;

/// Brings replication transfers arriving at this site's array up to date: a transfer advances
/// only while its source array's site and this site are both up.
pub fn advance(site: &mut Site, now: Instant, peer_array_up: &dyn Fn(&str) -> bool) {
    let completed_ms = site.clock.wall_ms();
    for snapshot in site.array.protection_group_snapshots.values_mut() {
        let Some(transfer) = snapshot.transfer.as_mut() else {
            continue;
        };
        if transfer.completed.is_some() {
            continue;
        }
        let since = transfer
            .updated
            .map_or(std::time::Duration::ZERO, |updated| {
                now.saturating_duration_since(updated)
            });
        transfer.updated = Some(now);
        if !peer_array_up(&transfer.peer) {
            continue;
        }
        transfer.remaining = transfer.remaining.saturating_sub(since);
        transfer.progress = if transfer.total.is_zero() {
            1.0
        } else {
            1.0 - transfer.remaining.as_secs_f64() / transfer.total.as_secs_f64()
        };
        if transfer.remaining.is_zero() {
            transfer.progress = 1.0;
            transfer.completed = Some(completed_ms);
        }
    }
}
