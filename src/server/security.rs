//! What the browser is told to refuse: which pages may open a board's
//! WebSocket, and the headers that keep pages from being framed, sniffed,
//! leaking their address or running injected scripts.
//!
//! - **Origin.** A browser sends `Origin` with every WebSocket upgrade and
//!   lets any page open a socket to any server, cookies or not: without a
//!   check, a page elsewhere could draw on a board whose link it learnt
//!   (cross-site WebSocket hijacking). By default an upgrade is accepted
//!   when its `Origin` names the host it was sent to (`Host`, port
//!   included); `--allowed-origins` lists other origins, or `*` for any.
//!   Clients that are not browsers send no `Origin` and are not checked
//!   (they could send any).
//! - **Headers.** Every response is `nosniff` and sends no `Referer` (a
//!   board's address is what lets people in); pages also get a
//!   Content-Security-Policy ([`page_policy`]) with the nonce Leptos puts
//!   on its inline scripts, and may not be framed.

use axum::http::header::{HOST, ORIGIN, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::Response;

/// Which pages may open a board's WebSocket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowedOrigins {
    /// Pages of the host the upgrade was sent to.
    SameHost,
    /// Those and these origins (`scheme://host[:port]`, as browsers send them).
    Listed(Vec<String>),
    /// Any page.
    Any,
}

impl AllowedOrigins {
    /// From `--allowed-origins`: empty for [`Self::SameHost`], `*` for
    /// [`Self::Any`], otherwise origins separated by commas.
    pub fn parse(flag: &str) -> Self {
        let listed: Vec<String> = flag
            .split(',')
            .map(|origin| origin.trim().trim_end_matches('/').to_ascii_lowercase())
            .filter(|origin| !origin.is_empty())
            .collect();
        if listed.iter().any(|origin| origin == "*") {
            Self::Any
        } else if listed.is_empty() {
            Self::SameHost
        } else {
            Self::Listed(listed)
        }
    }

    /// Whether an upgrade with these headers may proceed.
    pub fn allow(&self, headers: &HeaderMap) -> bool {
        let Some(origin) = headers.get(ORIGIN) else {
            return true; // Not a browser.
        };
        let Ok(origin) = origin.to_str() else {
            return false;
        };
        let origin = origin.to_ascii_lowercase();
        match self {
            Self::Any => true,
            Self::Listed(listed) if listed.contains(&origin) => true,
            Self::Listed(_) | Self::SameHost => same_host(&origin, headers),
        }
    }
}

/// Whether `origin` (`scheme://host[:port]`) names the `Host` the request
/// was sent to. A default port may be left out by either.
fn same_host(origin: &str, headers: &HeaderMap) -> bool {
    let Some(host) = headers.get(HOST).and_then(|h| h.to_str().ok()) else {
        return false;
    };
    let host = host.to_ascii_lowercase();
    let (authority, default_port) = match origin.split_once("://") {
        Some(("http", authority)) => (authority, ":80"),
        Some(("https", authority)) => (authority, ":443"),
        _ => return false,
    };
    let bare = |name: &str| name.strip_suffix(default_port).unwrap_or(name).to_owned();
    bare(authority) == bare(&host)
}

/// The Content-Security-Policy of a page whose inline scripts carry `nonce`:
/// its own scripts, styles, images and sockets only; WebAssembly compiled;
/// style attributes (the colour swatches set some); nothing framed or framing.
pub fn page_policy(nonce: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self'; style-src-attr 'unsafe-inline'; img-src 'self' data: blob:; \
         connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
         frame-ancestors 'none'"
    )
}

/// Adds the headers every response gets (see the module's documentation).
pub async fn add_security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upgrade(origin: Option<&str>, host: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(HOST, HeaderValue::from_str(host).unwrap());
        if let Some(origin) = origin {
            headers.insert(ORIGIN, HeaderValue::from_str(origin).unwrap());
        }
        headers
    }

    #[test]
    fn by_default_only_pages_of_the_same_host_may_connect() {
        let same = AllowedOrigins::parse("");
        assert_eq!(same, AllowedOrigins::SameHost);
        assert!(same.allow(&upgrade(
            Some("http://board.example:8000"),
            "board.example:8000"
        )));
        assert!(same.allow(&upgrade(Some("https://Board.Example"), "board.example")));
        assert!(same.allow(&upgrade(Some("https://board.example"), "board.example:443")));
        assert!(same.allow(&upgrade(None, "board.example")), "not a browser");
        for foreign in [
            "https://evil.example",
            "http://board.example:8001",
            "https://board.example.evil.example",
            "null",
            "file://",
        ] {
            assert!(
                !same.allow(&upgrade(Some(foreign), "board.example:8000")),
                "{foreign}"
            );
        }
        assert!(!same.allow(&upgrade(Some("https://board.example"), "board.example:80")));
    }

    #[test]
    fn listed_origins_and_any_widen_it() {
        let listed = AllowedOrigins::parse(" https://app.example/ , http://localhost:3000");
        assert_eq!(
            listed,
            AllowedOrigins::Listed(vec![
                "https://app.example".into(),
                "http://localhost:3000".into()
            ])
        );
        assert!(listed.allow(&upgrade(Some("https://app.example"), "board.example")));
        assert!(listed.allow(&upgrade(Some("http://board.example"), "board.example")));
        assert!(!listed.allow(&upgrade(Some("https://evil.example"), "board.example")));
        let any = AllowedOrigins::parse("*");
        assert!(any.allow(&upgrade(Some("https://evil.example"), "board.example")));
    }

    #[test]
    fn the_page_policy_names_the_nonce_and_forbids_framing() {
        let policy = page_policy("abc");
        assert!(policy.contains("'nonce-abc'"));
        assert!(policy.contains("frame-ancestors 'none'"));
        let scripts = policy
            .split(';')
            .find(|directive| directive.trim().starts_with("script-src"))
            .unwrap();
        for loophole in ["'unsafe-inline'", "'unsafe-eval'", "*", "data:"] {
            assert!(!scripts.contains(loophole), "{scripts}");
        }
    }
}
