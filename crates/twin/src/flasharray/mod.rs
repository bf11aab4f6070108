//! The simulated FlashArray: one per site, served over HTTPS on its own port with the REST 2.x
//! API. `state` is its data, `replication` takes protection-group snapshots and moves them
//! between arrays, `api` serves the REST API and `query` its list machinery (filters, sorting,
//! pages).

pub mod api;
pub mod query;
pub mod replication;
pub mod state;

use std::time::Instant;

use super::world::Site;

/// Brings the array of `site` up to date at `now`: replication transfers (on both ends) advance
/// only while this array's site and the peer's site are both up; destroyed objects whose time
/// in the destroyed bin is over are eradicated.
pub fn advance(site: &mut Site, now: Instant, peer_array_up: &dyn Fn(&str) -> bool) {
    let completed_ms = site.clock.wall_ms();
    let this_up = peer_array_up(&site.array.name);
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
        if !this_up || !peer_array_up(&transfer.peer) {
            continue;
        }
        let overshoot = since.saturating_sub(transfer.remaining);
        transfer.remaining = transfer.remaining.saturating_sub(since);
        transfer.progress = if transfer.total.is_zero() {
            1.0
        } else {
            1.0 - transfer.remaining.as_secs_f64() / transfer.total.as_secs_f64()
        };
        if transfer.remaining.is_zero() {
            transfer.progress = 1.0;
            // When it really finished, not when someone looked.
            transfer.completed = Some(completed_ms - overshoot.as_millis() as i64);
        }
    }
    if !site.array.destroyed_at.is_empty() {
        let speed = site.clock.speed();
        site.array.eradicate_expired(now, speed);
    }
}
