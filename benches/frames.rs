//! What one live frame costs to decode and encode: the server decodes every
//! frame a client sends (previews at 60 a second per person drawing, a stroke
//! on every pen-up) and encodes what it fans out; the browser decodes every
//! frame it receives. Native figures, per frame, for comparing changes to
//! the wire types.
//!
//!     cargo bench --bench frames
//!
//! The frames are the stroke storm's (`examples/storm.rs`): a preview of 4
//! points, a stroke of 120 points committed with `add_stroke`, and the
//! operation the server makes of it.

use std::hint::black_box;
use std::time::{Duration, Instant};

use whiteboard::protocol::{
    Change, ClientMessage, Color, OpId, Operation, Point, ServerMessage, Stroke, StrokeId,
    StrokeStyle, UserId,
};

fn main() {
    let style = StrokeStyle {
        color: Color::parse("#1971c2").expect("valid colour"),
        width: 3.0,
    };
    let stroke_id = StrokeId::parse("s17-4").expect("valid id");
    let preview = ClientMessage::Preview {
        stroke: stroke_id.clone(),
        style: style.clone(),
        points: vec![
            Point::new(17.0, 912.0, 0.5),
            Point::new(5_231.0, 604.0, 0.5),
            Point::new(96.0, 100.0, 0.5),
            Point::new(98.0, 102.0, 0.5),
        ],
    }
    .encode();
    let points = (0..60)
        .flat_map(|i| {
            let x = i as f32 * 4.0;
            [Point::new(x, 100.0, 0.5), Point::new(x + 2.0, 102.0, 0.5)]
        })
        .collect();
    let stroke = Stroke::freehand(stroke_id, style, points);
    let add_stroke = ClientMessage::AddStroke {
        op_id: OpId::parse("c17-4-5231604").expect("valid id"),
        stroke: stroke.clone(),
    }
    .encode();
    let mut stored = stroke;
    stored.z = 1_234.0;
    let op = ServerMessage::Op {
        op: Operation {
            seq: 4_321,
            author: UserId::parse("u17").expect("valid id"),
            op_id: OpId::parse("c17-4-5231604").expect("valid id"),
            at: 0,
            name: None,
            change: Change::AddStroke { stroke: stored },
        },
    };
    let op_frame = op.encode();

    println!("| frame | bytes | decode | encode |");
    println!("| --- | --- | --- | --- |");
    let decoded_preview = ClientMessage::decode(&preview).expect("the preview decodes");
    row(
        "preview (client → server)",
        preview.len(),
        per_frame(|| ClientMessage::decode(&preview).is_ok()),
        per_frame(|| decoded_preview.encode().len()),
    );
    let decoded_add = ClientMessage::decode(&add_stroke).expect("the stroke decodes");
    row(
        "add_stroke, 120 points (client → server)",
        add_stroke.len(),
        per_frame(|| ClientMessage::decode(&add_stroke).is_ok()),
        per_frame(|| decoded_add.encode().len()),
    );
    row(
        "op of that stroke (server → client)",
        op_frame.len(),
        per_frame(|| ServerMessage::decode(&op_frame).is_ok()),
        per_frame(|| op.encode().len()),
    );
}

/// The fastest mean time per call over a few batches of calls.
fn per_frame<T>(mut work: impl FnMut() -> T) -> Duration {
    const CALLS: u32 = 2_000;
    (0..10)
        .map(|_| {
            let started = Instant::now();
            for _ in 0..CALLS {
                black_box(work());
            }
            started.elapsed() / CALLS
        })
        .min()
        .unwrap_or_default()
}

fn row(frame: &str, bytes: usize, decode: Duration, encode: Duration) {
    println!(
        "| {frame} | {bytes} | {:.2} µs | {:.2} µs |",
        decode.as_secs_f64() * 1e6,
        encode.as_secs_f64() * 1e6
    );
}
