// axe-core over every page and dialog, in the light and the dark theme: no
// serious or critical violation may remain. Lesser ones are printed.
import { expect, Page } from "@playwright/test";
import { test, drag, freshBoard, openBoard, pick, scan, scribble, shoot } from "./helpers";

for (const theme of ["light", "dark"] as const) {
  test(`no serious accessibility violation anywhere, ${theme} theme`, async ({ browser }) => {
    const landing = await (await browser.newContext({ colorScheme: theme })).newPage();
    await landing.goto("/");
    await expect(landing.getByRole("button", { name: "New board", exact: true })).toBeVisible();
    const violations = await scan(landing, "landing page");

    const url = await freshBoard(browser);
    const context = await browser.newContext({ colorScheme: theme });
    const page = await context.newPage();
    await page.goto(url);
    await expect(page.getByTestId("connection-status")).toHaveText("connected");
    // A board with items of every kind, one of them selected (the style
    // panel and its arrangement buttons show).
    await scribble(page, 300, 500, 150);
    await pick(page, "Rectangle");
    await drag(page, [450, 200], [600, 320]);
    await pick(page, "Text");
    await page.mouse.click(700, 250);
    await page.keyboard.type("Hello");
    await page.keyboard.press("Escape");
    await pick(page, "Select");
    await page.mouse.click(450, 260);
    await expect(page.getByRole("group", { name: "Arrange" })).toBeVisible();
    violations.push(...(await scan(page, "board with a selection")));

    await page.getByRole("button", { name: "Menu", exact: true }).click();
    await expect(page.getByRole("menu", { name: "Board menu" })).toBeVisible();
    violations.push(...(await scan(page, "board menu")));
    await page.keyboard.press("Escape");

    await page.getByRole("button", { name: "People on this board" }).click();
    await expect(page.getByRole("dialog", { name: "People" })).toBeVisible();
    violations.push(...(await scan(page, "people panel")));
    await page.keyboard.press("Escape");

    await page.locator("body").press("?");
    await expect(page.getByRole("dialog", { name: "Keyboard shortcuts" })).toBeVisible();
    violations.push(...(await scan(page, "keyboard shortcuts")));
    await page.keyboard.press("Escape");

    await page.getByRole("button", { name: "Menu", exact: true }).click();
    await page.getByRole("menuitem", { name: "Item list" }).click();
    const items = page.getByRole("listbox", { name: "Items in drawing order" });
    await expect(items).toBeFocused();
    await expect(items.getByRole("option")).toHaveCount(3);
    await expect(items.getByRole("option", { selected: true })).toHaveCount(1);
    violations.push(...(await scan(page, "item list")));
    await shoot(page, `item-list-${theme}`);
    await page.keyboard.press("Escape");
    await expect(items).toBeHidden();

    await page.getByRole("button", { name: "Menu", exact: true }).click();
    await page.getByRole("menuitem", { name: "Version history" }).click();
    await expect(page.getByRole("dialog", { name: "Version history" })).toBeVisible();
    await expect(page.getByRole("dialog", { name: "Version history" })).toContainText("changes");
    violations.push(...(await scan(page, "version history")));

    const viewer = await (await browser.newContext({ colorScheme: theme })).newPage();
    await viewer.goto("/b/not-a-board");
    violations.push(...(await scan(viewer, "a board link that is not valid")));

    expect(violations).toEqual([]);
  });
}

/** Tabs once round the page: the controls reached, and those that did not show the focus. */
async function tabRound(page: Page): Promise<{ seen: string[]; unmarked: string[] }> {
  const seen: string[] = [];
  const unmarked: string[] = [];
  for (let i = 0; i < 80; i++) {
    await page.keyboard.press("Tab");
    // Marked: an outline, or a ring (box shadow) it does not have
    // without the focus.
    const focused = await page.evaluate(() => {
      const el = document.activeElement as HTMLElement | null;
      if (!el || el === document.body) return null;
      const look = () => {
        const style = getComputedStyle(el);
        const outline = style.outlineStyle !== "none" && style.outlineWidth !== "0px";
        return { outline, shadow: style.boxShadow };
      };
      const name = `${el.tagName.toLowerCase()} ${el.getAttribute("aria-label") ?? el.textContent?.trim().slice(0, 30) ?? ""}`;
      const withFocus = look();
      el.blur();
      const without = look();
      el.focus();
      return { name, marked: withFocus.outline || withFocus.shadow !== without.shadow };
    });
    if (!focused) continue;
    if (seen.includes(focused.name)) break; // round the page once
    seen.push(focused.name);
    if (!focused.marked) unmarked.push(focused.name);
  }
  return { seen, unmarked };
}

test("every control the Tab key reaches shows that it has the focus", async ({ browser }) => {
  const url = await freshBoard(browser);
  const page = await openBoard(browser, url);
  await scribble(page, 300, 300, 100);
  const { seen, unmarked } = await tabRound(page);
  // The toolbar, the menu button, people, share, zoom, undo and redo at least.
  expect(seen.length).toBeGreaterThan(15);
  expect(unmarked).toEqual([]);
});

for (const colorScheme of ["light", "dark"] as const) {
  test(`the start page's controls show the focus too (${colorScheme})`, async ({ browser }) => {
    const context = await browser.newContext({ colorScheme });
    const page = await context.newPage();
    // A board opened before, so the recent list has a link and its button.
    await page.goto(await freshBoard(browser));
    await expect(page.getByTestId("connection-status")).toHaveText("connected");
    await page.goto("/");
    await expect(page.getByRole("button", { name: "New board", exact: true })).toBeVisible();
    const { seen, unmarked } = await tabRound(page);
    expect(seen.length).toBeGreaterThanOrEqual(2);
    expect(unmarked).toEqual([]);
  });
}
