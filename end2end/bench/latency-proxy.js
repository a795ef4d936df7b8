// A TCP proxy that holds every chunk for a fixed time in each direction:
// the benchmark's server as if it were `delay` ms away (a round trip of
// twice that), without limiting bandwidth. Loopback has no latency, so
// whatever overlaps round trips (the page's early connection) shows no
// gain there. Run by scripts/bench-browser.sh when BENCH_LATENCY_MS is set.
//
//   node latency-proxy.js <listen port> <server port> <delay ms>
const net = require("node:net");

const [listenPort, serverPort, delay] = process.argv.slice(2).map(Number);

net
  .createServer((client) => {
    const server = net.connect(serverPort, "127.0.0.1");
    // Timers of equal delay fire in the order they were set, so chunks
    // keep their order.
    const pipe = (from, to) => {
      from.on("data", (chunk) => setTimeout(() => to.write(chunk), delay));
      from.on("end", () => setTimeout(() => to.end(), delay));
      from.on("error", () => to.destroy());
    };
    pipe(client, server);
    pipe(server, client);
  })
  .listen(listenPort, "127.0.0.1");
