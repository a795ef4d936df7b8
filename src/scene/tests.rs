//! The board layer against a real board: what it shows, in which order,
//! what a change repaints.

use std::collections::HashSet;

use super::{Damage, Layer, Scene};
use crate::board::Board;
use crate::geometry::Rect;
use crate::protocol::{
    ClientMessage, Color, OpId, Point, Request, Stroke, StrokeId, StrokeStyle, UserId,
};

fn id(raw: &str) -> StrokeId {
    StrokeId::parse(raw).expect("valid id")
}

/// A short horizontal stroke from (x, y) to (x + 10, y).
fn stroke(raw: &str, x: f32, y: f32) -> Stroke {
    let style = StrokeStyle {
        color: Color::parse("#1e1e1e").expect("valid colour"),
        width: 2.0,
    };
    Stroke::freehand(
        id(raw),
        style,
        vec![Point::new(x, y, 0.5), Point::new(x + 10.0, y, 0.5)],
    )
}

struct Fixture {
    board: Board,
    ops: u64,
}

impl Fixture {
    fn new() -> Self {
        Self {
            board: Board::new(),
            ops: 0,
        }
    }

    /// Commits a request as the server would; returns the ids it named.
    fn commit(&mut self, request: Request) {
        self.ops += 1;
        let user = UserId::parse("u1").expect("valid user");
        let op_id = OpId::parse(&format!("o{}", self.ops)).expect("valid op id");
        self.board
            .commit(&user, &op_id, request)
            .expect("the board accepts the request");
    }

    fn layer<'a>(
        &'a self,
        pending: &'a [&'a ClientMessage],
        hidden: &'a HashSet<StrokeId>,
    ) -> Layer<'a, 'a> {
        Layer {
            board: &self.board,
            pending,
            hidden,
        }
    }
}

fn everywhere() -> Rect {
    Rect::from_corners((-1e6, -1e6), (1e6, 1e6))
}

fn names(ids: Vec<&StrokeId>) -> Vec<&str> {
    ids.into_iter().map(StrokeId::as_str).collect()
}

#[test]
fn rebuild_shows_visible_items_bottom_first_and_culls_by_place() {
    let mut f = Fixture::new();
    f.commit(Request::AddStroke(stroke("a", 0.0, 0.0)));
    f.commit(Request::AddStroke(stroke("b", 100.0, 0.0)));
    f.commit(Request::AddStroke(stroke("c", 5.0, 0.0)));
    f.commit(Request::Erase(vec![id("b")]));
    let hidden = HashSet::new();
    let mut scene = Scene::new();
    scene.rebuild(&f.layer(&[], &hidden), None);

    assert_eq!(scene.len(), 2);
    assert_eq!(names(scene.in_area(&everywhere())), ["a", "c"]);
    assert_eq!(
        names(scene.in_area(&Rect::from_corners((-5.0, -5.0), (2.0, 5.0)))),
        ["a"]
    );
    assert!(scene
        .in_area(&Rect::from_corners((50.0, 50.0), (60.0, 60.0)))
        .is_empty());
}

#[test]
fn an_operation_repaints_where_the_item_was_and_where_it_is() {
    let mut f = Fixture::new();
    f.commit(Request::AddStroke(stroke("a", 0.0, 0.0)));
    let hidden = HashSet::new();
    let mut scene = Scene::new();
    scene.rebuild(&f.layer(&[], &hidden), None);
    let before = scene.bounds(&id("a")).expect("shown");

    let mut moved = f.board.get(&id("a")).expect("on the board").clone();
    moved.points = vec![Point::new(500.0, 500.0, 0.5), Point::new(510.0, 500.0, 0.5)];
    f.commit(Request::Update(vec![moved]));
    let dirty = scene.refresh(&f.layer(&[], &hidden), [&id("a")]);

    let after = scene.bounds(&id("a")).expect("still shown");
    assert_eq!(dirty, vec![Damage::Area(before), Damage::Area(after)]);
    assert!(after.contains_point((505.0, 500.0)));
    assert!(
        scene.in_area(&before).is_empty(),
        "nothing left where it was"
    );
    assert_eq!(names(scene.in_area(&after)), ["a"]);
}

#[test]
fn a_new_item_on_top_is_painted_over_and_an_erased_one_repaints_its_area() {
    let mut f = Fixture::new();
    f.commit(Request::AddStroke(stroke("a", 0.0, 0.0)));
    let hidden = HashSet::new();
    let mut scene = Scene::new();
    scene.rebuild(&f.layer(&[], &hidden), None);

    f.commit(Request::AddStroke(stroke("b", 2.0, 0.0)));
    let dirty = scene.refresh(&f.layer(&[], &hidden), [&id("b"), &id("b")]);
    assert_eq!(dirty, vec![Damage::Above(id("b"))], "once, over the bitmap");
    assert_eq!(names(scene.in_area(&everywhere())), ["a", "b"]);

    let where_a_was = scene.bounds(&id("a")).expect("shown");
    f.commit(Request::Erase(vec![id("a")]));
    let dirty = scene.refresh(&f.layer(&[], &hidden), [&id("a")]);
    assert_eq!(dirty, vec![Damage::Area(where_a_was)]);
    assert_eq!(names(scene.in_area(&everywhere())), ["b"]);
    assert!(scene.bounds(&id("a")).is_none());
}

#[test]
fn a_new_item_below_another_repaints_its_area() {
    let mut f = Fixture::new();
    f.commit(Request::AddStroke(stroke("top", 0.0, 0.0)));
    let hidden = HashSet::new();
    let mut scene = Scene::new();
    scene.rebuild(&f.layer(&[], &hidden), None);

    // Added, then sent to the back, before the scene hears of it.
    f.commit(Request::AddStroke(stroke("under", 2.0, 0.0)));
    let mut placed = f.board.get(&id("under")).expect("added").clone();
    placed.z = -5.0;
    f.commit(Request::Update(vec![placed]));
    let dirty = scene.refresh(&f.layer(&[], &hidden), [&id("under")]);
    assert!(matches!(dirty.as_slice(), [Damage::Area(_)]), "{dirty:?}");
    assert_eq!(names(scene.in_area(&everywhere())), ["under", "top"]);
}

#[test]
fn pending_requests_are_shown_live_and_left_out_of_the_layer() {
    let mut f = Fixture::new();
    f.commit(Request::AddStroke(stroke("a", 0.0, 0.0)));
    f.commit(Request::AddStroke(stroke("b", 50.0, 0.0)));
    let add = ClientMessage::AddStroke {
        op_id: OpId::parse("p1").expect("valid"),
        stroke: stroke("c", 200.0, 0.0),
    };
    let erase = ClientMessage::Erase {
        op_id: OpId::parse("p2").expect("valid"),
        stroke_ids: vec![id("a")],
    };
    let mut moved_b = f.board.get(&id("b")).expect("on the board").clone();
    moved_b.points = vec![Point::new(300.0, 0.0, 0.5), Point::new(310.0, 0.0, 0.5)];
    let update = ClientMessage::Update {
        op_id: OpId::parse("p3").expect("valid"),
        strokes: vec![moved_b.clone()],
    };
    let pending = [&add, &erase, &update];
    let hidden: HashSet<StrokeId> = pending
        .iter()
        .flat_map(|m| Layer::ids_named_by(m))
        .cloned()
        .collect();
    assert_eq!(hidden, [id("a"), id("b"), id("c")].into());
    let layer = f.layer(&pending, &hidden);
    let mut scene = Scene::new();
    scene.rebuild(&layer, None);

    assert!(
        scene.is_empty(),
        "everything named by a pending request is live"
    );
    let live: Vec<&str> = layer
        .pending_shown()
        .iter()
        .map(|s| s.id.as_str())
        .collect();
    assert_eq!(live, ["c", "b"], "the erased item is not shown at all");
    assert_eq!(layer.shown(&id("b")), Some((&moved_b, false)));
    assert_eq!(layer.shown(&id("a")), None);

    // The add is confirmed: the item enters the layer, on top.
    f.commit(Request::AddStroke(stroke("c", 200.0, 0.0)));
    let pending = [&erase, &update];
    let still: HashSet<StrokeId> = [id("a"), id("b")].into();
    let dirty = scene.refresh(&f.layer(&pending, &still), &hidden);
    assert_eq!(dirty, vec![Damage::Above(id("c"))]);
}

#[test]
fn a_pending_clear_empties_the_layer() {
    let mut f = Fixture::new();
    f.commit(Request::AddStroke(stroke("a", 0.0, 0.0)));
    let clear = ClientMessage::Clear {
        op_id: OpId::parse("p1").expect("valid"),
    };
    assert_eq!(Layer::ids_named_by(&clear).count(), 0);
    let pending = [&clear];
    let hidden = HashSet::new();
    let mut scene = Scene::new();
    let layer = f.layer(&pending, &hidden);
    scene.rebuild(&layer, None);
    assert!(scene.is_empty());
    assert_eq!(layer.shown(&id("a")), None);
}

#[test]
fn hidden_items_leave_the_layer_and_come_back_in_their_place() {
    let mut f = Fixture::new();
    // Equal stacking keys: the order they were added in decides.
    for (name, x) in [("a", 0.0), ("b", 1.0), ("c", 2.0)] {
        let mut s = stroke(name, x, 0.0);
        s.z = 1.0;
        f.commit(Request::AddStrokes(vec![s]));
    }
    let order_before: Vec<String> = f
        .board
        .visible_strokes()
        .map(|s| s.id.as_str().to_owned())
        .collect();
    let mut scene = Scene::new();
    let none = HashSet::new();
    scene.rebuild(&f.layer(&[], &none), None);
    assert_eq!(names(scene.in_area(&everywhere())), order_before);

    let moving: HashSet<StrokeId> = [id("a")].into();
    let dirty = scene.refresh(&f.layer(&[], &moving), [&id("a")]);
    assert!(matches!(dirty.as_slice(), [Damage::Area(_)]));
    assert_eq!(scene.len(), 2);

    scene.refresh(&f.layer(&[], &none), [&id("a")]);
    assert_eq!(names(scene.in_area(&everywhere())), order_before);
}

#[test]
fn refreshing_an_unknown_id_changes_nothing() {
    let f = Fixture::new();
    let hidden = HashSet::new();
    let mut scene = Scene::new();
    scene.rebuild(&f.layer(&[], &hidden), None);
    assert!(scene
        .refresh(&f.layer(&[], &hidden), [&id("ghost")])
        .is_empty());
    assert!(scene.is_empty());
}

#[test]
fn painting_an_area_resumes_after_the_last_item_painted() {
    let mut f = Fixture::new();
    for raw in ["a", "b", "c"] {
        f.commit(Request::AddStroke(stroke(raw, 0.0, 0.0)));
    }
    let hidden = HashSet::new();
    let mut scene = Scene::new();
    scene.rebuild(&f.layer(&[], &hidden), None);
    let all = scene.in_area_after(&everywhere(), None);
    let order_of_a = all[0].1;
    assert_eq!(scene.order(&id("a")), Some(order_of_a));
    let rest: Vec<&str> = scene
        .in_area_after(&everywhere(), Some(order_of_a))
        .into_iter()
        .map(|(id, _)| id.as_str())
        .collect();
    assert_eq!(rest, ["b", "c"]);
    let last = all[2].1;
    assert!(scene.in_area_after(&everywhere(), Some(last)).is_empty());
}

#[test]
fn items_taken_in_by_position_are_found_moved_and_removed_like_the_others() {
    let mut f = Fixture::new();
    f.commit(Request::AddStroke(stroke("a", 0.0, 0.0)));
    f.commit(Request::AddStroke(stroke("b", 100.0, 0.0)));
    f.commit(Request::AddStroke(stroke("c", 200.0, 0.0)));
    let hidden = HashSet::new();
    // The board first holds only b, the second of three.
    let part = Board::from_items(f.board.seq(), vec![f.board.items()[1].clone()]);
    let mut scene = Scene::new();
    let placed = super::Placed {
        positions: &[1],
        total: 3,
    };
    scene.rebuild(
        &Layer {
            board: &part,
            pending: &[],
            hidden: &hidden,
        },
        Some(placed),
    );
    assert_eq!(names(scene.in_area(&everywhere())), ["b"]);

    // The whole board: a and c come in, each in a tree of its own slice.
    let layer = f.layer(&[], &hidden);
    assert!(scene.place(&layer, &[(id("a"), 0)]).is_empty());
    assert!(scene.place(&layer, &[(id("c"), 2)]).is_empty());
    assert_eq!(scene.len(), 3);
    assert_eq!(names(scene.in_area(&everywhere())), ["a", "b", "c"]);
    assert_eq!(
        names(scene.in_area(&Rect::from_corners((195.0, -5.0), (215.0, 5.0)))),
        ["c"]
    );

    // Moved and erased: gone from where they were.
    let mut moved = f.board.get(&id("c")).expect("on the board").clone();
    moved.points = vec![Point::new(500.0, 500.0, 0.5), Point::new(510.0, 500.0, 0.5)];
    f.commit(Request::Update(vec![moved]));
    f.commit(Request::Erase(vec![id("a")]));
    let layer = f.layer(&[], &hidden);
    scene.refresh(&layer, [&id("c"), &id("a")]);
    assert_eq!(scene.len(), 2);
    assert_eq!(names(scene.in_area(&everywhere())), ["b", "c"]);
    assert!(scene
        .in_area(&Rect::from_corners((195.0, -5.0), (215.0, 5.0)))
        .is_empty());
    assert_eq!(
        names(scene.in_area(&Rect::from_corners((495.0, 495.0), (515.0, 505.0)))),
        ["c"]
    );
}
