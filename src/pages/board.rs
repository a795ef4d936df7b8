//! `/b/{id}`: the drawing canvas with its toolbar, panels and status bar;
//! `/v/{token}`: the same board through its view link, without anything
//! that would change it.
//!
//! The view is plain Leptos and renders on the server; once hydrated, an
//! effect starts the canvas engine (`client::engine`), which owns the
//! canvases, the connection and the board state. Views and engine meet in
//! [`BoardUi`] (signals) and [`EngineSlot`] (commands such as undo or export).
//!
//! Layout: tools at the top, the style panel on the left (while drawing or
//! with a selection), the menu top-left, people and sharing top-right, zoom
//! and undo bottom-left, connection status bottom-right.

use leptos::prelude::*;

use super::icons;
use crate::decimal::dec;
use crate::exchange::escape_xml;
use crate::protocol::{validate_token, BoardId, UserId};
use crate::stacking::Restack;
use crate::ui::{
    display_name, with_colors, BoardLink, BoardUi, ConnectionStatus, HistoryAction, Share,
    StyleProperty, Tool, FILLS, FONT_SIZES, PALETTE, WIDTHS,
};

#[cfg(feature = "hydrate")]
use crate::client::engine::EngineHandle;

/// Where the running engine is kept, so buttons can reach it. Empty on the
/// server, where no engine ever runs.
#[derive(Clone, Copy)]
struct EngineSlot {
    #[cfg(feature = "hydrate")]
    engine: StoredValue<Option<EngineHandle>, LocalStorage>,
}

/// Generates `EngineSlot` methods that forward to the engine in the browser.
macro_rules! forward {
    ($($name:ident $(($arg:ident : $ty:ty))?),* $(,)?) => {
        $(
            fn $name(&self $(, $arg: $ty)?) {
                #[cfg(feature = "hydrate")]
                self.with(|engine| engine.$name($($arg)?));
                $(#[cfg(not(feature = "hydrate"))] let _ = $arg;)?
            }
        )*
    };
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

    forward!(
        undo,
        redo,
        reset_zoom,
        zoom_to_fit,
        delete_selection,
        duplicate_selection,
        restyle_selection(property: StyleProperty),
        zoom_by(factor: f64),
        choose_tool(tool: Tool),
        rename(name: String),
        follow(user: String),
        summon,
        restack_selection(how: Restack),
        export_png(whole_board: bool),
        export_svg,
        export_json,
        import_json,
        insert_image,
        toggle_items,
        pick_item(id: String),
        share(what: Share),
        history(action: HistoryAction),
    );

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

    /// A key pressed in the item list's panel: the list's own keys (on the
    /// list, not on the panel's Close button) go to the engine, and the
    /// board's shortcuts do not see them.
    fn item_key(&self, event: &leptos::ev::KeyboardEvent) {
        #[cfg(feature = "hydrate")]
        self.with(|engine| {
            use wasm_bindgen::JsCast;
            let on_list = event
                .target()
                .and_then(|target| target.dyn_into::<web_sys::Element>().ok())
                .is_some_and(|target| target.class_name() == "items-list");
            if on_list && engine.item_key(&event.key(), event.alt_key(), event.shift_key()) {
                event.prevent_default();
                event.stop_propagation();
            }
        });
        #[cfg(not(feature = "hydrate"))]
        let _ = event;
    }

    fn rotate_edit_link(&self) {
        #[cfg(feature = "hydrate")]
        {
            let confirmed = web_sys::window()
                .and_then(|w| {
                    w.confirm_with_message(
                        "Make a new edit link? The current one stops working, and everyone who came with it is disconnected. The view link stays.",
                    )
                    .ok()
                })
                .unwrap_or(false);
            if confirmed {
                self.share(Share::NewEditLink);
            }
        }
    }
}

/// A toolbar button whose `aria-pressed` follows `pressed`.
fn toggle_button(
    class: &'static str,
    label: &'static str,
    title: String,
    pressed: Box<dyn Fn() -> bool + Send + Sync>,
    press: Box<dyn Fn()>,
    content: String,
) -> impl IntoView {
    // The content is static markup (an icon, a sample): as HTML, every
    // toggle button is one type of view in the WebAssembly.
    view! {
        <button
            class=class
            aria-label=label
            title=title
            aria-pressed=move || pressed().to_string()
            on:click=on_press(press)
            inner_html=content
        ></button>
    }
}

/// A click handler that runs `press`. Every button's handler is this one
/// type, so the WebAssembly holds one copy of the code that attaches it
/// (a closure type per button made a copy each).
fn on_press(press: Box<dyn Fn()>) -> impl FnMut(leptos::ev::MouseEvent) + 'static {
    move |_| press()
}

/// A plain button with an icon (its SVG path) and an accessible name. Not
/// generic: every icon button is the same code in the WebAssembly, where a
/// closure type per button made a copy of the button's view code each.
fn icon_button(
    label: &'static str,
    title: &'static str,
    press: Box<dyn Fn()>,
    path: &'static str,
) -> impl IntoView {
    view! {
        <button class="tool" aria-label=label title=title on:click=on_press(press)>
            {icons::icon(path)}
        </button>
    }
}

#[component]
pub fn BoardPage(
    /// The board id (`/b/{id}`) or the view link's token (`/v/{token}`) as
    /// it appears in the path.
    id: String,
    /// Whether `id` is a view link's token.
    view: bool,
) -> impl IntoView {
    let link = match view {
        false => BoardId::parse(&id).map(BoardLink::Edit).ok(),
        true => validate_token(&id).ok().map(|()| BoardLink::View(id)),
    };
    match link {
        Some(link) => view! { <Board link/> }.into_any(),
        None => view! {
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
fn Board(link: BoardLink) -> impl IntoView {
    let viewer = link.is_view();
    let ui = BoardUi::new(viewer);
    let slot = EngineSlot::new();
    let canvas = NodeRef::<leptos::html::Canvas>::new();
    let overlay = NodeRef::<leptos::html::Canvas>::new();

    #[cfg(feature = "hydrate")]
    {
        let link = link.clone();
        Effect::new(move |_| {
            let (Some(element), Some(overlay)) = (canvas.get(), overlay.get()) else {
                return;
            };
            if slot.engine.with_value(Option::is_some) {
                return;
            }
            if let BoardLink::Edit(board) = &link {
                crate::client::storage::remember_board(board.as_str());
            }
            match crate::client::start(link.clone(), element, overlay, ui) {
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
    let _ = &link;

    let tool_buttons = Tool::ALL
        .into_iter()
        .map(|tool| {
            let shortcut = tool.shortcut().to_ascii_uppercase();
            toggle_button(
                "tool",
                tool.label(),
                format!("{} ({shortcut})", tool.label()),
                Box::new(move || ui.tool.get() == tool),
                Box::new(move || slot.choose_tool(tool)),
                icons::icon_html(icons::tool(tool)),
            )
        })
        .collect_view();

    view! {
        // A view link's page hides what would change the board (`.viewer
        // .edit-only` in the style sheet): the same markup either way. All
        // of it is the page's main landmark.
        <main
            class="board-page"
            class:viewer=viewer
            class:locked-out=move || ui.status.get() == ConnectionStatus::Refused
            class:past=move || ui.looking_back.get()
            class:eraser=move || ui.tool.get() == Tool::Eraser
            class:hand=move || ui.tool.get() == Tool::Hand
            class:select=move || ui.tool.get() == Tool::Select
            class:text=move || ui.tool.get() == Tool::Text
        >
            <canvas
                node_ref=canvas
                class="board-canvas"
                data-testid="board-canvas"
                aria-label="Drawing canvas"
            ></canvas>
            <canvas node_ref=overlay class="overlay-canvas" data-testid="overlay-canvas" aria-hidden="true"></canvas>

            <div class="toolbar edit-only" role="toolbar" aria-label="Tools">
                {tool_buttons}
            </div>
            <StylePanel ui engine=slot/>

            <BoardMenu ui engine=slot/>
            <PeopleBar ui engine=slot/>
            <ZoomAndHistory ui engine=slot/>
            <StatusBar ui/>

            <FollowingBanner ui engine=slot/>
            <HistoryPanel ui engine=slot/>
            <ItemsPanel ui engine=slot/>
            <ShortcutHelp ui/>

            // What others do, said to screen readers (`announce`).
            <div class="visually-hidden" aria-live="polite" data-testid="announcements">
                {move || ui.announcement.get()}
            </div>
            <div class="toast" role="status" aria-live="polite" class:visible=move || ui.notice.read().is_some()>
                {move || ui.notice.get().unwrap_or_default()}
            </div>
        </main>
    }
}

/// Colour, fill, width, text size, opacity and arrangement: shown while a
/// drawing tool is active or something is selected. With a selection, every
/// change applies to the selected items, and only the sections they take
/// show (`Stylable`: for an image, only opacity and arrangement). The panel
/// and its sections are always rendered and hidden by a class rather than
/// made by a `Show` each: a view made later weighs about 1 KB of the
/// compressed WebAssembly, a class toggle next to nothing.
#[component]
fn StylePanel(ui: BoardUi, engine: EngineSlot) -> impl IntoView {
    let tool = move || ui.tool.get();
    let has_selection = move || ui.selected.get() > 0;
    let visible = move || {
        has_selection()
            || matches!(
                tool(),
                Tool::Pen | Tool::Rectangle | Tool::Ellipse | Tool::Line | Tool::Arrow | Tool::Text
            )
    };
    // With a selection, what its items take (a drawing tool ends the
    // selection); without, what the tool draws.
    let can = move || ui.stylable.get();
    let shows_colour = move || !has_selection() || can().colour;
    let shows_fill = move || match has_selection() {
        true => can().fill,
        false => matches!(tool(), Tool::Rectangle | Tool::Ellipse),
    };
    let shows_width = move || match has_selection() {
        true => can().width,
        false => tool() != Tool::Text,
    };
    let shows_font = move || match has_selection() {
        true => can().font_size,
        false => tool() == Tool::Text,
    };
    // A style change restyles the selection, if there is one.
    let changed = move |property: StyleProperty| {
        if ui.selected.get_untracked() > 0 {
            engine.restyle_selection(property);
        }
    };

    view! {
        <div class="style-panel" class:hidden=move || !visible() role="group" aria-label="Style">
            <div class="panel-section" class:hidden=move || !shows_colour() role="group" aria-label="Colour">
                <span class="panel-label">"Stroke"</span>
                <div class="swatches">
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
                                    on:click=on_press(Box::new(move || {
                                        ui.color.set(color.to_owned());
                                        changed(StyleProperty::Color);
                                    }))
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
                            on:change=move |event| {
                                ui.color.set(event_target_value(&event));
                                changed(StyleProperty::Color);
                            }
                        />
                    </label>
                </div>
            </div>
            <div class="panel-section" class:hidden=move || !shows_fill() role="group" aria-label="Fill">
                <span class="panel-label">"Fill"</span>
                <div class="swatches">
                    <button
                        class="swatch none"
                        aria-label="No fill"
                        title="No fill"
                        aria-pressed=move || ui.fill.get().is_none().to_string()
                        on:click=on_press(Box::new(move || {
                            ui.fill.set(None);
                            changed(StyleProperty::Fill);
                        }))
                    ></button>
                    {FILLS
                        .iter()
                        .map(|&(color, name)| {
                            view! {
                                <button
                                    class="swatch"
                                    aria-label=name
                                    title=name
                                    style=format!("--swatch: {color}")
                                    aria-pressed=move || (ui.fill.get().as_deref() == Some(color)).to_string()
                                    on:click=on_press(Box::new(move || {
                                        ui.fill.set(Some(color.to_owned()));
                                        changed(StyleProperty::Fill);
                                    }))
                                ></button>
                            }
                        })
                        .collect_view()}
                </div>
            </div>
            <div class="panel-section" class:hidden=move || !shows_width() role="group" aria-label="Stroke width">
                <span class="panel-label">"Width"</span>
                <div class="row">
                    {WIDTHS
                        .iter()
                        .map(|&(width, name)| {
                            let dot = dec(width.min(14.0) + 2.0);
                            let dot = format!(
                                r#"<span class="dot" style="width: {dot}px; height: {dot}px"></span>"#
                            );
                            toggle_button(
                                "tool width",
                                name,
                                format!("{name} stroke"),
                                Box::new(move || ui.width.get() == width),
                                Box::new(move || {
                                    ui.width.set(width);
                                    changed(StyleProperty::Width);
                                }),
                                dot,
                            )
                        })
                        .collect_view()}
                </div>
            </div>
            <div class="panel-section" class:hidden=move || !shows_font() role="group" aria-label="Text size">
                <span class="panel-label">"Text size"</span>
                <div class="row">
                    {FONT_SIZES
                        .iter()
                        .map(|&(size, name)| {
                            let letter = format!(
                                r#"<span class="font-sample" style="font-size: {}px">A</span>"#,
                                dec(10.0 + size / 5.0)
                            );
                            toggle_button(
                                "tool",
                                name,
                                name.to_owned(),
                                Box::new(move || ui.font_size.get() == size),
                                Box::new(move || {
                                    ui.font_size.set(size);
                                    changed(StyleProperty::FontSize);
                                }),
                                letter,
                            )
                        })
                        .collect_view()}
                </div>
            </div>
            <div class="panel-section">
                <label class="panel-label" for="opacity">"Opacity"</label>
                <input
                    id="opacity"
                    type="range"
                    min="10"
                    max="100"
                    step="10"
                    aria-label="Opacity"
                    prop:value=move || percent(ui.opacity.get().into()).to_string()
                    on:change=move |event| {
                        // Whole percents (step 10): an integer parse keeps
                        // the float parser and its 20 KB table out of
                        // the WebAssembly.
                        let percent = event_target_value(&event).parse::<u32>().unwrap_or(100);
                        ui.opacity.set((percent as f32 / 100.0).clamp(0.1, 1.0));
                        changed(StyleProperty::Opacity);
                    }
                />
            </div>
            <div class="panel-section" class:hidden=move || !has_selection() role="group" aria-label="Arrange">
                <span class="panel-label">"Selection"</span>
                <div class="row">
                    {icon_button("Bring to front", "Bring to front (])", Box::new(move || engine.restack_selection(Restack::ToFront)), icons::TO_FRONT)}
                    {icon_button("Bring forward", "Bring forward (Ctrl+])", Box::new(move || engine.restack_selection(Restack::Forward)), icons::FORWARD)}
                    {icon_button("Send backward", "Send backward (Ctrl+[)", Box::new(move || engine.restack_selection(Restack::Backward)), icons::BACKWARD)}
                    {icon_button("Send to back", "Send to back ([)", Box::new(move || engine.restack_selection(Restack::ToBack)), icons::TO_BACK)}
                    {icon_button("Duplicate", "Duplicate (Ctrl+D)", Box::new(move || engine.duplicate_selection()), icons::DUPLICATE)}
                    {icon_button("Delete", "Delete (Del)", Box::new(move || engine.delete_selection()), icons::TRASH)}
                </div>
            </div>
        </div>
    }
}

/// Who is here, and this person's display name.
#[component]
fn PeoplePanel(ui: BoardUi, engine: EngineSlot, open: RwSignal<bool>) -> impl IntoView {
    #[cfg(feature = "hydrate")]
    place_focus(ui);
    view! {
        <div class="people-panel" class:hidden=move || !open.get() role="dialog" aria-label="People">
            <label class="panel-label" for="display-name">"Your name"</label>
            <input
                id="display-name"
                type="text"
                maxlength="32"
                placeholder=move || ui.guest.get()
                aria-label="Your name"
                prop:value=move || ui.name.get()
                on:change=move |event| {
                    let name = event_target_value(&event).trim().to_owned();
                    ui.name.set(name.clone());
                    engine.rename(name);
                }
            />
            // The list as HTML (names escaped): lighter in the WebAssembly
            // than a view per person. Each other person has a Follow
            // button, pressed while this tab follows them; one listener on
            // the list serves them all.
            <ul
                class="people-list"
                aria-label="People on this board"
                on:click=move |event| {
                    if let Some(user) = follow_button_user(&event) {
                        engine.follow(user);
                    }
                }
                inner_html=move || {
                    let me = ui.me.get();
                    let following = ui.following.get();
                    let people = ui.people.get();
                    let name_of = |user: &UserId| {
                        people.iter().find(|p| p.user == *user).map(display_name).unwrap_or_default()
                    };
                    with_colors(&people)
                        .into_iter()
                        .map(|(person, color)| {
                            let user = person.user.as_str();
                            let name = escape_xml(&display_name(&person));
                            let you = if user == me { r#"<span class="muted"> (you)</span>"# } else { "" };
                            let viewing = if person.viewer { r#"<span class="muted viewing"> · viewing</span>"# } else { "" };
                            let follows = match &person.following {
                                Some(leader) => format!(
                                    r#"<span class="muted follows"> follows {}</span>"#,
                                    match leader.as_str() == me {
                                        true => "you".to_owned(),
                                        false => escape_xml(&name_of(leader)),
                                    }
                                ),
                                None => String::new(),
                            };
                            let button = match user == me {
                                true => String::new(),
                                false => format!(
                                    r#"<button type="button" class="follow" data-follow="{user}" aria-pressed="{}" title="Follow their view (Esc stops)">Follow<span class="visually-hidden"> {name}</span></button>"#,
                                    user == following
                                ),
                            };
                            format!(
                                r#"<li><span class="avatar" style="--person: {color}" aria-hidden="true"></span><span class="who"><span class="line"><span class="person-name">{name}</span>{you}{viewing}</span>{follows}</span>{button}</li>"#
                            )
                        })
                        .collect::<String>()
                }
            ></ul>
            <button class="summon edit-only" title="Everyone else follows your view until they pan away" on:click=on_press(Box::new(move || engine.summon()))>
                "Bring everyone to me"
            </button>
        </div>
    }
}

/// Puts the focus where the page took it from: on the shortcut help's
/// Close button when the help opens, and back on the Follow button it was
/// on when the people list was rebuilt (the list is HTML, made anew
/// whenever anyone joins, leaves or follows). One effect for both: an
/// effect weighs about 0.7 KB of the compressed WebAssembly.
#[cfg(feature = "hydrate")]
fn place_focus(ui: BoardUi) {
    use wasm_bindgen::JsCast;
    Effect::new(move |_| {
        let help = ui.help_open.get();
        ui.people.track();
        ui.following.track();
        let Some(document) = web_sys::window().and_then(|w| w.document()) else {
            return;
        };
        let selector = match help {
            true => "[data-help-close]".to_owned(),
            false => {
                // The list is not rebuilt yet: the button is still there.
                let user = document
                    .active_element()
                    .and_then(|active| active.get_attribute("data-follow"));
                let Some(user) = user else {
                    return;
                };
                format!(r#"[data-follow="{user}"]"#)
            }
        };
        // Effects run before the views they share signals with are
        // rebuilt: look for the button once they are, in a task queued
        // after theirs, before the page is painted again (a frame later,
        // the focus would be off the list for a frame).
        wasm_bindgen_futures::spawn_local(async move {
            let target = document.query_selector(&selector).ok().flatten();
            if let Some(target) = target.and_then(|t| t.dyn_into::<web_sys::HtmlElement>().ok()) {
                let _ = target.focus();
            }
        });
    });
}

/// The person whose Follow button an event in the people list came from.
#[cfg(not(feature = "hydrate"))]
fn follow_button_user(_: &leptos::ev::Event) -> Option<String> {
    None
}

#[cfg(feature = "hydrate")]
fn follow_button_user(event: &leptos::ev::Event) -> Option<String> {
    use wasm_bindgen::JsCast;
    event
        .target()?
        .dyn_into::<web_sys::Element>()
        .ok()?
        .closest("[data-follow]")
        .ok()??
        .get_attribute("data-follow")
}

/// Whose view this tab follows, in their colour, and how to stop (Esc, or
/// its button): a frame round the board with a label at its top. HTML in a
/// live region, as the people list is (lighter than a view of its own).
#[component]
fn FollowingBanner(ui: BoardUi, engine: EngineSlot) -> impl IntoView {
    view! {
        <div
            aria-live="polite"
            on:click=move |_| engine.follow(String::new())
            inner_html=move || {
                let following = ui.following.get();
                with_colors(&ui.people.get())
                    .into_iter()
                    .find(|(person, _)| person.user.as_str() == following)
                    .map(|(person, color)| format!(
                        r#"<div class="following" style="--person: {color}" data-testid="following"><span>Following {}</span><button title="Stop following (Esc)">Stop</button></div>"#,
                        escape_xml(&display_name(&person))
                    ))
                    .unwrap_or_default()
            }
        ></div>
    }
}

/// Every keyboard shortcut, opened with `?`. Always rendered, hidden by a
/// class (lighter than a `Show`); opening it focuses its close button.
#[component]
fn ShortcutHelp(ui: BoardUi) -> impl IntoView {
    let tools = Tool::ALL.into_iter().map(|tool| {
        (
            tool.label(),
            tool.shortcut().to_ascii_uppercase().to_string(),
        )
    });
    let others = [
        ("Undo", "Ctrl/⌘ + Z"),
        ("Redo", "Ctrl/⌘ + Shift + Z"),
        ("Delete selection", "Delete"),
        ("Duplicate selection", "Ctrl/⌘ + D"),
        ("Copy, cut, paste", "Ctrl/⌘ + C, X, V"),
        ("Add an image", "Ctrl/⌘ + V, or drop a file"),
        ("Nudge selection", "Arrow keys (Shift: 10×)"),
        ("Resize selection", "Alt + arrow keys"),
        ("Place a shape or text in the middle", "Enter"),
        ("Select all", "Ctrl/⌘ + A"),
        ("Bring to front / send to back", "] / ["),
        ("Bring forward / send backward", "Ctrl/⌘ + ] / ["),
        ("Deselect, cancel, stop following", "Escape"),
        ("Pan", "Space + drag, wheel, middle button"),
        ("Zoom", "Ctrl/⌘ + wheel, + / -"),
        ("Reset zoom / zoom to fit", "0 / Shift + 1"),
        ("Square, circle, 45° lines", "Shift while drawing"),
        ("Finish text", "Escape or Ctrl/⌘ + Enter"),
        ("This help", "?"),
    ]
    .into_iter()
    .map(|(what, keys)| (what, keys.to_owned()));
    // Static rows, as HTML: lighter in the WebAssembly than a view per row.
    let rows: String = tools
        .chain(others)
        .map(|(what, keys)| format!("<tr><td>{what}</td><td><kbd>{keys}</kbd></td></tr>"))
        .collect();
    view! {
        <div class="help-backdrop" class:hidden=move || !ui.help_open.get() on:click=on_press(Box::new(move || ui.help_open.set(false)))>
            <div
                class="help"
                role="dialog"
                aria-modal="true"
                aria-label="Keyboard shortcuts"
                on:click=|event| event.stop_propagation()
                on:keydown=move |event| {
                    if event.key() == "Escape" {
                        ui.help_open.set(false);
                    }
                }
            >
                <div class="help-header">
                    <h2>"Keyboard shortcuts"</h2>
                    <button class="tool" aria-label="Close" title="Close" data-help-close on:click=on_press(Box::new(move || ui.help_open.set(false)))>
                        "✕"
                    </button>
                </div>
                <table>
                    <tbody inner_html=rows></tbody>
                </table>
            </div>
        </div>
    }
}

/// Version history: a slider over every version of the board, what the
/// version shown is, play and restore, exports, and the board's sessions of
/// activity. Its controls name their action in `data-action` and the
/// sessions' buttons (HTML the engine writes) their version in `data-seq`:
/// one listener for clicks and one for the slider serve them all, which
/// weighs far less in the WebAssembly than a listener and an engine call
/// per control.
#[component]
fn HistoryPanel(ui: BoardUi, engine: EngineSlot) -> impl IntoView {
    view! {
        <div
            class="history-panel"
            class:hidden=move || !ui.history_open.get()
            role="dialog"
            aria-label="Version history"
            on:click=move |event| {
                if let Some(action) = history_action(&event) {
                    engine.history(action);
                }
            }
            on:input=move |event| {
                if let Ok(seq) = event_target_value(&event).parse() {
                    engine.history(HistoryAction::Show(seq));
                }
            }
        >
            <div class="help-header">
                <h2>"Version history"</h2>
                <button class="tool" data-action="close" aria-label="Close version history" title="Close">"✕"</button>
            </div>
            <input
                type="range"
                class="history-slider"
                aria-label="Version"
                min="0"
            />
            <div class="history-body" inner_html=move || ui.history_html.get()></div>
        </div>
    }
}

/// The item list (the board menu's "Item list"): every item in words, in
/// drawing order, as a listbox the keyboard works through. The options are
/// HTML the engine writes (`client::item_list`); the list keeps the focus
/// and names the active option in `aria-activedescendant`, so writing them
/// anew never moves the focus. The rest is static markup too, with one
/// listener for keys and one for clicks (lighter in the WebAssembly than a
/// view per element).
#[component]
fn ItemsPanel(ui: BoardUi, engine: EngineSlot) -> impl IntoView {
    const CONTENT: &str = concat!(
        r#"<div class="help-header"><h2>Items</h2><button class="tool" data-action="close" aria-label="Close the item list" title="Close">✕</button></div>"#,
        r#"<p class="muted items-keys" id="items-keys">↑ ↓ go through, Enter selects, Delete removes, Alt + arrows move (Shift: 10×), Esc closes</p>"#,
        r#"<ul class="items-list" role="listbox" tabindex="0" aria-label="Items in drawing order" aria-describedby="items-keys"></ul>"#,
    );
    view! {
        <section
            class="items-panel"
            class:hidden=move || !ui.items_open.get()
            aria-label="Items"
            on:keydown=move |event| engine.item_key(&event)
            // An option is picked as it is pressed: the list may be
            // written anew before the button comes up (someone else
            // changed the board), and a click needs both on one element.
            // (A tap on a touch screen presses too; a swipe to scroll
            // does not.)
            on:mousedown=move |event| {
                if let Some(id) = clicked_data(&event, "data-stroke") {
                    engine.pick_item(id);
                }
            }
            on:click=move |event| {
                if clicked_data(&event, "data-action").is_some() {
                    engine.toggle_items();
                }
            }
            inner_html=CONTENT
        ></section>
    }
}

/// What a click in the history panel asks for: the `data-action` or
/// `data-seq` of the control it hit.
fn history_action(event: &leptos::ev::MouseEvent) -> Option<HistoryAction> {
    let seq = clicked_data(event, "data-seq");
    let action = clicked_data(event, "data-action");
    HistoryAction::parse(action.as_deref(), seq.as_deref())
}

/// The value of `attribute` on the element a click hit or its nearest
/// ancestor that has it: how a listener on a list of static controls (HTML)
/// learns which one was clicked.
fn clicked_data(event: &leptos::ev::MouseEvent, attribute: &str) -> Option<String> {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        let target = event.target()?.dyn_into::<web_sys::Element>().ok()?;
        target
            .closest(&format!("[{attribute}]"))
            .ok()??
            .get_attribute(attribute)
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = (event, attribute);
        None
    }
}

/// What an item of the board menu does.
#[derive(Debug, Clone, Copy)]
enum MenuAction {
    ExportPng { whole_board: bool },
    ExportSvg,
    ExportJson,
    ImportJson,
    InsertImage,
    Items,
    CopyViewLink,
    NewEditLink,
    Shortcuts,
    History,
    Clear,
}

/// The board menu's items but the last (a link): icon path, label, class
/// (`separated` starts a group; `edit-only` ones a view link's page hides),
/// action. One list rendered by one view, which weighs far less in the
/// WebAssembly than a view per item.
const MENU: [(&str, &str, &str, MenuAction); 12] = [
    (icons::CLOCK, "Version history", "", MenuAction::History),
    (icons::LIST, "Item list", "", MenuAction::Items),
    (
        icons::DOWNLOAD,
        "Export PNG (whole board)",
        "separated",
        MenuAction::ExportPng { whole_board: true },
    ),
    (
        icons::DOWNLOAD,
        "Export PNG (current view)",
        "",
        MenuAction::ExportPng { whole_board: false },
    ),
    (icons::DOWNLOAD, "Export SVG", "", MenuAction::ExportSvg),
    (icons::DOWNLOAD, "Export JSON", "", MenuAction::ExportJson),
    (
        icons::UPLOAD,
        "Import JSON…",
        "edit-only",
        MenuAction::ImportJson,
    ),
    (
        icons::IMAGE,
        "Insert image…",
        "edit-only",
        MenuAction::InsertImage,
    ),
    (
        icons::EYE,
        "Copy view link",
        "separated",
        MenuAction::CopyViewLink,
    ),
    (
        icons::REFRESH,
        "New edit link…",
        "edit-only",
        MenuAction::NewEditLink,
    ),
    (
        icons::KEYBOARD,
        "Keyboard shortcuts",
        "separated",
        MenuAction::Shortcuts,
    ),
    (
        icons::TRASH,
        "Clear board",
        "danger edit-only",
        MenuAction::Clear,
    ),
];

impl EngineSlot {
    fn act(&self, ui: BoardUi, action: MenuAction) {
        match action {
            MenuAction::ExportPng { whole_board } => self.export_png(whole_board),
            MenuAction::ExportSvg => self.export_svg(),
            MenuAction::ExportJson => self.export_json(),
            MenuAction::ImportJson => self.import_json(),
            MenuAction::InsertImage => self.insert_image(),
            MenuAction::Items => self.toggle_items(),
            MenuAction::CopyViewLink => self.share(Share::ViewLink),
            MenuAction::NewEditLink => self.rotate_edit_link(),
            MenuAction::Shortcuts => ui.help_open.set(true),
            MenuAction::History => self.history(HistoryAction::Open),
            MenuAction::Clear => self.clear(),
        }
    }
}

/// While a menu or panel is open, its corner (`.open`) spreads a backdrop
/// over the page (its `::before`, in the style sheet). A press on it hits
/// the corner itself: it closes the menu and goes no further, so it draws
/// nothing on the canvas and presses no other button.
fn close_on_press_beside(open: RwSignal<bool>) -> impl FnMut(leptos::ev::PointerEvent) + 'static {
    move |event| {
        if event.target() == event.current_target() {
            event.prevent_default();
            open.set(false);
        }
    }
}

/// Escape closes an open menu or panel (a keydown anywhere in its corner)
/// and gives the focus back to the button that opened it.
fn close_on_escape(open: RwSignal<bool>) -> impl FnMut(leptos::ev::KeyboardEvent) + 'static {
    move |event| {
        if event.key() == "Escape" && open.get_untracked() {
            event.stop_propagation();
            open.set(false);
            #[cfg(feature = "hydrate")]
            {
                use wasm_bindgen::JsCast;
                let opener = event
                    .current_target()
                    .and_then(|corner| corner.dyn_into::<web_sys::Element>().ok())
                    .and_then(|corner| corner.query_selector("[aria-expanded]").ok().flatten())
                    .and_then(|opener| opener.dyn_into::<web_sys::HtmlElement>().ok());
                if let Some(opener) = opener {
                    let _ = opener.focus();
                }
            }
        }
    }
}

/// Top-left: export, import, sharing, help, clear, all boards.
#[component]
fn BoardMenu(ui: BoardUi, engine: EngineSlot) -> impl IntoView {
    let menu_open = RwSignal::new(false);
    // The items are static markup, each naming its place in `MENU`; one
    // listener on the menu acts on the item clicked and closes it.
    let items: String = MENU
        .iter()
        .enumerate()
        .map(|(at, (path, label, class, _))| {
            format!(
                r#"<button role="menuitem" class="{class}" data-item="{at}">{}{label}</button>"#,
                icons::icon_html(path)
            )
        })
        .collect::<String>()
        + &format!(
            r#"<a role="menuitem" href="/" rel="external">{}All boards</a>"#,
            icons::icon_html(icons::HOME)
        );
    view! {
        <div
            class="top-left"
            class:open=move || menu_open.get()
            on:pointerdown=close_on_press_beside(menu_open)
            on:keydown=close_on_escape(menu_open)
        >
            <button
                class="tool menu-button"
                aria-label="Menu"
                title="Menu"
                aria-haspopup="menu"
                aria-expanded=move || menu_open.get().to_string()
                on:click=on_press(Box::new(move || menu_open.update(|open| *open = !*open)))
            >
                {icons::menu()}
            </button>
            // Hidden by a class, like the style panel's sections.
            <div
                class="menu"
                class:hidden=move || !menu_open.get()
                role="menu"
                aria-label="Board menu"
                on:click=move |event| {
                    menu_open.set(false);
                    if let Some((.., action)) = clicked_data(&event, "data-item")
                        .and_then(|at| at.parse::<usize>().ok())
                        .and_then(|at| MENU.get(at))
                    {
                        engine.act(ui, *action);
                    }
                }
                inner_html=items
            ></div>
        </div>
    }
}

/// Top-right: who is here (opens the people panel) and the link to copy.
#[component]
fn PeopleBar(ui: BoardUi, engine: EngineSlot) -> impl IntoView {
    let people_open = RwSignal::new(false);
    view! {
        <div
            class="top-right"
            class:open=move || people_open.get()
            on:pointerdown=close_on_press_beside(people_open)
            on:keydown=close_on_escape(people_open)
        >
            <button
                class="presence"
                aria-expanded=move || people_open.get().to_string()
                title="People on this board"
                on:click=on_press(Box::new(move || people_open.update(|open| *open = !*open)))
            >
                <span
                    class="avatars"
                    aria-hidden="true"
                    inner_html=move || {
                        with_colors(&ui.people.get())
                            .into_iter()
                            .take(4)
                            .map(|(person, color)| {
                                // Shown uppercase by CSS (`.avatar`).
                                let initial = display_name(&person).chars().next().unwrap_or('?');
                                let initial = escape_xml(initial.encode_utf8(&mut [0; 4]));
                                format!(r#"<span class="avatar" style="--person: {color}" data-initial="{initial}"></span>"#)
                            })
                            .collect::<String>()
                    }
                ></span>
                {icons::people()}
                // Named by its text, which holds the count it shows (WCAG
                // 2.5.3): "People on this board: 2".
                <span class="visually-hidden">"People on this board: "</span>
                <span data-testid="presence-count">{move || ui.presence.get()}</span>
            </button>
            <button class="share" title="Copy the link to this board" on:click=on_press(Box::new(move || engine.share(Share::ThisLink)))>
                {icons::link()}
                <span>"Share"</span>
            </button>
            <PeoplePanel ui engine open=people_open/>
        </div>
    }
}

/// Bottom-left: zoom and history.
#[component]
fn ZoomAndHistory(ui: BoardUi, engine: EngineSlot) -> impl IntoView {
    let zoom_label = move || format!("{}%", percent(ui.zoom.get()));
    view! {
        <div class="bottom-left">
            <div class="zoom" role="group" aria-label="Zoom">
                {icon_button("Zoom out", "Zoom out (-)", Box::new(move || engine.zoom_by(1.0 / crate::view::ZOOM_STEP)), icons::MINUS)}
                <button class="zoom-level" title="Reset zoom (0)" data-testid="zoom-level" on:click=on_press(Box::new(move || engine.reset_zoom()))>
                    {zoom_label}
                </button>
                {icon_button("Zoom in", "Zoom in (+)", Box::new(move || engine.zoom_by(crate::view::ZOOM_STEP)), icons::PLUS)}
                {icon_button("Zoom to fit", "Zoom to fit (Shift+1)", Box::new(move || engine.zoom_to_fit()), icons::FIT)}
            </div>
            <div class="history edit-only" role="group" aria-label="History">
                {icon_button("Undo", "Undo (Ctrl+Z)", Box::new(move || engine.undo()), icons::UNDO)}
                {icon_button("Redo", "Redo (Ctrl+Shift+Z)", Box::new(move || engine.redo()), icons::REDO)}
            </div>
        </div>
    }
}

/// Bottom-right: the connection and what is not saved yet.
#[component]
fn StatusBar(ui: BoardUi) -> impl IntoView {
    let status_label = move || ui.status.get().label();
    let status_class = move || format!("status-dot {}", ui.status.get().class());
    view! {
        <div class="statusbar">
            <span class="badge view-only" data-testid="view-only">"View only"</span>
            <span class=status_class aria-hidden="true"></span>
            <span data-testid="connection-status">{status_label}</span>
            // Offline: how much waits to be sent. Online: "saving…" while
            // the server has not stored something yet (shown only when
            // that takes a moment, e.g. while the database is away).
            <span class="muted pending" class:hidden=move || ui.unsaved.get() == 0 data-testid="save-status">
                {move || {
                    if ui.status.get() == ConnectionStatus::Connected {
                        "· saving…".to_owned()
                    } else {
                        format!("· {} unsent", ui.unsaved.get())
                    }
                }}
            </span>
        </div>
    }
}

/// A fraction in whole percents, formatted as an integer (the float
/// formatter weighs in the WebAssembly).
fn percent(fraction: f64) -> i64 {
    (fraction * 100.0).round() as i64
}
