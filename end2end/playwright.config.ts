// Playwright drives Debian's Chromium (no browser download) against the
// release server binary, started on a free port with a throw-away data dir.
import { defineConfig } from "@playwright/test";
import * as os from "node:os";
import * as path from "node:path";
import * as fs from "node:fs";
import { chromiumLaunch } from "./chromium";

const port = Number(process.env.E2E_PORT ?? 8123);
const root = path.resolve(__dirname, "..");

/** A release server on `port`; `env` selects its bus and store. */
function server(port: number, name: string, env: Record<string, string> = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `whiteboard-e2e-${name}-`));
  return {
    command: `${root}/target/release/whiteboard --addr 127.0.0.1:${port} --data-dir ${dir} --log warn`,
    url: `http://127.0.0.1:${port}/healthz`,
    env: { LEPTOS_SITE_ROOT: `${root}/target/site`, ...env },
    reuseExistingServer: false,
    timeout: 60_000,
    stdout: "pipe" as const,
    stderr: "pipe" as const,
  };
}

// Two more instances sharing Redis and MongoDB, when the test command
// started those services (scripts/test.sh sets these variables).
const servers = [server(port, "embedded")];
const redis = process.env.WHITEBOARD_TEST_REDIS_URL;
const mongodb = process.env.WHITEBOARD_TEST_MONGODB_URI;
if (redis && mongodb && process.env.E2E_PORT_A && process.env.E2E_PORT_B) {
  const shared = { REDIS_URL: redis, MONGODB_URI: mongodb, MONGODB_DB: `wb_e2e_${Date.now()}` };
  servers.push(server(Number(process.env.E2E_PORT_A), "a", shared));
  servers.push(server(Number(process.env.E2E_PORT_B), "b", shared));
}

export default defineConfig({
  testDir: "./tests",
  testMatch: "*.spec.ts",
  timeout: 60_000,
  expect: { timeout: 10_000 },
  fullyParallel: false,
  workers: 1,
  retries: 0,
  reporter: [["list"]],
  outputDir: "test-results",
  use: {
    baseURL: `http://127.0.0.1:${port}`,
    viewport: { width: 1280, height: 800 },
    launchOptions: chromiumLaunch,
  },
  webServer: servers,
});
