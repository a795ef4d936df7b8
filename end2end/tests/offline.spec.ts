// Offline that survives a reload: the page loads from the service worker,
// the board and the unsent strokes from IndexedDB, and when the network
// comes back everything is sent once, in order.
import { expect, Browser, BrowserContext, Page } from "@playwright/test";
import * as path from "node:path";
import { test, SCREENSHOT_DIR, freshBoard, openBoard, scribble, thirds } from "./helpers";

const OFFLINE = "offline — changes are kept on this device";

/** The board as stored: its last operation's number and its visible items, read over a raw socket (protocol 1, JSON snapshot). */
async function stored(browser: Browser, url: string): Promise<{ seq: number; items: string[] }> {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(new URL("/healthz", url).toString());
  const board = new URL(url).pathname.split("/").pop()!;
  const board_ = await page.evaluate(
    (board) =>
      new Promise<{ seq: number; items: string[] }>((resolve, reject) => {
        const ws = new WebSocket(`ws://${location.host}/ws/${board}`);
        ws.onmessage = (event) => {
          const message = JSON.parse(event.data);
          if (message.type !== "welcome") return;
          const items = message.snapshot.strokes
            .filter((s: { visible: boolean }) => s.visible)
            .map((s: { id: string }) => s.id);
          resolve({ seq: message.seq, items });
          ws.close();
        };
        ws.onerror = () => reject(new Error("raw socket failed"));
        ws.onopen = () => ws.send(JSON.stringify({ type: "hello", protocol: 1, user: "counter" }));
      }),
    board,
  );
  await context.close();
  return board_;
}

/**
 * A fresh board with Bob on it, and a page on it in a context of its own
 * (the one the test takes offline), once the service worker has kept the
 * page and its files (one visit is enough).
 */
async function boardToTakeOffline(
  browser: Browser,
): Promise<{ url: string; bob: Page; context: BrowserContext; page: Page }> {
  const url = await freshBoard(browser);
  const bob = await openBoard(browser, url);
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(url);
  await expect(page.getByTestId("connection-status")).toHaveText("connected");
  await expect
    .poll(() =>
      page.evaluate(async () => {
        await navigator.serviceWorker.ready;
        return (await caches.match(location.href)) !== undefined;
      }),
    )
    .toBe(true);
  return { url, bob, context, page };
}

test("drawing offline survives a reload and reaches everyone once when the network returns", async ({
  browser,
}) => {
  const { url, bob, context, page: alice } = await boardToTakeOffline(browser);

  await scribble(alice, 100, 300, 140);
  await expect(alice.getByTestId("save-status")).toBeHidden();

  await context.setOffline(true);
  await expect(alice.getByTestId("connection-status")).toHaveText(OFFLINE);
  await scribble(alice, 350, 300, 140);
  await expect(alice.getByTestId("save-status")).toHaveText("· 1 unsent");

  // Reloaded without a network: the page, the board and the unsent
  // stroke are all there at once.
  await alice.reload();
  await expect(alice.getByTestId("connection-status")).toHaveText(OFFLINE);
  await expect(alice.getByTestId("save-status")).toHaveText("· 1 unsent");
  await expect.poll(async () => (await thirds(alice)).slice(0, 2).every((n) => n > 50)).toBe(true);
  await scribble(alice, 600, 300, 140);
  await expect(alice.getByTestId("save-status")).toHaveText("· 2 unsent");
  await alice.screenshot({ path: path.join(SCREENSHOT_DIR, "offline-reloaded.png") });
  expect((await thirds(bob))[1]).toBe(0);

  await context.setOffline(false);
  await expect(alice.getByTestId("connection-status")).toHaveText("connected", { timeout: 15_000 });
  await expect(alice.getByTestId("save-status")).toBeHidden();
  await expect.poll(async () => (await thirds(bob)).every((n) => n > 50)).toBe(true);
  // Each stroke stored once: three operations, three items.
  const board = await stored(browser, url);
  expect(board.seq).toBe(3);
  expect(board.items).toHaveLength(3);
  await context.close();
});

/** The keys of what the browser keeps for offline use (IndexedDB). */
async function keptKeys(page: Page): Promise<string[]> {
  return page.evaluate(
    () =>
      new Promise<string[]>((resolve, reject) => {
        const opening = indexedDB.open("whiteboard");
        opening.onerror = () => reject(opening.error);
        opening.onsuccess = () => {
          const keys = opening.result.transaction("kept").objectStore("kept").getAllKeys();
          keys.onsuccess = () => {
            resolve(keys.result.map(String));
            opening.result.close();
          };
        };
      }),
  );
}

/** How many tabs' lists of unsent changes the browser keeps for the page's board. */
async function keptLists(page: Page): Promise<number> {
  const board = new URL(page.url()).pathname.split("/").pop();
  return (await keptKeys(page)).filter((key) => key.startsWith(`${board}/pending/`)).length;
}

test("two tabs offline keep their own work, and a closed tab's is sent by the next tab", async ({ browser }) => {
  const { url, bob, context, page: first } = await boardToTakeOffline(browser);
  const second = await context.newPage();
  await second.goto(url);
  await expect(second.getByTestId("connection-status")).toHaveText("connected");

  await context.setOffline(true);
  for (const [tab, x] of [
    [first, 100],
    [second, 350],
  ] as const) {
    await expect(tab.getByTestId("connection-status")).toHaveText(OFFLINE);
    // Tabs in the background get no frames: input goes to the one in front.
    await tab.bringToFront();
    await scribble(tab, x, 300, 140);
    await expect(tab.getByTestId("save-status")).toHaveText("· 1 unsent");
  }
  await expect.poll(() => keptLists(second)).toBe(2);

  // The first tab closes with its stroke unsent; a new tab takes it up.
  await first.close();
  const third = await context.newPage();
  await third.goto(url);
  await expect(third.getByTestId("connection-status")).toHaveText(OFFLINE);
  await expect(third.getByTestId("save-status")).toHaveText("· 1 unsent");
  await expect.poll(async () => (await thirds(third))[0]).toBeGreaterThan(50);

  await context.setOffline(false);
  for (const tab of [second, third]) {
    await expect(tab.getByTestId("connection-status")).toHaveText("connected", { timeout: 15_000 });
    await expect(tab.getByTestId("save-status")).toBeHidden();
  }
  await expect.poll(async () => (await thirds(bob)).slice(0, 2).every((n) => n > 50)).toBe(true);
  await expect.poll(() => keptLists(third)).toBe(0);
  const board = await stored(browser, url);
  expect(board.seq).toBe(2);
  expect(board.items).toHaveLength(2);
  await context.close();
});

test("an erase made offline of what someone else erased meanwhile is dropped without a word", async ({
  browser,
}) => {
  const url = await freshBoard(browser);
  const bob = await openBoard(browser, url);
  const context = await browser.newContext();
  const alice = await context.newPage();
  // Every notice the page shows (they fade after a few seconds).
  await alice.addInitScript(() => {
    const seen: string[] = [];
    (window as unknown as { __notices: string[] }).__notices = seen;
    new MutationObserver(() => {
      const text = document.querySelector(".toast")?.textContent?.trim() ?? "";
      if (text && seen[seen.length - 1] !== text) seen.push(text);
    }).observe(document, { subtree: true, childList: true, characterData: true });
  });
  await alice.goto(url);
  await expect(alice.getByTestId("connection-status")).toHaveText("connected");
  await scribble(alice, 100, 300, 140);
  await expect(alice.getByTestId("save-status")).toBeHidden();
  await expect.poll(async () => (await thirds(bob))[0]).toBeGreaterThan(50);

  await context.setOffline(true);
  await expect(alice.getByTestId("connection-status")).toHaveText(OFFLINE);
  await alice.keyboard.press("e");
  await scribble(alice, 90, 300, 170);
  await expect(alice.getByTestId("save-status")).toHaveText("· 1 unsent");
  await expect.poll(async () => (await thirds(alice))[0]).toBe(0);
  await bob.keyboard.press("e");
  await scribble(bob, 90, 300, 170);
  await expect.poll(async () => (await thirds(bob))[0]).toBe(0);

  await context.setOffline(false);
  await expect(alice.getByTestId("connection-status")).toHaveText("connected", { timeout: 15_000 });
  await expect(alice.getByTestId("save-status")).toBeHidden();
  expect(await alice.evaluate(() => (window as unknown as { __notices: string[] }).__notices)).toEqual([]);
  expect((await thirds(alice))[0]).toBe(0);
  // The stroke and Bob's erase: Alice's erase came too late to be one.
  const board = await stored(browser, url);
  expect(board.seq).toBe(2);
  expect(board.items).toEqual([]);
  await context.close();
});

test("the browser keeps the boards of its recent list and forgets the others", async ({ browser }) => {
  const { url, context, page } = await boardToTakeOffline(browser);
  const board = new URL(url).pathname.split("/").pop();
  await scribble(page, 100, 300, 140);
  // Kept a moment after it changed.
  await expect.poll(() => keptKeys(page)).toContain(`${board}/board`);

  // Off the start page's list, it is forgotten when another board opens.
  await page.evaluate(() => localStorage.setItem("whiteboard.recent", "[]"));
  const other = await freshBoard(browser);
  await page.goto(other);
  await expect(page.getByTestId("connection-status")).toHaveText("connected");
  await expect.poll(() => keptKeys(page)).not.toContain(`${board}/board`);
  await context.close();
});

test("a stroke survives a reload right after it is drawn, offline", async ({ browser }) => {
  const { url, context, page } = await boardToTakeOffline(browser);
  await context.setOffline(true);
  await expect(page.getByTestId("connection-status")).toHaveText(OFFLINE);
  // No waiting for anything to be written: the page goes away at once.
  await scribble(page, 100, 300, 140);
  await page.reload();
  await expect(page.getByTestId("save-status")).toHaveText("· 1 unsent");
  await context.setOffline(false);
  await expect(page.getByTestId("save-status")).toBeHidden({ timeout: 15_000 });
  expect((await stored(browser, url)).items).toHaveLength(1);
  await context.close();
});
