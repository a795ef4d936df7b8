//! The item list's side of the engine. While the list is open, its options
//! (HTML made by [`crate::item_list`]) are written into the page's listbox
//! after every key, and at most every [`RENDER_INTERVAL_MS`] while the
//! items or the selection change (and only if the options changed). It
//! lists the items as this tab has them: with its pending requests, but
//! not strokes anyone is still drawing. Its keys and presses become
//! what the board's own controls do: select an item (and bring it into
//! view), remove it, move it; each said in the live region, as others'
//! changes are.

use leptos::prelude::{GetUntracked, Set};
use wasm_bindgen::JsCast;
use web_sys::HtmlElement;

use super::engine::{later, Engine, EngineHandle};
use crate::geometry::visual_bounds;
use crate::item_list::{describe, kind_name, option_id, place, ItemList, ListKey};
use crate::protocol::{Stroke, StrokeId};
use crate::ui::{HistoryAction, Tool};

/// The list is written anew at most this often while the board changes
/// (milliseconds): a busy board would otherwise rebuild it every frame.
const RENDER_INTERVAL_MS: u32 = 200;

/// What the engine keeps for the item list.
#[derive(Default)]
pub(super) struct ItemsPanel {
    /// The active item and the window of options written out.
    list: ItemList,
    /// Writing the list anew is scheduled.
    due: bool,
    /// The options as last written: the same options are not written
    /// again (a row replaced under a press would lose the press).
    written: String,
    /// What the options were last made from (see [`Engine::items_version`]).
    made_from: Option<ItemsVersion>,
}

/// What the options depend on, cheap to compare: the board's last
/// operation and size (a snapshot merged in parts grows it without
/// operations), the version shown (history), how often the pending
/// requests changed, and the selection's size. Someone's pointer moving,
/// or someone drawing, changes none of it: making the options walks the
/// whole board (16 ms for 100,000 items).
type ItemsVersion = (u64, usize, Option<u64>, u64, usize);

impl EngineHandle {
    /// Opens the item list, or closes it (the board menu's "Item list").
    pub fn toggle_items(&self) {
        self.with(|engine| engine.show_items(!engine.ui.items_open.get_untracked()));
    }

    /// A key pressed in the list, with Alt and Shift as they were: `true`
    /// if the list took it (the board's shortcuts then leave it alone).
    pub fn item_key(&self, key: &str, alt: bool, shift: bool) -> bool {
        let Some(key) = ListKey::of(key, alt, shift) else {
            return false;
        };
        self.with(|engine| engine.item_key(key));
        true
    }

    /// An option was pressed: its item becomes the active one, selected.
    pub fn pick_item(&self, id: String) {
        let Ok(id) = StrokeId::parse(&id) else {
            return;
        };
        self.with(|engine| {
            engine.items.list.activate(id);
            engine.item_key(ListKey::Select);
        });
    }
}

impl Engine {
    /// Opens or closes the list. Opened, it is written and takes the focus
    /// (once the page shows it); closed, the focus goes back to the menu.
    fn show_items(&mut self, open: bool) {
        self.ui.items_open.set(open);
        if !open {
            focus(".menu-button");
            return;
        }
        // One panel on the right at a time.
        if self.ui.history_open.get_untracked() {
            self.history_action(HistoryAction::Close);
        }
        if let Some(handle) = self.handle() {
            handle.post(|engine| {
                engine.render_items(0);
                focus(".items-list");
            });
        }
    }

    /// The selection changed (to another of the same size, maybe): the
    /// open list is written anew soon.
    pub(super) fn items_selected(&mut self) {
        self.items.made_from = None;
        self.items_changed();
    }

    /// Something came in or was done: the open list is written anew soon
    /// (once for everything that changes meanwhile) if what it shows
    /// changed.
    pub(super) fn items_changed(&mut self) {
        if self.items.due
            || !self.ui.items_open.get_untracked()
            || self.items.made_from == Some(self.items_version())
        {
            return;
        }
        let Some(handle) = self.handle() else {
            return;
        };
        self.items.due = true;
        later(&handle, RENDER_INTERVAL_MS, |engine| {
            engine.items.due = false;
            engine.render_items(0);
        });
    }

    fn items_version(&self) -> ItemsVersion {
        let board = self.replica.board();
        (
            board.seq(),
            board.stroke_count(),
            self.replica.past(),
            self.replica.pending_changes(),
            self.replica.selection().len(),
        )
    }

    /// Writes the list's options, the active one `step` places on from
    /// where it was (see [`ListKey::Step`]); names it as the list's active
    /// descendant, scrolls it into the list's sight, and returns it.
    fn render_items(&mut self, step: isize) -> Option<Stroke> {
        let list = element(".items-list")?;
        self.items.made_from = Some(self.items_version());
        let mut item_list = std::mem::take(&mut self.items.list);
        let strokes = self.replica.settled_strokes();
        let items: Vec<&Stroke> = strokes.iter().map(|(s, _)| s.as_ref()).collect();
        item_list.step(&items, step);
        let html = item_list.render(&items, self.replica.selection());
        let active = item_list.active();
        let item = items
            .into_iter()
            .find(|item| Some(&item.id) == active)
            .cloned();
        drop(strokes);
        self.items.list = item_list;
        if html != self.items.written {
            list.set_inner_html(&html);
            self.items.written = html;
        }
        let Some(item) = item else {
            let _ = list.remove_attribute("aria-activedescendant");
            return None;
        };
        let id = option_id(&item.id);
        let _ = list.set_attribute("aria-activedescendant", &id);
        let row = web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.get_element_by_id(&id))
            .and_then(|row| row.dyn_into::<HtmlElement>().ok());
        if let Some(row) = row {
            let (top, bottom) = (row.offset_top(), row.offset_top() + row.offset_height());
            if top < list.scroll_top() {
                list.set_scroll_top(top);
            } else if bottom > list.scroll_top() + list.client_height() {
                list.set_scroll_top(bottom - list.client_height());
            }
        }
        Some(item)
    }

    /// Does what a key in the list asks. What it changes on the board
    /// writes the list anew (`items_changed`).
    fn item_key(&mut self, key: ListKey) {
        match key {
            ListKey::Close => self.show_items(false),
            ListKey::Step(by) => {
                self.render_items(by);
            }
            key => {
                if let Some(item) = self.render_items(0) {
                    self.act_on_item(key, item);
                }
            }
        }
    }

    /// Selects, removes or moves `item`, and says so.
    fn act_on_item(&mut self, key: ListKey, item: Stroke) {
        // A view link's page only shows where an item is (and says why
        // it removes and moves nothing).
        if self.ui.viewer {
            match key {
                ListKey::Select => self.bring_into_view(&item),
                _ => {
                    self.view_only();
                }
            }
            return;
        }
        if self.ui.tool.get_untracked() != Tool::Select {
            self.choose_tool(Tool::Select);
        }
        self.select(vec![item.id.clone()]);
        let words = match key {
            ListKey::Delete => {
                self.delete_selection();
                format!("Deleted {}", describe(&item))
            }
            ListKey::Move(dx, dy) => {
                self.nudge_selection(dx, dy);
                let moved = self.selected_strokes();
                let moved = moved.first().unwrap_or(&item);
                format!("{}{}", kind_name(moved.kind), place(moved))
            }
            _ => {
                self.bring_into_view(&item);
                format!("Selected {}", describe(&item))
            }
        };
        self.ui.announcement.set(words);
    }

    /// Pans (and zooms out, if it must) to show `item` whole, unless it
    /// is in sight already.
    fn bring_into_view(&mut self, item: &Stroke) {
        let Some(area) = visual_bounds(item) else {
            return;
        };
        let (w, h, _) = self.size;
        let shown = self.view.bringing_into_view(&area, (w, h));
        if shown != self.view {
            self.set_view(|view| *view = shown);
        }
    }
}

/// The page's element `selector` finds, as an HTML element.
fn element(selector: &str) -> Option<HtmlElement> {
    web_sys::window()?
        .document()?
        .query_selector(selector)
        .ok()??
        .dyn_into()
        .ok()
}

/// Puts the focus on the element `selector` finds.
fn focus(selector: &str) {
    if let Some(element) = element(selector) {
        let _ = element.focus();
    }
}
