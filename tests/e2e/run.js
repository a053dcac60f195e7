#!/usr/bin/env node
// Runs the browser scenarios: node run.js SUPPORTBOT SOURCE_DIR SCREENSHOT_DIR [FILTER]
//
// Every tests/e2e/*.test.js exports an object whose keys are scenario names
// and whose values are async functions taking a context `t`:
//
//   t.binary, t.source            the supportbot binary and the source tree
//   t.server(opts)                startServer() of lib/harness.js; stopped afterwards
//   t.newPage(opts)               a page in a new browser context (its own
//                                 storage; opts go to browser.newContext),
//                                 10 s default timeouts; closed afterwards.
//                                 An uncaught error in the page fails the scenario.
//   t.shot(page, name)            a screenshot into this scenario's folder
//   t.tmpdir()                    a fresh temp folder (removed afterwards)
//   t.defer(fn)                   cleanup, run last-in first-out
//   t.log(...)                    printed only when the scenario fails
//
// Scenarios run one after another in one Chromium; each is time-boxed.
// FILTER (or E2E_ONLY) runs only the scenarios whose "file: name" contains it.
// Prints one PASS/FAIL line per scenario and "N passed, M failed"; exits 1
// on any failure.
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const harness = require('./lib/harness');

const SCENARIO_TIMEOUT_MS = Number(process.env.E2E_SCENARIO_TIMEOUT_MS || 120000);
const CLEANUP_TIMEOUT_MS = 15000;
const PAGE_TIMEOUT_MS = 10000;

function usage(msg) {
  console.error(`run.js: ${msg}\nusage: node run.js SUPPORTBOT SOURCE_DIR SCREENSHOT_DIR [FILTER]`);
  process.exit(2);
}

function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function main() {
  const [binaryArg, sourceArg, shotsArg, filterArg] = process.argv.slice(2);
  if (!binaryArg || !sourceArg || !shotsArg) usage('three arguments are required');
  const binary = path.resolve(binaryArg);
  const source = path.resolve(sourceArg);
  const shotsRoot = path.resolve(shotsArg);
  const filter = filterArg || process.env.E2E_ONLY || '';
  if (!fs.existsSync(binary)) usage(`no binary at ${binary}`);
  if (!fs.existsSync(path.join(source, 'bot/web'))) usage(`${source} is not the source tree`);

  const files = fs
    .readdirSync(__dirname)
    .filter((f) => f.endsWith('.test.js'))
    .sort();
  const scenarios = [];
  for (const f of files) {
    const mod = require(path.join(__dirname, f));
    for (const [name, fn] of Object.entries(mod)) {
      if (typeof fn !== 'function') continue;
      const full = `${f.replace(/\.test\.js$/, '')}: ${name}`;
      if (!filter || full.includes(filter)) scenarios.push({ file: f, name, full, fn });
    }
  }
  if (scenarios.length === 0) {
    console.error(`run.js: no scenario matches${filter ? ` "${filter}"` : ''}`);
    process.exit(1);
  }

  // Old screenshots would mix with this run's.
  fs.rmSync(shotsRoot, { recursive: true, force: true });
  fs.mkdirSync(shotsRoot, { recursive: true });

  const browser = await harness.launchBrowser();
  let passed = 0;
  let failed = 0;
  try {
    for (const s of scenarios) {
      const ok = await runOne(s, { binary, source, browser, shotsRoot });
      if (ok) passed++;
      else failed++;
    }
  } finally {
    await withTimeout(browser.close(), CLEANUP_TIMEOUT_MS, 'closing the browser').catch(() => {});
  }
  console.log(`screenshots: ${shotsRoot}`);
  console.log(`${passed} passed, ${failed} failed`);
  // Exit even if a timed-out scenario left something running.
  process.exit(failed ? 1 : 0);
}

async function runOne(s, { binary, source, browser, shotsRoot }) {
  const shotsDir = path.join(shotsRoot, harness.slug(s.file.replace(/\.test\.js$/, '')), harness.slug(s.name));
  const cleanups = [];
  const servers = [];
  const notes = [];
  const pageErrors = [];
  const pages = [];
  const t = {
    binary,
    source,
    name: s.full,
    shotsDir,
    browser,
    defer: (fn) => cleanups.push(fn),
    log: (...args) => notes.push(args.map(String).join(' ')),
    shot: (page, name) => harness.shot(page, shotsDir, name),
    tmpdir: () => {
      const d = harness.makeTempDir();
      cleanups.push(() => fs.rmSync(d, { recursive: true, force: true }));
      return d;
    },
    server: async (opts = {}) => {
      const dir = harness.makeTempDir();
      cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
      const srv = await harness.startServer({ binary, source, dir, ...opts });
      servers.push(srv);
      cleanups.push(() => srv.kill());
      return srv;
    },
    newPage: async (opts = {}) => {
      const context = await browser.newContext(opts);
      context.setDefaultTimeout(PAGE_TIMEOUT_MS);
      context.setDefaultNavigationTimeout(PAGE_TIMEOUT_MS);
      cleanups.push(() => context.close());
      const page = await context.newPage();
      watch(page);
      context.on('page', watch);
      return page;
    },
  };
  function watch(page) {
    if (pages.includes(page)) return;
    pages.push(page);
    page.on('pageerror', (e) => pageErrors.push(`${page.url()}: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') notes.push(`console ${m.type()}: ${m.text()}`);
    });
  }

  const started = Date.now();
  let error = null;
  try {
    await withTimeout(s.fn(t), SCENARIO_TIMEOUT_MS, 'the scenario');
    if (pageErrors.length) throw new Error(`uncaught error in the page:\n  ${pageErrors.join('\n  ')}`);
  } catch (e) {
    error = e;
  }
  if (error) {
    // What the browser showed when it went wrong.
    for (const [i, page] of pages.entries()) {
      if (!page.isClosed()) await t.shot(page, `at-failure-${i + 1}`).catch(() => {});
    }
  }
  for (const fn of cleanups.reverse()) {
    try {
      await withTimeout(Promise.resolve().then(fn), CLEANUP_TIMEOUT_MS, 'a cleanup');
    } catch (e) {
      if (!error) error = e;
    }
  }
  const secs = ((Date.now() - started) / 1000).toFixed(1);
  if (!error) {
    console.log(`PASS ${s.full} (${secs} s)`);
    return true;
  }
  console.log(`FAIL ${s.full} (${secs} s)`);
  console.log(indent(error.stack || String(error)));
  for (const n of notes.slice(-40)) console.log(indent(n));
  for (const srv of servers) console.log(indent(`server log (${srv.url || 'not listening'}):\n${srv.logTail(25)}`));
  console.log(indent(`screenshots: ${shotsDir}`));
  return false;
}

function indent(text) {
  return String(text)
    .split('\n')
    .map((l) => '    ' + l)
    .join('\n');
}

main().catch((e) => {
  console.error(e.stack || String(e));
  process.exit(1);
});
