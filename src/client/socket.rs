//! The connection loop: connect, say hello, pump frames, reconnect with backoff.
//!
//! One task per board page. While connected, the engine holds the sending
//! side of an unbounded channel that a writer future drains into the
//! WebSocket; the reader feeds every frame to the engine. When either side
//! ends (server gone, network drop, or the engine dropping its sender after
//! detecting a gap) the loop waits and connects again; the engine's `hello`
//! then carries its last sequence number so the server sends only what it missed.
//! A close for a link that opens nothing (4403) ends the loop, unless this
//! tab rotated the link itself and has the new key (`EngineHandle::refused`).
//! The browser's word on the network counts too: `offline` ends the
//! connection at once (a socket on a dead network can take minutes to
//! notice), and `online` ends the wait before the next attempt.

use std::time::Duration;

use futures_util::{future, SinkExt, StreamExt};
use gloo_net::websocket::{futures::WebSocket, Message, WebSocketError};
use wasm_bindgen_futures::JsFuture;

use super::engine::EngineHandle;
use crate::protocol::close_code;

const FIRST_RETRY: Duration = Duration::from_millis(250);
const MAX_RETRY: Duration = Duration::from_secs(5);

/// A future that ends at the window's next `name` event; the listener
/// goes with it.
struct WindowEvent {
    name: &'static str,
    listener: Option<js_sys::Function>,
    happened: JsFuture,
}

fn window_event(name: &'static str) -> WindowEvent {
    let mut listener = None;
    let happened = js_sys::Promise::new(&mut |resolve, _| {
        if let Some(window) = web_sys::window() {
            let _ = window.add_event_listener_with_callback(name, &resolve);
            listener = Some(resolve);
        }
    });
    WindowEvent {
        name,
        listener,
        happened: JsFuture::from(happened),
    }
}

impl std::future::Future for WindowEvent {
    type Output = ();

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        std::pin::Pin::new(&mut self.happened).poll(cx).map(drop)
    }
}

impl Drop for WindowEvent {
    fn drop(&mut self) {
        if let (Some(window), Some(listener)) = (web_sys::window(), &self.listener) {
            let _ = window.remove_event_listener_with_callback(self.name, listener);
        }
    }
}

pub async fn run(engine: EngineHandle) {
    let mut retry = FIRST_RETRY;
    while !engine.is_stopped() {
        if let Ok(socket) = WebSocket::open(&engine.ws_url()) {
            let (mut write, mut read) = socket.split();
            let (sender, mut outgoing) = futures_channel::mpsc::unbounded::<String>();
            let mut refused = false;
            engine.attach(sender);
            let writer = async move {
                while let Some(text) = outgoing.next().await {
                    if write.send(Message::Text(text)).await.is_err() {
                        break;
                    }
                }
                let _ = write.close().await;
            };
            let reader = async {
                while let Some(frame) = read.next().await {
                    match frame {
                        Ok(Message::Text(text)) => engine.on_frame_text(&text),
                        Ok(Message::Bytes(bytes)) => engine.on_frame_binary(&bytes),
                        Err(WebSocketError::ConnectionClose(close))
                            if close.code == close_code::NO_ACCESS =>
                        {
                            refused = engine.refused();
                            break;
                        }
                        Err(_) => break,
                    }
                    if !engine.is_attached() {
                        break;
                    }
                }
            };
            let offline = window_event("offline");
            future::select(future::select(Box::pin(writer), Box::pin(reader)), offline).await;
            if refused {
                break; // The link opens nothing any more; the page says so.
            }
            if engine.was_welcomed() {
                retry = FIRST_RETRY;
            }
            engine.detach();
        } else {
            engine.detach();
        }
        if engine.is_stopped() {
            break;
        }
        future::select(gloo_timers::future::sleep(retry), window_event("online")).await;
        retry = (retry * 2).min(MAX_RETRY);
    }
}
