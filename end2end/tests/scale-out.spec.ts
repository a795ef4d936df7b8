// Two pages on two server instances that share Redis and MongoDB, both
// reaching them through nginx (docs/deploy/nginx.conf), as people would.
import { expect, Browser, Page } from "@playwright/test";
import * as fs from "node:fs";
import * as path from "node:path";
import * as crypto from "node:crypto";
import { test, drag, ink } from "./helpers";

const portA = process.env.E2E_PORT_A;
const portB = process.env.E2E_PORT_B;
const portLB = process.env.E2E_PORT_LB;
const SKIP_REASON = "needs two instances with Redis and MongoDB behind nginx (scripts/test.sh starts them)";

/** Open WebSocket connections on instance A and on instance B (`GET /metrics`). */
async function connections(): Promise<[number, number]> {
  const count = async (port: string) => {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const match = text.match(/^whiteboard_connections (\d+)/m);
    if (!match) throw new Error(`no whiteboard_connections in /metrics of port ${port}`);
    return Number(match[1]);
  };
  return [await count(portA!), await count(portB!)];
}

const total = ([a, b]: [number, number]) => a + b;

/**
 * Alice and Bob on one new board, both through the load balancer, on
 * different instances: which instance a page's socket reached shows in the
 * instances' connection counts, and a page that landed beside Alice is
 * opened again (round robin sends the next socket to the other instance).
 */
async function twoInstances(browser: Browser): Promise<{ alice: Page; bob: Page }> {
  const board = crypto.randomBytes(16).toString("base64url");
  // The pages of the test before were closed as it ended (helpers.ts); the
  // instances see their sockets go a moment later. Counting starts at none.
  await expect.poll(async () => total(await connections())).toBe(0);
  const open = async () => {
    const before = await connections();
    const page = await (await browser.newContext()).newPage();
    await page.goto(`http://127.0.0.1:${portLB}/b/${board}`);
    await expect(page.getByTestId("connection-status")).toHaveText("connected");
    await expect.poll(async () => total(await connections())).toBe(total(before) + 1);
    const after = await connections();
    return { page, instance: after[0] > before[0] ? "A" : "B" };
  };
  const alice = await open();
  for (let attempt = 0; attempt < 8; attempt++) {
    const bob = await open();
    if (bob.instance !== alice.instance) return { alice: alice.page, bob: bob.page };
    const before = total(await connections());
    await bob.page.context().close();
    await expect.poll(async () => total(await connections())).toBe(before - 1);
  }
  throw new Error("the load balancer never sent Bob to the other instance");
}

test("people on two instances see each other draw", async ({ browser }) => {
  test.skip(!portA || !portB || !portLB, SKIP_REASON);
  const { alice, bob } = await twoInstances(browser);
  await expect(alice.getByTestId("presence-count")).toHaveText("2");
  await expect(bob.getByTestId("presence-count")).toHaveText("2");

  // Alice draws on instance A; Bob on instance B sees it while it is drawn.
  await alice.mouse.move(300, 400);
  await alice.mouse.down();
  for (let i = 1; i <= 20; i++) await alice.mouse.move(300 + i * 20, 400 + Math.sin(i / 3) * 30, { steps: 2 });
  await expect.poll(() => ink(bob)).toBeGreaterThan(200);
  await alice.mouse.up();

  // And the other way round.
  const before = await ink(alice);
  await bob.getByRole("button", { name: "Green", exact: true }).click();
  await bob.mouse.move(300, 600);
  await bob.mouse.down();
  for (let i = 1; i <= 20; i++) await bob.mouse.move(300 + i * 20, 600, { steps: 2 });
  await bob.mouse.up();
  await expect.poll(() => ink(alice)).toBeGreaterThan(before + 200);

  const dir = path.resolve(__dirname, "..", "screenshots");
  fs.mkdirSync(dir, { recursive: true });
  await bob.screenshot({ path: path.join(dir, "two-instances-bob.png") });

  // Undo on A is seen on B.
  await alice.getByRole("button", { name: "Undo", exact: true }).click();
  await expect.poll(() => ink(bob)).toBeLessThan(before + 200);
});

test("shapes, moves, names and cursors cross instances", async ({ browser }) => {
  test.skip(!portA || !portB || !portLB, SKIP_REASON);
  const { alice, bob } = await twoInstances(browser);
  await alice.getByRole("button", { name: "Rectangle", exact: true }).click();
  await alice.getByRole("button", { name: "Light green fill", exact: true }).click();
  await drag(alice, [300, 300], [400, 380]);
  await expect.poll(() => ink(bob, { x: 340, y: 330, w: 20, h: 20 })).toBeGreaterThan(100);

  // A move on A is seen on B, and so is its undo.
  await alice.getByRole("button", { name: "Select", exact: true }).click();
  await drag(alice, [350, 340], [650, 340]);
  await expect.poll(() => ink(bob, { x: 640, y: 330, w: 20, h: 20 })).toBeGreaterThan(100);
  expect(await ink(bob, { x: 340, y: 330, w: 20, h: 20 })).toBe(0);
  await alice.keyboard.press("Control+z");
  await expect.poll(() => ink(bob, { x: 340, y: 330, w: 20, h: 20 })).toBeGreaterThan(100);

  // Bob's name and cursor reach Alice on the other instance.
  await bob.getByRole("button", { name: "People on this board" }).click();
  await bob.getByRole("textbox", { name: "Your name" }).fill("Bob");
  await bob.getByRole("textbox", { name: "Your name" }).press("Enter");
  // An open panel takes the pointer: Bob closes his.
  await bob.keyboard.press("Escape");
  await alice.getByRole("button", { name: "People on this board" }).click();
  await expect(alice.getByRole("list", { name: "People on this board" })).toContainText("Bob");
  await bob.mouse.move(800, 600);
  await bob.mouse.move(820, 620, { steps: 4 });
  await expect.poll(() => ink(alice, { x: 815, y: 615, w: 70, h: 45 }, "overlay-canvas")).toBeGreaterThan(100);
});
