// Two people on one board, in a real Chromium, against the real server.
import { expect } from "@playwright/test";
import * as fs from "node:fs";
import * as path from "node:path";
import { test, SCREENSHOT_DIR, blocked, freshBoard, ink, newBoardUrl, openBoard, pixelAt, scribble, clearBoard } from "./helpers";

test("the landing page creates boards and remembers them", async ({ page }) => {
  const url = await newBoardUrl(page);
  await expect(page.getByTestId("connection-status")).toHaveText("connected");
  const id = url.split("/b/")[1];
  await page.goto("/");
  await expect(page.getByRole("link", { name: new RegExp(`Board ${id.slice(0, 8)}`) })).toBeVisible();
  fs.mkdirSync(SCREENSHOT_DIR, { recursive: true });
  await page.screenshot({ path: path.join(SCREENSHOT_DIR, "landing.png") });
  const second = await newBoardUrl(page);
  expect(second).not.toEqual(url);
});

test("a stroke appears on the other screen while it is drawn, and undo removes it", async ({ browser }, testInfo) => {
  const url = await freshBoard(browser);
  const alice = await openBoard(browser, url);
  const bob = await openBoard(browser, url);
  await expect(alice.getByTestId("presence-count")).toHaveText("2");
  await expect(bob.getByTestId("presence-count")).toHaveText("2");
  expect(await ink(bob)).toBe(0);

  // Alice draws; Bob sees ink before she lifts the pen.
  await alice.getByRole("button", { name: "Red", exact: true }).click();
  await scribble(alice, 300, 400, 500, false);
  await expect.poll(() => ink(bob, { x: 280, y: 340, w: 540, h: 120 })).toBeGreaterThan(200);
  await alice.mouse.up();
  await expect.poll(() => ink(bob)).toBeGreaterThan(500);
  // Same colour on both screens.
  const bobPixel = await pixelAt(bob, 300, 400);
  expect(bobPixel[0]).toBeGreaterThan(180);
  expect(bobPixel[1]).toBeLessThan(120);

  // Bob draws too, in blue, with a bold pen.
  await bob.getByRole("button", { name: "Blue", exact: true }).click();
  await bob.getByRole("button", { name: "Bold", exact: true }).click();
  await scribble(bob, 300, 600, 600);
  await expect.poll(() => ink(alice, { x: 280, y: 540, w: 640, h: 120 })).toBeGreaterThan(500);

  fs.mkdirSync(SCREENSHOT_DIR, { recursive: true });
  for (const [name, page] of [["alice", alice], ["bob", bob]] as const) {
    const shot = await page.screenshot();
    fs.writeFileSync(path.join(SCREENSHOT_DIR, `two-people-${name}.png`), shot);
    await testInfo.attach(`board-${name}`, { body: shot, contentType: "image/png" });
  }

  // Alice's undo takes back her stroke only, on both screens.
  await alice.getByRole("button", { name: "Undo", exact: true }).click();
  await expect.poll(() => ink(bob, { x: 280, y: 340, w: 540, h: 120 })).toBe(0);
  expect(await ink(bob, { x: 280, y: 540, w: 640, h: 120 })).toBeGreaterThan(500);
  await alice.getByRole("button", { name: "Redo", exact: true }).click();
  await expect.poll(() => ink(bob, { x: 280, y: 340, w: 540, h: 120 })).toBeGreaterThan(200);

  // Reloading shows the same board.
  const before = await ink(bob);
  await bob.reload();
  await expect(bob.getByTestId("connection-status")).toHaveText("connected");
  await expect.poll(() => ink(bob)).toBe(before);
  // Hydrated, drawn and synced within the pages' Content-Security-Policy.
  expect(await blocked(alice)).toEqual([]);
  expect(await blocked(bob)).toEqual([]);
});

test("the eraser and clear board act for everyone", async ({ browser }) => {
  const url = await freshBoard(browser);
  const alice = await openBoard(browser, url);
  const bob = await openBoard(browser, url);

  await scribble(alice, 200, 300, 300);
  await scribble(alice, 200, 550, 300);
  await expect.poll(() => ink(bob)).toBeGreaterThan(500);
  const top = { x: 180, y: 250, w: 340, h: 100 };
  const bottom = { x: 180, y: 500, w: 340, h: 100 };

  // Erase the top stroke with a vertical swipe across it.
  await bob.getByRole("button", { name: "Eraser", exact: true }).click();
  await expect(bob.getByRole("button", { name: "Eraser", exact: true })).toHaveAttribute("aria-pressed", "true");
  await bob.mouse.move(350, 240);
  await bob.mouse.down();
  await bob.mouse.move(350, 360, { steps: 10 });
  await bob.mouse.up();
  await expect.poll(() => ink(alice, top)).toBe(0);
  expect(await ink(alice, bottom)).toBeGreaterThan(200);

  // Clear asks first; declining changes nothing.
  await clearBoard(bob, false);
  await alice.waitForTimeout(300);
  expect(await ink(alice, bottom)).toBeGreaterThan(200);
  await clearBoard(bob, true);
  await expect.poll(() => ink(alice)).toBe(0);

  // Bob's undo brings the board back (his clear was his last action).
  await bob.keyboard.press("Control+z");
  await expect.poll(() => ink(alice, bottom)).toBeGreaterThan(200);
});

test("drawing during a network drop is kept and sent after reconnecting", async ({ browser }) => {
  const url = await freshBoard(browser);
  const bob = await openBoard(browser, url);

  // Alice's WebSocket goes through a proxy that the test can cut.
  const context = await browser.newContext();
  const alice = await context.newPage();
  let online = true;
  const sockets: { close: () => Promise<void> }[] = [];
  await alice.routeWebSocket(/\/ws\//, (ws) => {
    if (!online) {
      ws.close();
      return;
    }
    ws.connectToServer();
    sockets.push(ws);
  });
  await alice.goto(url);
  await expect(alice.getByTestId("connection-status")).toHaveText("connected");

  online = false;
  await Promise.all(sockets.map((s) => s.close()));
  await expect(alice.getByTestId("connection-status")).toHaveText("offline — changes are kept on this device");
  await scribble(alice, 300, 400, 400);
  expect(await ink(alice)).toBeGreaterThan(300);
  await alice.waitForTimeout(500);
  expect(await ink(bob)).toBe(0);

  online = true;
  await expect(alice.getByTestId("connection-status")).toHaveText("connected", { timeout: 15_000 });
  await expect.poll(() => ink(bob)).toBeGreaterThan(300);
  // Exactly one copy: after a reload Bob's board has the same ink.
  const seen = await ink(bob);
  await bob.reload();
  await expect(bob.getByTestId("connection-status")).toHaveText("connected");
  await expect.poll(() => ink(bob)).toBe(seen);
});

test("keyboard shortcuts switch tools and the toolbar is accessible", async ({ browser }) => {
  const url = await freshBoard(browser);
  const page = await openBoard(browser, url);
  // Named by what they show (the zoom level resets the zoom).
  for (const name of ["Undo", "Redo", "Menu", "Share", "Zoom in", "Zoom out", "Zoom to fit", "100%"]) {
    await expect(page.getByRole("button", { name, exact: true })).toBeVisible();
  }
  await expect(page.getByRole("button", { name: "Pen", exact: true })).toHaveAttribute("aria-pressed", "true");
  // Every tool has a shortcut, and the active one is announced with aria-pressed.
  const tools: [string, string][] = [
    ["v", "Select"], ["h", "Hand"], ["p", "Pen"], ["e", "Eraser"], ["r", "Rectangle"],
    ["o", "Ellipse"], ["l", "Line"], ["a", "Arrow"], ["t", "Text"],
  ];
  for (const [key, name] of tools) {
    await page.keyboard.press(key);
    await expect(page.getByRole("button", { name, exact: true })).toHaveAttribute("aria-pressed", "true");
    for (const [, other] of tools.filter(([, n]) => n !== name)) {
      await expect(page.getByRole("button", { name: other, exact: true })).toHaveAttribute("aria-pressed", "false");
    }
  }
  // The toolbar is reachable with the keyboard: Tab to a tool, Enter picks it.
  await page.getByRole("button", { name: "Pen", exact: true }).focus();
  await page.keyboard.press("Tab");
  await page.keyboard.press("Enter");
  await expect(page.getByRole("button", { name: "Eraser", exact: true })).toHaveAttribute("aria-pressed", "true");
  // "?" opens the shortcut help, Escape closes it.
  await page.keyboard.press("?");
  const help = page.getByRole("dialog", { name: "Keyboard shortcuts" });
  await expect(help).toBeVisible();
  await expect(help.getByRole("row", { name: /Rectangle\s+R/ })).toBeVisible();
  await page.keyboard.press("Escape");
  await expect(help).toBeHidden();
});

test("the site's files are compressed, named by their content and cached for good", async ({ page }) => {
  const wasm = page.waitForResponse((r) => new URL(r.url()).pathname.endsWith(".wasm"));
  const css = page.waitForResponse((r) => new URL(r.url()).pathname.endsWith(".css"));
  await page.goto("/");
  for (const response of [await wasm, await css]) {
    // whiteboard.<hash>.wasm: a new release gets new names.
    expect(new URL(response.url()).pathname).toMatch(/^\/pkg\/whiteboard\.[A-Za-z0-9_-]{16,}\.(wasm|css)$/);
    const headers = await response.allHeaders();
    expect(headers["cache-control"]).toBe("public, max-age=31536000, immutable");
    expect(["br", "gzip"]).toContain(headers["content-encoding"]);
  }
  // The page itself is never cached for good: it names the current files.
  const html = await page.request.get("/");
  expect(html.headers()["cache-control"] ?? "").not.toContain("immutable");
});

test("an invalid board link says so", async ({ page }) => {
  await page.goto("/b/nope");
  await expect(page.getByRole("heading", { name: "This board link is not valid" })).toBeVisible();
});
