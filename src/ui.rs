//! State shared between the board page's Leptos views and the canvas engine.
//!
//! The toolbar writes the tool, colour and width; the engine reads them when a
//! stroke starts and writes back what the status bar shows. Plain reactive
//! signals, so the same types render on the server and hydrate in the browser.

use leptos::prelude::*;

/// The active drawing tool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    Pen,
    Eraser,
}

/// The WebSocket's state as the status bar shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionStatus {
    /// First connection attempt after the page loaded.
    Connecting,
    Connected,
    /// The connection dropped; drawing continues and is sent on reconnect.
    Reconnecting,
}

impl ConnectionStatus {
    /// The text of `data-testid="connection-status"`.
    pub fn label(self) -> &'static str {
        match self {
            ConnectionStatus::Connecting => "connecting",
            ConnectionStatus::Connected => "connected",
            ConnectionStatus::Reconnecting => "reconnecting",
        }
    }
}

/// Palette colours with their accessible names.
pub const PALETTE: [(&str, &str); 6] = [
    ("#1e1e1e", "Black"),
    ("#e03131", "Red"),
    ("#2f9e44", "Green"),
    ("#1971c2", "Blue"),
    ("#f08c00", "Orange"),
    ("#9c36b5", "Purple"),
];

/// Stroke widths offered by the toolbar, with their accessible names.
pub const WIDTHS: [(f32, &str); 4] = [
    (2.0, "Thin"),
    (4.0, "Medium"),
    (8.0, "Bold"),
    (16.0, "Extra bold"),
];

/// Eraser radius in board units.
pub const ERASER_RADIUS: f32 = 10.0;

/// Signals that connect the toolbar and status bar to the engine.
#[derive(Clone, Copy)]
pub struct BoardUi {
    pub tool: RwSignal<Tool>,
    pub color: RwSignal<String>,
    pub width: RwSignal<f32>,
    pub status: RwSignal<ConnectionStatus>,
    pub presence: RwSignal<u32>,
    /// Operations drawn or requested here that the server has not stored yet.
    pub unsaved: RwSignal<usize>,
    /// A short message for the user (errors, "link copied"), if any.
    pub notice: RwSignal<Option<String>>,
}

impl BoardUi {
    pub fn new() -> Self {
        Self {
            tool: RwSignal::new(Tool::Pen),
            color: RwSignal::new(PALETTE[0].0.to_owned()),
            width: RwSignal::new(WIDTHS[1].0),
            status: RwSignal::new(ConnectionStatus::Connecting),
            presence: RwSignal::new(1),
            unsaved: RwSignal::new(0),
            notice: RwSignal::new(None),
        }
    }
}

impl Default for BoardUi {
    fn default() -> Self {
        Self::new()
    }
}
