//! What the rasteriser (`src/raster.rs`) spends on a view of the browser
//! benchmark's big board: 25,000 freehand strokes of 20 samples, widths 1
//! to 4, five colours, on one 1280 × 800 bitmap at 100 %. Native figures;
//! the WebAssembly build runs slower by a factor the browser benchmark
//! shows (`scripts/bench-browser.sh big-board`, the "paint" span).
//!
//!     cargo bench --bench raster            # 25,000 strokes
//!     cargo bench --bench raster -- 1000    # fewer

use std::hint::black_box;
use std::time::Instant;

use whiteboard::protocol::{Color, Point, Stroke, StrokeId, StrokeStyle};
use whiteboard::raster::{Pixels, Placement, Rasteriser};

const SIZE: (i32, i32) = (1280, 800);

fn main() {
    let count: usize = std::env::args()
        .skip(1)
        .find_map(|arg| arg.parse().ok())
        .unwrap_or(25_000);
    // The same walk as end2end/bench/stroke-cost.bench.ts.
    let mut seed: u64 = 42;
    let mut random = move || {
        seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
        seed as f32 / 2_147_483_648.0
    };
    let colors = ["#1e1e1e", "#e03131", "#2f9e44", "#1971c2", "#f08c00"];
    let strokes: Vec<Stroke> = (0..count)
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
            "round {round}: {count} strokes in {:.1} ms, {:.2} µs a stroke",
            elapsed.as_secs_f64() * 1e3,
            elapsed.as_secs_f64() * 1e6 / count as f64
        );
    }
}
