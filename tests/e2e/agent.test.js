// Agent console scenarios: the page at /agent/ (bot/web/agent/) used like an
// agent would — log in, claim, reply, note, transfer, release, close — with
// real visitors on the demo shop page (the widget) in other browser contexts.
'use strict';

const assert = require('node:assert/strict');
const { addAgent, sql, sqlString, waitUntil } = require('./lib/harness');
const { Widget } = require('./lib/widget');

const ALICE = { name: 'alice', password: 'alice-password-1', display: 'Alice Archer' };
const BOB = { name: 'bob', password: 'bob-password-12', display: 'Bob Baker' };

// Markup that runs script when a page inserts it as HTML.
const XSS_VISITOR = 'I want to talk to a human <img src=x onerror="window.__xss=1"><script>window.__xss=2</script>';
const XSS_AGENT = 'Hello! <img src=x onerror="window.__xss=3"> <b>bold?</b>';
const XSS_NOTE = 'VIP, be gentle <img src=x onerror="window.__xss=4">';

// Every WebSocket frame a page sends and receives, as text.
function recordFrames(page) {
  const rec = { sent: [], received: [] };
  page.on('websocket', (ws) => {
    ws.on('framesent', (f) => rec.sent.push(String(f.payload)));
    ws.on('framereceived', (f) => rec.received.push(String(f.payload)));
  });
  return rec;
}

function parsed(list) {
  const out = [];
  for (const s of list) {
    try {
      out.push(JSON.parse(s));
    } catch (e) {
      // not JSON: not ours
    }
  }
  return out;
}

// The console of one agent.
class Console {
  constructor(page, frames) {
    this.page = page;
    this.frames = frames;
  }

  byId(id) {
    return this.page.getByTestId(id);
  }

  async login(agent) {
    await this.page.getByLabel('Name').fill(agent.name);
    await this.page.getByLabel('Password', { exact: true }).fill(agent.password);
    await this.page.getByRole('button', { name: 'Log in' }).click();
    await this.connected();
  }

  async connected() {
    await this.page.locator('#conn[data-state=open]').waitFor();
  }

  queueItem(hasText) {
    return this.byId('queue-item').filter({ hasText });
  }

  // Claims the queued conversation whose preview or reason has `hasText`;
  // waits for its transcript.
  async claim(hasText) {
    const item = this.queueItem(hasText);
    await item.getByRole('button', { name: /^Claim/ }).click();
    await this.byId('conv-state').filter({ hasText: 'yours' }).waitFor();
    await item.waitFor({ state: 'detached' });
  }

  get transcript() {
    return this.page.locator('#transcript-wrap [data-testid=transcript]');
  }

  async reply(text) {
    const box = this.byId('reply-text');
    await box.click();
    await box.pressSequentially(text, { delay: 2 });
    await box.press('Enter');
    // Confirmed by the server: no longer "sending…".
    await this.transcript.locator('[data-testid=msg-agent]:not(.pending)').filter({ hasText: text.slice(0, 20) }).last().waitFor();
  }

  async note(text) {
    await this.byId('note-text').fill(text);
    await this.byId('note-add').click();
    await this.transcript.getByTestId('msg-note').filter({ hasText: text.slice(0, 12) }).waitFor();
  }

  tab(hasText) {
    return this.byId('conv-tab').filter({ hasText });
  }

  async xss() {
    return this.page.evaluate(() => window.__xss);
  }
}

async function consolePage(t, srv, opts) {
  const page = await t.newPage(opts);
  const frames = recordFrames(page);
  await page.goto(srv.url + '/agent/');
  await page.locator('#login-view:not([hidden])').waitFor();
  return new Console(page, frames);
}

async function agentIn(t, srv, agent, opts) {
  const c = await consolePage(t, srv, opts);
  await c.login(agent);
  return c;
}

async function shopPage(t, srv, opts) {
  const page = await t.newPage(opts);
  const frames = recordFrames(page);
  await page.goto(srv.url + '/');
  const w = new Widget(page);
  await w.open();
  return { page, w, frames };
}

// A server with alice (and bob) in team general.
async function serverWithAgents(t, opts) {
  const srv = await t.server(opts);
  addAgent(srv, ALICE.name, ALICE.password, ['general'], { displayName: ALICE.display });
  addAgent(srv, BOB.name, BOB.password, ['general'], { displayName: BOB.display });
  return srv;
}

function conversationIdOf(frames) {
  const welcome = parsed(frames.received).find((f) => f.type === 'welcome');
  assert.ok(welcome, 'the widget got its welcome');
  return welcome.conversation_id;
}

module.exports = {
  'a wrong password shows an error; the right one opens the console': async (t) => {
    const srv = await serverWithAgents(t);
    const c = await consolePage(t, srv);
    await t.shot(c.page, 'login form');
    assert.equal(await c.page.title(), 'supportbot console');
    await c.page.getByLabel('Name').fill(ALICE.name);
    await c.page.getByLabel('Password', { exact: true }).fill('not-the-password');
    await c.page.getByRole('button', { name: 'Log in' }).click();
    await c.byId('login-error').filter({ hasText: 'Wrong name or password.' }).waitFor();
    assert.equal(await c.page.locator('#app-view').isHidden(), true);
    await t.shot(c.page, 'wrong password');
    // A name that does not exist gets the very same answer.
    await c.page.getByLabel('Name').fill('nobody');
    await c.page.getByRole('button', { name: 'Log in' }).click();
    await c.page.locator('#login-submit:not([disabled])').waitFor();
    assert.equal(await c.byId('login-error').innerText(), 'Wrong name or password.');

    await c.login(ALICE);
    assert.equal(await c.byId('agent-name').innerText(), ALICE.display);
    await c.page.getByText('Nobody is waiting.').waitFor();
    await t.shot(c.page, 'logged in');

    // A reload keeps the session (GET /agent/me): no form.
    await c.page.reload();
    await c.connected();
    assert.equal(await c.page.locator('#login-view').isHidden(), true);

    // Log out: the form comes back, and a reload shows the form too.
    await c.byId('logout').click();
    await c.page.locator('#login-view:not([hidden])').waitFor();
    await c.page.getByText('You are logged out.').waitFor();
    await c.page.reload();
    await c.page.locator('#login-view:not([hidden])').waitFor();
    await t.shot(c.page, 'logged out');
  },

  'too many wrong passwords are refused with a wait': async (t) => {
    const srv = await serverWithAgents(t);
    const c = await consolePage(t, srv);
    await c.page.getByLabel('Name').fill(BOB.name);
    for (let i = 0; i < 5; i++) {
      await c.page.getByLabel('Password', { exact: true }).fill('wrong-' + i);
      await c.page.getByRole('button', { name: 'Log in' }).click();
      await c.byId('login-error').filter({ hasText: 'Wrong name or password.' }).waitFor();
      await c.page.locator('#login-submit:not([disabled])').waitFor();
      await c.page.evaluate(() => { document.getElementById('login-error').textContent = ''; });
    }
    await c.page.getByLabel('Password', { exact: true }).fill(BOB.password);
    await c.page.getByRole('button', { name: 'Log in' }).click();
    await c.byId('login-error').filter({ hasText: /Too many failed attempts\. Try again in \d+ s\./ }).waitFor();
    await t.shot(c.page, 'rate limited');
  },

  'a visitor asks for a person: claim, reply, note, close; no markup ever runs': async (t) => {
    const srv = await serverWithAgents(t);
    // bypassCSP: the page's own CSP would block inline handlers and hide a
    // rendering bug; without it a payload inserted as HTML would run.
    const agent = await agentIn(t, srv, ALICE, { bypassCSP: true });
    await t.shot(agent.page, 'console, empty queue');

    const visitor = await shopPage(t, srv, { bypassCSP: true });
    await visitor.w.send('where is my order AB-123456');
    await visitor.w.botSays('AB-123456');
    await visitor.w.send(XSS_VISITOR);
    await visitor.w.banner.filter({ hasText: 'Waiting for an agent' }).waitFor();
    await t.shot(visitor.page, 'visitor waits');
    const cid = conversationIdOf(visitor.frames);

    // The queue shows it, with why and the visitor's words as text.
    const item = agent.queueItem('talk to a human');
    await item.waitFor();
    await item.getByText('handoff rule talk_to_human').waitFor();
    assert.ok((await item.innerText()).includes('<img src=x onerror="window.__xss=1">'));
    assert.equal(await agent.page.title(), '(1) supportbot console');
    await t.shot(agent.page, 'in the queue');

    await agent.claim('talk to a human');
    await visitor.w.banner.filter({ hasText: 'You are chatting with ' + ALICE.display }).waitFor();
    // The whole transcript, with the bot's decisions.
    const visitorMsgs = agent.transcript.getByTestId('msg-visitor');
    await waitUntil(async () => (await visitorMsgs.count()) === 2, 'two visitor messages in the console');
    assert.ok((await visitorMsgs.nth(1).innerText()).includes('<script>window.__xss=2</script>'));
    const badges = await agent.transcript.getByTestId('source-badge').allInnerTexts();
    assert.equal(badges.length, 2);
    assert.match(badges[0], /^intent order_status · [01]\.\d\d$/);
    assert.match(badges[1], /^intent talk_to_human · [01]\.\d\d$/);
    await agent.byId('why').getByText(/handed off after intent talk_to_human/).waitFor();
    assert.match(await agent.byId('context').innerText(), /slot order_id\s+AB-123456/);
    assert.equal(await agent.page.title(), 'supportbot console');
    assert.equal(await agent.tab('Visitor ' + cid.slice(2, 8)).count(), 1);
    await t.shot(agent.page, 'claimed');

    // Typing, both ways.
    await visitor.w.input.click();
    await visitor.w.input.pressSequentially('one more thing', { delay: 20 });
    await agent.byId('visitor-typing').filter({ hasText: 'The visitor is typing' }).waitFor();
    await visitor.w.input.press('Enter');
    await agent.transcript.getByTestId('msg-visitor').filter({ hasText: 'one more thing' }).waitFor();

    // The agent's reply reaches the visitor, as text.
    await agent.reply(XSS_AGENT);
    const shown = await visitor.w.botSays('Hello!', 'agent');
    assert.ok((await shown.innerText()).includes('<img src=x onerror="window.__xss=3">'));
    await t.shot(visitor.page, 'visitor sees the reply');

    // An internal note: in the console, never at the visitor.
    await agent.note(XSS_NOTE);
    const noteText = await agent.transcript.getByTestId('msg-note').innerText();
    assert.ok(noteText.includes('not sent to visitor') && noteText.includes('<img src=x'));
    await t.shot(agent.page, 'reply and note');
    assert.equal(Number(sql(srv.dbPath, `SELECT count(*) FROM notes WHERE conversation_id = ${sqlString(cid)}`)), 1);
    await visitor.page.waitForTimeout(300);
    assert.ok(!visitor.frames.received.some((f) => f.includes('VIP, be gentle')), 'the note never went to the visitor');
    assert.ok(!(await visitor.page.locator('#supportbot-widget').innerText()).includes('VIP'));

    // Nothing ran and no element came out of the payloads, in either page.
    for (const page of [agent.page, visitor.page]) {
      assert.equal(await page.evaluate(() => window.__xss), undefined);
      assert.equal(await page.locator('img[src="x"]').count(), 0);
      assert.equal(await page.locator('b:text("bold?")').count(), 0);
    }

    // Close: the visitor is asked for the survey; the console keeps it read-only.
    await agent.byId('close').click();
    await agent.byId('conv-state').filter({ hasText: 'closed' }).waitFor();
    await visitor.w.byId('survey').waitFor();
    await visitor.w.byId('csat-5').waitFor();
    assert.equal(await agent.byId('reply-text').isDisabled(), true);
    await t.shot(agent.page, 'closed');
    await t.shot(visitor.page, 'visitor survey');
    await visitor.w.byId('csat-5').click();
    await visitor.w.byId('survey-send').click();
    await visitor.w.byId('survey-thanks').waitFor();
    await waitUntil(() => sql(srv.dbPath, `SELECT csat FROM surveys WHERE conversation_id = ${sqlString(cid)}`) === '5', 'the survey stored');
  },

  'a new conversation in the queue: title count, one beep, mute remembered': async (t) => {
    const srv = await serverWithAgents(t);
    const agent = await agentIn(t, srv, ALICE);
    assert.equal(await agent.page.locator('body').getAttribute('data-beeps'), null);
    // Browsers let a page sound only after a gesture: logging in was one.
    const one = await shopPage(t, srv);
    await one.w.send('I want to talk to a human');
    await agent.queueItem('talk to a human').waitFor();
    await waitUntil(async () => (await agent.page.title()) === '(1) supportbot console', 'the title count');
    assert.equal(await agent.page.locator('body').getAttribute('data-beeps'), '1');
    assert.equal(await agent.page.locator('body').getAttribute('data-sounds'), '1');
    await t.shot(agent.page, 'one waiting');

    // Muted: counted, not sounded; the choice survives a reload.
    await agent.page.getByRole('button', { name: 'Sound on' }).click();
    assert.equal(await agent.byId('logout').isVisible(), true);
    assert.equal(await agent.page.locator('#mute').getAttribute('aria-pressed'), 'true');
    await agent.page.reload();
    await agent.connected();
    await agent.page.getByRole('button', { name: 'Sound off' }).waitFor();
    const two = await shopPage(t, srv);
    await two.w.send('this is useless');
    await agent.byId('queue-item').nth(1).waitFor();
    await waitUntil(async () => (await agent.page.title()) === '(2) supportbot console', 'the title count of two');
    // After the reload the page had not seen the first one either: two
    // notifications (the first on the snapshot at connect), neither sounded.
    assert.equal(await agent.page.locator('body').getAttribute('data-beeps'), '2');
    assert.equal(await agent.page.locator('body').getAttribute('data-sounds'), null);
    await t.shot(agent.page, 'two waiting, muted');

    // A claim takes one off the count; a queue change that brings nothing new does not beep.
    await agent.claim('talk to a human');
    await waitUntil(async () => (await agent.page.title()) === '(1) supportbot console', 'the count after a claim');
    assert.equal(await agent.page.locator('body').getAttribute('data-beeps'), '2');
    // Waiting time counts up live.
    const wait = agent.byId('queue-item').locator('.wait');
    const before = await wait.innerText();
    await waitUntil(async () => (await wait.innerText()) !== before, 'the waiting time to tick', 4000);
  },

  'transfer to a team and to an agent carries the notes; release hands back to the bot': async (t) => {
    const srv = await serverWithAgents(t);
    const alice = await agentIn(t, srv, ALICE);
    const bob = await agentIn(t, srv, BOB);
    const visitor = await shopPage(t, srv);
    await visitor.w.send('I want to talk to a human');
    await bob.queueItem('talk to a human').waitFor();

    await alice.claim('talk to a human');
    // Bob's queue empties: one agent holds it.
    await bob.byId('queue-item').waitFor({ state: 'detached' });
    await alice.note('Asked about a refund twice');
    await alice.byId('transfer-team').fill('general');
    await alice.byId('transfer-team').press('Enter');
    await alice.byId('conv-state').filter({ hasText: 'transferred' }).waitFor();
    await alice.page.getByText('Transferred: back in the queue').waitFor();
    await t.shot(alice.page, 'alice transferred to the team');

    // Back in the queue with who transferred it; bob claims and sees the note.
    const item = bob.queueItem('transferred by ' + ALICE.display);
    await item.waitFor();
    await t.shot(bob.page, 'bob sees it in the queue');
    await bob.claim('transferred by');
    await bob.transcript.getByTestId('msg-note').filter({ hasText: 'Asked about a refund twice' }).waitFor();
    await bob.byId('why').getByText('Queue reason: transferred by ' + ALICE.display + '.').waitFor();
    await visitor.w.banner.filter({ hasText: 'You are chatting with ' + BOB.display }).waitFor();
    await bob.reply('Bob here, I will look into it.');
    await visitor.w.botSays('Bob here', 'agent');

    // To an agent by name: alice holds it at once, with both notes.
    await bob.note('Handing back to Alice');
    await bob.byId('transfer-agent').fill(ALICE.name);
    await bob.byId('transfer-agent').press('Enter');
    await bob.page.getByText('Transferred to ' + ALICE.display + '.').waitFor();
    await visitor.w.banner.filter({ hasText: 'You are chatting with ' + ALICE.display }).waitFor();
    const back = alice.byId('conv-tab').filter({ has: alice.page.locator('.state-tag.state-agent') });
    await back.waitFor();
    await back.click();
    await alice.byId('conv-state').filter({ hasText: 'yours' }).waitFor();
    await waitUntil(async () => (await alice.transcript.getByTestId('msg-note').count()) === 2, 'both notes at alice');
    await alice.transcript.getByTestId('msg-agent').filter({ hasText: 'Bob here' }).waitFor();
    await t.shot(alice.page, 'alice has it back');

    // Release: the bot answers the visitor again.
    await alice.byId('release').click();
    await alice.byId('conv-state').filter({ hasText: 'released' }).waitFor();
    await visitor.w.send('where is my order AB-123456');
    await visitor.w.botSays('AB-123456');
    await t.shot(visitor.page, 'visitor back with the bot');
    // The agent removes the finished conversation from the list.
    await alice.page.getByRole('button', { name: /^Remove conversation/ }).first().click();
    await waitUntil(async () => (await alice.byId('conv-tab').count()) === 0, 'the list emptied');
    await alice.page.getByText('No conversation open').waitFor();
  },

  'several conversations at once, switched with the keyboard': async (t) => {
    const srv = await serverWithAgents(t);
    const agent = await agentIn(t, srv, ALICE);
    const one = await shopPage(t, srv);
    await one.w.send('I want to talk to a human');
    const two = await shopPage(t, srv);
    await two.w.send('this is useless');
    await agent.byId('queue-item').nth(1).waitFor();

    // Alt+C claims the oldest waiting conversation.
    await agent.page.keyboard.press('Alt+c');
    await agent.byId('conv-state').filter({ hasText: 'yours' }).waitFor();
    await agent.byId('queue-item').nth(1).waitFor({ state: 'detached' });
    await agent.page.keyboard.press('Alt+c');
    await waitUntil(async () => (await agent.byId('conv-tab').count()) === 2, 'two conversations held');
    await agent.byId('queue-item').waitFor({ state: 'detached' });
    assert.equal(await agent.byId('agent-name').isVisible(), true);
    assert.equal(await agent.page.locator('#me-load').innerText(), '2/5 chats');

    // The second is open; a message in the first shows as unread there.
    await agent.transcript.getByTestId('msg-visitor').filter({ hasText: 'this is useless' }).waitFor();
    await one.w.send('are you there?');
    const first = agent.byId('conv-tab').first();
    await first.locator('.unread').filter({ hasText: '1' }).waitFor();
    await agent.reply('Reply to the second visitor');
    await agent.byId('reply-text').fill('draft for the second');
    await t.shot(agent.page, 'two conversations, one unread');

    await agent.page.keyboard.press('Alt+ArrowUp');
    await agent.transcript.getByTestId('msg-visitor').filter({ hasText: 'are you there?' }).waitFor();
    assert.equal(await first.locator('.unread').count(), 0);
    assert.equal(await agent.byId('reply-text').inputValue(), '');
    await agent.reply('Reply to the first visitor');
    await agent.page.keyboard.press('Alt+ArrowDown');
    await agent.transcript.getByTestId('msg-visitor').filter({ hasText: 'this is useless' }).waitFor();
    assert.equal(await agent.byId('reply-text').inputValue(), 'draft for the second');

    await one.w.botSays('Reply to the first visitor', 'agent');
    await two.w.botSays('Reply to the second visitor', 'agent');
    assert.equal(await one.page.getByText('Reply to the second visitor').count(), 0);
    assert.equal(await two.page.getByText('Reply to the first visitor').count(), 0);
    await t.shot(agent.page, 'back on the second, draft kept');
  },

  'auto-assignment: the conversation opens in the console without a claim, and away stops it': async (t) => {
    const srv = await serverWithAgents(t, { extraConfig: 'agents:\n  auto_assign: true' });
    const alice = await agentIn(t, srv, ALICE);
    const visitor = await shopPage(t, srv);
    await visitor.w.send('I want to talk to a human');
    let auto = true;
    try {
      await alice.byId('conv-state').filter({ hasText: 'yours' }).waitFor({ timeout: 5000 });
    } catch (e) {
      auto = false;
    }
    if (!auto) {
      // A server without auto-assignment: the queue as always.
      t.log('this server does not auto-assign');
      await alice.queueItem('talk to a human').waitFor();
      return;
    }
    await visitor.w.banner.filter({ hasText: 'You are chatting with ' + ALICE.display }).waitFor();
    await alice.transcript.getByTestId('msg-visitor').filter({ hasText: 'I want to talk to a human' }).waitFor();
    await alice.byId('why').getByText(/handed off after intent talk_to_human/).waitFor();
    assert.equal(await alice.byId('queue-item').count(), 0);
    await t.shot(alice.page, 'assigned without a claim');
    await alice.reply('Assigned to me, hello!');
    await visitor.w.botSays('Assigned to me', 'agent');

    // Away: the next one waits in the queue for a claim.
    await alice.page.getByLabel('Away').check();
    await waitUntil(() => parsed(alice.frames.sent).some((f) => f.type === 'presence' && f.status === 'away'), 'away sent');
    await alice.page.waitForTimeout(300);
    const other = await shopPage(t, srv);
    await other.w.send('this is useless');
    await alice.queueItem('this is useless').waitFor();
    await alice.page.waitForTimeout(1000);
    assert.equal(await alice.byId('conv-tab').count(), 1);
    await t.shot(alice.page, 'away: it waits');
  },

  'a ticket is claimed and answered; the visitor gets the answer when they come back': async (t) => {
    const srv = await serverWithAgents(t);
    // Nobody online: the widget offers the email form.
    const visitor = await shopPage(t, srv);
    await visitor.w.send('I want to talk to a human');
    await visitor.w.byId('contact-form').waitFor();
    await visitor.w.byId('email').fill('ana@example.com');
    await visitor.w.byId('email-send').click();
    await visitor.w.banner.filter({ hasText: 'An agent will answer here' }).waitFor();
    await t.shot(visitor.page, 'visitor left an email');
    const cid = conversationIdOf(visitor.frames);
    const context = visitor.page.context();
    await visitor.page.close();

    const agent = await agentIn(t, srv, ALICE);
    const ticket = agent.byId('ticket-item').filter({ hasText: 'ana@example.com' });
    await ticket.waitFor();
    await t.shot(agent.page, 'a ticket');
    await ticket.getByRole('button', { name: /^Claim ticket/ }).click();
    await agent.byId('conv-state').filter({ hasText: 'yours' }).waitFor();
    await agent.page.getByText('A ticket: the visitor left ana@example.com').waitFor();
    await agent.reply('We can help with that: here is what to do.');
    await t.shot(agent.page, 'ticket answered');
    assert.equal(sql(srv.dbPath, `SELECT status FROM tickets WHERE conversation_id = ${sqlString(cid)}`), 'answered');

    // The visitor comes back (same browser storage): the answer is there.
    const again = await context.newPage();
    await again.goto(srv.url + '/');
    const w = new Widget(again);
    await w.open();
    await w.botSays('We can help with that', 'agent');
    await t.shot(again, 'visitor came back');
  },

  'after a server restart the console asks to log in, then gets its conversation back': async (t) => {
    const srv = await serverWithAgents(t);
    const agent = await agentIn(t, srv, ALICE);
    const visitor = await shopPage(t, srv);
    await visitor.w.send('I want to talk to a human');
    await agent.claim('talk to a human');
    await agent.reply('Before the restart');
    await visitor.w.botSays('Before the restart', 'agent');

    await srv.restart();
    // Sessions live in memory: the console notices and asks again.
    await agent.page.getByText('Your session has ended. Log in again.').waitFor({ timeout: 30000 });
    await t.shot(agent.page, 'session ended');
    await agent.login(ALICE);
    // The held conversation comes back with its transcript.
    await agent.byId('conv-state').filter({ hasText: 'yours' }).waitFor();
    await agent.transcript.getByTestId('msg-agent').filter({ hasText: 'Before the restart' }).waitFor();
    await visitor.w.online();
    await agent.reply('After the restart');
    await visitor.w.botSays('After the restart', 'agent');
    await t.shot(agent.page, 'conversation back');
  },

  'presence: sent on connect and on each switch, or the console says the server has none': async (t) => {
    const srv = await serverWithAgents(t);
    const alice = await agentIn(t, srv, ALICE);
    const presence = () => parsed(alice.frames.sent).filter((f) => f.type === 'presence');
    await waitUntil(() => presence().length >= 1, 'a presence frame');
    assert.deepEqual(presence()[0], { type: 'presence', status: 'online' });
    await alice.page.waitForTimeout(500);
    const received = parsed(alice.frames.received);
    const refused = received.some((f) => f.type === 'error' && !f.conversation_id);
    if (refused) {
      // A server without presence: said once, no heartbeat, the rest works.
      t.log('this server has no presence frame');
      await alice.page.getByText('status not shared: this server has no presence').waitFor();
      await alice.page.getByLabel('Away').check();
      await alice.page.waitForTimeout(300);
      assert.equal(presence().length, 1);
      await t.shot(alice.page, 'no presence on this server');
      return;
    }
    // The team list comes from the `agents` frame.
    await alice.byId('team-agent').filter({ hasText: ALICE.display + ' (you)' }).waitFor();
    assert.equal(await alice.page.getByText('status not shared').isVisible(), false);
    const bob = await agentIn(t, srv, BOB);
    await alice.byId('team-agent').filter({ hasText: BOB.display }).filter({ hasText: 'online' }).waitFor();
    await bob.page.getByLabel('Away').check();
    await waitUntil(() => parsed(bob.frames.sent).some((f) => f.type === 'presence' && f.status === 'away'), 'away sent');
    await alice.byId('team-agent').filter({ hasText: BOB.display }).filter({ hasText: 'away' }).waitFor();
    // Bob is offered for a transfer.
    assert.equal(await alice.page.locator('#agent-names option[value="bob"]').count(), 1);
    await t.shot(alice.page, 'team list');
    // Remembered across a reload.
    await bob.page.reload();
    await bob.connected();
    assert.equal(await bob.page.getByLabel('Away').isChecked(), true);
    await waitUntil(() => parsed(bob.frames.sent).filter((f) => f.type === 'presence' && f.status === 'away').length >= 2,
      'away sent again after the reload');
    // The heartbeat: the same status again within 20 s.
    const before = presence().length;
    await waitUntil(() => presence().length > before, 'a heartbeat', 25000, 500);
    assert.deepEqual(presence().at(-1), { type: 'presence', status: 'online' });
  },

  'canned answers: a knowledge-base search fills the reply box, or says it is not there': async (t) => {
    const srv = await serverWithAgents(t);
    const agent = await agentIn(t, srv, ALICE);
    const visitor = await shopPage(t, srv);
    await visitor.w.send('I want to talk to a human');
    await agent.claim('talk to a human');
    await agent.page.keyboard.press('Alt+k');
    assert.equal(await agent.byId('canned-search').evaluate((e) => e === document.activeElement), true);
    await agent.byId('canned-search').fill('return policy');
    const status = agent.page.locator('#canned-status');
    await waitUntil(async () => /found|Nothing|not available|failed/.test(await status.innerText()), 'a search answer');
    const said = await status.innerText();
    if (said.includes('not available')) {
      t.log('this server has no /agent/api/kb');
      await t.shot(agent.page, 'no canned answers on this server');
      return;
    }
    assert.match(said, /\d+ found/);
    const first = agent.byId('canned-item').first();
    const title = await first.locator('.canned-title').innerText();
    assert.ok(title.length > 0);
    await t.shot(agent.page, 'canned results');
    // The same results as the API gives, the first one's answer inserted as it is.
    const api = await agent.page.evaluate(async () => (await fetch('/agent/api/kb?q=return%20policy')).json());
    assert.equal(title, api.results[0].title);
    await agent.byId('reply-text').fill('Hi! ');
    await first.getByRole('button', { name: /^Insert/ }).click();
    const text = await agent.byId('reply-text').inputValue();
    assert.equal(text, 'Hi! ' + api.results[0].answer.trim());
    assert.equal(await agent.byId('reply-text').evaluate((e) => e === document.activeElement), true);
    await agent.byId('reply-text').press('Enter');
    const words = api.results[0].answer.replace(/[*_[\]()]/g, '').split(/\s+/).slice(0, 3).join(' ');
    const got = await visitor.w.botSays(words, 'agent');
    // The widget renders the agent's Markdown with its safe subset.
    if (/\*\*[^*]+\*\*/.test(text)) assert.ok((await got.locator('strong').count()) > 0);
    assert.ok(!(await got.innerText()).includes('**'));
    await t.shot(visitor.page, 'visitor got the canned answer');
  },
};
