// The service worker: after one visit, a board's page loads without a
// network (its board and unsent changes come from IndexedDB, kept by the
// page itself: src/client/offline.rs).
//
// This is the project's one hand-written JavaScript file. A service worker
// has to be a script of its own that the browser starts before any page;
// loading the app's WebAssembly here for 60 lines of caching would cost
// every page load more than it saves.
//
// What it caches, in one cache:
// - the site's files (`/pkg/…`, `/favicon.svg`): a response marked
//   `immutable` (a hashed file name) is served from the cache without
//   asking; others are asked for first, and the cache answers only when
//   the network fails (a development build's plain names change meaning);
// - pages (any navigation: `/`, `/b/{id}`, `/v/{token}`): asked for first;
//   the last good answer of each address is kept (at most PAGES_KEPT) and
//   served when the network fails. The pages open when it starts are
//   kept at once, with the files they name, so one visit is enough.
// WebSockets, other origins and anything but GET pass by untouched.
// Files that no kept page names any more are dropped when a page is kept.

const CACHE = "whiteboard-1";
const PAGES_KEPT = 24;

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((names) => Promise.all(names.filter((n) => n !== CACHE).map((n) => caches.delete(n))))
      .then(() => self.clients.claim())
      .then(keepOpenPages),
  );
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin) {
    return;
  }
  if (request.mode === "navigate") {
    event.respondWith(networkFirst(request, event));
  } else if (url.pathname.startsWith("/pkg/") || url.pathname === "/favicon.svg") {
    event.respondWith(siteFile(request));
  }
});

async function siteFile(request) {
  const cache = await caches.open(CACHE);
  const cached = await cache.match(request);
  if (cached && (cached.headers.get("cache-control") || "").includes("immutable")) {
    return cached;
  }
  try {
    const response = await fetch(request);
    if (response.ok) {
      await cache.put(request, response.clone());
    }
    return response;
  } catch (error) {
    if (cached) {
      return cached;
    }
    throw error;
  }
}

async function networkFirst(request, event) {
  const cache = await caches.open(CACHE);
  try {
    const response = await fetch(request);
    if (response.ok) {
      event.waitUntil(cache.put(request, response.clone()).then(() => tidy(cache)));
    }
    return response;
  } catch (error) {
    const cached = await cache.match(request, { ignoreSearch: true });
    if (cached) {
      return cached;
    }
    throw error;
  }
}

const NAMED_FILES = /\/pkg\/[^"'\s)]+/g;

// Keeps the pages open now (loaded before this worker ran) and their files.
async function keepOpenPages() {
  const cache = await caches.open(CACHE);
  const windows = await self.clients.matchAll({ type: "window" });
  for (const client of windows) {
    try {
      const page = await fetch(client.url);
      if (!page.ok) continue;
      await cache.put(client.url, page.clone());
      const files = new Set(Array.from((await page.text()).matchAll(NAMED_FILES), (m) => m[0]));
      files.add("/favicon.svg");
      for (const file of files) {
        if (!(await cache.match(file))) {
          const response = await fetch(file);
          if (response.ok) await cache.put(file, response);
        }
      }
    } catch (error) {
      // Offline already: the next visit keeps it.
    }
  }
}

// Keeps the PAGES_KEPT most recent pages and the files they name.
async function tidy(cache) {
  const requests = await cache.keys();
  const isFile = (r) => {
    const path = new URL(r.url).pathname;
    return path.startsWith("/pkg/") || path === "/favicon.svg";
  };
  const pages = requests.filter((r) => !isFile(r));
  const dropped = pages.slice(0, Math.max(0, pages.length - PAGES_KEPT));
  await Promise.all(dropped.map((r) => cache.delete(r)));
  const named = new Set();
  for (const page of pages.slice(dropped.length)) {
    const response = await cache.match(page);
    const html = response ? await response.text() : "";
    for (const match of html.matchAll(NAMED_FILES)) {
      named.add(match[0]);
    }
  }
  await Promise.all(
    requests
      .filter((r) => isFile(r) && new URL(r.url).pathname.startsWith("/pkg/"))
      .filter((r) => !named.has(new URL(r.url).pathname))
      .map((r) => cache.delete(r)),
  );
}
