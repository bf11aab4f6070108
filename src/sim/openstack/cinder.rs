//! Cinder: volumes, volume types, manage/unmanage of one simulated site.

use std::time::Instant;

use super::state::VolumeStatus;
use crate::sim::world::Site;

/// Applies due volume transitions (creating -> available, deleting/unmanaging -> gone).
pub fn advance(site: &mut Site, now: Instant) {
    let due: Vec<String> = site
        .block
        .volumes
        .values()
        .filter(|volume| {
            volume
                .pending
                .as_ref()
                .is_some_and(|pending| pending.at <= now)
        })
        .map(|volume| volume.id.clone())
        .collect();
    for id in due {
        let Some(volume) = site.block.volumes.get_mut(&id) else {
            continue;
        };
        let Some(pending) = volume.pending.take() else {
            continue;
        };
        volume.status = pending.then;
        volume.updated_at = site.clock.wall();
        if matches!(
            volume.status,
            VolumeStatus::Deleting | VolumeStatus::Unmanaging
        ) {
            site.block.volumes.remove(&id);
        }
    }
}

pub fn routes() -> axum::Router<crate::sim::server::SiteContext> {
    axum::Router::new()
}
