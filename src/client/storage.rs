//! Browser storage and randomness: who this tab is, which boards it opened.
//!
//! The user id lives in `sessionStorage`, so it survives a reload (undo keeps
//! working on what you drew before reloading) while two tabs are two people.
//! Recently opened boards and the display name live in `localStorage`,
//! shared by all tabs.

use serde::{Deserialize, Serialize};

use crate::protocol::UserId;

const USER_KEY: &str = "whiteboard.user";
const RECENT_KEY: &str = "whiteboard.recent";
const RECENT_LIMIT: usize = 12;
const NAME_KEY: &str = "whiteboard.name";

/// A board this browser opened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
    let storage = web_sys::window().and_then(|w| w.session_storage().ok().flatten());
    if let Some(existing) = storage
        .as_ref()
        .and_then(|s| s.get_item(USER_KEY).ok().flatten())
        .and_then(|raw| UserId::parse(&raw).ok())
    {
        return existing;
    }
    let fresh = UserId::from_trusted(format!("u{}", random_hex(12)));
    if let Some(storage) = storage {
        let _ = storage.set_item(USER_KEY, fresh.as_str());
    }
    fresh
}

fn local_storage() -> Option<web_sys::Storage> {
    web_sys::window().and_then(|w| w.local_storage().ok().flatten())
}

/// Boards this browser opened, most recent first.
pub fn recent_boards() -> Vec<RecentBoard> {
    local_storage()
        .and_then(|s| s.get_item(RECENT_KEY).ok().flatten())
        .and_then(|raw| serde_json::from_str(&raw).ok())
        .unwrap_or_default()
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
    if let (Some(storage), Ok(raw)) = (local_storage(), serde_json::to_string(&boards)) {
        let _ = storage.set_item(RECENT_KEY, &raw);
    }
}

/// The display name this browser uses, if one was chosen (and is valid).
pub fn display_name() -> Option<String> {
    local_storage()
        .and_then(|s| s.get_item(NAME_KEY).ok().flatten())
        .filter(|name| crate::protocol::validate_name(name).is_ok())
}

/// Remembers the display name for every board opened in this browser.
pub fn set_display_name(name: &str) {
    if let Some(storage) = local_storage() {
        let _ = storage.set_item(NAME_KEY, name);
    }
}
