//! Inline SVG icons for the toolbar (no icon font, no extra requests).

use leptos::prelude::*;

fn icon(path: &'static str) -> impl IntoView {
    view! {
        <svg class="icon" viewBox="0 0 24 24" width="20" height="20" aria-hidden="true" fill="none"
            stroke="currentColor" stroke-width="1.9" stroke-linecap="round" stroke-linejoin="round">
            <path d=path/>
        </svg>
    }
}

pub fn pen() -> impl IntoView {
    icon("M4 20l4-1 10.5-10.5a2.1 2.1 0 0 0-3-3L5 16l-1 4zM14 7l3 3")
}

pub fn eraser() -> impl IntoView {
    icon("M8 20h12M5.6 14.6l8-8a2 2 0 0 1 2.8 0l2.9 2.9a2 2 0 0 1 0 2.8L12 19.6a2 2 0 0 1-1.4.4H9.2a2 2 0 0 1-1.4-.6l-2.2-2.2a2 2 0 0 1 0-2.6zM10 10l5 5")
}

pub fn undo() -> impl IntoView {
    icon("M9 14L4 9l5-5M4 9h10.5a5.5 5.5 0 0 1 0 11H11")
}

pub fn redo() -> impl IntoView {
    icon("M15 14l5-5-5-5M20 9H9.5a5.5 5.5 0 0 0 0 11H13")
}

pub fn trash() -> impl IntoView {
    icon("M4 7h16M10 11v6M14 11v6M5 7l1 12a2 2 0 0 0 2 2h8a2 2 0 0 0 2-2l1-12M9 7V4h6v3")
}

pub fn link() -> impl IntoView {
    icon("M10 14a4 4 0 0 0 5.7 0l3-3a4 4 0 0 0-5.7-5.7l-1 1M14 10a4 4 0 0 0-5.7 0l-3 3a4 4 0 0 0 5.7 5.7l1-1")
}

pub fn people() -> impl IntoView {
    icon("M16 19v-1a4 4 0 0 0-4-4H7a4 4 0 0 0-4 4v1M9.5 10a3.5 3.5 0 1 0 0-7 3.5 3.5 0 0 0 0 7zM21 19v-1a4 4 0 0 0-3-3.9M15.5 3.1a3.5 3.5 0 0 1 0 6.8")
}

pub fn home() -> impl IntoView {
    icon("M4 11l8-7 8 7M6 9.5V20h12V9.5")
}
