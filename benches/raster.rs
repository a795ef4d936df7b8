//! What the rasteriser (`src/raster.rs`) spends on a view of the browser
//! benchmark's big board: 25,000 freehand strokes of 20 samples, widths 1
//! to 4, five colours, on one 1280 × 800 bitmap at 100 %. Native figures;
//! the WebAssembly build runs slower by a factor the browser benchmark
//! shows (`scripts/bench-browser.sh big-board`, the "paint" span).
//!
//!     cargo bench --bench raster

use std::hint::black_box;
use std::time::Instant;

use whiteboard::protocol::{Color, Point, Stroke, StrokeId, StrokeStyle};
use whiteboard::raster::{Pixels, Placement, Rasteriser};

const STROKES: usize = 25_000;
const SIZE: (i32, i32) = (1280, 800);

fn main() {
    // The same walk as end2end/bench/stroke-cost.bench.ts.
    let mut seed: u64 = 42;
    let mut random = move || {
        seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
        seed as f32 / 2_147_483_648.0
    };
    let colors = ["#1e1e1e", "#e03131", "#2f9e44", "#1971c2", "#f08c00"];
    let strokes: Vec<Stroke> = (0..STROKES)
        .map(|i| {
            let (mut x, mut y) = (random() * 1280.0, random() * 800.0);
            let points = (0..20)
                .map(|_| {
                    x += random() * 8.0 - 3.0;
                    y += random() * 8.0 - 4.0;
                    Point::new(x, y, 0.5)
                })
                .collect();
            let style = StrokeStyle {
                color: Color::parse(colors[i % colors.len()]).expect("valid colour"),
                width: 1.0 + (i % 4) as f32,
            };
            Stroke::freehand(StrokeId::parse("s").expect("valid id"), style, points)
        })
        .collect();
    let at = Placement {
        scale: 1.0,
        anchor: (0.0, 0.0),
    };
    let mut rasteriser = Rasteriser::default();
    let mut data = vec![0u8; (SIZE.0 * SIZE.1 * 4) as usize];
    // Bounding boxes, to paint tile by tile.
    let boxes: Vec<(f32, f32, f32, f32)> = strokes
        .iter()
        .map(|s| {
            s.points
                .iter()
                .fold((f32::MAX, f32::MAX, f32::MIN, f32::MIN), |b, p| {
                    (b.0.min(p.x), b.1.min(p.y), b.2.max(p.x), b.3.max(p.y))
                })
        })
        .collect();
    for tile in [64, 128, 256] {
        let started = Instant::now();
        let mut part = vec![0u8; tile * tile * 4];
        for ty in (0..SIZE.1).step_by(tile) {
            for tx in (0..SIZE.0).step_by(tile) {
                part.fill(0);
                let (x0, y0, x1, y1) = (
                    tx as f32 - 4.0,
                    ty as f32 - 4.0,
                    (tx + tile as i32) as f32 + 4.0,
                    (ty + tile as i32) as f32 + 4.0,
                );
                for (stroke, b) in strokes.iter().zip(&boxes) {
                    if b.2 < x0 || b.0 > x1 || b.3 < y0 || b.1 > y1 {
                        continue;
                    }
                    let mut pixels = Pixels {
                        data: &mut part,
                        origin: (tx, ty),
                        size: (tile as i32, tile as i32),
                    };
                    rasteriser.paint(&mut pixels, &at, stroke, 1.0, 2.0);
                }
                black_box(&part);
            }
        }
        let elapsed = started.elapsed();
        println!("tiles of {tile}: {:.1} ms", elapsed.as_secs_f64() * 1e3);
    }
    for round in 0..3 {
        data.fill(0);
        let started = Instant::now();
        for stroke in &strokes {
            let mut pixels = Pixels {
                data: &mut data,
                origin: (0, 0),
                size: SIZE,
            };
            rasteriser.paint(&mut pixels, &at, stroke, 1.0, 2.0);
        }
        black_box(&data);
        let elapsed = started.elapsed();
        println!(
            "round {round}: {STROKES} strokes in {:.1} ms, {:.2} µs a stroke",
            elapsed.as_secs_f64() * 1e3,
            elapsed.as_secs_f64() * 1e6 / STROKES as f64
        );
    }
}
