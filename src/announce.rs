//! What other people did, said in words for a screen reader: "Ada added 3
//! items". The board page puts it in a polite live region.
//!
//! Changes are counted per person and kind as they arrive and said together
//! at most every [`ANNOUNCE_INTERVAL_MS`], so a busy board is summed up
//! rather than read out stroke by stroke. Pure and shared: the wording and
//! the throttle are tested natively; the engine only asks when to speak.

use crate::protocol::{Change, UserId};

/// Announcements come at most this often (milliseconds).
pub const ANNOUNCE_INTERVAL_MS: f64 = 2_000.0;

/// What a change did, in the words an announcement uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Deed {
    Added,
    Changed,
    Removed,
    Cleared,
    Undid,
    Redid,
    Restored,
    Named,
}

impl Deed {
    /// The deed and how many items it touched (0: not counted in items).
    fn of(change: &Change) -> (Deed, usize) {
        match change {
            Change::AddStroke { .. } => (Deed::Added, 1),
            Change::AddStrokes { strokes } => (Deed::Added, strokes.len()),
            Change::Update { strokes } => (Deed::Changed, strokes.len()),
            Change::Erase { stroke_ids } => (Deed::Removed, stroke_ids.len()),
            Change::Clear { .. } => (Deed::Cleared, 0),
            Change::Undo { .. } => (Deed::Undid, 0),
            Change::Redo { .. } => (Deed::Redid, 0),
            Change::Restore { .. } => (Deed::Restored, 0),
            Change::NameVersion { .. } => (Deed::Named, 0),
        }
    }

    fn words(self, items: usize) -> String {
        let noun = if items == 1 { "item" } else { "items" };
        match self {
            Deed::Added => format!("added {items} {noun}"),
            Deed::Changed => format!("changed {items} {noun}"),
            Deed::Removed => format!("removed {items} {noun}"),
            Deed::Cleared => "cleared the board".into(),
            Deed::Undid => "undid a change".into(),
            Deed::Redid => "redid a change".into(),
            Deed::Restored => "restored an earlier version".into(),
            Deed::Named => "named a version".into(),
        }
    }
}

/// Changes by others not yet said, and when the last announcement was.
#[derive(Debug, Default)]
pub struct Announcer {
    /// Who did what, in the order first seen, with the items it touched.
    unsaid: Vec<(UserId, Deed, usize)>,
    said_at: Option<f64>,
}

impl Announcer {
    /// Counts someone else's change.
    pub fn record(&mut self, author: &UserId, change: &Change) {
        let (deed, items) = Deed::of(change);
        match self
            .unsaid
            .iter_mut()
            .find(|(who, what, _)| who == author && *what == deed)
        {
            Some((_, _, count)) => *count += items,
            None => self.unsaid.push((author.clone(), deed, items)),
        }
    }

    /// Whether something waits to be said.
    pub fn has_news(&self) -> bool {
        !self.unsaid.is_empty()
    }

    /// How long until the next announcement may be made (0: now).
    pub fn wait_ms(&self, now: f64) -> f64 {
        self.said_at
            .map_or(0.0, |at| (at + ANNOUNCE_INTERVAL_MS - now).max(0.0))
    }

    /// What to say now, if anything waits and the interval has passed
    /// (`name` gives a person's display name): "Ada added 3 items; Bob
    /// removed 1 item".
    pub fn speak(&mut self, now: f64, name: impl Fn(&UserId) -> String) -> Option<String> {
        if self.unsaid.is_empty() || self.wait_ms(now) > 0.0 {
            return None;
        }
        self.said_at = Some(now);
        let sentences: Vec<String> = self
            .unsaid
            .drain(..)
            .map(|(who, deed, items)| format!("{} {}", name(&who), deed.words(items)))
            .collect();
        Some(sentences.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{Point, Stroke, StrokeId, StrokeStyle};

    fn user(raw: &str) -> UserId {
        UserId::parse(raw).unwrap()
    }

    fn stroke(raw: &str) -> Stroke {
        Stroke::freehand(
            StrokeId::parse(raw).unwrap(),
            StrokeStyle {
                color: crate::protocol::Color::parse("#1e1e1e").unwrap(),
                width: 2.0,
            },
            vec![Point::new(0.0, 0.0, 0.5)],
        )
    }

    fn name(user: &UserId) -> String {
        match user.as_str() {
            "ada" => "Ada".into(),
            _ => "Bob".into(),
        }
    }

    #[test]
    fn changes_are_summed_per_person_and_said_at_most_every_two_seconds() {
        let mut announcer = Announcer::default();
        assert_eq!(announcer.speak(0.0, name), None, "nothing to say");
        announcer.record(
            &user("ada"),
            &Change::AddStroke {
                stroke: stroke("a"),
            },
        );
        announcer.record(
            &user("ada"),
            &Change::AddStrokes {
                strokes: vec![stroke("b"), stroke("c")],
            },
        );
        announcer.record(
            &user("bob"),
            &Change::Erase {
                stroke_ids: vec![StrokeId::parse("a").unwrap()],
            },
        );
        assert!(announcer.has_news());
        assert_eq!(
            announcer.speak(1_000.0, name).as_deref(),
            Some("Ada added 3 items; Bob removed 1 item")
        );
        assert!(!announcer.has_news());

        announcer.record(&user("ada"), &Change::Clear { stroke_ids: vec![] });
        assert_eq!(announcer.wait_ms(2_500.0), 500.0);
        assert_eq!(announcer.speak(2_500.0, name), None, "too soon");
        assert_eq!(
            announcer.speak(3_000.0, name).as_deref(),
            Some("Ada cleared the board")
        );
    }
}
