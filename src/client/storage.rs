//! Browser storage and randomness: who this tab is, which boards it opened.
//!
//! The user id lives in `sessionStorage`, so it survives a reload (undo keeps
//! working on what you drew before reloading) while two tabs are two people.
//! Recently opened boards, the display name and the edit keys of boards
//! whose edit link was rotated live in `localStorage`, shared by all tabs.

use wasm_bindgen::JsValue;

use crate::protocol::UserId;

const USER_KEY: &str = "whiteboard.user";
const RECENT_KEY: &str = "whiteboard.recent";
const RECENT_LIMIT: usize = 12;
const NAME_KEY: &str = "whiteboard.name";
const GUEST_KEY: &str = "whiteboard.guest";

/// A board this browser opened. Kept as JSON (`[{"id", "opened_at"}]`)
/// that the browser's own `JSON` reads and writes: serde's code for it
/// weighed 3 KB of the WebAssembly.
#[derive(Debug, Clone, PartialEq)]
pub struct RecentBoard {
    pub id: String,
    /// Milliseconds since the Unix epoch.
    pub opened_at: f64,
}

/// `bytes` random bytes from `crypto.getRandomValues`, as lowercase hex.
pub fn random_hex(bytes: usize) -> String {
    let mut buffer = vec![0u8; bytes];
    let filled = web_sys::window()
        .and_then(|w| w.crypto().ok())
        .and_then(|c| c.get_random_values_with_u8_array(&mut buffer).ok())
        .is_some();
    if !filled {
        // No Web Crypto (very old browser): fall back to Math.random.
        for byte in &mut buffer {
            *byte = (js_sys::Math::random() * 256.0) as u8;
        }
    }
    buffer.iter().map(|b| format!("{b:02x}")).collect()
}

/// This tab's user id, created on first use.
pub fn user_id() -> UserId {
    if let Some(existing) = session_storage()
        .and_then(|s| s.get_item(USER_KEY).ok().flatten())
        .and_then(|raw| UserId::parse(&raw).ok())
    {
        return existing;
    }
    let fresh = new_user_id();
    set_user_id(&fresh);
    fresh
}

/// A user id nobody has.
pub fn new_user_id() -> UserId {
    UserId::from_trusted(format!("u{}", random_hex(12)))
}

/// Makes `user` this tab's user id, from now on and after a reload.
pub fn set_user_id(user: &UserId) {
    if let Some(storage) = session_storage() {
        let _ = storage.set_item(USER_KEY, user.as_str());
    }
}

fn session_storage() -> Option<web_sys::Storage> {
    web_sys::window().and_then(|w| w.session_storage().ok().flatten())
}

fn local_storage() -> Option<web_sys::Storage> {
    web_sys::window().and_then(|w| w.local_storage().ok().flatten())
}

/// Boards this browser opened, most recent first.
pub fn recent_boards() -> Vec<RecentBoard> {
    let Some(raw) = local_storage().and_then(|s| s.get_item(RECENT_KEY).ok().flatten()) else {
        return Vec::new();
    };
    let Ok(parsed) = js_sys::JSON::parse(&raw) else {
        return Vec::new();
    };
    let field = |entry: &JsValue, name: &str| js_sys::Reflect::get(entry, &JsValue::from_str(name));
    js_sys::Array::from(&parsed)
        .iter()
        .filter_map(|entry| {
            Some(RecentBoard {
                id: field(&entry, "id").ok()?.as_string()?,
                opened_at: field(&entry, "opened_at").ok()?.as_f64()?,
            })
        })
        .collect()
}

/// Puts `id` at the top of the recent boards.
pub fn remember_board(id: &str) {
    let mut boards = recent_boards();
    boards.retain(|b| b.id != id);
    boards.insert(
        0,
        RecentBoard {
            id: id.to_owned(),
            opened_at: js_sys::Date::now(),
        },
    );
    boards.truncate(RECENT_LIMIT);
    let list = js_sys::Array::new();
    for board in boards {
        let entry = js_sys::Object::new();
        let _ = js_sys::Reflect::set(&entry, &"id".into(), &board.id.into());
        let _ = js_sys::Reflect::set(&entry, &"opened_at".into(), &board.opened_at.into());
        list.push(&entry);
    }
    if let (Some(storage), Ok(raw)) = (local_storage(), js_sys::JSON::stringify(&list)) {
        let _ = storage.set_item(RECENT_KEY, &String::from(raw));
    }
}

/// Every `localStorage` item whose key starts with `prefix`.
pub fn local_items_under(prefix: &str) -> Vec<(String, String)> {
    let Some(storage) = local_storage() else {
        return Vec::new();
    };
    let count = storage.length().unwrap_or(0);
    (0..count)
        .filter_map(|index| storage.key(index).ok().flatten())
        .filter(|key| key.starts_with(prefix))
        .filter_map(|key| Some((key.clone(), storage.get_item(&key).ok()??)))
        .collect()
}

/// Sets (`Some`) or removes (`None`) a `localStorage` item.
pub fn set_local(key: &str, value: Option<&str>) {
    if let Some(storage) = local_storage() {
        let _ = match value {
            Some(value) => storage.set_item(key, value),
            None => storage.remove_item(key),
        };
    }
}

/// Where the edit key of a board's rotated edit link is kept.
fn edit_key_item(board: &str) -> String {
    format!("whiteboard.key.{board}")
}

/// The edit key this browser was given for `board`, if any.
pub fn edit_key(board: &str) -> Option<String> {
    local_storage()
        .and_then(|s| s.get_item(&edit_key_item(board)).ok().flatten())
        .filter(|key| crate::protocol::validate_token(key).is_ok())
}

/// Remembers the edit key of `board` for every tab of this browser.
pub fn set_edit_key(board: &str, key: &str) {
    if let Some(storage) = local_storage() {
        let _ = storage.set_item(&edit_key_item(board), key);
    }
}

/// The display name this browser uses, if one was chosen (and is valid).
pub fn display_name() -> Option<String> {
    local_storage()
        .and_then(|s| s.get_item(NAME_KEY).ok().flatten())
        .filter(|name| crate::protocol::validate_name(name).is_ok())
}

/// The name this browser goes by while none is chosen: a guest name from a
/// seed made on first use and kept, so it stays across tabs and visits.
pub fn guest_name() -> String {
    let storage = local_storage();
    let seed = storage
        .as_ref()
        .and_then(|s| s.get_item(GUEST_KEY).ok().flatten())
        .unwrap_or_else(|| {
            let seed = random_hex(8);
            if let Some(storage) = &storage {
                let _ = storage.set_item(GUEST_KEY, &seed);
            }
            seed
        });
    crate::ui::guest_name(&seed)
}

/// Remembers the display name for every board opened in this browser.
pub fn set_display_name(name: &str) {
    if let Some(storage) = local_storage() {
        let _ = storage.set_item(NAME_KEY, name);
    }
}
