// Pieces shared by the browser scenarios (tests/e2e/*.test.js): a real
// `supportbot serve` on a fresh data dir, Debian's Chromium driven by
// playwright-core, screenshots, agent accounts and SQLite look-ups.
//
// Everything here is time-boxed: a server that does not log "listening"
// within 20 s, or does not exit within 10 s of SIGTERM, is an error (and
// killed), never a hang.
'use strict';

const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const readline = require('node:readline');

const CHROMIUM = process.env.SUPPORTBOT_E2E_CHROMIUM || '/usr/bin/chromium';
const START_TIMEOUT_MS = 20000;
const STOP_TIMEOUT_MS = 10000;
const LOG_LINES_KEPT = 300;

// Every server process still running; killed when this process exits, so a
// scenario that timed out leaves none behind.
const running = new Set();
process.on('exit', () => {
  for (const p of running) p.kill('SIGKILL');
});

// A fresh folder under the system temp dir; the caller removes it.
function makeTempDir(prefix = 'sb-e2e-') {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

// Starts `BINARY serve` on a config written into a fresh temp dir:
//   port 0 (or `port`), 2 threads, data_dir <dir>/var, web_dir, intents_dir
//   and kb_dir from `source` unless given; `extraConfig` is YAML text
//   appended as it is (keys it names must not be among those above).
// Returns {port, url, dir, dataDir, dbPath, config, binary, lines,
//   stop(), kill(), restart(), logTail()}.
// restart() starts the binary again on the same config, data dir and port
// (the widget's URL stays valid); stop() is SIGTERM, kill() is SIGKILL.
async function startServer({ binary, source, extraConfig = '', webDir, intentsDir, kbDir, port = 0, dir } = {}) {
  if (!binary || !source) throw new Error('startServer: binary and source are required');
  const base = dir || makeTempDir();
  const srv = {
    binary,
    dir: base,
    dataDir: path.join(base, 'var'),
    dbPath: path.join(base, 'var', 'supportbot.db'),
    config: path.join(base, 'supportbot.yaml'),
    port: 0,
    url: '',
    lines: [],
    proc: null,
  };
  const writeConfig = (p) => {
    fs.writeFileSync(
      srv.config,
      [
        `port: ${p}`,
        'threads: 2',
        `data_dir: ${JSON.stringify(srv.dataDir)}`,
        `web_dir: ${JSON.stringify(webDir || path.join(source, 'bot/web'))}`,
        `intents_dir: ${JSON.stringify(intentsDir || path.join(source, 'intents'))}`,
        `kb_dir: ${JSON.stringify(kbDir || path.join(source, 'knowledge_base'))}`,
        extraConfig,
        '',
      ].join('\n'),
    );
  };

  const launch = () =>
    new Promise((resolve, reject) => {
      const proc = spawn(binary, ['serve', '--config', srv.config], { stdio: ['ignore', 'ignore', 'pipe'] });
      srv.proc = proc;
      running.add(proc);
      proc.on('exit', () => running.delete(proc));
      let done = false;
      const finish = (err) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        if (err) {
          proc.kill('SIGKILL');
          reject(err);
        } else {
          resolve();
        }
      };
      const timer = setTimeout(
        () => finish(new Error(`serve did not log "listening" within ${START_TIMEOUT_MS} ms\n${srv.logTail()}`)),
        START_TIMEOUT_MS,
      );
      // Drains stderr for the life of the process, so the pipe never fills.
      readline.createInterface({ input: proc.stderr }).on('line', (line) => {
        srv.lines.push(line);
        if (srv.lines.length > LOG_LINES_KEPT) srv.lines.shift();
        if (done) return;
        let entry;
        try {
          entry = JSON.parse(line);
        } catch (e) {
          return;
        }
        if (entry.event === 'listening') {
          srv.port = entry.port;
          srv.url = `http://127.0.0.1:${entry.port}`;
          finish();
        }
      });
      proc.on('error', (e) => finish(e));
      proc.on('exit', (code, signal) =>
        finish(new Error(`serve exited (${code ?? signal}) before listening\n${srv.logTail()}`)),
      );
    });

  const waitExit = (proc, ms) =>
    new Promise((resolve) => {
      if (proc.exitCode !== null || proc.signalCode !== null) return resolve(true);
      const t = setTimeout(() => resolve(false), ms);
      proc.once('exit', () => {
        clearTimeout(t);
        resolve(true);
      });
    });

  srv.logTail = (n = 40) => srv.lines.slice(-n).join('\n');

  srv.stop = async () => {
    const proc = srv.proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    proc.kill('SIGTERM');
    if (!(await waitExit(proc, STOP_TIMEOUT_MS))) {
      proc.kill('SIGKILL');
      await waitExit(proc, STOP_TIMEOUT_MS);
      throw new Error(`serve did not exit within ${STOP_TIMEOUT_MS} ms of SIGTERM\n${srv.logTail()}`);
    }
    if (proc.exitCode !== 0) throw new Error(`serve exited with ${proc.exitCode} after SIGTERM\n${srv.logTail()}`);
  };

  srv.kill = async () => {
    const proc = srv.proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    proc.kill('SIGKILL');
    await waitExit(proc, STOP_TIMEOUT_MS);
  };

  // Same config, same data dir, same port. The old socket may linger a
  // moment: a failed bind is retried for a few seconds.
  srv.restart = async () => {
    await srv.kill();
    writeConfig(srv.port);
    const deadline = Date.now() + 10000;
    for (;;) {
      try {
        await launch();
        return srv;
      } catch (e) {
        if (Date.now() > deadline) throw e;
        await sleep(250);
      }
    }
  };

  fs.mkdirSync(srv.dataDir, { recursive: true });
  writeConfig(port);
  await launch();
  return srv;
}

// Debian's Chromium, headless, with nothing that phones home.
async function launchBrowser() {
  let chromium;
  try {
    ({ chromium } = require('playwright-core'));
  } catch (e) {
    throw new Error('playwright-core is not installed: run deploy/install-deps.sh (npm ci --prefix tests/e2e)');
  }
  if (!fs.existsSync(CHROMIUM)) throw new Error(`no browser at ${CHROMIUM}: apt-get install chromium (deploy/install-deps.sh)`);
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    timeout: 30000,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

// Saves a full-page PNG as DIR/NN-name.png (NN counts up per DIR, so the
// files list in the order they were taken). Returns the file's path.
const shotCounters = new Map();
async function shot(page, dir, name) {
  fs.mkdirSync(dir, { recursive: true });
  const n = (shotCounters.get(dir) || 0) + 1;
  shotCounters.set(dir, n);
  const file = path.join(dir, `${String(n).padStart(2, '0')}-${slug(name)}.png`);
  await page.screenshot({ path: file, fullPage: false, timeout: 10000 });
  return file;
}

function slug(s) {
  return String(s).toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 80) || 'shot';
}

// `supportbot agent add NAME [--team T]... --config CFG`, password on stdin
// (docs/agents.md: the first line of stdin when it is not a terminal).
// `server` is a startServer() result (or any {binary, config}); a running
// server sees the new account at once. Options: admin, displayName, maxChats.
function addAgent(server, name, password, teams = [], { admin = false, displayName, maxChats } = {}) {
  const args = ['agent', 'add', name];
  for (const t of teams) args.push('--team', t);
  if (admin) args.push('--admin');
  if (displayName) args.push('--display-name', displayName);
  if (maxChats !== undefined) args.push('--max-chats', String(maxChats));
  args.push('--config', server.config);
  return execFileSync(server.binary, args, { input: password + '\n', encoding: 'utf8', timeout: 30000 });
}

// One SQL query against the server's database with the sqlite3 shell
// (WAL: reading while the server writes is fine). Returns trimmed stdout;
// rows are lines, columns separated by '|'.
function sql(dbPath, query) {
  return execFileSync('sqlite3', ['-bail', dbPath, query], { encoding: 'utf8', timeout: 10000 }).trim();
}

// SQL text literal.
function sqlString(s) {
  return "'" + String(s).replace(/'/g, "''") + "'";
}

// Polls `fn` (sync or async) until it returns a truthy value; throws with
// `what` after `ms`.
async function waitUntil(fn, what, ms = 10000, every = 100) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what} (last: ${last})`);
    await sleep(every);
  }
}

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

module.exports = {
  addAgent,
  launchBrowser,
  makeTempDir,
  shot,
  sleep,
  slug,
  sql,
  sqlString,
  startServer,
  waitUntil,
};
