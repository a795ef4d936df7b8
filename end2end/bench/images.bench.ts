// Boards of large images in the browser: how much memory the page holds
// once it has shown them, and how long an image takes to show when it
// comes into sight.
//
// A fresh board gets BENCH_IMAGES (default 40) images of 2400 × 1800
// pixels (JPEG noise, quality 0.5: about 2 MB each, 17 MB decoded), laid
// out in a row, one screen apart. A page opens the board and pans along
// the row with the mouse wheel, image by image, waiting until each is
// drawn (its pixels on the visible canvas differ from one another: neither
// the blank board nor the grey placeholder), then jumps back to the first.
// Prints:
//   - the renderer processes' resident memory (the sum of Chromium's
//     `--type=renderer` processes, from `ps`) once the board is open, after
//     every ten images, and at the end;
//   - how long an image took to show after the pan that brought it into
//     sight (median and worst), and the first image again at the end (if
//     the page let it go, it is fetched again from the HTTP cache and
//     decoded);
//   - the long tasks (50 ms or more on the main thread) from the open to
//     the end: decoding an image where it is drawn blocks the page.
// Run through scripts/bench-browser.sh (images); figures go to
// docs/benchmarks.md.
import { test, Page } from "@playwright/test";
import { execSync } from "node:child_process";

const COUNT = Number(process.env.BENCH_IMAGES ?? 40);
/** World units between the left edges of two images (the page is 1280 wide, zoom 1). */
const STEP = 1600;

/** Resident memory of Chromium's renderer processes, in MB. */
function rendererMb(): number {
  const out = execSync("ps -eo rss,args").toString();
  return out
    .split("\n")
    .filter((line) => /chrom/i.test(line) && line.includes("--type=renderer"))
    .reduce((sum, line) => sum + Number(line.trim().split(/\s+/)[0]) / 1024, 0);
}

/** Uploads `count` noise JPEGs to `board` and adds them as a row of image items. */
async function seed(helper: Page, board: string, count: number) {
  await helper.evaluate(
    async ({ board, count, step }) => {
      const ids: string[] = [];
      for (let seed = 0; seed < count; seed++) {
        const canvas = document.createElement("canvas");
        canvas.width = 2400;
        canvas.height = 1800;
        const ctx = canvas.getContext("2d")!;
        const data = ctx.createImageData(2400, 1800);
        let x = seed * 9301 + 49297;
        for (let j = 0; j < data.data.length; j += 4) {
          x = (x * 1103515245 + 12345) & 0x7fffffff;
          data.data[j] = x & 255;
          data.data[j + 1] = (x >> 8) & 255;
          data.data[j + 2] = (x >> 16) & 255;
          data.data[j + 3] = 255;
        }
        ctx.putImageData(data, 0, 0);
        const blob: Blob = await new Promise((resolve) => canvas.toBlob((b) => resolve(b!), "image/jpeg", 0.5));
        const answer = await fetch(`/b/${board}/images`, { method: "POST", body: blob });
        if (!answer.ok) throw new Error(`upload ${seed}: ${answer.status} ${await answer.text()}`);
        ids.push((await answer.json()).id);
      }
      const strokes = ids.map((id, i) => {
        const x = i * step + 140;
        return { id: `img${i}`, kind: "image", color: "#1e1e1e", width: 2, points: [[x, 25, 0.5], [x + 1000, 775, 0.5]], image: id };
      });
      const ws = new WebSocket(`ws://${location.host}/ws/${board}`);
      await new Promise<void>((resolve, reject) => {
        ws.onopen = () => ws.send(JSON.stringify({ type: "hello", protocol: 5, user: "bench-seed" }));
        ws.onerror = () => reject(new Error("seeding socket failed"));
        ws.onmessage = (event) => {
          const message = JSON.parse(event.data);
          if (message.type === "welcome") ws.send(JSON.stringify({ type: "add_strokes", op_id: "seed", strokes }));
          else if (message.type === "ack") resolve();
          else if (message.type === "error") reject(new Error(event.data));
        };
      });
      ws.close();
    },
    { board, count, step: STEP },
  );
}

/** Milliseconds until the middle of the view shows an image's pixels. */
async function untilDrawn(page: Page, since: number): Promise<number> {
  const drawnAt = await page.evaluate(
    () =>
      new Promise<number>((resolve, reject) => {
        const canvas = document.querySelector<HTMLCanvasElement>('[data-testid="board-canvas"]')!;
        const ctx = canvas.getContext("2d")!;
        const scale = canvas.width / canvas.clientWidth;
        const giveUp = performance.now() + 30_000;
        const look = () => {
          const samples = [
            [600, 380],
            [612, 380],
            [600, 392],
            [624, 404],
          ].map(([x, y]) => ctx.getImageData(x * scale, y * scale, 1, 1).data.join());
          if (new Set(samples).size > 1) resolve(performance.now());
          else if (performance.now() > giveUp) reject(new Error("the image never showed"));
          else requestAnimationFrame(look);
        };
        look();
      }),
  );
  return drawnAt - since;
}

/** Pans by `dx` with one wheel event; the page's clock when it was sent. */
async function pan(page: Page, dx: number): Promise<number> {
  const at = await page.evaluate(() => performance.now());
  await page.mouse.wheel(dx, 0);
  return at;
}

const f = (n: number) => (Number.isFinite(n) ? n.toFixed(0) : "–");

test("boards of large images", async ({ browser }) => {
  const board = `img${Date.now().toString(36)}`.padEnd(22, "0");
  const helperContext = await browser.newContext();
  const helper = await helperContext.newPage();
  await helper.goto("/healthz");
  await seed(helper, board, COUNT);
  await helperContext.close();

  const page = await (await browser.newContext()).newPage();
  await page.addInitScript(() => {
    const longTasks: number[] = ((window as any).__longTasks = []);
    new PerformanceObserver((list) => list.getEntries().forEach((e) => longTasks.push(e.duration))).observe({
      type: "longtask",
    });
  });
  await page.goto(`/b/${board}`);
  await page.getByTestId("connection-status").filter({ hasText: "connected" }).waitFor();
  await page.mouse.move(640, 400);
  const shows = [await untilDrawn(page, 0)];
  const memory = [`opened ${f(rendererMb())}`];
  let peak = 0;
  for (let i = 1; i < COUNT; i++) {
    shows.push(await untilDrawn(page, await pan(page, STEP)));
    const now = rendererMb();
    peak = Math.max(peak, now);
    if ((i + 1) % 10 === 0) memory.push(`${i + 1} seen ${f(now)}`);
  }
  await page.waitForTimeout(3000);
  memory.push(`3 s later ${f(rendererMb())}`);
  const back = await untilDrawn(page, await pan(page, -STEP * (COUNT - 1)));
  const longTasks: number[] = await page.evaluate(() => (window as any).__longTasks);
  const sorted = shows.slice(1).sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)];
  console.log(
    `| ${COUNT} images of 2400 × 1800 | renderer RSS, MB: ${memory.join(", ")}; peak ${f(peak)} | shown after a pan: median ${f(median)} ms, worst ${f(sorted[sorted.length - 1])} ms | the first again: ${f(back)} ms | ${longTasks.length} long tasks, worst ${f(Math.max(0, ...longTasks))} ms |`,
  );
});
