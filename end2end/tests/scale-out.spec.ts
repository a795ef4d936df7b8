// Two pages on two server instances that share Redis and MongoDB.
import { test, expect, Page } from "@playwright/test";
import * as fs from "node:fs";
import * as path from "node:path";
import * as crypto from "node:crypto";

const portA = process.env.E2E_PORT_A;
const portB = process.env.E2E_PORT_B;

async function ink(page: Page): Promise<number> {
  return page.evaluate(() => {
    const canvas = document.querySelector<HTMLCanvasElement>('[data-testid="board-canvas"]')!;
    const data = canvas.getContext("2d")!.getImageData(0, 0, canvas.width, canvas.height).data;
    let count = 0;
    for (let i = 3; i < data.length; i += 4) if (data[i] > 0) count++;
    return count;
  });
}

test("people on two instances see each other draw", async ({ browser }) => {
  test.skip(!portA || !portB, "needs two instances with Redis and MongoDB (scripts/test.sh starts them)");
  const board = crypto.randomBytes(16).toString("base64url");
  const open = async (port: string) => {
    const page = await (await browser.newContext()).newPage();
    await page.goto(`http://127.0.0.1:${port}/b/${board}`);
    await expect(page.getByTestId("connection-status")).toHaveText("connected");
    return page;
  };
  const alice = await open(portA!);
  const bob = await open(portB!);
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
