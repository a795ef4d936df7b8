//! Inline SVG icons for the toolbar (no icon font, no extra requests).

use leptos::prelude::*;

/// The icon drawn by an SVG path (24 × 24, stroked).
pub fn icon(path: &'static str) -> impl IntoView {
    view! {
        <svg class="icon" viewBox="0 0 24 24" width="20" height="20" aria-hidden="true" fill="none"
            stroke="currentColor" stroke-width="1.9" stroke-linecap="round" stroke-linejoin="round">
            <path d=path/>
        </svg>
    }
}

pub const PEN: &str = "M4 20l4-1 10.5-10.5a2.1 2.1 0 0 0-3-3L5 16l-1 4zM14 7l3 3";

pub const ERASER: &str = "M8 20h12M5.6 14.6l8-8a2 2 0 0 1 2.8 0l2.9 2.9a2 2 0 0 1 0 2.8L12 19.6a2 2 0 0 1-1.4.4H9.2a2 2 0 0 1-1.4-.6l-2.2-2.2a2 2 0 0 1 0-2.6zM10 10l5 5";

pub const UNDO: &str = "M9 14L4 9l5-5M4 9h10.5a5.5 5.5 0 0 1 0 11H11";

pub const REDO: &str = "M15 14l5-5-5-5M20 9H9.5a5.5 5.5 0 0 0 0 11H13";

pub const TRASH: &str =
    "M4 7h16M10 11v6M14 11v6M5 7l1 12a2 2 0 0 0 2 2h8a2 2 0 0 0 2-2l1-12M9 7V4h6v3";

pub fn link() -> impl IntoView {
    icon("M10 14a4 4 0 0 0 5.7 0l3-3a4 4 0 0 0-5.7-5.7l-1 1M14 10a4 4 0 0 0-5.7 0l-3 3a4 4 0 0 0 5.7 5.7l1-1")
}

// Paths of the board menu's icons (drawn with [`icon`]).
pub const EYE: &str =
    "M2 12s3.6-7 10-7 10 7 10 7-3.6 7-10 7S2 12 2 12zM12 15a3 3 0 1 0 0-6 3 3 0 0 0 0 6z";
pub const REFRESH: &str =
    "M20 11a8 8 0 0 0-14.3-4.9L4 8M4 4v4h4M4 13a8 8 0 0 0 14.3 4.9L20 16M20 20v-4h-4";
/// A clock: version history.
pub const CLOCK: &str = "M12 3a9 9 0 1 0 0 18 9 9 0 0 0 0-18zM12 7v5l3 2";
/// Lines with bullets: the item list.
pub const LIST: &str = "M9 6h11M9 12h11M9 18h11M4.5 6h.01M4.5 12h.01M4.5 18h.01";
pub const DOWNLOAD: &str = "M12 4v11M7 10l5 5 5-5M5 20h14";
pub const UPLOAD: &str = "M12 16V5M7 10l5-5 5 5M5 20h14";
pub const IMAGE: &str =
    "M5 3h14a2 2 0 0 1 2 2v14a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2zM9 7a2 2 0 1 0 0 4 2 2 0 0 0 0-4zM21 15l-5-5L5 21";
pub const KEYBOARD: &str = "M4 6h16a1 1 0 0 1 1 1v10a1 1 0 0 1-1 1H4a1 1 0 0 1-1-1V7a1 1 0 0 1 1-1zM7 10h.01M11 10h.01M15 10h.01M8 14h8";

pub fn people() -> impl IntoView {
    icon("M16 19v-1a4 4 0 0 0-4-4H7a4 4 0 0 0-4 4v1M9.5 10a3.5 3.5 0 1 0 0-7 3.5 3.5 0 0 0 0 7zM21 19v-1a4 4 0 0 0-3-3.9M15.5 3.1a3.5 3.5 0 0 1 0 6.8")
}

/// A pointer's beam with a spark at its tip.
pub const LASER: &str =
    "M4 20l9.5-9.5M15 3v3M19.5 5.5l-2 2M21 10h-3M13.5 5.5l1.5 1.5M17 12l1.5 1.5";

pub const HOME: &str = "M4 11l8-7 8 7M6 9.5V20h12V9.5";

pub const SELECT: &str = "M6 3l12 8.5-5.5 1.2L16 20l-2.6 1.2-3.4-7.2L6 18z";

pub const HAND: &str = "M8 13V5.5a1.5 1.5 0 0 1 3 0V12m0-7.5a1.5 1.5 0 0 1 3 0V12m0-6a1.5 1.5 0 0 1 3 0v6m0-3.5a1.5 1.5 0 0 1 3 0V15a6 6 0 0 1-6 6h-1.5a6 6 0 0 1-5-2.7L5 15.2a1.6 1.6 0 0 1 2.6-1.9L8 14";

pub const RECTANGLE: &str =
    "M5 6h14a1 1 0 0 1 1 1v10a1 1 0 0 1-1 1H5a1 1 0 0 1-1-1V7a1 1 0 0 1 1-1z";

pub const ELLIPSE: &str = "M12 5c4.4 0 8 3.1 8 7s-3.6 7-8 7-8-3.1-8-7 3.6-7 8-7z";

pub const LINE: &str = "M5 19L19 5";

pub const ARROW: &str = "M5 19L19 5M10 5h9v9";

pub const TEXT: &str = "M5 6V4h14v2M12 4v16M9 20h6";

pub const DUPLICATE: &str = "M9 9h10a1 1 0 0 1 1 1v10a1 1 0 0 1-1 1H9a1 1 0 0 1-1-1V10a1 1 0 0 1 1-1zM5 15H4a1 1 0 0 1-1-1V4a1 1 0 0 1 1-1h10a1 1 0 0 1 1 1v1";

pub const TO_FRONT: &str = "M12 19V5M6 11l6-6 6 6M5 21h14";

pub const FORWARD: &str = "M12 18V7M7 12l5-5 5 5";

pub const BACKWARD: &str = "M12 6v11M7 12l5 5 5-5";

pub const TO_BACK: &str = "M12 5v14M6 13l6 6 6-6M5 3h14";

pub const MINUS: &str = "M5 12h14";

pub const PLUS: &str = "M12 5v14M5 12h14";

pub const FIT: &str = "M4 9V4h5M20 9V4h-5M4 15v5h5M20 15v5h-5";

pub fn menu() -> impl IntoView {
    icon("M4 7h16M4 12h16M4 17h16")
}

/// The icon drawn by an SVG path, as markup (for buttons whose content is
/// HTML: see `toggle_button`).
pub fn icon_html(path: &str) -> String {
    format!(
        r#"<svg class="icon" viewBox="0 0 24 24" width="20" height="20" aria-hidden="true" fill="none" stroke="currentColor" stroke-width="1.9" stroke-linecap="round" stroke-linejoin="round"><path d="{path}"></path></svg>"#
    )
}

/// The icon of a tool: its SVG path.
pub fn tool(tool: crate::ui::Tool) -> &'static str {
    use crate::ui::Tool;
    match tool {
        Tool::Select => SELECT,
        Tool::Hand => HAND,
        Tool::Pen => PEN,
        Tool::Eraser => ERASER,
        Tool::Rectangle => RECTANGLE,
        Tool::Ellipse => ELLIPSE,
        Tool::Line => LINE,
        Tool::Arrow => ARROW,
        Tool::Text => TEXT,
        Tool::Laser => LASER,
    }
}
