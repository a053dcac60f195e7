/*
 * supportbot chat widget: one <script> tag on the host page, one WebSocket to
 * the server the script came from. docs/widget.md is the manual,
 * docs/protocol.md the wire protocol.
 *
 * - Nothing typed is lost: each message waits in an outbox in localStorage,
 *   with its client_msg_id, and is sent again after every reconnect until the
 *   server acks it (a client_msg_id is stored once: resending is safe).
 * - A reload or a second tab shows the same conversation: token, transcript
 *   and last seq live in localStorage; `hello {token, last_seq}` fetches what
 *   is missing.
 * - Text is never parsed as HTML: visitor text is text, bot and agent text
 *   goes through the safe Markdown subset (DESIGN §4), built as DOM nodes.
 *
 * Plain ES2020, no dependencies, no requests but to its own server; the UI is
 * in an open shadow root, out of reach of the host page's styles.
 */
(function () {
  'use strict';

  // ---- setup

  // currentScript is unset under some loaders: then our tag is looked for.
  const script = document.currentScript ||
    Array.from(document.querySelectorAll('script[src]')).reverse().find((s) => /\/widget\.js([?#].*)?$/.test(s.src));
  if (!script || window.__supportbotWidget) return; // embedded twice: the first one serves
  window.__supportbotWidget = true;

  const server = new URL(script.src, location.href);
  const WS_URL = (server.protocol === 'https:' ? 'wss:' : 'ws:') + '//' + server.host + '/ws';
  const STORE_KEY = 'supportbot:' + server.host; // localStorage: one conversation per server
  const OPEN_KEY = STORE_KEY + ':open'; // sessionStorage: the panel is open in this tab

  const MAX_TEXT = 4000; // limits.max_text_chars (default)
  const MAX_HISTORY = 300; // messages kept in localStorage
  const MAX_OUTBOX = 50; // unsent messages kept
  const MAX_CONTROL = 20; // control frames waiting for a connection
  const ACK_TIMEOUT_MS = 10000; // no ack this long: a dead connection
  const CONNECT_TIMEOUT_MS = 10000; // from the upgrade to the welcome
  const BACKOFF_MIN_MS = 500;
  const BACKOFF_MAX_MS = 30000;

  const data = script.dataset;
  const settings = {
    title: (data.title || 'Chat with us').slice(0, 80),
    color: hexColor(data.color) || '#2f6f4f',
    left: data.position === 'left',
    greeting: data.greeting !== undefined ? data.greeting.slice(0, 500) : 'Hi! How can we help?',
  };

  // Only #rgb and #rrggbb: the value goes into a style sheet.
  function hexColor(v) {
    v = (v || '').trim();
    return /^#([0-9a-f]{3}){1,2}$/i.test(v) ? v.replace(/^#(.)(.)(.)$/, '#$1$1$2$2$3$3') : null;
  }

  // White or black text on the brand colour, whichever contrasts more (WCAG):
  // always at least 4.58:1.
  function luminance(hex) {
    const [r, g, b] = [1, 3, 5].map((i) => {
      const v = parseInt(hex.substr(i, 2), 16) / 255;
      return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  }
  const brandL = luminance(settings.color);
  const onColor = 1.05 / (brandL + 0.05) >= (brandL + 0.05) / 0.05 ? '#fff' : '#000';

  // ---- storage

  // f(), or undefined if it throws.
  function safely(f) {
    try { return f(); } catch (e) { return undefined; }
  }

  // Storage may be full or blocked (privacy modes): then memory only.
  function readStore() {
    const v = safely(() => JSON.parse(localStorage.getItem(STORE_KEY) || '{}'));
    return v && typeof v === 'object' ? v : {};
  }
  const writeStore = (v) => safely(() => localStorage.setItem(STORE_KEY, JSON.stringify(v)));
  // session() reads the open flag, session('1' or '0') sets it.
  const session = (v) => safely(() => (v === undefined ? sessionStorage.getItem(OPEN_KEY) : sessionStorage.setItem(OPEN_KEY, v)));

  const isStr = (v) => typeof v === 'string';
  const isSeq = (v) => Number.isInteger(v) && v > 0;
  const asArray = (v) => (Array.isArray(v) ? v : []);
  const bySeq = (map) => Array.from(map.values()).sort((a, b) => a.seq - b.seq);
  const validMessage = (m) => m && isSeq(m.seq) && isStr(m.from) && isStr(m.text);
  const validOut = (o) => o && isStr(o.id) && o.id && isStr(o.text) && o.text;

  // The conversation as this tab knows it.
  const model = {
    token: '',
    conversationId: '',
    state: '', // bot | queued | agent | ticket | closed ('' before the first welcome)
    agent: '', // the agent's display name
    queue: null, // {position, eta_s, no_agents, after_hours} while queued
    lastSeq: 0, // every message up to this seq is in `messages`
    messages: new Map(), // seq -> message frame (+ `feedback` once rated)
    outbox: [], // {id, text, payload?, ts}: typed, not yet acked
    surveyDone: false,
  };
  const finished = new Set(); // client_msg_ids acked or refused: never sent again
  const inflight = new Map(); // client_msg_id -> when sent on this connection

  function load() {
    const s = readStore();
    for (const k of ['token', 'state', 'agent']) if (isStr(s[k])) model[k] = s[k];
    if (isStr(s.conversation_id)) model.conversationId = s.conversation_id;
    if (isSeq(s.last_seq)) model.lastSeq = s.last_seq;
    model.surveyDone = s.survey_done === true;
    for (const m of asArray(s.messages)) if (validMessage(m)) model.messages.set(m.seq, m);
    model.outbox = asArray(s.outbox).filter(validOut).slice(-MAX_OUTBOX);
  }

  // Merged with what other tabs wrote (the server gives all the same seqs, so a
  // union is right); `replace` after a resync.
  function save(replace) {
    const s = replace ? {} : readStore();
    const merged = new Map();
    let lastSeq = model.lastSeq;
    const outbox = model.outbox.map((o) => ({ id: o.id, text: o.text, payload: o.payload, ts: o.ts }));
    if (model.conversationId && s.conversation_id === model.conversationId) {
      for (const m of asArray(s.messages)) if (validMessage(m)) merged.set(m.seq, m);
      if (isSeq(s.last_seq)) lastSeq = Math.max(lastSeq, s.last_seq);
      const mine = new Set(outbox.map((o) => o.id));
      for (const o of asArray(s.outbox)) if (validOut(o) && !mine.has(o.id)) outbox.push(o);
    }
    for (const [seq, m] of model.messages) {
      const old = merged.get(seq);
      merged.set(seq, old && old.feedback !== undefined && m.feedback === undefined ? old : m);
    }
    const delivered = new Set(Array.from(merged.values(), (m) => m.client_msg_id));
    writeStore({ token: model.token, conversation_id: model.conversationId, state: model.state, agent: model.agent,
      last_seq: lastSeq, survey_done: model.surveyDone, messages: bySeq(merged).slice(-MAX_HISTORY),
      outbox: outbox.filter((o) => !finished.has(o.id) && !delivered.has(o.id)).slice(-MAX_OUTBOX) });
  }

  function newId() {
    if (crypto.randomUUID) return crypto.randomUUID();
    return Array.from(crypto.getRandomValues(new Uint8Array(16)), (x) => x.toString(16).padStart(2, '0')).join('');
  }

  // ---- DOM helpers

  // h('button.hbtn.icon', {text, onclick, 'aria-label': ...}, ...children);
  // buttons are type=button unless told.
  function h(tag, attrs, ...children) {
    const [name, ...classes] = tag.split('.');
    const e = document.createElement(name);
    if (classes.length) e.className = classes.join(' ');
    if (name === 'button') e.type = 'button';
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v == null || v === false) continue;
      if (k === 'text') e.textContent = v;
      else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? '' : v);
    }
    e.append(...children.filter((c) => c != null));
    return e;
  }
  const id = (testid) => ({ 'data-testid': testid });

  function icon(d) {
    const ns = 'http://www.w3.org/2000/svg';
    const svg = document.createElementNS(ns, 'svg');
    const path = svg.appendChild(document.createElementNS(ns, 'path'));
    svg.setAttribute('viewBox', '0 0 24 24');
    svg.setAttribute('aria-hidden', 'true');
    path.setAttribute('d', d);
    return svg;
  }

  // ---- safe Markdown

  // **bold**, *italics*, [label](url), bare URLs, \-escapes. No _italics_: it
  // needs a lookbehind (older Safari cannot parse one) and mangles snake_case.
  const INLINE =
    /\*\*(?=\S)([\s\S]*?\S)\*\*|\*(?=[^\s*])([^*\n]*?[^\s*])\*|\[([^\]\n]{1,500})\]\(([^\s()]{1,2000})\)|(https?:\/\/[^\s<>"]+|mailto:[^\s<>"]+)|\\([\\*_[\]()])/g;

  function safeHref(raw) {
    const u = safely(() => new URL(raw));
    return u && ['http:', 'https:', 'mailto:'].includes(u.protocol) ? u.href : null;
  }

  // `links`: false inside a link.
  function appendInline(parent, text, depth, links) {
    if (depth > 4) return parent.append(text);
    const nest = (tag, inner, href) => {
      const e = h(tag, href ? { href, target: '_blank', rel: 'noopener noreferrer' } : null);
      appendInline(e, inner, depth + 1, links && !href);
      parent.append(e);
    };
    let at = 0;
    for (const m of text.matchAll(INLINE)) {
      parent.append(text.slice(at, m.index));
      at = m.index + m[0].length;
      if (m[1] !== undefined) nest('strong', m[1]);
      else if (m[2] !== undefined) nest('em', m[2]);
      else if (m[3] !== undefined) {
        const href = links && safeHref(m[4]);
        if (href) nest('a', m[3], href);
        else parent.append(m[0]); // javascript:, data:, relative...: shown as written
      } else if (m[5] !== undefined) {
        // Trailing punctuation ends the sentence, not the URL.
        const [, url, tail] = /^(.*?)([.,;:!?'"\])]*)$/.exec(m[5]);
        const href = links && safeHref(url);
        if (href) nest('a', href.startsWith('mailto:') ? url.slice(7) : url, href);
        else parent.append(url);
        parent.append(tail);
      } else parent.append(m[6]);
    }
    parent.append(text.slice(at));
  }

  // Paragraphs (blank lines), line breaks, "- " / "* " / "1. " lists.
  function markdown(text) {
    const out = document.createDocumentFragment();
    let para = null;
    let list = null;
    for (const line of text.replace(/\r\n?/g, '\n').split('\n')) {
      const bullet = /^\s{0,3}[-*+]\s+(.*)$/.exec(line);
      const num = !bullet && /^\s{0,3}(\d{1,9})[.)]\s+(.*)$/.exec(line);
      if (!line.trim()) {
        para = list = null;
      } else if (bullet || num) {
        const tag = bullet ? 'UL' : 'OL';
        if (!list || list.tagName !== tag) out.append((list = h(tag, num && num[1] !== '1' ? { start: num[1] } : null)));
        para = null;
        list.append(h('li'));
        appendInline(list.lastChild, bullet ? bullet[1] : num[2], 0, true);
      } else if (list && /^\s{2,}\S/.test(line)) {
        list.lastChild.append(' '); // an item's continuation line
        appendInline(list.lastChild, line.trim(), 0, true);
      } else {
        list = null;
        if (para) para.append(h('br'));
        else out.append((para = h('p')));
        appendInline(para, line, 0, true);
      }
    }
    return out;
  }

  // ---- styles

  const STYLES = `
  :host{all:initial}
  *,*::before,*::after{box-sizing:border-box}
  [hidden]{display:none!important}
  .root{position:fixed;bottom:20px;right:20px;z-index:2147483000;color:#1f2328;--c:${settings.color};--on:${onColor};
   font:15px/1.45 system-ui,sans-serif}
  .root.left{right:auto;left:20px}
  button,input,textarea{font:inherit;color:inherit}
  button{cursor:pointer}
  :focus-visible{outline:3px solid #1a5fb4;outline-offset:2px}
  .launcher,header,.primary,.visitor .bubble{background:var(--c);color:var(--on)}
  .launcher{width:58px;height:58px;border-radius:50%;border:0;padding:0;position:relative;display:flex;
   align-items:center;justify-content:center;box-shadow:0 4px 14px rgba(0,0,0,.28)}
  svg{width:26px;height:26px;fill:currentColor}
  .badge{position:absolute;top:-4px;right:-4px;min-width:22px;height:22px;padding:0 6px;border-radius:11px;
   background:#b3261e;color:#fff;font-size:12px;font-weight:700;line-height:22px}
  .panel,.log,.msg,.extra{display:flex;flex-direction:column}
  .panel{position:absolute;bottom:72px;right:0;width:370px;height:min(600px,calc(100vh - 110px));background:#fff;
   border-radius:14px;box-shadow:0 12px 40px rgba(0,0,0,.3);overflow:hidden}
  .left .panel{right:auto;left:0}
  header{padding:10px 8px 10px 16px;display:flex;align-items:center;gap:6px}
  header :focus-visible{outline-color:var(--on)}
  .heading,.row input{flex:1;min-width:0}
  h2{margin:0;font-size:16px;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
  .conn{font-size:12px}
  .hbtn{background:none;border:1px solid;border-radius:8px;padding:4px 9px;font-size:13px}
  .icon{border:0;padding:5px;display:flex}
  .banner{padding:8px 14px;background:#fff6d6;color:#3d3000;font-size:14px;border-bottom:1px solid #eadca6}
  .log{flex:1;overflow-y:auto;padding:14px 12px;gap:10px;overscroll-behavior:contain}
  .msg{align-items:flex-start;max-width:85%}
  .msg.visitor{align-self:flex-end;align-items:flex-end}
  .bubble{padding:8px 12px;border-radius:14px;overflow-wrap:anywhere}
  .bot .bubble,.agent .bubble{background:#eef1f4;border-bottom-left-radius:4px}
  .visitor .bubble{border-bottom-right-radius:4px}
  .visitor .body{white-space:pre-wrap}
  .pending .bubble{border:2px dashed var(--on);outline:1px solid var(--c)}
  .bubble p{margin:0 0 6px}.bubble p:last-child{margin:0}
  .bubble ul,.bubble ol{margin:4px 0 6px;padding-left:20px}
  .bubble a,.link{color:#0b4fb3}
  .who,.tag,.note,.helpful,.typing,.error{font-size:13px;color:#57606a}
  .who{margin:0 4px 2px}
  .tag{margin:2px 4px 0}
  .failed .tag,.error{color:#b3261e}
  .note{align-self:center;text-align:center;max-width:90%}
  .quick{display:flex;flex-wrap:wrap;gap:6px;margin-top:6px}
  .chip,.helpful button,.stars button,input,textarea{border:1px solid #6e7781;background:#fff}
  .chip{border-radius:16px;padding:5px 12px;font-size:14px}
  .chip:hover{background:#f3f5f7}
  .helpful{margin:4px 4px 0;display:flex;align-items:center;gap:6px}
  .helpful button{border-radius:12px;padding:1px 10px}
  .typing{padding:0 16px 6px}
  .extra,.composer{border-top:1px solid #d8dee4;padding:10px 12px;gap:8px}
  .extra p{margin:0}
  .row{display:flex;gap:8px}
  input,textarea{border-radius:8px;padding:8px 10px;font-size:16px}
  .extra textarea{width:100%;resize:vertical}
  .primary{border:0;border-radius:8px;padding:8px 14px;font-weight:600}
  .link{background:none;border:0;padding:0;text-decoration:underline;font-size:14px;align-self:flex-start}
  .stars{display:flex;gap:6px}
  .stars button{flex:1;border-radius:8px;padding:6px 0}
  .stars [aria-pressed=true]{background:var(--c);color:var(--on);border-color:var(--c)}
  fieldset{border:0;margin:0;padding:0}
  legend{padding:0;margin-bottom:6px;font-weight:600}
  .composer{display:flex;align-items:flex-end}
  .composer textarea{flex:1;resize:none;height:42px;max-height:120px}
  .sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
  @media (max-width:480px){.root{bottom:12px;right:12px}.root.left{left:12px}
   .panel{position:fixed;inset:0;width:auto;height:auto;border-radius:0}.open .launcher{display:none}}
  @media (prefers-reduced-motion:no-preference){.panel{animation:sb-in .15s ease-out}
   @keyframes sb-in{from{transform:translateY(8px);opacity:0}}}
  `;

  // ---- the UI

  const ui = {};

  function build() {
    const host = h('div', { id: 'supportbot-widget', ...id('supportbot-widget') });
    const shadow = host.attachShadow({ mode: 'open' });
    if ('adoptedStyleSheets' in shadow && 'replaceSync' in CSSStyleSheet.prototype) {
      // A constructed sheet passes a host CSP without 'unsafe-inline' styles.
      const sheet = new CSSStyleSheet();
      sheet.replaceSync(STYLES);
      shadow.adoptedStyleSheets = [sheet];
    } else {
      shadow.append(h('style', { text: STYLES }));
    }

    ui.badge = h('span.badge', { hidden: true, 'aria-hidden': 'true' });
    ui.launcher = h('button.launcher', { 'aria-expanded': 'false', 'aria-controls': 'sb-panel', ...id('launcher'),
      onclick: () => (isOpen() ? closePanel() : openPanel(true)) },
      icon('M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H8l-5 4V5a2 2 0 0 1 1-2zm3 6v2h10V9H7zm0 4v2h7v-2H7zM7 5v2h10V5H7z'),
      ui.badge);

    ui.conn = h('div.conn', id('connection'));
    ui.end = h('button.hbtn', { text: 'End chat', ...id('end-chat'), onclick: endChat });
    const header = h('header', null,
      h('div.heading', null, h('h2', { id: 'sb-title', text: settings.title }), ui.conn),
      ui.end,
      h('button.hbtn.icon', { 'aria-label': 'Close chat window', ...id('minimize'), onclick: () => closePanel() },
        icon('M6.4 5 12 10.6 17.6 5 19 6.4 13.4 12 19 17.6 17.6 19 12 13.4 6.4 19 5 17.6 10.6 12 5 6.4z')));

    ui.banner = h('div.banner', { role: 'status', hidden: true, ...id('banner') });
    ui.log = h('div.log', { role: 'log', 'aria-live': 'polite', 'aria-label': 'Conversation', tabindex: 0, ...id('log') });
    if (settings.greeting) {
      ui.log.append(h('div.msg.bot.intro', { 'data-key': 0 }, h('div.bubble', null, markdown(settings.greeting))));
    }
    ui.typing = h('div.typing', { hidden: true, ...id('typing') });
    ui.alert = h('div.error', { role: 'alert', ...id('alert') });
    ui.alertBox = h('div.extra', { hidden: true }, ui.alert);

    ui.contactIntro = h('p', id('contact-intro'));
    ui.email = h('input', { id: 'sb-email', type: 'email', autocomplete: 'email', maxlength: 254,
      'aria-describedby': 'sb-contact-error', ...id('email') });
    ui.contactError = h('div.error', { id: 'sb-contact-error', role: 'alert', ...id('contact-error') });
    ui.contactForm = h('form', { novalidate: true, onsubmit: submitContact, ...id('contact-form') },
      h('label', { for: 'sb-email', text: 'Your email' }),
      h('div.row', null, ui.email, h('button.primary', { type: 'submit', text: 'Send', ...id('email-send') })),
      ui.contactError);
    ui.contactToggle = h('button.link', { text: 'Leave your email instead', ...id('contact-toggle'),
      onclick: () => { contactWanted = true; renderState(); ui.email.focus(); } });
    ui.contact = h('div.extra', { hidden: true, ...id('contact') }, ui.contactIntro, ui.contactToggle, ui.contactForm);

    ui.stars = [1, 2, 3, 4, 5].map((n) => h('button', { 'aria-pressed': 'false', 'aria-label': n + (n === 1 ? ' star' : ' stars'),
      text: n + '★', ...id('csat-' + n), onclick: () => pickStars(n) }));
    ui.comment = h('textarea', { id: 'sb-comment', rows: 2, maxlength: 4000, ...id('survey-comment') });
    ui.surveyError = h('div.error', { role: 'alert', ...id('survey-error') });
    ui.surveyForm = h('form', { onsubmit: submitSurvey, ...id('survey-form') },
      h('fieldset', null, h('legend', { text: 'How was your chat?' }), h('div.stars', null, ...ui.stars)),
      h('label', { for: 'sb-comment', text: 'Anything to add? (optional)' }),
      ui.comment,
      h('button.primary', { type: 'submit', text: 'Send feedback', ...id('survey-send') }),
      ui.surveyError);
    ui.surveyThanks = h('p', { hidden: true, text: 'Thank you for your feedback!', ...id('survey-thanks') });
    ui.survey = h('div.extra', { hidden: true, ...id('survey') }, ui.surveyForm, ui.surveyThanks);

    ui.input = h('textarea', { id: 'sb-input', rows: 1, maxlength: MAX_TEXT, placeholder: 'Type your message…',
      'aria-label': 'Type your message', ...id('input'), oninput: onInputTyping,
      onkeydown: (e) => { if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) sendTyped(e); } });
    const composer = h('form.composer', { ...id('composer'), onsubmit: sendTyped },
      ui.input, h('button.primary', { type: 'submit', text: 'Send', ...id('send') }));

    ui.panel = h('div.panel', { id: 'sb-panel', role: 'dialog', 'aria-labelledby': 'sb-title', hidden: true,
      ...id('panel'), onkeydown: (e) => { if (e.key === 'Escape') { e.stopPropagation(); closePanel(); } } },
      header, ui.banner, ui.log, ui.typing, ui.contact, ui.survey, ui.alertBox, composer);

    ui.root = h('div.root' + (settings.left ? '.left' : ''), null, ui.panel, ui.launcher);
    shadow.append(ui.root);
    document.body.append(host);
    renderBadge();

    // <a href="#" data-supportbot-open> on the host page opens the chat.
    document.addEventListener('click', (e) => {
      if (e.target instanceof Element && e.target.closest('[data-supportbot-open]')) {
        e.preventDefault();
        openPanel(true);
      }
    });
  }

  // ---- open / close

  let unread = 0;
  const isOpen = () => !ui.panel.hidden;

  function setOpen(open) {
    ui.panel.hidden = !open;
    ui.root.classList.toggle('open', open);
    ui.launcher.setAttribute('aria-expanded', open);
    session(open ? '1' : '0');
  }

  // `focus`: opened by the visitor, not restored by a reload.
  function openPanel(focus) {
    setOpen(true);
    unread = 0;
    renderBadge();
    if (!ws) reconnectNow();
    scrollToEnd(true);
    if (focus) ui.input.focus();
  }

  function closePanel() {
    setOpen(false);
    ui.launcher.focus();
  }

  function renderBadge() {
    ui.badge.hidden = unread === 0;
    ui.badge.textContent = unread > 9 ? '9+' : unread;
    ui.launcher.setAttribute('aria-label', 'Open chat: ' + settings.title + (unread ? ' (' + unread + ' new)' : ''));
  }

  // ---- transcript

  // The log is ordered by data-key: seq for a message, seq + 0.5 for a note,
  // Infinity for a pending message.
  function place(el, key) {
    el.dataset.key = key;
    let before = null;
    for (let c = ui.log.lastElementChild; c && Number(c.dataset.key) > key; c = c.previousElementSibling) before = c;
    ui.log.insertBefore(el, before);
  }

  const nearEnd = () => ui.log.scrollHeight - ui.log.scrollTop - ui.log.clientHeight < 80;
  function scrollToEnd(force) {
    if (force || nearEnd()) ui.log.scrollTop = ui.log.scrollHeight;
  }

  // `who` is for screen readers.
  const bubble = (who, body) => h('div.bubble', null, h('span.sr', { text: who + ': ' }), h('div.body', id('text'), body));

  function messageElement(m) {
    const from = ['visitor', 'agent', 'system'].includes(m.from) ? m.from : 'bot';
    if (from === 'system') return h('div.note', { 'data-seq': m.seq, text: m.text });
    const who = from === 'visitor' ? 'You' : from === 'agent' ? m.agent || 'Agent' : 'Assistant';
    const el = h('div.msg.' + from, { 'data-seq': m.seq, ...id('message-' + from) },
      from === 'agent' ? h('div.who', { 'aria-hidden': 'true', text: who }) : null,
      bubble(who, from === 'visitor' ? m.text : markdown(m.text)));
    if (from === 'bot' && m.decision === 'answer') el.append(helpfulElement(m));
    return el;
  }

  function helpfulElement(m) {
    const box = h('div.helpful', { role: 'group', 'aria-label': 'Was this answer helpful?', ...id('helpful') });
    const thanks = () => (box.textContent = 'Thanks for your feedback.');
    const rate = (yes) => {
      m.feedback = yes;
      sendControl({ type: 'feedback', seq: m.seq, helpful: yes });
      thanks();
      save();
    };
    if (m.feedback !== undefined) thanks();
    else box.append('Was this helpful?',
      h('button', { text: 'Yes', ...id('helpful-yes'), onclick: () => rate(true) }),
      h('button', { text: 'No', ...id('helpful-no'), onclick: () => rate(false) }));
    return box;
  }

  // `live`: just received, not restored from storage.
  function addMessage(m, live) {
    if (model.messages.has(m.seq) && seqEl(m.seq)) return; // seen
    model.messages.set(m.seq, m);
    while (model.messages.has(model.lastSeq + 1)) model.lastSeq++;
    // Our own, delivered (its ack lost in a drop, or sent by another tab).
    if (m.from === 'visitor' && m.client_msg_id) settle(m.client_msg_id);
    const stick = nearEnd();
    const el = messageElement(m);
    place(el, m.seq);
    if (live && m.from !== 'visitor' && !isOpen()) {
      unread++;
      renderBadge();
    }
    if (m.from === 'agent') showTyping(false);
    refreshQuickReplies();
    if (live && m.from === 'visitor') scrollToEnd(true);
    else if (stick) {
      // A new answer taller than the log is shown from its start.
      ui.log.scrollTop = el.offsetHeight > ui.log.clientHeight ? el.offsetTop - ui.log.offsetTop - 8 : ui.log.scrollHeight;
    }
  }

  const seqEl = (seq) => ui.log.querySelector('[data-seq="' + seq + '"]');
  const pendingEl = (cmid) => ui.log.querySelector('[data-client-msg-id="' + CSS.escape(cmid) + '"]');
  const outboxed = (cmid) => model.outbox.find((o) => o.id === cmid);

  // A client_msg_id is done: its pending bubble goes, or says why it was refused.
  function settle(cmid, refused) {
    finished.add(cmid);
    inflight.delete(cmid);
    model.outbox = model.outbox.filter((o) => o.id !== cmid);
    const el = pendingEl(cmid);
    if (el && refused) {
      el.classList.add('failed');
      el.querySelector('.tag').textContent = refused;
    } else if (el) el.remove();
  }

  function pendingElement(o) {
    return h('div.msg.visitor.pending', { 'data-client-msg-id': o.id, ...id('message-pending') },
      bubble('You', o.text), h('div.tag', id('pending-tag')));
  }

  function renderPendingTags() {
    const text = ready() ? 'Sending…' : 'Not sent yet — will send when you are back online';
    for (const el of ui.log.querySelectorAll('.pending:not(.failed) .tag')) el.textContent = text;
  }

  // Quick replies: under the newest message, until the visitor answers.
  function refreshQuickReplies() {
    for (const q of ui.log.querySelectorAll('.quick')) q.remove();
    const newest = Math.max(0, ...model.messages.keys());
    const m = model.messages.get(newest);
    const el = seqEl(newest);
    if (model.outbox.length || !m || m.from === 'visitor' || !el) return;
    const box = h('div.quick', { role: 'group', 'aria-label': 'Suggested replies', ...id('quick-replies') });
    for (const q of asArray(m.quick_replies).slice(0, 8)) {
      const label = isStr(q) ? q : q && isStr(q.label) ? q.label : '';
      const payload = (q && isStr(q.payload) && q.payload) || undefined;
      if (label) box.append(h('button.chip', { text: label, ...id('quick-reply'), onclick: () => queueMessage(label, payload) }));
    }
    if (box.childElementCount) el.append(box);
  }

  // A status line (not stored).
  function addNote(text) {
    place(h('div.note', { role: 'note', text, ...id('note') }), model.lastSeq + 0.5);
    scrollToEnd(false);
  }

  function clearTranscript() {
    model.messages.clear();
    for (const el of Array.from(ui.log.children)) if (!el.matches('.intro, .pending')) el.remove();
  }

  // ---- state, banner, forms

  let contactWanted = false; // the visitor asked for the email form
  let contactSent = '';
  let surveyStars = 0;

  function renderState() {
    const s = model.state;
    const q = model.queue || {};
    let banner = '';
    if (s === 'queued') {
      banner = 'Waiting for an agent' + (q.position ? ' — you are number ' + q.position + ' in line' : '');
      if (Number.isInteger(q.eta_s)) banner += ' (about ' + Math.max(1, Math.round(q.eta_s / 60)) + ' min)';
      banner += '.';
    } else if (s === 'agent') {
      banner = 'You are chatting with ' + (model.agent || 'an agent') + '.';
    } else if (s === 'ticket') {
      banner = 'Thanks! An agent will answer here' + (contactSent ? ' and at ' + contactSent : '') + ' as soon as possible.';
    } else if (s === 'closed') {
      banner = 'This chat has ended. Write again any time to start over.';
    }
    ui.banner.textContent = banner;
    ui.banner.hidden = !banner;

    const showForm = s === 'queued' && (q.no_agents || contactWanted);
    const later = ' Leave your email and we will get back to you.';
    ui.contact.hidden = s !== 'queued';
    ui.contactIntro.textContent = q.after_hours ? 'Our team is away right now (outside opening hours).' + later
      : q.no_agents ? 'No one is available right now.' + later : 'Prefer not to wait? Leave your email and we will reply later.';
    ui.contactForm.hidden = !showForm;
    ui.contactToggle.hidden = showForm;
    ui.survey.hidden = s !== 'closed' || (model.surveyDone && ui.surveyThanks.hidden);
    ui.end.hidden = s === 'closed' || !model.conversationId;
  }

  function onState(f) {
    const before = model.state;
    const beforeAgent = model.agent;
    model.state = f.state;
    if (f.state !== 'queued') {
      model.queue = null;
      contactWanted = false;
    } else if (f.position !== undefined || f.no_agents !== undefined) {
      model.queue = { position: f.position, eta_s: f.eta_s, no_agents: f.no_agents === true, after_hours: f.after_hours === true };
    } else if (before !== 'queued') {
      model.queue = null; // the handoff itself: the place follows
    }
    if (f.state === 'agent') {
      model.agent = isStr(f.agent) ? f.agent : '';
      if (before !== 'agent' || model.agent !== beforeAgent) addNote((model.agent || 'An agent') + ' joined the chat.');
    } else {
      if (before === 'agent') addNote((beforeAgent || 'The agent') + ' left the chat.');
      model.agent = '';
      showTyping(false);
    }
    if (f.state === 'closed' && before !== 'closed') {
      addNote('Chat ended.');
      model.surveyDone = f.survey !== true;
      showSurveyForm(true);
    }
    if (f.state === 'ticket') ui.contactError.textContent = '';
    renderState();
    save();
  }

  function submitContact(e) {
    e.preventDefault();
    const email = ui.email.value.trim();
    // As the server checks it (docs/agents.md): one @, a dotted domain, no spaces.
    const ok = email.length <= 254 && /^[^\s@<>,;"]+@[^\s@<>,;".]+(\.[^\s@<>,;".]+)+$/.test(email);
    ui.contactError.textContent = ok ? '' : 'Please enter a valid email address, like name@example.com.';
    ui.email.setAttribute('aria-invalid', !ok);
    if (!ok) return ui.email.focus();
    contactSent = email;
    sendControl({ type: 'contact', email });
  }

  function pickStars(n) {
    surveyStars = n;
    ui.stars.forEach((b, i) => b.setAttribute('aria-pressed', i + 1 === n));
    ui.surveyError.textContent = '';
  }

  function showSurveyForm(show) {
    ui.surveyForm.hidden = !show;
    ui.surveyThanks.hidden = show;
  }

  function submitSurvey(e) {
    e.preventDefault();
    if (!surveyStars) {
      ui.surveyError.textContent = 'Please pick 1 to 5 stars.';
      return ui.stars[0].focus();
    }
    sendControl({ type: 'survey', csat: surveyStars, comment: ui.comment.value.trim() || undefined });
    model.surveyDone = true;
    showSurveyForm(false);
    save();
    renderState();
  }

  function endChat() {
    if (model.conversationId && model.state !== 'closed') sendControl({ type: 'close' });
  }

  let typingTimer = 0;
  function showTyping(on) {
    clearTimeout(typingTimer);
    ui.typing.hidden = !on;
    ui.typing.textContent = (model.agent || 'The agent') + ' is typing…';
    if (on) typingTimer = setTimeout(() => showTyping(false), 8000); // a lost "off"
  }

  // ---- sending

  // The visitor's typing matters to an agent only.
  let typingOn = false;
  let typingOff = 0;
  function onInputTyping() {
    if (model.state !== 'agent' || !ready()) return;
    if (!typingOn) sendFrame({ type: 'typing', on: (typingOn = true) });
    clearTimeout(typingOff);
    typingOff = setTimeout(stopTyping, 4000);
  }
  function stopTyping() {
    clearTimeout(typingOff);
    if (typingOn && ready()) sendFrame({ type: 'typing', on: false });
    typingOn = false;
  }

  function sendTyped(e) {
    e.preventDefault();
    const text = ui.input.value;
    if (!text.trim()) return;
    if ([...text].length > MAX_TEXT) return showAlert('That message is too long (at most ' + MAX_TEXT + ' characters).');
    ui.input.value = '';
    stopTyping();
    queueMessage(text);
    ui.input.focus();
  }

  function queueMessage(text, payload) {
    if (model.outbox.length >= MAX_OUTBOX) return showAlert('Too many messages are waiting. Please wait until you are back online.');
    const o = { id: newId(), text, ts: Date.now() };
    if (payload) o.payload = payload;
    model.outbox.push(o);
    place(pendingElement(o), Infinity);
    refreshQuickReplies();
    renderPendingTags();
    scrollToEnd(true);
    save();
    if (!ws) reconnectNow(); // the visitor is waiting: skip the backoff
    flushOutbox();
  }

  function flushOutbox() {
    if (!ready()) return;
    for (const o of model.outbox) {
      if (inflight.has(o.id)) continue;
      inflight.set(o.id, Date.now());
      sendFrame({ type: 'message', client_msg_id: o.id, text: o.text, payload: o.payload });
    }
    renderPendingTags();
  }

  // Feedback, contact, survey and close: sent now, or once connected.
  const control = [];
  function sendControl(f) {
    if (ready()) return sendFrame(f);
    if (control.length < MAX_CONTROL) control.push(f);
    if (!ws) reconnectNow();
  }

  function onAck(f) {
    const o = outboxed(f.client_msg_id);
    if (!o) return; // settled already (the replay came first)
    settle(o.id);
    if (!model.messages.has(f.seq)) {
      addMessage({ seq: f.seq, from: 'visitor', text: o.text, ts: Date.now(), client_msg_id: o.id, payload: o.payload }, true);
    }
    save();
  }

  let retryTimer = 0;
  function onError(f) {
    const o = f.client_msg_id && outboxed(f.client_msg_id);
    const text = isStr(f.message) ? f.message : 'Something went wrong (' + f.code + ').';
    if (o) {
      inflight.delete(o.id);
      // Not stored yet: the same client_msg_id goes again soon.
      if (f.code === 'rate_limited' || f.code === 'unavailable') {
        clearTimeout(retryTimer);
        retryTimer = setTimeout(flushOutbox, f.code === 'rate_limited' ? 5000 : 2000);
        return;
      }
      settle(o.id, 'Not sent: ' + text); // refused: too long, a conflict...
      save();
    } else if (!ui.contactForm.hidden && !ui.contact.hidden && (f.code === 'bad_field' || f.code === 'bad_state')) {
      ui.contactError.textContent = text;
    } else if (!ui.survey.hidden && f.code === 'bad_state') {
      ui.surveyError.textContent = text;
    } else showAlert(text);
  }

  let alertTimer = 0;
  function showAlert(text) {
    ui.alert.textContent = text;
    ui.alertBox.hidden = false;
    clearTimeout(alertTimer);
    alertTimer = setTimeout(() => (ui.alertBox.hidden = true), 8000);
  }

  // ---- connection

  let ws = null;
  let welcomed = false;
  let attempt = 0;
  let reconnectTimer = 0;
  let connectStarted = 0;

  const ready = () => welcomed && ws.readyState === WebSocket.OPEN;

  // JSON leaves undefined fields out. A throw means closing: the outbox resends.
  const sendFrame = (f) => safely(() => ws.send(JSON.stringify(f)));

  function setConn(text) {
    ui.conn.textContent = text;
    renderPendingTags();
  }

  function connect() {
    if (ws || reconnectTimer) return;
    if (navigator.onLine === false) return setConn('Offline'); // the online event reconnects
    if (!model.token) {
      // Another tab may have started one since: join it rather than start a second.
      const s = readStore();
      if (isStr(s.token) && s.token && isStr(s.conversation_id)) {
        model.token = s.token;
        model.conversationId = s.conversation_id;
      }
    }
    connectStarted = Date.now();
    setConn('Connecting…');
    const sock = safely(() => new WebSocket(WS_URL));
    if (!sock) return scheduleReconnect();
    ws = sock;
    sock.onopen = () =>
      sock.send(JSON.stringify(model.token ? { type: 'hello', token: model.token, last_seq: model.lastSeq } : { type: 'hello' }));
    sock.onmessage = (e) => {
      const f = safely(() => JSON.parse(e.data));
      if (sock === ws && f && typeof f === 'object') onFrame(f);
    };
    sock.onclose = () => {
      if (sock === ws) dropped();
    };
  }

  // The socket is gone: everything in flight goes again on the next one.
  function dropped() {
    ws = null;
    welcomed = false;
    inflight.clear();
    typingOn = false;
    showTyping(false);
    setConn(navigator.onLine === false ? 'Offline' : 'Reconnecting…');
    scheduleReconnect();
  }

  // Exponential backoff with jitter, so a restarted server is not stormed.
  function scheduleReconnect() {
    if (reconnectTimer) return;
    const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** attempt++);
    const delay = ceiling / 2 + Math.random() * (ceiling / 2);
    reconnectTimer = setTimeout(() => { reconnectTimer = 0; connect(); }, delay);
  }

  function reconnectNow() {
    clearTimeout(reconnectTimer);
    reconnectTimer = attempt = 0;
    connect();
  }

  function disconnect() {
    const sock = ws;
    if (!sock) return;
    dropped();
    sock.close();
  }

  // A welcome or ack that does not come means a dead connection (half-open
  // TCP, a sleeping laptop): it is replaced.
  setInterval(() => {
    const now = Date.now();
    if (ws && !welcomed && now - connectStarted > CONNECT_TIMEOUT_MS) return disconnect();
    for (const t of inflight.values()) if (now - t > ACK_TIMEOUT_MS) return disconnect();
  }, 2000);

  window.addEventListener('offline', disconnect);
  window.addEventListener('online', () => {
    if (!ws && (model.token || model.outbox.length || isOpen())) reconnectNow();
  });

  const MESSAGE_KEYS = ['seq', 'from', 'text', 'ts', 'client_msg_id', 'payload', 'quick_replies', 'decision', 'source', 'agent'];

  function onFrame(f) {
    if (f.type === 'welcome') onWelcome(f);
    else if (f.type === 'message' && validMessage(f)) {
      const m = {};
      for (const k of MESSAGE_KEYS) if (f[k] !== undefined) m[k] = f[k];
      addMessage(m, true);
      save();
    } else if (f.type === 'ack' && isStr(f.client_msg_id) && isSeq(f.seq)) onAck(f);
    else if (f.type === 'state' && isStr(f.state)) onState(f);
    else if (f.type === 'typing' && f.from === 'agent') showTyping(f.on === true);
    else if (f.type === 'resync') {
      // Too far behind (or ahead): the messages that follow are the transcript.
      clearTranscript();
      model.lastSeq = isSeq(f.from_seq) ? f.from_seq - 1 : 0;
      save(true);
    } else if (f.type === 'error' && isStr(f.code)) onError(f);
    // Anything else: a newer server's frame, ignored.
  }

  function onWelcome(f) {
    if (!isStr(f.token) || !isStr(f.conversation_id)) return;
    if (f.conversation_id !== model.conversationId) {
      // A new conversation (first visit, or ours unknown to the server): the
      // transcript goes, the outbox goes to it.
      clearTranscript();
      model.lastSeq = 0;
      model.surveyDone = false;
      model.agent = '';
    }
    const before = model.state;
    model.token = f.token;
    model.conversationId = f.conversation_id;
    model.state = isStr(f.state) ? f.state : 'bot';
    if (model.state !== 'queued') model.queue = null;
    if (model.state === 'closed' && before !== 'closed' && before !== '') model.surveyDone = false; // closed meanwhile
    welcomed = true;
    attempt = 0;
    setConn('Online');
    renderState();
    save();
    flushOutbox();
    while (control.length) sendFrame(control.shift());
  }

  // ---- start

  function start() {
    load();
    build();
    for (const m of bySeq(model.messages)) addMessage(m, false);
    for (const o of model.outbox) place(pendingElement(o), Infinity);
    refreshQuickReplies();
    renderState();
    // A conversation in progress reconnects at once (agent replies, the
    // unread badge); a first visit or a closed chat when the panel opens.
    if (session() === '1') openPanel(false);
    else if ((model.token && model.state !== 'closed') || model.outbox.length) connect();
    else setConn('');
  }

  if (document.body) start();
  else document.addEventListener('DOMContentLoaded', start);
})();
