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
/// How long startup waits for the lock of its user id: a reload waits
/// for its earlier page to let go of it; a duplicated tab never gets it.
const LOCK_WAIT_MS: i32 = 1_000;

/// A callback handed to the browser (one type for all of them here).
type Callback = Closure<dyn FnMut(JsValue) -> JsValue>;

/// A promise settled by `target`'s success and error events (an IndexedDB
/// request, or a transaction with `complete` for success).
fn settled(target: &web_sys::EventTarget, success: &str) -> js_sys::Promise {
    js_sys::Promise::new(&mut |resolve, reject| {
        let _ = target.add_event_listener_with_callback(success, &resolve);
        let _ = target.add_event_listener_with_callback("error", &reject);
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
            Some(Some(text)) => store.put_with_key(&text.into(), &pending_key).is_ok(),
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
    let Some((link, mut user)) = engine.with(|e| (link_key(&e.link), e.replica_user())) else {
        return;
    };
    let locks = navigator_member("locks");
    let mut held = Vec::new();
    if let Some(locks) = &locks {
        // Not granted soon: a tab duplicated with its session storage,
        // whose original is this user.
        if wait(hold(locks, &user_lock(&user)), Some(LOCK_WAIT_MS))
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
    let kept = keeper.read_all(&link).await;
    let pending_prefix = format!("{link}/pending/");
    let list_of = |user: &UserId| format!("{pending_prefix}{}", user.as_str());
    let value = |key: &str| kept.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
    if value(&list_of(&user)).is_none() && locks.is_some() {
        // None of its own: take up the list of a tab that closed, if any.
        let left = kept
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
    let pending = value(&keeper.pending_key).and_then(|value| value.as_string());
    engine.with(|e| e.resume(Rc::new(keeper), user, board.as_deref(), pending.as_deref()));
}
