//! Adapter: the board's links, copied and changed from the Share button and
//! the board menu.
//!
//! Once a board's edit link was rotated, editing takes its key. The key
//! comes in the address's fragment (`/b/{id}#k={key}`: a fragment never
//! reaches the server or its logs) and is remembered in localStorage per
//! board, so the board reopens from the start page's list; the address is
//! put back with it, so that copying the address bar copies the edit link.
//! The view link and a new edit link are asked of the server (`POST
//! /b/{id}/view-link`, `/b/{id}/edit-link`) with the key in `X-Edit-Key`;
//! image uploads go the same way ([`post_for`], from `image_upload` and
//! `export`).

use leptos::prelude::Set;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use super::engine::EngineHandle;
use super::storage;
use crate::protocol::{validate_token, BoardId};
use crate::ui::{BoardLink, Share};

/// The edit key this page edits `board` with: the address's `#k=`
/// (remembered for next time), else the one remembered. The address then
/// shows it.
pub fn edit_key(board: &BoardId) -> Option<String> {
    let given = web_sys::window()?
        .location()
        .hash()
        .ok()
        .and_then(|hash| hash.strip_prefix("#k=").map(str::to_owned))
        .filter(|key| validate_token(key).is_ok());
    if let Some(key) = &given {
        storage::set_edit_key(board.as_str(), key);
    }
    let key = given.or_else(|| storage::edit_key(board.as_str()))?;
    show_edit_key(&key);
    Some(key)
}

/// Puts the edit link's key in the address bar (its fragment: no reload).
fn show_edit_key(key: &str) {
    if let Some(window) = web_sys::window() {
        let _ = window.location().set_hash(&format!("k={key}"));
    }
}

fn edit_path(board: &BoardId, key: Option<&str>) -> String {
    match key {
        Some(key) => format!("/b/{board}#k={key}"),
        None => format!("/b/{board}"),
    }
}

/// `https://host:port` of the page (its address up to the path).
fn origin() -> String {
    let href = web_sys::window()
        .and_then(|w| w.location().href().ok())
        .unwrap_or_default();
    let path_at = href
        .match_indices('/')
        .nth(2)
        .map_or(href.len(), |(at, _)| at);
    href[..path_at].to_owned()
}

/// `POST path` with the edit key and `body`: the JSON answer, or what went
/// wrong, in words for a notice (the server's own, when it refused).
pub(super) async fn post_for(
    path: &str,
    key: Option<&str>,
    body: Option<&JsValue>,
) -> Result<JsValue, String> {
    let asked = async {
        let window = web_sys::window().ok_or(JsValue::NULL)?;
        let init = web_sys::RequestInit::new();
        init.set_method("POST");
        if let Some(body) = body {
            init.set_body(body);
        }
        let headers = web_sys::Headers::new()?;
        if let Some(key) = key {
            headers.set("X-Edit-Key", key)?;
        }
        init.set_headers(&headers);
        let response: web_sys::Response =
            JsFuture::from(window.fetch_with_str_and_init(path, &init))
                .await?
                .unchecked_into();
        if !response.ok() {
            let said = JsFuture::from(response.text()?).await?.as_string();
            return Ok(Err(said
                .filter(|said| !said.is_empty())
                .unwrap_or_else(|| "the server refused; try again".to_owned())));
        }
        Ok::<_, JsValue>(Ok(JsFuture::from(response.json()?).await?))
    };
    asked
        .await
        .unwrap_or_else(|_| Err("the server could not be reached".to_owned()))
}

/// The field `name` of a JSON answer, if there is one.
pub(super) fn field(answer: &JsValue, name: &str) -> JsValue {
    js_sys::Reflect::get(answer, &JsValue::from_str(name)).unwrap_or(JsValue::UNDEFINED)
}

/// The text field `name` of a JSON answer.
fn text_field(answer: &JsValue, name: &str) -> Result<String, String> {
    field(answer, name)
        .as_string()
        .ok_or_else(|| "the server's answer was not one".to_owned())
}

/// The path of the link `what` asks for, and the new edit key if it made
/// one. A view link's page only has its own link.
async fn path_for(
    link: &BoardLink,
    key: Option<&str>,
    what: Share,
) -> Result<(String, Option<String>), String> {
    let board = match link {
        BoardLink::View(token) => return Ok((format!("/v/{token}"), None)),
        BoardLink::Edit(board) => board,
    };
    match what {
        Share::ThisLink => Ok((edit_path(board, key), None)),
        Share::ViewLink => {
            let token = text_field(
                &post_for(&format!("/b/{board}/view-link"), key, None).await?,
                "token",
            )?;
            Ok((format!("/v/{token}"), None))
        }
        Share::NewEditLink => {
            let answer = post_for(&format!("/b/{board}/edit-link"), key, None).await?;
            let key = text_field(&answer, "key")?;
            validate_token(&key).map_err(|_| "the server's answer was not one".to_owned())?;
            storage::set_edit_key(board.as_str(), &key);
            show_edit_key(&key);
            Ok((edit_path(board, Some(&key)), Some(key)))
        }
    }
}

impl EngineHandle {
    /// Does what the Share button or a menu item asked: the link is copied
    /// to the clipboard (or shown for copying where there is none: plain
    /// http on another host), and a notice says how it went.
    pub fn share(&self, what: Share) {
        let Some((link, key, ui)) = self.with(|engine| {
            engine.rotating |= what == Share::NewEditLink;
            (engine.link.clone(), engine.key.clone(), engine.ui)
        }) else {
            return;
        };
        let handle = self.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let made = path_for(&link, key.as_deref(), what).await;
            handle.with(|engine| {
                engine.rotating = false;
                if let Ok((_, Some(key))) = &made {
                    engine.key = Some(key.clone());
                }
            });
            let notice = match made {
                Ok((path, new_key)) => copy(format!("{}{path}", origin()))
                    .await
                    .map(|()| match new_key {
                        Some(_) => "New edit link copied; the old one no longer works",
                        None => "Link copied",
                    })
                    .map_err(str::to_owned),
                Err(error) => Err(error),
            };
            ui.notice.set(Some(match notice {
                Ok(done) => done.to_owned(),
                Err(error) => format!("No link: {error}"),
            }));
        });
    }
}

/// Puts `text` on the clipboard, or shows it for copying.
async fn copy(text: String) -> Result<(), &'static str> {
    let window = web_sys::window().ok_or("no window")?;
    let navigator = window.navigator();
    let has_clipboard = js_sys::Reflect::get(&navigator, &JsValue::from_str("clipboard"))
        .is_ok_and(|c| !c.is_undefined() && !c.is_null());
    if !has_clipboard {
        let _ = window.prompt_with_message_and_default("Copy this link:", &text);
        return Ok(());
    }
    JsFuture::from(navigator.clipboard().write_text(&text))
        .await
        .map(drop)
        .map_err(|_| "could not copy it")
}
