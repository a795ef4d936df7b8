//! The Leptos application: the HTML shell and the page for a path.
//!
//! Rendered on the server (`ssr`) and hydrated in the browser (`hydrate`).
//! There are three pages and no navigation between them inside the app (every
//! link loads a page), so the path is matched here by [`Page::for_path`]
//! rather than by `leptos_router`, whose client half weighed about 70 KB of
//! the WebAssembly bundle. The server mounts the same three paths
//! (`server::run`) and answers any other path that is not a file with the
//! "not found" page and status 404.

use leptos::prelude::*;

use crate::pages::board::BoardPage;
use crate::pages::home::HomePage;

/// The document around the app, rendered once per request on the server.
/// Its title is the same on every page, so it is plain HTML here: a
/// `leptos_meta` title in the app brought that crate's browser half into
/// the WebAssembly (5.5 KB brotli).
#[cfg(feature = "ssr")]
pub fn shell(options: LeptosOptions) -> impl IntoView {
    use leptos_meta::{provide_meta_context, HashedStylesheet, MetaTags};
    send_page_policy();
    provide_meta_context();
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1, viewport-fit=cover"/>
                <meta name="color-scheme" content="light dark"/>
                <title>"Whiteboard"</title>
                <link rel="icon" href="/favicon.svg" type="image/svg+xml"/>
                // `whiteboard.<hash>.css` when the build hashed file names.
                <HashedStylesheet options=options.clone() id="leptos"/>
                <AutoReload options=options.clone()/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// Sends the page's Content-Security-Policy, naming the nonce this
/// response's inline scripts carry (see [`crate::server::security`]).
#[cfg(feature = "ssr")]
fn send_page_policy() {
    use axum::http::{header::CONTENT_SECURITY_POLICY, HeaderValue};
    let (Some(nonce), Some(response)) = (
        leptos::nonce::use_nonce(),
        use_context::<leptos_axum::ResponseOptions>(),
    ) else {
        return;
    };
    let policy = crate::server::security::page_policy(&nonce.to_string());
    if let Ok(value) = HeaderValue::from_str(&policy) {
        response.insert_header(CONTENT_SECURITY_POLICY, value);
    }
}

/// The app's pages, by path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Page {
    /// `/`
    Home,
    /// `/b/{id}`, with the id as it appears in the path (not yet validated).
    Board(String),
    /// `/v/{token}`: a board through its view link (the token not yet
    /// validated).
    View(String),
    /// Anything else.
    NotFound,
}

impl Page {
    /// The page a path shows: exactly the paths the server mounts.
    pub fn for_path(path: &str) -> Page {
        if path == "/" {
            return Page::Home;
        }
        let segment = |prefix: &str| {
            path.strip_prefix(prefix)
                .filter(|rest| !rest.is_empty() && !rest.contains('/'))
                .map(str::to_owned)
        };
        if let Some(id) = segment("/b/") {
            return Page::Board(id);
        }
        segment("/v/").map_or(Page::NotFound, Page::View)
    }
}

/// The path of the page being rendered: the request's on the server, the
/// address bar's in the browser.
fn current_path() -> String {
    #[cfg(feature = "ssr")]
    {
        use_context::<axum::http::request::Parts>()
            .map(|parts| parts.uri.path().to_owned())
            .unwrap_or_default()
    }
    #[cfg(not(feature = "ssr"))]
    {
        window().location().pathname().unwrap_or_default()
    }
}

#[component]
pub fn App() -> impl IntoView {
    match Page::for_path(&current_path()) {
        Page::Home => view! { <HomePage/> }.into_any(),
        Page::Board(id) => view! { <BoardPage id view=false/> }.into_any(),
        Page::View(token) => view! { <BoardPage id=token view=true/> }.into_any(),
        Page::NotFound => view! { <NotFound/> }.into_any(),
    }
}

#[component]
fn NotFound() -> impl IntoView {
    // Its status (404) comes from the server's fallback, which is the only
    // way to this page.
    view! {
        <main class="home">
            <h1>"Page not found"</h1>
            <p><a href="/" rel="external">"Back to the start page"</a></p>
        </main>
    }
}

#[cfg(test)]
mod tests {
    use super::Page;

    #[test]
    fn paths_map_to_the_pages_the_server_mounts() {
        assert_eq!(Page::for_path("/"), Page::Home);
        assert_eq!(Page::for_path("/b/abc"), Page::Board("abc".into()));
        assert_eq!(Page::for_path("/v/tok"), Page::View("tok".into()));
        for other in [
            "",
            "/b/",
            "/b",
            "/b/abc/",
            "/b/abc/def",
            "/nope",
            "/bb/abc",
            "/v/",
            "/v/a/b",
        ] {
            assert_eq!(Page::for_path(other), Page::NotFound, "{other:?}");
        }
    }
}
