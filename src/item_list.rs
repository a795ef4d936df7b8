//! The item list: every item on the board in words, for the keyboard and
//! screen readers ("Rectangle, red, light blue fill, at 120, 40, 200 by
//! 100"), in drawing order (the bottom one first).
//!
//! The page shows it as a listbox: the list itself holds the focus and
//! names its active option in `aria-activedescendant`, so the options can
//! be written anew as HTML whenever the board changes and the focus stays
//! where it was. A board of fifty thousand items would make a list too long
//! to write every time, so at most [`WINDOW`] options are in it at once,
//! around the active one; each says where it is in the whole list
//! (`aria-posinset`, `aria-setsize`).
//!
//! Pure and shared: the words, the keys and the window are tested natively;
//! `client::item_list` puts the HTML in the page and does what keys ask.

use std::collections::HashSet;

use crate::exchange::escape_xml;
use crate::geometry::shape_box;
use crate::protocol::{Stroke, StrokeId, StrokeKind};
use crate::ui::{FILLS, PALETTE};

/// Most options in the list at once.
pub const WINDOW: usize = 100;
/// The window moves once the active option comes this close to its edge.
const WINDOW_MARGIN: usize = 10;
/// Page Up and Page Down move this many items.
const PAGE: isize = 10;
/// Most characters of a text item's text the list shows.
const TEXT_SHOWN: usize = 60;

/// What a key pressed in the list asks for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ListKey {
    /// Another item becomes the active one, this many places down (up if
    /// negative; `isize::MIN` is the first item, `isize::MAX` the last).
    Step(isize),
    /// Select the active item on the board (and bring it into view).
    Select,
    /// Remove the active item.
    Delete,
    /// Move the active item by this much, in screen pixels.
    Move(f64, f64),
    /// Close the list.
    Close,
}

impl ListKey {
    /// The meaning of `key` (a `KeyboardEvent.key`) with Alt and Shift as
    /// given; `None` for keys the list leaves to the board's shortcuts
    /// (Ctrl/⌘ + Z undoes from the list too).
    pub fn of(key: &str, alt: bool, shift: bool) -> Option<ListKey> {
        // As the board's arrow keys do: one pixel, ten with Shift.
        let by = if shift { 10.0 } else { 1.0 };
        Some(match (alt, key) {
            (true, "ArrowLeft") => ListKey::Move(-by, 0.0),
            (true, "ArrowRight") => ListKey::Move(by, 0.0),
            (true, "ArrowUp") => ListKey::Move(0.0, -by),
            (true, "ArrowDown") => ListKey::Move(0.0, by),
            (false, "ArrowUp") => ListKey::Step(-1),
            (false, "ArrowDown") => ListKey::Step(1),
            // Kept from the board, which would nudge its selection.
            (false, "ArrowLeft" | "ArrowRight") => ListKey::Step(0),
            (false, "PageUp") => ListKey::Step(-PAGE),
            (false, "PageDown") => ListKey::Step(PAGE),
            (false, "Home") => ListKey::Step(isize::MIN),
            (false, "End") => ListKey::Step(isize::MAX),
            (false, "Enter" | " ") => ListKey::Select,
            (false, "Delete" | "Backspace") => ListKey::Delete,
            (false, "Escape") => ListKey::Close,
            _ => return None,
        })
    }
}

/// Which item of the list is the active one, and which part of the list
/// is written out.
#[derive(Debug, Default)]
pub struct ItemList {
    /// The active item, and its place when last seen: when it goes, the
    /// item that takes its place becomes the active one.
    active: Option<StrokeId>,
    at: usize,
    /// The place of the first option written out.
    start: usize,
}

impl ItemList {
    /// The active item (after [`Self::step`] or [`Self::render`] found it).
    pub fn active(&self) -> Option<&StrokeId> {
        self.active.as_ref()
    }

    /// Makes `id` the active item.
    pub fn activate(&mut self, id: StrokeId) {
        self.active = Some(id);
    }

    /// Moves the active item `by` places (see [`ListKey::Step`]) in
    /// `items`, the board's items in drawing order.
    pub fn step(&mut self, items: &[&Stroke], by: isize) {
        let Some(last) = items.len().checked_sub(1) else {
            self.active = None;
            return;
        };
        let at = self.locate(items).saturating_add_signed(by);
        self.at = at.min(last);
        self.active = Some(items[self.at].id.clone());
    }

    /// The list's options as HTML, for `items` (in drawing order) with
    /// `selected` selected on the board; the active one is found again
    /// first, and the window moved to show it.
    pub fn render(&mut self, items: &[&Stroke], selected: &[StrokeId]) -> String {
        self.step(items, 0);
        if items.is_empty() {
            return r#"<li role="option" aria-disabled="true" class="muted">Nothing on the board yet</li>"#.to_owned();
        }
        let count = items.len();
        let near_edge =
            self.at < self.start + WINDOW_MARGIN || self.at + WINDOW_MARGIN >= self.start + WINDOW;
        if near_edge || self.start + WINDOW > count {
            self.start = self.at.saturating_sub(WINDOW / 2);
        }
        self.start = self.start.min(count.saturating_sub(WINDOW));
        let selected: HashSet<&StrokeId> = selected.iter().collect();
        items
            .iter()
            .enumerate()
            .skip(self.start)
            .take(WINDOW)
            .map(|(at, item)| {
                let swatch = match item.kind {
                    StrokeKind::Image => "transparent",
                    _ => item.style.color.as_str(),
                };
                format!(
                    r#"<li role="option" id="{}" data-stroke="{}" aria-selected="{}" aria-posinset="{}" aria-setsize="{count}"{}><span class="item-swatch" style="--swatch: {swatch}"></span>{}</li>"#,
                    option_id(&item.id),
                    item.id.as_str(),
                    selected.contains(&item.id),
                    at + 1,
                    if at == self.at { r#" class="active""# } else { "" },
                    escape_xml(&describe(item)),
                )
            })
            .collect()
    }

    /// Where the active item is in `items`: found by its id, else at the
    /// place it was last seen (or the last place, if the list got shorter).
    fn locate(&self, items: &[&Stroke]) -> usize {
        let found = self
            .active
            .as_ref()
            .and_then(|id| items.iter().position(|item| &item.id == id));
        found.unwrap_or(self.at).min(items.len().saturating_sub(1))
    }
}

/// The HTML id of an item's option (what `aria-activedescendant` names).
pub fn option_id(id: &StrokeId) -> String {
    format!("item-{}", id.as_str())
}

/// An item in words: its kind (and text), colours, place and size.
pub fn describe(item: &Stroke) -> String {
    let mut words = kind_name(item.kind).to_owned();
    if let Some(text) = item
        .text
        .as_deref()
        .filter(|_| item.kind == StrokeKind::Text)
    {
        let shown: String = text.chars().take(TEXT_SHOWN).collect();
        let more = if shown.len() < text.len() { "…" } else { "" };
        words += &format!(" “{}{more}”", shown.replace('\n', " "));
    }
    if item.kind != StrokeKind::Image {
        words += ", ";
        words += &colour_name(item.style.color.as_str(), &PALETTE);
    }
    if let Some(fill) = &item.fill {
        words += ", ";
        words += &colour_name(fill.as_str(), &FILLS);
        if !FILLS
            .iter()
            .any(|(colour, _)| colour.eq_ignore_ascii_case(fill.as_str()))
        {
            words += " fill";
        }
    }
    if item.opacity < 1.0 {
        words += &format!(", {}% opaque", (item.opacity * 100.0).round() as i32);
    }
    words + &place(item)
}

/// Where an item is and how big, in board units: ", at 120, 40, 200 by 100".
pub fn place(item: &Stroke) -> String {
    let Some(area) = shape_box(item) else {
        return String::new();
    };
    let whole = |value: f32| value.round() as i64;
    format!(
        ", at {}, {}, {} by {}",
        whole(area.min_x),
        whole(area.min_y),
        whole(area.width()),
        whole(area.height())
    )
}

/// What the list calls an item of `kind`.
pub fn kind_name(kind: StrokeKind) -> &'static str {
    match kind {
        StrokeKind::Freehand => "Pen stroke",
        StrokeKind::Rectangle => "Rectangle",
        StrokeKind::Ellipse => "Ellipse",
        StrokeKind::Line => "Line",
        StrokeKind::Arrow => "Arrow",
        StrokeKind::Text => "Text",
        StrokeKind::Image => "Image",
    }
}

/// A colour's name in `names` (in lower case), or its hex code.
fn colour_name(colour: &str, names: &[(&str, &str)]) -> String {
    match names
        .iter()
        .find(|(hex, _)| hex.eq_ignore_ascii_case(colour))
    {
        Some((_, name)) => name.to_ascii_lowercase(),
        None => colour.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{Color, Point, StrokeStyle};

    fn item(id: &str, kind: StrokeKind, points: &[(f32, f32)]) -> Stroke {
        let style = StrokeStyle {
            color: Color::parse("#1e1e1e").expect("a colour"),
            width: 2.0,
        };
        let points = points.iter().map(|&(x, y)| Point::new(x, y, 0.5)).collect();
        Stroke::new(
            StrokeId::parse(id).expect("a valid id"),
            kind,
            style,
            points,
        )
    }

    fn items(count: usize) -> Vec<Stroke> {
        (0..count)
            .map(|i| {
                item(
                    &format!("s{i}"),
                    StrokeKind::Line,
                    &[(0.0, 0.0), (1.0, 1.0)],
                )
            })
            .collect()
    }

    #[test]
    fn an_item_is_described_by_kind_text_colours_place_and_size() {
        let mut rectangle = item(
            "r1",
            StrokeKind::Rectangle,
            &[(120.4, 40.0), (320.0, 140.0)],
        );
        rectangle.style.color = Color::parse("#E03131").expect("a colour");
        rectangle.fill = Some(Color::parse("#a5d8ff").expect("a colour"));
        assert_eq!(
            describe(&rectangle),
            "Rectangle, red, light blue fill, at 120, 40, 200 by 100"
        );
        rectangle.fill = Some(Color::parse("#123456").expect("a colour"));
        rectangle.opacity = 0.5;
        assert_eq!(
            describe(&rectangle),
            "Rectangle, red, #123456 fill, 50% opaque, at 120, 40, 200 by 100"
        );

        let mut text = item("t1", StrokeKind::Text, &[(10.0, 20.0)]);
        text.text = Some("Hello\nworld".to_owned());
        text.style.color = Color::parse("#ff8800").expect("a colour");
        let words = describe(&text);
        assert!(
            words.starts_with("Text “Hello world”, #ff8800, at 10, 20, "),
            "{words}"
        );
        text.text = Some("x".repeat(100));
        assert!(describe(&text).contains(&format!("“{}…”", "x".repeat(TEXT_SHOWN))));

        // An image has no colour of its own to speak of.
        let image = item("i1", StrokeKind::Image, &[(0.0, 0.0), (640.0, 480.0)]);
        assert_eq!(describe(&image), "Image, at 0, 0, 640 by 480");
        let pen = item("p1", StrokeKind::Freehand, &[(5.0, 5.0), (9.0, 6.0)]);
        assert_eq!(describe(&pen), "Pen stroke, black, at 5, 5, 4 by 1");
    }

    #[test]
    fn keys_step_select_delete_move_and_close_and_leave_the_rest_to_the_board() {
        assert_eq!(
            ListKey::of("ArrowDown", false, false),
            Some(ListKey::Step(1))
        );
        assert_eq!(ListKey::of("ArrowUp", false, true), Some(ListKey::Step(-1)));
        assert_eq!(
            ListKey::of("End", false, false),
            Some(ListKey::Step(isize::MAX))
        );
        assert_eq!(ListKey::of("Enter", false, false), Some(ListKey::Select));
        assert_eq!(ListKey::of("Delete", false, false), Some(ListKey::Delete));
        assert_eq!(
            ListKey::of("ArrowLeft", true, false),
            Some(ListKey::Move(-1.0, 0.0))
        );
        assert_eq!(
            ListKey::of("ArrowDown", true, true),
            Some(ListKey::Move(0.0, 10.0))
        );
        assert_eq!(ListKey::of("Escape", false, false), Some(ListKey::Close));
        assert_eq!(ListKey::of("z", false, false), None);
        assert_eq!(ListKey::of("Enter", true, false), None);
    }

    #[test]
    fn steps_stop_at_the_ends_and_the_active_item_is_found_by_id() {
        let board = items(5);
        let refs: Vec<&Stroke> = board.iter().collect();
        let mut list = ItemList::default();
        list.step(&refs, 0);
        assert_eq!(list.active().map(StrokeId::as_str), Some("s0"));
        list.step(&refs, -1);
        assert_eq!(list.active().map(StrokeId::as_str), Some("s0"));
        list.step(&refs, 3);
        assert_eq!(list.active().map(StrokeId::as_str), Some("s3"));
        list.step(&refs, isize::MAX);
        assert_eq!(list.active().map(StrokeId::as_str), Some("s4"));
        list.step(&refs, isize::MIN);
        assert_eq!(list.active().map(StrokeId::as_str), Some("s0"));

        // Found where it went: another item added below it.
        list.activate(StrokeId::parse("s2").expect("an id"));
        let mut grown = vec![item("new", StrokeKind::Line, &[(0.0, 0.0)])];
        grown.extend(board.iter().cloned());
        let refs: Vec<&Stroke> = grown.iter().collect();
        list.step(&refs, 1);
        assert_eq!(list.active().map(StrokeId::as_str), Some("s3"));

        // Gone: the item now in its place is the active one.
        let shrunk: Vec<&Stroke> = grown.iter().filter(|s| s.id.as_str() != "s3").collect();
        list.step(&shrunk, 0);
        assert_eq!(list.active().map(StrokeId::as_str), Some("s4"));
        let none: Vec<&Stroke> = Vec::new();
        list.step(&none, 1);
        assert_eq!(list.active(), None);
        assert!(list.render(&none, &[]).contains("Nothing on the board yet"));
    }

    #[test]
    fn the_options_say_which_are_selected_and_active_and_escape_the_text() {
        let mut board = items(3);
        board[1].kind = StrokeKind::Text;
        board[1].text = Some("<b>&".to_owned());
        let refs: Vec<&Stroke> = board.iter().collect();
        let mut list = ItemList::default();
        list.step(&refs, 1);
        let html = list.render(&refs, &[board[2].id.clone()]);
        assert_eq!(html.matches("<li").count(), 3);
        assert!(html.contains(r#"id="item-s1" data-stroke="s1" aria-selected="false" aria-posinset="2" aria-setsize="3" class="active""#), "{html}");
        assert!(
            html.contains(r#"id="item-s2" data-stroke="s2" aria-selected="true""#),
            "{html}"
        );
        assert!(html.contains("“&lt;b&gt;&amp;”"), "{html}");
        assert!(!html.contains("<b>"));
    }

    #[test]
    fn a_long_list_writes_out_a_window_round_the_active_item() {
        let board = items(1_000);
        let refs: Vec<&Stroke> = board.iter().collect();
        let mut list = ItemList::default();
        let positions = |html: &str| -> Vec<usize> {
            html.split("aria-posinset=\"")
                .skip(1)
                .filter_map(|rest| rest.split('"').next()?.parse().ok())
                .collect()
        };
        let first = positions(&list.render(&refs, &[]));
        assert_eq!(first, (1..=WINDOW).collect::<Vec<_>>());
        // A few steps down, the window stays.
        list.step(&refs, 20);
        assert_eq!(positions(&list.render(&refs, &[]))[0], 1);
        // Near its end, it moves to have the active item in its middle.
        list.step(&refs, 75);
        let moved = positions(&list.render(&refs, &[]));
        assert_eq!(moved.len(), WINDOW);
        assert_eq!(moved[0], 96 - WINDOW / 2);
        list.step(&refs, isize::MAX);
        let end = positions(&list.render(&refs, &[]));
        assert_eq!(end.first(), Some(&(1_000 - WINDOW + 1)));
        assert_eq!(end.last(), Some(&1_000));
        assert!(list
            .render(&refs, &[])
            .contains(r#"aria-posinset="1000" aria-setsize="1000" class="active""#));
    }
}
