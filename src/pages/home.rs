//! `/`: start a new board, or reopen one this browser used recently.

use leptos::prelude::*;

use crate::exchange::escape_xml;

#[cfg(feature = "hydrate")]
use crate::client::storage::RecentBoard;

/// One recent board as the list shows it.
#[derive(Debug, Clone, PartialEq)]
struct RecentEntry {
    id: String,
    opened: String,
}

/// The recent boards as list items: HTML (escaped), written whole when the
/// list is read, which weighs far less in the WebAssembly than a keyed list
/// of views (a list read once needs none of a keyed list's updating).
fn recent_html(entries: &[RecentEntry]) -> String {
    entries
        .iter()
        .map(|entry| {
            let id = escape_xml(&entry.id);
            let short: String = entry.id.chars().take(8).collect();
            format!(
                r#"<li><a href="/b/{id}" rel="external"><span class="board-name">Board {}</span><span class="muted">{}</span></a></li>"#,
                escape_xml(&short),
                escape_xml(&entry.opened)
            )
        })
        .collect()
}

#[component]
pub fn HomePage() -> impl IntoView {
    // Filled in the browser only: localStorage does not exist on the server.
    let recent = RwSignal::new(Vec::<RecentEntry>::new());
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        let entries = crate::client::storage::recent_boards()
            .into_iter()
            .map(|RecentBoard { id, opened_at }| RecentEntry {
                opened: String::from(
                    js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(opened_at))
                        .to_locale_string("default", &wasm_bindgen::JsValue::UNDEFINED),
                ),
                id,
            })
            .collect();
        recent.set(entries);
    });

    view! {
        <main class="home">
            <header class="home-header">
                <div class="logo" aria-hidden="true">
                    <svg viewBox="0 0 32 32" width="40" height="40"><rect x="2" y="2" width="28" height="28" rx="7" fill="#1971c2"/><path d="M8 21c3-6 5-9 7-9s1 7 4 7 3-6 5-8" fill="none" stroke="#fff" stroke-width="2.6" stroke-linecap="round"/></svg>
                </div>
                <h1>"Whiteboard"</h1>
                <p class="tagline">"Draw together in real time. Share the link, and everyone sees every stroke as it is drawn."</p>
            </header>
            <form action="/new" method="get" class="new-board">
                <button type="submit" class="primary">"New board"</button>
            </form>
            <section class="recent" aria-labelledby="recent-heading">
                <h2 id="recent-heading">"Recent boards"</h2>
                // Both rendered, one hidden: lighter than a `Show`.
                <p class="muted" class:hidden=move || !recent.read().is_empty()>"Boards you open appear here."</p>
                <ul
                    class="recent-list"
                    class:hidden=move || recent.read().is_empty()
                    inner_html=move || recent_html(&recent.read())
                ></ul>
            </section>
        </main>
    }
}
