//! Following someone's view, and being followed.
//!
//! Click a person in the people list and your view tracks theirs, pan and
//! zoom, until you pan or zoom yourself or press Escape; "bring everyone to
//! me" makes everyone else follow you. Who follows whom travels in
//! `presence` (each person's `following`); the leader's view travels as
//! `view` messages, sent only while someone follows them and at most every
//! [`VIEW_INTERVAL_MS`], so the follower glides between them.
//!
//! This file is the state both ends keep, free of the browser so that it is
//! tested natively: [`Follow`] (whom this tab follows, where they were last,
//! how many follow this tab), [`ViewSender`] (when the leader's next view
//! goes out) and [`glide`] (the follower's view, a frame closer to the
//! leader's). The replica owns a `Follow`; the engine sends and glides.

use crate::geometry::Rect;
use crate::protocol::{Person, UserId};
use crate::view::View;

/// A leader's views go out at most this often: ten a second.
pub const VIEW_INTERVAL_MS: f64 = 100.0;

/// The follower's glide closes 1 − 1/e of the distance to the leader's view
/// in this time: about one view interval, so that ten views a second read
/// as one smooth motion rather than ten jumps.
const GLIDE_MS: f64 = 100.0;

/// Following and being followed, as this tab knows it.
#[derive(Debug, Default)]
pub struct Follow {
    /// Whose view this tab follows.
    leader: Option<UserId>,
    /// The part of the board the leader showed last (none yet since this
    /// tab started following).
    area: Option<Rect>,
    /// Who follows this tab's person, by the last `presence`.
    followers: Vec<UserId>,
    /// How many `presence`s brought someone new to follow this person: a
    /// new follower needs the view at once, even if it did not change.
    arrivals: u64,
}

impl Follow {
    /// Whose view this tab follows, if anyone's.
    pub fn leader(&self) -> Option<&UserId> {
        self.leader.as_ref()
    }

    /// The part of the board the leader showed last (none while nobody is
    /// followed: [`Self::start`] forgets it).
    pub fn area(&self) -> Option<Rect> {
        self.area
    }

    /// How many others follow this person's view.
    pub fn followers(&self) -> usize {
        self.followers.len()
    }

    /// Counts arrivals of new followers (see [`ViewSender::forget`]).
    pub fn arrivals(&self) -> u64 {
        self.arrivals
    }

    /// Follows `leader` from now on (none: nobody); `false` if that was
    /// already so.
    pub fn start(&mut self, leader: Option<UserId>) -> bool {
        if self.leader == leader {
            return false;
        }
        self.leader = leader;
        self.area = None;
        true
    }

    /// Someone's view came; `true` if it is the leader's (the view moves).
    pub fn on_view(&mut self, author: &UserId, area: Rect) -> bool {
        let from_leader = self.leader.as_ref() == Some(author);
        if from_leader {
            self.area = Some(area);
        }
        from_leader
    }

    /// `author` asked everyone to follow them; `true` if this tab now does
    /// (not when `author` is this tab's own person).
    pub fn on_summon(&mut self, me: &UserId, author: UserId) -> bool {
        author != *me && self.start(Some(author))
    }

    /// The people list changed: stops following someone who left, and
    /// counts who follows `me`. `true` if this tab stopped following.
    pub fn on_presence(&mut self, me: &UserId, people: &[Person]) -> bool {
        let followers: Vec<UserId> = people
            .iter()
            .filter(|p| p.user != *me && p.following.as_ref() == Some(me))
            .map(|p| p.user.clone())
            .collect();
        if followers.iter().any(|f| !self.followers.contains(f)) {
            self.arrivals += 1;
        }
        self.followers = followers;
        let gone = self
            .leader
            .as_ref()
            .is_some_and(|leader| !people.iter().any(|p| p.user == *leader));
        gone && self.start(None)
    }
}

/// When the leader's next `view` goes out: as soon as it differs from the
/// last one sent and [`VIEW_INTERVAL_MS`] have passed since.
#[derive(Debug, Default)]
pub struct ViewSender {
    sent: Option<Rect>,
    sent_at: f64,
}

impl ViewSender {
    /// Sends the next view at once, even if it is the last one sent (a new
    /// follower or a new connection needs it).
    pub fn forget(&mut self) {
        self.sent = None;
        self.sent_at = f64::NEG_INFINITY;
    }

    /// Whether `area` still has to go out (frames must keep coming).
    pub fn owes(&self, area: &Rect) -> bool {
        self.sent.as_ref() != Some(area)
    }

    /// The view to send at `now` (milliseconds), if one is due.
    pub fn take(&mut self, area: Rect, now: f64) -> Option<Rect> {
        if !self.owes(&area) || now - self.sent_at < VIEW_INTERVAL_MS {
            return None;
        }
        self.sent = Some(area);
        self.sent_at = now;
        Some(area)
    }
}

/// The view `elapsed_ms` after `from` on the way to `to`, on a canvas of
/// `size`: centre and zoom move a share of the way that grows with the time
/// (so the motion is the same at any frame rate), and land on `to` once
/// within half a pixel and a thousandth of the zoom, or at once when
/// `elapsed_ms` is infinite (reduced motion).
pub fn glide(from: &View, to: &View, size: (f64, f64), elapsed_ms: f64) -> View {
    let centre = |view: &View| view.to_world((size.0 / 2.0, size.1 / 2.0));
    let (from_centre, to_centre) = (centre(from), centre(to));
    let share = 1.0 - (-elapsed_ms.max(0.0) / GLIDE_MS).exp();
    let step = |a: f64, b: f64| a + (b - a) * share;
    let zoom = step(from.zoom, to.zoom);
    let (x, y) = (
        step(from_centre.0, to_centre.0),
        step(from_centre.1, to_centre.1),
    );
    let near = ((x - to_centre.0) * zoom).abs() < 0.5
        && ((y - to_centre.1) * zoom).abs() < 0.5
        && (zoom / to.zoom - 1.0).abs() < 1e-3;
    if near {
        return *to;
    }
    View {
        origin: (x - size.0 / 2.0 / zoom, y - size.1 / 2.0 / zoom),
        zoom,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: &str) -> UserId {
        UserId::parse(id).unwrap()
    }

    fn person(id: &str, following: Option<&str>) -> Person {
        Person {
            user: user(id),
            name: String::new(),
            viewer: false,
            following: following.map(user),
        }
    }

    fn area(x: f32) -> Rect {
        Rect::from_corners((x, 0.0), (x + 100.0, 50.0))
    }

    #[test]
    fn only_the_leaders_views_move_the_view() {
        let mut follow = Follow::default();
        assert!(!follow.on_view(&user("ada"), area(1.0)), "nobody followed");
        assert_eq!(follow.area(), None);
        assert!(follow.start(Some(user("ada"))));
        assert!(!follow.start(Some(user("ada"))), "already so");
        assert!(!follow.on_view(&user("bob"), area(2.0)));
        assert_eq!(follow.area(), None);
        assert!(follow.on_view(&user("ada"), area(3.0)));
        assert_eq!(follow.area(), Some(area(3.0)));
        // Following someone else forgets where the first leader was.
        follow.start(Some(user("bob")));
        assert_eq!(follow.area(), None);
        follow.start(None);
        assert_eq!(follow.leader(), None);
    }

    #[test]
    fn a_summon_makes_everyone_else_follow() {
        let me = user("me");
        let mut follow = Follow::default();
        assert!(!follow.on_summon(&me, me.clone()), "not oneself");
        assert_eq!(follow.leader(), None);
        assert!(follow.on_summon(&me, user("ada")));
        assert_eq!(follow.leader(), Some(&user("ada")));
        assert!(!follow.on_summon(&me, user("ada")), "already following");
    }

    #[test]
    fn presence_counts_followers_and_ends_following_someone_who_left() {
        let me = user("me");
        let mut follow = Follow::default();
        follow.start(Some(user("ada")));
        let people = [
            person("ada", Some("me")),
            person("bob", Some("me")),
            person("cy", Some("ada")),
            person("me", Some("ada")),
        ];
        assert!(!follow.on_presence(&me, &people));
        assert_eq!((follow.followers(), follow.arrivals()), (2, 1));
        assert_eq!(follow.leader(), Some(&user("ada")));
        // The same followers again: nobody new.
        follow.on_presence(&me, &people);
        assert_eq!(follow.arrivals(), 1);
        assert!(follow.on_presence(&me, &[person("me", None), person("bob", None)]));
        assert_eq!((follow.leader(), follow.followers()), (None, 0));
        // Bob follows again: an arrival, though the count was 1 before.
        follow.on_presence(&me, &[person("me", None), person("bob", Some("me"))]);
        assert_eq!((follow.followers(), follow.arrivals()), (1, 2));
    }

    #[test]
    fn views_go_out_ten_a_second_and_only_when_they_changed() {
        let mut sender = ViewSender::default();
        assert_eq!(sender.take(area(0.0), 1000.0), Some(area(0.0)));
        assert_eq!(sender.take(area(0.0), 2000.0), None, "unchanged");
        assert!(sender.owes(&area(1.0)));
        assert_eq!(sender.take(area(1.0), 2050.0), Some(area(1.0)));
        assert_eq!(sender.take(area(2.0), 2149.0), None, "too soon");
        assert!(sender.owes(&area(2.0)), "still owed: frames keep coming");
        assert_eq!(sender.take(area(2.0), 2150.0), Some(area(2.0)));
        // A new follower gets the view at once.
        sender.forget();
        assert_eq!(sender.take(area(2.0), 2151.0), Some(area(2.0)));
    }

    #[test]
    fn the_glide_moves_smoothly_and_lands() {
        let size = (800.0, 600.0);
        let from = View::default();
        let to = View {
            origin: (1000.0, 500.0),
            zoom: 2.0,
        };
        let centre = |view: &View| view.to_world((400.0, 300.0));
        // One frame goes part of the way; the same time in two frames goes
        // as far as in one.
        let one = glide(&from, &to, size, 16.0);
        assert!(one.zoom > 1.0 && one.zoom < 2.0, "{one:?}");
        assert!(centre(&one).0 > 400.0 && centre(&one).0 < centre(&to).0);
        let two = glide(&glide(&from, &to, size, 8.0), &to, size, 8.0);
        assert!((two.zoom - one.zoom).abs() < 1e-9, "{two:?} {one:?}");
        assert!((centre(&two).0 - centre(&one).0).abs() < 1e-6);
        // Reduced motion asks for all of the way at once.
        assert_eq!(glide(&from, &to, size, f64::INFINITY), to);
        // It lands exactly, and soon.
        let mut view = from;
        let mut frames = 0;
        while view != to {
            view = glide(&view, &to, size, 16.0);
            frames += 1;
            assert!(frames < 120, "still {view:?}");
        }
        assert_eq!(glide(&to, &to, size, 16.0), to);
    }
}
