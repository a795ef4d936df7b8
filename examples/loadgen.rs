//! Load generator: many WebSocket clients drawing on a running server.
//!
//! Each client joins a board, then commits strokes one after another, waiting
//! for each acknowledgement (closed loop), while receiving everybody else's
//! operations. It reports acknowledged operations per second, acknowledgement
//! latency percentiles, and how many operations clients received in total
//! (the fan-out the server delivered).
//!
//! ```sh
//! target/release/whiteboard --addr 127.0.0.1:8000 &
//! cargo run --release --features ssr --example loadgen -- --addr 127.0.0.1:8000 \
//!     --boards 4 --clients 8 --strokes 100
//! ```
//!
//! It only ever connects to the address it is given (use loopback), and stops
//! after the fixed number of strokes.

use std::time::{Duration, Instant};

use clap::Parser;
use futures::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;
use whiteboard::protocol::{
    ClientMessage, Color, OpId, Point, ServerMessage, Stroke, StrokeId, StrokeStyle, UserId,
    PROTOCOL_VERSION,
};

#[derive(Parser, Debug)]
struct Args {
    /// Server address (host:port).
    #[arg(long, default_value = "127.0.0.1:8000")]
    addr: String,
    /// Boards to spread the clients over.
    #[arg(long, default_value_t = 4)]
    boards: usize,
    /// Clients per board.
    #[arg(long, default_value_t = 8)]
    clients: usize,
    /// Strokes each client commits.
    #[arg(long, default_value_t = 100)]
    strokes: usize,
    /// Points per stroke.
    #[arg(long, default_value_t = 50)]
    points: usize,
}

struct ClientReport {
    latencies: Vec<Duration>,
    received_ops: usize,
}

async fn run_client(args: &Args, board: String, name: String) -> Result<ClientReport, String> {
    let url = format!("ws://{}/ws/{board}", args.addr);
    let (mut ws, _) = tokio_tungstenite::connect_async(url)
        .await
        .map_err(|e| e.to_string())?;
    let user = UserId::parse(&name).map_err(|e| e.to_string())?;
    let hello = ClientMessage::Hello {
        protocol: PROTOCOL_VERSION,
        user,
        last_seq: None,
        name: None,
        view: None,
        key: None,
    };
    ws.send(Message::Text(hello.encode().into()))
        .await
        .map_err(|e| e.to_string())?;
    let mut report = ClientReport {
        latencies: Vec::with_capacity(args.strokes),
        received_ops: 0,
    };
    for i in 0..args.strokes {
        let op_id = OpId::parse(&format!("{name}-{i}")).map_err(|e| e.to_string())?;
        let stroke = Stroke::freehand(
            StrokeId::parse(&format!("{name}-s{i}")).map_err(|e| e.to_string())?,
            StrokeStyle {
                color: Color::parse("#1971c2").map_err(|e| e.to_string())?,
                width: 3.0,
            },
            (0..args.points)
                .map(|p| Point::new(p as f32 * 3.0, i as f32 * 2.0, 0.5))
                .collect(),
        );
        let message = ClientMessage::AddStroke {
            op_id: op_id.clone(),
            stroke,
        };
        let sent = Instant::now();
        ws.send(Message::Text(message.encode().into()))
            .await
            .map_err(|e| e.to_string())?;
        loop {
            let frame = tokio::time::timeout(Duration::from_secs(30), ws.next())
                .await
                .map_err(|_| "no answer within 30 s".to_owned())?;
            let Some(Ok(Message::Text(text))) = frame else {
                match frame {
                    Some(Ok(_)) => continue,
                    _ => return Err("connection closed".into()),
                }
            };
            match ServerMessage::decode(text.as_str()).map_err(|e| e.to_string())? {
                ServerMessage::Op { .. } => report.received_ops += 1,
                ServerMessage::Ack { op_id: acked, .. } if acked == op_id => {
                    report.latencies.push(sent.elapsed());
                    break;
                }
                ServerMessage::Error { message, .. } => return Err(message),
                _ => {}
            }
        }
    }
    let _ = ws.close(None).await;
    Ok(report)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[index]
}

#[tokio::main]
async fn main() -> Result<(), String> {
    let args = std::sync::Arc::new(Args::parse());
    let run = std::process::id();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for b in 0..args.boards {
        let board = format!("loadgen-{run}-board-{b:04}");
        for c in 0..args.clients {
            let args = std::sync::Arc::clone(&args);
            let board = board.clone();
            tasks.push(tokio::spawn(async move {
                run_client(&args, board, format!("b{b}c{c}")).await
            }));
        }
    }
    let mut latencies = Vec::new();
    let mut received = 0;
    for task in tasks {
        let report = task.await.map_err(|e| e.to_string())??;
        latencies.extend(report.latencies);
        received += report.received_ops;
    }
    let elapsed = started.elapsed();
    latencies.sort_unstable();
    let acknowledged = latencies.len();
    println!(
        "clients {} ({} boards × {}), strokes {} of {} points",
        args.boards * args.clients,
        args.boards,
        args.clients,
        acknowledged,
        args.points
    );
    println!(
        "elapsed {:.2} s, {:.0} acknowledged ops/s, {:.0} ops/s delivered to clients",
        elapsed.as_secs_f64(),
        acknowledged as f64 / elapsed.as_secs_f64(),
        received as f64 / elapsed.as_secs_f64()
    );
    println!(
        "ack latency p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        percentile(&latencies, 0.50).as_secs_f64() * 1e3,
        percentile(&latencies, 0.95).as_secs_f64() * 1e3,
        percentile(&latencies, 0.99).as_secs_f64() * 1e3,
        percentile(&latencies, 1.0).as_secs_f64() * 1e3,
    );
    Ok(())
}
