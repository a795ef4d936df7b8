// Images on the board: pasted, dropped and picked files become image items
// that everyone sees (a grey box while the bytes load), that survive a
// reload and export; what the server refuses is said in its words.
import { expect, Page } from "@playwright/test";
import * as fs from "node:fs";
import * as path from "node:path";
import { blocked, freshBoard, ink, openBoard, pixelAt, shoot, test } from "./helpers";

/** A PNG, `w` × `h`, left half red and right half blue (or `right`), made by the page. */
async function twoColourPng(page: Page, w: number, h: number, right = "#0000ff"): Promise<Buffer> {
  const base64 = await page.evaluate(
    ([w, h, right]) => {
      const canvas = document.createElement("canvas");
      canvas.width = w;
      canvas.height = h;
      const ctx = canvas.getContext("2d")!;
      ctx.fillStyle = "#ff0000";
      ctx.fillRect(0, 0, w / 2, h);
      ctx.fillStyle = right;
      ctx.fillRect(w / 2, 0, w / 2, h);
      return canvas.toDataURL("image/png").split(",")[1];
    },
    [w, h, right] as const,
  );
  return Buffer.from(base64, "base64");
}

/** Pastes `bytes` as a file of `type`, as the system clipboard would. */
async function pasteFile(page: Page, bytes: Buffer, name: string, type: string) {
  await page.evaluate(
    ([base64, name, type]) => {
      const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
      const data = new DataTransfer();
      data.items.add(new File([bytes], name, { type }));
      window.dispatchEvent(new ClipboardEvent("paste", { clipboardData: data }));
    },
    [bytes.toString("base64"), name, type] as const,
  );
}

/** Drops `bytes` as a file onto the canvas at (x, y). */
async function dropFile(page: Page, bytes: Buffer, name: string, x: number, y: number) {
  const data = await page.evaluateHandle(
    ([base64, name]) => {
      const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
      const data = new DataTransfer();
      data.items.add(new File([bytes], name, { type: "image/png" }));
      return data;
    },
    [bytes.toString("base64"), name] as const,
  );
  for (const type of ["dragover", "drop"]) {
    await page.dispatchEvent('[data-testid="board-canvas"]', type, { dataTransfer: data, clientX: x, clientY: y });
  }
}

/** Picks files through the board menu's "Insert image…". */
async function insertViaMenu(page: Page, files: string[]) {
  await page.getByRole("button", { name: "Menu", exact: true }).click();
  const [chooser] = await Promise.all([
    page.waitForEvent("filechooser"),
    page.getByRole("menuitem", { name: "Insert image…" }).click(),
  ]);
  expect(chooser.isMultiple()).toBe(true);
  await chooser.setFiles(files);
}

/** The colours of a PNG's pixels at CSS points of a page as large as `page`'s, read by its browser. */
async function pngPixels(page: Page, png: Buffer, points: number[][]): Promise<number[][]> {
  return page.evaluate(
    async ([base64, points]) => {
      const image = new Image();
      image.src = `data:image/png;base64,${base64}`;
      await image.decode();
      const canvas = document.createElement("canvas");
      [canvas.width, canvas.height] = [image.naturalWidth, image.naturalHeight];
      const ctx = canvas.getContext("2d")!;
      ctx.drawImage(image, 0, 0);
      const scale = canvas.width / window.innerWidth;
      return points.map(([x, y]) => Array.from(ctx.getImageData(x * scale, y * scale, 1, 1).data));
    },
    [png.toString("base64"), points] as const,
  );
}

/** How many pixels of the board canvas are pure red. */
async function redPixels(page: Page): Promise<number> {
  return page.evaluate(() => {
    const canvas = document.querySelector<HTMLCanvasElement>('[data-testid="board-canvas"]')!;
    const data = canvas.getContext("2d")!.getImageData(0, 0, canvas.width, canvas.height).data;
    let count = 0;
    for (let i = 0; i < data.length; i += 4) if (data[i] > 240 && data[i + 1] < 15 && data[i + 2] < 15) count++;
    return count;
  });
}

const isRed = ([r, g, b, a]: number[]) => r > 200 && g < 60 && b < 60 && a > 200;
const isBlue = ([r, g, b, a]: number[]) => b > 200 && r < 60 && g < 60 && a > 200;
const luminance = ([r, g, b]: number[]) => 0.2126 * r + 0.7152 * g + 0.0722 * b;
const isDarkRed = (c: number[]) => luminance(c) < 110 && c[0] > c[2] + 50;
const isDarkBlue = (c: number[]) => luminance(c) < 110 && c[2] > c[0] + 20;
const isPlaceholderGrey = ([r, g, b, a]: number[]) =>
  Math.abs(r - 0xe9) < 12 && Math.abs(g - 0xec) < 12 && Math.abs(b - 0xef) < 12 && a > 200;

test("an image pasted, dropped or picked reaches everyone, survives a reload and exports", async ({ browser }) => {
  const url = await freshBoard(browser);
  const alice = await openBoard(browser, url);
  const bob = await openBoard(browser, url);
  const png = await twoColourPng(alice, 200, 100);

  // Bob's browser holds the image's bytes back: he sees a grey box of the
  // image's size until they come.
  let release: () => void = () => {};
  const held = new Promise<void>((resolve) => (release = resolve));
  await bob.route("**/images/*", async (route) => {
    await held;
    await route.continue();
  });

  // Pasted with the pointer over the canvas: centred there, as large as it is.
  await alice.mouse.move(400, 300);
  await pasteFile(alice, png, "pasted.png", "image/png");
  await expect.poll(async () => isRed(await pixelAt(alice, 350, 300))).toBe(true);
  expect(isBlue(await pixelAt(alice, 450, 300))).toBe(true);
  await expect(alice.getByRole("button", { name: "Select", exact: true })).toHaveAttribute("aria-pressed", "true");
  // Selected, it offers only what an image takes: opacity and arrangement.
  await expect(alice.getByRole("group", { name: "Arrange" })).toBeVisible();
  await expect(alice.getByRole("slider", { name: "Opacity" })).toBeVisible();
  for (const section of ["Colour", "Fill", "Stroke width", "Text size"]) {
    await expect(alice.getByRole("group", { name: section })).toBeHidden();
  }
  await expect.poll(async () => isPlaceholderGrey(await pixelAt(bob, 350, 300))).toBe(true);
  expect(isPlaceholderGrey(await pixelAt(bob, 450, 300))).toBe(true);
  await shoot(bob, "image-loading");
  release();
  await expect.poll(async () => isRed(await pixelAt(bob, 350, 300))).toBe(true);
  expect(isBlue(await pixelAt(bob, 450, 300))).toBe(true);
  expect(await ink(bob, { x: 250, y: 200, w: 40, h: 40 })).toBe(0);

  // Dropped onto the canvas: centred where it lands.
  await dropFile(bob, png, "dropped.png", 800, 500);
  await expect.poll(async () => isRed(await pixelAt(alice, 760, 500))).toBe(true);
  expect(isBlue(await pixelAt(alice, 840, 500))).toBe(true);

  // Picked from the menu: in the view's middle.
  const pngPath = path.join(test.info().outputDir, "picked.png");
  fs.mkdirSync(test.info().outputDir, { recursive: true });
  fs.writeFileSync(pngPath, png);
  await insertViaMenu(alice, [pngPath]);
  const middle = await alice.getByTestId("board-canvas").boundingBox();
  const [cx, cy] = [middle!.width / 2, middle!.height / 2];
  await expect.poll(async () => isRed(await pixelAt(bob, cx - 40, cy))).toBe(true);
  expect(isBlue(await pixelAt(bob, cx + 40, cy))).toBe(true);
  await shoot(alice, "images");

  // An image item is an item: moved with the keyboard like any other, and undone.
  await alice.keyboard.press("Delete");
  await expect.poll(async () => isRed(await pixelAt(bob, cx - 40, cy))).toBe(false);
  await alice.keyboard.press("Control+z");
  await expect.poll(async () => isRed(await pixelAt(bob, cx - 40, cy))).toBe(true);

  // A reload draws them again from the stored board and the stored bytes.
  await bob.unroute("**/images/*");
  await bob.reload();
  await expect(bob.getByTestId("connection-status")).toHaveText("connected");
  await expect.poll(async () => isRed(await pixelAt(bob, 350, 300))).toBe(true);
  expect(isBlue(await pixelAt(bob, 840, 500))).toBe(true);

  // An export waits for the images it shows, decoded for it (not the grey
  // boxes a screen still waiting shows).
  let releaseCarol: () => void = () => {};
  const heldForCarol = new Promise<void>((resolve) => (releaseCarol = resolve));
  const carol = await (await browser.newContext()).newPage();
  let carolAsked = 0;
  await carol.route("**/images/*", async (route) => {
    carolAsked++;
    await heldForCarol;
    await route.continue();
  });
  await carol.goto(url);
  await expect(carol.getByTestId("connection-status")).toHaveText("connected");
  await expect.poll(() => carolAsked).toBeGreaterThan(0);
  const askedByScreen = carolAsked;
  let carolDownloaded = false;
  carol.on("download", () => (carolDownloaded = true));
  await carol.getByRole("button", { name: "Menu", exact: true }).click();
  const [carolDownload] = await Promise.all([
    carol.waitForEvent("download"),
    (async () => {
      await carol.getByRole("menuitem", { name: "Export PNG (current view)" }).click();
      await expect.poll(() => carolAsked).toBeGreaterThan(askedByScreen);
      expect(carolDownloaded).toBe(false);
      expect(isPlaceholderGrey(await pixelAt(carol, 350, 300))).toBe(true);
      releaseCarol();
    })(),
  ]);
  const carolPng = fs.readFileSync((await carolDownload.path())!);
  const [carolLeft, carolRight] = await pngPixels(carol, carolPng, [[350, 300], [450, 300]]);
  expect(isRed(carolLeft)).toBe(true);
  expect(isBlue(carolRight)).toBe(true);

  // The PNG export draws the images, read back by the browser.
  await alice.getByRole("button", { name: "Menu", exact: true }).click();
  const [download] = await Promise.all([
    alice.waitForEvent("download"),
    alice.getByRole("menuitem", { name: "Export PNG (current view)" }).click(),
  ]);
  const exported = fs.readFileSync((await download.path())!);
  const [left, right] = await pngPixels(alice, exported, [[350, 300], [450, 300]]);
  expect(isRed(left)).toBe(true);
  expect(isBlue(right)).toBe(true);

  // SVG and JSON exports carry the image's bytes (once, for its three
  // items); importing the JSON into another board uploads them again.
  const exportVia = async (item: string) => {
    await alice.getByRole("button", { name: "Menu", exact: true }).click();
    const [download] = await Promise.all([
      alice.waitForEvent("download"),
      alice.getByRole("menuitem", { name: item }).click(),
    ]);
    return fs.readFileSync((await download.path())!);
  };
  const svg = (await exportVia("Export SVG")).toString();
  expect(svg.match(/<image href="data:image\/png;base64,[A-Za-z0-9+/=]+"/g)).toHaveLength(3);
  const json = await exportVia("Export JSON");
  const file = JSON.parse(json.toString());
  expect(file.images).toHaveLength(1);
  expect(Buffer.from(file.images[0].data.split(",")[1], "base64").equals(png)).toBe(true);
  const jsonPath = path.join(test.info().outputDir, "board.json");
  fs.writeFileSync(jsonPath, json);
  const dave = await openBoard(browser, await freshBoard(browser));
  const uploaded = dave.waitForRequest((r) => r.method() === "POST" && r.url().endsWith("/images"));
  await dave.getByRole("button", { name: "Menu", exact: true }).click();
  const [chooser] = await Promise.all([
    dave.waitForEvent("filechooser"),
    dave.getByRole("menuitem", { name: "Import JSON…" }).click(),
  ]);
  await chooser.setFiles(jsonPath);
  await uploaded;
  await expect(dave.getByRole("status")).toHaveText("Imported 3 items");
  await expect.poll(() => redPixels(dave)).toBeGreaterThan(1_000);
  // The same file pasted as text (an export opened in an editor and
  // copied) uploads its image too, and lands selected.
  const erin = await openBoard(browser, await freshBoard(browser));
  const pasted = erin.waitForRequest((r) => r.method() === "POST" && r.url().endsWith("/images"));
  await erin.mouse.move(640, 400);
  await erin.evaluate((text) => {
    const data = new DataTransfer();
    data.setData("text/plain", text);
    window.dispatchEvent(new ClipboardEvent("paste", { clipboardData: data }));
  }, json.toString());
  await pasted;
  await expect.poll(() => redPixels(erin)).toBeGreaterThan(1_000);
  await expect(erin.getByRole("group", { name: "Arrange" })).toBeVisible();

  // The dark theme shows the canvas inverted (lightness turned over, hues
  // kept), and images drawn inverted under it: dark red and dark blue stay
  // dark, not light pink and lavender. (Saturated colours come out duller:
  // the theme's filter cannot show them.)
  await bob.emulateMedia({ colorScheme: "dark" });
  await bob.reload();
  await expect(bob.getByTestId("connection-status")).toHaveText("connected");
  await expect
    .poll(async () => {
      const [left, right] = await pngPixels(bob, await bob.screenshot(), [[350, 300], [450, 300]]);
      return isDarkRed(left) && isDarkBlue(right);
    })
    .toBe(true);
  await shoot(bob, "images-dark");
  expect(await blocked(alice)).toEqual([]);
  expect(await blocked(bob)).toEqual([]);
});

test("files the server does not take are refused with its reason, and add nothing", async ({ browser }) => {
  const url = await freshBoard(browser);
  const alice = await openBoard(browser, url);
  const bob = await openBoard(browser, url);
  const dir = test.info().outputDir;
  fs.mkdirSync(dir, { recursive: true });
  const write = (name: string, bytes: Buffer | string) => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, bytes);
    return file;
  };

  // Named and typed like a PNG, but not one.
  await insertViaMenu(alice, [write("disguised.png", "<html><script>alert(1)</script></html>")]);
  await expect(alice.getByRole("status")).toHaveText(
    "Could not add disguised.png: this is not a PNG, JPEG, WebP or GIF image",
  );
  // A PNG's signature with nothing after it.
  await pasteFile(alice, (await twoColourPng(alice, 4, 4)).subarray(0, 12), "cut.png", "image/png");
  await expect(alice.getByRole("status")).toHaveText(
    "Could not add cut.png: the image's size cannot be read: the file is damaged",
  );
  // SVG can carry scripts.
  await pasteFile(alice, Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"/>'), "drawing.svg", "image/svg+xml");
  await expect(alice.getByRole("status")).toContainText("Could not add drawing.svg: SVG images are not taken");
  // Larger than the server's limit (10 MiB by default).
  const huge = Buffer.alloc(10 * 1024 * 1024 + 1);
  (await twoColourPng(alice, 4, 4)).copy(huge);
  await insertViaMenu(alice, [write("huge.png", huge)]);
  await expect(alice.getByRole("status")).toHaveText(
    "Could not add huge.png: the image is larger than this server takes (10 MiB at most)",
  );
  await shoot(alice, "image-refused");

  await alice.waitForTimeout(300);
  expect(await ink(alice)).toBe(0);
  expect(await ink(bob)).toBe(0);
});

// An image whose bytes could not be fetched (the network gone for a
// moment) stays a grey box only until the page connects again.
test("an image that could not be fetched is asked for again once the page reconnects", async ({ browser }) => {
  const url = await freshBoard(browser);
  const alice = await openBoard(browser, url);
  const bob = await openBoard(browser, url);
  let refused = 0;
  await bob.route("**/images/*", async (route) => {
    refused++;
    await route.abort("internetdisconnected");
  });
  await alice.mouse.move(400, 300);
  await pasteFile(alice, await twoColourPng(alice, 200, 100), "pasted.png", "image/png");
  await expect.poll(async () => isRed(await pixelAt(alice, 350, 300))).toBe(true);
  await expect.poll(() => refused).toBeGreaterThan(0);
  await expect.poll(async () => isPlaceholderGrey(await pixelAt(bob, 350, 300))).toBe(true);
  await bob.unroute("**/images/*");
  await bob.context().setOffline(true);
  await expect(bob.getByTestId("connection-status")).not.toHaveText("connected");
  await bob.context().setOffline(false);
  await expect(bob.getByTestId("connection-status")).toHaveText("connected", { timeout: 15_000 });
  await expect.poll(async () => isRed(await pixelAt(bob, 350, 300))).toBe(true);
  expect(isBlue(await pixelAt(bob, 450, 300))).toBe(true);
  expect(refused).toBe(1);
});

// The page keeps 64 megapixels of decoded images besides those in sight
// (src/client/images.rs): past that, the least recently drawn are let go
// of, and fetched again when they come back into sight.
test("images out of sight are let go of past the memory budget, and come back", async ({ browser }) => {
  const page = await openBoard(browser, await freshBoard(browser));
  const asked = new Map<string, number>();
  page.on("request", (request) => {
    const id = request.url().match(/\/images\/([0-9a-f]{64})$/)?.[1];
    if (id) asked.set(id, (asked.get(id) ?? 0) + 1);
  });
  // Five images of 4096 × 4096 (16 megapixels each), one a screen and
  // more to the right of the other.
  const rights = ["#0000ff", "#00ff00", "#ffff00", "#00ffff", "#ff00ff"];
  const ids: string[] = [];
  for (const [i, right] of rights.entries()) {
    if (i > 0) await page.mouse.wheel(3000, 0);
    await page.mouse.move(640, 400);
    const png = await twoColourPng(page, 4096, 4096, right);
    const [answer] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith("/images") && r.request().method() === "POST"),
      pasteFile(page, png, `large${i}.png`, "image/png"),
    ]);
    ids.push((await answer.json()).id);
    await expect.poll(async () => isRed(await pixelAt(page, 560, 400))).toBe(true);
  }
  // Each was asked for once; the fifth made five times 16 megapixels, and
  // the first, drawn least recently, was let go of.
  for (const id of ids) expect(asked.get(id)).toBe(1);
  // Back to the first: asked for again, and drawn.
  await page.mouse.wheel(-12000, 0);
  await expect.poll(() => asked.get(ids[0])).toBe(2);
  await expect.poll(async () => isRed(await pixelAt(page, 560, 400))).toBe(true);
  expect(isBlue(await pixelAt(page, 720, 400))).toBe(true);
  // The second, now least recently drawn, went in its place; the others,
  // still within the budget, were kept.
  await page.mouse.wheel(3000, 0);
  await expect.poll(() => asked.get(ids[1])).toBe(2);
  await page.mouse.wheel(9000, 0);
  await expect.poll(async () => isRed(await pixelAt(page, 560, 400))).toBe(true);
  expect(asked.get(ids[4])).toBe(1);
  // All five in sight (80 megapixels): the third, let go of when the
  // second came back, comes back too, and none is let go of while in
  // sight, however long ago it was drawn; so the view painted afresh (a
  // zoom) asks for nothing.
  await page.keyboard.press("Shift+!");
  await expect.poll(() => asked.get(ids[2])).toBe(2);
  await page.waitForTimeout(500);
  const settled = ids.map((id) => asked.get(id));
  await page.keyboard.press("-");
  await page.keyboard.press("+");
  await page.waitForTimeout(1000);
  expect(ids.map((id) => asked.get(id))).toEqual(settled);
});
