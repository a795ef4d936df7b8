//! A raw WebSocket relay: the floor the stroke storm is measured against.
//!
//! `cargo run --release --example relay -- --addr 127.0.0.1:9000`, then
//! `scripts/storm.sh relay …` (or point `examples/storm.rs` at it).
//!
//! It does only what the generator needs and nothing a whiteboard must: it
//! answers `hello` with a bare `welcome` and forwards every other text frame,
//! unparsed, to everyone else on the same `/ws/{board}` path. No order, no
//! storage, no acknowledgements, no validation. Its writer is the server's
//! (drain everything queued, one flush; `TCP_NODELAY`; 8 KiB read buffer), so
//! the difference between the two in the same run is what the whiteboard's
//! own work costs: parsing, the room, storage. The issue that asked for the
//! storm measured a relay like this at 1 × 100 with 0.8 / 3.5 ms.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use clap::Parser;
use futures::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

#[derive(Parser, Debug)]
struct Args {
    #[arg(long, default_value = "127.0.0.1:9000")]
    addr: String,
}

/// Per board, each connection's queue.
type Boards = Arc<Mutex<HashMap<String, HashMap<u64, mpsc::UnboundedSender<Utf8Bytes>>>>>;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    let args = Args::parse();
    let listener = TcpListener::bind(&args.addr).await?;
    let boards = Boards::default();
    let mut next_id = 0u64;
    loop {
        let (socket, _) = listener.accept().await?;
        socket.set_nodelay(true)?;
        next_id += 1;
        tokio::spawn(serve(socket, next_id, Arc::clone(&boards)));
    }
}

async fn serve(socket: TcpStream, id: u64, boards: Boards) {
    let mut path = String::new();
    let config = WebSocketConfig::default().read_buffer_size(8 * 1024);
    // The callback's error type is tungstenite's, not ours.
    #[allow(clippy::result_large_err)]
    let accepted = tokio_tungstenite::accept_hdr_async_with_config(
        socket,
        |request: &Request, response: Response| {
            path = request.uri().path().to_owned();
            Ok(response)
        },
        Some(config),
    )
    .await;
    let Ok(ws) = accepted else { return };
    let (mut sink, mut source) = ws.split();
    let (queue, mut outbox) = mpsc::unbounded_channel::<Utf8Bytes>();
    let writer = tokio::spawn(async move {
        let mut batch = Vec::new();
        while outbox.recv_many(&mut batch, 1024).await > 0 {
            for frame in batch.drain(..) {
                if sink.feed(Message::Text(frame)).await.is_err() {
                    return;
                }
            }
            if sink.flush().await.is_err() {
                return;
            }
        }
    });
    while let Some(Ok(message)) = source.next().await {
        let Message::Text(text) = message else {
            continue;
        };
        if text.starts_with("{\"type\":\"hello\"") {
            let _ = queue.send(Utf8Bytes::from_static("{\"type\":\"welcome\"}"));
            boards
                .lock()
                .expect("relay lock")
                .entry(path.clone())
                .or_default()
                .insert(id, queue.clone());
            continue;
        }
        // Unbounded sends never wait, so they happen under the lock.
        if let Some(board) = boards.lock().expect("relay lock").get(&path) {
            for (_, peer) in board.iter().filter(|(peer, _)| **peer != id) {
                let _ = peer.send(text.clone());
            }
        }
    }
    if let Some(board) = boards.lock().expect("relay lock").get_mut(&path) {
        board.remove(&id);
    }
    writer.abort();
}
