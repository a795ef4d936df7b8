//! What the rasteriser (`src/raster.rs`) spends on a view of the browser
//! benchmark's big board: 25,000 freehand strokes of 20 samples, widths 1
//! to 4, five colours, on a 1280 × 800 view at 100 %, painted as the board
//! layer paints it: in tiles of 256 pixels, each stroke once per tile it
//! reaches into. Native figures; compare them with the "paint" span of
//! `scripts/bench-browser.sh big-board` for the WebAssembly build.
//!
//!     cargo bench --bench raster            # 25,000 strokes
//!     cargo bench --bench raster -- 1000    # fewer

use std::hint::black_box;
use std::time::Instant;

use whiteboard::geometry::Rect;
use whiteboard::protocol::{Color, Point, Stroke, StrokeId, StrokeStyle};
use whiteboard::raster::{Pixels, Placement, Rasteriser};
use whiteboard::scene::paint_bounds;

const SIZE: (i32, i32) = (1280, 800);
/// The board layer's tile side, in pixels.
const TILE: i32 = 256;

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
    // As the board layer paints a view: tile by tile, each tile its own
    // copy of the pixels (`client::board_layer`, `TILE`), every stroke
    // reaching into a tile painted through it.
    let tiles: Vec<(i32, i32)> = (0..SIZE.1)
        .step_by(TILE as usize)
        .flat_map(|y| (0..SIZE.0).step_by(TILE as usize).map(move |x| (x, y)))
        .collect();
    let reaching: Vec<Vec<&Stroke>> = tiles
        .iter()
        .map(|&(x, y)| {
            let tile =
                Rect::from_corners((x as f32, y as f32), ((x + TILE) as f32, (y + TILE) as f32));
            strokes
                .iter()
                .filter(|stroke| paint_bounds(stroke).is_some_and(|b| b.intersects(&tile)))
                .collect()
        })
        .collect();
    let painted: usize = reaching.iter().map(Vec::len).sum();
    let mut rasteriser = Rasteriser::default();
    for round in 0..5 {
        let started = Instant::now();
        for (&(x, y), strokes) in tiles.iter().zip(&reaching) {
            let size = (TILE.min(SIZE.0 - x), TILE.min(SIZE.1 - y));
            let mut data = vec![0u8; (size.0 * size.1 * 4) as usize];
            for stroke in strokes {
                let mut pixels = Pixels {
                    data: &mut data,
                    origin: (x, y),
                    size,
                };
                rasteriser.paint(&mut pixels, &at, stroke, 1.0, 2.0);
            }
            black_box(&data);
        }
        let elapsed = started.elapsed();
        println!(
            "round {round}: {count} strokes ({painted} stroke-tiles) in {:.1} ms, {:.2} µs a stroke",
            elapsed.as_secs_f64() * 1e3,
            elapsed.as_secs_f64() * 1e6 / count as f64
        );
    }
}
