// Does joining a big board stall its live relay? Seeds a board of COUNT
// freehand strokes (20 points each, like big-board.bench.ts), then one
// client sends a cursor every 5 ms and another measures how long each takes
// to come back relayed, first quietly, then while JOINS people join one
// after another, each after a change to the board (so that every join
// needs the board encoded afresh). Prints the relay latencies and how long
// each welcome took.
//
//   target/release/whiteboard --addr 127.0.0.1:8000 --data-dir "$(mktemp -d)" &
//   node --experimental-websocket end2end/bench/join-stall.mjs 8000 100000 10
//
// (Node 22 and later have WebSocket without the flag.)
const [port, count, joins] = [process.argv[2] ?? "8000", Number(process.argv[3] ?? 100000), Number(process.argv[4] ?? 10)];
const board = `stall${Date.now().toString(36)}`.padEnd(22, "0").slice(0, 22);
const url = `ws://127.0.0.1:${port}/ws/${board}`;

/** A client that said hello and got its welcome. */
const open = (user, hello = {}) =>
  new Promise((resolve) => {
    const ws = new WebSocket(url);
    ws.binaryType = "arraybuffer";
    ws.onopen = () => ws.send(JSON.stringify({ type: "hello", protocol: 3, user, ...hello }));
    const onWelcome = (e) => {
      if (typeof e.data === "string" && e.data.includes('"welcome"')) {
        ws.removeEventListener("message", onWelcome);
        resolve(ws);
      }
    };
    ws.addEventListener("message", onWelcome);
  });

const seeder = await open("seeder");
const acks = new Map();
seeder.addEventListener("message", (e) => {
  if (typeof e.data !== "string") return;
  const message = JSON.parse(e.data);
  if (message.type === "ack") acks.get(message.op_id)?.();
  else if (message.type === "error") throw new Error(e.data);
});
/** Sends a durable request; resolves once it is acknowledged. */
const commit = (request) =>
  new Promise((resolve) => {
    acks.set(request.op_id, resolve);
    seeder.send(JSON.stringify(request));
  });

let seed = 42;
const random = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
let batch = [];
for (let i = 0; i < count; i++) {
  let x = random() * 2560;
  let y = random() * 1600;
  const points = [];
  for (let p = 0; p < 20; p++) {
    x += random() * 8 - 3;
    y += random() * 8 - 4;
    points.push([+x.toFixed(1), +y.toFixed(1), 0.5]);
  }
  batch.push({ id: `seed${i}`, color: "#1e1e1e", width: 2, points });
  // Frames from clients are limited to 64 KiB.
  if (batch.length === 80 || i === count - 1) {
    await commit({ type: "add_strokes", op_id: `seed-${i}`, strokes: batch });
    batch = [];
  }
}

const pinger = await open("pinger");
const watcher = await open("watcher");
// The cursor's x is when it was sent (the two clients share a clock).
const latencies = [];
watcher.addEventListener("message", (e) => {
  if (typeof e.data !== "string" || !e.data.includes('"cursor"')) return;
  const message = JSON.parse(e.data);
  if (message.author === "pinger") latencies.push((performance.now() % 1e6) - message.x);
});
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
await sleep(300);
const pinging = setInterval(() => pinger.send(JSON.stringify({ type: "cursor", x: performance.now() % 1e6, y: 0 })), 5);
await sleep(500);
const quiet = latencies.splice(0);
const welcomes = [];
for (let j = 0; j < joins; j++) {
  await commit({
    type: "add_stroke",
    op_id: `change-${j}`,
    stroke: { id: `change${j}`, color: "#e03131", width: 2, points: [[j, j, 0.5], [j + 5, j, 0.5]] },
  });
  const started = performance.now();
  const joiner = await open(`joiner${j}`, { view: { min_x: 0, min_y: 0, max_x: 1280, max_y: 800 } });
  welcomes.push(performance.now() - started);
  joiner.close();
  await sleep(200);
}
clearInterval(pinging);
await sleep(100);
const busy = latencies.splice(0);

const summary = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))].toFixed(1);
  return `p50 ${at(0.5)} / p99 ${at(0.99)} / max ${at(1)} ms (${sorted.length})`;
};
console.log(`${count} strokes; cursor relay, quiet: ${summary(quiet)}`);
console.log(`while ${joins} people join, each after a change: cursor relay ${summary(busy)}; welcome ${summary(welcomes)}`);
process.exit(0);
