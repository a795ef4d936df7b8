// Big boards in the browser: how fast they open, how smoothly they draw.
//
// For each size (BENCH_SIZES, default 1000,10000,50000,100000 strokes of 20
// points, spread over four screens of board so that a quarter is in view):
//   1. seeds a fresh board over a WebSocket from a helper page;
//   2. measures the server's CPU for a join (ten people opening the board at
//      once, from /proc/BENCH_SERVER_PID/stat) and the welcome's size;
//   3. opens the board in a fresh page and measures open time (navigation
//      start → status "connected" → the view painted, which may take
//      several frames: the engine's `paint-view` span after connecting ended),
//      and how much of it the engine's spans took (src/client/timing.rs:
//      decoding the welcome, loading the board, building the scene,
//      painting the view);
//   4. frame rate and long tasks idle, with three remote people drawing
//      (previews at 60 Hz, cursors, a committed stroke a second), and while
//      the local user draws (input-to-ink latency: pointer event → the end
//      of the animation frame that painted it), while panning with the
//      mouse wheel, then zoomed out to the whole board (how long the key
//      takes to show its next frame, and the frame rate after), the remote
//      drawers still going;
//      (and how busy the page's main thread is with three people
//      pointing, then drawing, with the item list closed and open: printed
//      on a line of its own);
//   5. JS heap and WebAssembly memory of the page;
//   6. how much of the board the page kept in IndexedDB (offline use), and
//      the page opened again from it (a reload): when the kept board was
//      read and how long loading it took (the engine's `resume-kept` span),
//      when the view was painted from it, and when the page was connected
//      (the server sends only the operations after the kept board).
// With BENCH_PROFILE=<path prefix>, the open is also recorded by Chromium's
// sampling profiler into <prefix>-<size>.cpuprofile (the profiler slows the
// open: its figures are not the benchmark's then).
// Prints one table row per size. Run through scripts/bench-browser.sh.
import { test, Browser, Page } from "@playwright/test";
import * as fs from "node:fs";

const SIZES = (process.env.BENCH_SIZES ?? "1000,10000,50000,100000").split(",").map(Number);
const SERVER_PID = process.env.BENCH_SERVER_PID;
const WINDOW_MS = Number(process.env.BENCH_WINDOW_MS ?? 4000);
const PROFILE = process.env.BENCH_PROFILE;

/** Installed before the page's own scripts: frame, long-task and input probes. */
function installProbes() {
  const probe = {
    frames: [] as number[],
    longTasks: [] as { start: number; duration: number }[],
    connectedAt: 0,
    drawnAt: 0,
    inputToInk: [] as number[],
    measureInput: false,
    socketsOpened: 0,
    // The first connection's milestones: created (the page and its
    // WebAssembly have started), open, first and last frame before
    // "connected" (the welcome and the last of its snapshot).
    socketCreatedAt: 0,
    socketOpenAt: 0,
    firstFrameAt: 0,
    lastFrameAt: 0,
  };
  (window as any).__bench = probe;
  // Counts connections: more than one means the page reconnected.
  const NativeWebSocket = window.WebSocket;
  (window as any).WebSocket = function (...args: ConstructorParameters<typeof WebSocket>) {
    probe.socketsOpened++;
    const socket = new NativeWebSocket(...args);
    if (probe.socketsOpened === 1) {
      probe.socketCreatedAt = performance.now();
      socket.addEventListener("open", () => (probe.socketOpenAt = performance.now()));
      socket.addEventListener("message", () => {
        if (probe.connectedAt) return;
        probe.lastFrameAt = performance.now();
        probe.firstFrameAt ||= probe.lastFrameAt;
      });
    }
    return socket;
  };
  (window as any).WebSocket.prototype = NativeWebSocket.prototype;
  Object.assign((window as any).WebSocket, {
    CONNECTING: 0,
    OPEN: 1,
    CLOSING: 2,
    CLOSED: 3,
  });
  const loop = (now: number) => {
    probe.frames.push(now);
    if (!probe.connectedAt) {
      const status = document.querySelector('[data-testid="connection-status"]');
      if (status?.textContent === "connected") {
        probe.connectedAt = performance.now();
      }
    } else if (!probe.drawnAt) {
      // The view is painted progressively (at most 30 ms a frame): drawn
      // once the engine's span for painting it, begun after connecting, ended.
      const painted = performance
        .getEntriesByName("whiteboard:paint-view")
        .some((e) => e.startTime >= probe.connectedAt);
      if (painted) probe.drawnAt = performance.now();
    }
    requestAnimationFrame(loop);
  };
  requestAnimationFrame(loop);
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      probe.longTasks.push({ start: entry.startTime, duration: entry.duration });
    }
  }).observe({ type: "longtask", buffered: true });
  // Registered after the engine's own listener has run (bubbling, on the
  // window): this animation frame callback runs after the engine's, so it
  // sees the stroke painted.
  window.addEventListener("pointermove", (event) => {
    if (!probe.measureInput) return;
    const at = event.timeStamp;
    requestAnimationFrame(() => probe.inputToInk.push(performance.now() - at));
  });
}

type Window = { fps: number; worstFrameMs: number; longTasks: number; worstLongTaskMs: number };

/** Frame rate and long tasks in the page during `ms` while `during` runs. */
async function measure(page: Page, ms: number, during?: () => Promise<void>): Promise<Window> {
  const start = await page.evaluate(() => performance.now());
  if (during) await during();
  else await page.waitForTimeout(ms);
  return measured(page, start, Infinity);
}

/** Main-thread milliseconds per second of the page's tasks over `ms` (Chromium's TaskDuration). */
async function busyMsPerSecond(page: Page, ms: number): Promise<number> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("Performance.enable");
  const taskSeconds = async () =>
    (await cdp.send("Performance.getMetrics")).metrics.find((m) => m.name === "TaskDuration")!.value;
  const before = await taskSeconds();
  await page.waitForTimeout(ms);
  const after = await taskSeconds();
  await cdp.detach();
  return ((after - before) * 1000) / (ms / 1000);
}

/** The window from `start` (page time, ms) until `ms` later, once it is over. */
async function measureFrom(page: Page, start: number, ms: number): Promise<Window> {
  const left = await page.evaluate((end) => end - performance.now(), start + ms);
  if (left > 0) await page.waitForTimeout(left);
  return measured(page, start, start + ms);
}

/** Frames and long tasks from `start` to `until` or now (page time, ms). */
function measured(page: Page, start: number, until: number): Promise<Window> {
  return page.evaluate(({ start, until }) => {
    const probe = (window as any).__bench;
    const end = Math.min(until, performance.now());
    const frames: number[] = probe.frames.filter((t: number) => t >= start && t <= end);
    let worst = 0;
    for (let i = 1; i < frames.length; i++) worst = Math.max(worst, frames[i] - frames[i - 1]);
    const tasks = probe.longTasks.filter((t: any) => t.start >= start && t.start <= end);
    return {
      fps: frames.length > 1 ? ((frames.length - 1) * 1000) / (frames[frames.length - 1] - frames[0]) : 0,
      worstFrameMs: worst,
      longTasks: tasks.length,
      worstLongTaskMs: tasks.reduce((m: number, t: any) => Math.max(m, t.duration), 0),
    };
  }, { start, until });
}

/** A page on the server's origin that opens WebSockets for the benchmark. */
async function helperPage(browser: Browser): Promise<Page> {
  const page = await (await browser.newContext()).newPage();
  await page.goto("/healthz");
  return page;
}

/** Seeds `count` freehand strokes of 20 points onto `board`; resolves when all are stored. */
async function seed(helper: Page, board: string, count: number): Promise<number> {
  return helper.evaluate(
    async ({ board, count }) => {
      const started = performance.now();
      const ws = new WebSocket(`ws://${location.host}/ws/${board}`);
      const colors = ["#1e1e1e", "#e03131", "#2f9e44", "#1971c2", "#f08c00"];
      let seedValue = 42;
      const random = () => ((seedValue = (seedValue * 1103515245 + 12345) % 2147483648) / 2147483648);
      const batches: string[] = [];
      let strokes: string[] = [];
      let bytes = 0;
      const flush = () => {
        if (strokes.length === 0) return;
        batches.push(`{"type":"add_strokes","op_id":"seed-${batches.length}","strokes":[${strokes.join(",")}]}`);
        strokes = [];
        bytes = 0;
      };
      for (let i = 0; i < count; i++) {
        let x = random() * 2560;
        let y = random() * 1600;
        const points = [];
        for (let p = 0; p < 20; p++) {
          x += random() * 8 - 3;
          y += random() * 8 - 4;
          points.push(`[${x.toFixed(1)},${y.toFixed(1)},0.5]`);
        }
        const stroke = `{"id":"seed${i}","color":"${colors[i % colors.length]}","width":${1 + (i % 4)},"points":[${points.join(",")}]}`;
        if (strokes.length === 200 || bytes + stroke.length > 40_000) flush();
        strokes.push(stroke);
        bytes += stroke.length;
      }
      flush();
      await new Promise<void>((resolve, reject) => {
        let next = 0;
        let acked = 0;
        const window = 16;
        const send = () => {
          while (next < batches.length && next - acked < window) ws.send(batches[next++]);
        };
        ws.onopen = () => ws.send(JSON.stringify({ type: "hello", protocol: 1, user: "bench-seed" }));
        ws.onerror = () => reject(new Error("seeding socket failed"));
        ws.onmessage = (event) => {
          const message = JSON.parse(event.data);
          if (message.type === "welcome") send();
          else if (message.type === "ack") {
            acked++;
            if (acked === batches.length) resolve();
            else send();
          } else if (message.type === "error") reject(new Error(event.data));
        };
      });
      ws.close();
      return performance.now() - started;
    },
    { board, count },
  );
}

/** CPU seconds the server has used so far (user + system). */
function serverCpuSeconds(): number | undefined {
  if (!SERVER_PID) return undefined;
  const fields = fs.readFileSync(`/proc/${SERVER_PID}/stat`, "utf8").split(") ")[1].split(" ");
  // utime and stime are fields 14 and 15 of stat, 12 and 13 after the name.
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/**
 * `people` join at once speaking `protocol` (1: JSON snapshot in the
 * welcome; 2: packed snapshot in a binary frame after it) and receive their
 * welcome; returns its size in bytes (both frames for version 2).
 */
async function joinAtOnce(helper: Page, board: string, people: number, protocol: number): Promise<number> {
  return helper.evaluate(
    async ({ board, people, protocol }) => {
      const sizes = await Promise.all(
        Array.from(
          { length: people },
          (_, i) =>
            new Promise<number>((resolve, reject) => {
              const ws = new WebSocket(`ws://${location.host}/ws/${board}`);
              ws.binaryType = "arraybuffer";
              let welcomeBytes = 0;
              let packedLeft = 0;
              // From version 3, with the view a page of 1280 × 800 at the origin shows.
              const view = protocol >= 3 ? { min_x: 0, min_y: 0, max_x: 1280, max_y: 800 } : undefined;
              ws.onopen = () => ws.send(JSON.stringify({ type: "hello", protocol, user: `bench-joiner-${i}`, view }));
              ws.onerror = () => reject(new Error("join failed"));
              // A server that does not speak this version refuses and closes.
              ws.onclose = () => resolve(NaN);
              ws.onmessage = (event) => {
                if (typeof event.data === "string" && event.data.startsWith('{"type":"welcome"')) {
                  welcomeBytes = event.data.length;
                  packedLeft = JSON.parse(event.data).packed_snapshot ?? 0;
                } else if (event.data instanceof ArrayBuffer) {
                  welcomeBytes += event.data.byteLength;
                  packedLeft -= event.data.byteLength;
                } else {
                  return;
                }
                if (packedLeft <= 0) {
                  resolve(welcomeBytes);
                  ws.close();
                }
              };
            }),
        ),
      );
      return sizes[0];
    },
    { board, people, protocol },
  );
}

/** Three remote people drawing and moving their cursors until stopped. */
async function startRemoteDrawers(helper: Page, board: string, drawing = true) {
  await helper.evaluate(async ({ board, drawing }) => {
    const sockets: WebSocket[] = [];
    const timers: number[] = [];
    (window as any).__stopDrawers = () => {
      timers.forEach(clearInterval);
      sockets.forEach((ws) => ws.close());
    };
    await Promise.all(
      [0, 1, 2].map(
        (person) =>
          new Promise<void>((resolve) => {
            const ws = new WebSocket(`ws://${location.host}/ws/${board}`);
            sockets.push(ws);
            ws.onopen = () => ws.send(JSON.stringify({ type: "hello", protocol: 1, user: `bench-drawer-${person}` }));
            ws.onmessage = (event) => {
              if (!String(event.data).startsWith('{"type":"welcome"')) return;
              let stroke = 0;
              let points: number[][] = [];
              let tick = 0;
              timers.push(
                setInterval(() => {
                  tick++;
                  const x = 200 + person * 300 + (tick % 60) * 4;
                  const y = 200 + Math.sin(tick / 5) * 40 + person * 120;
                  const fresh = [
                    [x, y, 0.5],
                    [x + 2, y + 1, 0.5],
                  ];
                  points.push(...fresh);
                  const id = `bench-${person}-${stroke}`;
                  ws.send(JSON.stringify({ type: "cursor", x, y }));
                  if (!drawing) return;
                  ws.send(JSON.stringify({ type: "preview", stroke: id, color: "#e03131", width: 3, points: fresh }));
                  if (points.length >= 120) {
                    ws.send(
                      JSON.stringify({
                        type: "add_stroke",
                        op_id: `${id}-op`,
                        stroke: { id, color: "#e03131", width: 3, points },
                      }),
                    );
                    points = [];
                    stroke++;
                  }
                }, 16) as unknown as number,
              );
              resolve();
            };
          }),
      ),
    );
  }, { board, drawing });
}

/** The local user scribbles for `ms` with the pen; returns when done. */
async function scribbleFor(page: Page, ms: number) {
  const until = Date.now() + ms;
  await page.mouse.move(300, 400);
  await page.mouse.down();
  let i = 0;
  while (Date.now() < until) {
    i++;
    await page.mouse.move(300 + ((i * 7) % 700), 400 + Math.sin(i / 8) * 150);
    if (i % 120 === 0) {
      await page.mouse.up();
      await page.mouse.down();
    }
  }
  await page.mouse.up();
}

/** Pans with the mouse wheel for `ms`, back and forth, 30 px a step. */
async function panFor(page: Page, ms: number) {
  const until = Date.now() + ms;
  await page.mouse.move(640, 400);
  let i = 0;
  while (Date.now() < until) {
    i++;
    const direction = Math.floor(i / 20) % 2 === 0 ? 1 : -1;
    await page.mouse.wheel(30 * direction, 20 * direction);
    await page.waitForTimeout(16);
  }
}

/** Bytes of the board the page keeps in IndexedDB for offline use (0: none yet). */
async function keptBytes(page: Page, board: string): Promise<number> {
  return page.evaluate(
    (board) =>
      new Promise<number>((resolve, reject) => {
        const opening = indexedDB.open("whiteboard");
        opening.onerror = () => reject(opening.error);
        opening.onsuccess = () => {
          const read = opening.result.transaction("kept").objectStore("kept").get(`${board}/board`);
          read.onsuccess = () => resolve(read.result ? read.result.byteLength : 0);
        };
      }),
    board,
  );
}

/** JS heap in use and WebAssembly memory of the page, in MB. */
async function memory(page: Page): Promise<{ jsMb: number; wasmMb: number }> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("HeapProfiler.collectGarbage");
  const heap = await cdp.send("Runtime.getHeapUsage");
  const prototype = await cdp.send("Runtime.evaluate", { expression: "WebAssembly.Memory.prototype" });
  const instances = await cdp.send("Runtime.queryObjects", { prototypeObjectId: prototype.result.objectId! });
  const total = await cdp.send("Runtime.callFunctionOn", {
    objectId: instances.objects.objectId!,
    functionDeclaration: "function () { return this.reduce((sum, m) => sum + m.buffer.byteLength, 0); }",
    returnByValue: true,
  });
  await cdp.detach();
  return { jsMb: heap.usedSize / 1e6, wasmMb: Number(total.result.value) / 1e6 };
}

function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

const f = (n: number, digits = 0) => (Number.isFinite(n) ? n.toFixed(digits) : "–");
const w = (m: Window) => `${f(m.fps)} fps (worst frame ${f(m.worstFrameMs)} ms, ${m.longTasks} long tasks, worst ${f(m.worstLongTaskMs)} ms)`;

test("big boards", async ({ browser }) => {
  const rows: string[] = [];
  for (const size of SIZES) {
    const board = `bench${size}x${Date.now().toString(36)}`.slice(0, 22).padEnd(22, "0");
    const helper = await helperPage(browser);
    const seedMs = await seed(helper, board, size);

    // Ten people join at once, in each protocol version: server CPU per
    // join (the snapshot is encoded once per version of the board and
    // format, then shared) and the welcome's size.
    const joins = [];
    for (const protocol of [1, 2, 3]) {
      const cpuBefore = serverCpuSeconds();
      const joiners = 10;
      const bytes = await joinAtOnce(helper, board, joiners, protocol);
      const cpuAfter = serverCpuSeconds();
      const cpuMs =
        cpuBefore === undefined || cpuAfter === undefined ? NaN : ((cpuAfter - cpuBefore) * 1000) / joiners;
      joins.push(`v${protocol} ${f(cpuMs)} ms, ${f(bytes / 1e6, 1)} MB`);
    }

    const page = await (await browser.newContext()).newPage();
    await page.addInitScript(installProbes);
    const profiler = PROFILE ? await page.context().newCDPSession(page) : undefined;
    if (profiler) {
      await profiler.send("Profiler.enable");
      await profiler.send("Profiler.setSamplingInterval", { interval: 250 });
      await profiler.send("Profiler.start");
    }
    await page.goto(`/b/${board}`);
    await page.waitForFunction(() => (window as any).__bench.drawnAt > 0, null, { timeout: 120_000 });
    if (profiler) {
      const { profile } = await profiler.send("Profiler.stop");
      fs.writeFileSync(`${PROFILE}-${size}.cpuprofile`, JSON.stringify(profile));
    }
    const openMs = await page.evaluate(() => (window as any).__bench.drawnAt);
    const spans = await page.evaluate(() =>
      ["decode-welcome", "load-snapshot", "build-scene", "paint-view"].map(
        // The longest of each: the engine also builds and paints the empty
        // board it starts with.
        (name) => {
          const durations = performance.getEntriesByName(`whiteboard:${name}`).map((e) => e.duration);
          return durations.length > 0 ? Math.max(...durations) : NaN;
        },
      ),
    );
    const milestones = await page.evaluate(() => {
      const p = (window as any).__bench;
      return [p.socketCreatedAt, p.socketOpenAt, p.firstFrameAt, p.lastFrameAt, p.connectedAt, p.drawnAt];
    });
    const names = ["socket created", "open", "first frame", "last frame", "connected", "drawn"];
    const spanStarts = await page.evaluate(() =>
      performance
        .getEntriesByType("measure")
        .filter((e) => e.name.startsWith("whiteboard:") && e.duration > 5)
        .map((e) => `${e.name.slice(11)} ${e.startTime.toFixed(0)}+${e.duration.toFixed(0)}`),
    );
    console.log(
      `${size} strokes, ms since navigation: ${names.map((n, i) => `${n} ${f(milestones[i])}`).join(", ")}; spans ${spanStarts.join(", ")}`,
    );
    // The first second after the view is drawn: version 3 merges the rest
    // of the snapshot then, between frames.
    const justOpened = await measureFrom(page, openMs, 1000);
    const merge = await page.evaluate(() => {
      const slices = performance.getEntriesByName("whiteboard:merge-rest");
      if (slices.length === 0) return "no merge";
      const first = slices[0].startTime;
      const last = slices[slices.length - 1];
      const longest = Math.max(...slices.map((e) => e.duration));
      const total = slices.reduce((sum, e) => sum + e.duration, 0);
      return `merge-rest from ${first.toFixed(0)} to ${(last.startTime + last.duration).toFixed(0)}: ${slices.length} slices, ${total.toFixed(0)} ms in all, the longest ${longest.toFixed(0)} ms`;
    });
    console.log(`${size} strokes, after the open: ${merge}; the first second ${w(justOpened)}`);

    const idle = await measure(page, WINDOW_MS);
    // How busy the page's main thread is with the item list closed and
    // open (it is written anew from the whole board, at most every 200 ms,
    // while what it shows changes), with three people moving their
    // pointers, then drawing.
    const busyWithList = async () => {
      await page.waitForTimeout(300);
      const closed = await busyMsPerSecond(page, WINDOW_MS);
      await page.getByRole("button", { name: "Menu", exact: true }).click();
      await page.getByRole("menuitem", { name: "Item list" }).click();
      await page.waitForTimeout(300);
      const open = await busyMsPerSecond(page, WINDOW_MS);
      await page.keyboard.press("Escape");
      return `${f(closed)} ms a second, ${f(open)} ms with the item list open`;
    };
    await startRemoteDrawers(helper, board, false);
    const pointing = await busyWithList();
    await helper.evaluate(() => (window as any).__stopDrawers());
    await startRemoteDrawers(helper, board);
    const drawers = await busyWithList();
    console.log(
      `${size} strokes, the page's main thread busy: three people pointing ${pointing}; drawing ${drawers}`,
    );
    await page.waitForTimeout(300);
    const busy = await measure(page, WINDOW_MS);
    await page.evaluate(() => ((window as any).__bench.measureInput = true));
    const drawing = await measure(page, WINDOW_MS, () => scribbleFor(page, WINDOW_MS));
    const latencies: number[] = await page.evaluate(() => {
      const probe = (window as any).__bench;
      probe.measureInput = false;
      return probe.inputToInk.splice(0);
    });
    const panning = await measure(page, WINDOW_MS, () => panFor(page, WINDOW_MS));
    // Zoom to fit: everything comes into view at once. How long until the
    // next frame is drawn (the key's handling and the repaint it asks for).
    const zoomStart = await page.evaluate(() => performance.now());
    await page.keyboard.press("Shift+!");
    const zoomMs = await page.evaluate(
      (start) =>
        new Promise<number>((resolve) =>
          requestAnimationFrame(() => requestAnimationFrame(() => resolve(performance.now() - start))),
        ),
      zoomStart,
    );
    console.log(`${size} strokes: zoom to fit drawn after ${f(zoomMs)} ms`);
    await page.waitForTimeout(300);
    const zoomedOut = await measure(page, WINDOW_MS);
    await helper.evaluate(() => (window as any).__stopDrawers());
    const mem = await memory(page);
    const sockets = await page.evaluate(() => (window as any).__bench.socketsOpened);
    await page.screenshot({ path: `test-results/bench/board-${size}.png` });
    // What the page kept of the board (IndexedDB), and opening it again
    // from there: the server then sends only what came after it.
    const kept = await keptBytes(page, board);
    // The view is painted from the kept board before the connection.
    await page.reload();
    await page.waitForFunction(() => (window as any).__bench.connectedAt > 0, null, { timeout: 120_000 });
    await page.waitForFunction(() => {
      const [resumed] = performance.getEntriesByName("whiteboard:resume-kept");
      return performance
        .getEntriesByName("whiteboard:paint-view")
        .some((view) => resumed && view.startTime >= resumed.startTime);
    });
    const reopen = await page.evaluate(() => {
      const [resumed] = performance.getEntriesByName("whiteboard:resume-kept");
      const view = performance
        .getEntriesByName("whiteboard:paint-view")
        .find((view) => view.startTime >= resumed.startTime)!;
      return {
        resumed: resumed.startTime,
        took: resumed.duration,
        painted: view.startTime + view.duration,
        connected: (window as any).__bench.connectedAt,
      };
    });

    const row =
      `| ${size.toLocaleString("en")} | ${f(openMs)} ms (${spans.map((s) => f(s)).join(" / ")}) | ${w(justOpened)} | ${w(idle)} | ${w(busy)} | ${w(drawing)} | ` +
      `${f(percentile(latencies, 50), 1)} / ${f(percentile(latencies, 99), 1)} ms | ${w(panning)} | ${w(zoomedOut)} | ` +
      `${f(mem.jsMb)} + ${f(mem.wasmMb)} MB | ${joins.join("; ")} | ${sockets} | ${f(kept / 1e6, 1)} MB; reopened: read at ${f(reopen.resumed)} ms, loaded in ${f(reopen.took)} ms, painted at ${f(reopen.painted)} ms, connected at ${f(reopen.connected)} ms | seeded in ${f(seedMs / 1000, 1)} s |`;
    console.log(row);
    rows.push(row);
    await page.context().close();
    await helper.context().close();
  }
  console.log(
    "\n| strokes | open (decode / load / scene / paint) | the first second after | idle | 3 remote drawers | local drawing | input → ink p50 / p99 | panning | zoomed out, 3 drawers | JS + WASM memory | server CPU per join, welcome | connections | kept on the device | |\n" +
      "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n" +
      rows.join("\n"),
  );
});
