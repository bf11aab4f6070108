//! Time in the twin: the table of modelled latencies and the `--speed` factor that scales them.
//!
//! Every lifecycle step the twin models (a boot, a manage, a replication transfer) takes the
//! time given here divided by the speed, so `--speed 100` turns a 30 s boot into 0.3 s while
//! keeping the ratios between operations realistic. Timestamps in API responses are wall time
//! (only durations are scaled), shifted by the clock offset the control API sets, so a test or
//! a rehearsal can run the sites' clocks ahead of or behind the operator's machine.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;

/// An operation whose duration the twin models.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    /// Any API call: network round trip plus service processing.
    ApiCall,
    /// Nova: BUILD -> ACTIVE for a server booted from volume.
    BootFromVolume,
    /// Nova: ACTIVE -> SHUTOFF (guest shutdown).
    StopServer,
    /// Nova: SHUTOFF -> ACTIVE.
    StartServer,
    /// Nova: server deleted and its volumes detached.
    DeleteServer,
    /// Cinder: creating -> available for a new empty volume.
    CreateVolume,
    /// Cinder: deleting -> gone.
    DeleteVolume,
    /// Cinder: an array volume managed into Cinder (creating -> available).
    ManageVolume,
    /// Cinder: a volume unmanaged (unmanaging -> gone).
    UnmanageVolume,
    /// FlashArray: copy of a snapshot into a volume (metadata only on the array).
    ArrayCopy,
    /// FlashArray: a protection-group snapshot taken.
    ArraySnapshot,
    /// FlashArray: fixed cost of starting a replication transfer.
    ReplicationStart,
    /// FlashArray: replication transfer time per GiB of provisioned volume data.
    ReplicationPerGib,
}

/// The default latencies, at speed 1. Measured on real systems where we could; conservative
/// where we could not (boot from volume dominates every failover, so it is the one to get right).
pub const LATENCIES: &[(Op, Duration, &str)] = &[
    (Op::ApiCall, Duration::from_millis(20), "any API call"),
    (
        Op::BootFromVolume,
        Duration::from_secs(30),
        "server boot from volume to ACTIVE",
    ),
    (
        Op::StopServer,
        Duration::from_secs(10),
        "server stop to SHUTOFF",
    ),
    (
        Op::StartServer,
        Duration::from_secs(10),
        "server start to ACTIVE",
    ),
    (
        Op::DeleteServer,
        Duration::from_secs(5),
        "server delete, volumes detached",
    ),
    (
        Op::CreateVolume,
        Duration::from_secs(3),
        "empty volume to available",
    ),
    (Op::DeleteVolume, Duration::from_secs(3), "volume delete"),
    (
        Op::ManageVolume,
        Duration::from_secs(5),
        "Cinder manage to available",
    ),
    (
        Op::UnmanageVolume,
        Duration::from_secs(2),
        "Cinder unmanage",
    ),
    (
        Op::ArrayCopy,
        Duration::from_millis(500),
        "array snapshot copy to volume",
    ),
    (
        Op::ArraySnapshot,
        Duration::from_millis(500),
        "protection-group snapshot",
    ),
    (
        Op::ReplicationStart,
        Duration::from_secs(5),
        "replication transfer start",
    ),
    (
        Op::ReplicationPerGib,
        Duration::from_secs(2),
        "replication transfer per GiB",
    ),
];

impl Op {
    pub fn base(self) -> Duration {
        LATENCIES
            .iter()
            .find(|(op, _, _)| *op == self)
            .map(|(_, duration, _)| *duration)
            .unwrap_or_default()
    }
}

/// The twin's sense of time. Clones share the offset: every site's clock steps together.
#[derive(Debug, Clone)]
pub struct Clock {
    speed: f64,
    /// Milliseconds the twin's wall clock runs ahead of this machine's (negative: behind).
    offset_ms: Arc<AtomicI64>,
}

impl Clock {
    /// `speed` > 0; 1 is real time.
    pub fn new(speed: f64) -> Self {
        Clock {
            speed: if speed.is_finite() && speed > 0.0 {
                speed
            } else {
                1.0
            },
            offset_ms: Arc::default(),
        }
    }

    pub fn speed(&self) -> f64 {
        self.speed
    }

    pub fn now(&self) -> Instant {
        Instant::now()
    }

    /// How long `op` takes at this speed.
    pub fn latency(&self, op: Op) -> Duration {
        self.scale(op.base())
    }

    /// A real duration at this speed.
    pub fn scale(&self, duration: Duration) -> Duration {
        duration.div_f64(self.speed)
    }

    /// Wall-clock time for API timestamps: this machine's, shifted by the offset.
    pub fn wall(&self) -> chrono::DateTime<chrono::Utc> {
        chrono::Utc::now() + chrono::TimeDelta::milliseconds(self.offset_ms())
    }

    /// The wall clock as an HTTP `Date` header reads (IMF-fixdate, RFC 9110).
    pub fn http_date(&self) -> String {
        self.wall().format("%a, %d %b %Y %H:%M:%S GMT").to_string()
    }

    pub fn offset_ms(&self) -> i64 {
        self.offset_ms.load(Ordering::Relaxed)
    }

    /// Steps the wall clock to this machine's plus `offset_ms`, as NTP steps a clock: what the
    /// twin already holds keeps its timestamps, so a step forward ages it.
    pub fn set_offset_ms(&self, offset_ms: i64) {
        self.offset_ms.store(offset_ms, Ordering::Relaxed);
    }

    /// Wall-clock milliseconds since the epoch (FlashArray timestamps).
    pub fn wall_ms(&self) -> i64 {
        self.wall().timestamp_millis()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_op_has_a_latency() {
        for op in [
            Op::ApiCall,
            Op::BootFromVolume,
            Op::StopServer,
            Op::StartServer,
            Op::DeleteServer,
            Op::CreateVolume,
            Op::DeleteVolume,
            Op::ManageVolume,
            Op::UnmanageVolume,
            Op::ArrayCopy,
            Op::ArraySnapshot,
            Op::ReplicationStart,
            Op::ReplicationPerGib,
        ] {
            assert!(op.base() > Duration::ZERO, "{op:?}");
        }
    }

    #[test]
    fn speed_scales_latencies() {
        let clock = Clock::new(100.0);
        assert_eq!(
            clock.latency(Op::BootFromVolume),
            Duration::from_millis(300)
        );
        assert_eq!(Clock::new(0.0).speed(), 1.0);
    }

    #[test]
    fn an_offset_shifts_the_wall_clock_of_every_clone() {
        let clock = Clock::new(1.0);
        let site = clock.clone();
        clock.set_offset_ms(3 * 3_600_000);
        let ahead = site.wall_ms() - chrono::Utc::now().timestamp_millis();
        assert!(
            (3 * 3_600_000 - 1_000..=3 * 3_600_000).contains(&ahead),
            "{ahead}"
        );
        let date = chrono::DateTime::parse_from_rfc2822(&site.http_date()).unwrap();
        assert!((date.timestamp_millis() - site.wall_ms()).abs() <= 1_000);
        assert!(site.http_date().ends_with(" GMT"), "{}", site.http_date());
    }
}
