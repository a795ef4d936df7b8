// What one stroke costs a software canvas, by how it is drawn.
//
// Opening a 100,000-stroke board is mostly painting the 25,000 strokes in
// view (see docs/benchmarks.md), so this measures the canvas alone, with no
// app: 25,000 strokes like the big-board benchmark's (20 points, width 1 to
// 4, five colours, on one 1280 × 800 screen), drawn by plain JavaScript in
// several ways, each timed to the canvas's rasterising (a one-pixel read
// makes it finish). Two rounds; the first warms up.
//
//   scripts/bench-browser.sh stroke-cost
import { test } from "@playwright/test";

const STROKES = 25_000;

test("what a stroke costs the canvas", async ({ page }) => {
  await page.setContent('<canvas id="c" width="1280" height="800"></canvas>');
  const rounds = await page.evaluate((count) => {
    let seed = 42;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    const colors = ["#1e1e1e", "#e03131", "#2f9e44", "#1971c2", "#f08c00"];
    type Stroke = { points: [number, number][]; width: number; color: string };
    const strokes: Stroke[] = [];
    for (let i = 0; i < count; i++) {
      let x = random() * 1280;
      let y = random() * 800;
      const points: [number, number][] = [];
      for (let p = 0; p < 20; p++) {
        x += random() * 8 - 3;
        y += random() * 8 - 4;
        points.push([x, y]);
      }
      strokes.push({ points, width: 1 + (i % 4), color: colors[i % colors.length] });
    }
    type Xy = [number, number];
    // A centre line pushed out by `r` along its normals, both sides (no
    // round joins).
    const sides = (line: Xy[], r: number) => {
      const left: Xy[] = [];
      const right: Xy[] = [];
      line.forEach(([x, y], i) => {
        const [ax, ay] = line[Math.max(0, i - 1)];
        const [bx, by] = line[Math.min(line.length - 1, i + 1)];
        const length = Math.hypot(bx - ax, by - ay) || 1;
        const [nx, ny] = [(-(by - ay) / length) * r, ((bx - ax) / length) * r];
        left.push([x + nx, y + ny]);
        right.push([x - nx, y - ny]);
      });
      return { left, right: right.reverse() };
    };
    // The outline of a stroke as one polygon through its samples, no caps.
    const outline = ({ points, width }: Stroke) => {
      const { left, right } = sides(points, width / 2);
      return left.concat(right);
    };
    const outlines = strokes.map(outline);
    // Closer to what stroking does: the smoothed centre line (each curve
    // through the midpoints flattened into two segments) pushed out both
    // ways, with a round cap of a few points at each end. Joins are still
    // not rounded; at the benchmark's gentle turns they hardly show.
    const smoothed = ({ points }: Stroke) => {
      const line: Xy[] = [points[0]];
      let [sx, sy] = points[0];
      for (let i = 1; i < points.length - 1; i++) {
        const [cx, cy] = points[i];
        const [ex, ey] = [(cx + points[i + 1][0]) / 2, (cy + points[i + 1][1]) / 2];
        line.push([(sx + 2 * cx + ex) / 4, (sy + 2 * cy + ey) / 4], [ex, ey]);
        [sx, sy] = [ex, ey];
      }
      line.push(points[points.length - 1]);
      return line;
    };
    const capped = (stroke: Stroke) => {
      const line = smoothed(stroke);
      const r = stroke.width / 2;
      const steps = Math.max(2, Math.ceil((Math.PI * r) / 2));
      const { left, right } = sides(line, r);
      const cap = (centre: Xy, from: Xy) => {
        const start = Math.atan2(from[1] - centre[1], from[0] - centre[0]);
        const arc: Xy[] = [];
        for (let k = 1; k < steps; k++) {
          const angle = start + (Math.PI * k) / steps;
          arc.push([centre[0] + Math.cos(angle) * r, centre[1] + Math.sin(angle) * r]);
        }
        return arc;
      };
      const end = line[line.length - 1];
      return [...left, ...cap(end, left[left.length - 1]), ...right, ...cap(line[0], right[right.length - 1])];
    };
    const cappedOutlines = strokes.map(capped);

    const canvas = document.getElementById("c") as HTMLCanvasElement;
    const ctx = canvas.getContext("2d")!;
    const curve = (s: Stroke) => {
      const p = s.points;
      ctx.beginPath();
      ctx.moveTo(p[0][0], p[0][1]);
      for (let i = 1; i < p.length - 1; i++) {
        ctx.quadraticCurveTo(p[i][0], p[i][1], (p[i][0] + p[i + 1][0]) / 2, (p[i][1] + p[i + 1][1]) / 2);
      }
      ctx.lineTo(p[p.length - 1][0], p[p.length - 1][1]);
      ctx.strokeStyle = s.color;
      ctx.lineWidth = s.width;
      ctx.stroke();
    };
    const polyline = (s: Stroke) => {
      ctx.beginPath();
      s.points.forEach(([x, y], i) => (i === 0 ? ctx.moveTo(x, y) : ctx.lineTo(x, y)));
      ctx.strokeStyle = s.color;
      ctx.lineWidth = s.width;
      ctx.stroke();
    };
    // Fills the `i`-th stroke's polygon from `polygons`.
    const fill = (polygons: Xy[][]) => (s: Stroke, i: number) => {
      ctx.beginPath();
      polygons[i].forEach(([x, y], k) => (k === 0 ? ctx.moveTo(x, y) : ctx.lineTo(x, y)));
      ctx.closePath();
      ctx.fillStyle = s.color;
      ctx.fill();
    };
    const ways: [string, () => void, (s: Stroke, i: number) => void][] = [
      ["curves, round caps and joins (as the app draws)", () => ((ctx.lineCap = "round"), (ctx.lineJoin = "round")), curve],
      ["curves, butt caps, miter joins", () => ((ctx.lineCap = "butt"), (ctx.lineJoin = "miter")), curve],
      ["straight segments, round caps and joins", () => ((ctx.lineCap = "round"), (ctx.lineJoin = "round")), polyline],
      ["straight segments, butt caps, bevel joins", () => ((ctx.lineCap = "butt"), (ctx.lineJoin = "bevel")), polyline],
      ["straight segments, round caps, bevel joins", () => ((ctx.lineCap = "round"), (ctx.lineJoin = "bevel")), polyline],
      ["straight segments, round caps, miter joins", () => ((ctx.lineCap = "round"), (ctx.lineJoin = "miter")), polyline],
      ["curves, every stroke 1 px wide (hairlines)", () => ((ctx.lineCap = "round"), (ctx.lineJoin = "round")), (s) => curve({ ...s, width: 1 })],
      ["curves at half scale (a quarter of the pixels)", () => (ctx.setTransform(0.5, 0, 0, 0.5, 0, 0), (ctx.lineCap = "round"), (ctx.lineJoin = "round")), curve],
      ["outline polygons filled (no joins, no caps)", () => {}, fill(outlines)],
      ["smoothed outline with round caps filled (joins not rounded)", () => {}, fill(cappedOutlines)],
    ];
    const rounds: [string, number][][] = [];
    for (let round = 0; round < 2; round++) {
      const times: [string, number][] = [];
      for (const [name, setup, draw] of ways) {
        ctx.setTransform(1, 0, 0, 1, 0, 0);
        ctx.clearRect(0, 0, 1280, 800);
        ctx.getImageData(0, 0, 1, 1);
        const started = performance.now();
        setup();
        strokes.forEach(draw);
        ctx.getImageData(0, 0, 1, 1);
        times.push([name, Math.round(performance.now() - started)]);
      }
      rounds.push(times);
    }
    return rounds;
  }, STROKES);
  const [, measured] = rounds;
  console.log(`\n${STROKES.toLocaleString("en")} strokes of 20 points on a 1280 × 800 canvas (second round):`);
  console.log("| drawn as | time | per stroke |\n| --- | --- | --- |");
  for (const [name, ms] of measured) {
    console.log(`| ${name} | ${ms} ms | ${((ms * 1000) / STROKES).toFixed(0)} µs |`);
  }
});
