// The item list (board menu → Item list): every item in words, in drawing
// order, worked through with the keyboard; what its keys do is seen by
// everyone and said to screen readers.
import { expect, Locator, Page } from "@playwright/test";
import { test, around, drag, freshBoard, ink, openBoard, pick, scribble, shoot, twoPeople } from "./helpers";

/** Opens the item list through the menu; it takes the focus. */
async function openList(page: Page): Promise<Locator> {
  await page.getByRole("button", { name: "Menu", exact: true }).click();
  await page.getByRole("menuitem", { name: "Item list" }).click();
  const list = page.getByRole("listbox", { name: "Items in drawing order" });
  await expect(list).toBeFocused();
  return list;
}

/** The text of the option the list names as its active descendant. */
function activeOption(list: Locator): () => Promise<string> {
  return () =>
    list.evaluate((el) => {
      const id = el.getAttribute("aria-activedescendant") ?? "";
      return document.getElementById(id)?.textContent ?? "";
    });
}

test("the item list names every item, and its keys select, move and delete them for everyone", async ({ browser }) => {
  const { alice, bob } = await twoPeople(browser);
  await pick(alice, "Rectangle");
  await drag(alice, [450, 200], [600, 320]);
  await pick(alice, "Text");
  await alice.mouse.click(700, 250);
  await alice.keyboard.type("Hello");
  await alice.keyboard.press("Escape");
  await pick(alice, "Pen");
  await scribble(alice, 200, 500, 150);

  const list = await openList(alice);
  const options = list.getByRole("option");
  await expect(options).toHaveCount(3);
  await expect(options.nth(0)).toHaveText("Rectangle, black, at 450, 200, 150 by 120");
  await expect(options.nth(1)).toHaveText(/^Text “Hello”, black, at 70\d, 2\d\d, \d+ by \d+$/);
  await expect(options.nth(2)).toHaveText(/^Pen stroke, black, at 200, 4\d\d, 150 by \d+$/);
  await expect(options.nth(2)).toHaveAttribute("aria-posinset", "3");
  await expect(options.nth(2)).toHaveAttribute("aria-setsize", "3");

  // The first item is the active one; the arrows, Home and End go through
  // the list, and leave the board's selection alone.
  const active = activeOption(list);
  await expect.poll(active).toContain("Rectangle");
  await alice.keyboard.press("ArrowDown");
  await expect.poll(active).toContain("Text");
  await alice.keyboard.press("End");
  await expect.poll(active).toContain("Pen stroke");
  await alice.keyboard.press("ArrowDown");
  await expect.poll(active).toContain("Pen stroke");
  await alice.keyboard.press("Home");
  await expect.poll(active).toContain("Rectangle");
  await expect(alice.getByRole("group", { name: "Arrange" })).toBeHidden();
  await shoot(alice, "item-list");

  // Enter selects the item on the board, and says so.
  await alice.keyboard.press("Enter");
  await expect(options.nth(0)).toHaveAttribute("aria-selected", "true");
  await expect(alice.getByRole("group", { name: "Arrange" })).toBeVisible();
  // The style panel offers what a rectangle takes.
  await expect(alice.getByRole("group", { name: "Fill" })).toBeVisible();
  await expect(alice.getByRole("group", { name: "Stroke width" })).toBeVisible();
  await expect(alice.getByRole("group", { name: "Text size" })).toBeHidden();
  await expect(alice.getByTestId("announcements")).toHaveText(/^Selected Rectangle, black, at 450, 200/);
  await expect(list).toBeFocused();

  // Alt + arrows move it (Shift: 10 px), for everyone.
  await alice.keyboard.press("Alt+Shift+ArrowRight");
  await alice.keyboard.press("Alt+ArrowDown");
  await expect(options.nth(0)).toHaveText("Rectangle, black, at 460, 201, 150 by 120");
  await expect(alice.getByTestId("announcements")).toHaveText("Rectangle, at 460, 201, 150 by 120");
  const bobs = await openList(bob);
  await expect(bobs.getByRole("option").nth(0)).toHaveText("Rectangle, black, at 460, 201, 150 by 120");
  await expect.poll(() => ink(bob, around(460, 280, 2))).toBeGreaterThan(0);
  await expect.poll(() => ink(bob, around(450, 280, 2))).toBe(0);

  // Delete removes it for everyone; the item in its place becomes the
  // active one. The board's shortcuts still work from the list: Ctrl+Z
  // brings it back.
  await alice.keyboard.press("Delete");
  await expect(options).toHaveCount(2);
  await expect(alice.getByTestId("announcements")).toHaveText(/^Deleted Rectangle, black, at 460, 201/);
  await expect.poll(active).toContain("Text");
  await expect(bobs.getByRole("option")).toHaveCount(2);
  await alice.keyboard.press("Control+z");
  await expect(options).toHaveCount(3);
  await expect(bobs.getByRole("option")).toHaveCount(3);
  await expect.poll(active).toContain("Text");

  // What someone else adds comes into the list.
  await pick(bob, "Ellipse");
  await drag(bob, [900, 500], [1000, 600]);
  await expect(options).toHaveCount(4);
  await expect(options.nth(3)).toHaveText("Ellipse, black, at 900, 500, 100 by 100");

  // A click selects the item clicked (and only it).
  await options.nth(2).click();
  await expect(options.nth(2)).toHaveAttribute("aria-selected", "true");
  await expect(options.nth(0)).toHaveAttribute("aria-selected", "false");
  await expect.poll(active).toContain("Pen stroke");

  // An item out of sight is brought into view when selected.
  await alice.mouse.move(640, 400);
  await alice.mouse.wheel(0, 3000);
  await expect.poll(() => ink(alice)).toBe(0);
  await list.focus();
  await alice.keyboard.press("End");
  await alice.keyboard.press("Enter");
  await expect.poll(() => ink(alice)).toBeGreaterThan(0);
  await expect(options.nth(3)).toHaveAttribute("aria-selected", "true");

  // Everything selected, then someone else erases the rectangle and the
  // ellipse: the style panel stops offering a fill, which only they took.
  await alice.keyboard.press("Control+a");
  await expect(list.locator('[aria-selected="true"]')).toHaveCount(4);
  await expect(alice.getByRole("group", { name: "Fill" })).toBeVisible();
  await bobs.focus();
  await bob.keyboard.press("Home");
  await bob.keyboard.press("Delete");
  await bob.keyboard.press("End");
  await bob.keyboard.press("Delete");
  await expect(options).toHaveCount(2);
  await expect(list.locator('[aria-selected="true"]')).toHaveCount(2);
  await expect(alice.getByRole("group", { name: "Fill" })).toBeHidden();
  await expect(alice.getByRole("group", { name: "Text size" })).toBeVisible();
  await expect(alice.getByRole("group", { name: "Stroke width" })).toBeVisible();
  await list.focus();

  // Escape closes the list and gives the focus back to the menu button.
  await alice.keyboard.press("Escape");
  await expect(list).toBeHidden();
  await expect(alice.getByRole("button", { name: "Menu", exact: true })).toBeFocused();
});

test("on a view link's page the item list shows where items are and changes nothing", async ({ browser }) => {
  const url = await freshBoard(browser);
  const context = await browser.newContext({ permissions: ["clipboard-read", "clipboard-write"] });
  const alice = await context.newPage();
  await alice.goto(url);
  await expect(alice.getByTestId("connection-status")).toHaveText("connected");
  await pick(alice, "Rectangle");
  await drag(alice, [450, 200], [600, 320]);
  await alice.getByRole("button", { name: "Menu", exact: true }).click();
  await alice.getByRole("menuitem", { name: "Copy view link" }).click();
  await expect.poll(() => alice.evaluate(() => navigator.clipboard.readText())).toMatch(/\/v\//);
  const viewer = await openBoard(browser, await alice.evaluate(() => navigator.clipboard.readText()));

  const list = await openList(viewer);
  const options = list.getByRole("option");
  await expect(options).toHaveText(["Rectangle, black, at 450, 200, 150 by 120"]);
  // Enter brings it into view (the viewer looked elsewhere).
  await viewer.mouse.move(640, 400);
  await viewer.mouse.wheel(0, 3000);
  await expect.poll(() => ink(viewer)).toBe(0);
  await list.focus();
  await viewer.keyboard.press("Enter");
  await expect.poll(() => ink(viewer)).toBeGreaterThan(0);
  // Delete and Alt+arrows change nothing, and say why.
  await viewer.keyboard.press("Delete");
  await expect(viewer.getByRole("status")).toHaveText("This is a view link: the board cannot be changed here");
  await viewer.keyboard.press("Alt+Shift+ArrowRight");
  await alice.waitForTimeout(300);
  await expect(options).toHaveText(["Rectangle, black, at 450, 200, 150 by 120"]);
  const alices = await openList(alice);
  await expect(alices.getByRole("option")).toHaveText(["Rectangle, black, at 450, 200, 150 by 120"]);
});
