//! The gesture machine's rules, fed pointer positions in world coordinates.

use super::*;
use crate::protocol::{Color, StrokeStyle};

fn id(raw: &str) -> StrokeId {
    StrokeId::parse(raw).expect("valid id")
}

fn style() -> StrokeStyle {
    StrokeStyle {
        color: Color::parse("#1e1e1e").expect("valid colour"),
        width: 2.0,
    }
}

fn point(x: f32, y: f32) -> Point {
    Point::new(x, y, Point::DEFAULT_PRESSURE)
}

fn drawing_from(x: f32, y: f32) -> Gesture {
    Gesture::continue_drawing(1, Stroke::freehand(id("pen"), style(), vec![point(x, y)]))
}

fn shaping(kind: StrokeKind, at: (f32, f32)) -> Gesture {
    let stroke = Stroke::new(id("shape"), kind, style(), vec![point(at.0, at.1); 2]);
    Gesture::Shaping {
        pointer_id: 1,
        start: at,
        stroke,
    }
}

/// A 10 × 10 rectangle with its top-left corner at (x, y).
fn rectangle(raw: &str, x: f32, y: f32) -> Stroke {
    Stroke::new(
        id(raw),
        StrokeKind::Rectangle,
        style(),
        vec![point(x, y), point(x + 10.0, y + 10.0)],
    )
}

#[test]
fn the_pen_skips_samples_too_close_together_and_splits_long_strokes() {
    let mut gesture = drawing_from(0.0, 0.0);
    assert_eq!(gesture.add_sample(point(0.5, 0.0), 1.0), Sampled::Skipped);
    assert_eq!(gesture.add_sample(point(1.0, 0.0), 1.0), Sampled::Added);
    let mut last = Sampled::Added;
    let mut x = 1.0;
    while last == Sampled::Added {
        x += 1.0;
        last = gesture.add_sample(point(x, 0.0), 1.0);
    }
    assert_eq!(last, Sampled::Full);
    let Finished::Add(stroke) = gesture.finish(1.0) else {
        panic!("a full stroke is committed");
    };
    assert_eq!(stroke.points.len(), SPLIT_STROKE_AT);
    assert_eq!(gesture, Gesture::Idle);
    assert_eq!(gesture.add_sample(point(0.0, 0.0), 1.0), Sampled::Skipped);
}

#[test]
fn previews_carry_each_new_point_once_and_an_abandoned_pen_ends_its_preview() {
    let mut gesture = drawing_from(0.0, 0.0);
    gesture.add_sample(point(5.0, 0.0), 1.0);
    assert!(gesture.has_unsent_preview());
    let sent: usize = gesture
        .take_preview()
        .iter()
        .map(|message| match message {
            ClientMessage::Preview { points, .. } => points.len(),
            other => panic!("a preview, not {other:?}"),
        })
        .sum();
    assert_eq!(sent, 2);
    assert!(!gesture.has_unsent_preview());
    assert!(gesture.take_preview().is_empty());
    assert_eq!(gesture.abandon(), Abandoned::PreviewEnd(id("pen")));

    // Nothing previewed yet: nothing to end.
    let mut gesture = drawing_from(0.0, 0.0);
    assert_eq!(gesture.abandon(), Abandoned::Nothing);
}

#[test]
fn shapes_follow_the_pointer_shift_constrains_them_and_clicks_are_dropped() {
    let mut gesture = shaping(StrokeKind::Rectangle, (0.0, 0.0));
    assert_eq!(
        gesture.pointer_moved((30.0, 10.0), (0.0, 0.0), false),
        Moved::Draft
    );
    assert_eq!(gesture.live_strokes()[0].points[1], point(30.0, 10.0));
    gesture.pointer_moved((30.0, 10.0), (0.0, 0.0), true);
    let end = gesture.live_strokes()[0].points[1];
    assert_eq!(
        (end.x.abs(), end.y.abs()),
        (30.0, 30.0),
        "shift makes a square"
    );
    assert!(gesture.drafts());
    assert!(matches!(gesture.finish(1.0), Finished::Add(_)));

    // Two world units at 100 %: under the accidental-click size...
    let mut gesture = shaping(StrokeKind::Ellipse, (0.0, 0.0));
    gesture.pointer_moved((2.0, 2.0), (0.0, 0.0), false);
    assert_eq!(gesture.clone().finish(1.0), Finished::Nothing);
    // ... but not when zoomed in to 400 %.
    assert!(matches!(gesture.finish(4.0), Finished::Add(_)));
}

#[test]
fn moving_translates_the_originals_and_shift_keeps_one_axis() {
    let selected = vec![rectangle("a", 0.0, 0.0), rectangle("b", 20.0, 0.0)];
    let mut gesture = Gesture::moving(1, (5.0, 5.0), selected.clone());
    gesture.pointer_moved((15.0, 8.0), (0.0, 0.0), false);
    let moved: Vec<(f32, f32)> = gesture
        .live_strokes()
        .iter()
        .map(|s| (s.points[0].x, s.points[0].y))
        .collect();
    assert_eq!(moved, vec![(10.0, 3.0), (30.0, 3.0)]);
    gesture.pointer_moved((15.0, 8.0), (0.0, 0.0), true);
    assert_eq!(gesture.live_strokes()[0].points[0], point(10.0, 0.0));
    let Finished::Update(current) = gesture.finish(1.0) else {
        panic!("a move is an update");
    };
    assert_eq!(current.len(), 2);

    // Back where it started: nothing to update, but the draft still ends.
    let mut gesture = Gesture::moving(1, (5.0, 5.0), selected);
    gesture.pointer_moved((5.0, 5.0), (0.0, 0.0), false);
    assert!(gesture.drafts());
    assert_eq!(gesture.finish(1.0), Finished::Nothing);
}

#[test]
fn resizing_scales_the_selection_from_the_grabbed_handle() {
    let from = Rect::from_corners((0.0, 0.0), (10.0, 10.0));
    let selected = vec![rectangle("a", 0.0, 0.0)];
    let mut gesture = Gesture::resizing(1, Handle::BottomRight, from, selected.clone());
    assert!(gesture.is_transforming());
    gesture.pointer_moved((20.0, 30.0), (0.0, 0.0), false);
    let resized = geometry::shape_box(gesture.live_strokes()[0]).expect("a box");
    assert_eq!(resized, Rect::from_corners((0.0, 0.0), (20.0, 30.0)));
    gesture.pointer_moved((20.0, 30.0), (0.0, 0.0), true);
    let square = geometry::shape_box(gesture.live_strokes()[0]).expect("a box");
    assert_eq!(
        square,
        Rect::from_corners((0.0, 0.0), (30.0, 30.0)),
        "shift keeps the aspect"
    );
    assert!(matches!(gesture.abandon(), Abandoned::DraftEnd));

    // Texts always keep their aspect.
    let mut text = rectangle("t", 0.0, 0.0);
    text.kind = StrokeKind::Text;
    let mut gesture = Gesture::resizing(1, Handle::BottomRight, from, vec![text]);
    gesture.pointer_moved((20.0, 30.0), (0.0, 0.0), false);
    let Gesture::Resizing { current, .. } = &gesture else {
        panic!("still resizing");
    };
    assert_eq!(current[0].points[1], point(30.0, 30.0));
}

#[test]
fn the_eraser_collects_each_hit_once() {
    let mut gesture = Gesture::Erasing {
        pointer_id: 1,
        last: point(0.0, 0.0),
        hits: Vec::new(),
    };
    assert_eq!(gesture.eraser_at(), Some(point(0.0, 0.0)));
    assert!(gesture.erased(point(5.0, 0.0), vec![id("a")]));
    assert!(
        !gesture.erased(point(9.0, 0.0), vec![id("a")]),
        "nothing new"
    );
    assert_eq!(gesture.eraser_at(), Some(point(9.0, 0.0)));
    assert_eq!(gesture.hidden(), &[id("a")]);
    assert_eq!(gesture.finish(1.0), Finished::Erase(vec![id("a")]));

    let mut missed = Gesture::Erasing {
        pointer_id: 1,
        last: point(0.0, 0.0),
        hits: Vec::new(),
    };
    assert_eq!(missed.finish(1.0), Finished::Nothing);
}

#[test]
fn marquee_panning_pinching_and_text_placement() {
    let mut marquee = Gesture::Marquee {
        pointer_id: 1,
        start: (0.0, 0.0),
        end: (0.0, 0.0),
        adding: true,
    };
    assert_eq!(
        marquee.pointer_moved((4.0, -3.0), (0.0, 0.0), false),
        Moved::Redraw
    );
    assert_eq!(
        marquee.marquee(),
        Some(Rect::from_corners((0.0, 0.0), (4.0, -3.0)))
    );
    assert_eq!(
        marquee.finish(1.0),
        Finished::Select {
            area: Rect::from_corners((0.0, 0.0), (4.0, -3.0)),
            adding: true
        }
    );

    let mut panning = Gesture::Panning {
        pointer_id: 2,
        last: (100.0, 100.0),
    };
    assert_eq!(panning.pointer(), Some(2));
    assert_eq!(
        panning.pointer_moved((0.0, 0.0), (110.0, 95.0), false),
        Moved::Pan(10.0, -5.0)
    );
    assert_eq!(
        panning.pointer_moved((0.0, 0.0), (110.0, 95.0), false),
        Moved::Pan(0.0, 0.0)
    );

    let mut pinching = Gesture::Pinching {
        last_mid: (50.0, 50.0),
        last_distance: 100.0,
    };
    assert_eq!(pinching.pointer(), None);
    assert_eq!(
        pinching.pinched((60.0, 50.0), 200.0),
        Some(((10.0, 0.0), 2.0))
    );
    assert_eq!(
        pinching.pinched((60.0, 50.0), 200.0),
        Some(((0.0, 0.0), 1.0))
    );
    assert_eq!(Gesture::Idle.pinched((0.0, 0.0), 1.0), None);

    let mut text = Gesture::PlacingText {
        pointer_id: 1,
        at: (7.0, 8.0),
    };
    assert_eq!(
        text.pointer_moved((9.0, 9.0), (0.0, 0.0), false),
        Moved::Nothing
    );
    assert_eq!(text.finish(1.0), Finished::PlaceText((7.0, 8.0)));
}
