// B12, the web page at size: the node's page in real headless Chromium against one node that
// holds a big space (run by `tim testnet bench --only b12`, testnet/src/page_bench.rs; never by
// the test suite). Figures, no verdicts: the bench prints them with the other scenarios'.
//
// Each run, in a fresh browser context: sign in with the token (the form, as e2e.mjs does),
// then a real navigation to `#/space/ID`, timed in the page's own clock from the navigation's
// start until the newest message is in the timeline, and until the live stream is on (the page
// opens it once every list of the space is read); DOM counters and the JS heap (after a
// garbage collection) then; the next older pages, each loaded by scrolling the timeline to its
// top, timed from the scroll until the page's messages are in; DOM and heap again; then
// messages posted through the API, each timed from just before the `POST` until the page shows
// it. Last, with the browser closed, the API routes the page reads, each timed from Node.
//
// Environment: TIM_URL, TIM_TOKEN, TIM_SPACE; optional TIM_RUNS (3), TIM_PAGES (10),
// TIM_LIVE (20), TIM_SAMPLES (20), TIM_CHROMIUM (/usr/bin/chromium). Progress goes to standard
// error; the figures, one JSON object, to standard output. Exits 1 with a message on failure.

import { launch } from './chromium.mjs';

function fail(message) {
  console.error(`FAIL: ${message}`);
  process.exit(1);
}

const env = (name) => {
  const v = process.env[name];
  if (!v) fail(`environment variable ${name} is not set`);
  return v;
};

const count = (name, fallback) => {
  const v = process.env[name];
  if (v === undefined || v === '') return fallback;
  const n = Number.parseInt(v, 10);
  if (!(n >= 0)) fail(`${name} must be a number, got ${v}`);
  return n;
};

const step = (message) => console.error(`- ${message}`);

const url = env('TIM_URL').replace(/\/$/, '');
const token = env('TIM_TOKEN');
const space = env('TIM_SPACE');
const runs = count('TIM_RUNS', 3);
const pages = count('TIM_PAGES', 10);
const livePosts = count('TIM_LIVE', 20);
const samples = count('TIM_SAMPLES', 20);
if (new URL(url).hostname !== '127.0.0.1') fail(`only 127.0.0.1 is allowed, got ${url}`);

// How long one measured step may take before the run fails.
const STEP_TIMEOUT_MS = 60000;
// The pause after each live message is shown: the page's own reloads it triggers (the summary
// after 300 ms, the members after 200 ms) run before the next message, as in a lively room.
const LIVE_GAP_MS = 500;

const spacePath = `/v1/spaces/${encodeURIComponent(space)}`;

async function call(method, path, body) {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: {
      Authorization: `Bearer ${token}`,
      ...(body ? { 'Content-Type': 'application/json' } : {}),
    },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  if (!res.ok) fail(`${method} ${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

// Wall-clock milliseconds with sub-millisecond resolution, comparable with the page's own
// `performance.timeOrigin + performance.now()` (same machine, same clock).
const wall = () => performance.timeOrigin + performance.now();

// Runs in the page before its scripts: records, in the page's clock (milliseconds since the
// navigation started), when the message `latest` is first in the timeline and when the live
// stream first shows as on.
// It also gives the page `timAnswered(path)`: when the answer to the page's latest request
// whose URL holds `path` was in (page clock), and how long that request took.
function recorder({ latest }) {
  const marks = {};
  window.timBench = marks;
  window.timAnswered = (path) => {
    const entries = performance.getEntriesByType('resource').filter((e) => e.name.includes(path));
    const e = entries[entries.length - 1];
    return e ? { at: e.responseEnd, ms: e.responseEnd - e.startTime } : null;
  };
  const check = () => {
    if (marks.shown === undefined) {
      const li = document.querySelector(`#timeline li.msg[data-id="${CSS.escape(latest)}"]`);
      if (li) marks.shown = performance.now();
    }
    if (marks.live === undefined) {
      const live = document.getElementById('live');
      if (live && live.dataset.state === 'on') marks.live = performance.now();
    }
  };
  new MutationObserver(check).observe(document, {
    subtree: true,
    childList: true,
    attributes: true,
    attributeFilter: ['data-state'],
  });
}

// DOM counters and the JS heap of the page, after a full garbage collection.
async function memory(cdp) {
  await cdp.send('HeapProfiler.collectGarbage');
  const heap = await cdp.send('Runtime.getHeapUsage');
  const dom = await cdp.send('Memory.getDOMCounters');
  return { dom_nodes: dom.nodes, listeners: dom.jsEventListeners, heap_mb: heap.usedSize / 1048576 };
}

// Chromium's counters of the page's work so far: layouts, and the time in layout, style
// recalculation and script (ms).
async function work(cdp) {
  const { metrics } = await cdp.send('Performance.getMetrics');
  const m = Object.fromEntries(metrics.map(({ name, value }) => [name, value]));
  return {
    layouts: m.LayoutCount,
    layout_ms: m.LayoutDuration * 1000,
    style_ms: m.RecalcStyleDuration * 1000,
    script_ms: m.ScriptDuration * 1000,
  };
}

const minus = (a, b) => Object.fromEntries(Object.keys(a).map((k) => [k, a[k] - b[k]]));

// Scrolls the timeline to its top and resolves, in the page, once the next older page is in
// (the oldest message shown changed and the control is enabled again; past the page's cap the
// count stays, as the newest are dropped): the time it took, the part of it the API request
// took (request → answer in), and how many messages are shown then.
function olderPage(timeoutMs) {
  performance.clearResourceTimings();
  return new Promise((resolve, reject) => {
    const list = document.getElementById('timeline');
    const button = document.getElementById('load-older');
    const shownNow = () => list.querySelectorAll('li.msg').length;
    const oldest = () => list.firstElementChild && list.firstElementChild.dataset.id;
    const before = shownNow();
    const first = oldest();
    let observer = null;
    const timer = setTimeout(() => {
      observer.disconnect();
      reject(new Error(`no older page within ${timeoutMs} ms (${before} messages shown)`));
    }, timeoutMs);
    const t0 = performance.now();
    observer = new MutationObserver(() => {
      const shown = shownNow();
      if (oldest() !== first && !button.disabled) {
        const ms = performance.now() - t0;
        observer.disconnect();
        clearTimeout(timer);
        const api = window.timAnswered('/messages?limit=');
        resolve({ ms, fetch_ms: api ? api.ms : null, shown, scroll_top: list.scrollTop });
      }
    });
    observer.observe(list, { childList: true });
    observer.observe(button, { attributes: true });
    list.scrollTop = 0;
  });
}

// Resolves, in the page, with the wall-clock time the first timeline message holding `text`
// appears (at once if it is there already).
function watchFor({ text, timeoutMs }) {
  const list = document.getElementById('timeline');
  const has = () => [...list.querySelectorAll('li.msg .text')].some((p) => p.textContent.startsWith(text));
  window.timSeen = new Promise((resolve, reject) => {
    if (has()) {
      resolve(performance.timeOrigin + performance.now());
      return;
    }
    const timer = setTimeout(() => {
      observer.disconnect();
      reject(new Error(`"${text}" not shown within ${timeoutMs} ms`));
    }, timeoutMs);
    const observer = new MutationObserver(() => {
      if (has()) {
        const at = performance.timeOrigin + performance.now();
        observer.disconnect();
        clearTimeout(timer);
        resolve(at);
      }
    });
    observer.observe(list, { childList: true, subtree: true });
  });
}

async function browserRun(browser, run) {
  const errors = [];
  const latest = (await call('GET', `${spacePath}/messages?limit=1`)).messages[0];
  if (!latest) fail('the space has no message');
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  await context.addInitScript(recorder, { latest: latest.id });
  const page = await context.newPage();
  page.setDefaultTimeout(STEP_TIMEOUT_MS);
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(`uncaught: ${e.message}`));
  const cdp = await context.newCDPSession(page);
  await cdp.send('Performance.enable');

  // Signed in as a person does (the token is kept for the tab), then a real navigation.
  await page.goto(`${url}/`);
  await page.getByLabel('Access token').fill(token);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.getByTestId('who-did').waitFor();
  await page.goto('about:blank');
  await page.goto(`${url}/#/space/${encodeURIComponent(space)}`, { waitUntil: 'commit' });
  const marks = await page.waitForFunction(
    () => window.timBench && window.timBench.shown !== undefined && window.timBench.live !== undefined
      && window.timBench,
    undefined,
    { timeout: STEP_TIMEOUT_MS },
  ).then((h) => h.jsonValue());
  const shownAtOpen = await page.locator('#timeline li.msg').count();
  // When the latest page's answer was in (the rest of the open is the page's own work).
  const data = await page.evaluate((path) => window.timAnswered(path), '/messages?limit=');
  marks.data = data ? data.at : null;
  step(`run ${run}: newest message shown ${marks.shown.toFixed(0)} ms after navigating (its page's answer in at ${marks.data?.toFixed(0)} ms), live at ${marks.live.toFixed(0)} ms (${shownAtOpen} messages)`);
  const openWork = await work(cdp);
  const open = await memory(cdp);

  const older = [];
  for (let i = 1; i <= pages; i += 1) {
    if (await page.getByTestId('load-older').isHidden()) break;
    const before = await work(cdp);
    const loaded = await page.evaluate(olderPage, STEP_TIMEOUT_MS);
    older.push({ ...loaded, work: minus(await work(cdp), before) });
  }
  const shownAfter = await page.locator('#timeline li.msg').count();
  const after = await memory(cdp);
  step(`run ${run}: ${older.length} older pages (${older.map((o) => o.ms.toFixed(0)).join(', ')} ms); ${shownAfter} messages shown; heap ${open.heap_mb.toFixed(1)} -> ${after.heap_mb.toFixed(1)} MB, DOM nodes ${open.dom_nodes} -> ${after.dom_nodes}`);

  // The view back at the newest message, as a reader waiting for new ones keeps it (past the
  // page's cap of shown messages, the newest were dropped: its jump control brings them).
  if (await page.getByTestId('jump-newest').isVisible()) {
    await page.getByTestId('jump-newest').click();
    await page.getByTestId('jump-newest').waitFor({ state: 'hidden' });
  }
  await page.getByTestId('timeline').evaluate((list) => { list.scrollTop = list.scrollHeight; });
  const live = [];
  for (let k = 1; k <= livePosts; k += 1) {
    const text = `page bench, run ${run}, live ${k}: ${Math.random().toString(36).slice(2)}`;
    await page.evaluate(watchFor, { text, timeoutMs: STEP_TIMEOUT_MS });
    const t0 = wall();
    await call('POST', `${spacePath}/messages`, { text });
    const seen = await page.evaluate(() => window.timSeen);
    live.push(seen - t0);
    await new Promise((r) => setTimeout(r, LIVE_GAP_MS));
  }
  if (live.length) {
    const sorted = [...live].sort((a, b) => a - b);
    step(`run ${run}: ${live.length} live messages, p50 ${sorted[Math.floor(sorted.length / 2)].toFixed(1)} ms`);
  }
  await context.close();
  return {
    open_ms: marks.shown,
    open_data_ms: marks.data,
    open_work: openWork,
    live_on_ms: marks.live,
    shown_at_open: shownAtOpen,
    older,
    shown_after: shownAfter,
    open,
    after,
    live_ms: live,
    errors,
  };
}

// The API routes the page reads, each `samples` times, one request at a time.
async function routes() {
  const find = async (q) => (await call('GET', `${spacePath}/search?q=${encodeURIComponent(q)}&limit=20`)).messages;
  const oldest = (await find('message 0')).find((m) => m.text === 'message 0');
  const timed = {
    summary: `${spacePath}`,
    members: `${spacePath}/members`,
    'messages, latest 50': `${spacePath}/messages?limit=50`,
    'search, many hits': `${spacePath}/search?q=${encodeURIComponent('message 9')}&limit=20`,
    'search, one hit (oldest)': `${spacePath}/search?q=${encodeURIComponent('message 0')}&limit=20`,
    'search, no hit': `${spacePath}/search?q=${encodeURIComponent('no such words')}&limit=20`,
    abilities: `${spacePath}/abilities`,
    requests: `${spacePath}/requests`,
    proposals: `${spacePath}/proposals`,
    tokens: `${spacePath}/tokens`,
  };
  const latest = await call('GET', `${spacePath}/messages?limit=50`);
  if (latest.next_before) timed['messages, the 50 before those'] = `${spacePath}/messages?limit=50&before=${encodeURIComponent(latest.next_before)}`;
  if (oldest) timed['messages, 50 after the oldest'] = `${spacePath}/messages?limit=50&after=${encodeURIComponent(oldest.id)}`;
  const out = {};
  for (const [name, path] of Object.entries(timed)) {
    out[name] = [];
    for (let i = 0; i < samples; i += 1) {
      const t0 = wall();
      await call('GET', path);
      out[name].push(wall() - t0);
    }
  }
  return out;
}

let browser;
try {
  browser = await launch();
} catch (e) {
  fail(e.message);
}

const results = { chromium: browser.version(), runs: [], routes: {} };
try {
  for (let run = 1; run <= runs; run += 1) results.runs.push(await browserRun(browser, run));
} catch (e) {
  fail(e.message);
} finally {
  await browser.close();
}
step(`timing the API routes, ${samples} requests each`);
results.routes = await routes();
process.stdout.write(`${JSON.stringify(results)}\n`);
