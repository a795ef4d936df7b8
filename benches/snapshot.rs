//! What a big board's snapshot costs to encode, send and decode, in each
//! format: the server encodes one per board version (shared by every join),
//! the browser decodes one per open. Native figures, for comparing formats;
//! the browser benchmark (`scripts/bench-browser.sh`) measures the real
//! open in WebAssembly.
//!
//!     cargo bench --bench snapshot            # 1k, 10k, 100k strokes
//!     cargo bench --bench snapshot -- 100000  # one size
//!
//! Boards are seeded like the browser benchmark's: freehand strokes of 20
//! points at one decimal, widths 1–4, five colours, over 2,560 × 1,600.

use std::hint::black_box;
use std::time::{Duration, Instant};

use whiteboard::board::Board;
use whiteboard::geometry::Rect;
use whiteboard::protocol::{
    packed, BoardId, BoardSnapshot, Color, EncodedWelcome, Point, ServerMessage, SnapshotStroke,
    Stroke, StrokeId, StrokeStyle, UserId, PROTOCOL_VERSION,
};
use whiteboard::replica::{kept, Local, Replica, SnapshotProgress};

fn main() {
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|arg| arg.parse().ok())
        .collect();
    let sizes = if sizes.is_empty() {
        vec![1_000, 10_000, 100_000]
    } else {
        sizes
    };
    println!("| strokes | format | size | encode | decode (welcome → snapshot) |");
    println!("| --- | --- | --- | --- | --- |");
    for size in sizes {
        let board = Board::from_snapshot(seeded(size));
        let id = BoardId::parse("benchbenchbench1").expect("valid id");

        let json_welcome = |board: &Board| {
            let snapshot = board.snapshot_json();
            EncodedWelcome {
                protocol: 1,
                board: Some(&id),
                seq: board.seq(),
                snapshot: Some(&snapshot),
                packed_snapshot: None,
                snapshot_parts: None,
                ops: &[],
                presence: 1,
            }
            .encode()
        };
        let json = json_welcome(&board);
        let encode = best_of(|| json_welcome(&board).len());
        let decode = best_of(|| match ServerMessage::decode(&json) {
            Ok(ServerMessage::Welcome { snapshot, .. }) => snapshot.map_or(0, |s| s.strokes.len()),
            _ => panic!("the welcome decodes"),
        });
        row(size, "JSON (version 1)", json.len(), encode, decode);

        let bytes = board.snapshot_packed();
        let encode = best_of(|| board.snapshot_packed().len());
        let decode = best_of(|| packed::decode(&bytes).map(|s| s.strokes.len()).unwrap_or(0));
        row(size, "packed (version 2)", bytes.len(), encode, decode);

        // Version 3: grouped once per board version; each join cuts its
        // parts for its view (here a screen at the origin) from the groups.
        let (grouped, body) = board.snapshot_grouped(false);
        let encode = best_of(|| board.snapshot_grouped(false).1.len());
        let view = Rect::from_corners((0.0, 0.0), (1280.0, 800.0));
        let cut = best_of(|| grouped.parts(Some(&view)).len());
        let plans = grouped.parts(Some(&view));
        let sizes: Vec<u64> = plans.iter().map(|plan| plan.len() as u64).collect();
        let parts = packed::joined(&plans, &body);
        let first = best_of(|| {
            packed::decode_part(&parts[..sizes[0] as usize]).map_or(0, |p| p.strokes.len())
        });
        let decode = best_of(|| packed::assemble(&parts, &sizes).map_or(0, |s| s.strokes.len()));
        row(size, "parts (version 3)", parts.len(), encode, decode);
        println!(
            "| {size} | (version 3: a join's parts for one screen; its first part decoded) | {} B first | {} | {} |",
            sizes[0],
            ms(cut),
            ms(first)
        );

        // Version 3's format in one part, as a browser keeps its board for
        // offline use (`replica::kept`): packed and read back whole.
        let kept = kept::pack_board(&board);
        let encode = best_of(|| kept::pack_board(&board).len());
        let decode = best_of(|| kept::unpack_board(&kept).map_or(0, |b| b.stroke_count()));
        row(
            size,
            "kept on the device (one part)",
            kept.len(),
            encode,
            decode,
        );

        let clone = best_of(|| board.clone().stroke_count());
        println!("| {size} | (cloning the board) | | {} | |", ms(clone));
        replica_steps(&board, &id, &view, &parts, &sizes);
    }
}

/// The browser's steps of a version 3 open, natively, through the replica
/// as the engine drives it: the first part decoded and loaded, the scene
/// built, the view painted (not here), then the rest merged and the scene
/// caught up.
fn replica_steps(board: &Board, id: &BoardId, view: &Rect, bytes: &[u8], sizes: &[u64]) {
    let welcome = ServerMessage::Welcome {
        protocol: PROTOCOL_VERSION,
        board: Some(id.clone()),
        seq: board.seq(),
        snapshot: None,
        packed_snapshot: Some(bytes.len() as u64),
        snapshot_parts: Some(sizes.to_vec()),
        ops: Vec::new(),
        presence: 1,
    };
    let first = sizes[0] as usize;
    let mut steps: Vec<(&str, Duration)> = Vec::new();
    let mut time = |name, step: &mut dyn FnMut()| {
        let started = Instant::now();
        step();
        let took = started.elapsed();
        match steps.iter_mut().find(|(known, _)| *known == name) {
            Some((_, best)) => *best = (*best).min(took),
            None => steps.push((name, took)),
        }
    };
    let mut merges = Vec::new();
    for _ in 0..3 {
        let mut replica = Replica::new(UserId::parse("bench").expect("valid id"), "b".into());
        replica.connect(None, Some(*view), None);
        replica.on_server(welcome.clone(), 0.0);
        let mut complete = None;
        time("decode the first part", &mut || {
            complete = match replica.on_snapshot_frame(&bytes[..first]) {
                SnapshotProgress::Complete(message) => Some(message),
                _ => panic!("the first part decodes"),
            };
        });
        time("load it", &mut || {
            let message = complete.take().expect("decoded");
            black_box(replica.on_server(message, 0.0));
        });
        time("build the scene", &mut || {
            black_box(replica.sync_scene(&Local::default()));
        });
        assert_eq!(
            replica.on_snapshot_frame(&bytes[first..]),
            SnapshotProgress::RestArrived
        );
        // A slice at a time, as the page merges between frames, each frame
        // syncing the scene.
        let mut slices = Vec::new();
        while replica.merging() {
            let started = Instant::now();
            black_box(replica.merge_slice(0.0));
            black_box(replica.sync_scene(&Local::default()));
            slices.push(started.elapsed());
        }
        let longest = slices.iter().max().copied().unwrap_or_default();
        let total: Duration = slices.iter().sum();
        merges.push((slices.len(), total, longest));
        assert!(!replica.is_partial());
    }
    let count = board.stroke_count();
    for (name, took) in steps {
        println!(
            "| {count} | (the browser's open, version 3: {name}) | | {} | |",
            ms(took)
        );
    }
    if let Some((slices, total, longest)) = merges.iter().min_by_key(|(_, total, _)| *total) {
        println!(
            "| {count} | (the browser's open, version 3: merge the rest in {slices} slices, the longest {}) | | {} | |",
            ms(*longest),
            ms(*total)
        );
    }
}

/// The fastest of a few runs (at least three, at most about two seconds).
fn best_of<T>(mut work: impl FnMut() -> T) -> Duration {
    let started = Instant::now();
    let mut best = Duration::MAX;
    let mut runs = 0;
    while runs < 3 || (runs < 20 && started.elapsed() < Duration::from_secs(2)) {
        let run = Instant::now();
        black_box(work());
        best = best.min(run.elapsed());
        runs += 1;
    }
    best
}

fn row(size: usize, format: &str, bytes: usize, encode: Duration, decode: Duration) {
    println!(
        "| {size} | {format} | {:.1} MB | {} | {} |",
        bytes as f64 / 1e6,
        ms(encode),
        ms(decode)
    );
}

fn ms(duration: Duration) -> String {
    format!("{:.1} ms", duration.as_secs_f64() * 1e3)
}

/// The browser benchmark's board, with the same generator.
fn seeded(count: usize) -> BoardSnapshot {
    let colours = ["#1e1e1e", "#e03131", "#2f9e44", "#1971c2", "#f08c00"];
    let mut seed: u64 = 42;
    let mut random = move || {
        seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
        seed as f64 / 2_147_483_648.0
    };
    let one_decimal = |v: f64| ((v * 10.0).round() / 10.0) as f32;
    let strokes = (0..count)
        .map(|i| {
            let mut x = random() * 2560.0;
            let mut y = random() * 1600.0;
            let points = (0..20)
                .map(|_| {
                    x += random() * 8.0 - 3.0;
                    y += random() * 8.0 - 4.0;
                    Point::new(one_decimal(x), one_decimal(y), 0.5)
                })
                .collect();
            let mut stroke = Stroke::freehand(
                StrokeId::parse(&format!("seed{i}")).expect("valid id"),
                StrokeStyle {
                    color: Color::parse(colours[i % colours.len()]).expect("valid colour"),
                    width: 1.0 + (i % 4) as f32,
                },
                points,
            );
            stroke.z = i as f64 + 1.0;
            SnapshotStroke {
                stroke,
                visible: true,
            }
        })
        .collect();
    BoardSnapshot {
        seq: count as u64,
        strokes,
    }
}
