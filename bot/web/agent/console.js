// supportbot agent console: the page at /agent/.
//
// Talks to the server through /agent/login, /agent/me, /agent/logout,
// /agent/api/kb and the WebSocket /agent/ws (docs/agents.md, docs/console.md).
// Every piece of text that comes from a visitor, an agent, the bot or the
// knowledge base is put in the page with textContent: never as HTML.
'use strict';

(function () {
  const TITLE = 'supportbot console';
  const HEARTBEAT_MS = 20000;          // presence heartbeat
  const TYPING_REPEAT_MS = 3000;       // at most one typing{on} per this while typing
  const TYPING_IDLE_MS = 4000;         // typing{off} after this long without a key
  const VISITOR_TYPING_TTL_MS = 10000; // hide the visitor's indicator if its "off" got lost
  const BACKOFF_MS = [500, 1000, 2000, 4000, 8000, 15000];
  const MUTE_KEY = 'supportbot.console.muted';
  const PRESENCE_KEY = 'supportbot.console.presence';
  const META_KEY = 'supportbot.console.meta';   // per conversation: reason, ticket email

  const $ = (id) => document.getElementById(id);

  // --- small DOM helpers: text only -----------------------------------------

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    if (attrs) {
      for (const [k, v] of Object.entries(attrs)) {
        if (v === undefined || v === null || v === false) continue;
        if (k === 'class') node.className = v;
        else if (k === 'text') node.textContent = v;
        else if (k === 'dataset') Object.assign(node.dataset, v);
        else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
        else node.setAttribute(k, v === true ? '' : String(v));
      }
    }
    for (const c of children) {
      if (c === null || c === undefined || c === false) continue;
      node.append(typeof c === 'string' ? document.createTextNode(c) : c);
    }
    return node;
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
  }

  function fmtDuration(s) {
    s = Math.max(0, Math.floor(s));
    if (s < 60) return s + ' s';
    const m = Math.floor(s / 60);
    if (m < 60) return m + ' min ' + String(s % 60).padStart(2, '0') + ' s';
    const h = Math.floor(m / 60);
    if (h < 48) return h + ' h ' + String(m % 60).padStart(2, '0') + ' min';
    return Math.floor(h / 24) + ' days';
  }

  function fmtTime(ts) {
    if (!ts) return '';
    const d = new Date(ts);
    return d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  }

  function shortId(id) {
    return id && id.startsWith('c_') ? id.slice(2, 8) : String(id || '').slice(0, 6);
  }

  function describeReason(reason) {
    if (!reason) return '';
    if (reason.startsWith('intent:')) return 'handoff rule ' + reason.slice(7);
    if (reason === 'fallbacks') return 'the bot did not understand, several times in a row';
    return reason;
  }

  function loadJSON(key, fallback) {
    try {
      const v = JSON.parse(localStorage.getItem(key));
      return v === null ? fallback : v;
    } catch (e) {
      return fallback;
    }
  }

  function saveJSON(key, value) {
    try { localStorage.setItem(key, JSON.stringify(value)); } catch (e) { /* private mode */ }
  }

  let idCounter = 0;
  function newClientMsgId() {
    idCounter += 1;
    return 'c' + Date.now().toString(36) + '-' + Math.random().toString(36).slice(2, 8) + '-' + idCounter;
  }

  // --- state ----------------------------------------------------------------

  const state = {
    me: null,                 // {name, display_name, teams, admin, max_chats}
    ws: null,
    wsWanted: false,          // false after logout: no reconnect
    attempt: 0,
    reconnectTimer: 0,
    heartbeatTimer: 0,
    hbWorker: null,
    connectedAt: 0,
    presence: loadJSON(PRESENCE_KEY, 'online') === 'away' ? 'away' : 'online',
    presenceSupported: true,
    queue: { waiting: [], tickets: [], at: 0 },
    seenQueue: new Set(),     // ids already announced (beep once per id)
    convs: new Map(),         // conversation_id -> conv
    order: [],                // conversation ids, as listed
    active: null,
    agents: [],               // from the `agents` frame
    pendingClaims: new Map(), // id -> queue item (its reason and email)
    lastQueued: new Map(),    // id -> the last queue item seen for it
    meta: loadJSON(META_KEY, {}),
    muted: loadJSON(MUTE_KEY, false) === true,
    audio: null,
    beeps: 0,                 // notifications (data-beeps on <body>, for tests)
    sounds: 0,                // of which sounded (not muted, audio allowed): data-sounds
  };

  // --- sound and title --------------------------------------------------------

  function ensureAudio() {
    if (state.audio || !(window.AudioContext || window.webkitAudioContext)) return;
    try {
      state.audio = new (window.AudioContext || window.webkitAudioContext)();
    } catch (e) {
      state.audio = null;
    }
  }
  // Browsers allow sound only after a gesture: the context is made (or
  // resumed) on the first key or click.
  function unlockAudio() {
    ensureAudio();
    if (state.audio && state.audio.state === 'suspended') state.audio.resume().catch(() => {});
  }
  document.addEventListener('pointerdown', unlockAudio, { capture: true });
  document.addEventListener('keydown', unlockAudio, { capture: true });

  function beep() {
    state.beeps += 1;
    document.body.dataset.beeps = String(state.beeps);
    if (state.muted) return;
    ensureAudio();
    const ctx = state.audio;
    if (!ctx || ctx.state !== 'running') return;
    const t = ctx.currentTime;
    const osc = ctx.createOscillator();
    const gain = ctx.createGain();
    osc.type = 'sine';
    osc.frequency.setValueAtTime(880, t);
    osc.frequency.setValueAtTime(660, t + 0.12);
    gain.gain.setValueAtTime(0.0001, t);
    gain.gain.exponentialRampToValueAtTime(0.2, t + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, t + 0.3);
    osc.connect(gain).connect(ctx.destination);
    osc.start(t);
    osc.stop(t + 0.32);
    state.sounds += 1;
    document.body.dataset.sounds = String(state.sounds);
  }

  function renderMute() {
    const b = $('mute');
    b.setAttribute('aria-pressed', state.muted ? 'true' : 'false');
    b.textContent = state.muted ? 'Sound off' : 'Sound on';
  }

  function updateTitle() {
    const n = state.queue.waiting.length + state.queue.tickets.length;
    document.title = n > 0 ? '(' + n + ') ' + TITLE : TITLE;
  }

  function announce(text) {
    const a = $('announcer');
    a.textContent = '';
    // A fresh text node is what screen readers notice.
    setTimeout(() => { a.textContent = text; }, 30);
  }

  // --- HTTP -------------------------------------------------------------------

  async function api(method, path, body) {
    const opts = { method, credentials: 'same-origin', headers: {} };
    if (body !== undefined) {
      opts.headers['Content-Type'] = 'application/json';
      opts.body = JSON.stringify(body);
    }
    const res = await fetch(path, opts);
    let data = null;
    try { data = await res.json(); } catch (e) { data = null; }
    return { status: res.status, data, headers: res.headers };
  }

  // --- views ------------------------------------------------------------------

  function showLogin(why) {
    $('app-view').hidden = true;
    $('topbar-tools').hidden = true;
    $('login-view').hidden = false;
    const w = $('login-why');
    w.textContent = why || '';
    w.hidden = !why;
    $('login-error').textContent = '';
    $('login-submit').disabled = false;
    (state.me && $('login-name').value ? $('login-password') : $('login-name')).focus();
  }

  function showApp() {
    $('login-view').hidden = true;
    $('app-view').hidden = false;
    $('topbar-tools').hidden = false;
    $('me-name').textContent = state.me.display_name || state.me.name;
    $('me-name').title = 'Logged in as ' + state.me.name +
      (state.me.teams && state.me.teams.length ? ' (teams: ' + state.me.teams.join(', ') + ')' : '');
    for (const r of document.querySelectorAll('input[name=presence]')) r.checked = r.value === state.presence;
    renderMute();
    renderTeamNames();
    renderLoad();
    renderActive();
  }

  async function onLoginSubmit(ev) {
    ev.preventDefault();
    const name = $('login-name').value.trim();
    const password = $('login-password').value;
    const err = $('login-error');
    if (!name || !password) {
      err.textContent = 'Enter your name and your password.';
      return;
    }
    $('login-submit').disabled = true;
    err.textContent = '';
    let r;
    try {
      r = await api('POST', '/agent/login', { name, password });
    } catch (e) {
      $('login-submit').disabled = false;
      err.textContent = 'The server cannot be reached. Check your connection and try again.';
      return;
    }
    $('login-submit').disabled = false;
    if (r.status === 200 && r.data) {
      $('login-password').value = '';
      startSession(r.data);
      return;
    }
    const said = r.data && typeof r.data.error === 'string' ? r.data.error : '';
    if (r.status === 401) {
      err.textContent = 'Wrong name or password.';
    } else if (r.status === 403) {
      err.textContent = said === 'this account is disabled'
        ? 'This account is disabled. Ask an administrator.'
        : 'Login refused: ' + (said || 'forbidden') + '.';
    } else if (r.status === 429) {
      const after = parseInt(r.headers.get('Retry-After') || '', 10);
      err.textContent = 'Too many failed attempts. Try again in ' +
        (after > 0 ? fmtDuration(after) : 'a minute') + '.';
    } else if (r.status === 503) {
      err.textContent = 'The server is busy. Try again in a moment.';
    } else {
      err.textContent = 'Login failed (' + r.status + (said ? ': ' + said : '') + ').';
    }
    $('login-password').select();
  }

  async function logout() {
    state.wsWanted = false;
    clearTimeout(state.reconnectTimer);
    stopHeartbeat();
    try { await api('POST', '/agent/logout'); } catch (e) { /* we leave anyway */ }
    if (state.ws) state.ws.close(1000, 'logout');
    state.ws = null;
    resetSession();
    showLogin('You are logged out.');
  }

  function resetSession() {
    state.convs.clear();
    state.order = [];
    state.active = null;
    state.queue = { waiting: [], tickets: [], at: 0 };
    state.agents = [];
    state.pendingClaims.clear();
    clear($('transcript-wrap'));
    renderQueue();
    renderConvList();
    renderActive();
    renderTeam();
    updateTitle();
  }

  function startSession(me) {
    state.me = me;
    showApp();
    state.wsWanted = true;
    state.attempt = 0;
    connect();
  }

  // --- WebSocket --------------------------------------------------------------

  function setConn(s, text) {
    const c = $('conn');
    c.dataset.state = s;
    c.textContent = text;
  }

  function connect() {
    clearTimeout(state.reconnectTimer);
    if (!state.wsWanted) return;
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    let ws;
    try {
      ws = new WebSocket(proto + '//' + location.host + '/agent/ws');
    } catch (e) {
      scheduleReconnect();
      return;
    }
    state.ws = ws;
    setConn('connecting', state.attempt ? 'Reconnecting…' : 'Connecting…');
    ws.addEventListener('open', () => {
      if (state.ws !== ws) return;
      setConn('open', 'Connected');
      state.presenceSupported = true;
      $('presence-note').hidden = true;
      state.connectedAt = Date.now();
      sendPresence();
      startHeartbeat();
      afterReconnect();
    });
    ws.addEventListener('message', (ev) => {
      if (state.ws !== ws) return;
      state.attempt = 0;
      let f;
      try { f = JSON.parse(ev.data); } catch (e) { return; }
      if (f && typeof f === 'object') handleFrame(f);
    });
    ws.addEventListener('close', (ev) => {
      if (state.ws !== ws) return;
      state.ws = null;
      stopHeartbeat();
      if (!state.wsWanted) return;
      setConn('closed', 'Disconnected — reconnecting…');
      onSocketLost(ev.code);
    });
  }

  // The socket went away: a logout or expiry elsewhere (1008, or a refused
  // upgrade, which a browser reports as 1006) sends us to the login form.
  async function onSocketLost(code) {
    if (code === 1008 || code === 1006 || state.attempt >= 2) {
      try {
        const r = await api('GET', '/agent/me');
        if (r.status === 401) {
          state.wsWanted = false;
          resetSession();
          showLogin('Your session has ended. Log in again.');
          return;
        }
      } catch (e) { /* the server is down: keep trying */ }
    }
    scheduleReconnect();
  }

  function scheduleReconnect() {
    if (!state.wsWanted) return;
    const base = BACKOFF_MS[Math.min(state.attempt, BACKOFF_MS.length - 1)];
    state.attempt += 1;
    const delay = base / 2 + Math.random() * base / 2;
    clearTimeout(state.reconnectTimer);
    state.reconnectTimer = setTimeout(connect, delay);
  }

  function send(frame) {
    if (!state.ws || state.ws.readyState !== WebSocket.OPEN) return false;
    state.ws.send(JSON.stringify(frame));
    return true;
  }

  function sendPresence() {
    if (!state.presenceSupported) return;
    send({ type: 'presence', status: state.presence });
  }

  // The heartbeat ticks in a worker (heartbeat.js) when the browser allows
  // one: a background tab's own timers may be slowed to once a minute, and
  // the server counts a console silent for 60 s as away.
  function startHeartbeat() {
    stopHeartbeat();
    const fallback = () => {
      if (state.hbWorker) state.hbWorker.terminate();
      state.hbWorker = null;
      clearInterval(state.heartbeatTimer);
      state.heartbeatTimer = setInterval(sendPresence, HEARTBEAT_MS);
    };
    try {
      const w = new Worker('heartbeat.js');
      w.onmessage = () => sendPresence();
      w.onerror = fallback;
      w.postMessage(HEARTBEAT_MS);
      state.hbWorker = w;
    } catch (e) {
      fallback();
    }
  }

  function stopHeartbeat() {
    clearInterval(state.heartbeatTimer);
    state.heartbeatTimer = 0;
    if (state.hbWorker) state.hbWorker.terminate();
    state.hbWorker = null;
  }

  // After a reconnect the server sends a `conversation` frame for each
  // conversation we still hold; unacknowledged replies are sent again (the
  // same client_msg_id: the server stores them once). One we held that does
  // not come back within a few seconds was closed or taken meanwhile.
  function afterReconnect() {
    const held = [...state.convs.values()].filter((c) => c.state === 'agent');
    for (const c of held) c.refreshed = false;
    setTimeout(() => {
      for (const c of held) {
        if (!c.refreshed && c.state === 'agent') {
          c.state = 'gone';
          c.banner = 'You no longer hold this conversation (it changed while you were disconnected).';
          renderConvItem(c);
          if (c.id === state.active) renderActive();
        }
      }
    }, 5000);
    for (const c of state.convs.values()) {
      for (const p of c.pending.values()) {
        if (!p.failed) send({ type: 'message', conversation_id: c.id, client_msg_id: p.client_msg_id, text: p.text });
      }
    }
  }

  // --- frames -----------------------------------------------------------------

  function handleFrame(f) {
    switch (f.type) {
      case 'queue': return onQueue(f);
      case 'conversation': return onConversation(f);
      case 'message': return onMessage(f);
      case 'ack': return onAck(f);
      case 'state': return onState(f);
      case 'typing': return onTyping(f);
      case 'note': return onNote(f);
      case 'transferred': return onTransferred(f);
      case 'agents': return onAgents(f);
      case 'error': return onError(f);
      default: return undefined;  // newer servers may send more: ignore
    }
  }

  function onQueue(f) {
    const waiting = Array.isArray(f.waiting) ? f.waiting : [];
    const tickets = Array.isArray(f.tickets) ? f.tickets : [];
    state.queue = { waiting, tickets, at: Date.now() };
    for (const item of waiting.concat(tickets)) {
      if (item && item.conversation_id) state.lastQueued.set(item.conversation_id, item);
    }
    if (state.lastQueued.size > 500) {
      const keep = [...state.lastQueued].slice(-250);
      state.lastQueued = new Map(keep);
    }
    let fresh = 0;
    for (const item of waiting.concat(tickets)) {
      if (!item || !item.conversation_id) continue;
      if (!state.seenQueue.has(item.conversation_id)) {
        state.seenQueue.add(item.conversation_id);
        item._new = true;
        fresh += 1;
      }
    }
    renderQueue();
    updateTitle();
    if (fresh > 0) {
      beep();
      announce(fresh === 1 ? 'A new conversation is waiting.' : fresh + ' new conversations are waiting.');
    }
  }

  function getConv(id) {
    let c = state.convs.get(id);
    if (!c) {
      c = {
        id,
        state: 'agent',
        team: '',
        why: '',
        context: null,
        messages: new Map(),   // seq -> message
        notes: new Map(),      // note id -> note
        pending: new Map(),    // client_msg_id -> {client_msg_id, text, ts, node, failed}
        nodes: new Map(),      // 'm<seq>' | 'n<id>' | 'p<client_msg_id>' -> <li>
        log: null,
        unread: 0,
        visitorTyping: false,
        typingTimer: 0,
        draft: '',
        banner: '',
        error: '',
        refreshed: true,
        // our own typing
        typingOn: false,
        typingSentAt: 0,
        typingIdle: 0,
      };
      c.log = el('ol', {
        class: 'transcript', role: 'log', 'aria-live': 'polite', 'aria-relevant': 'additions',
        'aria-label': 'Transcript', tabindex: '0', 'data-testid': 'transcript',
      });
      state.convs.set(id, c);
      state.order.push(id);
    }
    return c;
  }

  function metaFor(id) {
    return state.meta[id] || {};
  }

  function rememberMeta(id, patch) {
    state.meta[id] = Object.assign({}, state.meta[id] || {}, patch);
    // Keep the store small: the last 100 conversations.
    const ids = Object.keys(state.meta);
    if (ids.length > 100) for (const k of ids.slice(0, ids.length - 100)) delete state.meta[k];
    saveJSON(META_KEY, state.meta);
  }

  function onConversation(f) {
    if (!f.conversation_id) return;
    const isNew = !state.convs.has(f.conversation_id);
    const c = getConv(f.conversation_id);
    c.refreshed = true;
    c.state = f.state || 'agent';
    // `why` carries the team today; a reason ("intent:...", "fallbacks",
    // "transferred by ...") is shown as such should the server send one.
    const why = typeof f.why === 'string' ? f.why : '';
    const reasonish = /[:\s]/.test(why) || why === 'fallbacks' || why === 'handoff';
    if (typeof f.team === 'string' && f.team) c.team = f.team;
    else if (why && !reasonish) c.team = why;
    if (why && reasonish) c.why = why;
    c.context = f.context && typeof f.context === 'object' ? f.context : null;
    // Claimed by us, or assigned to us (auto-assignment) while we had it
    // in the queue: the queue item says why it waited.
    const claimed = state.pendingClaims.get(c.id);
    const queued = claimed || state.lastQueued.get(c.id);
    if (claimed || (queued && isNew)) {
      state.pendingClaims.delete(c.id);
      rememberMeta(c.id, {
        reason: queued.reason || (queued.email ? 'ticket' : ''),
        email: queued.email || '',
        preview: queued.preview || '',
      });
    }
    state.pendingClaims.delete(c.id);
    if (c.state === 'agent') {
      c.banner = metaFor(c.id).email
        ? 'A ticket: the visitor left ' + metaFor(c.id).email +
          ' and may be away. Your answer is delivered when they come back.'
        : '';
    }
    if (Array.isArray(f.transcript)) for (const m of f.transcript) addMessage(c, m, false);
    if (Array.isArray(f.notes)) for (const n of f.notes) addNote(c, n);
    renderConvItem(c);
    renderLoad();
    // A claim we made (or a transfer to us) opens the conversation.
    if (claimed || isNew && !state.active || state.active === c.id) {
      setActive(c.id, !!claimed);
    } else if (isNew) {
      c.unread += 1;
      renderConvItem(c);
      announce('Conversation ' + shortId(c.id) + ' was handed to you.');
    }
    // Handed to us (auto-assignment, a colleague's transfer) rather than
    // sent again because we (re)connected: a beep as for the queue.
    if (isNew && !claimed && Date.now() - state.connectedAt > 3000) beep();
  }

  function onMessage(f) {
    if (!f.conversation_id) return;
    const c = getConv(f.conversation_id);
    addMessage(c, f, true);
    if (f.from === 'visitor') {
      setVisitorTyping(c, false);
      if (state.active !== c.id || document.hidden) {
        c.unread += 1;
        renderConvItem(c);
        announce('New message in conversation ' + shortId(c.id) + '.');
        if (document.hidden) beep();
      }
    }
  }

  function onAck(f) {
    const c = state.convs.get(f.conversation_id);
    if (!c) return;
    const p = c.pending.get(f.client_msg_id);
    if (!p) return;
    c.pending.delete(f.client_msg_id);
    const node = c.nodes.get('p' + p.client_msg_id);
    c.nodes.delete('p' + p.client_msg_id);
    if (node) node.remove();
    // The ack has no time: ours, kept between the neighbours' (clocks differ).
    let lo = 0;
    let hi = Number.MAX_SAFE_INTEGER;
    for (const m of c.messages.values()) {
      if (m.seq < f.seq) lo = Math.max(lo, m.ts || 0);
      else if (m.seq > f.seq) hi = Math.min(hi, m.ts || hi);
    }
    addMessage(c, {
      seq: f.seq, from: 'agent', text: p.text, ts: Math.min(Math.max(p.ts, lo), hi),
      agent: state.me ? state.me.display_name || state.me.name : '',
    }, false);
  }

  function onState(f) {
    const c = state.convs.get(f.conversation_id);
    if (!c) return;
    c.state = f.state;
    if (f.state === 'closed') c.banner = 'Closed. The visitor is asked for a rating.';
    else if (f.state === 'bot') c.banner = 'Released: the bot answers this visitor again.';
    else if (f.state === 'queued') c.banner = 'Transferred: back in the queue' + (f.team ? ' of ' + f.team : '') + '.';
    else if (f.state === 'ticket') c.banner = 'Now a ticket.';
    for (const p of c.pending.values()) markFailed(c, p, 'not sent');
    setVisitorTyping(c, false);
    renderConvItem(c);
    renderLoad();
    if (state.active === c.id) renderActive();
  }

  function onTyping(f) {
    const c = state.convs.get(f.conversation_id);
    if (!c || f.from !== 'visitor') return;
    setVisitorTyping(c, !!f.on);
  }

  function setVisitorTyping(c, on) {
    c.visitorTyping = on;
    clearTimeout(c.typingTimer);
    if (on) c.typingTimer = setTimeout(() => setVisitorTyping(c, false), VISITOR_TYPING_TTL_MS);
    if (state.active === c.id) renderTyping(c);
    renderConvItem(c);
  }

  function onNote(f) {
    if (!f.conversation_id || !f.note) return;
    const c = getConv(f.conversation_id);
    addNote(c, f.note);
  }

  function onTransferred(f) {
    const c = state.convs.get(f.conversation_id);
    if (!c) return;
    c.state = 'transferred';
    c.banner = 'Transferred to ' + (f.to || 'another agent') + '.';
    for (const p of c.pending.values()) markFailed(c, p, 'not sent');
    renderConvItem(c);
    renderLoad();
    if (state.active === c.id) renderActive();
  }

  function onAgents(f) {
    state.agents = Array.isArray(f.agents) ? f.agents : [];
    renderTeam();
    renderTeamNames();
  }

  const ERROR_TEXT = {
    already_claimed: 'Another agent took this conversation.',
    not_yours: 'This conversation is not yours any more.',
    bad_state: 'This conversation is not waiting for an agent any more.',
    not_found: 'Not found.',
    too_long: 'That text is too long.',
    rate_limited: 'Too many actions at once; wait a moment and try again.',
    unavailable: 'The server is busy; try again.',
  };

  function onError(f) {
    const text = ERROR_TEXT[f.code] && f.code !== 'not_found' && f.code !== 'bad_field'
      ? ERROR_TEXT[f.code]
      : (f.message || f.code || 'error');
    if (!f.conversation_id) {
      // Our only frame without a conversation is `presence`: a server that
      // does not know it says so here. Stop the heartbeat until reconnect.
      if (f.code === 'unknown_type' || f.code === 'missing_field' || f.code === 'bad_field') {
        state.presenceSupported = false;
        stopHeartbeat();
        const n = $('presence-note');
        n.textContent = '(status not shared: this server has no presence)';
        n.hidden = false;
        return;
      }
      $('queue-msg').textContent = text;
      return;
    }
    const id = f.conversation_id;
    if (state.pendingClaims.has(id)) {
      state.pendingClaims.delete(id);
      $('queue-msg').textContent = text;
      renderQueue();
      return;
    }
    const c = state.convs.get(id);
    if (!c) {
      $('queue-msg').textContent = text;
      return;
    }
    if (f.code === 'not_yours' || f.code === 'too_long' || f.code === 'bad_field') {
      for (const p of c.pending.values()) markFailed(c, p, 'not sent');
    }
    if (f.code === 'not_yours' && c.state === 'agent') {
      c.state = 'gone';
      c.banner = 'You no longer hold this conversation.';
      renderConvItem(c);
    }
    c.error = text;
    if (state.active === id) renderActive();
  }

  // --- transcript -------------------------------------------------------------

  const FROM_LABEL = { visitor: 'Visitor', bot: 'Bot', system: 'System' };

  function sortKey(node) {
    return [Number(node.dataset.ts) || 0, Number(node.dataset.order) || 0];
  }

  // Inserts a transcript item in (ts, order) order; most arrive last.
  function place(c, node) {
    const key = sortKey(node);
    let before = null;
    for (let n = c.log.lastElementChild; n; n = n.previousElementSibling) {
      const k = sortKey(n);
      if (k[0] < key[0] || (k[0] === key[0] && k[1] <= key[1])) break;
      before = n;
    }
    c.log.insertBefore(node, before);
  }

  function addMessage(c, m, live) {
    if (!m || typeof m.seq !== 'number') return;
    if (c.messages.has(m.seq)) return;
    c.messages.set(m.seq, m);
    const from = ['visitor', 'bot', 'agent', 'system'].includes(m.from) ? m.from : 'system';
    const who = from === 'agent' ? (m.agent || 'Agent') : FROM_LABEL[from];
    const head = el('div', { class: 'msg-head' },
      el('span', { class: 'who', text: who }),
      el('time', { text: fmtTime(m.ts), datetime: m.ts ? new Date(m.ts).toISOString() : null }));
    if (from === 'bot' && m.source && typeof m.source === 'object') {
      const conf = typeof m.source.confidence === 'number' ? m.source.confidence.toFixed(2) : '–';
      const label = (m.source.kind || '?') + (m.source.id ? ' ' + m.source.id : '') + ' · ' + conf;
      head.append(el('span', {
        class: 'badge badge-' + (m.source.kind || 'other'), text: label,
        title: 'Decision: ' + (m.decision || m.source.kind || '?') +
          (m.source.title ? ' — ' + m.source.title : '') + ', confidence ' + conf,
        'data-testid': 'source-badge',
      }));
    }
    if (from === 'bot' && m.decision === 'handoff') {
      head.append(el('span', { class: 'badge badge-handoff', text: 'handoff' }));
    }
    const li = el('li', {
      class: 'msg msg-' + from, dataset: { ts: String(m.ts || 0), order: String(m.seq), seq: String(m.seq) },
      'data-testid': 'msg-' + from,
    }, head, el('p', { class: 'text', text: typeof m.text === 'string' ? m.text : '' }));
    if (Array.isArray(m.quick_replies) && m.quick_replies.length) {
      li.append(el('p', { class: 'qr' }, 'Buttons offered: ',
        ...m.quick_replies.map((q) => el('span', { class: 'chip', text: q && q.label ? String(q.label) : '' }))));
    }
    c.nodes.set('m' + m.seq, li);
    place(c, li);
    if (live || c.id === state.active) scrollToEnd(c);
  }

  function addNote(c, n) {
    if (!n || n.id === undefined || c.notes.has(n.id)) return;
    c.notes.set(n.id, n);
    const li = el('li', {
      class: 'msg msg-note',
      // Notes sort after messages of the same millisecond.
      dataset: { ts: String(n.ts || 0), order: String(1e12 + Number(n.id)) },
      'data-testid': 'msg-note',
    },
    el('div', { class: 'msg-head' },
      el('span', { class: 'who', text: 'Internal note · ' + (n.agent || '') }),
      el('time', { text: fmtTime(n.ts) }),
      el('span', { class: 'badge badge-note', text: 'not sent to visitor' })),
    el('p', { class: 'text', text: typeof n.text === 'string' ? n.text : '' }));
    c.nodes.set('n' + n.id, li);
    place(c, li);
    scrollToEnd(c);
  }

  function addPending(c, p) {
    const li = el('li', {
      class: 'msg msg-agent pending',
      dataset: { ts: String(Number.MAX_SAFE_INTEGER), order: String(p.ts) },
      'data-testid': 'msg-agent',
    },
    el('div', { class: 'msg-head' },
      el('span', { class: 'who', text: state.me ? state.me.display_name || state.me.name : 'You' }),
      el('span', { class: 'sending', text: 'sending…' })),
    el('p', { class: 'text', text: p.text }));
    c.nodes.set('p' + p.client_msg_id, li);
    p.node = li;
    place(c, li);
    scrollToEnd(c);
  }

  function markFailed(c, p, why) {
    p.failed = true;
    if (!p.node) return;
    p.node.classList.add('failed');
    const s = p.node.querySelector('.sending');
    if (s) s.textContent = why;
  }

  function scrollToEnd(c) {
    if (c.id !== state.active) return;
    const wrap = $('transcript-wrap');
    requestAnimationFrame(() => { wrap.scrollTop = wrap.scrollHeight; });
  }

  // --- rendering: queue -------------------------------------------------------

  function waitedNow(item) {
    return (item.waiting_s || 0) + (Date.now() - state.queue.at) / 1000;
  }

  function renderQueue() {
    const list = $('queue-list');
    clear(list);
    for (const item of state.queue.waiting) {
      if (!item || !item.conversation_id) continue;
      list.append(queueItem(item, false));
    }
    $('queue-count').textContent = String(state.queue.waiting.length);
    $('queue-empty').hidden = state.queue.waiting.length > 0;
    const tl = $('ticket-list');
    clear(tl);
    for (const item of state.queue.tickets) {
      if (!item || !item.conversation_id) continue;
      tl.append(queueItem(item, true));
    }
    $('tickets-count').textContent = String(state.queue.tickets.length);
    $('tickets-empty').hidden = state.queue.tickets.length > 0;
  }

  function queueItem(item, ticket) {
    const id = item.conversation_id;
    const claiming = state.pendingClaims.has(id);
    const wait = el('span', { class: 'wait', dataset: { waitFor: id }, text: fmtDuration(waitedNow(item)) });
    const button = el('button', {
      type: 'button', class: 'claim', disabled: claiming,
      'aria-label': (ticket ? 'Claim ticket ' : 'Claim conversation ') + shortId(id),
      'data-testid': 'claim',
      onclick: () => claim(item),
    }, claiming ? 'Claiming…' : 'Claim');
    const lines = [
      el('div', { class: 'q-head' },
        el('span', { class: 'team-tag', text: item.team || 'general' }),
        wait,
        button),
    ];
    if (ticket) {
      lines.push(el('p', { class: 'q-email', text: item.email || '' }));
    } else {
      lines.push(el('p', { class: 'q-reason', text: describeReason(item.reason) }));
      if (item.preview) lines.push(el('p', { class: 'q-preview', text: '“' + item.preview + '”' }));
    }
    return el('li', {
      class: 'q-item' + (item._new ? ' new' : ''), 'data-testid': ticket ? 'ticket-item' : 'queue-item',
      dataset: { conversationId: id },
    }, ...lines);
  }

  function tickWaits() {
    for (const span of document.querySelectorAll('[data-wait-for]')) {
      const id = span.dataset.waitFor;
      const item = state.queue.waiting.find((i) => i.conversation_id === id) ||
        state.queue.tickets.find((i) => i.conversation_id === id);
      if (item) span.textContent = fmtDuration(waitedNow(item));
    }
  }

  function claim(item) {
    const id = item.conversation_id;
    if (state.pendingClaims.has(id)) return;
    $('queue-msg').textContent = '';
    if (!send({ type: 'claim', conversation_id: id })) {
      $('queue-msg').textContent = 'Not connected; try again in a moment.';
      return;
    }
    state.pendingClaims.set(id, item);
    renderQueue();
  }

  // --- rendering: my conversations ---------------------------------------------

  const STATE_LABEL = {
    agent: 'yours', closed: 'closed', bot: 'released', queued: 'transferred',
    transferred: 'transferred', ticket: 'ticket', gone: 'not yours',
  };

  function renderConvList() {
    const list = $('conv-list');
    clear(list);
    for (const id of state.order) {
      const c = state.convs.get(id);
      if (c) list.append(convItem(c));
    }
    const open = [...state.convs.values()].filter((c) => c.state === 'agent').length;
    $('mine-count').textContent = String(open);
    $('mine-empty').hidden = state.order.length > 0;
  }

  function convItem(c) {
    const active = c.id === state.active;
    const preview = lastVisitorText(c);
    const button = el('button', {
      type: 'button', class: 'conv-btn', 'aria-current': active ? 'true' : null,
      'data-testid': 'conv-tab', dataset: { conversationId: c.id },
      onclick: () => setActive(c.id, true),
    },
    el('span', { class: 'conv-line' },
      el('span', { class: 'conv-name', text: 'Visitor ' + shortId(c.id) }),
      c.unread ? el('span', { class: 'unread', text: String(c.unread), 'aria-label': c.unread + ' unread' }) : null,
      el('span', { class: 'state-tag state-' + c.state, text: STATE_LABEL[c.state] || c.state })),
    el('span', { class: 'conv-preview', text: c.visitorTyping ? 'typing…' : preview }));
    const li = el('li', { class: 'conv-item' + (active ? ' active' : ''), dataset: { conversationId: c.id } }, button);
    if (c.state !== 'agent') {
      li.append(el('button', {
        type: 'button', class: 'dismiss', 'aria-label': 'Remove conversation ' + shortId(c.id) + ' from the list',
        title: 'Remove from the list', onclick: () => dismiss(c.id),
      }, '×'));
    }
    return li;
  }

  function renderConvItem(c) {
    const list = $('conv-list');
    const old = list.querySelector('li[data-conversation-id="' + CSS.escape(c.id) + '"]');
    if (old) old.replaceWith(convItem(c));
    else renderConvList();
    const open = [...state.convs.values()].filter((x) => x.state === 'agent').length;
    $('mine-count').textContent = String(open);
    $('mine-empty').hidden = state.order.length > 0;
  }

  function lastVisitorText(c) {
    let best = null;
    for (const m of c.messages.values()) if (m.from === 'visitor' && (!best || m.seq > best.seq)) best = m;
    return best ? best.text : '';
  }

  function dismiss(id) {
    const c = state.convs.get(id);
    if (!c || c.state === 'agent') return;
    state.convs.delete(id);
    state.order = state.order.filter((x) => x !== id);
    if (state.active === id) state.active = state.order.find((x) => state.convs.get(x)) || null;
    renderConvList();
    renderActive();
  }

  function renderLoad() {
    if (!state.me) return;
    const open = [...state.convs.values()].filter((c) => c.state === 'agent').length;
    $('me-load').textContent = open + '/' + (state.me.max_chats || '?') + ' chats';
  }

  // --- rendering: the open conversation -----------------------------------------

  function setActive(id, focusReply) {
    const prev = state.convs.get(state.active);
    if (prev) prev.draft = $('reply-text').value;
    state.active = id;
    const c = state.convs.get(id);
    if (c) {
      c.unread = 0;
      $('reply-text').value = c.draft || '';
    }
    renderConvList();
    renderActive();
    if (focusReply && c && c.state === 'agent') $('reply-text').focus();
  }

  function renderActive() {
    const c = state.convs.get(state.active);
    $('conv-none').hidden = !!c;
    $('conv-open').hidden = !c;
    $('details').hidden = !c;
    $('app-view').classList.toggle('no-conv', !c);
    if (!c) return;
    $('conv-title').textContent = 'Visitor ' + shortId(c.id);
    $('conv-title').title = c.id;
    $('conv-state').textContent = STATE_LABEL[c.state] || c.state;
    $('conv-state').className = 'state state-' + c.state;
    $('conv-team').textContent = c.team ? 'team ' + c.team : '';
    const wrap = $('transcript-wrap');
    if (wrap.firstElementChild !== c.log) {
      clear(wrap);
      wrap.append(c.log);
    }
    const banner = $('conv-banner');
    banner.textContent = c.banner || '';
    banner.hidden = !c.banner;
    $('conv-error').textContent = c.error || '';
    c.error = '';
    renderTyping(c);
    renderWhy(c);
    renderContext(c);
    const mine = c.state === 'agent';
    for (const n of document.querySelectorAll('#reply-form textarea, #reply-form button, #details .actions button,' +
      ' #transfer-team-form input, #transfer-team-form button, #transfer-agent-form input,' +
      ' #transfer-agent-form button, #note-form textarea, #note-form button')) {
      n.disabled = !mine;
    }
    wrap.scrollTop = wrap.scrollHeight;
  }

  function renderTyping(c) {
    $('visitor-typing').textContent = c.visitorTyping ? 'The visitor is typing…' : '';
  }

  function renderWhy(c) {
    const p = $('why');
    clear(p);
    const meta = metaFor(c.id);
    const parts = [];
    if (meta.email) parts.push('A ticket: the visitor left the address ' + meta.email + '.');
    // The bot's handoff message says which rule or decision sent it here.
    let handoff = null;
    for (const m of c.messages.values()) {
      if (m.from === 'bot' && m.decision === 'handoff' && (!handoff || m.seq > handoff.seq)) handoff = m;
    }
    const reason = c.why || meta.reason;
    const sameAsBot = handoff && handoff.source && reason === 'intent:' + handoff.source.id;
    if (reason && reason !== 'ticket' && !sameAsBot) parts.push('Queue reason: ' + describeReason(reason) + '.');
    if (handoff && handoff.source) {
      const s = handoff.source;
      parts.push('The bot handed off after ' + (s.kind === 'fallback' ? 'not understanding' : (s.kind || '') +
        ' ' + (s.id || '')) + (typeof s.confidence === 'number' ? ' (confidence ' + s.confidence.toFixed(2) + ')' : '') + '.');
    }
    if (c.team) parts.push('Team: ' + c.team + '.');
    if (!parts.length) parts.push('No reason recorded.');
    for (const t of parts) p.append(el('span', { class: 'why-line', text: t }));
  }

  function renderContext(c) {
    const dl = $('ctx');
    clear(dl);
    const ctx = c.context;
    const row = (k, v) => { dl.append(el('dt', { text: k }), el('dd', { text: v })); };
    if (!ctx) { row('context', 'none'); return; }
    const slots = ctx.slots && typeof ctx.slots === 'object' ? ctx.slots : {};
    const keys = ctx.context && typeof ctx.context === 'object' ? ctx.context : {};
    let any = false;
    for (const [k, v] of Object.entries(slots)) { row('slot ' + k, String(v)); any = true; }
    for (const [k, v] of Object.entries(keys)) {
      const val = v && typeof v === 'object' ? String(v.value) + (typeof v.turns_left === 'number'
        ? ' (' + v.turns_left + ' turns left)' : '') : String(v);
      row(k, val);
      any = true;
    }
    if (ctx.expect && typeof ctx.expect === 'object') {
      row('expecting', String(ctx.expect.slot || '') + ' for ' + String(ctx.expect.intent || ''));
      any = true;
    }
    if (typeof ctx.fallbacks_in_row === 'number') row('fallbacks in a row', String(ctx.fallbacks_in_row));
    if (typeof ctx.turns === 'number') row('bot turns', String(ctx.turns));
    if (!any && typeof ctx.turns !== 'number') row('context', 'none');
  }

  function renderTeam() {
    const list = $('team-list');
    clear(list);
    const rank = { online: 0, away: 1, offline: 2 };
    const agents = state.agents.filter((a) => a && a.name)
      .sort((a, b) => (rank[a.status] ?? 3) - (rank[b.status] ?? 3) || String(a.name).localeCompare(b.name));
    let offline = 0;
    for (const a of agents) {
      if (a.status === 'offline') { offline += 1; continue; }
      list.append(el('li', { class: 'agent agent-' + (a.status || 'offline'), 'data-testid': 'team-agent' },
        el('span', { class: 'dot', 'aria-hidden': 'true' }),
        el('span', { class: 'agent-name', text: (a.display_name || a.name) + (state.me && a.name === state.me.name ? ' (you)' : '') }),
        el('span', { class: 'agent-status', text: a.status || '' }),
        el('span', { class: 'agent-load', text: (a.chats ?? 0) + '/' + (a.max_chats ?? '?') })));
    }
    if (offline) list.append(el('li', { class: 'agent agent-offline-count', text: offline + ' offline' }));
    $('team-empty').hidden = agents.length > 0;
  }

  function renderTeamNames() {
    const teams = new Set(state.me && Array.isArray(state.me.teams) ? state.me.teams : []);
    teams.add('general');
    for (const a of state.agents) if (a && Array.isArray(a.teams)) for (const t of a.teams) teams.add(t);
    const tl = $('team-names');
    clear(tl);
    for (const t of [...teams].sort()) tl.append(el('option', { value: t }));
    const al = $('agent-names');
    clear(al);
    for (const a of state.agents) {
      if (!a || !a.name || (state.me && a.name === state.me.name)) continue;
      al.append(el('option', {
        value: a.name,
        label: (a.display_name || a.name) + ' — ' + (a.status || '?') + ', ' + (a.chats ?? 0) + '/' + (a.max_chats ?? '?'),
      }));
    }
  }

  // --- agent actions ---------------------------------------------------------

  function activeConv() {
    const c = state.convs.get(state.active);
    return c && c.state === 'agent' ? c : null;
  }

  function showConvError(c, text) {
    c.error = text;
    if (state.active === c.id) $('conv-error').textContent = text;
  }

  function sendReply(ev) {
    if (ev) ev.preventDefault();
    const c = activeConv();
    if (!c) return;
    const box = $('reply-text');
    const text = box.value;
    if (!text.trim()) return;
    const p = { client_msg_id: newClientMsgId(), text, ts: Date.now(), node: null, failed: false };
    c.pending.set(p.client_msg_id, p);
    addPending(c, p);
    if (!send({ type: 'message', conversation_id: c.id, client_msg_id: p.client_msg_id, text })) {
      // Kept as pending: sent again when the socket is back.
      showConvError(c, 'Not connected: the reply is sent when the connection is back.');
    } else {
      $('conv-error').textContent = '';
    }
    box.value = '';
    c.draft = '';
    stopTyping(c);
    box.focus();
  }

  function onReplyInput() {
    const c = activeConv();
    if (!c) return;
    const now = Date.now();
    if (!$('reply-text').value) { stopTyping(c); return; }
    if (!c.typingOn || now - c.typingSentAt > TYPING_REPEAT_MS) {
      if (send({ type: 'typing', conversation_id: c.id, on: true })) {
        c.typingOn = true;
        c.typingSentAt = now;
      }
    }
    clearTimeout(c.typingIdle);
    c.typingIdle = setTimeout(() => stopTyping(c), TYPING_IDLE_MS);
  }

  function stopTyping(c) {
    clearTimeout(c.typingIdle);
    if (c.typingOn && c.state === 'agent') send({ type: 'typing', conversation_id: c.id, on: false });
    c.typingOn = false;
  }

  function simple(type) {
    const c = activeConv();
    if (!c) return;
    stopTyping(c);
    if (!send({ type, conversation_id: c.id })) showConvError(c, 'Not connected; try again in a moment.');
  }

  function onTransferTeam(ev) {
    ev.preventDefault();
    const c = activeConv();
    const input = $('transfer-team');
    const team = input.value.trim();
    if (!c || !team) return;
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(team)) {
      showConvError(c, 'A team is 1–64 letters, digits, _ or -.');
      return;
    }
    stopTyping(c);
    if (send({ type: 'transfer', conversation_id: c.id, team })) input.value = '';
  }

  function onTransferAgent(ev) {
    ev.preventDefault();
    const c = activeConv();
    const input = $('transfer-agent');
    const agent = input.value.trim();
    if (!c || !agent) return;
    if (state.me && agent === state.me.name) {
      showConvError(c, 'This conversation is already yours.');
      return;
    }
    stopTyping(c);
    if (send({ type: 'transfer', conversation_id: c.id, agent })) input.value = '';
  }

  function onNoteSubmit(ev) {
    ev.preventDefault();
    const c = activeConv();
    const box = $('note-text');
    const text = box.value;
    if (!c || !text.trim()) return;
    if (send({ type: 'note', conversation_id: c.id, text })) box.value = '';
    else showConvError(c, 'Not connected; the note was not saved.');
  }

  // --- canned answers ----------------------------------------------------------

  let cannedTimer = 0;
  let cannedSeq = 0;

  // The KB's answers are Markdown. The widget shows agents' messages through
  // the same safe Markdown subset, so an answer is inserted as it is; the
  // result list shows it as plain text, easier to skim.
  function markdownToText(md) {
    return String(md)
      .replace(/\[([^\]]+)\]\(([^)\s]+)\)/g, '$1 ($2)')
      .replace(/\*\*([^*]+)\*\*/g, '$1')
      .replace(/__([^_]+)__/g, '$1')
      .replace(/(^|[\s(])\*([^*\n]+)\*(?=[\s).,!?]|$)/g, '$1$2')
      .replace(/(^|[\s(])_([^_\n]+)_(?=[\s).,!?]|$)/g, '$1$2')
      .replace(/^\s*[-*] /gm, '• ')
      .replace(/\n{3,}/g, '\n\n')
      .trim();
  }

  function onCannedInput() {
    clearTimeout(cannedTimer);
    const q = $('canned-q').value.trim();
    if (!q) {
      clear($('canned-list'));
      $('canned-status').textContent = '';
      return;
    }
    cannedTimer = setTimeout(() => searchCanned(q), 250);
  }

  async function searchCanned(q) {
    const mySeq = ++cannedSeq;
    const status = $('canned-status');
    status.textContent = 'Searching…';
    let r;
    try {
      r = await api('GET', '/agent/api/kb?q=' + encodeURIComponent(q));
    } catch (e) {
      if (mySeq === cannedSeq) status.textContent = 'The search failed; try again.';
      return;
    }
    if (mySeq !== cannedSeq) return;  // a newer search is on its way
    const list = $('canned-list');
    clear(list);
    if (r.status === 401) {
      status.textContent = 'Your session has ended: log in again.';
      return;
    }
    if (r.status === 404) {
      status.textContent = 'Canned answers are not available on this server.';
      return;
    }
    if (r.status !== 200 || !r.data || !Array.isArray(r.data.results)) {
      status.textContent = 'The search failed (' + r.status + ').';
      return;
    }
    const results = r.data.results;
    status.textContent = results.length ? results.length + ' found' : 'Nothing found.';
    // The search box at the top of the details column, its results below.
    requestAnimationFrame(() => $('canned-q').closest('section').scrollIntoView({ block: 'start' }));
    for (const item of results) {
      if (!item) continue;
      const answer = typeof item.answer === 'string' ? item.answer : '';
      list.append(el('li', { class: 'canned-item', 'data-testid': 'canned-item' },
        el('div', { class: 'canned-head' },
          el('span', { class: 'canned-title', text: item.title || item.id || '' }),
          typeof item.score === 'number' ? el('span', { class: 'badge', text: item.score.toFixed(2) }) : null,
          el('button', {
            type: 'button', class: 'insert', 'data-testid': 'canned-insert',
            'aria-label': 'Insert the answer “' + (item.title || item.id || '') + '” into the reply',
            onclick: () => insertCanned(answer),
          }, 'Insert')),
        el('p', { class: 'canned-answer', text: markdownToText(answer), title: markdownToText(answer) })));
    }
  }

  function insertCanned(answer) {
    const box = $('reply-text');
    if (box.disabled) return;
    const text = answer.trim();
    const start = box.selectionStart ?? box.value.length;
    const end = box.selectionEnd ?? box.value.length;
    const before = box.value.slice(0, start);
    const sep = before && !/\s$/.test(before) ? ' ' : '';
    box.value = before + sep + text + box.value.slice(end);
    const pos = (before + sep + text).length;
    box.focus();
    box.setSelectionRange(pos, pos);
    onReplyInput();
  }

  // --- keyboard ----------------------------------------------------------------

  function moveActive(delta) {
    if (!state.order.length) return;
    let i = state.order.indexOf(state.active);
    i = i < 0 ? 0 : (i + delta + state.order.length) % state.order.length;
    setActive(state.order[i], true);
  }

  function onKey(ev) {
    if ($('app-view').hidden) return;
    if (ev.altKey && !ev.ctrlKey && !ev.metaKey) {
      const k = ev.key.toLowerCase();
      if (ev.key === 'ArrowUp') { ev.preventDefault(); moveActive(-1); return; }
      if (ev.key === 'ArrowDown') { ev.preventDefault(); moveActive(1); return; }
      if (ev.code === 'KeyK' || k === 'k') { ev.preventDefault(); if (!$('details').hidden) $('canned-q').focus(); return; }
      if (ev.code === 'KeyN' || k === 'n') { ev.preventDefault(); if (!$('details').hidden) $('note-text').focus(); return; }
      if (ev.code === 'KeyC' || k === 'c') {
        ev.preventDefault();
        const first = state.queue.waiting[0] || state.queue.tickets[0];
        if (first) claim(first);
      }
    }
  }

  // --- wiring ----------------------------------------------------------------

  function wire() {
    $('login-form').addEventListener('submit', onLoginSubmit);
    $('logout').addEventListener('click', logout);
    $('mute').addEventListener('click', () => {
      state.muted = !state.muted;
      saveJSON(MUTE_KEY, state.muted);
      renderMute();
      if (!state.muted) { unlockAudio(); }
    });
    for (const r of document.querySelectorAll('input[name=presence]')) {
      r.addEventListener('change', () => {
        if (!r.checked) return;
        state.presence = r.value === 'away' ? 'away' : 'online';
        saveJSON(PRESENCE_KEY, state.presence);
        sendPresence();
      });
    }
    $('reply-form').addEventListener('submit', sendReply);
    $('reply-text').addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter' && !ev.shiftKey && !ev.altKey && !ev.ctrlKey && !ev.metaKey && !ev.isComposing) {
        ev.preventDefault();
        sendReply();
      }
    });
    $('reply-text').addEventListener('input', onReplyInput);
    $('reply-text').addEventListener('blur', () => { const c = activeConv(); if (c) stopTyping(c); });
    $('act-release').addEventListener('click', () => simple('release'));
    $('act-close').addEventListener('click', () => simple('close'));
    $('transfer-team-form').addEventListener('submit', onTransferTeam);
    $('transfer-agent-form').addEventListener('submit', onTransferAgent);
    $('note-form').addEventListener('submit', onNoteSubmit);
    $('note-text').addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter' && (ev.ctrlKey || ev.metaKey)) { ev.preventDefault(); onNoteSubmit(ev); }
    });
    $('canned-q').addEventListener('input', onCannedInput);
    $('canned-q').addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter') {
        ev.preventDefault();
        const first = $('canned-list').querySelector('button.insert');
        if (first) first.click();
      }
    });
    document.addEventListener('keydown', onKey);
    document.addEventListener('visibilitychange', () => { if (!document.hidden) sendPresence(); });
    setInterval(tickWaits, 1000);
  }

  async function boot() {
    wire();
    renderMute();
    let r = null;
    try {
      r = await api('GET', '/agent/me');
    } catch (e) {
      r = null;
    }
    if (r && r.status === 200 && r.data) startSession(r.data);
    else showLogin(r ? '' : 'The server cannot be reached right now.');
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', boot);
  else boot();
})();
