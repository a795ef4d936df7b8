//! Stroke storm: the live-path load generator.
//!
//! `R` boards × `U` users, of whom the first `D` on each board draw: every
//! drawer sends a `preview` of 4 points every 16 ms, commits the stroke with
//! `add_stroke` after 60 previews and starts the next one. Everyone else on the
//! board must receive every preview. Users are spread round-robin over the
//! instance addresses given (`--addr` repeated, or one load balancer).
//!
//! What it reports, from one run:
//! - **loss**: previews a receiver should have had (everything its board's
//!   other drawers sent) but did not get by the end of the settle time,
//!   counted per (sender, receiver) pair, so a client that was dropped counts
//!   everything it missed;
//! - **preview latency** (p50/p99/max) from a send time the generator embeds
//!   in each preview's points (`[sender, counter]`, `[ms, µs]`), measured on
//!   the receiving side against the same clock (one process);
//! - **ack latency** from a send time embedded in each `op_id`, and how many
//!   commits were never acknowledged;
//! - deliveries per second against what the workload implies, connections the
//!   server closed, and, given `--server-pid`, the server's CPU share during
//!   the send window and its resident memory before connecting, after
//!   connecting and at the end (memory per connection).
//!
//! ```sh
//! ulimit -n 100000
//! target/release/whiteboard --addr 127.0.0.1:18080 --data-dir "$(mktemp -d)" --log warn &
//! cargo build --release --features ssr --example storm
//! target/release/examples/storm --addr 127.0.0.1:18080 --boards 1 --users 100 \
//!     --seconds 10 --server-pid $!
//! ```
//!
//! Only ever connects to the addresses it is given (use loopback); the send
//! window and the settle time are fixed, so it always stops by itself.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use futures::stream::{SplitSink, SplitStream};
use futures::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use tokio::net::TcpStream;
use tokio::sync::{watch, Semaphore};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use whiteboard::protocol::{
    limits, ClientMessage, Color, OpId, Point, ServerMessage, Stroke, StrokeId, StrokeStyle,
    UserId, PROTOCOL_VERSION,
};

#[derive(Parser, Debug)]
struct Args {
    /// Server address (host:port); repeat for several instances.
    #[arg(long = "addr", default_value = "127.0.0.1:8000")]
    addrs: Vec<String>,
    /// Boards.
    #[arg(long, default_value_t = 1)]
    boards: usize,
    /// Users per board.
    #[arg(long, default_value_t = 20)]
    users: usize,
    /// Drawers per board (the first ones); the rest only watch. Defaults to all.
    #[arg(long)]
    drawers: Option<usize>,
    /// Length of the send window.
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// How long receivers keep listening after the window.
    #[arg(long, default_value_t = 2.0)]
    settle: f64,
    /// Milliseconds between two previews of one drawer.
    #[arg(long, default_value_t = 16)]
    interval_ms: u64,
    /// Previews per stroke before it is committed.
    #[arg(long, default_value_t = 60)]
    previews_per_stroke: u32,
    /// Commit strokes with `add_stroke` (off: previews only).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    commit: bool,
    /// Connections opened at once while ramping up.
    #[arg(long, default_value_t = 200)]
    connect_concurrency: usize,
    /// Server process ids, for CPU and memory figures.
    #[arg(long = "server-pid")]
    server_pids: Vec<u32>,
    /// Strokes put on each board before anyone joins (freehand, 20 points
    /// each): a big board's welcomes and periodic snapshots.
    #[arg(long, default_value_t = 0)]
    board_strokes: usize,
    /// Label for the markdown row printed at the end.
    #[arg(long, default_value = "")]
    label: String,
    /// Fail (exit status 1) on any loss, any drawer that could not send,
    /// any connection the server closed, or acknowledgements outstanding
    /// beyond the commits of the last second: the CI smoke.
    #[arg(long)]
    strict: bool,
}

/// Points sent per preview: `[sender, counter]`, `[ms, µs]`, and two more.
const POINTS_PER_PREVIEW: usize = 4;

type Sink = SplitSink<WebSocketStream<MaybeTlsStream<TcpStream>>, Message>;
type Source = SplitStream<WebSocketStream<MaybeTlsStream<TcpStream>>>;

/// Microseconds since the generator started: the clock embedded in frames.
fn now_us(epoch: Instant) -> u64 {
    epoch.elapsed().as_micros() as u64
}

/// What one connection observed.
#[derive(Default)]
struct Received {
    /// Previews received from each sender (by global user index).
    previews_from: HashMap<u32, u32>,
    preview_latency: Option<Histogram<u64>>,
    ack_latency: Option<Histogram<u64>>,
    acks: u64,
    ops: u64,
    other_frames: u64,
    /// Close code if the server closed the connection.
    closed_by_server: Option<u16>,
}

fn histogram() -> Histogram<u64> {
    // Microseconds, up to 10 minutes, two significant digits.
    Histogram::new_with_bounds(1, 600_000_000, 2).expect("valid histogram bounds")
}

/// Pulls the integer part of the first number in `text` at or after `from`
/// and returns it with where the number (fraction included) ended. Frames are
/// the server's own JSON with whole numbers in the stamped points, so a tiny
/// scanner does; it runs for every received frame, so it avoids float
/// parsing (a tenth of the generator's CPU at 600,000 frames a second).
fn number_at(text: &str, from: usize) -> Option<(u64, usize)> {
    let bytes = text.as_bytes();
    let start = from + bytes.get(from..)?.iter().position(u8::is_ascii_digit)?;
    let mut value = 0u64;
    let mut end = start;
    while let Some(digit) = bytes.get(end).filter(|b| b.is_ascii_digit()) {
        value = value
            .checked_mul(10)?
            .checked_add(u64::from(digit - b'0'))?;
        end += 1;
    }
    while bytes
        .get(end)
        .is_some_and(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'))
    {
        end += 1;
    }
    Some((value, end))
}

/// `(sender, counter, sent_us)` embedded in a relayed preview.
fn preview_stamp(frame: &str) -> Option<(u32, u32, u64)> {
    const POINTS: &str = "\"points\":[[";
    let points = frame.find(POINTS)? + POINTS.len();
    let (sender, end) = number_at(frame, points)?;
    let (counter, end) = number_at(frame, end)?;
    let (_pressure, end) = number_at(frame, end)?;
    let (ms, end) = number_at(frame, end)?;
    let (us, _) = number_at(frame, end)?;
    Some((
        u32::try_from(sender).ok()?,
        u32::try_from(counter).ok()?,
        ms * 1000 + us,
    ))
}

/// The send time embedded in an acknowledged `op_id` (`c{user}-{n}-{us}`).
fn ack_stamp(op_id: &OpId) -> Option<u64> {
    op_id.as_str().rsplit('-').next()?.parse().ok()
}

async fn connect(addr: &str, board: &str, user: u32) -> Result<(Sink, Source), String> {
    let url = format!("ws://{addr}/ws/{board}");
    // tungstenite zero-fills its read buffer before every read; the default
    // 128 KiB made that a quarter of the generator's CPU (the server had the
    // same problem, see READ_BUFFER_BYTES in src/server/http.rs).
    let config = WebSocketConfig::default().read_buffer_size(8 * 1024);
    let (ws, _) = tokio_tungstenite::connect_async_with_config(url, Some(config), true)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let (mut sink, mut source) = ws.split();
    let hello = ClientMessage::Hello {
        protocol: PROTOCOL_VERSION,
        user: UserId::parse(&format!("u{user}")).map_err(|e| e.to_string())?,
        last_seq: None,
        name: None,
        view: None,
        key: None,
    };
    sink.send(Message::Text(hello.encode().into()))
        .await
        .map_err(|e| e.to_string())?;
    // Wait for the welcome, so that the window starts with everyone present.
    loop {
        match tokio::time::timeout(Duration::from_secs(60), source.next()).await {
            Ok(Some(Ok(Message::Text(text)))) if text.starts_with("{\"type\":\"welcome\"") => {
                return Ok((sink, source))
            }
            Ok(Some(Ok(_))) => {}
            _ => return Err("no welcome".into()),
        }
    }
}

/// Fills a board with `count` freehand strokes of 20 points, in
/// `add_strokes` batches with at most 16 unacknowledged.
async fn seed_board(addr: &str, board: &str, count: usize) -> Result<(), String> {
    let (mut sink, mut source) = connect(addr, board, u32::MAX).await?;
    let style = StrokeStyle {
        color: Color::parse("#1e1e1e").map_err(|e| e.to_string())?,
        width: 2.0,
    };
    let strokes = (0..count)
        .map(|i| {
            let (x, y) = ((i % 400) as f32 * 6.0, (i / 400) as f32 * 6.0);
            let points = (0..20)
                .map(|p| Point::new(x + p as f32 * 1.5, y + (p % 3) as f32, 0.5))
                .collect();
            StrokeId::parse(&format!("seed{i}"))
                .map(|id| Stroke::freehand(id, style.clone(), points))
                .map_err(|e| e.to_string())
        })
        .collect::<Result<Vec<_>, _>>()?;
    let batches = limits::batches(strokes);
    let (total, mut next, mut acked) = (batches.len(), 0, 0);
    let mut batches = batches.into_iter();
    while acked < total {
        while next < total && next - acked < 16 {
            let message = ClientMessage::AddStrokes {
                op_id: OpId::parse(&format!("seed{next}")).map_err(|e| e.to_string())?,
                strokes: batches.next().unwrap_or_default(),
            };
            sink.send(Message::Text(message.encode().into()))
                .await
                .map_err(|e| e.to_string())?;
            next += 1;
        }
        match source.next().await {
            Some(Ok(Message::Text(text))) if text.starts_with("{\"type\":\"ack\"") => acked += 1,
            Some(Ok(Message::Text(text))) if text.starts_with("{\"type\":\"error\"") => {
                return Err(format!("seeding refused: {text}"))
            }
            Some(Ok(_)) => {}
            _ => return Err("the seeding connection closed".into()),
        }
    }
    sink.close().await.map_err(|e| e.to_string())
}

/// Reads one connection until the settle time is over.
async fn receive(mut source: Source, epoch: Instant, stop: watch::Receiver<bool>) -> Received {
    let mut received = Received {
        preview_latency: Some(histogram()),
        ack_latency: Some(histogram()),
        ..Received::default()
    };
    let mut stop = stop;
    // One stop future for the whole loop, not one per frame.
    let stopped = stop.wait_for(|stopped| *stopped);
    tokio::pin!(stopped);
    loop {
        let frame = tokio::select! {
            biased;
            frame = source.next() => frame,
            _ = &mut stopped => break,
        };
        let text = match frame {
            Some(Ok(Message::Text(text))) => text,
            Some(Ok(Message::Close(close))) => {
                received.closed_by_server = Some(close.map_or(1005, |c| c.code.into()));
                break;
            }
            Some(Ok(_)) => continue,
            Some(Err(_)) | None => {
                received.closed_by_server.get_or_insert(1006);
                break;
            }
        };
        let text = text.as_str();
        if text.starts_with("{\"type\":\"preview\"") {
            if let Some((sender, _counter, sent)) = preview_stamp(text) {
                *received.previews_from.entry(sender).or_default() += 1;
                if let Some(h) = received.preview_latency.as_mut() {
                    h.saturating_record(now_us(epoch).saturating_sub(sent).max(1));
                }
            }
        } else if text.starts_with("{\"type\":\"ack\"") {
            received.acks += 1;
            if let Ok(ServerMessage::Ack { op_id, .. }) = ServerMessage::decode(text) {
                if let (Some(sent), Some(h)) = (ack_stamp(&op_id), received.ack_latency.as_mut()) {
                    h.saturating_record(now_us(epoch).saturating_sub(sent).max(1));
                }
            }
        } else if text.starts_with("{\"type\":\"op\"") {
            received.ops += 1;
        } else {
            received.other_frames += 1;
        }
    }
    received
}

/// What one drawer sent.
struct Sent {
    user: u32,
    board: usize,
    previews: u32,
    commits: u64,
    /// Commits sent in the last second of the window (may still be in flight).
    late_commits: u64,
    /// Why sending stopped early, if it did.
    error: Option<String>,
}

/// Sends previews and commits until `until` (or until the socket fails).
async fn draw(
    sink: Sink,
    args: Arc<Args>,
    user: u32,
    board: usize,
    epoch: Instant,
    start: Instant,
    until: Instant,
) -> Sent {
    let mut sent = Sent {
        user,
        board,
        previews: 0,
        commits: 0,
        late_commits: 0,
        error: None,
    };
    if let Err(error) = draw_into(&mut sent, sink, args, epoch, start, until).await {
        sent.error = Some(error);
    }
    sent
}

async fn draw_into(
    sent: &mut Sent,
    mut sink: Sink,
    args: Arc<Args>,
    epoch: Instant,
    start: Instant,
    until: Instant,
) -> Result<(), String> {
    let user = sent.user;
    let style = StrokeStyle {
        color: Color::parse("#1971c2").map_err(|e| e.to_string())?,
        width: 3.0,
    };
    // Drawers start spread over one interval, as people do.
    let interval = Duration::from_millis(args.interval_ms);
    let phase =
        Duration::from_micros(u64::from(user).wrapping_mul(7919) % interval.as_micros() as u64);
    let mut ticker = tokio::time::interval_at((start + phase).into(), interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut stroke_points: Vec<Point> = Vec::new();
    let mut stroke_number = 0u64;
    let mut previews_in_stroke = 0;
    loop {
        ticker.tick().await;
        if Instant::now() >= until {
            break;
        }
        let stroke =
            StrokeId::parse(&format!("s{user}-{stroke_number}")).map_err(|e| e.to_string())?;
        let sent_us = now_us(epoch);
        let x = (previews_in_stroke * 4) as f32;
        let points = vec![
            Point::new(user as f32, sent.previews as f32, 0.5),
            Point::new((sent_us / 1000) as f32, (sent_us % 1000) as f32, 0.5),
            Point::new(x, 100.0, 0.5),
            Point::new(x + 2.0, 102.0, 0.5),
        ];
        debug_assert_eq!(points.len(), POINTS_PER_PREVIEW);
        stroke_points.extend_from_slice(&points[2..]);
        let preview = ClientMessage::Preview {
            stroke: stroke.clone(),
            style: style.clone(),
            points,
        };
        sink.send(Message::Text(preview.encode().into()))
            .await
            .map_err(|e| e.to_string())?;
        sent.previews += 1;
        previews_in_stroke += 1;
        if previews_in_stroke == args.previews_per_stroke {
            if args.commit {
                let sent_us = now_us(epoch);
                let op_id = OpId::parse(&format!("c{user}-{stroke_number}-{sent_us}"))
                    .map_err(|e| e.to_string())?;
                let commit = ClientMessage::AddStroke {
                    op_id,
                    stroke: Stroke::freehand(
                        stroke,
                        style.clone(),
                        std::mem::take(&mut stroke_points),
                    ),
                };
                sink.send(Message::Text(commit.encode().into()))
                    .await
                    .map_err(|e| e.to_string())?;
                sent.commits += 1;
                if until.saturating_duration_since(Instant::now()) < Duration::from_secs(1) {
                    sent.late_commits += 1;
                }
            }
            stroke_points.clear();
            stroke_number += 1;
            previews_in_stroke = 0;
        }
    }
    // Dropping the sending half leaves the connection open: the receiving
    // half owns it through the settle time.
    Ok(())
}

/// `(utime + stime)` clock ticks and resident bytes of a process.
fn process_usage(pid: u32) -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may contain spaces) start at ')'.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss_kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    Some((ticks, rss_kb * 1024))
}

fn total_usage(pids: &[u32]) -> (u64, u64) {
    pids.iter()
        .filter_map(|&pid| process_usage(pid))
        .fold((0, 0), |(t, r), (ticks, rss)| (t + ticks, r + rss))
}

/// `(name, ticks)` of each process, for the CPU breakdown.
fn per_process_ticks(pids: &[u32]) -> Vec<(String, u64)> {
    pids.iter()
        .map(|&pid| {
            let name = std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .map(|n| n.trim().to_owned())
                .unwrap_or_default();
            (
                format!("{name}[{pid}]"),
                process_usage(pid).map_or(0, |u| u.0),
            )
        })
        .collect()
}

fn clock_ticks_per_second() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

fn main() -> Result<(), String> {
    // Tens of thousands of sockets need more descriptors than the default.
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?
        .block_on(run(Arc::new(Args::parse())))
}

async fn run(args: Arc<Args>) -> Result<(), String> {
    let epoch = Instant::now();
    let drawers = args.drawers.unwrap_or(args.users).min(args.users);
    let run_id = std::process::id();
    let (_, rss_before) = total_usage(&args.server_pids);

    if args.board_strokes > 0 {
        let seeded = Instant::now();
        for board in 0..args.boards {
            let board_id = format!("storm-{run_id}-board-{board:05}");
            seed_board(&args.addrs[0], &board_id, args.board_strokes).await?;
        }
        println!(
            "seeded {} board(s) with {} strokes each in {:.1} s",
            args.boards,
            args.board_strokes,
            seeded.elapsed().as_secs_f64()
        );
    }

    // Ramp up: everyone connects and is welcomed before the window opens.
    let gate = Arc::new(Semaphore::new(args.connect_concurrency.max(1)));
    let mut connecting = Vec::new();
    for board in 0..args.boards {
        let board_id = format!("storm-{run_id}-board-{board:05}");
        for slot in 0..args.users {
            let user = (board * args.users + slot) as u32;
            let addr = args.addrs[user as usize % args.addrs.len()].clone();
            let gate = Arc::clone(&gate);
            let board_id = board_id.clone();
            connecting.push(tokio::spawn(async move {
                let _permit = gate.acquire().await;
                connect(&addr, &board_id, user).await
            }));
        }
    }
    let mut connections = Vec::with_capacity(connecting.len());
    for task in connecting {
        connections.push(task.await.map_err(|e| e.to_string())??);
    }
    let connected_at = epoch.elapsed();
    // Let the presence updates of the ramp drain before measuring.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (_, rss_connected) = total_usage(&args.server_pids);

    let (stop_tx, stop_rx) = watch::channel(false);
    let start = Instant::now() + Duration::from_millis(200);
    let until = start + Duration::from_secs_f64(args.seconds);
    let mut receivers = Vec::new();
    let mut senders = Vec::new();
    for (index, (sink, source)) in connections.into_iter().enumerate() {
        let board = index / args.users;
        let slot = index % args.users;
        receivers.push((
            index as u32,
            board,
            tokio::spawn(receive(source, epoch, stop_rx.clone())),
        ));
        // Watchers drop their sending half; the connection stays open.
        if slot < drawers {
            senders.push(tokio::spawn(draw(
                sink,
                Arc::clone(&args),
                index as u32,
                board,
                epoch,
                start,
                until,
            )));
        }
    }

    tokio::time::sleep_until(start.into()).await;
    let per_process_start = per_process_ticks(&args.server_pids);
    let own_start = process_usage(std::process::id()).map_or(0, |u| u.0);
    tokio::time::sleep_until(until.into()).await;
    let per_process_end = per_process_ticks(&args.server_pids);
    let own_end = process_usage(std::process::id()).map_or(0, |u| u.0);

    let mut sent = Vec::new();
    let mut send_failures: HashMap<String, usize> = HashMap::new();
    for task in senders {
        let s = task.await.map_err(|e| e.to_string())?;
        if let Some(error) = &s.error {
            *send_failures.entry(error.clone()).or_default() += 1;
        }
        sent.push(s);
    }
    tokio::time::sleep(Duration::from_secs_f64(args.settle)).await;
    let (_, rss_end) = total_usage(&args.server_pids);
    let _ = stop_tx.send(true);

    // Expected per receiver: every preview of every other drawer on its board.
    let mut by_board: HashMap<usize, Vec<&Sent>> = HashMap::new();
    for s in &sent {
        by_board.entry(s.board).or_default().push(s);
    }
    let mut expected = 0u64;
    let mut delivered = 0u64;
    let mut lost_pairs = 0u64;
    let mut pairs = 0u64;
    let mut preview_latency = histogram();
    let mut ack_latency = histogram();
    let mut acks = 0u64;
    let mut ops = 0u64;
    let mut closed: HashMap<u16, u64> = HashMap::new();
    for (user, board, task) in receivers {
        let received = task.await.map_err(|e| e.to_string())?;
        for s in by_board.get(&board).into_iter().flatten() {
            if s.user == user {
                continue;
            }
            let got = received.previews_from.get(&s.user).copied().unwrap_or(0);
            expected += u64::from(s.previews);
            delivered += u64::from(got.min(s.previews));
            pairs += 1;
            if got < s.previews {
                lost_pairs += 1;
            }
        }
        if let Some(h) = &received.preview_latency {
            preview_latency.add(h).map_err(|e| e.to_string())?;
        }
        if let Some(h) = &received.ack_latency {
            ack_latency.add(h).map_err(|e| e.to_string())?;
        }
        acks += received.acks;
        ops += received.ops;
        if let Some(code) = received.closed_by_server {
            *closed.entry(code).or_default() += 1;
        }
    }

    let previews: u64 = sent.iter().map(|s| u64::from(s.previews)).sum();
    let commits: u64 = sent.iter().map(|s| s.commits).sum();
    let late: u64 = sent.iter().map(|s| s.late_commits).sum();
    let loss = if expected == 0 {
        0.0
    } else {
        100.0 * (expected - delivered) as f64 / expected as f64
    };
    let window = args.seconds;
    let ticks = clock_ticks_per_second();
    let total_ticks =
        |per_process: &[(String, u64)]| per_process.iter().map(|(_, t)| t).sum::<u64>();
    let cpu = 100.0
        * total_ticks(&per_process_end).saturating_sub(total_ticks(&per_process_start)) as f64
        / ticks
        / window;
    let own_cpu = 100.0 * own_end.saturating_sub(own_start) as f64 / ticks / window;
    let users = args.boards * args.users;
    println!(
        "shape {} boards × {} users ({} drawing each), {} instance address(es), window {:.1} s, settle {:.1} s",
        args.boards,
        args.users,
        drawers,
        args.addrs.len(),
        window,
        args.settle
    );
    println!("connected {users} in {:.2} s", connected_at.as_secs_f64());
    println!(
        "previews sent {previews} ({:.0}/s); deliveries expected {expected}, received {delivered} ({:.0}/s of {:.0}/s)",
        previews as f64 / window,
        delivered as f64 / window,
        expected as f64 / window
    );
    println!(
        "loss {loss:.2} % ({lost_pairs} of {pairs} sender→receiver pairs short); drawers that failed to send: {send_failures:?}"
    );
    println!(
        "preview latency p50 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms, max {:.2} ms",
        ms(preview_latency.value_at_quantile(0.5)),
        ms(preview_latency.value_at_quantile(0.99)),
        ms(preview_latency.value_at_quantile(0.999)),
        ms(preview_latency.max())
    );
    println!(
        "commits {commits}, acked {acks} ({} outstanding, {late} sent in the last second); ack p50 {:.2} ms, p99 {:.2} ms; ops received {ops}",
        commits.saturating_sub(acks),
        ms(ack_latency.value_at_quantile(0.5)),
        ms(ack_latency.value_at_quantile(0.99)),
    );
    let mut closed: Vec<_> = closed.into_iter().collect();
    closed.sort_unstable();
    println!("connections closed by the server: {closed:?}");
    if !args.server_pids.is_empty() {
        let per_conn = rss_connected.saturating_sub(rss_before) as f64 / users.max(1) as f64;
        println!(
            "server CPU {cpu:.0} % (of one core) during the window; RSS {:.1} MB before, {:.1} MB connected ({:.1} KB per connection), {:.1} MB at the end",
            rss_before as f64 / 1e6,
            rss_connected as f64 / 1e6,
            per_conn / 1e3,
            rss_end as f64 / 1e6
        );
    }
    if args.server_pids.len() > 1 {
        let shares: Vec<String> = per_process_start
            .iter()
            .zip(&per_process_end)
            .map(|((name, start), (_, end))| {
                format!(
                    "{name} {:.0} %",
                    100.0 * end.saturating_sub(*start) as f64 / ticks / window
                )
            })
            .collect();
        println!("server CPU by process: {}", shares.join(", "));
    }
    println!("generator CPU {own_cpu:.0} % during the window");
    println!(
        "| {} | {} × {} ({} drawing) | {loss:.2} % | {:.2} / {:.2} ms | {:.2} / {:.2} ms | {} | {cpu:.0} % |",
        args.label,
        args.boards,
        args.users,
        drawers,
        ms(preview_latency.value_at_quantile(0.5)),
        ms(preview_latency.value_at_quantile(0.99)),
        ms(ack_latency.value_at_quantile(0.5)),
        ms(ack_latency.value_at_quantile(0.99)),
        commits.saturating_sub(acks),
    );
    if args.strict {
        let mut failures = Vec::new();
        if lost_pairs > 0 {
            failures.push(format!("{lost_pairs} sender→receiver pairs short"));
        }
        if !send_failures.is_empty() {
            failures.push(format!("drawers failed to send: {send_failures:?}"));
        }
        if !closed.is_empty() {
            failures.push(format!("connections closed by the server: {closed:?}"));
        }
        if commits.saturating_sub(acks) > late {
            failures.push(format!("{} commits never acknowledged", commits - acks));
        }
        if !failures.is_empty() {
            return Err(format!("strict: {}", failures.join("; ")));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The stamp survives the server's encoding of a relayed preview.
    #[test]
    fn preview_stamp_reads_what_draw_embeds() {
        let relayed = ServerMessage::Preview {
            author: UserId::parse("u7").expect("valid user"),
            stroke: StrokeId::parse("s7-0").expect("valid stroke"),
            color: Color::parse("#1971c2").expect("valid color"),
            width: 3.0,
            points: vec![
                Point::new(7.0, 41.0, 0.5),
                Point::new(123_456.0, 789.0, 0.5),
                Point::new(8.0, 100.0, 0.5),
            ],
        };
        assert_eq!(preview_stamp(&relayed.encode()), Some((7, 41, 123_456_789)));
        assert_eq!(preview_stamp("{\"type\":\"preview\"}"), None);
    }
}
