//! The history panel's side of the engine: it asks the server for a page
//! of the board's history, for past versions while the person scrubs, and
//! for operations to replay, and shows what comes back. The replica holds
//! the past version shown (read-only, painted by the same board layer); this
//! file only decides what to read next and what the panel's signals say.
//!
//! The server answers one history read per connection at a time, so reads
//! go out one after the other: the version scrubbed to last wins over
//! versions scrubbed past meanwhile, then operations for a replay, then
//! what the list of sessions does not hold yet (the newest thousand
//! operations when it opens, then only the new ones: following a busy
//! board costs little).

use std::collections::VecDeque;

use leptos::prelude::{GetUntracked, Set};
use wasm_bindgen::{JsCast, JsValue};

use super::engine::{Engine, EngineHandle};
use crate::exchange::escape_xml;
use crate::history::{entry_at, sessions, Session};
use crate::protocol::{
    limits, validate_version_name, ClientMessage, HistoryEntry, Operation, Request,
};
use crate::ui::{HistoryAction, Tool};

/// Operations asked for at once to replay.
const REPLAY_PAGE: u32 = 200;
/// A replay asks for more when fewer than this many are left.
const REPLAY_LOW: usize = 50;
/// Operations a second at the slowest speed (the speed button multiplies).
const REPLAY_RATE: f64 = 4.0;
/// Speeds the speed button goes through.
const SPEEDS: [u32; 3] = [1, 4, 16];
/// Most entries of the board's history the panel holds (the newest).
const MAX_ENTRIES: usize = 5_000;

/// What the engine keeps for the history panel.
#[derive(Default)]
pub(super) struct History {
    /// The newest operations of the board's history, oldest first.
    entries: Vec<HistoryEntry>,
    /// A read is out (its answer or an error ends it).
    reading: bool,
    /// The version to show next (scrubbed to while a read was out).
    wanted: Option<u64>,
    /// Operations to replay, and whether more are wanted.
    replay: VecDeque<Operation>,
    more_ops: bool,
    /// When the last replayed operation was shown (`Date.now()`).
    stepped_at: f64,
    /// Whether the replay plays, and how fast (one of [`SPEEDS`]; 0 is 1).
    playing: bool,
    speed: u32,
    /// The list of sessions of the last page, as HTML.
    sessions: String,
    /// The board's number the slider last reached to.
    slider_end: u64,
    /// The board's number the page was last read up to (`u64::MAX`: read
    /// it whole).
    page_seq: u64,
    /// The tool in hand before a past version was shown (the hand while
    /// one is: a past version only pans and zooms).
    tool_before: Option<Tool>,
}

impl EngineHandle {
    /// Does what the history panel asks.
    pub fn history(&self, action: HistoryAction) {
        match action {
            HistoryAction::Name => self.name_version(),
            HistoryAction::ExportPng => self.export_png(true),
            HistoryAction::ExportSvg => self.export_svg(),
            HistoryAction::ExportJson => self.export_json(),
            action => {
                self.with(|engine| engine.history_action(action));
            }
        }
    }

    /// Names the board as it is now (asks for the name).
    fn name_version(&self) {
        let name = web_sys::window()
            .and_then(|w| w.prompt_with_message("Name this version").ok().flatten())
            .map(|name| name.trim().to_owned())
            .unwrap_or_default();
        if name.is_empty() {
            return;
        }
        self.with(|engine| match validate_version_name(&name) {
            Ok(()) => engine.submit(Request::NameVersion(name)),
            Err(error) => engine.ui.notice.set(Some(error.message)),
        });
    }
}

impl Engine {
    pub(super) fn history_action(&mut self, action: HistoryAction) {
        match action {
            HistoryAction::Open => {
                self.ui.items_open.set(false);
                self.ui.history_open.set(true);
                self.history.page_seq = u64::MAX;
                self.set_slider(None);
            }
            HistoryAction::Close => {
                self.ui.history_open.set(false);
                self.leave_past();
            }
            HistoryAction::Show(seq) => {
                self.set_slider(Some(seq));
                self.history.playing = false;
                self.history.replay.clear();
                if seq >= self.replica.board().seq() {
                    self.leave_past();
                } else {
                    self.history.wanted = Some(seq);
                }
            }
            // Plays the board's drawing from the version shown (from the
            // start when the live board is shown), or pauses it.
            HistoryAction::Play if self.history.playing => self.history.playing = false,
            HistoryAction::Play => {
                if self.replica.past().is_none() {
                    self.history.wanted = Some(0);
                }
                self.history.playing = true;
                self.history.replay.clear();
                self.history.more_ops = true;
            }
            HistoryAction::Speed => {
                let at = SPEEDS.iter().position(|s| *s == self.history.speed);
                self.history.speed = SPEEDS[at.map_or(1, |at| (at + 1) % SPEEDS.len())];
            }
            // Makes the board what the version shown was, for everyone.
            HistoryAction::Restore => {
                let Some(seq) = self.replica.past() else {
                    return;
                };
                self.submit(Request::Restore { seq });
                self.leave_past();
                self.ui.notice.set(Some(format!("Restored version {seq}")));
            }
            HistoryAction::Name
            | HistoryAction::ExportPng
            | HistoryAction::ExportSvg
            | HistoryAction::ExportJson => {}
        }
        self.show_history();
        self.next_read();
    }

    /// Sends the next history read, if none is out: the version wanted,
    /// operations for a replay, or a fresh page of history.
    pub(super) fn next_read(&mut self) {
        // While a big board's snapshot is still being merged, its scene is
        // the live board's: a past version waits until it is whole.
        if self.history.reading || !self.replica.is_live() || self.replica.merging() {
            return;
        }
        let live = self.replica.board().seq();
        let read = if let Some(seq) = self.history.wanted.take() {
            ClientMessage::BoardAt { seq }
        } else if let (true, Some(shown)) = (self.wants_ops(), self.replica.past()) {
            self.history.more_ops = false;
            let after = self.history.replay.back().map_or(shown, |op| op.seq);
            ClientMessage::Ops {
                after,
                limit: REPLAY_PAGE,
            }
        } else if self.ui.history_open.get_untracked() && self.history.page_seq != live {
            // Only what the page does not hold yet (all of it the first
            // time), so following a busy board costs little.
            let new = match self.history.page_seq {
                read if read <= live => live - read,
                _ => u64::MAX,
            };
            self.history.page_seq = live;
            ClientMessage::History {
                before: None,
                limit: u32::try_from(new)
                    .unwrap_or(u32::MAX)
                    .clamp(1, limits::MAX_HISTORY_PAGE),
            }
        } else {
            return;
        };
        self.history.reading = true;
        self.send(&read);
    }

    /// Whether a replay is playing (frames keep coming while it is).
    pub(super) fn replaying(&self) -> bool {
        self.history.playing
    }

    /// Whether a replay needs more operations from the server.
    fn wants_ops(&self) -> bool {
        self.history.playing && self.history.more_ops && self.history.replay.len() < REPLAY_LOW
    }

    /// A refusal naming no request came: if a read was out, it was that
    /// (the notice says why); the next one may go.
    pub(super) fn read_refused(&mut self) {
        if self.history.reading {
            self.read_done();
        }
    }

    /// The connection dropped: nothing is out any more (the next one reads
    /// again once welcomed).
    pub(super) fn reads_lost(&mut self) {
        self.history.reading = false;
        self.history.page_seq = u64::MAX;
    }

    /// A read was answered (or refused, or the connection dropped).
    pub(super) fn read_done(&mut self) {
        self.history.reading = false;
        self.next_read();
    }

    pub(super) fn on_history_page(&mut self, entries: Vec<HistoryEntry>) {
        // The newest operations follow the page; after a gap (or the first
        // time) the page is replaced.
        let known = &mut self.history.entries;
        let follows = match (known.last(), entries.first()) {
            (Some(last), Some(first)) => first.seq <= last.seq + 1,
            (_, None) => true,
            (None, Some(_)) => false,
        };
        if follows {
            let last = known.last().map_or(0, |entry| entry.seq);
            known.extend(entries.into_iter().filter(|entry| entry.seq > last));
        } else {
            *known = entries;
        }
        let excess = known.len().saturating_sub(MAX_ENTRIES);
        known.drain(..excess);
        self.history.sessions = sessions_html(&sessions(&self.history.entries));
        self.show_history();
        self.read_done();
    }

    pub(super) fn on_replay_ops(&mut self, ops: Vec<Operation>) {
        // Fewer than asked for: the replay reached the stored end.
        self.history.more_ops = ops.len() == REPLAY_PAGE as usize;
        self.history.replay.extend(ops);
        self.read_done();
    }

    /// A past version is shown now.
    pub(super) fn on_past(&mut self) {
        if self.history.tool_before.is_none() {
            self.history.tool_before = Some(self.ui.tool.get_untracked());
            self.abandon_gesture();
            self.ui.tool.set(Tool::Hand);
        }
        self.ui.looking_back.set(true);
        self.show_history();
        self.read_done();
    }

    /// While playing: shows the next operation when it is due (one frame
    /// at a time); `true` while the replay goes on.
    pub(super) fn step_replay(&mut self, now: f64) -> bool {
        if !self.history.playing {
            return false;
        }
        let Some(shown) = self.replica.past() else {
            // Waiting for the version to start from.
            return true;
        };
        if shown >= self.replica.board().seq() {
            self.leave_past();
            return false;
        }
        if self.history.replay.is_empty() && !self.history.more_ops && !self.history.reading {
            // The last answer reached the stored end, and the board went
            // on since: ask again (there are operations after `shown`).
            self.history.more_ops = true;
        }
        // With reduced motion, a replay is no animation: every operation
        // read so far is shown at once.
        let interval = 1_000.0 / (REPLAY_RATE * f64::from(self.history.speed.max(1)));
        let due = match self.reduced_motion {
            true => self.history.replay.len(),
            false => usize::from(now - self.history.stepped_at >= interval),
        };
        for _ in 0..due {
            if let Some(op) = self.history.replay.pop_front() {
                self.history.stepped_at = now;
                if self.replica.step_past(&op) {
                    self.set_slider(Some(op.seq));
                    self.show_history();
                    self.dirty = true;
                }
            }
        }
        self.next_read();
        true
    }

    /// Shows the live board again (a replay stops).
    pub(super) fn leave_past(&mut self) {
        self.history.playing = false;
        self.history.wanted = None;
        self.history.replay.clear();
        if self.replica.leave_past() {
            self.dirty = true;
        }
        if let Some(tool) = self.history.tool_before.take() {
            self.ui.tool.set(tool);
        }
        self.ui.looking_back.set(false);
        self.set_slider(None);
        self.show_history();
    }

    /// The board changed: the panel's slider reaches further, and its list
    /// is read again before long.
    pub(super) fn history_follows_board(&mut self) {
        if !self.ui.history_open.get_untracked() {
            return;
        }
        if self.history.slider_end != self.replica.board().seq() {
            self.set_slider(self.replica.past());
            if self.replica.past().is_none() {
                self.show_history();
            }
        }
        self.next_read();
    }

    /// Puts the slider's end at the board's number and its thumb at
    /// `version` (at the end for the live board). Not while a version
    /// scrubbed to is on its way: the thumb stays where the person put it.
    fn set_slider(&mut self, version: Option<u64>) {
        let live = self.replica.board().seq();
        self.history.slider_end = live;
        let slider = web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.query_selector(".history-slider").ok().flatten())
            .and_then(|e| e.dyn_into::<web_sys::HtmlInputElement>().ok());
        if let Some(slider) = slider {
            slider.set_max(&live.to_string());
            slider.set_value(&version.unwrap_or(live).to_string());
        }
    }

    /// What the panel shows under its slider: which version is shown, when
    /// and by whom, its buttons, and the list of sessions (HTML the engine
    /// writes: one binding in the page instead of one per control).
    fn show_history(&self) {
        if !self.ui.history_open.get_untracked() {
            return;
        }
        let live = self.replica.board().seq();
        let label = match self.replica.past() {
            None => format!("Now: version {live}"),
            Some(seq) => match entry_at(&self.history.entries, seq) {
                Some(entry) if entry.at > 0 => format!(
                    "Version {seq} of {live} · {} · {}",
                    escape_xml(&format_time(entry.at, true)),
                    escape_xml(entry.name.as_deref().unwrap_or(crate::history::UNNAMED))
                ),
                _ => format!("Version {seq} of {live}"),
            },
        };
        let speed = self.history.speed.max(1);
        let play = if self.history.playing {
            "Pause"
        } else {
            "Play"
        };
        let restorable = if self.replica.past().is_some() {
            ""
        } else {
            " disabled"
        };
        self.ui.history_html.set(format!(
            r#"<p class="history-label" data-testid="history-label">{label}</p><div class="history-actions"><button type="button" class="secondary" data-action="play">{play}</button><button type="button" class="secondary" data-action="speed" title="Replay speed" aria-label="Replay speed {speed}×">{speed}×</button><button type="button" class="primary edit-only" data-action="restore"{restorable}>Restore this version</button><button type="button" class="secondary edit-only" data-action="name">Name the current version</button></div><div class="history-actions"><span class="muted">Export what is shown:</span><button type="button" class="secondary" data-action="png">PNG</button><button type="button" class="secondary" data-action="svg">SVG</button><button type="button" class="secondary" data-action="json">JSON</button></div><ol class="history-sessions" aria-label="Sessions">{}</ol>"#,
            self.history.sessions
        ));
    }
}

/// The sessions as the panel lists them: a button per session (it shows
/// the version at the session's end) and one per named version. Names come
/// from other people, so everything is escaped.
fn sessions_html(sessions: &[Session]) -> String {
    let mut html = String::new();
    for session in sessions {
        let when = if session.start == 0 {
            "Before times were kept".to_owned()
        } else {
            format!(
                "{} – {}",
                format_time(session.start, true),
                format_time(session.end, false)
            )
        };
        let changes = match session.changes {
            1 => "1 change".to_owned(),
            n => format!("{n} changes"),
        };
        html.push_str(&format!(
            r#"<li><button type="button" data-seq="{}"><span>{}</span><span class="muted">{} · {}</span></button>"#,
            session.last,
            escape_xml(&when),
            escape_xml(&session.authors.join(", ")),
            changes
        ));
        for (seq, name) in session.named.iter().rev() {
            html.push_str(&format!(
                r#"<button type="button" class="named" data-seq="{seq}">★ {}</button>"#,
                escape_xml(name)
            ));
        }
        html.push_str("</li>");
    }
    html
}

/// A time in the browser's language: "30 Nov 2026, 14:03", or "14:03".
fn format_time(ms: u64, with_date: bool) -> String {
    let options = if with_date {
        r#"{"dateStyle":"medium","timeStyle":"short"}"#
    } else {
        r#"{"timeStyle":"short"}"#
    };
    let options = js_sys::JSON::parse(options).unwrap_or(JsValue::UNDEFINED);
    let language = web_sys::window()
        .and_then(|w| w.navigator().language())
        .unwrap_or_else(|| "en".into());
    js_sys::Date::new(&JsValue::from_f64(ms as f64))
        .to_locale_string(&language, &options)
        .into()
}
