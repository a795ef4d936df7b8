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
//! The browser's word on the network counts too (`offline::watch_page`):
//! `offline` ends the connection at once (a socket on a dead network can
//! take minutes to notice), and `online` ends the wait before the next
//! attempt.

use std::time::Duration;

use futures_util::{future, SinkExt, StreamExt};
use gloo_net::websocket::{futures::WebSocket, Message, WebSocketError};

use super::engine::EngineHandle;
use crate::protocol::close_code;

const FIRST_RETRY: Duration = Duration::from_millis(250);
const MAX_RETRY: Duration = Duration::from_secs(5);

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
            future::select(Box::pin(writer), Box::pin(reader)).await;
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
        // Cut short when the browser says the network is back.
        let (wake, online) = futures_channel::oneshot::channel();
        engine.wake_on_online(wake);
        future::select(gloo_timers::future::sleep(retry), online).await;
        retry = (retry * 2).min(MAX_RETRY);
    }
}
