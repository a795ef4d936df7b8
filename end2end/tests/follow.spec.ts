// Following someone's view (issue 12): click a person in the people list,
// or be brought along by "bring everyone to me"; your view tracks theirs,
// pan and zoom, until you pan yourself or press Escape. Everyone sees who
// follows whom.
import { expect, Browser, Page } from "@playwright/test";
import { test, drag, freshBoard, inkBounds, openBoard, pick, scan, shoot } from "./helpers";

/** Alice, Bob and Carol on one fresh board; Alice has drawn a rectangle. */
async function threePeople(browser: Browser) {
  const url = await freshBoard(browser);
  const alice = await openBoard(browser, url);
  const bob = await openBoard(browser, url);
  const carol = await openBoard(browser, url);
  for (const page of [alice, bob, carol]) {
    await expect(page.getByTestId("presence-count")).toHaveText("3");
  }
  await pick(alice, "Rectangle");
  await drag(alice, [400, 300], [600, 420]);
  await pick(alice, "Hand");
  for (const page of [bob, carol]) await expect.poll(() => inkBounds(page)).not.toBeNull();
  const aliceName = (await alice.locator("#display-name").getAttribute("placeholder"))!;
  const bobName = (await bob.locator("#display-name").getAttribute("placeholder"))!;
  return { alice, bob, carol, aliceName, bobName, url };
}

async function openPeople(page: Page) {
  await page.getByRole("button", { name: /^People on this board/ }).click();
  await expect(page.getByRole("dialog", { name: "People" })).toBeVisible();
}

/** Where the rectangle is on `page`, rounded to whole pixels. */
async function rectangleOn(page: Page) {
  const box = await inkBounds(page);
  return box && [box.x0, box.y0, box.x1, box.y1].map(Math.round);
}

/** Waits until `follower` shows the board as `leader` does (same viewport size). */
async function showsAsOn(follower: Page, leader: Page) {
  const target = await rectangleOn(leader);
  await expect
    .poll(async () => {
      const seen = await rectangleOn(follower);
      return seen !== null && target !== null && seen.every((v, i) => Math.abs(v - target[i]) <= 1);
    })
    .toBe(true);
}

/**
 * Waits until the server has the follow (the page's own row says whom it
 * follows: the list was rebuilt for it) and the focus is back on `button`.
 * Escape then closes the people panel; on the board it would stop following.
 */
async function settledOnFollow(page: Page, button: ReturnType<Page["getByRole"]>, leader: string) {
  const own = page.locator(".people-list li", { hasText: "(you)" });
  await expect(own).toContainText(`follows ${leader}`);
  await expect(button).toBeFocused();
}

/** Pans with the wheel over the middle of the canvas. */
async function pan(page: Page, dx: number, dy: number) {
  await page.mouse.move(640, 500);
  await page.mouse.wheel(dx, dy);
}

test("following tracks the leader's pan and zoom, everyone sees it, and a pan or Escape stops it", async ({ browser }) => {
  const { alice, bob, carol, aliceName, bobName } = await threePeople(browser);
  const carolBefore = await rectangleOn(carol);

  await openPeople(bob);
  const follow = bob.getByRole("button", { name: `Follow ${aliceName}` });
  await expect(follow).toHaveAttribute("aria-pressed", "false");
  await follow.click();
  await expect(follow).toHaveAttribute("aria-pressed", "true");
  // The focus stays on the button when the list is rebuilt.
  await expect(follow).toBeFocused();
  await expect(bob.getByTestId("following")).toBeVisible();
  await expect(bob.getByTestId("following")).toContainText(`Following ${aliceName}`);
  // Who follows whom, in everyone's list.
  await openPeople(alice);
  await expect(alice.locator(".people-list")).toContainText(`${bobName} follows you`);
  await openPeople(carol);
  await expect(carol.locator(".people-list")).toContainText(`${bobName} follows ${aliceName}`);
  // Both themes: the Follow buttons in the list, and the frame and label
  // on Bob's page, pass axe's serious and critical checks.
  const violations: string[] = [];
  for (const theme of ["light", "dark"] as const) {
    for (const page of [carol, bob]) await page.emulateMedia({ colorScheme: theme });
    await shoot(carol, `people-following-${theme}`);
    violations.push(...(await scan(carol, `people list with followers, ${theme}`)));
    violations.push(...(await scan(bob, `following, ${theme}`)));
  }
  expect(violations).toEqual([]);
  for (const page of [carol, bob]) await page.emulateMedia({ colorScheme: "light" });
  for (const page of [alice, bob, carol]) await page.keyboard.press("Escape");
  await expect(bob.getByTestId("following")).toBeVisible();

  // Alice pans and zooms; Bob's view goes with hers, Carol's stays.
  await pan(alice, -150, 80);
  await showsAsOn(bob, alice);
  await alice.keyboard.press("+");
  await alice.keyboard.press("+");
  await expect(alice.getByTestId("zoom-level")).toHaveText("144%");
  await expect(bob.getByTestId("zoom-level")).toHaveText("144%");
  await showsAsOn(bob, alice);
  expect(await rectangleOn(carol)).toEqual(carolBefore);
  await shoot(bob, "following");
  await bob.emulateMedia({ colorScheme: "dark" });
  await shoot(bob, "following-dark");

  // Bob pans himself: he stops following, and Alice's next pan leaves him be.
  await pan(bob, 0, -120);
  await expect(bob.getByTestId("following")).toBeHidden();
  await expect(alice.locator(".people-list")).not.toContainText("follows you");
  const bobOwn = await rectangleOn(bob);
  await pan(alice, 200, 0);
  await alice.waitForTimeout(400);
  expect(await rectangleOn(bob)).toEqual(bobOwn);

  // Following again, then Escape.
  await openPeople(bob);
  const again = bob.getByRole("button", { name: `Follow ${aliceName}` });
  await again.click();
  await settledOnFollow(bob, again, aliceName);
  await bob.keyboard.press("Escape");
  await showsAsOn(bob, alice);
  await bob.keyboard.press("Escape");
  await expect(bob.getByTestId("following")).toBeHidden();
});

test("bring everyone to me: the others follow until each pans away, and leaving ends it", async ({ browser }) => {
  const { alice, bob, carol, aliceName } = await threePeople(browser);
  await pan(alice, 300, -100);
  await openPeople(alice);
  await alice.getByRole("button", { name: "Bring everyone to me" }).click();
  await alice.keyboard.press("Escape");
  for (const page of [bob, carol]) {
    await expect(page.getByTestId("following")).toContainText(`Following ${aliceName}`);
    await showsAsOn(page, alice);
  }
  await expect(alice.getByTestId("following")).toBeHidden();

  // Bob pans away; Carol still follows Alice's next move.
  await pan(bob, 0, 100);
  await expect(bob.getByTestId("following")).toBeHidden();
  await pan(alice, -80, -80);
  await showsAsOn(carol, alice);
  expect(await rectangleOn(bob)).not.toEqual(await rectangleOn(alice));

  // When Alice leaves, Carol stops following.
  await alice.context().close();
  await expect(carol.getByTestId("following")).toBeHidden();
});

test("the focus never leaves a Follow button while people come and go", async ({ browser }) => {
  const { bob, aliceName, url } = await threePeople(browser);
  await openPeople(bob);
  const follow = bob.getByRole("button", { name: `Follow ${aliceName}` });
  await follow.focus();
  // Every frame, where the focus is: the list is rebuilt as HTML when
  // anyone joins or leaves, and the button it was on is made anew.
  await bob.evaluate(() => {
    const w = window as unknown as { lostFrames: number };
    w.lostFrames = 0;
    const watch = () => {
      if (!document.activeElement?.hasAttribute("data-follow")) w.lostFrames++;
      requestAnimationFrame(watch);
    };
    requestAnimationFrame(watch);
  });
  const dave = await openBoard(browser, url);
  await expect(bob.locator(".people-list li")).toHaveCount(4);
  await dave.context().close();
  await expect(bob.locator(".people-list li")).toHaveCount(3);
  await expect(follow).toBeFocused();
  expect(await bob.evaluate(() => (window as unknown as { lostFrames: number }).lostFrames)).toBe(0);
});

for (const motion of ["reduce", "no-preference"] as const) {
  test(`a follower's view ${motion === "reduce" ? "jumps to the leader's with reduced motion" : "glides to the leader's"}`, async ({ browser }) => {
    const url = await freshBoard(browser);
    const alice = await openBoard(browser, url);
    const bob = await (await browser.newContext({ reducedMotion: motion })).newPage();
    await bob.goto(url);
    await expect(bob.getByTestId("connection-status")).toHaveText("connected");
    await pick(alice, "Rectangle");
    await drag(alice, [400, 300], [600, 420]);
    await pick(alice, "Hand");
    await expect.poll(() => inkBounds(bob)).not.toBeNull();
    const aliceName = (await alice.locator("#display-name").getAttribute("placeholder"))!;
    await openPeople(bob);
    const follow = bob.getByRole("button", { name: `Follow ${aliceName}` });
    await follow.click();
    await settledOnFollow(bob, follow, aliceName);
    await bob.keyboard.press("Escape");
    await showsAsOn(bob, alice);

    // Every frame, where the rectangle's left edge is on Bob's canvas.
    const before = (await rectangleOn(bob))![0];
    await bob.evaluate(() => {
      const w = window as unknown as { edges: number[] };
      w.edges = [];
      const canvas = document.querySelector<HTMLCanvasElement>('[data-testid="board-canvas"]')!;
      const ctx = canvas.getContext("2d")!;
      const watch = () => {
        const row = ctx.getImageData(0, Math.round(360 * (canvas.width / canvas.clientWidth)), canvas.width, 1).data;
        let edge = -1;
        for (let i = 3; i < row.length; i += 4) {
          if (row[i] > 0) {
            edge = Math.round((i - 3) / 4 / (canvas.width / canvas.clientWidth));
            break;
          }
        }
        w.edges.push(edge);
        requestAnimationFrame(watch);
      };
      requestAnimationFrame(watch);
    });
    await pan(alice, -300, 0);
    await showsAsOn(bob, alice);
    await bob.waitForTimeout(300);
    const after = (await rectangleOn(bob))![0];
    expect(Math.abs(after - before)).toBeGreaterThan(250);
    const edges = await bob.evaluate(() => (window as unknown as { edges: number[] }).edges);
    const between = edges.filter((x) => Math.abs(x - before) > 2 && Math.abs(x - after) > 2);
    if (motion === "reduce") {
      expect(between).toEqual([]);
    } else {
      expect(between.length).toBeGreaterThan(0);
    }
  });
}
