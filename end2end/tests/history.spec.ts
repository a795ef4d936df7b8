// Version history: scrub the timeline to an earlier state, replay it,
// restore it for everyone, and name a version.
import { expect, Page } from "@playwright/test";
import * as path from "node:path";
import { test, SCREENSHOT_DIR, blocked, ink, scribble, thirds, twoPeople } from "./helpers";

/** Picks an item of the board menu. */
async function fromMenu(page: Page, item: string) {
  await page.getByRole("button", { name: "Menu", exact: true }).click();
  await page.getByRole("menuitem", { name: item }).click();
}

/** Moves the history slider to version `seq`, as dragging it would. */
async function scrubTo(page: Page, seq: number) {
  await page.getByRole("slider", { name: "Version" }).fill(String(seq));
}


test("scrubbing shows an earlier state, restoring it changes the board for everyone, and versions get names", async ({
  browser,
}) => {
  const { alice, bob } = await twoPeople(browser);
  for (const x of [100, 350, 600]) {
    await scribble(alice, x, 300, 140);
    await expect(alice.getByTestId("save-status")).toBeHidden();
  }
  await expect.poll(async () => (await thirds(bob)).every((n) => n > 50)).toBe(true);

  await fromMenu(alice, "Version history");
  const panel = alice.getByRole("dialog", { name: "Version history" });
  await expect(panel).toBeVisible();
  await expect(panel.getByTestId("history-label")).toHaveText("Now: version 3");
  // One session, by a guest, with three changes.
  await expect(panel.getByRole("button", { name: /3 changes/ })).toBeVisible();

  // Back to the first stroke: only the left third has ink, and the tools are gone.
  await scrubTo(alice, 1);
  await expect(panel.getByTestId("history-label")).toContainText("Version 1 of 3");
  await expect.poll(async () => (await thirds(alice)).map((n) => n > 50)).toEqual([true, false, false]);
  await expect(alice.getByRole("toolbar", { name: "Tools" })).toBeHidden();
  // Bob still sees the board as it is.
  expect((await thirds(bob)).every((n) => n > 50)).toBe(true);
  await alice.screenshot({ path: path.join(SCREENSHOT_DIR, "history-scrubbed.png") });

  // A replay from the start goes through every version, then back to now.
  await panel.getByRole("button", { name: "Replay speed" }).click();
  await panel.getByRole("button", { name: "Play", exact: true }).click();
  await expect(panel.getByTestId("history-label")).toHaveText("Now: version 3", { timeout: 10_000 });
  await expect(panel.getByRole("button", { name: "Play", exact: true })).toBeVisible();

  // Restore version 1: Bob's board loses the two later strokes.
  await scrubTo(alice, 1);
  await expect.poll(async () => (await thirds(alice)).map((n) => n > 50)).toEqual([true, false, false]);
  await panel.getByRole("button", { name: "Restore this version" }).click();
  await expect(alice.getByRole("status")).toHaveText("Restored version 1");
  await expect.poll(async () => (await thirds(bob)).map((n) => n > 50)).toEqual([true, false, false]);
  await expect(alice.getByRole("toolbar", { name: "Tools" })).toBeVisible();
  // The restore is one change; its author undoes it like any other.
  await alice.keyboard.press("Control+z");
  await expect.poll(async () => (await thirds(bob)).every((n) => n > 50)).toBe(true);

  // Naming the current version lists it in the panel.
  alice.once("dialog", (dialog) => dialog.accept("before the workshop"));
  await panel.getByRole("button", { name: "Name the current version" }).click();
  const named = panel.getByRole("button", { name: "★ before the workshop" });
  await expect(named).toBeVisible({ timeout: 10_000 });
  // Bob draws below; picking the name shows the board as it was named.
  await scribble(bob, 350, 520, 140);
  await expect(bob.getByTestId("save-status")).toBeHidden();
  await expect.poll(() => ink(alice, { x: 330, y: 470, w: 180, h: 100 })).toBeGreaterThan(50);
  await named.click();
  await expect(panel.getByTestId("history-label")).toContainText("Version 6 of 7");
  await expect.poll(() => ink(alice, { x: 330, y: 470, w: 180, h: 100 })).toBe(0);
  expect((await thirds(alice)).every((n) => n > 50)).toBe(true);
  await alice.screenshot({ path: path.join(SCREENSHOT_DIR, "history-panel.png") });

  // Closing the panel shows the live board again.
  await panel.getByRole("button", { name: "Close version history" }).click();
  await expect(panel).toBeHidden();
  expect(await blocked(alice)).toEqual([]);
});
