// Visitor scenarios: the demo shop page (/) with the widget, used like a
// person would — open it, type, click — against a real server, checked on
// the page and in the server's database.
'use strict';

const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { addAgent, sleep, sql, sqlString, waitUntil } = require('./lib/harness');
const { Widget } = require('./lib/widget');

// Each was tried with `supportbot ask` first.
const FAQ_QUESTION = 'do I need to seam seal my new tent'; // KB tent-seam-sealing
const FAQ_ANSWER = 'factory-taped seams';
const R_VALUE_QUESTION = 'what r-value do I need'; // KB sleeping-pad-r-value
const R_VALUE_ANSWER = 'measures how well a pad';

async function shopPage(t, srv, opts) {
  const page = await t.newPage(opts);
  await page.goto(srv.url + '/');
  return { page, w: new Widget(page) };
}

function countMessages(srv, where) {
  return Number(sql(srv.dbPath, `SELECT count(*) FROM messages WHERE ${where}`));
}

// How many delivered visitor bubbles show exactly `text`.
async function shownOnce(w, text) {
  return w.byId('message-visitor').getByTestId('text').getByText(text, { exact: true }).count();
}

module.exports = {
  'an FAQ question gets the article, rendered from Markdown': async (t) => {
    const srv = await t.server();
    const { page, w } = await shopPage(t, srv);
    await t.shot(page, 'shop page');
    // A first visit opens no conversation until the visitor opens the chat.
    await sleep(300);
    assert.equal(sql(srv.dbPath, 'SELECT count(*) FROM conversations'), '0');
    await w.open();
    await t.shot(page, 'widget open');
    await w.send(FAQ_QUESTION);
    const answer = await w.botSays(FAQ_ANSWER);
    await t.shot(page, 'answer');
    // **bold** became <strong>, the "- " lines a list, the bare URL a link.
    assert.equal(await answer.locator('strong').first().innerText(), FAQ_ANSWER);
    assert.equal(await answer.locator('li').count(), 3);
    const link = answer.locator('a[href="https://shop.example/warranty"]');
    assert.equal(await link.innerText(), 'https://shop.example/warranty');
    assert.equal(await link.getAttribute('target'), '_blank');
    assert.match(await link.getAttribute('rel'), /noopener/);
    assert.deepEqual(await w.visitorTexts(), [FAQ_QUESTION]);
    assert.equal(countMessages(srv, `sender = 'visitor' AND text = ${sqlString(FAQ_QUESTION)}`), 1);
  },

  'a quick reply is sent with its payload and answered; feedback is stored': async (t) => {
    const srv = await t.server();
    const { page, w } = await shopPage(t, srv);
    await w.open();
    await w.send('hi');
    const greeting = await w.botSays('Trailhead Outfitters');
    const chips = greeting.getByTestId('quick-reply');
    assert.deepEqual(await chips.allInnerTexts(), ['Where is my order?', 'Start a return', 'Shipping costs', 'Talk to a person']);
    await t.shot(page, 'quick replies');
    await chips.filter({ hasText: 'Shipping costs' }).click();
    const answer = await w.botSays('free on orders over $75');
    await t.shot(page, 'quick reply answered');
    // The greeting's buttons are gone once answered; the click shows as the visitor's message.
    assert.equal(await greeting.getByTestId('quick-reply').count(), 0);
    assert.deepEqual(await w.visitorTexts(), ['hi', 'Shipping costs']);
    const meta = sql(srv.dbPath, "SELECT meta_json FROM messages WHERE sender = 'visitor' AND text = 'Shipping costs'");
    assert.match(meta, /"payload":"Shipping costs"/);

    await answer.getByTestId('helpful-yes').click();
    await answer.getByTestId('helpful').filter({ hasText: 'Thanks for your feedback' }).waitFor();
    await t.shot(page, 'feedback given');
    const seq = await answer.getAttribute('data-seq');
    await waitUntil(
      () => sql(srv.dbPath, `SELECT helpful FROM feedback WHERE seq = ${Number(seq)}`) === '1',
      'the feedback row',
    );
  },

  'a reload shows the whole conversation again': async (t) => {
    const srv = await t.server();
    const { page, w } = await shopPage(t, srv);
    await w.open();
    await w.send(FAQ_QUESTION);
    await w.botSays(FAQ_ANSWER);
    await w.send(R_VALUE_QUESTION);
    await w.botSays(R_VALUE_ANSWER);
    const before = await w.transcript();
    assert.equal(before.length, 4);
    await t.shot(page, 'before reload');

    await page.reload();
    // The panel was open in this tab: it opens again by itself.
    await w.panel.waitFor({ state: 'visible' });
    await w.online();
    await t.shot(page, 'after reload');
    assert.deepEqual(await w.transcript(), before);

    // Without the saved transcript (a cleared cache keeps only the token),
    // the server's replay brings it back.
    await page.evaluate(() => {
      const key = Object.keys(localStorage).find((k) => k.startsWith('supportbot:') && !k.endsWith(':open'));
      const s = JSON.parse(localStorage.getItem(key));
      localStorage.setItem(key, JSON.stringify({ token: s.token, conversation_id: s.conversation_id, last_seq: 0 }));
    });
    await page.reload();
    await w.online();
    await w.botSays(R_VALUE_ANSWER);
    await t.shot(page, 'replayed by the server');
    assert.deepEqual(await w.transcript(), before);

    // A client ahead of the server (a database restored from a backup) gets
    // `resync` and the server's transcript replaces its own.
    await page.evaluate(() => {
      const key = Object.keys(localStorage).find((k) => k.startsWith('supportbot:') && !k.endsWith(':open'));
      const s = JSON.parse(localStorage.getItem(key));
      s.messages.push({ seq: 99, from: 'bot', text: 'a message the server never sent', ts: 0 });
      s.last_seq = 99;
      localStorage.setItem(key, JSON.stringify(s));
    });
    await page.reload();
    await w.online();
    await waitUntil(async () => (await w.transcript()).length === 4, 'the resynced transcript');
    await t.shot(page, 'resynced');
    assert.deepEqual(await w.transcript(), before);

    // The conversation goes on where it was.
    await w.send('Shipping costs');
    await w.botSays('free on orders over $75');
    const after = await w.transcript();
    assert.equal(after.length, 6);
    assert.equal(after[4], '5 visitor: Shipping costs');
    assert.equal(sql(srv.dbPath, 'SELECT count(*) FROM conversations'), '1');

    // A token the server does not know (a reset database) starts afresh.
    await page.evaluate(() => {
      const key = Object.keys(localStorage).find((k) => k.startsWith('supportbot:') && !k.endsWith(':open'));
      const s = JSON.parse(localStorage.getItem(key));
      s.token = '0123456789abcdef0123456789abcdef';
      localStorage.setItem(key, JSON.stringify(s));
    });
    await page.reload();
    await w.online();
    await waitUntil(async () => (await w.transcript()).length === 0, 'the old transcript to go');
    await w.send(FAQ_QUESTION);
    await w.botSays(FAQ_ANSWER);
    assert.deepEqual((await w.transcript()).map((l) => l.split(':')[0]), ['1 visitor', '2 bot']);
    assert.equal(sql(srv.dbPath, 'SELECT count(*) FROM conversations'), '2');
  },

  'a second tab shows the same conversation, both ways': async (t) => {
    const srv = await t.server();
    const { page, w } = await shopPage(t, srv);
    // The second tab is loaded before the conversation starts in the first.
    const page2 = await page.context().newPage();
    await page2.goto(srv.url + '/');
    const w2 = new Widget(page2);

    await w.open();
    await w.send(FAQ_QUESTION);
    await w.botSays(FAQ_ANSWER);
    await w2.open();
    await w2.botSays(FAQ_ANSWER);
    await t.shot(page2, 'second tab');
    assert.deepEqual(await w2.transcript(), await w.transcript());

    await w2.send(R_VALUE_QUESTION);
    await w2.botSays(R_VALUE_ANSWER);
    await w.botSays(R_VALUE_ANSWER); // the first tab gets the message and the reply
    await t.shot(page, 'first tab');
    assert.equal(await shownOnce(w, R_VALUE_QUESTION), 1);
    assert.deepEqual(await w.transcript(), await w2.transcript());
    assert.equal(countMessages(srv, `text = ${sqlString(R_VALUE_QUESTION)}`), 1);
    assert.equal(sql(srv.dbPath, 'SELECT count(*) FROM conversations'), '1');
  },

  'messages typed offline are pending, then delivered exactly once': async (t) => {
    const srv = await t.server();
    const { page, w } = await shopPage(t, srv);
    await w.open();
    await w.send(FAQ_QUESTION);
    await w.botSays(FAQ_ANSWER);

    await page.context().setOffline(true);
    await w.connection.filter({ hasText: 'Offline' }).waitFor();
    const texts = ['first while offline: is the Ridgeline 2 tent waterproof?', 'second while offline: what r-value do I need'];
    for (const text of texts) await w.send(text);
    assert.equal(await w.pending.count(), 2);
    assert.match(await w.pending.first().getByTestId('pending-tag').innerText(), /Not sent yet/);
    await t.shot(page, 'offline, two pending');
    await sleep(1000); // nothing leaks out while offline
    assert.equal(await w.pending.count(), 2);
    for (const text of texts) assert.equal(countMessages(srv, `text = ${sqlString(text)}`), 0);

    await page.context().setOffline(false);
    await w.online();
    await waitUntil(async () => (await w.pending.count()) === 0, 'the outbox to drain');
    await w.botSays(R_VALUE_ANSWER);
    await t.shot(page, 'back online, delivered');
    for (const text of texts) {
      assert.equal(await shownOnce(w, text), 1, `shown once: ${text}`);
      assert.equal(countMessages(srv, `text = ${sqlString(text)}`), 1, `stored once: ${text}`);
    }
    // In order, each followed by its reply.
    const seqs = (await w.transcript()).map((l) => Number(l.split(' ')[0]));
    assert.deepEqual(seqs, [1, 2, 3, 4, 5, 6]);
  },

  'a server restart loses nothing: pending messages go once it is back': async (t) => {
    const srv = await t.server();
    const { page, w } = await shopPage(t, srv);
    await w.open();
    await w.send(FAQ_QUESTION);
    await w.botSays(FAQ_ANSWER);

    await srv.kill(); // SIGKILL, no goodbye
    await w.connection.filter({ hasNotText: 'Online' }).waitFor();
    const texts = ['sent while the server was down', 'and one more'];
    for (const text of texts) await w.send(text);
    assert.equal(await w.pending.count(), 2);
    await t.shot(page, 'server down, two pending');

    await srv.restart(); // same data dir, same port
    await waitUntil(async () => (await w.pending.count()) === 0, 'the outbox to drain after the restart', 20000);
    await w.online();
    await t.shot(page, 'server back, delivered');
    for (const text of texts) {
      assert.equal(await shownOnce(w, text), 1, `shown once: ${text}`);
      assert.equal(countMessages(srv, `text = ${sqlString(text)}`), 1, `stored once: ${text}`);
    }
    assert.equal(sql(srv.dbPath, 'SELECT count(DISTINCT conversation_id) FROM messages'), '1');
  },

  'visitor text that looks like HTML or a javascript: link stays text': async (t) => {
    const srv = await t.server();
    const { page, w } = await shopPage(t, srv);
    await w.open();
    const attacks = [
      '<img src=x onerror="window.__xss=1">',
      '<script>window.__xss=1</script>',
      '[x](javascript:window.__xss=1)',
    ];
    for (const text of attacks) {
      await w.send(text);
      await w.delivered(text);
    }
    await sleep(300);
    await t.shot(page, 'shown as text');
    assert.deepEqual(await w.visitorTexts(), attacks);
    const found = await page.evaluate(() => {
      const root = document.querySelector('#supportbot-widget').shadowRoot;
      return {
        xss: window.__xss,
        elements: root.querySelectorAll('[data-testid=log] img, [data-testid=log] script, [data-testid=message-visitor] a').length,
      };
    });
    assert.deepEqual(found, { xss: undefined, elements: 0 });
  },

  'a KB answer with HTML and script in it is rendered as text': async (t) => {
    // A copy of the knowledge base with one hostile article (`ask` answers it).
    const kbDir = path.join(t.tmpdir(), 'kb');
    fs.cpSync(path.join(t.source, 'knowledge_base'), kbDir, { recursive: true });
    fs.writeFileSync(
      path.join(kbDir, 'zz-lantern.md'),
      [
        '---',
        'id: lantern-glow-test',
        'title: How bright is the glowworm lantern?',
        'questions:',
        '  - glowworm lantern brightness',
        '---',
        'The **glowworm lantern** <img src=x onerror="window.__xss=1"> gives 300 lumens. <script>window.__xss=1</script>',
        '',
        '[Datasheet](https://shop.example/lantern) · <a href="javascript:window.__xss=1">click</a>',
        '',
      ].join('\n'),
    );
    const srv = await t.server({ kbDir });
    const { page, w } = await shopPage(t, srv);
    await w.open();
    await w.send('how bright is the glowworm lantern');
    const answer = await w.botSays('300 lumens');
    await t.shot(page, 'hostile article');
    const text = await answer.getByTestId('text').innerText();
    assert.ok(text.includes('<img src=x onerror="window.__xss=1">'), text);
    assert.ok(text.includes('<script>window.__xss=1</script>'), text);
    assert.ok(text.includes('<a href="javascript:window.__xss=1">click</a>'), text);
    assert.equal(await answer.locator('img, script').count(), 0);
    const links = answer.locator('a');
    assert.equal(await links.count(), 1);
    assert.equal(await links.getAttribute('href'), 'https://shop.example/lantern');
    assert.equal(await page.evaluate(() => window.__xss), undefined);
  },

  'asking for a person queues the visitor; an email turns it into a ticket': async (t) => {
    const srv = await t.server();
    const { page, w } = await shopPage(t, srv);
    await w.open();
    await w.send('I want to talk to a human');
    await w.botSays('passing you to our customer service team');
    await w.banner.filter({ hasText: 'Waiting for an agent' }).waitFor();
    // Nobody is online: the queue frame says so and the form is offered.
    await w.byId('contact-intro').filter({ hasText: 'No one is available' }).waitFor();
    await w.banner.filter({ hasText: 'number 1 in line' }).waitFor();
    await t.shot(page, 'queued, no agents');

    const email = w.byId('email');
    await email.fill('not-an-email');
    await w.byId('email-send').click();
    await w.byId('contact-error').filter({ hasText: 'valid email' }).waitFor();
    assert.equal(await email.getAttribute('aria-invalid'), 'true');
    await t.shot(page, 'email refused by the widget');

    await email.fill('ana@example.com');
    await email.press('Enter');
    await w.banner.filter({ hasText: 'An agent will answer here' }).waitFor();
    assert.equal(await w.byId('contact').isVisible(), false);
    await t.shot(page, 'ticket');
    await waitUntil(
      () => sql(srv.dbPath, "SELECT email || '|' || status FROM tickets") === 'ana@example.com|open',
      'the ticket row',
    );
    assert.equal(sql(srv.dbPath, 'SELECT state, visitor_email FROM conversations'), 'ticket|ana@example.com');
  },

  'outside opening hours the widget says the team is away and offers the email form': async (t) => {
    // Open half an hour a day, twelve hours from now.
    const hour = String((new Date().getUTCHours() + 12) % 24).padStart(2, '0');
    const srv = await t.server({ extraConfig: `hours:\n  timezone: "UTC"\n  open: ["mon-sun ${hour}:00-${hour}:30"]` });
    const { page, w } = await shopPage(t, srv);
    await w.open();
    await w.send('I want to talk to a human');
    await w.byId('contact-intro').filter({ hasText: 'outside opening hours' }).waitFor();
    await w.byId('email').waitFor();
    await t.shot(page, 'after hours');
  },

  'ending the chat asks for the survey; 4 stars and a comment are stored': async (t) => {
    const srv = await t.server();
    const { page, w } = await shopPage(t, srv);
    await w.open();
    await w.send(FAQ_QUESTION);
    await w.botSays(FAQ_ANSWER);
    await w.byId('end-chat').click();
    await w.byId('survey').waitFor();
    await w.byId('note').filter({ hasText: 'Chat ended' }).waitFor();
    await t.shot(page, 'survey');

    await w.byId('survey-send').click(); // no stars yet
    await w.byId('survey-error').filter({ hasText: '1 to 5' }).waitFor();
    await w.byId('csat-4').click();
    assert.equal(await w.byId('csat-4').getAttribute('aria-pressed'), 'true');
    await w.byId('survey-comment').fill('Quick answer, thanks!');
    await w.byId('survey-send').click();
    await w.byId('survey-thanks').waitFor();
    await t.shot(page, 'survey sent');
    await waitUntil(
      () => sql(srv.dbPath, "SELECT csat || '|' || comment FROM surveys") === '4|Quick answer, thanks!',
      'the survey row',
    );
    assert.equal(sql(srv.dbPath, 'SELECT state FROM conversations'), 'closed');

    // Writing again reopens the conversation with the bot.
    await w.send(R_VALUE_QUESTION);
    await w.botSays(R_VALUE_ANSWER);
    await waitUntil(async () => !(await w.byId('survey').isVisible()), 'the survey to go');
    assert.equal(sql(srv.dbPath, 'SELECT state FROM conversations'), 'bot');
  },

  'an agent joins, types, answers and leaves': async (t) => {
    const srv = await t.server();
    addAgent(srv, 'alice', 'correct horse battery', ['general'], { displayName: 'Alice' });
    const { page, w } = await shopPage(t, srv);

    // The agent: a logged-in socket on /agent/ws (docs/agents.md), driven
    // from a page of its own so that its cookie and Origin are a browser's.
    const agentPage = await t.newPage();
    await agentPage.goto(srv.url + '/healthz');
    await agentPage.evaluate(async () => {
      const r = await fetch('/agent/login', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ name: 'alice', password: 'correct horse battery' }),
      });
      if (!r.ok) throw new Error('login: ' + r.status);
      window.frames_ = [];
      window.agent = new WebSocket(location.origin.replace('http', 'ws') + '/agent/ws');
      window.agent.onmessage = (e) => window.frames_.push(JSON.parse(e.data));
      await new Promise((ok, fail) => {
        window.agent.onopen = ok;
        window.agent.onerror = fail;
      });
    });
    // The first frame the agent got that `pred` accepts (polled from here:
    // the page's CSP forbids evaluating strings in it).
    const agentFrame = (pred, what) =>
      waitUntil(async () => (await agentPage.evaluate(() => window.frames_)).find(pred), what);
    const agentSend = (f) => agentPage.evaluate((f) => window.agent.send(JSON.stringify(f)), f);

    await w.open();
    await w.send('I want to talk to a human');
    await w.banner.filter({ hasText: 'Waiting for an agent' }).waitFor();
    // Someone is online: the email form is offered, not pushed.
    await w.byId('contact-toggle').waitFor();
    assert.equal(await w.byId('contact-form').isVisible(), false);
    await t.shot(page, 'queued, agent online');

    const queued = await agentFrame((f) => f.type === 'queue' && f.waiting.length === 1, 'the queue');
    const conversation_id = queued.waiting[0].conversation_id;
    await agentSend({ type: 'claim', conversation_id });
    await w.byId('note').filter({ hasText: 'Alice joined the chat' }).waitFor();
    await w.banner.filter({ hasText: 'chatting with Alice' }).waitFor();

    await agentSend({ type: 'typing', conversation_id, on: true });
    await w.byId('typing').filter({ hasText: 'Alice is typing' }).waitFor();
    await t.shot(page, 'agent typing');
    await agentSend({ type: 'message', conversation_id, client_msg_id: 'a-1', text: 'Hi, I am **Alice**. How can I help?' });
    const reply = await w.botSays('How can I help?', 'agent');
    assert.equal(await reply.locator('strong').innerText(), 'Alice');
    assert.equal(await w.byId('typing').isVisible(), false);
    await w.send('my tent pole snapped');
    await agentFrame((f) => f.type === 'typing' && f.on === true, "the visitor's typing"); // the agent saw the visitor type
    await agentFrame((f) => f.type === 'message' && f.text === 'my tent pole snapped', "the visitor's message");
    await t.shot(page, 'chatting with the agent');

    await agentSend({ type: 'release', conversation_id });
    await w.byId('note').filter({ hasText: 'Alice left the chat' }).waitFor();
    await waitUntil(async () => !(await w.banner.isVisible()), 'the banner to go');
    await w.send(FAQ_QUESTION); // the bot answers again
    await w.botSays(FAQ_ANSWER);
    await t.shot(page, 'back with the bot');
  },

  'keyboard and a 375 px screen: focus in and out, Escape, full-screen panel': async (t) => {
    const srv = await t.server();
    const { page, w } = await shopPage(t, srv, {
      viewport: { width: 375, height: 740 },
      hasTouch: true,
      isMobile: true,
      reducedMotion: 'reduce', // no opening animation: the panel's box is final at once
    });
    const active = () =>
      page.evaluate(() => {
        const root = document.querySelector('#supportbot-widget').shadowRoot;
        return root.activeElement ? root.activeElement.getAttribute('data-testid') : null;
      });
    await t.shot(page, 'small screen');
    await w.launcher.focus();
    await page.keyboard.press('Enter');
    await w.panel.waitFor({ state: 'visible' });
    assert.equal(await active(), 'input'); // focus moved into the panel
    assert.equal(await w.launcher.getAttribute('aria-expanded'), 'true');
    const box = await w.panel.boundingBox();
    assert.deepEqual([box.x, box.y, box.width, box.height], [0, 0, 375, 740]);
    await w.online();
    await page.keyboard.type(FAQ_QUESTION);
    await page.keyboard.press('Enter');
    await w.botSays(FAQ_ANSWER);
    await t.shot(page, 'full-screen panel');

    // Labels and the live region a screen reader needs.
    assert.equal(await w.byId('log').getAttribute('aria-live'), 'polite');
    assert.equal(await w.input.getAttribute('aria-label'), 'Type your message');
    assert.equal(await w.byId('minimize').getAttribute('aria-label'), 'Close chat window');

    await page.keyboard.press('Escape');
    await w.panel.waitFor({ state: 'hidden' });
    assert.equal(await active(), 'launcher'); // focus back on the launcher
    assert.equal(await w.launcher.getAttribute('aria-expanded'), 'false');
    await t.shot(page, 'closed with Escape');
  },

  'embedded on another page: data-* options, readable colours, host styles kept out': async (t) => {
    // A host page with hostile global styles, a strict CSP (no inline
    // styles at all) and a light brand colour.
    const webDir = path.join(t.tmpdir(), 'web');
    fs.cpSync(path.join(t.source, 'bot/web'), webDir, { recursive: true });
    fs.writeFileSync(
      path.join(webDir, 'hostile.css'),
      '* { font-size: 40px !important; color: red !important; } button { background: black !important; }\n',
    );
    fs.writeFileSync(
      path.join(webDir, 'embed.html'),
      `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Host</title>
<meta http-equiv="Content-Security-Policy" content="default-src 'self'; style-src 'self'">
<link rel="stylesheet" href="/hostile.css">
</head><body><h1>Another shop</h1>
<script src="/widget.js" data-title="Sunny help" data-color="#ffd400" data-position="left" data-greeting="Howdy! *Ask away.*" async></script>
</body></html>`,
    );
    const srv = await t.server({ webDir });
    const page = await t.newPage();
    await page.goto(srv.url + '/embed.html');
    const w = new Widget(page);
    await w.open();
    await t.shot(page, 'embedded, yellow, left');
    const look = await page.evaluate(() => {
      const root = document.querySelector('#supportbot-widget').shadowRoot;
      const header = getComputedStyle(root.querySelector('header'));
      const input = getComputedStyle(root.querySelector('[data-testid=input]'));
      const panel = root.querySelector('[data-testid=panel]').getBoundingClientRect();
      return {
        title: root.querySelector('h2').textContent,
        headerColor: header.color,
        headerBackground: header.backgroundColor,
        inputFontSize: input.fontSize,
        left: panel.left,
        greeting: root.querySelector('.intro').innerText.trim(),
      };
    });
    // The page's CSP is in force: an inline style is refused there.
    const inlineStyleApplied = await page.evaluate(() => {
      const st = document.createElement('style');
      st.textContent = 'body { margin: 77px }';
      document.head.append(st);
      return getComputedStyle(document.body).marginTop === '77px';
    });
    assert.equal(inlineStyleApplied, false);
    assert.equal(look.title, 'Sunny help');
    assert.equal(look.headerBackground, 'rgb(255, 212, 0)');
    assert.equal(look.headerColor, 'rgb(0, 0, 0)'); // dark text on yellow
    assert.ok(contrast([255, 212, 0], [0, 0, 0]) >= 4.5);
    assert.equal(look.inputFontSize, '16px'); // host styles did not reach in
    assert.ok(look.left < 40, `panel on the left (x = ${look.left})`);
    assert.equal(look.greeting, 'Howdy! Ask away.');
    await w.send('hi');
    await w.botSays('Trailhead Outfitters');
  },
};

function contrast(a, b) {
  const lum = (c) => {
    const [r, g, bl] = c.map((v) => {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * bl;
  };
  const [hi, lo] = [lum(a), lum(b)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
}
