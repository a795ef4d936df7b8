// What a new user found trying every tool (issue 12's list), each as it
// should be now: menus that close, a wheel that zooms in steps, a
// selection that a new tool leaves alone, resize cursors, cursors that
// arrive, and guests with names.
import { expect } from "@playwright/test";
import { test, around, drag, freshBoard, ink, openBoard, pick, pixelAt, shoot, twoPeople } from "./helpers";

test("the board menu closes with Escape or a click elsewhere, which draws nothing", async ({ browser }) => {
  const page = await openBoard(browser, await freshBoard(browser));
  const menuButton = page.getByRole("button", { name: "Menu", exact: true });
  const menu = page.getByRole("menu", { name: "Board menu" });

  await menuButton.click();
  await expect(menu).toBeVisible();
  await page.keyboard.press("Escape");
  await expect(menu).toBeHidden();
  await expect(menuButton).toBeFocused();
  await expect(menuButton).toHaveAttribute("aria-expanded", "false");

  // With the pen, a click on the canvas only closes the menu.
  await menuButton.click();
  await expect(menu).toBeVisible();
  await page.mouse.move(640, 400);
  await page.mouse.down();
  await page.mouse.move(700, 430, { steps: 5 });
  await page.mouse.up();
  await expect(menu).toBeHidden();
  await page.waitForTimeout(300);
  expect(await ink(page)).toBe(0);
  await page.reload();
  await expect(page.getByTestId("connection-status")).toHaveText("connected");
  await page.waitForTimeout(300);
  expect(await ink(page)).toBe(0);

  // The people panel closes the same ways.
  const people = page.getByRole("button", { name: "People on this board" });
  const panel = page.getByRole("dialog", { name: "People" });
  await people.click();
  await expect(panel).toBeVisible();
  await page.keyboard.press("Escape");
  await expect(panel).toBeHidden();
  await people.click();
  await page.mouse.click(640, 400);
  await expect(panel).toBeHidden();
  expect(await ink(page)).toBe(0);
  // A drawing after that draws.
  await drag(page, [600, 400], [700, 450]);
  await expect.poll(() => ink(page)).toBeGreaterThan(0);
});

test("one ctrl+wheel notch zooms one step, and a pinch's small deltas follow the fingers", async ({ browser }) => {
  const page = await openBoard(browser, await freshBoard(browser));
  const zoom = page.getByTestId("zoom-level");
  await page.mouse.move(640, 400);
  await page.keyboard.down("Control");
  await page.mouse.wheel(0, -100);
  await expect(zoom).toHaveText("120%");
  await page.mouse.wheel(0, -100);
  await expect(zoom).toHaveText("144%");
  await page.mouse.wheel(0, 100);
  await expect(zoom).toHaveText("120%");
  // Ten small deltas, as a trackpad pinch sends: about e^0.2.
  for (let i = 0; i < 10; i++) await page.mouse.wheel(0, -2);
  await expect(zoom).toHaveText("147%");
  await page.keyboard.up("Control");
});

test("a drawing tool ends the selection, so its colour is for the next item", async ({ browser }) => {
  const page = await openBoard(browser, await freshBoard(browser));
  await pick(page, "Rectangle");
  await drag(page, [300, 300], [500, 450]);
  await expect.poll(() => ink(page, around(400, 300, 4))).toBeGreaterThan(0);

  await pick(page, "Select");
  await page.mouse.click(300, 375);
  const arrange = page.getByRole("group", { name: "Arrange" });
  await expect(arrange).toBeVisible();
  // Resize handles show how they resize.
  await page.mouse.move(500 + 4, 450 + 4);
  await expect.poll(() => page.getByTestId("board-canvas").evaluate((c) => c.style.cursor)).toBe("nwse-resize");
  await page.mouse.move(500 + 4, 300 - 4);
  await expect.poll(() => page.getByTestId("board-canvas").evaluate((c) => c.style.cursor)).toBe("nesw-resize");
  await page.mouse.move(400, 600);
  await expect.poll(() => page.getByTestId("board-canvas").evaluate((c) => c.style.cursor)).toBe("");

  // Choosing a drawing tool deselects; a colour picked then leaves the
  // rectangle as it was.
  await page.keyboard.press("o");
  await expect(arrange).toBeHidden();
  await page.getByRole("button", { name: "Red", exact: true }).click();
  await page.waitForTimeout(300);
  const [red, green] = await pixelAt(page, 400, 300);
  expect(red).toBeLessThan(100); // still black (#1e1e1e), not red (#e03131)
  expect(Math.abs(red - green)).toBeLessThan(20);
  // The next ellipse is red.
  await drag(page, [700, 300], [850, 420]);
  await expect.poll(async () => (await pixelAt(page, 775, 300))[0]).toBeGreaterThan(150);
});

test("a remote pointer that jumps is shown where it landed", async ({ browser }) => {
  const { alice, bob } = await twoPeople(browser);
  // (400, 300) is clear of the panels, which would take the pointer.
  await alice.mouse.move(400, 300);
  await expect.poll(() => ink(bob, around(400, 300, 6), "overlay-canvas")).toBeGreaterThan(0);
  // Once Bob's page is idle (no other work draws frames that would hide
  // the bug), one jump, no steps in between: the glide must end where
  // Alice is, not a frame short of it.
  await bob.waitForTimeout(1_500);
  await alice.mouse.move(1000, 650);
  // The pointer is drawn from its tip to the right and down (its name
  // too): a pointer that stopped short, up and to the left on the way,
  // has ink in the box that ends just before the tip.
  const tip = { x: 1000, y: 650, w: 5, h: 6 };
  const shortOfIt = { x: 900, y: 580, w: 98, h: 68 };
  await expect.poll(() => ink(bob, tip, "overlay-canvas")).toBeGreaterThan(0);
  await bob.waitForTimeout(300);
  expect(await ink(bob, tip, "overlay-canvas")).toBeGreaterThan(0);
  expect(await ink(bob, shortOfIt, "overlay-canvas")).toBe(0);
  expect(await ink(bob, around(400, 300, 6), "overlay-canvas")).toBe(0);
});

test("three guests go by three different friendly names, kept by their browsers", async ({ browser }) => {
  const url = await freshBoard(browser);
  const pages = [await openBoard(browser, url), await openBoard(browser, url), await openBoard(browser, url)];
  const [first] = pages;
  await first.getByRole("button", { name: "People on this board" }).click();
  const list = first.getByRole("list", { name: "People on this board" });
  await expect(list.getByRole("listitem")).toHaveCount(3);
  const names = (await list.locator(".person-name").allTextContents()).sort();
  expect(names.every((name) => /^[A-Z][a-z]+ [A-Z][a-z]+$/.test(name)), names.join(", ")).toBe(true);
  expect(new Set(names).size).toBe(3);
  // The own name field offers the guest name.
  const field = first.getByRole("textbox", { name: "Your name" });
  await expect(field).toHaveValue("");
  const guest = await field.getAttribute("placeholder");
  expect(names).toContain(guest);
  await shoot(first, "guest-names");

  // A reload (and a new tab of the same browser) keeps the name.
  const again = await pages[1].context().newPage();
  await again.goto(url);
  await expect(again.getByTestId("connection-status")).toHaveText("connected");
  const kept = await again.locator("#display-name").getAttribute("placeholder");
  await pages[1].getByRole("button", { name: "People on this board" }).click();
  await expect(pages[1].getByRole("list", { name: "People on this board" }).locator("li", { hasText: "(you)" })).toContainText(kept!);
});

test("the keyboard alone creates, selects, moves, resizes and deletes items", async ({ browser }) => {
  const page = await openBoard(browser, await freshBoard(browser));
  const arrange = page.getByRole("group", { name: "Arrange" });
  // A rectangle at the view's centre (640, 400): 160 × 100, selected.
  await page.keyboard.press("r");
  await page.keyboard.press("Enter");
  await expect(arrange).toBeVisible();
  await expect(page.getByRole("button", { name: "Select", exact: true })).toHaveAttribute("aria-pressed", "true");
  await expect.poll(() => ink(page, around(560, 400, 3))).toBeGreaterThan(0);
  await expect.poll(() => ink(page, around(720, 400, 3))).toBeGreaterThan(0);
  // Moved 100 px right with Shift+arrows.
  for (let i = 0; i < 10; i++) await page.keyboard.press("Shift+ArrowRight");
  await expect.poll(() => ink(page, around(560, 400, 3))).toBe(0);
  await expect.poll(() => ink(page, around(820, 400, 3))).toBeGreaterThan(0);
  // Grown 50 px wider from its right edge with Alt+Shift+arrows.
  for (let i = 0; i < 5; i++) await page.keyboard.press("Alt+Shift+ArrowRight");
  await expect.poll(() => ink(page, around(820, 400, 3))).toBe(0);
  await expect.poll(() => ink(page, around(870, 400, 3))).toBeGreaterThan(0);
  await expect.poll(() => ink(page, around(660, 400, 3))).toBeGreaterThan(0);
  // Deleted.
  await page.keyboard.press("Delete");
  await expect(arrange).toBeHidden();
  await expect.poll(() => ink(page)).toBe(0);
  // A text, typed at the centre.
  await page.keyboard.press("t");
  await page.keyboard.press("Enter");
  const editor = page.getByTestId("text-editor");
  await expect(editor).toBeFocused();
  await page.keyboard.type("Hello");
  await page.keyboard.press("Escape");
  await expect(editor).toHaveCount(0);
  await expect.poll(() => ink(page, { x: 600, y: 360, w: 120, h: 80 })).toBeGreaterThan(50);
  // Enter on a focused toolbar button presses the button; it places nothing.
  await page.getByRole("button", { name: "Ellipse", exact: true }).focus();
  const before = await ink(page);
  await page.keyboard.press("Enter");
  await expect(page.getByRole("button", { name: "Ellipse", exact: true })).toHaveAttribute("aria-pressed", "true");
  await page.waitForTimeout(300);
  expect(await ink(page)).toBe(before);
});
