//! `/b/{id}`: the drawing canvas with its toolbar and status bar.
//!
//! The view is plain Leptos and renders on the server; once hydrated, an
//! effect starts the canvas engine (`client::engine`), which owns the canvas,
//! the connection and the board state. Toolbar and engine meet in [`BoardUi`].

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

use super::icons;
use crate::protocol::BoardId;
use crate::ui::{BoardUi, ConnectionStatus, Tool, PALETTE, WIDTHS};

#[cfg(feature = "hydrate")]
use crate::client::engine::EngineHandle;

/// Where the running engine is kept, so toolbar buttons can reach it.
/// Empty on the server, where no engine ever runs.
#[derive(Clone, Copy)]
struct EngineSlot {
    #[cfg(feature = "hydrate")]
    engine: StoredValue<Option<EngineHandle>, LocalStorage>,
}

impl EngineSlot {
    fn new() -> Self {
        Self {
            #[cfg(feature = "hydrate")]
            engine: StoredValue::new_local(None),
        }
    }

    #[cfg(feature = "hydrate")]
    fn with(&self, f: impl FnOnce(&EngineHandle)) {
        self.engine.try_with_value(|engine| engine.as_ref().map(f));
    }

    fn undo(&self) {
        #[cfg(feature = "hydrate")]
        self.with(EngineHandle::undo);
    }

    fn redo(&self) {
        #[cfg(feature = "hydrate")]
        self.with(EngineHandle::redo);
    }

    fn clear(&self) {
        #[cfg(feature = "hydrate")]
        {
            let confirmed = web_sys::window()
                .and_then(|w| {
                    w.confirm_with_message("Clear the board for everyone? You can undo this.")
                        .ok()
                })
                .unwrap_or(false);
            if confirmed {
                self.with(EngineHandle::clear);
            }
        }
    }

    fn copy_link(&self, ui: BoardUi) {
        #[cfg(feature = "hydrate")]
        crate::client::copy_link(ui);
        #[cfg(not(feature = "hydrate"))]
        let _ = ui;
    }
}

/// A toolbar button whose `aria-pressed` follows `pressed`.
fn toggle_button(
    class: &'static str,
    label: &'static str,
    title: String,
    pressed: impl Fn() -> bool + Send + Sync + 'static,
    press: impl Fn() + 'static,
    content: AnyView,
) -> impl IntoView {
    view! {
        <button
            class=class
            aria-label=label
            title=title
            aria-pressed=move || pressed().to_string()
            on:click=move |_| press()
        >
            {content}
        </button>
    }
}

#[component]
pub fn BoardPage() -> impl IntoView {
    let params = use_params_map();
    let raw_id = params.read_untracked().get("id").unwrap_or_default();
    match BoardId::parse(&raw_id) {
        Ok(board) => view! { <Board board/> }.into_any(),
        Err(_) => view! {
            <main class="home">
                <h1>"This board link is not valid"</h1>
                <p>"Board links look like " <code>"/b/3q2-8fLx0aZ0pBq9Wc1r7g"</code> "."</p>
                <p><a href="/" rel="external">"Start a new board"</a></p>
            </main>
        }
        .into_any(),
    }
}

#[component]
fn Board(board: BoardId) -> impl IntoView {
    let ui = BoardUi::new();
    let slot = EngineSlot::new();
    let canvas = NodeRef::<leptos::html::Canvas>::new();

    #[cfg(feature = "hydrate")]
    {
        let board = board.clone();
        Effect::new(move |_| {
            let Some(element) = canvas.get() else {
                return;
            };
            if slot.engine.with_value(Option::is_some) {
                return;
            }
            crate::client::storage::remember_board(board.as_str());
            match EngineHandle::start(board.clone(), element, ui) {
                Ok(engine) => slot.engine.set_value(Some(engine)),
                Err(error) => leptos::logging::error!("could not start the board: {error:?}"),
            }
        });
        on_cleanup(move || slot.with(EngineHandle::stop));
        // Notices fade after a few seconds.
        Effect::new(move |_| {
            if ui.notice.read().is_some() {
                set_timeout(
                    move || ui.notice.set(None),
                    std::time::Duration::from_millis(2_500),
                );
            }
        });
    }
    let _ = &board;

    let tool_button =
        move |tool: Tool, label: &'static str, shortcut: &'static str, icon: AnyView| {
            toggle_button(
                "tool",
                label,
                format!("{label} ({shortcut})"),
                move || ui.tool.get() == tool,
                move || ui.tool.set(tool),
                icon,
            )
        };

    let status_label = move || ui.status.get().label();
    let status_class = move || format!("status-dot {}", ui.status.get().label());
    let presence_text = move || {
        if ui.presence.get() == 1 {
            "person here"
        } else {
            "people here"
        }
    };

    view! {
        <div class="board-page" class:eraser=move || ui.tool.get() == Tool::Eraser>
            <canvas
                node_ref=canvas
                class="board-canvas"
                data-testid="board-canvas"
                aria-label="Drawing canvas"
            ></canvas>

            <div class="toolbar" role="toolbar" aria-label="Drawing tools">
                <div class="group">
                    {tool_button(Tool::Pen, "Pen", "P", icons::pen().into_any())}
                    {tool_button(Tool::Eraser, "Eraser", "E", icons::eraser().into_any())}
                </div>
                <div class="separator" aria-hidden="true"></div>
                <div class="group colors" role="group" aria-label="Colour">
                    {PALETTE
                        .iter()
                        .map(|&(color, name)| {
                            view! {
                                <button
                                    class="swatch"
                                    aria-label=name
                                    title=name
                                    style=format!("--swatch: {color}")
                                    aria-pressed=move || (ui.color.get() == color).to_string()
                                    on:click=move |_| {
                                        ui.color.set(color.to_owned());
                                        ui.tool.set(Tool::Pen);
                                    }
                                ></button>
                            }
                        })
                        .collect_view()}
                    <label
                        class="swatch custom"
                        title="Custom colour"
                        class:active=move || !PALETTE.iter().any(|(c, _)| *c == ui.color.get())
                        style=move || format!("--swatch: {}", ui.color.get())
                    >
                        <input
                            type="color"
                            aria-label="Custom colour"
                            prop:value=move || ui.color.get()
                            on:input=move |event| {
                                ui.color.set(event_target_value(&event));
                                ui.tool.set(Tool::Pen);
                            }
                        />
                    </label>
                </div>
                <div class="separator" aria-hidden="true"></div>
                <div class="group widths" role="group" aria-label="Stroke width">
                    {WIDTHS
                        .iter()
                        .map(|&(width, name)| {
                            let dot = (width.min(14.0) + 2.0).to_string();
                            let dot = view! {
                                <span class="dot" style=format!("width: {dot}px; height: {dot}px")></span>
                            };
                            toggle_button(
                                "tool width",
                                name,
                                format!("{name} stroke"),
                                move || ui.width.get() == width,
                                move || ui.width.set(width),
                                dot.into_any(),
                            )
                        })
                        .collect_view()}
                </div>
                <div class="separator" aria-hidden="true"></div>
                <div class="group">
                    <button class="tool" aria-label="Undo" title="Undo (Ctrl+Z)" on:click=move |_| slot.undo()>
                        {icons::undo()}
                    </button>
                    <button class="tool" aria-label="Redo" title="Redo (Ctrl+Shift+Z)" on:click=move |_| slot.redo()>
                        {icons::redo()}
                    </button>
                    <button class="tool danger" aria-label="Clear board" title="Clear board" on:click=move |_| slot.clear()>
                        {icons::trash()}
                    </button>
                </div>
            </div>

            <div class="top-right">
                <div class="presence" title="People on this board">
                    {icons::people()}
                    <span data-testid="presence-count">{move || ui.presence.get()}</span>
                    <span class="presence-label">{presence_text}</span>
                </div>
                <button class="share" aria-label="Copy link" title="Copy the board link" on:click=move |_| slot.copy_link(ui)>
                    {icons::link()}
                    <span>"Share"</span>
                </button>
            </div>

            <div class="statusbar">
                <a class="home-link" href="/" rel="external" aria-label="All boards" title="All boards">
                    {icons::home()}
                </a>
                <span class=status_class aria-hidden="true"></span>
                <span data-testid="connection-status">{status_label}</span>
                // Offline: how much waits to be sent. Online: "saving…" while
                // the server has not stored something yet (shown only when
                // that takes a moment, e.g. while the database is away).
                <Show when=move || { ui.unsaved.get() > 0 }>
                    <span class="muted pending" data-testid="save-status">
                        {move || {
                            if ui.status.get() == ConnectionStatus::Connected {
                                "· saving…".to_owned()
                            } else {
                                format!("· {} unsent", ui.unsaved.get())
                            }
                        }}
                    </span>
                </Show>
            </div>

            <div class="toast" role="status" aria-live="polite" class:visible=move || ui.notice.read().is_some()>
                {move || ui.notice.get().unwrap_or_default()}
            </div>
        </div>
    }
}
