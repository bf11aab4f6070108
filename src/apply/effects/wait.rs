//! Waiting and repeating, shared by every effect: [`Poll`] waits for a resource to settle, with
//! a backoff that learns from the run's earlier waits of the same kind how soon to look;
//! [`find_or_make`] and [`LostAnswers`] look at the site again before a change whose answer
//! was lost is repeated.

use std::cell::Cell;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use super::text;
use crate::clients::http::{ClientError, ErrorKind, RetryPolicy};

/// Whether a failed change may have happened all the same: a gateway that gave up (502, 503,
/// 504), or a call that timed out or was cut off, may have let the service do the work.
fn may_have_happened(error: &ClientError) -> bool {
    matches!(error.status, Some(502..=504))
        || matches!(error.kind, ErrorKind::Timeout | ErrorKind::Unreachable)
}

/// Changes of one step whose answer was lost, counted so a service that keeps failing fails
/// the step after as many tries as the HTTP layer makes.
#[derive(Default)]
pub(super) struct LostAnswers {
    count: u32,
}

impl LostAnswers {
    /// After a change failed: `Ok`, after a pause, when it may have happened all the same (the
    /// caller looks at the site again before repeating it); the error otherwise.
    pub(super) async fn pause_or_fail(&mut self, error: ClientError) -> Result<(), String> {
        let policy = RetryPolicy::default();
        if !may_have_happened(&error) || self.count + 1 >= policy.attempts {
            return Err(text(error));
        }
        tracing::info!(%error, "the answer was lost; looking before trying again");
        tokio::time::sleep(policy.pause(self.count, &error.request_id)).await;
        self.count += 1;
        Ok(())
    }
}

/// What `find` finds (an earlier attempt made it), else what `make` makes; when the answer to
/// `make` is lost, `find` looks again before `make` is repeated.
pub(super) async fn find_or_make<T>(
    find: impl AsyncFn() -> Result<Option<T>, String>,
    make: impl AsyncFn() -> Result<T, ClientError>,
) -> Result<T, String> {
    let mut lost = LostAnswers::default();
    loop {
        if let Some(found) = find().await? {
            return Ok(found);
        }
        match make().await {
            Ok(made) => return Ok(made),
            Err(error) => lost.pause_or_fail(error).await?,
        }
    }
}

/// For each kind of wait (`boot`, `manage`, ...), the shortest one of this run that had to poll:
/// how soon the next one can be expected to settle.
#[derive(Debug, Default)]
pub(super) struct Settled(Mutex<HashMap<&'static str, Duration>>);

impl Settled {
    fn expected(&self, kind: &str) -> Option<Duration> {
        self.lock().get(kind).copied()
    }

    fn record(&self, kind: &'static str, took: Duration) {
        let mut shortest = self.lock();
        let entry = shortest.entry(kind).or_insert(took);
        *entry = (*entry).min(took);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<&'static str, Duration>> {
        // A map of durations is never left half-written.
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Polls until a deadline, sleeping a tenth of the time waited so far (50 ms to 2 s): quick for
/// fast transitions, gentle on the APIs for slow ones, never more than ~10% late. Once a wait of
/// the same kind has settled in this run, the next ones also look every 1% of the time it took
/// (5 ms to 2 s) from 90% to 110% of it: about 1% late instead of up to 10% when they take as
/// long, which waves of a thousand boots add up along the critical path.
pub(super) struct Poll<'a> {
    started: Instant,
    deadline: Instant,
    what: String,
    kind: &'static str,
    settled: &'a Settled,
    expected: Option<Duration>,
    paused: Cell<bool>,
}

impl<'a> Poll<'a> {
    pub(super) fn new(
        kind: &'static str,
        what: impl Into<String>,
        timeout: Duration,
        settled: &'a Settled,
    ) -> Poll<'a> {
        let started = Instant::now();
        Poll {
            started,
            deadline: started + timeout,
            what: what.into(),
            kind,
            settled,
            expected: settled.expected(kind),
            paused: Cell::new(false),
        }
    }

    pub(super) async fn wait(&self) -> Result<(), String> {
        let now = Instant::now();
        if now >= self.deadline {
            return Err(format!(
                "timed out after {}s waiting for {}",
                (now - self.started).as_secs(),
                self.what
            ));
        }
        let waited = now - self.started;
        let backoff = (waited / 10).clamp(Duration::from_millis(50), Duration::from_secs(2));
        let pause = match self.expected {
            Some(expected) if waited < expected.mul_f64(0.9) => {
                backoff.min(expected.mul_f64(0.9) - waited)
            }
            Some(expected) if waited < expected.mul_f64(1.1) => {
                (expected / 100).clamp(Duration::from_millis(5), Duration::from_secs(2))
            }
            _ => backoff,
        };
        self.paused.set(true);
        tokio::time::sleep(pause.min(self.deadline - now)).await;
        Ok(())
    }

    /// What was waited for is there: a wait that had to poll teaches the next ones of its kind.
    pub(super) fn settled(&self) {
        if self.paused.get() {
            self.settled.record(self.kind, self.started.elapsed());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn polling_backs_off_and_times_out() {
        let settled = Settled::default();
        let poll = Poll::new("thing", "a thing", Duration::from_secs(10), &settled);
        let mut waits = 0;
        while poll.wait().await.is_ok() {
            waits += 1;
        }
        // 50 ms pauses at first, growing to a tenth of the elapsed time: far fewer than 200.
        assert!((20..80).contains(&waits), "{waits}");
        let error = poll.wait().await.unwrap_err();
        assert!(
            error.contains("timed out after 10s waiting for a thing"),
            "{error}"
        );
    }

    /// Waits until `settles` has passed; how many pauses it took and how late it noticed.
    async fn wait_for(poll: &Poll<'_>, settles: Duration) -> (usize, Duration) {
        let mut waits = 0;
        while poll.started.elapsed() < settles {
            poll.wait().await.unwrap();
            waits += 1;
        }
        poll.settled();
        (waits, poll.started.elapsed() - settles)
    }

    #[tokio::test(start_paused = true)]
    async fn waits_of_a_kind_that_settled_before_notice_sooner() {
        let settled = Settled::default();
        let timeout = Duration::from_secs(60);
        let boot = Duration::from_secs(30);
        let (_, first_late) = wait_for(&Poll::new("boot", "db-1", timeout, &settled), boot).await;
        // A wait that did not have to poll teaches nothing.
        Poll::new("boot", "web-0", timeout, &settled).settled();
        let (_, next_late) = wait_for(&Poll::new("boot", "web-1", timeout, &settled), boot).await;
        assert!(
            next_late * 2 < first_late,
            "{next_late:?} vs {first_late:?}"
        );
        assert!(next_late <= boot / 50, "{next_late:?}");
        // A faster one is still noticed no later than a tenth of its time.
        let fast = Duration::from_secs(10);
        let (_, late) = wait_for(&Poll::new("boot", "web-2", timeout, &settled), fast).await;
        assert!(late <= fast / 10, "{late:?}");
        // Other kinds start from scratch.
        let stop = Poll::new("stop", "db-1", timeout, &settled);
        assert_eq!(wait_for(&stop, Duration::from_millis(1)).await.0, 1);
    }
}
