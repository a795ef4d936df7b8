// Helpers shared by the Playwright specs.
import { test as base, expect, Browser, Page } from "@playwright/test";
import AxeBuilder from "@axe-core/playwright";
import * as fs from "node:fs";
import * as path from "node:path";

/**
 * Playwright's `test`, closing every browser context a test opened when it
 * ends. Each open board page holds a WebSocket, and the server lets one
 * address hold only 64 at once (`--connections-per-address`): pages a test
 * left open would make a later spec's page fail to connect, depending on
 * the order specs run in. Every spec imports `test` from here.
 */
export const test = base.extend<{ closeContexts: void }>({
  closeContexts: [
    async ({ browser }, use) => {
      await use();
      await Promise.all(browser.contexts().map((context) => context.close()));
    },
    { auto: true },
  ],
});

/** Screenshots worth looking at land here (and in the test's output dir). */
export const SCREENSHOT_DIR = path.resolve(__dirname, "..", "screenshots");

/** Opens a board in a fresh browser context (a different person) and waits until it is live. */
export async function openBoard(browser: Browser, url: string): Promise<Page> {
  const context = await browser.newContext();
  const page = await context.newPage();
  await watchSecurityPolicy(page);
  await page.goto(url);
  await expect(page.getByTestId("connection-status")).toHaveText("connected");
  return page;
}

/** Records what the page's Content-Security-Policy blocks (see `blocked`). */
export async function watchSecurityPolicy(page: Page) {
  await page.addInitScript(() => {
    const seen: string[] = [];
    (window as unknown as { __blocked: string[] }).__blocked = seen;
    document.addEventListener("securitypolicyviolation", (e) =>
      seen.push(`${e.effectiveDirective} ${e.blockedURI}`),
    );
  });
}

/** What the page's Content-Security-Policy blocked since it loaded. */
export async function blocked(page: Page): Promise<string[]> {
  return page.evaluate(() => (window as unknown as { __blocked: string[] }).__blocked);
}

export async function newBoardUrl(page: Page): Promise<string> {
  await page.goto("/");
  await page.getByRole("button", { name: "New board", exact: true }).click();
  await expect(page).toHaveURL(/\/b\/[A-Za-z0-9_-]{22}$/);
  return page.url();
}

/** Number of canvas pixels with any ink, optionally inside a region (CSS px). */
export async function ink(
  page: Page,
  region?: { x: number; y: number; w: number; h: number },
  testId = "board-canvas",
): Promise<number> {
  return page.evaluate(([region, testId]) => {
    const canvas = document.querySelector<HTMLCanvasElement>(`[data-testid="${testId}"]`)!;
    const ctx = canvas.getContext("2d")!;
    const scale = canvas.width / canvas.clientWidth;
    const r = region ?? { x: 0, y: 0, w: canvas.clientWidth, h: canvas.clientHeight };
    const data = ctx.getImageData(r.x * scale, r.y * scale, r.w * scale, r.h * scale).data;
    let count = 0;
    for (let i = 3; i < data.length; i += 4) if (data[i] > 0) count++;
    return count;
  }, [region, testId] as const);
}

/** Ink around three strokes drawn with `scribble(page, x, 300, 140)` at x = 100, 350 and 600. */
export async function thirds(page: Page): Promise<number[]> {
  return Promise.all([
    ink(page, { x: 80, y: 220, w: 180, h: 160 }),
    ink(page, { x: 330, y: 220, w: 180, h: 160 }),
    ink(page, { x: 580, y: 220, w: 180, h: 160 }),
  ]);
}

/** The colour of the pixel with the most ink near a point, as [r, g, b, a]. */
export async function pixelAt(page: Page, x: number, y: number): Promise<number[]> {
  return page.evaluate(
    ([x, y]) => {
      const canvas = document.querySelector<HTMLCanvasElement>('[data-testid="board-canvas"]')!;
      const scale = canvas.width / canvas.clientWidth;
      return Array.from(canvas.getContext("2d")!.getImageData(x * scale, y * scale, 1, 1).data);
    },
    [x, y],
  );
}

export type Region = { x: number; y: number; w: number; h: number };

/** A region around a point, `r` pixels each way. */
export const around = (x: number, y: number, r = 12): Region => ({ x: x - r, y: y - r, w: 2 * r, h: 2 * r });

/** Picks a tool by its button and waits until the toolbar says so. */
export async function pick(page: Page, tool: string) {
  await page.getByRole("button", { name: tool, exact: true }).click();
  await expect(page.getByRole("button", { name: tool, exact: true })).toHaveAttribute("aria-pressed", "true");
}

/** A screenshot worth looking at, in `SCREENSHOT_DIR`. */
export async function shoot(page: Page, name: string) {
  fs.mkdirSync(SCREENSHOT_DIR, { recursive: true });
  await page.screenshot({ path: path.join(SCREENSHOT_DIR, `${name}.png`) });
}

/** A fresh board's URL, created through the landing page. */
export async function freshBoard(browser: Browser): Promise<string> {
  const setup = await browser.newPage();
  const url = await newBoardUrl(setup);
  await setup.close();
  return url;
}

/** Alice and Bob, two people on one fresh board. */
export async function twoPeople(browser: Browser): Promise<{ alice: Page; bob: Page; url: string }> {
  const url = await freshBoard(browser);
  return { alice: await openBoard(browser, url), bob: await openBoard(browser, url), url };
}

/** A wavy drag from (x0, y) over `width` pixels; leaves the button down if asked. */
export async function scribble(page: Page, x0: number, y: number, width: number, release = true) {
  await page.mouse.move(x0, y);
  await page.mouse.down();
  for (let i = 1; i <= 30; i++) {
    await page.mouse.move(x0 + (width * i) / 30, y + Math.sin(i / 3) * 25, { steps: 2 });
  }
  if (release) await page.mouse.up();
}


/** Clears the board through the menu, accepting or declining the confirmation. */
export async function clearBoard(page: Page, accept: boolean) {
  page.once("dialog", (dialog) => (accept ? dialog.accept() : dialog.dismiss()));
  await page.getByRole("button", { name: "Menu", exact: true }).click();
  await page.getByRole("menuitem", { name: "Clear board" }).click();
}

/** A drag from one point to another in small steps, optionally holding shift. */
export async function drag(page: Page, from: [number, number], to: [number, number], shift = false) {
  await page.mouse.move(from[0], from[1]);
  if (shift) await page.keyboard.down("Shift");
  await page.mouse.down();
  await page.mouse.move(to[0], to[1], { steps: 12 });
  await page.mouse.up();
  if (shift) await page.keyboard.up("Shift");
}

/** A hash of the board canvas' pixels, to tell whether what it shows changed. */
export async function canvasHash(page: Page, testId = "board-canvas"): Promise<number> {
  return page.evaluate((testId) => {
    const canvas = document.querySelector<HTMLCanvasElement>(`[data-testid="${testId}"]`)!;
    const data = canvas.getContext("2d")!.getImageData(0, 0, canvas.width, canvas.height).data;
    let hash = 0;
    for (let i = 0; i < data.length; i += 7) hash = (hash * 31 + data[i]) | 0;
    return hash;
  }, testId);
}

/** The box (CSS px) around all ink on the board canvas, or null when empty. */
export async function inkBounds(page: Page): Promise<{ x0: number; y0: number; x1: number; y1: number } | null> {
  return page.evaluate(() => {
    const canvas = document.querySelector<HTMLCanvasElement>('[data-testid="board-canvas"]')!;
    const scale = canvas.width / canvas.clientWidth;
    const data = canvas.getContext("2d")!.getImageData(0, 0, canvas.width, canvas.height).data;
    let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
    for (let y = 0; y < canvas.height; y++) {
      for (let x = 0; x < canvas.width; x++) {
        if (data[(y * canvas.width + x) * 4 + 3] > 0) {
          x0 = Math.min(x0, x); y0 = Math.min(y0, y); x1 = Math.max(x1, x); y1 = Math.max(y1, y);
        }
      }
    }
    if (x0 === Infinity) return null;
    return { x0: x0 / scale, y0: y0 / scale, x1: x1 / scale, y1: y1 / scale };
  });
}

/** The ink box once the canvas has settled (redraws happen on the next animation frame). */
export async function settledInkBounds(page: Page) {
  let previous = JSON.stringify(await inkBounds(page));
  await expect
    .poll(async () => {
      await page.waitForTimeout(50);
      const current = JSON.stringify(await inkBounds(page));
      const settled = current === previous && current !== "null";
      previous = current;
      return settled;
    })
    .toBe(true);
  return (await inkBounds(page))!;
}

/** Waits until the board canvas stops changing (nothing more arriving). */
export async function settledCanvas(page: Page) {
  let previous = await canvasHash(page);
  await expect
    .poll(async () => {
      await page.waitForTimeout(150);
      const current = await canvasHash(page);
      const settled = current === previous;
      previous = current;
      return settled;
    })
    .toBe(true);
}

/**
 * Channel values of the board canvas that change when the same view is
 * painted again from scratch (the window resized and back), by more than
 * antialiasing explains: 0 when what was painted piecemeal (damage,
 * strips) is what a full paint gives.
 */
export async function staleChannels(page: Page): Promise<number> {
  const frames = () => page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
  await frames();
  await page.evaluate(() => {
    const canvas = document.querySelector<HTMLCanvasElement>('[data-testid="board-canvas"]')!;
    (window as any).__piecemeal = canvas.getContext("2d")!.getImageData(0, 0, canvas.width, canvas.height).data;
  });
  const size = page.viewportSize()!;
  await page.setViewportSize({ width: size.width, height: size.height + 1 });
  await frames();
  await page.setViewportSize(size);
  // A big view is painted over several frames: wait until it is done.
  await settledCanvas(page);
  return page.evaluate(() => {
    const canvas = document.querySelector<HTMLCanvasElement>('[data-testid="board-canvas"]')!;
    const now = canvas.getContext("2d")!.getImageData(0, 0, canvas.width, canvas.height).data;
    const before: Uint8ClampedArray = (window as any).__piecemeal;
    // Skia rasterises a curve that crosses the canvas edge a little
    // differently from one inside it, so antialiased edge pixels may differ
    // slightly; a stroke missing, doubled or cut off differs by far more.
    let count = 0;
    for (let i = 0; i < now.length; i++) if (Math.abs(now[i] - before[i]) > 64) count++;
    return count;
  });
}

/**
 * A page on the board's origin with a raw WebSocket on the board (protocol
 * version 1, as docs/protocol.md has it): `send(frame)` resolves with the
 * `ack` or `error` that answers the frame's `op_id`.
 */
export async function rawSocket(browser: Browser, boardUrl: string): Promise<Page> {
  const page = await (await browser.newContext()).newPage();
  await page.goto(new URL("/healthz", boardUrl).toString());
  const board = new URL(boardUrl).pathname.split("/").pop()!;
  await page.evaluate(
    (board) =>
      new Promise<void>((resolve, reject) => {
        const ws = new WebSocket(`ws://${location.host}/ws/${board}`);
        const waiting = new Map<string, (answer: string) => void>();
        ws.onmessage = (event) => {
          if (typeof event.data !== "string") return;
          const message = JSON.parse(event.data);
          if (message.type === "welcome") resolve();
          if (message.type === "error" && !message.op_id) {
            // Refusals do not always name the request (see docs/protocol.md):
            // answer every request waiting.
            for (const done of waiting.values()) done(`error: ${message.message}`);
            waiting.clear();
          }
          const done = message.op_id && waiting.get(message.op_id);
          if (done && (message.type === "ack" || message.type === "error")) done(message.type);
        };
        ws.onerror = () => reject(new Error("raw socket failed"));
        ws.onopen = () => ws.send(JSON.stringify({ type: "hello", protocol: 1, user: "raw-socket" }));
        (window as any).send = (frame: any) =>
          new Promise<string>((done) => {
            waiting.set(frame.op_id, done);
            ws.send(JSON.stringify(frame));
          });
      }),
    board,
  );
  return page;
}

/** Adds `count` freshly made freehand strokes (`seed0`, `seed1`, …) of 20 points over 2560 × 1600 board units. */
export async function seedStrokes(raw: Page, count: number) {
  const answers: string[] = await raw.evaluate(async (count) => {
    let value = 7;
    const random = () => ((value = (value * 1103515245 + 12345) % 2147483648) / 2147483648);
    const colors = ["#1e1e1e", "#e03131", "#2f9e44", "#1971c2"];
    const sent = [];
    // 100 strokes a frame: frames are limited to 64 KiB.
    for (let first = 0; first < count; first += 100) {
      const strokes = [];
      for (let i = first; i < Math.min(count, first + 100); i++) {
        let x = random() * 2560;
        let y = random() * 1600;
        const points = [];
        for (let p = 0; p < 20; p++) {
          x += random() * 8 - 3;
          y += random() * 8 - 4;
          points.push([Math.round(x * 10) / 10, Math.round(y * 10) / 10, 0.5]);
        }
        strokes.push({ id: `seed${i}`, color: colors[i % colors.length], width: 1 + (i % 4), points });
      }
      sent.push((window as any).send({ type: "add_strokes", op_id: `seed-${first}`, strokes }));
    }
    return Promise.all(sent);
  }, count);
  expect(answers.filter((a) => a !== "ack")).toEqual([]);
}

/** axe-core over the page as it is now; returns the serious and critical findings (lesser ones are printed). */
export async function scan(page: Page, what: string): Promise<string[]> {
  const results = await new AxeBuilder({ page })
    // A control's name holds its visible text (WCAG 2.5.3): axe's rule
    // for it is marked experimental, so it is asked for by name.
    .options({ rules: { "label-content-name-mismatch": { enabled: true } } })
    .analyze();
  const found = results.violations.map((violation) => ({
    line: `${what}: ${violation.id} (${violation.impact}): ${violation.help} — ${violation.nodes
      .map((node) => node.target.join(" "))
      .join(", ")}`,
    bad: violation.impact === "serious" || violation.impact === "critical",
  }));
  for (const { line, bad } of found) if (!bad) console.log(`(minor) ${line}`);
  return found.filter(({ bad }) => bad).map(({ line }) => line);
}
