//! An operation's journal as a value: which steps are done (with what they created), which
//! failed, which were started and not finished. Apply resumes from it, rollback and a failover
//! that takes over an interrupted one plan from it, and reports read it.

use std::collections::BTreeMap;

use super::{JournalEntry, JournalEvent};

/// What a step created: resource kind (`server`, `cinder_volume`, ...) -> its id or name.
pub type Created = BTreeMap<String, String>;

/// Progress as the journal tells it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Progress {
    /// Steps whose last event is `done`, in the order they finished, with what they created.
    pub done: Vec<(String, Created)>,
    /// Steps whose last event is `failed`, with the error.
    pub failed: Vec<(String, String)>,
    /// Steps started and not finished (running, or interrupted by a crash).
    pub in_flight: Vec<String>,
}

impl Progress {
    /// Every step that started, whatever became of it: what may have created something.
    pub fn touched(&self) -> std::collections::BTreeSet<&str> {
        self.done
            .iter()
            .map(|(id, _)| id.as_str())
            .chain(self.failed.iter().map(|(id, _)| id.as_str()))
            .chain(self.in_flight.iter().map(String::as_str))
            .collect()
    }

    /// What step `step` recorded as created, if it is done.
    pub fn created(&self, step: &str) -> Option<&Created> {
        self.done
            .iter()
            .find(|(id, _)| id == step)
            .map(|(_, created)| created)
    }

    pub fn done_map(&self) -> BTreeMap<String, Created> {
        self.done.iter().cloned().collect()
    }

    pub fn percent(&self, total: usize) -> u8 {
        if total == 0 {
            return 100;
        }
        ((self.done.len() * 100) / total).min(100) as u8
    }
}

/// Replays a journal: what is done (and what it created), what failed, what was interrupted.
/// A step undone by a rollback is no longer done.
pub fn replay(entries: &[JournalEntry]) -> Progress {
    // Each step's last entry; steps in the order of their last entries.
    let mut last: BTreeMap<&str, usize> = BTreeMap::new();
    for (index, entry) in entries.iter().enumerate() {
        last.insert(&entry.step, index);
    }
    let mut order: Vec<(usize, &str)> = last.iter().map(|(step, index)| (*index, *step)).collect();
    order.sort_unstable();
    let mut progress = Progress::default();
    for (index, step) in order {
        let entry = &entries[index];
        match entry.event {
            JournalEvent::Done => progress
                .done
                .push((step.to_string(), entry.created.clone())),
            JournalEvent::Failed => progress
                .failed
                .push((step.to_string(), entry.error.clone().unwrap_or_default())),
            JournalEvent::Started | JournalEvent::Retrying => {
                progress.in_flight.push(step.to_string())
            }
            // An undo that did not finish leaves what the step made in place: still done.
            JournalEvent::UndoStarted | JournalEvent::UndoFailed => progress
                .done
                .push((step.to_string(), done_created(&entries[..index], step))),
            JournalEvent::Undone => {}
        }
    }
    progress
}

/// What a step's last `done` entry recorded.
fn done_created(entries: &[JournalEntry], step: &str) -> Created {
    entries
        .iter()
        .rev()
        .find(|e| e.step == step && e.event == JournalEvent::Done)
        .map(|e| e.created.clone())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn entry(step: &str, event: JournalEvent) -> JournalEntry {
        JournalEntry {
            at: Utc::now(),
            step: step.to_string(),
            event,
            created: Created::from([("server".to_string(), format!("{step}-id"))]),
            error: (event == JournalEvent::Failed).then(|| "boom".to_string()),
        }
    }

    #[test]
    fn replay_tells_done_failed_and_interrupted_steps() {
        let progress = replay(&[
            entry("a", JournalEvent::Started),
            entry("b", JournalEvent::Started),
            entry("a", JournalEvent::Done),
            entry("c", JournalEvent::Started),
            entry("c", JournalEvent::Failed),
            entry("d", JournalEvent::Started),
            entry("d", JournalEvent::Done),
            entry("d", JournalEvent::UndoStarted),
            entry("d", JournalEvent::Undone),
        ]);
        assert_eq!(progress.done.len(), 1);
        assert_eq!(progress.done[0].0, "a");
        assert_eq!(progress.done[0].1["server"], "a-id");
        assert_eq!(progress.failed, vec![("c".to_string(), "boom".to_string())]);
        assert_eq!(progress.in_flight, vec!["b"]);
        assert_eq!(progress.percent(4), 25);
    }
}
