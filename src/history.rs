//! A board's history as the history panel lists it: the operations of a
//! `history` page grouped into sessions of activity (who, when, how many
//! changes), newest first, with the versions people named. Pure and
//! shared, so it is tested natively; the browser only formats the times.

use crate::protocol::{ChangeKind, HistoryEntry};

/// Operations further apart than this start a new session (30 minutes).
pub const SESSION_GAP_MS: u64 = 30 * 60 * 1000;

/// What an author without a display name is called.
pub const UNNAMED: &str = "Guest";

/// A run of operations with no pause longer than [`SESSION_GAP_MS`].
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    /// Its first and last operations.
    pub first: u64,
    pub last: u64,
    /// When they were made, in milliseconds since the Unix epoch (0 for
    /// operations stored before servers kept times: one session of them).
    pub start: u64,
    pub end: u64,
    /// Who made them, by display name, in the order of their first change.
    pub authors: Vec<String>,
    /// How many changes, names of versions not counted.
    pub changes: usize,
    /// The versions named in it: the operation's number and the name.
    pub named: Vec<(u64, String)>,
}

/// `entries` (oldest first, as a `history` page has them) grouped into
/// sessions, newest first.
pub fn sessions(entries: &[HistoryEntry]) -> Vec<Session> {
    let mut sessions: Vec<Session> = Vec::new();
    for entry in entries {
        let continues = sessions.last().is_some_and(|session| {
            (entry.at == 0) == (session.end == 0)
                && entry.at.saturating_sub(session.end) <= SESSION_GAP_MS
        });
        if !continues {
            sessions.push(Session {
                first: entry.seq,
                last: entry.seq,
                start: entry.at,
                end: entry.at,
                authors: Vec::new(),
                changes: 0,
                named: Vec::new(),
            });
        }
        let Some(session) = sessions.last_mut() else {
            continue;
        };
        session.last = entry.seq;
        session.end = session.end.max(entry.at);
        if entry.kind == ChangeKind::NameVersion {
            let name = entry.label.clone().unwrap_or_default();
            session.named.push((entry.seq, name));
            continue;
        }
        session.changes += 1;
        let author = entry.name.as_deref().unwrap_or(UNNAMED);
        if !session.authors.iter().any(|known| known == author) {
            session.authors.push(author.to_owned());
        }
    }
    sessions.reverse();
    sessions
}

/// The entry of operation `seq`, if the page holds it.
pub fn entry_at(entries: &[HistoryEntry], seq: u64) -> Option<&HistoryEntry> {
    entries
        .binary_search_by_key(&seq, |entry| entry.seq)
        .ok()
        .map(|at| &entries[at])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::UserId;

    fn entry(seq: u64, at: u64, name: Option<&str>, kind: ChangeKind) -> HistoryEntry {
        HistoryEntry {
            seq,
            author: UserId::parse("u1").unwrap(),
            name: name.map(str::to_owned),
            at,
            kind,
            items: 1,
            label: (kind == ChangeKind::NameVersion).then(|| format!("v{seq}")),
            version: None,
        }
    }

    #[test]
    fn pauses_longer_than_the_gap_start_a_new_session_listed_first() {
        const MINUTE: u64 = 60_000;
        let t = 1_796_000_000_000;
        let entries = [
            entry(1, 0, None, ChangeKind::AddStroke),
            entry(2, t, Some("Ada"), ChangeKind::AddStroke),
            entry(3, t + 29 * MINUTE, None, ChangeKind::Erase),
            entry(4, t + 30 * MINUTE, Some("Ada"), ChangeKind::NameVersion),
            entry(5, t + 61 * MINUTE, Some("Bob"), ChangeKind::Update),
            entry(6, t + 62 * MINUTE, Some("Ada"), ChangeKind::AddStrokes),
        ];
        let sessions = sessions(&entries);
        let spans: Vec<(u64, u64)> = sessions.iter().map(|s| (s.first, s.last)).collect();
        assert_eq!(spans, [(5, 6), (2, 4), (1, 1)]);
        assert_eq!(sessions[0].authors, ["Bob", "Ada"]);
        assert_eq!(
            (sessions[0].start, sessions[0].end),
            (t + 61 * MINUTE, t + 62 * MINUTE)
        );
        assert_eq!(sessions[1].authors, ["Ada", UNNAMED]);
        assert_eq!(sessions[1].changes, 2, "a name is not a change");
        assert_eq!(sessions[1].named, [(4, "v4".to_owned())]);
        assert_eq!((sessions[2].start, sessions[2].changes), (0, 1));
        assert_eq!(entry_at(&entries, 5).map(|e| e.at), Some(t + 61 * MINUTE));
        assert!(entry_at(&entries, 9).is_none());
    }
}
