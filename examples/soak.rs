//! Soak: does the server give memory back once people have come and gone?
//!
//! Two phases against one running server, reading its resident memory
//! (`/proc/PID/status`) between them:
//! 1. **Boards:** `--boards` boards opened and closed one after another
//!    (`--concurrency` at a time): a person joins, draws one stroke, waits
//!    for its acknowledgement and leaves. The server must run with a short
//!    `--room-idle-secs` (1): the phase ends when `/healthz` says no board
//!    is open. Its baseline is the memory after `--warmup-boards` boards
//!    went the same way (allocator arenas and caches warmed up).
//! 2. **Tabs:** one board kept open by a watcher while `--tabs` tabs, each a
//!    different person, join it over time, send a few previews and a
//!    stroke, and leave. Baseline: after `--warmup-tabs` tabs.
//!
//! Memory is read after the server had a moment to settle; the figures are
//! the ratio to each baseline. The budgets must be lifted (one address, many
//! connections at full speed):
//!
//! ```sh
//! WHITEBOARD_CONNECTIONS_PER_ADDRESS=100000 target/release/whiteboard \
//!     --addr 127.0.0.1:18090 --data-dir "$(mktemp -d)" --room-idle-secs 1 --log warn &
//! target/release/examples/soak --addr 127.0.0.1:18090 --server-pid $!
//! ```

use std::io::{Read, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use futures::{SinkExt, StreamExt};
use tokio::sync::Semaphore;
use tokio_tungstenite::tungstenite::Message;
use whiteboard::protocol::{
    ClientMessage, Color, OpId, Point, Stroke, StrokeId, StrokeStyle, UserId, PROTOCOL_VERSION,
};

#[derive(Parser, Debug)]
struct Args {
    #[arg(long, default_value = "127.0.0.1:8000")]
    addr: String,
    #[arg(long)]
    server_pid: u32,
    #[arg(long, default_value_t = 10_000)]
    boards: usize,
    #[arg(long, default_value_t = 1_000)]
    warmup_boards: usize,
    #[arg(long, default_value_t = 2_000)]
    tabs: usize,
    #[arg(long, default_value_t = 200)]
    warmup_tabs: usize,
    /// Visits under way at once.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Previews each tab sends (distinct stroke ids) before its stroke.
    #[arg(long, default_value_t = 4)]
    previews: usize,
    /// Tabs only preview and leave, storing nothing: the board does not
    /// grow, so what memory grows by is not the board's.
    #[arg(long)]
    tabs_store_nothing: bool,
}

/// Resident bytes of a process.
fn resident(pid: u32) -> Result<u64, String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(|e| format!("server process {pid}: {e}"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.split_whitespace().next()?.parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .ok_or_else(|| "no VmRSS".into())
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// Open boards, from `/healthz`.
fn open_boards(addr: &str) -> Result<usize, String> {
    let mut stream = std::net::TcpStream::connect(addr).map_err(|e| e.to_string())?;
    write!(
        stream,
        "GET /healthz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| e.to_string())?;
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .map_err(|e| e.to_string())?;
    response
        .lines()
        .find_map(|line| line.strip_prefix("open boards: "))
        .and_then(|n| n.trim().parse().ok())
        .ok_or_else(|| format!("no board count in {response:?}"))
}

/// Waits until the server has no board open, then lets it settle.
async fn all_closed(addr: &str) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(120);
    while open_boards(addr)? > 0 {
        if Instant::now() > deadline {
            return Err("boards stayed open: is --room-idle-secs short?".into());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    Ok(())
}

fn stroke(id: &str, points: usize) -> Result<Stroke, String> {
    let style = StrokeStyle {
        color: Color::parse("#1e1e1e").map_err(|e| e.to_string())?,
        width: 2.0,
    };
    let points = (0..points)
        .map(|i| Point::new(i as f32 * 2.0, (i % 5) as f32, 0.5))
        .collect();
    Ok(Stroke::freehand(
        StrokeId::parse(id).map_err(|e| e.to_string())?,
        style,
        points,
    ))
}

/// One person's visit: join `board`, send `previews` previews and a stroke,
/// wait for its acknowledgement, leave.
async fn visit(
    addr: &str,
    board: &str,
    person: usize,
    previews: usize,
    store: bool,
) -> Result<(), String> {
    let url = format!("ws://{addr}/ws/{board}");
    let (ws, _) = tokio_tungstenite::connect_async(url)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let (mut sink, mut source) = ws.split();
    let mut messages = vec![ClientMessage::Hello {
        protocol: PROTOCOL_VERSION,
        user: UserId::parse(&format!("soak{person}")).map_err(|e| e.to_string())?,
        last_seq: None,
        name: Some(format!("Visitor {person}")),
        view: None,
        key: None,
    }];
    for preview in 0..previews {
        let drawn = stroke(&format!("p{person}-{preview}"), 8)?;
        messages.push(ClientMessage::Preview {
            stroke: drawn.id,
            style: drawn.style,
            points: drawn.points,
        });
    }
    // Something to acknowledge: a stroke, or an undo with nothing to undo
    // (refused, storing nothing).
    let op_id = OpId::parse(&format!("o{person}")).map_err(|e| e.to_string())?;
    messages.push(match store {
        true => ClientMessage::AddStroke {
            op_id,
            stroke: stroke(&format!("s{person}"), 30)?,
        },
        false => ClientMessage::Undo { op_id },
    });
    for message in messages {
        sink.send(Message::Text(message.encode().into()))
            .await
            .map_err(|e| e.to_string())?;
    }
    loop {
        match tokio::time::timeout(Duration::from_secs(30), source.next()).await {
            Ok(Some(Ok(Message::Text(text)))) if text.starts_with("{\"type\":\"ack\"") => break,
            Ok(Some(Ok(Message::Text(text)))) if text.starts_with("{\"type\":\"error\"") => {
                if store || !text.contains("\"rejected\"") {
                    return Err(format!("refused: {text}"));
                }
                break;
            }
            Ok(Some(Ok(_))) => {}
            _ => return Err("no acknowledgement".into()),
        }
    }
    sink.close().await.map_err(|e| e.to_string())
}

/// Runs `visits` visits, `concurrency` at a time; `board(i)` names the
/// board of the `i`-th (its person is `first + i`).
async fn visits(
    args: &Arc<Args>,
    first: usize,
    count: usize,
    board: impl Fn(usize) -> String,
    store: bool,
) -> Result<(), String> {
    let slots = Arc::new(Semaphore::new(args.concurrency));
    let mut running = Vec::with_capacity(count);
    for i in first..first + count {
        let permit = Arc::clone(&slots)
            .acquire_owned()
            .await
            .map_err(|e| e.to_string())?;
        let (args, board) = (Arc::clone(args), board(i));
        running.push(tokio::spawn(async move {
            let result = visit(&args.addr, &board, i, args.previews, store).await;
            drop(permit);
            result
        }));
    }
    for visit in running {
        visit.await.map_err(|e| e.to_string())??;
    }
    Ok(())
}

fn report(label: &str, baseline: u64, now: u64) {
    println!(
        "{label:<44} {:>8.1} MiB  ({:+.1} % of the baseline)",
        mib(now),
        (now as f64 / baseline as f64 - 1.0) * 100.0
    );
}

#[tokio::main]
async fn main() -> Result<(), String> {
    let args = Arc::new(Args::parse());
    let pid = args.server_pid;
    let board = |i: usize| format!("soak-board-{i:010}");
    println!(
        "server at start                              {:>8.1} MiB",
        mib(resident(pid)?)
    );

    let started = Instant::now();
    visits(&args, 0, args.warmup_boards, board, true).await?;
    all_closed(&args.addr).await?;
    let baseline = resident(pid)?;
    println!(
        "after {} boards opened and closed (baseline) {:>8.1} MiB",
        args.warmup_boards,
        mib(baseline)
    );
    visits(&args, args.warmup_boards, args.boards, board, true).await?;
    all_closed(&args.addr).await?;
    report(
        &format!("after {} more boards opened and closed", args.boards),
        baseline,
        resident(pid)?,
    );
    println!("  ({:.0} s)", started.elapsed().as_secs_f64());

    let started = Instant::now();
    let shared = "soak-tabs-board-000".to_owned();
    let url = format!("ws://{}/ws/{shared}", args.addr);
    let (mut watcher, _) = tokio_tungstenite::connect_async(url)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let hello = ClientMessage::Hello {
        protocol: PROTOCOL_VERSION,
        user: UserId::parse("watcher").map_err(|e| e.to_string())?,
        last_seq: None,
        name: None,
        view: None,
        key: None,
    };
    watcher
        .send(Message::Text(hello.encode().into()))
        .await
        .map_err(|e| e.to_string())?;
    // The watcher reads everything, as a person's tab would.
    let watching = tokio::spawn(async move { while let Some(Ok(_)) = watcher.next().await {} });
    let first = 1_000_000;
    let store = !args.tabs_store_nothing;
    visits(&args, first, args.warmup_tabs, |_| shared.clone(), store).await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let baseline = resident(pid)?;
    println!(
        "after {} tabs came and went (baseline)       {:>8.1} MiB",
        args.warmup_tabs,
        mib(baseline)
    );
    let more = args.tabs;
    visits(
        &args,
        first + args.warmup_tabs,
        more,
        |_| shared.clone(),
        store,
    )
    .await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    report(
        &format!("after {} more tabs (board still open)", args.tabs),
        baseline,
        resident(pid)?,
    );
    watching.abort();
    all_closed(&args.addr).await?;
    report("after the board closed", baseline, resident(pid)?);
    println!("  ({:.0} s)", started.elapsed().as_secs_f64());
    Ok(())
}
