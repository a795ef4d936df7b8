// The browser benchmark (bench/*.bench.ts): big boards in Debian's Chromium.
// Not a test and not part of CI: `scripts/bench-browser.sh` starts a release
// server, passes its address and pid in BENCH_URL / BENCH_SERVER_PID, and
// prints the figures for docs/benchmarks.md.
import { defineConfig } from "@playwright/test";
import { chromiumLaunch } from "./chromium";

export default defineConfig({
  testDir: "./bench",
  testMatch: "*.bench.ts",
  timeout: 30 * 60_000,
  workers: 1,
  retries: 0,
  reporter: [["list"]],
  outputDir: "test-results/bench",
  use: {
    baseURL: process.env.BENCH_URL ?? "http://127.0.0.1:8000",
    viewport: { width: 1280, height: 800 },
    launchOptions: chromiumLaunch,
  },
});
