// Sharing a board: its view link watches and changes nothing; a new edit
// link locks out everyone who came with the old one.
import { expect, Browser, Page } from "@playwright/test";
import * as fs from "node:fs";
import * as path from "node:path";
import { test, SCREENSHOT_DIR, blocked, freshBoard, ink, openBoard, scribble, watchSecurityPolicy } from "./helpers";

/** A page in a context that may use the clipboard, live on `url`. */
async function withClipboard(browser: Browser, url: string): Promise<Page> {
  const context = await browser.newContext({ permissions: ["clipboard-read", "clipboard-write"] });
  const page = await context.newPage();
  await watchSecurityPolicy(page);
  await page.goto(url);
  await expect(page.getByTestId("connection-status")).toHaveText("connected");
  return page;
}

/** Picks an item of the board menu. */
async function fromMenu(page: Page, item: string) {
  await page.getByRole("button", { name: "Menu", exact: true }).click();
  await page.getByRole("menuitem", { name: item }).click();
}

/** What a page whose link opens nothing any more says. */
const replaced = "this link no longer opens the board: ask for a new one";

async function clipboard(page: Page): Promise<string> {
  return page.evaluate(() => navigator.clipboard.readText());
}

test("a view link shows the board live, changes nothing, and outlives a new edit link", async ({ browser }) => {
  const url = await freshBoard(browser);
  const alice = await withClipboard(browser, url);
  await scribble(alice, 300, 300, 300);

  // Alice copies the view link; it names no board id.
  await fromMenu(alice, "Copy view link");
  await expect(alice.getByRole("status")).toHaveText("Link copied");
  const viewLink = await clipboard(alice);
  const id = url.split("/b/")[1];
  expect(viewLink).toMatch(/\/v\/[A-Za-z0-9_-]{22}$/);
  expect(viewLink).not.toContain(id);

  // Vera watches: the board as it is, no drawing tools, a badge.
  const vera = await openBoard(browser, viewLink);
  await expect.poll(() => ink(vera)).toBeGreaterThan(300);
  await expect(vera.getByTestId("view-only")).toBeVisible();
  for (const hidden of ["Pen", "Undo", "Redo"]) {
    await expect(vera.getByRole("button", { name: hidden, exact: true })).toBeHidden();
  }
  await vera.getByRole("button", { name: "Menu", exact: true }).click();
  await expect(vera.getByRole("menuitem", { name: "Export PNG (whole board)" })).toBeVisible();
  for (const hidden of ["Clear board", "Import JSON…", "New edit link…"]) {
    await expect(vera.getByRole("menuitem", { name: hidden })).toBeHidden();
  }
  await vera.getByRole("button", { name: "Menu", exact: true }).click();
  // Alice sees her in the people list as watching.
  await alice.getByRole("button", { name: "People on this board" }).click();
  await expect(alice.getByRole("list", { name: "People on this board" })).toContainText("viewing");
  // Closed again: an open panel takes the next press on the board.
  await alice.keyboard.press("Escape");

  // Keys and the pointer change nothing: no tool to pick, a drag pans.
  const before = await ink(alice);
  await vera.keyboard.press("p");
  await scribble(vera, 200, 500, 400);
  await vera.keyboard.press("Control+a");
  await vera.keyboard.press("Delete");
  await alice.waitForTimeout(500);
  expect(await ink(alice)).toBe(before);

  // Alice's next stroke reaches her live.
  const seen = await ink(vera);
  await scribble(alice, 300, 500, 300);
  await expect.poll(() => ink(vera)).toBeGreaterThan(seen);

  // Bob came with the plain edit link.
  const bob = await openBoard(browser, url);
  fs.mkdirSync(SCREENSHOT_DIR, { recursive: true });
  await vera.screenshot({ path: path.join(SCREENSHOT_DIR, "view-link.png") });

  // Alice makes a new edit link: Bob is locked out, Alice and Vera stay.
  alice.once("dialog", (dialog) => dialog.accept());
  await fromMenu(alice, "New edit link…");
  await expect(alice.getByRole("status")).toHaveText("New edit link copied; the old one no longer works");
  const editLink = await clipboard(alice);
  expect(editLink).toMatch(new RegExp(`/b/${id}#k=[A-Za-z0-9_-]{22}$`));
  expect(alice.url()).toBe(editLink);
  await expect(bob.getByTestId("connection-status")).toHaveText(replaced);
  await expect(bob.getByRole("button", { name: "Pen", exact: true })).toBeHidden();
  await expect(bob.getByTestId("presence-count")).toHaveText("0");
  await expect(alice.getByTestId("connection-status")).toHaveText("connected");
  await bob.screenshot({ path: path.join(SCREENSHOT_DIR, "edit-link-replaced.png") });
  const inked = await ink(vera);
  await scribble(alice, 300, 650, 300);
  await expect.poll(() => ink(vera)).toBeGreaterThan(inked);

  // The old link opens nothing any more; the new one edits, and the
  // browser keeps its key for the next visit.
  const carol = await browser.newPage();
  await carol.goto(url);
  await expect(carol.getByTestId("connection-status")).toHaveText(replaced);
  const dave = await openBoard(browser, editLink);
  await expect.poll(() => ink(dave)).toBeGreaterThan(300);
  await dave.goto(url);
  await expect(dave.getByTestId("connection-status")).toHaveText("connected");
  await expect(dave).toHaveURL(editLink);
  // A view link no board has says so too (and a malformed one is no link).
  await carol.goto(`/v/${"A".repeat(22)}`);
  await expect(carol.getByTestId("connection-status")).toHaveText(replaced);
  await carol.goto("/v/nope");
  await expect(carol.getByRole("heading", { name: "This board link is not valid" })).toBeVisible();
  for (const page of [alice, vera, bob, dave]) expect(await blocked(page)).toEqual([]);
});
