// Working together on one board, beyond drawing: the laser pointer,
// others' selections, announcements (following: follow.spec.ts).
import { expect } from "@playwright/test";
import { test, around, drag, ink, pick, scribble, shoot, twoPeople } from "./helpers";

test("a laser trail shows on the other page, fades within a second, and is never stored", async ({ browser }) => {
  const { alice, bob } = await twoPeople(browser);
  await alice.keyboard.press("k");
  await expect(alice.getByRole("button", { name: "Laser pointer", exact: true })).toHaveAttribute("aria-pressed", "true");
  // The style panel is for drawing tools: the laser draws nothing.
  await expect(alice.getByRole("group", { name: "Style" })).toBeHidden();

  await alice.mouse.move(300, 300);
  await alice.mouse.down();
  await alice.mouse.move(700, 420, { steps: 25 });
  // The middle of the sweep, on both pages, while the button is held.
  await expect.poll(() => ink(bob, around(500, 360, 6), "overlay-canvas")).toBeGreaterThan(0);
  await expect.poll(() => ink(alice, around(500, 360, 6), "overlay-canvas")).toBeGreaterThan(0);
  await shoot(bob, "laser");
  await bob.emulateMedia({ colorScheme: "dark" });
  await shoot(bob, "laser-dark");
  await alice.mouse.up();

  // Faded everywhere within a second and a half; nothing on the board.
  await expect.poll(() => ink(bob, around(500, 360, 6), "overlay-canvas"), { timeout: 1_500 }).toBe(0);
  await expect.poll(() => ink(alice, around(500, 360, 6), "overlay-canvas"), { timeout: 1_500 }).toBe(0);
  expect(await ink(bob)).toBe(0);
  await alice.reload();
  await expect(alice.getByTestId("connection-status")).toHaveText("connected");
  await alice.waitForTimeout(300);
  expect(await ink(alice)).toBe(0);
});

test("what one person selects is outlined on the other page, in their colour, with their name", async ({ browser }) => {
  const { alice, bob } = await twoPeople(browser);
  await pick(alice, "Rectangle");
  await drag(alice, [400, 300], [600, 420]);
  await expect.poll(() => ink(bob, around(500, 300, 4))).toBeGreaterThan(0);
  // Left of the rectangle, where the dashed outline goes (5 px out).
  const outline = { x: 390, y: 330, w: 8, h: 60 };
  const label = { x: 395, y: 272, w: 40, h: 18 };
  expect(await ink(bob, outline, "overlay-canvas")).toBe(0);

  await pick(alice, "Select");
  await alice.mouse.click(400, 360);
  await expect(alice.getByRole("group", { name: "Arrange" })).toBeVisible();
  await expect.poll(() => ink(bob, outline, "overlay-canvas")).toBeGreaterThan(20);
  await expect.poll(() => ink(bob, label, "overlay-canvas")).toBeGreaterThan(50);
  await shoot(bob, "others-selection");
  await bob.emulateMedia({ colorScheme: "dark" });
  await shoot(bob, "others-selection-dark");

  // Deselected: the outline goes.
  await alice.keyboard.press("Escape");
  await expect.poll(() => ink(bob, outline, "overlay-canvas")).toBe(0);
  // Selected again, then Alice leaves: it goes with her.
  await alice.mouse.click(400, 360);
  await expect.poll(() => ink(bob, outline, "overlay-canvas")).toBeGreaterThan(20);
  await alice.context().close();
  await expect.poll(() => ink(bob, outline, "overlay-canvas")).toBe(0);
});

test("what others do is announced to screen readers, summed up and at most every two seconds", async ({ browser }) => {
  const { alice, bob } = await twoPeople(browser);
  const name = await alice.locator("#display-name").getAttribute("placeholder");
  const said = bob.getByTestId("announcements");
  await expect(said).toHaveAttribute("aria-live", "polite");
  await expect(said).toHaveText("");
  await scribble(alice, 300, 300, 200);
  await expect(said).toHaveText(`${name} added 1 item`);
  await alice.keyboard.press("Control+z");
  await expect(said).toHaveText(`${name} undid a change`, { timeout: 5_000 });
  // Alice hears nothing of her own.
  await expect(alice.getByTestId("announcements")).toHaveText("");
});
