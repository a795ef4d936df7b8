//! Keeping the open board on the device (IndexedDB), so that it opens
//! without a network and nothing drawn is lost to a reload, a closed tab
//! or a closed laptop.
//!
//! What is kept, and in what form, is the replica's business
//! (`replica::kept`); this file only stores it, in one object store,
//! under keys that start with the board's link (its id, or `v/{token}`
//! for a view link), so that startup reads all of a board's at once:
//! - `{link}/board`: the board as last confirmed (packed bytes), packed a
//!   slice at a time ([`PACKED_PER_SLICE`]) a while after it changed
//!   ([`BOARD_INTERVAL_MS`], longer for boards that take long to pack),
//!   shared by every tab of the board;
//! - `{link}/pending/{user}`: the requests not confirmed yet (text),
//!   written whenever they change, one write at a time, and deleted once
//!   none are left.
//!
//! Boards are kept for the start page's recent boards (12) and the board
//! open; startup forgets the others. Pending lists are never forgotten.
//!
//! A write to IndexedDB takes a moment, and a page that goes away (a
//! reload, a closed tab) may lose the one in flight. So when the page is
//! hidden (which comes first when it goes away) with a pending list not
//! yet written, the list is also put in `localStorage`, which writes at
//! once, under `whiteboard.unsent/{link}/pending/{user}`. Every list is
//! stamped with the time it was taken; startup takes the newer of the two,
//! and a later write to IndexedDB removes the copy.
//!
//! Pending requests are kept per user id because the server recognises a
//! resend by its author and op id, and because undo takes back its own
//! author's work. The user id lives in the tab's session storage (one per
//! tab, kept across a reload), so two tabs on one board keep two lists and
//! neither overwrites the other. A tab closed with requests unsent leaves
//! its list behind: the next tab that opens the board with none of its own
//! takes that list up and connects as that user (`Replica::speak_for`).
//! Which lists belong to a closed tab is told by Web Locks: every tab holds
//! a lock named after its user id for as long as it lives, so a list whose
//! lock nobody holds has no tab. A tab duplicated with its session storage
//! is not granted its user's lock (the original holds it) and takes a new
//! user id. Two tabs opening at the same moment may both take up the same
//! list: both then send it as the same user, and the server applies each
//! request once. Browsers without Web Locks keep each tab's own list, and
//! take up none.
//!
//! Startup ([`resume`]) runs before the first connection, so the `hello`
//! already carries the kept board's number and the server sends only what
//! came after it.

use std::rc::Rc;

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{IdbDatabase, IdbKeyRange, IdbObjectStore, IdbTransactionMode};

use super::engine::EngineHandle;
use super::storage;
use crate::protocol::UserId;
use crate::replica::kept;
use crate::ui::BoardLink;

const DATABASE: &str = "whiteboard";
const STORE: &str = "kept";
/// The board is kept again at most this often (milliseconds)...
pub(super) const BOARD_INTERVAL_MS: f64 = 2_000.0;
/// ...or, for a board that takes long to pack, this many times the time
/// packing it took, so keeping costs at most about 2 % of the page's time.
pub(super) const BOARD_INTERVAL_PACKINGS: f64 = 50.0;
/// Items of the board packed per task (a few milliseconds each), so that
/// keeping a big board never holds up the page.
pub(super) const PACKED_PER_SLICE: usize = 4_096;
/// How long startup waits for the database before connecting without it.
const OPEN_TIMEOUT_MS: i32 = 3_000;
/// How long startup waits for the lock of its user id: a duplicated tab
/// never gets it (the original holds it)...
const LOCK_WAIT_MS: i32 = 1_000;
/// ...while a reloaded tab waits for its earlier page to let go of it.
const RELOAD_LOCK_WAIT_MS: i32 = 10_000;
/// Where a pending list's copy is put when the page is hidden.
const BACKUP_PREFIX: &str = "whiteboard.unsent/";

/// A callback handed to the browser (one type for all of them here).
type Callback = Closure<dyn FnMut(JsValue) -> JsValue>;

/// A promise settled by `target`'s events: resolved by `success`, rejected
/// by `error` or `abort` (an IndexedDB request; a transaction, whose
/// success is `complete`).
fn settled(target: &web_sys::EventTarget, success: &str) -> js_sys::Promise {
    js_sys::Promise::new(&mut |resolve, reject| {
        let _ = target.add_event_listener_with_callback(success, &resolve);
        let _ = target.add_event_listener_with_callback("error", &reject);
        let _ = target.add_event_listener_with_callback("abort", &reject);
    })
}

/// What `promise` resolves to, if it does within `ms` (when given):
/// `None` if it fails, takes longer, or resolves to `undefined`.
async fn wait(promise: js_sys::Promise, ms: Option<i32>) -> Option<JsValue> {
    let promise = match (ms, web_sys::window()) {
        (Some(ms), Some(window)) => {
            let timer = js_sys::Promise::new(&mut |resolve, _| {
                let _ = window.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms);
            });
            js_sys::Promise::race(&js_sys::Array::of2(&promise, &timer))
        }
        _ => promise,
    };
    JsFuture::from(promise)
        .await
        .ok()
        .filter(|value| !value.is_undefined())
}

/// The board's place in the database.
pub(super) struct Keeper {
    database: IdbDatabase,
    board_key: String,
    pending_key: String,
}

impl Keeper {
    fn store(&self, mode: IdbTransactionMode) -> Result<IdbObjectStore, JsValue> {
        self.database
            .transaction_with_str_and_mode(STORE, mode)?
            .object_store(STORE)
    }

    /// Every key kept for the link and its value.
    async fn read_all(&self, link: &str) -> Vec<(String, JsValue)> {
        let requests = IdbKeyRange::bound(
            &format!("{link}/").into(),
            &format!("{link}/\u{ffff}").into(),
        )
        .and_then(|range| {
            let store = self.store(IdbTransactionMode::Readonly)?;
            Ok((
                store.get_all_keys_with_key(&range)?,
                store.get_all_with_key(&range)?,
            ))
        });
        let Ok((keys, values)) = requests else {
            return Vec::new();
        };
        let answered = (settled(&keys, "success"), settled(&values, "success"));
        let (Some(_), Some(_)) = (wait(answered.0, None).await, wait(answered.1, None).await)
        else {
            return Vec::new();
        };
        let (keys, values) = (
            keys.result().unwrap_or_default(),
            values.result().unwrap_or_default(),
        );
        js_sys::Array::from(&keys)
            .iter()
            .zip(js_sys::Array::from(&values).iter())
            .filter_map(|(key, value)| Some((key.as_string()?, value)))
            .collect()
    }

    /// Drops the kept boards of every link but those in `recent` (the
    /// boards of the start page's list, and this one), so what is kept
    /// stays bounded. Pending lists stay, whatever their board: they are
    /// work not sent yet.
    async fn forget_boards_but(&self, recent: &[String]) {
        let Ok(listing) = self
            .store(IdbTransactionMode::Readonly)
            .and_then(|store| store.get_all_keys())
        else {
            return;
        };
        if wait(settled(&listing, "success"), None).await.is_none() {
            return;
        }
        let keys = js_sys::Array::from(&listing.result().unwrap_or_default());
        let Ok(store) = self.store(IdbTransactionMode::Readwrite) else {
            return;
        };
        for key in keys.iter().filter_map(|key| key.as_string()) {
            if key
                .strip_suffix("/board")
                .is_some_and(|link| !recent.iter().any(|r| r == link))
            {
                let _ = store.delete(&key.into());
            }
        }
    }

    /// Puts the pending requests' text in `localStorage` too (the page is
    /// being hidden while their write to IndexedDB is due).
    pub(super) fn back_up(&self, text: &str) {
        let key = [BACKUP_PREFIX, &self.pending_key].concat();
        storage::set_local(&key, Some(&stamped(text)));
    }

    /// Removes that copy (a write to IndexedDB came after it).
    pub(super) fn drop_backup(&self) {
        storage::set_local(&[BACKUP_PREFIX, &self.pending_key].concat(), None);
    }

    /// Keeps, in one transaction, the pending requests when given (`None`
    /// within: none are left, the list is deleted) and the packed board
    /// when given; whether that was stored.
    pub(super) async fn keep(
        &self,
        pending: Option<Option<String>>,
        board: Option<Vec<u8>>,
    ) -> bool {
        let Ok(store) = self.store(IdbTransactionMode::Readwrite) else {
            return false;
        };
        let pending_key = JsValue::from(self.pending_key.as_str());
        let asked = match pending {
            Some(Some(text)) => store
                .put_with_key(&stamped(&text).into(), &pending_key)
                .is_ok(),
            Some(None) => store.delete(&pending_key).is_ok(),
            None => true,
        } && board.is_none_or(|packed| {
            let bytes = js_sys::Uint8Array::from(packed.as_slice());
            store
                .put_with_key(&bytes, &self.board_key.as_str().into())
                .is_ok()
        });
        // Stored once the transaction has committed.
        asked
            && wait(settled(&store.transaction(), "complete"), None)
                .await
                .is_some()
    }
}

/// Opens (on first use, creates) the database.
async fn open_database() -> Option<IdbDatabase> {
    let request = web_sys::window()?
        .indexed_db()
        .ok()??
        .open_with_u32(DATABASE, 1)
        .ok()?;
    let opening = request.clone();
    let upgrade = Callback::new(move |_| {
        if let Some(database) = opening
            .result()
            .ok()
            .and_then(|r| r.dyn_into::<IdbDatabase>().ok())
        {
            let _ = database.create_object_store(STORE);
        }
        JsValue::UNDEFINED
    });
    request.set_onupgradeneeded(Some(upgrade.as_ref().unchecked_ref()));
    let opened = wait(settled(&request, "success"), Some(OPEN_TIMEOUT_MS)).await;
    request.set_onupgradeneeded(None);
    opened?;
    request.result().ok()?.dyn_into().ok()
}

/// `navigator[name]`, if the browser has it (Web Locks and service
/// workers exist only in secure contexts: HTTPS, or a local address).
fn navigator_member(name: &str) -> Option<JsValue> {
    let navigator = web_sys::window()?.navigator();
    js_sys::Reflect::get(&navigator, &name.into())
        .ok()
        .filter(JsValue::is_object)
}

/// Calls `target.name(args…)`.
fn call(target: &JsValue, name: &str, args: &js_sys::Array) -> Option<JsValue> {
    let method: js_sys::Function = js_sys::Reflect::get(target, &name.into())
        .ok()?
        .dyn_into()
        .ok()?;
    method.apply(target, args).ok()
}

/// Lets the service worker (`public/sw.js`) keep the page and the site's
/// files, so that they load without a network after one visit.
pub fn install_service_worker() {
    if let Some(workers) = navigator_member("serviceWorker") {
        let registering = call(&workers, "register", &js_sys::Array::of1(&"/sw.js".into()));
        // A refusal (a browser set to allow none) leaves the page as it is.
        let ignore = Callback::new(|_| JsValue::UNDEFINED);
        if let Some(registering) = registering {
            call(&registering, "catch", &js_sys::Array::of1(ignore.as_ref()));
        }
        ignore.forget();
    }
}

/// The names of the Web Locks some tab of this site holds.
async fn held_locks(locks: &JsValue) -> Vec<String> {
    let Some(query) = call(locks, "query", &js_sys::Array::new()) else {
        return Vec::new();
    };
    let Some(state) = wait(js_sys::Promise::from(query), None).await else {
        return Vec::new();
    };
    let held = js_sys::Reflect::get(&state, &"held".into()).unwrap_or_default();
    js_sys::Array::from(&held)
        .iter()
        .filter_map(|lock| {
            js_sys::Reflect::get(&lock, &"name".into())
                .ok()?
                .as_string()
        })
        .collect()
}

/// Holds the Web Lock `name` for as long as the page lives, from when no
/// other tab holds it; the promise resolves (to `true`) once it is held.
fn hold(locks: &JsValue, name: &str) -> js_sys::Promise {
    let mut granted = None;
    let held = js_sys::Promise::new(&mut |resolve, _| granted = Some(resolve));
    let forever = Callback::new(move |_| {
        if let Some(granted) = &granted {
            let _ = granted.call1(&JsValue::NULL, &JsValue::TRUE);
        }
        js_sys::Promise::new(&mut |_, _| {}).into()
    });
    call(
        locks,
        "request",
        &js_sys::Array::of2(&name.into(), forever.as_ref()),
    );
    // The browser calls it once it grants the lock, maybe much later.
    forever.forget();
    held
}

/// A pending list's text as kept, stamped with the time now.
fn stamped(text: &str) -> String {
    kept::stamped(text, js_sys::Date::now() as u64)
}

/// Whether this page is the tab's earlier one reloaded.
fn reloaded() -> bool {
    web_sys::window()
        .and_then(|window| window.performance())
        .map(|performance| performance.get_entries_by_type("navigation").get(0))
        .and_then(|entry| js_sys::Reflect::get(&entry, &"type".into()).ok())
        .and_then(|kind| kind.as_string())
        .is_some_and(|kind| kind == "reload")
}

/// Tells the engine what the page and the browser say: the page is
/// hidden (which comes before it goes away, too), the network is gone or
/// back (`socket`).
pub(super) fn watch_page(engine: &EngineHandle) {
    let engine = engine.clone();
    let listener = Callback::new(move |event: JsValue| {
        let kind = js_sys::Reflect::get(&event, &"type".into())
            .ok()
            .and_then(|t| t.as_string());
        let hidden = || {
            web_sys::window()
                .and_then(|w| w.document())
                .is_some_and(|d| d.hidden())
        };
        match kind.as_deref() {
            Some("offline") => engine.went_offline(),
            Some("online") => engine.came_online(),
            Some(_) if hidden() => {
                engine.with(|e| e.on_hidden());
            }
            _ => {}
        }
        JsValue::UNDEFINED
    });
    if let Some(window) = web_sys::window() {
        let listener: &js_sys::Function = listener.as_ref().unchecked_ref();
        let _ = window.add_event_listener_with_callback("offline", listener);
        let _ = window.add_event_listener_with_callback("online", listener);
        if let Some(document) = window.document() {
            let _ = document.add_event_listener_with_callback("visibilitychange", listener);
        }
    }
    // Listens as long as the page lives.
    listener.forget();
}

fn user_lock(user: &UserId) -> String {
    format!("whiteboard.user.{}", user.as_str())
}

/// The key a board's link is kept under.
fn link_key(link: &BoardLink) -> String {
    match link {
        BoardLink::Edit(board) => board.as_str().to_owned(),
        BoardLink::View(token) => format!("v/{token}"),
    }
}

/// Takes up what was kept of the engine's board and gives the engine its
/// keeper. Returns once that is done, or after [`OPEN_TIMEOUT_MS`] without
/// a database (the page then keeps nothing).
pub(super) async fn resume(engine: &EngineHandle) {
    let Some(database) = open_database().await else {
        return;
    };
    let Some((link, mut user)) = engine.with(|e| (link_key(&e.link), e.replica.user().clone()))
    else {
        return;
    };
    let locks = navigator_member("locks");
    let mut held = Vec::new();
    if let Some(locks) = &locks {
        // Not granted soon: a tab duplicated with its session storage,
        // whose original is this user.
        let patience = if reloaded() {
            RELOAD_LOCK_WAIT_MS
        } else {
            LOCK_WAIT_MS
        };
        if wait(hold(locks, &user_lock(&user)), Some(patience))
            .await
            .is_none()
        {
            user = storage::new_user_id();
            storage::set_user_id(&user);
            let _ = hold(locks, &user_lock(&user));
        }
        held = held_locks(locks).await;
    }
    let mut keeper = Keeper {
        database,
        board_key: format!("{link}/board"),
        pending_key: String::new(),
    };
    let stored = keeper.read_all(&link).await;
    let pending_prefix = format!("{link}/pending/");
    let list_of = |user: &UserId| format!("{pending_prefix}{}", user.as_str());
    let value = |key: &str| {
        stored
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    };
    // Each tab's pending list: the newer of IndexedDB's and the copy made
    // when a page was hidden.
    let lists: Vec<(String, String)> = stored
        .iter()
        .filter(|(key, _)| key.starts_with(&pending_prefix))
        .filter_map(|(key, value)| Some((key.clone(), value.as_string()?)))
        .collect();
    let copies = storage::local_items_under(&[BACKUP_PREFIX, &pending_prefix].concat())
        .into_iter()
        .map(|(key, copy)| (key[BACKUP_PREFIX.len()..].to_owned(), copy))
        .collect();
    let lists = kept::newest(lists, copies);
    let list = |key: &str| lists.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
    if list(&list_of(&user)).is_none() && locks.is_some() {
        // None of its own: take up the list of a tab that closed, if any.
        let left = lists
            .iter()
            .filter_map(|(key, _)| UserId::parse(key.strip_prefix(&pending_prefix)?).ok())
            .find(|left| !held.contains(&user_lock(left)));
        if let (Some(left), Some(locks)) = (left, &locks) {
            let _ = hold(locks, &user_lock(&left));
            user = left;
            storage::set_user_id(&user);
        }
    }
    keeper.pending_key = list_of(&user);
    let board = value(&keeper.board_key)
        .and_then(|value| value.dyn_into::<js_sys::Uint8Array>().ok())
        .map(|bytes| bytes.to_vec());
    let pending = list(&keeper.pending_key);
    let pending = pending
        .as_deref()
        .and_then(kept::unstamped)
        .map(|(_, text)| text);
    let keeper = Rc::new(keeper);
    engine.with(|e| e.resume(Rc::clone(&keeper), user, board.as_deref(), pending));
    let mut recent: Vec<String> = storage::recent_boards().into_iter().map(|b| b.id).collect();
    recent.push(link);
    wasm_bindgen_futures::spawn_local(async move { keeper.forget_boards_but(&recent).await });
}
