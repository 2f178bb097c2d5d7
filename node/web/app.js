// Tim's web page: a plain client of the node's /v1 API. No framework and no build step.
// Every piece of data goes into the page with textContent, never as HTML.
'use strict';

(() => {
  const TOKEN_KEY = 'tim.token';
  // The timite last signed in with the browser's key (to fill the form again).
  const DID_KEY = 'tim.did';
  // The reactions the page offers.
  const EMOJIS = ['👍', '❤️', '😄', '🎉', '👀'];
  const MAX_BACKOFF_MS = 15000;
  const STATUS_EVERY_MS = 15000;
  // Messages per timeline page, and per page when reading the shown pages again (the API's most).
  const PAGE = 50;
  const MAX_PAGE = 500;
  // How close to the top of the timeline (px) a scroll loads the next older page (and to its
  // bottom, the next newer one).
  const OLDER_AT_PX = 80;
  // Most messages the timeline shows at once (~29 DOM nodes each with their buttons,
  // docs/benchmarks.md B12); `localStorage['tim.maxShown']` lowers it (the web test's short
  // timelines), to two pages at least.
  const MAX_SHOWN = 1000;
  const MAX_SHOWN_KEY = 'tim.maxShown';

  const $ = (id) => document.getElementById(id);

  const state = {
    // An operator's token is kept in the tab (sessionStorage); one the browser's key signed
    // in for, until it expires (localStorage).
    token: sessionStorage.getItem(TOKEN_KEY) || localStorage.getItem(TOKEN_KEY),
    browserKey: null, // {pair, did}: the browser's sign-in key
    replyTo: null, // the id of the message the composer replies to
    me: null,
    spaces: [],
    space: null, // the selected space id
    messages: new Map(), // id -> message of the selected space
    older: null, // cursor of the next older page of the timeline (null: the oldest is shown)
    loadingOlder: false,
    // Cursor of the next newer page when the newest messages are not shown (the reader went
    // back past MAX_SHOWN; null: the newest are shown and live ones are added).
    newer: null,
    loadingNewer: false,
    unseen: 0, // live messages that arrived while `newer` was set
    members: [],
    view: 'timeline', // or 'abilities' or 'governance'
    providers: [], // declarations in the selected space
    requests: new Map(), // id -> request of the selected space
    proposals: new Map(), // id -> proposal of the selected space, with its live tally
    stream: null, // AbortController of the selected space's event stream
    asks: new Map(), // 'space request-id' -> {space, request}: open or claimed, asked of the timite
    asksStream: null, // AbortController of the timite's request stream
    statusTimer: null,
  };

  // ---------- API ----------

  class ApiError extends Error {
    constructor(status, problem) {
      super(problem.detail || problem.title || `HTTP ${status}`);
      this.status = status;
      this.type = problem.type || '';
    }
  }

  async function api(method, path, body, accept) {
    const headers = { Accept: accept || 'application/json' };
    if (state.token) headers.Authorization = `Bearer ${state.token}`;
    const init = { method, headers, cache: 'no-store' };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let res;
    try {
      res = await fetch(path, init);
    } catch (e) {
      throw new ApiError(0, { detail: `The node did not answer (${e.message}). Is it running?` });
    }
    if (!res.ok) {
      let problem = {};
      try {
        problem = await res.json();
      } catch (_) {
        problem = { detail: `${res.status} ${res.statusText}` };
      }
      const err = new ApiError(res.status, problem);
      if (res.status === 401 && state.me) signOut(`Signed out: ${err.message}`);
      throw err;
    }
    if (accept && accept !== 'application/json') return res.text();
    if (res.status === 204) return null;
    return res.json();
  }

  const enc = encodeURIComponent;

  // ---------- small helpers ----------

  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') node.className = v;
      else if (k === 'text') node.textContent = v;
      else if (k.startsWith('data-') || k.startsWith('aria-') || k === 'role') node.setAttribute(k, v);
      else node[k] = v;
    }
    for (const c of children) {
      if (c === null || c === undefined || c === false) continue;
      node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  }

  function shortDid(did) {
    if (!did) return '';
    const m = /^(did:[a-z0-9]+:)(.+)$/.exec(did);
    if (!m || m[2].length <= 14) return did;
    return `${m[1]}${m[2].slice(0, 8)}…${m[2].slice(-4)}`;
  }

  // A timite's profile name as last seen (a member's `name`, a message's `author_name`).
  const names = new Map();

  function learnName(did, name) {
    if (did && name) names.set(did, name);
  }

  // A timite as the page shows it: its name where it has one, else its short DID; the short
  // DID (or, without a name, the whole DID) in the tooltip.
  function displayName(did) {
    return names.get(did) || shortDid(did);
  }

  function didNode(did, cls) {
    const mine = state.me && did === state.me.did;
    const name = names.get(did);
    return el('span', { class: cls || 'did', title: name ? shortDid(did) : did, 'data-did': did },
      name || shortDid(did), mine ? el('span', { class: 'you', text: ' (you)' }) : null);
  }

  const relFmt = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });
  const absFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

  function relative(ms) {
    const diff = (ms - Date.now()) / 1000;
    const abs = Math.abs(diff);
    if (abs < 45) return diff <= 0 ? 'just now' : 'in a moment';
    const units = [['minute', 60], ['hour', 3600], ['day', 86400]];
    for (let i = units.length - 1; i >= 0; i--) {
      const [unit, secs] = units[i];
      if (abs >= secs || i === 0) {
        if (unit === 'day' && abs > 6 * 86400) return absFmt.format(new Date(ms));
        return relFmt.format(Math.round(diff / secs), unit);
      }
    }
    return absFmt.format(new Date(ms));
  }

  function timeNode(ms) {
    const d = new Date(ms);
    return el('time', { dateTime: d.toISOString(), title: absFmt.format(d), 'data-at': String(ms) }, relative(ms));
  }

  function refreshTimes() {
    for (const t of document.querySelectorAll('time[data-at]')) {
      t.textContent = relative(Number(t.dataset.at));
    }
  }

  function showError(message) {
    $('error-text').textContent = message;
    $('error').hidden = false;
  }

  function clearError() {
    $('error').hidden = true;
    $('error-text').textContent = '';
  }

  let statusClear = null;
  function say(message) {
    $('status').textContent = message;
    clearTimeout(statusClear);
    statusClear = setTimeout(() => { $('status').textContent = ''; }, 5000);
  }

  // Runs `work` with the form's submit button disabled and marked busy.
  async function busy(form, label, work) {
    const button = form.querySelector('button[type=submit]');
    const before = button.textContent;
    button.disabled = true;
    button.textContent = label;
    form.setAttribute('aria-busy', 'true');
    try {
      return await work();
    } catch (e) {
      showError(e.message);
      return undefined;
    } finally {
      button.disabled = false;
      button.textContent = before;
      form.removeAttribute('aria-busy');
    }
  }

  // ---------- sign in / out ----------

  // Signs in with `token`, kept in `store` (the tab's sessionStorage, or localStorage for a
  // token the browser's key signed in for).
  async function signIn(token, store) {
    state.token = token;
    const me = await api('GET', '/v1/me');
    state.me = me;
    if (store) store.setItem(TOKEN_KEY, token);
    $('who-did').textContent = shortDid(me.did);
    $('who-did').title = me.did;
    $('signin').hidden = true;
    $('nav').hidden = false;
    $('nav-agents-item').hidden = !me.admin;
    $('who').hidden = false;
    refreshStatus();
    state.statusTimer = setInterval(() => { refreshStatus(); refreshTimes(); }, STATUS_EVERY_MS);
    await loadSpaces();
    startAsks();
    route();
  }

  function signOut(message) {
    stopStream();
    if (state.asksStream) state.asksStream.abort();
    state.asksStream = null;
    state.asks.clear();
    clearInterval(state.statusTimer);
    sessionStorage.removeItem(TOKEN_KEY);
    localStorage.removeItem(TOKEN_KEY);
    Object.assign(state, { token: null, me: null, spaces: [], space: null, members: [], replyTo: null });
    state.messages.clear();
    $('nav').hidden = true;
    $('who').hidden = true;
    $('spaces-view').hidden = true;
    $('passport-view').hidden = true;
    $('signin').hidden = false;
    $('token').value = '';
    $('node-info').textContent = 'Tim node';
    if (message) showError(message);
    showBrowserKey();
    $('token').focus();
  }

  // ---------- the browser's sign-in key (docs/operator.md "Sign-in keys") ----------

  const KEY_DB = 'tim';
  const KEY_STORE = 'keys';
  const KEY_ID = 'sign-in';
  const BASE58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';

  // Bytes in base58btc (Bitcoin's alphabet), as multibase's `z` form uses.
  function base58(bytes) {
    const digits = []; // little-endian base-58 digits
    for (const b of bytes) {
      let carry = b;
      for (let i = 0; i < digits.length; i++) {
        carry += digits[i] * 256;
        digits[i] = carry % 58;
        carry = Math.floor(carry / 58);
      }
      while (carry > 0) {
        digits.push(carry % 58);
        carry = Math.floor(carry / 58);
      }
    }
    let out = '';
    for (const b of bytes) {
      if (b !== 0) break;
      out += '1';
    }
    for (let i = digits.length - 1; i >= 0; i--) out += BASE58[digits[i]];
    return out;
  }

  // The did:key of a raw Ed25519 public key: multicodec ed25519-pub (0xed 0x01) + the key,
  // in base58btc.
  function didKey(raw) {
    return `did:key:z${base58(Uint8Array.of(0xed, 0x01, ...raw))}`;
  }

  function hex(bytes) {
    return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');
  }

  // Runs `work` on the key store of the page's IndexedDB database; answers its request's result.
  function keyStore(mode, work) {
    return new Promise((resolve, reject) => {
      const open = indexedDB.open(KEY_DB, 1);
      open.onupgradeneeded = () => open.result.createObjectStore(KEY_STORE);
      open.onerror = () => reject(open.error);
      open.onsuccess = () => {
        const db = open.result;
        const tx = db.transaction(KEY_STORE, mode);
        const req = work(tx.objectStore(KEY_STORE));
        tx.oncomplete = () => { db.close(); resolve(req.result); };
        tx.onerror = () => { db.close(); reject(tx.error); };
      };
    });
  }

  // The browser's Ed25519 key pair and its did:key, made once and kept in IndexedDB. The
  // private key is not extractable: the page can sign with it but nobody can read it.
  async function browserKey() {
    if (state.browserKey) return state.browserKey;
    let pair = await keyStore('readonly', (st) => st.get(KEY_ID));
    if (!pair) {
      pair = await crypto.subtle.generateKey({ name: 'Ed25519' }, false, ['sign', 'verify']);
      await keyStore('readwrite', (st) => st.put(pair, KEY_ID));
    }
    const raw = new Uint8Array(await crypto.subtle.exportKey('raw', pair.publicKey));
    state.browserKey = { pair, did: didKey(raw) };
    return state.browserKey;
  }

  // The command that allows the browser's key to sign in as the timite typed in the form.
  function keyCommand() {
    const key = state.browserKey;
    if (!key) return;
    const did = $('challenge-did').value.trim();
    $('browser-key-command').textContent =
      `tim timite keys add ${key.did} --label "web browser"${did ? ` --did ${did}` : ''}`;
  }

  async function showBrowserKey() {
    if (!$('challenge-did').value) $('challenge-did').value = localStorage.getItem(DID_KEY) || '';
    try {
      const { did } = await browserKey();
      $('browser-key').textContent = did;
      keyCommand();
    } catch (e) {
      $('browser-key-missing').hidden = false;
      $('challenge-form').hidden = true;
      $('browser-key').textContent = `(none: ${e.message})`;
    }
  }

  // Signs in as `did` by signing a challenge with the browser's key (`Login.key`): the bytes
  // `tim/auth/v1\0` + node DID + `\0` + challenge. The token lasts a day.
  async function signInWithKey(did) {
    const { pair, did: key } = await browserKey();
    const c = await api('POST', '/v1/auth/challenge', { did });
    const message = new TextEncoder().encode(`tim/auth/v1\0${c.node_did}\0${c.challenge}`);
    const signature = new Uint8Array(await crypto.subtle.sign({ name: 'Ed25519' }, pair.privateKey, message));
    const issued = await api('POST', '/v1/auth/login', { did, challenge: c.challenge, signature: hex(signature), key });
    localStorage.setItem(DID_KEY, did);
    await signIn(issued.token, localStorage);
  }

  async function refreshStatus() {
    try {
      const s = await api('GET', '/v1/status');
      const peers = `${s.connected_peers} peer${s.connected_peers === 1 ? '' : 's'} connected`;
      const info = $('node-info');
      info.replaceChildren(
        'Node ', el('span', { class: 'did', title: s.node_did }, shortDid(s.node_did)),
        ` · Tim ${s.version} · ${peers} · ${s.spaces} space${s.spaces === 1 ? '' : 's'}`,
      );
    } catch (_) {
      // The status line is informative only; errors surface through the actions.
    }
  }

  // ---------- routing ----------

  function route() {
    if (!state.me) return;
    const hash = location.hash;
    const passport = hash.startsWith('#/passport');
    const agents = hash.startsWith('#/agents') && state.me.admin;
    $('spaces-view').hidden = passport || agents;
    $('passport-view').hidden = !passport;
    $('agents-view').hidden = !agents;
    const current = passport ? $('nav-passport') : agents ? $('nav-agents') : $('nav-spaces');
    for (const a of [$('nav-spaces'), $('nav-passport'), $('nav-agents')]) {
      if (a === current) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    }
    if (passport) {
      loadPassport();
      return;
    }
    if (agents) {
      loadAgents();
      return;
    }
    const m = /^#\/space\/([^/]+)\/?(abilities|governance)?$/.exec(hash);
    const id = m ? decodeURIComponent(m[1]) : null;
    setView(m && m[2] ? m[2] : 'timeline');
    if (id !== state.space) selectSpace(id);
  }

  // ---------- spaces ----------

  async function loadSpaces() {
    try {
      state.spaces = await api('GET', '/v1/spaces');
    } catch (e) {
      showError(e.message);
      return;
    }
    renderSpaces();
  }

  function renderSpaces() {
    const list = $('space-list');
    const items = [...state.spaces]
      .sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id))
      .map((s) => {
        const link = el('a', {
          href: `#/space/${enc(s.id)}`,
          class: 'space-link',
          'data-space-id': s.id,
          'aria-current': s.id === state.space ? 'true' : undefined,
        },
        el('span', { class: 'space-link-name', text: s.name }, unreadBadge(s)),
        el('span', { class: 'space-link-meta', text: `${plural(s.members, 'member')} · ${plural(s.messages, 'message')}` }));
        return el('li', {}, link);
      });
    list.replaceChildren(...items);
    $('space-list-empty').hidden = items.length > 0;
  }

  // The space's unread messages (and mentions of the timite among them), when the node
  // counts them (`SpaceSummary.unread`).
  function unreadBadge(s) {
    if (!s.unread || s.id === state.space) return null;
    const mentions = s.unread_mentions ? ` · @${s.unread_mentions}` : '';
    return el('span', {
      class: s.unread_mentions ? 'unread mentioned' : 'unread',
      'data-testid': 'unread',
      title: `${plural(s.unread, 'unread message')}${s.unread_mentions ? `, ${plural(s.unread_mentions, 'mention')} of you` : ''}`,
      text: `${s.unread}${mentions}`,
    });
  }

  // Moves the timite's read marker to the newest message shown, when the node keeps one
  // (`POST /v1/spaces/{id}/read`); a node without markers is left alone.
  let readTimer = null;
  function markReadSoon(id) {
    clearTimeout(readTimer);
    readTimer = setTimeout(async () => {
      const s = state.spaces.find((x) => x.id === id);
      const last = $('timeline').lastElementChild;
      if (state.space !== id || !s || typeof s.unread !== 'number' || !last || document.hidden || state.newer) return;
      try {
        await api('POST', `/v1/spaces/${enc(id)}/read`, { up_to: last.dataset.id });
        s.unread = 0;
        s.unread_mentions = 0;
        renderSpaces();
      } catch (_) {
        // The marker is a convenience; the next message tries again.
      }
    }, 500);
  }

  function plural(n, word) {
    return `${n} ${word}${n === 1 ? '' : 's'}`;
  }

  function upsertSpace(summary) {
    const i = state.spaces.findIndex((s) => s.id === summary.id);
    if (i >= 0) state.spaces[i] = summary;
    else state.spaces.push(summary);
    renderSpaces();
  }

  function renderSpaceHead(s) {
    $('space-name').textContent = s.name;
    $('space-purpose').textContent = s.purpose;
    $('space-purpose').hidden = !s.purpose;
    $('space-visibility').textContent = s.encrypted
      ? `${s.visibility}, end-to-end encrypted${s.keys_pending ? ' (keys not here yet)' : ''}`
      : s.visibility;
    $('space-counts').textContent = `${plural(s.members, 'member')} · ${plural(s.messages, 'message')}`;
    const exp = $('space-expires');
    exp.replaceChildren();
    if (s.expires_at) exp.append('deleted ', timeNode(s.expires_at));
    $('space-id').textContent = s.id;
    const reqs = (s.requirements || []).map((r) => el('li', { text: r }));
    if (reqs.length) reqs.unshift(el('li', { class: 'req-title', text: 'To join, present:' }));
    $('space-requirements').replaceChildren(...reqs);
    $('space-requirements').hidden = reqs.length === 0;
    document.title = `${s.name} · Tim`;
  }

  // What the join form names: a space id (and an address typed beside it), or an invite link
  // `tim:join/<space id>?via=<multiaddr>[&via=…][&for=<did>]` (docs/operator.md "Invite links").
  function joinTarget(text, typedVia) {
    const via = typedVia ? [typedVia] : [];
    if (!text.startsWith('tim:join/')) return { id: text, via, for: null };
    const [id, query = ''] = text.slice('tim:join/'.length).split('?');
    let invitee = null;
    for (const part of query.split('&').filter(Boolean)) {
      const eq = part.indexOf('=');
      const [key, value] = eq < 0 ? [part, ''] : [part.slice(0, eq), part.slice(eq + 1)];
      if (key === 'via' && value) via.push(value);
      else if (key === 'for' && value) invitee = value;
      else throw new Error(`"${part}" is not part of an invite link (via=ADDRESS or for=DID)`);
    }
    if (!/^[0-9a-f]{64}$/.test(id)) throw new Error(`"${id}" in the link is not a space id`);
    return { id, via, for: invitee };
  }

  async function selectSpace(id) {
    stopStream();
    state.space = id;
    $('nav-spaces').href = id ? `#/space/${enc(id)}` : '#/spaces';
    $('tab-timeline').href = id ? `#/space/${enc(id)}` : '#/spaces';
    $('tab-abilities').href = id ? `#/space/${enc(id)}/abilities` : '#/spaces';
    $('tab-governance').href = id ? `#/space/${enc(id)}/governance` : '#/spaces';
    state.providers = [];
    state.requests = new Map();
    state.proposals = new Map();
    for (const k of ['hits', 'providers', 'requests', 'proposals', 'balances']) $(k).replaceChildren();
    state.messages.clear();
    state.older = null;
    renderOlder();
    state.newer = null;
    state.unseen = 0;
    renderNewer();
    state.members = [];
    $('timeline').replaceChildren();
    $('members').replaceChildren();
    renderSpaces();
    const none = !id;
    $('space').hidden = none;
    $('members-box').hidden = none;
    $('no-space').hidden = !none;
    if (none) {
      document.title = 'Tim';
      return;
    }
    $('space-name').textContent = 'Loading…';
    for (const k of ['space-purpose', 'space-visibility', 'space-counts', 'space-expires', 'space-id']) $(k).textContent = '';
    try {
      const summary = await api('GET', `/v1/spaces/${enc(id)}`);
      if (state.space !== id) return;
      upsertSpace(summary);
      renderSpaceHead(summary);
    } catch (e) {
      if (state.space !== id) return;
      $('space').hidden = true;
      $('members-box').hidden = true;
      $('no-space').hidden = false;
      state.space = null;
      $('nav-spaces').href = '#/spaces';
      if (e.status === 404) {
        $('join-id').value = id;
        $('join-box').open = true;
        showError(`This node does not host that space yet: ${e.message}. Join it below.`);
      } else {
        showError(e.message);
      }
      return;
    }
    await Promise.all([loadTimeline(id), loadMembers(id), loadAbilities(id), loadProposals(id), loadBalances(id)]);
    startStream(id);
  }

  async function refreshSummary(id) {
    try {
      const summary = await api('GET', `/v1/spaces/${enc(id)}`);
      upsertSpace(summary);
      if (state.space === id) renderSpaceHead(summary);
    } catch (_) {
      // Counts are informative; the next refresh will try again.
    }
  }

  let summaryTimer = null;
  function refreshSummarySoon(id) {
    clearTimeout(summaryTimer);
    summaryTimer = setTimeout(() => refreshSummary(id), 300);
  }

  // ---------- timeline ----------

  const messagesPath = (id, limit, before) =>
    `/v1/spaces/${enc(id)}/messages?limit=${limit}${before ? `&before=${enc(before)}` : ''}`;
  const newerPath = (id, limit, after) => `/v1/spaces/${enc(id)}/messages?limit=${limit}&after=${enc(after)}`;

  function maxShown() {
    const n = Number.parseInt(localStorage.getItem(MAX_SHOWN_KEY) || '', 10);
    return Number.isFinite(n) ? Math.min(MAX_SHOWN, Math.max(2 * PAGE, n)) : MAX_SHOWN;
  }

  // The latest page of the timeline. Read again (after a reconnection, a lag or a deletion), it
  // covers as many messages as are shown, so that older pages loaded by scrolling stay and
  // deleted messages go. A reader back past MAX_SHOWN (the newest not shown) is brought to
  // the newest instead.
  async function loadTimeline(id) {
    if (state.newer) {
      jumpToNewest();
      return;
    }
    const shown = state.messages.size;
    const messages = [];
    let older = null;
    try {
      let page = await api('GET', messagesPath(id, PAGE));
      for (;;) {
        messages.push(...page.messages);
        older = page.next_before;
        if (!older || messages.length >= shown) break;
        page = await api('GET', messagesPath(id, MAX_PAGE, older));
      }
    } catch (e) {
      if (state.space === id) showError(e.message);
      return;
    }
    if (state.space !== id) return;
    const keep = new Set(messages.map((m) => m.id));
    for (const [mid] of state.messages) {
      if (!keep.has(mid)) {
        state.messages.delete(mid);
        const li = $('timeline').querySelector(`li[data-id="${CSS.escape(mid)}"]`);
        if (li) li.remove();
      }
    }
    // Added without following each one (each follow is a layout); followed once after.
    const list = $('timeline');
    const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 60;
    for (const m of messages) addMessage(m, false, true);
    if (atBottom) list.scrollTop = list.scrollHeight;
    state.older = older;
    renderOlder();
    updateTimelineEmpty();
    markReadSoon(id);
  }

  // The next older page, above the shown messages, keeping the view where it is.
  async function loadOlder() {
    const id = state.space;
    if (!id || !state.older || state.loadingOlder) return;
    state.loadingOlder = true;
    renderOlder();
    const list = $('timeline');
    try {
      const page = await api('GET', messagesPath(id, PAGE, state.older));
      if (state.space !== id) return;
      const fromBottom = list.scrollHeight - list.scrollTop;
      for (const m of page.messages) addMessage(m, false, true);
      list.scrollTop = list.scrollHeight - fromBottom;
      state.older = page.next_before;
      trimNewest();
      say(`Loaded ${page.messages.length} older message${page.messages.length === 1 ? '' : 's'}.`);
    } catch (e) {
      // The cursor's message is gone from this node's timeline: start again from the latest.
      if (e.type === 'tim:problem/unknown-message' && state.space === id) loadTimeline(id);
      else if (state.space === id) showError(e.message);
    } finally {
      state.loadingOlder = false;
      renderOlder();
    }
  }

  function renderOlder() {
    const button = $('load-older');
    button.hidden = !state.older;
    button.disabled = state.loadingOlder;
    button.textContent = state.loadingOlder ? 'Loading older messages…' : 'Load older messages';
  }

  // Removes the shown message item `li` (and its message).
  function dropItem(li) {
    state.messages.delete(li.dataset.id);
    li.remove();
  }

  // After an older page: the newest shown messages over MAX_SHOWN go, from the bottom (what
  // the reader sees above them does not move); the newest kept is where the newer page starts.
  function trimNewest() {
    const list = $('timeline');
    const over = list.children.length - maxShown();
    if (over <= 0) return;
    for (let i = 0; i < over; i++) dropItem(list.lastElementChild);
    state.newer = list.lastElementChild.dataset.id;
    renderNewer();
  }

  // After a newer page: the oldest shown messages over MAX_SHOWN go, from the top, the view
  // kept where it is; the oldest kept is where the older page starts.
  function trimOldest() {
    const list = $('timeline');
    const over = list.children.length - maxShown();
    if (over <= 0) return;
    const fromBottom = list.scrollHeight - list.scrollTop;
    for (let i = 0; i < over; i++) dropItem(list.firstElementChild);
    list.scrollTop = list.scrollHeight - fromBottom;
    state.older = list.firstElementChild.dataset.id;
    renderOlder();
  }

  // The next newer page, below the shown messages, when the newest are not shown: loaded on
  // scrolling to the bottom. Once the newest are in, live messages are added again (and any
  // that arrived during the load are read with the latest page).
  async function loadNewer() {
    const id = state.space;
    if (!id || !state.newer || state.loadingNewer) return;
    state.loadingNewer = true;
    renderNewer();
    const unseen = state.unseen;
    try {
      const page = await api('GET', newerPath(id, PAGE, state.newer));
      if (state.space !== id) return;
      for (const m of page.messages) addMessage(m, false, true);
      state.newer = page.next_after || null;
      trimOldest();
      if (!state.newer) {
        const missed = state.unseen > unseen;
        state.unseen = 0;
        if (missed) loadTimeline(id);
        markReadSoon(id);
      }
    } catch (e) {
      // The cursor's message is gone from this node's timeline: go to the newest.
      if (e.type === 'tim:problem/unknown-message' && state.space === id) jumpToNewest();
      else if (state.space === id) showError(e.message);
    } finally {
      state.loadingNewer = false;
      renderNewer();
    }
  }

  // Shows the newest messages, and live ones again, dropping what was shown.
  async function jumpToNewest() {
    const id = state.space;
    if (!id) return;
    for (const li of [...$('timeline').children]) dropItem(li);
    state.older = null;
    state.newer = null;
    state.unseen = 0;
    renderOlder();
    renderNewer();
    await loadTimeline(id);
    $('timeline').scrollTop = $('timeline').scrollHeight;
  }

  // The control under the timeline while the newest messages are not shown: how many
  // arrived since ("N new messages ↓"), a click away.
  function renderNewer() {
    const button = $('jump-newest');
    button.hidden = !state.newer;
    button.disabled = state.loadingNewer;
    button.textContent = state.unseen
      ? `${plural(state.unseen, 'new message')} ↓`
      : 'Jump to the newest messages ↓';
  }

  // By time, then (same millisecond) by the operation counter that starts a message id, which
  // grows with every change a node sees: compared as a number, not as text.
  const counter = (id) => Number.parseInt(id, 10) || 0;
  const order = (a, b) => a.at - b.at || counter(a.id) - counter(b.id) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

  // Adds a message in `at` order, once; `live` ones are briefly highlighted as they arrive.
  // The view follows new messages when it is at the bottom, unless `stay` (older pages).
  function addMessage(m, live, stay) {
    if (state.messages.has(m.id)) return;
    state.messages.set(m.id, m);
    const list = $('timeline');
    // Read only when the view may follow (reading it forces a layout).
    const nearBottom = !stay && list.scrollHeight - list.scrollTop - list.clientHeight < 60;
    const mine = state.me && m.author === state.me.did;
    const li = el('li', { class: mine ? 'msg mine' : 'msg', 'data-id': m.id, 'data-edits': String(m.edits || 0) }, ...messageParts(m));
    // Usually the newest: append; otherwise find the first later message.
    let before = null;
    const last = list.lastElementChild && state.messages.get(list.lastElementChild.dataset.id);
    if (last && order(m, last) < 0) {
      before = [...list.children].find((other) => {
        const o = state.messages.get(other.dataset.id);
        return o && o !== m && order(m, o) < 0;
      }) || null;
    }
    if (live) {
      li.classList.add('arrived');
      li.addEventListener('animationend', () => li.classList.remove('arrived'), { once: true });
    }
    list.insertBefore(li, before);
    if (!stay && (nearBottom || mine)) list.scrollTop = list.scrollHeight;
    updateTimelineEmpty();
    refreshReplies(m.id);
  }

  // Shows the direct replies to message `mid` again: they quote it (pages come newest first,
  // so a reply can be shown before its parent).
  function refreshReplies(mid) {
    for (const r of state.messages.values()) {
      if (r.reply_to === mid) renderItem(r);
    }
  }

  async function deleteMessage(mid, button) {
    const id = state.space;
    button.disabled = true;
    try {
      await api('DELETE', `/v1/spaces/${enc(id)}/messages/${enc(mid)}`);
      say('message deleted');
    } catch (e) {
      button.disabled = false;
      showError(e.message);
    }
  }

  // What a message's item shows: who and when, the message it replies to, the text (marked
  // when its author edited it), an attachment, its reactions (schema version 10,
  // docs/protocol.md §9.12) and what the timite may do with it: reply, react, edit its own,
  // delete (its own, or as a moderator: the timeline's `can-moderate` class).
  function messageParts(m) {
    learnName(m.author, m.author_name);
    const mine = state.me && m.author === state.me.did;
    const del = el('button', { type: 'button', class: 'small quiet delete', text: 'Delete' });
    del.setAttribute('aria-label', `Delete the message of ${displayName(m.author)}`);
    del.addEventListener('click', () => deleteMessage(m.id, del));
    const meta = el('p', { class: 'meta' }, didNode(m.author, 'author'), ' ', timeNode(m.at));
    const parts = [meta];
    if (m.reply_to) {
      const parent = state.messages.get(m.reply_to);
      const about = parent && !parent.unreadable ? `: ${parent.text.slice(0, 80)}` : '';
      parts.push(el('p', {
        class: 'reply-to',
        'data-reply-to': m.reply_to,
        text: parent ? `↪ ${displayName(parent.author)}${about}` : '↪ a reply to a message not shown',
      }));
    }
    const text = m.unreadable
      ? el('p', { class: 'text unreadable', text: `(encrypted; not readable here: ${m.unreadable})` })
      : el('p', { class: 'text', text: m.text });
    if (m.edits) text.append(' ', editedNode(m));
    parts.push(text);
    if (m.attachment) parts.push(attachmentNode(m));
    if (m.reactions && m.reactions.length) {
      parts.push(el('ul', { class: 'reactions', 'aria-label': 'Reactions' },
        ...m.reactions.map((r) => {
          const me = state.me && r.by.includes(state.me.did);
          return el('li', { class: me ? 'by-me' : null, title: r.by.map(displayName).join(', '), text: `${r.emoji} ${r.count}` });
        })));
    }
    if (!m.unreadable) parts.push(messageActions(m, mine, del));
    return parts;
  }

  // "(edited)", saying how often and when on hover; a click shows the earlier versions of the
  // text with their times under it (`GET …/messages/{mid}/edits`), another hides them.
  function editedNode(m) {
    const when = m.edited_at ? `, last ${absFmt.format(new Date(m.edited_at))}` : '';
    const about = `edited ${m.edits === 1 ? 'once' : `${m.edits} times`}${when}`;
    const b = el('button', { type: 'button', class: 'edited link', title: about, 'aria-expanded': 'false', text: '(edited)' });
    b.addEventListener('click', async () => {
      const text = b.parentElement;
      const open = text.nextElementSibling && text.nextElementSibling.classList.contains('history')
        ? text.nextElementSibling : null;
      if (open) {
        open.remove();
        b.setAttribute('aria-expanded', 'false');
        return;
      }
      b.disabled = true;
      try {
        const h = await api('GET', `/v1/spaces/${enc(state.space)}/messages/${enc(m.id)}/edits`);
        // The last version is the text shown.
        const earlier = h.edits.slice(0, -1);
        text.after(el('ol', { class: 'history', 'data-testid': 'edit-history', 'aria-label': 'Earlier versions' },
          ...earlier.map((v) => el('li', {}, timeNode(v.at), ' ', v.unreadable
            ? el('span', { class: 'unreadable', text: `(encrypted; not readable here: ${v.unreadable})` })
            : el('span', { class: 'history-text', text: v.text })))));
        b.setAttribute('aria-expanded', 'true');
      } catch (e) {
        showError(`Could not read the edits: ${e.message}`);
      } finally {
        b.disabled = false;
      }
    });
    return b;
  }

  // A link that fetches the attachment with the token (a plain link would not carry it).
  function attachmentNode(m) {
    const a = m.attachment;
    const b = el('button', { type: 'button', class: 'attachment link', 'data-testid': 'attachment', text: `📎 ${a.name} (${sizeText(a.size)})` });
    b.addEventListener('click', async () => {
      b.disabled = true;
      try {
        const res = await fetch(`/v1/spaces/${enc(state.space)}/messages/${enc(m.id)}/attachment`, {
          headers: { Authorization: `Bearer ${state.token}` },
          cache: 'no-store',
        });
        if (!res.ok) throw new Error(`the node answered ${res.status}`);
        download(await res.blob(), a.name, a.mime);
      } catch (e) {
        showError(`Could not fetch ${a.name}: ${e.message}`);
      } finally {
        b.disabled = false;
      }
    });
    return b;
  }

  function sizeText(n) {
    if (n < 1024) return `${n} B`;
    if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
    return `${(n / 1024 / 1024).toFixed(1)} MiB`;
  }

  // The buttons under a message: Reply, React (with its emoji picker), Edit (the author's
  // own), Delete.
  function messageActions(m, mine, del) {
    const who = displayName(m.author);
    const reply = el('button', { type: 'button', class: 'small quiet reply', text: 'Reply', 'aria-label': `Reply to ${who}` });
    reply.addEventListener('click', () => setReplyTo(m));
    const picker = el('span', { class: 'picker', role: 'group', 'aria-label': 'Reactions to choose from', hidden: true },
      ...EMOJIS.map((emoji) => {
        const b = el('button', { type: 'button', class: 'small quiet emoji', text: emoji, 'aria-label': `React with ${emoji}` });
        b.addEventListener('click', () => react(m.id, emoji, b));
        return b;
      }));
    const reactB = el('button', { type: 'button', class: 'small quiet react', text: 'React', 'aria-expanded': 'false', 'aria-label': `React to ${who}'s message` });
    reactB.addEventListener('click', () => {
      picker.hidden = !picker.hidden;
      reactB.setAttribute('aria-expanded', String(!picker.hidden));
    });
    const row = el('p', { class: 'actions msg-actions' }, reply, reactB, picker);
    if (mine) {
      const edit = el('button', { type: 'button', class: 'small quiet edit', text: 'Edit', 'aria-label': 'Edit your message' });
      edit.addEventListener('click', () => startEdit(m, edit));
      row.append(edit);
    }
    row.append(del);
    return row;
  }

  async function react(mid, emoji, button) {
    const id = state.space;
    button.disabled = true;
    try {
      await api('POST', `/v1/spaces/${enc(id)}/messages/${enc(mid)}/reactions`, { emoji });
      say(`reacted ${emoji}`);
    } catch (e) {
      showError(e.message);
    } finally {
      button.disabled = false;
    }
  }

  // Turns the message's text into a small form to edit it (Enter saves, Escape cancels).
  function startEdit(m, button) {
    const li = button.closest('li.msg');
    const text = li && li.querySelector('.text');
    if (!text) return;
    const input = el('textarea', { class: 'edit-text', rows: 2, maxLength: 16384, value: m.text, 'aria-label': 'New text' });
    const save = el('button', { type: 'submit', class: 'small', text: 'Save' });
    const cancel = el('button', { type: 'button', class: 'small quiet', text: 'Cancel' });
    const form = el('form', { class: 'edit-form' }, input, save, cancel);
    const done = () => updateMessage(state.messages.get(m.id) || m, true);
    cancel.addEventListener('click', done);
    input.addEventListener('keydown', (ev) => {
      if (ev.key === 'Escape') done();
      if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
        ev.preventDefault();
        form.requestSubmit();
      }
    });
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      clearError();
      const id = state.space;
      const edited = await busy(form, 'Saving…', () => api('PUT', `/v1/spaces/${enc(id)}/messages/${enc(m.id)}`, { text: input.value }));
      if (edited === undefined) return;
      say('message edited');
      done();
    });
    text.replaceWith(form);
    input.focus();
  }

  // The composer replies to `m` (or to nothing).
  function setReplyTo(m) {
    state.replyTo = m ? m.id : null;
    $('reply-bar').hidden = !m;
    if (m) {
      const about = m.text ? `: ${m.text.slice(0, 80)}` : '';
      $('reply-bar-text').textContent = `Replying to ${displayName(m.author)}${about}`;
      $('message').focus();
    }
  }

  // Shows a message again as it is now (after an edit or a reaction), if it is shown.
  // An item being edited is left alone unless `force` (the edit's end).
  function updateMessage(m, force) {
    if (!state.messages.has(m.id)) return;
    state.messages.set(m.id, m);
    renderItem(m, force);
    refreshReplies(m.id);
  }

  // An open edit history stays open, unless the message was edited again (it would be stale).
  function renderItem(m, force) {
    const li = $('timeline').querySelector(`li[data-id="${CSS.escape(m.id)}"]`);
    if (!li || (!force && li.querySelector('.edit-form'))) return;
    const history = li.querySelector('.history');
    const edits = li.dataset.edits;
    li.replaceChildren(...messageParts(m));
    li.dataset.edits = String(m.edits || 0);
    const text = li.querySelector('.text');
    if (history && edits === li.dataset.edits && text) {
      text.after(history);
      const b = text.querySelector('.edited');
      if (b) b.setAttribute('aria-expanded', 'true');
    }
  }

  // A member's new profile name (the `profile` event): every message and member of that DID
  // shown, and the replies that quote its messages, show it at once.
  function rename(did, name) {
    if (name) names.set(did, name);
    else names.delete(did);
    const quoted = new Set();
    for (const m of state.messages.values()) {
      if (m.author !== did) continue;
      m.author_name = name || null;
      renderItem(m);
      quoted.add(m.id);
    }
    for (const r of state.messages.values()) {
      if (r.reply_to && quoted.has(r.reply_to) && r.author !== did) renderItem(r);
    }
    let member = false;
    for (const m of state.members) {
      if (m.did === did) {
        m.name = name || null;
        member = true;
      }
    }
    if (member) renderMembers();
  }

  function updateTimelineEmpty() {
    $('timeline-empty').hidden = state.messages.size > 0;
  }

  // ---------- members ----------

  async function loadMembers(id) {
    let members;
    try {
      members = await api('GET', `/v1/spaces/${enc(id)}/members`);
    } catch (e) {
      if (state.space === id) showError(e.message);
      return;
    }
    if (state.space !== id) return;
    state.members = members;
    for (const m of members) learnName(m.did, m.name);
    renderMembers();
  }

  const ROLE_ORDER = ['owner', 'admin', 'moderator', 'member', 'guest', 'banned'];

  // A role's place in ROLE_ORDER (0: the owner; a role the space defines ranks after guest).
  function rank(r) {
    const i = ROLE_ORDER.indexOf(r);
    return i < 0 ? ROLE_ORDER.length : i;
  }

  function renderMembers() {
    const sorted = [...state.members].sort((a, b) => rank(a.role) - rank(b.role) || a.did.localeCompare(b.did));
    const items = sorted.map((m) => {
      const abilities = m.abilities && m.abilities.length
        ? el('ul', { class: 'abilities', 'aria-label': 'Abilities' }, ...m.abilities.map((a) => el('li', { text: a })))
        : el('p', { class: 'hint', text: 'No abilities declared' });
      const rep = [`reputation ${m.reputation ?? 0}`, roleReason(m)];
      if (typeof m.imported_reputation === 'number') rep.push(`imported ${m.imported_reputation.toFixed(2)}`);
      return el('li', { class: 'member', 'data-did': m.did },
        el('p', { class: 'member-line' },
          didNode(m.did),
          el('span', { class: `badge role role-${m.role}`, 'data-role': m.role, text: m.role })),
        el('p', { class: 'member-facts' }, rep.join(' · '), ' · joined ', timeNode(m.joined_at)),
        abilities, moderation(m));
    });
    $('members').replaceChildren(...items);
    fillProposeMembers(sorted);
    const mine = state.me && state.members.find((m) => m.did === state.me.did);
    const input = $('abilities');
    if (document.activeElement !== input) input.value = mine ? (mine.abilities || []).join(', ') : '';
    $('abilities-form').hidden = !mine;
    $('invite-form').hidden = !mine || rank(mine.role) > rank('admin');
    $('timeline').classList.toggle('can-moderate', !!mine && rank(mine.role) <= rank('moderator'));
  }

  // What the signed-in timite may do to member `m` from the list: rate it (any member), and,
  // ranking above it, give it a lower role, remove it or ban it. The node's rules decide; the
  // page only offers what they would allow.
  function moderation(m) {
    const mine = state.me && state.members.find((x) => x.did === state.me.did);
    if (!mine || m.did === mine.did || mine.role === 'banned') return '';
    const id = state.space;
    const act = async (button, what, work) => {
      button.disabled = true;
      try {
        await work();
        say(what);
        loadMembersSoon(id);
      } catch (e) {
        showError(e.message);
      } finally {
        button.disabled = false;
      }
    };
    const score = el('select', { 'aria-label': `Rating of ${shortDid(m.did)}` },
      ...[5, 4, 3, 2, 1].map((n) => el('option', { value: String(n), text: String(n) })));
    const rate = el('button', { type: 'button', class: 'small quiet', text: 'Rate' });
    rate.addEventListener('click', () => act(rate, `rated ${score.value}`, () =>
      api('POST', `/v1/spaces/${enc(id)}/ratings`, { did: m.did, score: Number(score.value) })));
    const row = el('p', { class: 'vote-row moderation' }, score, rate);
    const below = ROLE_ORDER.filter((r) => r !== 'banned' && rank(r) > rank(mine.role));
    if (rank(mine.role) < rank(m.role) && below.length) {
      const role = el('select', { 'aria-label': `Role of ${shortDid(m.did)}` },
        ...below.map((r) => el('option', { value: r, text: r })));
      role.value = below.includes(m.role) ? m.role : below[below.length - 1];
      const set = el('button', { type: 'button', class: 'small quiet', text: 'Set role' });
      set.addEventListener('click', () => act(set, `${shortDid(m.did)} is ${role.value} now`, () =>
        api('PUT', `/v1/spaces/${enc(id)}/members/${enc(m.did)}/role`, { role: role.value })));
      const kick = el('button', { type: 'button', class: 'small quiet', text: 'Remove' });
      kick.addEventListener('click', () => act(kick, `${shortDid(m.did)} removed`, () =>
        api('DELETE', `/v1/spaces/${enc(id)}/members/${enc(m.did)}`)));
      const ban = el('button', { type: 'button', class: 'small danger', text: 'Ban' });
      ban.addEventListener('click', () => act(ban, `${shortDid(m.did)} banned`, () =>
        api('PUT', `/v1/spaces/${enc(id)}/members/${enc(m.did)}/role`, { role: 'banned' })));
      row.append(role, set, kick, ban);
    }
    return row;
  }

  async function invite(ev) {
    ev.preventDefault();
    const id = state.space;
    const did = $('invite-did').value.trim();
    await busy(ev.target, 'Inviting…', async () => {
      await api('POST', `/v1/spaces/${enc(id)}/invites`, { did });
      $('invite-did').value = '';
      say(`invited ${shortDid(did)}: it may join now`);
    });
  }

  let membersTimer = null;
  function loadMembersSoon(id) {
    clearTimeout(membersTimer);
    membersTimer = setTimeout(() => loadMembers(id), 200);
  }

  // Reputation counts messages, but the member list is a tally over the space's whole
  // timeline on the node (151 ms at 100k messages, docs/benchmarks.md B12): a message reads
  // it again at most every 5 s, however many arrive.
  const MEMBERS_AFTER_MESSAGES_MS = 5000;
  let membersThrottle = null;
  let membersAfterMessageAt = 0;
  function loadMembersAfterMessage(id) {
    if (membersThrottle) return;
    const wait = Math.max(200, membersAfterMessageAt + MEMBERS_AFTER_MESSAGES_MS - Date.now());
    membersThrottle = setTimeout(() => {
      membersThrottle = null;
      membersAfterMessageAt = Date.now();
      loadMembers(id);
    }, wait);
  }

  // ---------- live events (server-sent events read with fetch, for the Authorization header) ----------

  function stopStream() {
    if (state.stream) state.stream.abort();
    state.stream = null;
    setLive('off');
  }

  function setLive(s) {
    const live = $('live');
    live.dataset.state = s;
    live.textContent = { on: 'live', off: 'offline', connecting: 'connecting…' }[s];
  }

  function startStream(id) {
    const ctl = new AbortController();
    state.stream = ctl;
    follow(`/v1/spaces/${enc(id)}/events`, ctl, {
      state: setLive,
      // Anything missed while reconnecting is picked up by reading the space again.
      open: (again) => {
        if (!again) return;
        loadTimeline(id);
        loadMembers(id);
        loadAbilities(id);
        loadProposals(id);
        loadBalances(id);
      },
      event: (e) => dispatch(e, id),
      gone: () => {
        if (state.space === id) showError('Live updates stopped: this node no longer serves this space to you.');
      },
    });
  }

  // Follows the event stream at `path` until `ctl` aborts, reconnecting with a growing delay.
  // `on.state` hears 'connecting', 'on' and 'off'; `on.open(again)` runs on each connection
  // (`again` after the first); `on.event` gets each event as {event, data}; `on.gone` runs if
  // the node stops serving the stream to this timite.
  function follow(path, ctl, on) {
    let failures = 0;
    let first = true;
    const run = async () => {
      while (!ctl.signal.aborted) {
        on.state('connecting');
        try {
          const res = await fetch(path, {
            headers: { Accept: 'text/event-stream', Authorization: `Bearer ${state.token}` },
            cache: 'no-store',
            signal: ctl.signal,
          });
          if (res.status === 401) {
            if (state.me) signOut('Signed out: the token is no longer accepted.');
            return;
          }
          if (res.status === 404 || res.status === 403) {
            on.state('off');
            on.gone();
            return;
          }
          if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
          on.state('on');
          on.open(!first);
          first = false;
          failures = 0;
          await readEvents(res.body, ctl.signal, on.event);
        } catch (e) {
          if (ctl.signal.aborted) return;
        }
        if (ctl.signal.aborted) return;
        on.state('off');
        failures += 1;
        first = false;
        const delay = Math.min(MAX_BACKOFF_MS, 500 * 2 ** Math.min(failures, 5)) * (0.75 + Math.random() / 2);
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    };
    run();
  }

  async function readEvents(body, signal, handle) {
    const reader = body.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    signal.addEventListener('abort', () => reader.cancel().catch(() => {}), { once: true });
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true }).replace(/\r\n?/g, '\n');
      let cut;
      while ((cut = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        handle(parseEvent(block));
      }
    }
  }

  // One SSE event block -> {event, data}; comment lines (keep-alives) are ignored.
  function parseEvent(block) {
    let event = 'message';
    const data = [];
    for (const line of block.split('\n')) {
      if (line === '' || line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? '' : line.slice(colon + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (field === 'event') event = value;
      else if (field === 'data') data.push(value);
    }
    return { event, data: data.join('\n') };
  }

  function dispatch({ event, data }, id) {
    if (state.space !== id) return;
    if (event === 'lagged') {
      loadTimeline(id);
      loadMembers(id);
      loadAbilities(id);
      loadProposals(id);
      loadBalances(id);
      refreshSummarySoon(id);
      return;
    }
    if (!data) return;
    let e;
    try {
      e = JSON.parse(data);
    } catch (_) {
      return;
    }
    switch (e.kind) {
      case 'message':
        // Far back in the timeline, a live message is counted, not shown.
        if (state.newer) {
          state.unseen += 1;
          renderNewer();
        } else {
          addMessage(e.message, true);
          markReadSoon(id);
        }
        refreshSummarySoon(id);
        loadMembersAfterMessage(id);
        break;
      case 'message_edited':
      case 'reacted':
        updateMessage(e.message);
        break;
      case 'message_deleted':
        loadTimeline(id);
        refreshSummarySoon(id);
        loadMembersSoon(id);
        break;
      case 'profile':
        rename(e.did, e.name);
        break;
      case 'joined':
      case 'role_changed':
      case 'removed':
        loadMembersSoon(id);
        refreshSummarySoon(id);
        break;
      case 'request_created':
      case 'request_claimed':
      case 'request_progress':
      case 'request_completed':
      case 'request_failed':
      case 'request_cancelled':
      case 'request_rated':
        upsertRequest(e.request);
        loadProvidersSoon(id); // their records count outcomes and ratings
        loadBalancesSoon(id); // rewards move with requests' steps
        break;
      case 'proposal':
      case 'vote':
        upsertProposal(e.proposal);
        break;
      case 'proposal_closed':
        upsertProposal(e.proposal);
        loadMembersSoon(id); // a passed proposal may change a role
        refreshSummarySoon(id);
        break;
      default:
        break;
    }
  }

  // ---------- governance (docs/governance.md) ----------

  // Why a member holds its role: assigned by an admin or a passed proposal, or earned by a
  // threshold the space set (the member list's `held` and `earned_by`).
  function roleReason(m) {
    if (m.held !== 'earned' || !m.earned_by) return `${m.role}: assigned`;
    const t = m.earned_by;
    const why = t.ability
      ? `${t.ability} reputation ≥ ${t.min_ability_reputation}`
      : `reputation ≥ ${t.min_reputation}`;
    const under = m.assigned_role ? `, assigned ${m.assigned_role}` : '';
    return `${m.role}: earned (${why}${under})`;
  }

  function fillProposeMembers(members) {
    const select = $('propose-did');
    const chosen = select.value;
    select.replaceChildren(...members.map((m) => el('option', { value: m.did, text: `${displayName(m.did)} (${m.role})` })));
    if (members.some((m) => m.did === chosen)) select.value = chosen;
  }

  function actionText(a) {
    switch (a.kind) {
      case 'role': return `make ${shortDid(a.did)} ${a.role}`;
      case 'ban': return `ban ${shortDid(a.did)}`;
      case 'meta': return `set ${a.key} to ${a.value}`;
      default: return a.kind;
    }
  }

  async function loadProposals(id) {
    let list;
    try {
      list = await api('GET', `/v1/spaces/${enc(id)}/proposals`);
    } catch (_) {
      list = []; // a space below schema version 9 has no proposals
    }
    if (state.space !== id) return;
    state.proposals = new Map(list.map((p) => [p.id, p]));
    renderProposals();
  }

  function upsertProposal(p) {
    state.proposals.set(p.id, p);
    renderProposals();
  }

  function proposalNode(p) {
    const t = p.tally;
    const needed = Math.floor((p.threshold * t.eligible) / 1000) + 1;
    const status = p.outcome || (p.decided ? `decided: ${p.decided}` : 'open');
    const facts = `yes ${t.yes} · no ${t.no} · abstain ${t.abstain} of ${plural(t.eligible, 'eligible member')}`
      + ` · passes with ${needed} yes` + (p.quorum ? ` and ${p.quorum} votes cast` : '');
    const li = el('li', { class: 'request', 'data-id': p.id, 'data-outcome': p.outcome || 'open', 'data-decided': p.decided || '' },
      el('p', { class: 'member-line' },
        el('strong', { text: actionText(p.action) }),
        el('span', { class: `badge outcome-${p.outcome || 'open'}`, 'data-testid': 'proposal-status', text: status })),
      el('p', { class: 'member-facts', 'data-testid': 'tally', text: facts }),
      el('p', { class: 'member-facts' }, 'proposed by ', didNode(p.author), ' ', timeNode(p.at)));
    const member = state.me && state.members.some((m) => m.did === state.me.did);
    if (!p.outcome && p.decided && member) {
      // Decided but open: a node closes it by itself; any member may close it by hand too.
      const close = el('button', { type: 'button', class: 'small', text: `Close (${p.decided})` });
      close.addEventListener('click', async () => {
        close.disabled = true;
        try {
          await api('POST', `/v1/spaces/${enc(state.space)}/proposals/${enc(p.id)}/close`, {});
          upsertProposal(await api('GET', `/v1/spaces/${enc(state.space)}/proposals/${enc(p.id)}`));
        } catch (e) {
          close.disabled = false;
          showError(e.message);
        }
      });
      li.append(el('p', { class: 'vote-row' }, close));
    }
    if (!p.outcome && member) {
      const row = el('p', { class: 'vote-row' },
        p.my_vote ? `your vote: ${p.my_vote} · change it: ` : 'vote: ');
      for (const choice of ['yes', 'no', 'abstain']) {
        const b = el('button', { type: 'button', class: 'small', 'data-choice': choice, text: choice });
        b.disabled = p.my_vote === choice;
        b.addEventListener('click', () => vote(p.id, choice, b));
        row.append(b);
      }
      li.append(row);
    }
    return li;
  }

  function renderProposals() {
    // Open proposals first, then the newest.
    const list = [...state.proposals.values()].sort((a, b) => (!!a.outcome - !!b.outcome) || (b.at - a.at));
    $('proposals').replaceChildren(...list.map(proposalNode));
    $('proposals-empty').hidden = list.length > 0;
  }

  async function vote(pid, choice, button) {
    const id = state.space;
    button.disabled = true;
    try {
      await api('POST', `/v1/spaces/${enc(id)}/proposals/${enc(pid)}/votes`, { choice });
      const p = await api('GET', `/v1/spaces/${enc(id)}/proposals/${enc(pid)}`);
      if (state.space === id) upsertProposal(p);
      say(`voted ${choice}`);
    } catch (e) {
      button.disabled = false;
      showError(e.message);
    }
  }

  async function propose(ev) {
    ev.preventDefault();
    const id = state.space;
    const form = ev.target;
    const did = $('propose-did').value;
    const role = $('propose-role').value.trim();
    const action = role === 'banned' ? { kind: 'ban', did } : { kind: 'role', did, role };
    await busy(form, 'Proposing…', async () => {
      const made = await api('POST', `/v1/spaces/${enc(id)}/proposals`, { action });
      const p = await api('GET', `/v1/spaces/${enc(id)}/proposals/${enc(made.id)}`);
      if (state.space === id) upsertProposal(p);
      $('propose-box').open = false;
      say('proposed: the members can vote now');
    });
  }

  async function loadBalances(id) {
    let tokens;
    try {
      tokens = await api('GET', `/v1/spaces/${enc(id)}/tokens`);
    } catch (_) {
      tokens = null; // a space below schema version 9 has no tokens
    }
    if (state.space !== id) return;
    const balances = tokens ? tokens.balances.filter((b) => b.balance > 0) : [];
    $('balances').replaceChildren(...balances.map((b) => el('li', { class: 'member', 'data-did': b.did },
      el('p', { class: 'member-line' }, didNode(b.did), el('span', { class: 'badge', 'data-testid': 'balance', text: plural(b.balance, 'token') })))));
    $('balances-empty').hidden = balances.length > 0;
    const p = tokens && tokens.policy;
    $('token-policy').textContent = p
      ? `Each member gets ${plural(p.join_grant, 'token')} on joining; an outcome rated 4 or 5 earns its provider ${p.outcome_mint} (at most ${p.pair_cap} from one requester).`
      : '';
  }

  let balancesTimer = null;
  function loadBalancesSoon(id) {
    clearTimeout(balancesTimer);
    balancesTimer = setTimeout(() => loadBalances(id), 300);
  }

  // ---------- agents (docs/agents.md; the operator's token only) ----------

  async function loadAgents() {
    let agents;
    try {
      agents = await api('GET', '/v1/agents');
    } catch (e) {
      showError(e.message);
      return;
    }
    const select = $('agent-space');
    const chosen = select.value;
    select.replaceChildren(...state.spaces.map((s) => el('option', { value: s.id, text: s.name })));
    if (chosen) select.value = chosen;
    $('agents').replaceChildren(...agents.map(agentNode));
    $('agents-empty').hidden = agents.length > 0;
  }

  function agentNode(a) {
    const path = `/v1/agents/${enc(a.name)}`;
    const act = async (button, what, work) => {
      button.disabled = true;
      try {
        await work();
        say(what);
        await loadAgents();
      } catch (e) {
        showError(e.message);
        button.disabled = false;
      }
    };
    const paused = a.status === 'paused';
    const toggle = el('button', { type: 'button', class: 'small quiet', text: paused ? 'Resume' : 'Pause' });
    toggle.addEventListener('click', () => act(toggle, `${a.name} ${paused ? 'resumed' : 'paused'}`,
      () => api('POST', `${path}/${paused ? 'resume' : 'pause'}`)));
    const t = a.tuning;
    const field = (label, name, value, props) => el('label', { class: 'tune' }, `${label} `,
      el('input', { name, value: String(value), ...props }));
    const tune = el('form', { class: 'tune-form', 'aria-label': `Tuning of ${a.name}` },
      field('proactivity', 'proactivity', t.proactivity, { type: 'number', min: '0', max: '1', step: '0.1' }),
      field('temperature', 'temperature', t.temperature, { type: 'number', min: '0', max: '2', step: '0.1' }),
      field('memory depth', 'memory_depth', t.memory_depth, { type: 'number', min: '0', step: '1' }),
      el('label', { class: 'tune' }, 'style ', (() => {
        const s = el('select', { name: 'style' }, el('option', { value: 'casual', text: 'casual' }), el('option', { value: 'formal', text: 'formal' }));
        s.value = t.style;
        return s;
      })()),
      el('button', { type: 'submit', class: 'small', text: 'Tune' }));
    tune.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const f = new FormData(tune);
      const body = {
        proactivity: Number(f.get('proactivity')),
        temperature: Number(f.get('temperature')),
        memory_depth: Number(f.get('memory_depth')),
        style: f.get('style'),
      };
      act(tune.querySelector('button'), `${a.name} tuned`, () => api('PATCH', path, body));
    });
    const memory = el('ol', { class: 'memory', 'data-testid': 'memory' });
    const show = el('button', { type: 'button', class: 'small quiet', text: 'Show memory' });
    show.addEventListener('click', async () => {
      try {
        const entries = await api('GET', `${path}/memory?limit=50`);
        memory.replaceChildren(...(entries.length
          ? entries.map((m) => el('li', { text: `${m.layer}: ${m.text}` }))
          : [el('li', { class: 'hint', text: 'Nothing remembered.' })]));
      } catch (e) {
        showError(e.message);
      }
    });
    const forget = el('button', { type: 'button', class: 'small danger', text: 'Erase memory' });
    forget.addEventListener('click', async () => {
      forget.disabled = true;
      try {
        const r = await api('DELETE', `${path}/memory`);
        memory.replaceChildren();
        say(`${a.name} forgot ${r.erased} ${r.erased === 1 ? 'entry' : 'entries'}`);
      } catch (e) {
        showError(e.message);
      } finally {
        forget.disabled = false;
      }
    });
    return el('li', { class: 'credential card', 'data-name': a.name, 'data-status': a.status },
      el('h3', { text: a.name }),
      el('p', { class: 'member-facts' }, `${a.persona} · `, el('span', { 'data-testid': 'agent-status', text: a.status }), ' · ', didNode(a.did)),
      el('p', { class: 'member-facts', text: a.abilities.length ? `offers ${a.abilities.join(', ')}` : 'offers no ability' }),
      el('p', { class: 'actions' }, toggle, ' ', show, ' ', forget),
      tune, memory);
  }

  async function makeAgent(ev) {
    ev.preventDefault();
    const body = {
      name: $('agent-name').value.trim(),
      persona: $('agent-persona').value,
      spaces: $('agent-space').value ? [$('agent-space').value] : [],
    };
    await busy(ev.target, 'Making…', async () => {
      const a = await api('POST', '/v1/agents', body);
      say(`agent ${a.name} made: ${shortDid(a.did)}`);
      $('agent-new-box').open = false;
      await loadAgents();
    });
  }

  // ---------- abilities (docs/abilities.md §15) ----------

  function setView(view) {
    state.view = view;
    const timeline = view === 'timeline';
    $('abilities-view').hidden = view !== 'abilities';
    $('governance-view').hidden = view !== 'governance';
    document.querySelector('.timeline-box').hidden = !timeline;
    $('post-form').hidden = !timeline;
    for (const name of ['timeline', 'abilities', 'governance']) {
      const tab = $(`tab-${name}`);
      if (name === view) tab.setAttribute('aria-current', 'page');
      else tab.removeAttribute('aria-current');
    }
  }

  function jsonText(v) {
    return JSON.stringify(v, null, 2);
  }

  // Parses the JSON in a text box, or says what is wrong with it.
  function parseJson(text, what) {
    try {
      return JSON.parse(text);
    } catch (e) {
      throw new Error(`${what} is not JSON: ${e.message}`);
    }
  }

  // The easy part of a JSON Schema, checked before asking (the rules check all of it):
  // `type`, `required`, `enum` and the properties' types. Returns what is wrong, or null.
  function schemaProblem(schema, value, at) {
    if (!schema || typeof schema !== 'object') return null;
    const where = at || 'the input';
    const kind = (v) => (v === null ? 'null' : Array.isArray(v) ? 'array'
      : typeof v === 'number' ? (Number.isInteger(v) ? 'integer' : 'number') : typeof v);
    const fits = (t) => t === kind(value) || (t === 'number' && kind(value) === 'integer');
    if (schema.type && ![].concat(schema.type).some(fits)) return `${where} should be ${[].concat(schema.type).join(' or ')}`;
    if (Array.isArray(schema.enum) && !schema.enum.some((e) => JSON.stringify(e) === JSON.stringify(value))) {
      return `${where} should be one of ${schema.enum.map((e) => JSON.stringify(e)).join(', ')}`;
    }
    if (kind(value) === 'object') {
      for (const r of schema.required || []) if (!(r in value)) return `${where} needs “${r}”`;
      for (const [k, sub] of Object.entries(schema.properties || {})) {
        if (k in value) {
          const p = schemaProblem(sub, value[k], `“${k}”`);
          if (p) return p;
        }
      }
    }
    return null;
  }

  async function loadAbilities(id) {
    let providers;
    let requests;
    try {
      [providers, requests] = await Promise.all([
        api('GET', `/v1/spaces/${enc(id)}/abilities`),
        api('GET', `/v1/spaces/${enc(id)}/requests`),
      ]);
    } catch (e) {
      if (state.space === id) showError(e.message);
      return;
    }
    if (state.space !== id) return;
    state.providers = providers;
    state.requests = new Map(requests.map((r) => [r.id, r]));
    renderProviders();
    renderRequests();
  }

  let providersTimer = null;
  function loadProvidersSoon(id) {
    clearTimeout(providersTimer);
    providersTimer = setTimeout(async () => {
      try {
        const providers = await api('GET', `/v1/spaces/${enc(id)}/abilities`);
        if (state.space !== id) return;
        state.providers = providers;
        renderProviders();
      } catch (_) {
        // Informative; the next event or visit reads them again.
      }
    }, 300);
  }

  // A provider's record: the terms of its rank score (per mille) and the counts behind them.
  function reputationNode(rep) {
    const mean = rep.ratings ? (rep.rating_sum / rep.ratings).toFixed(1) : '–';
    return el('p', { class: 'score-parts' },
      `rating ${rep.rating_score} · success ${rep.success_score} · speed ${rep.speed_score}`,
      el('span', { class: 'hint', text: ` (${rep.completed} completed, ${rep.failed} failed, mean rating ${mean} of ${rep.ratings})` }));
  }

  function prepareAsk(name, provider) {
    $('ask-box').open = true;
    $('ask-ability').value = name;
    fillTargets(provider);
    $('ask-input').focus();
  }

  // The providers of the ability named in the ask form, as choices of whom to ask.
  function fillTargets(chosen) {
    const name = $('ask-ability').value.trim();
    const options = state.providers
      .filter((p) => p.name === name && p.active && (!state.me || p.provider !== state.me.did))
      .map((p) => el('option', { value: p.provider, text: shortDid(p.provider), title: p.provider }));
    $('ask-to').replaceChildren(el('option', { value: '', text: 'auto: the space chooses, in turn' }), ...options);
    $('ask-to').value = chosen && options.some((o) => o.value === chosen) ? chosen : '';
  }

  function renderProviders() {
    const me = state.me && state.me.did;
    const items = state.providers.map((p) => {
      const actions = el('p', { class: 'actions' });
      if (p.provider === me) {
        const withdraw = el('button', { type: 'button', class: 'quiet small', text: 'Withdraw' });
        withdraw.setAttribute('aria-label', `Withdraw ${p.name}`);
        withdraw.addEventListener('click', () => withdrawAbility(p.name, withdraw));
        actions.append(withdraw);
      } else if (p.active) {
        const ask = el('button', { type: 'button', class: 'small', text: 'Ask' });
        ask.setAttribute('aria-label', `Ask ${shortDid(p.provider)} for ${p.name}`);
        ask.addEventListener('click', () => prepareAsk(p.name, p.provider));
        actions.append(ask);
      }
      return el('li', { class: 'provider card', 'data-name': p.name, 'data-provider': p.provider },
        el('p', { class: 'member-line' }, el('code', { class: 'ability-name', text: p.name }), didNode(p.provider),
          p.active ? null : el('span', { class: 'badge role-banned', text: 'inactive' })),
        el('p', { class: 'description', text: p.description }),
        reputationNode(p.reputation),
        actions);
    });
    $('providers').replaceChildren(...items);
    $('providers-empty').hidden = items.length > 0;
    const names = [...new Set(state.providers.map((p) => p.name))];
    $('ask-names').replaceChildren(...names.map((n) => el('option', { value: n })));
    fillTargets($('ask-to').value);
  }

  async function search(ev) {
    ev.preventDefault();
    clearError();
    const q = $('find-q').value.trim();
    const network = $('find-network').checked;
    const hits = await busy(ev.target, 'Searching…',
      () => api('GET', `/v1/abilities/search?q=${enc(q)}${network ? '&network=true' : ''}`));
    if (!hits) return;
    const hosted = new Set(state.spaces.map((s) => s.id));
    const me = state.me && state.me.did;
    const items = hits.map((h) => {
      const where = el('p', { class: 'hint' }, 'in ', el('span', { class: 'space-name', text: h.space_name || h.space }));
      const actions = el('p', { class: 'actions' });
      if (h.space === state.space && h.provider !== me) {
        const ask = el('button', { type: 'button', class: 'small', text: 'Ask' });
        ask.setAttribute('aria-label', `Ask ${shortDid(h.provider)} for ${h.name}`);
        ask.addEventListener('click', () => prepareAsk(h.name, h.provider));
        actions.append(ask);
      } else if (hosted.has(h.space)) {
        actions.append(el('a', { href: `#/space/${enc(h.space)}/abilities`, text: 'Open the space' }));
      } else {
        where.append(' (not on this node: join it through ', el('code', { class: 'via', text: h.via[0] || 'no address' }), ')');
        const join = el('button', { type: 'button', class: 'quiet small', text: 'Join to ask' });
        join.addEventListener('click', () => {
          $('join-id').value = h.space;
          $('join-via').value = h.via[0] || '';
          $('join-box').open = true;
          $('join-id').focus();
        });
        actions.append(join);
      }
      return el('li', { class: 'hit card', 'data-name': h.name, 'data-provider': h.provider, 'data-space': h.space },
        el('p', { class: 'member-line' }, el('code', { class: 'ability-name', text: h.name }), didNode(h.provider),
          el('span', { class: 'badge', text: `score ${h.score}` })),
        el('p', { class: 'description', text: h.description }),
        where,
        el('p', { class: 'score-parts' }, `text ${h.text} · ${h.attested ? 'attested' : 'not attested'}`,
          h.price !== undefined ? ` · price ${h.price}` : ''),
        reputationNode(h.reputation),
        actions);
    });
    $('hits').replaceChildren(...items);
    $('hits-empty').hidden = items.length > 0;
  }

  function upsertRequest(r) {
    state.requests.set(r.id, r);
    renderRequests();
  }

  // What is typed into a request's fields, kept across the re-renders its events cause (an
  // event can rebuild the request's node while its provider is typing the result).
  const requestDrafts = new Map();
  function draftField(field, key) {
    field.value = requestDrafts.get(key) || '';
    field.addEventListener('input', () => requestDrafts.set(key, field.value));
    return field;
  }

  function requestNode(r) {
    const me = state.me && state.me.did;
    const li = el('li', { class: `request card state-${r.state}`, 'data-id': r.id, 'data-state': r.state },
      el('p', { class: 'member-line' },
        el('code', { class: 'ability-name', text: r.ability }),
        el('span', { class: `badge state`, 'data-state': r.state, text: r.state })),
      el('p', { class: 'hint' }, 'asked by ', didNode(r.requester), ' of ',
        r.target === 'auto' ? `auto (${plural(r.candidates.length, 'candidate')})` : didNode(r.target), ' ', timeNode(r.at)),
      el('pre', { class: 'json input', text: jsonText(r.input) }));
    if (r.claimant) li.append(el('p', { class: 'hint' }, 'claimed by ', didNode(r.claimant)));
    if (r.progress) li.append(el('p', { class: 'progress', text: `progress: ${r.progress}` }));
    if (r.output !== undefined) li.append(el('pre', { class: 'json output', 'data-testid': 'output', text: jsonText(r.output) }));
    if (r.failure) li.append(el('p', { class: 'failure', text: `failed: ${r.failure}` }));
    if (r.rating) li.append(el('p', { class: 'rating', 'data-rating': String(r.rating), text: `rated ${r.rating} of 5` }));
    const act = (label, work, cls) => {
      const b = el('button', { type: 'button', class: cls || 'small', text: label });
      b.addEventListener('click', async () => {
        clearError();
        b.disabled = true;
        try {
          await work();
        } catch (e) {
          showError(e.message);
        } finally {
          b.disabled = false;
        }
      });
      return b;
    };
    const path = `/v1/spaces/${enc(state.space)}/requests/${enc(r.id)}`;
    const step = async (name, body, done) => {
      await api('POST', `${path}/${name}`, body);
      say(done);
      upsertRequest(await api('GET', path));
    };
    const actions = el('div', { class: 'actions' });
    if (r.state === 'open' && r.candidates.includes(me)) {
      actions.append(act('Claim', () => step('claim', undefined, 'Claimed: you are working on it.')));
    }
    if (r.state === 'claimed' && r.claimant === me) {
      const output = draftField(el('textarea', { rows: 2, spellcheck: false, 'aria-label': `Result of ${r.id} (JSON)` }), `${r.id} output`);
      const reason = draftField(el('input', { autocomplete: 'off', 'aria-label': `Why ${r.id} failed` }), `${r.id} reason`);
      const sent = () => {
        requestDrafts.delete(`${r.id} output`);
        requestDrafts.delete(`${r.id} reason`);
      };
      actions.append(el('label', { text: 'Result (JSON)' }), output,
        act('Send result', async () => {
          await step('result', { output: parseJson(output.value, 'The result') }, 'Result sent.');
          sent();
        }),
        el('label', { text: 'Or why it failed' }), reason,
        act('Report failure', async () => {
          await step('failure', { reason: reason.value }, 'Failure reported.');
          sent();
        }, 'quiet small'));
    }
    if ((r.state === 'open' || r.state === 'claimed') && r.requester === me) {
      actions.append(act('Cancel', () => step('cancel', undefined, 'Request cancelled.'), 'quiet small'));
    }
    if ((r.state === 'completed' || r.state === 'failed') && r.requester === me && !r.rating) {
      const score = el('select', { 'aria-label': `Rating of ${r.id}` },
        ...[5, 4, 3, 2, 1].map((n) => el('option', { value: String(n), text: `${n} of 5` })));
      actions.append(score, act('Rate', () => step('rating', { score: Number(score.value) }, 'Rated.')));
    }
    if (actions.childElementCount) li.append(actions);
    return li;
  }

  // Newest first; a request being edited (a result being typed) keeps its node.
  function renderRequests() {
    const list = $('requests');
    const sorted = [...state.requests.values()].sort((a, b) => b.at - a.at || (a.id < b.id ? 1 : -1));
    const active = document.activeElement;
    const keep = active && list.contains(active) ? active.closest('li.request') : null;
    const items = sorted.map((r) => (keep && keep.dataset.id === r.id && keep.dataset.state === r.state ? keep : requestNode(r)));
    list.replaceChildren(...items);
    $('requests-empty').hidden = items.length > 0;
  }

  async function ask(ev) {
    ev.preventDefault();
    clearError();
    const id = state.space;
    const ability = $('ask-ability').value.trim();
    const to = $('ask-to').value;
    let input;
    try {
      input = parseJson($('ask-input').value, 'The input');
      const provider = state.providers.find((p) => p.name === ability && (to ? p.provider === to : true));
      const problem = to && provider ? schemaProblem(provider.input_schema, input) : null;
      if (problem) throw new Error(`The input does not fit ${shortDid(to)}'s schema: ${problem}`);
    } catch (e) {
      showError(e.message);
      $('ask-input').focus();
      return;
    }
    const body = { ability, input, timeout_secs: Number($('ask-timeout').value) || 600 };
    if (to) body.to = to;
    const made = await busy(ev.target, 'Asking…', () => api('POST', `/v1/spaces/${enc(id)}/requests`, body));
    if (!made) return;
    say(`Asked: request ${made.id}.`);
    if (state.space !== id) return;
    try {
      upsertRequest(await api('GET', `/v1/spaces/${enc(id)}/requests/${enc(made.id)}`));
    } catch (_) {
      // The live event brings it too.
    }
  }

  async function declare(ev) {
    ev.preventDefault();
    clearError();
    const id = state.space;
    const name = $('declare-name').value.trim();
    let body;
    try {
      body = {
        description: $('declare-description').value.trim(),
        input_schema: parseJson($('declare-input').value || '{}', 'The input schema'),
        output_schema: parseJson($('declare-output').value || '{}', 'The output schema'),
      };
    } catch (e) {
      showError(e.message);
      return;
    }
    const done = await busy(ev.target, 'Declaring…', () => api('PUT', `/v1/spaces/${enc(id)}/abilities/${enc(name)}`, body));
    if (!done) return;
    say(`Declared ${name}.`);
    ev.target.reset();
    loadProvidersSoon(id);
  }

  async function withdrawAbility(name, button) {
    clearError();
    const id = state.space;
    button.disabled = true;
    try {
      await api('DELETE', `/v1/spaces/${enc(id)}/abilities/${enc(name)}`);
      say(`Withdrew ${name}.`);
      loadProvidersSoon(id);
    } catch (e) {
      showError(e.message);
      button.disabled = false;
    }
  }

  // ---------- asked of you: the timite's requests across its spaces ----------

  // Whether the timite has to act on `r`: open and it is a candidate, or claimed by it.
  function toDo(r) {
    const me = state.me && state.me.did;
    return (r.state === 'open' && r.candidates.includes(me)) || (r.state === 'claimed' && r.claimant === me);
  }

  async function loadAsks() {
    let found;
    try {
      found = await api('GET', '/v1/requests?role=provider');
    } catch (_) {
      return; // The stream's next connection reads them again.
    }
    state.asks = new Map(found.filter((x) => toDo(x.request)).map((x) => [`${x.space} ${x.request.id}`, x]));
    renderAsks();
  }

  function startAsks() {
    const ctl = new AbortController();
    state.asksStream = ctl;
    follow('/v1/requests/events', ctl, {
      state: () => {},
      open: () => loadAsks(),
      event: ({ event, data }) => {
        if (event === 'lagged') {
          loadAsks();
          return;
        }
        let e;
        try {
          e = JSON.parse(data);
        } catch (_) {
          return;
        }
        if (!e.request) return;
        const key = `${e.space} ${e.request.id}`;
        if (toDo(e.request)) state.asks.set(key, { space: e.space, request: e.request });
        else state.asks.delete(key);
        renderAsks();
      },
      gone: () => {},
    });
  }

  function renderAsks() {
    const name = (id) => (state.spaces.find((s) => s.id === id) || {}).name || id;
    const items = [...state.asks.values()]
      .sort((a, b) => b.request.at - a.request.at)
      .map(({ space, request: r }) => el('li', { 'data-id': r.id, 'data-state': r.state },
        el('a', { href: `#/space/${enc(space)}/abilities`, class: 'space-link' },
          el('span', { class: 'space-link-name' }, el('code', { text: r.ability }), ' ',
            el('span', { class: 'badge state', 'data-state': r.state, text: r.state })),
          el('span', { class: 'space-link-meta', text: `from ${shortDid(r.requester)} in ${name(space)}` }))));
    $('asks').replaceChildren(...items);
    $('asks-empty').hidden = items.length > 0;
  }

  // ---------- passport ----------

  const typeNames = (vc) => [].concat(vc.type || []).filter((t) => t !== 'VerifiableCredential');

  function humanType(t) {
    return t.replace(/^Tim/, '').replace(/Credential$/, '').replace(/([a-z])([A-Z])/g, '$1 $2') || t;
  }

  // A credential's state: revoked (by the node's check of the issuing space's status list),
  // not valid yet, expired, failing another of the node's checks, or valid.
  function validity(vc, report) {
    const failed = report ? report.checks.filter((c) => !c.ok) : [];
    if (failed.some((c) => c.name === 'revocation')) return ['revoked', 'revoked'];
    const now = Date.now();
    const from = vc.validFrom ? Date.parse(vc.validFrom) : NaN;
    const until = vc.validUntil ? Date.parse(vc.validUntil) : NaN;
    if (!Number.isNaN(from) && from > now) return ['pending', 'not valid yet'];
    if (!Number.isNaN(until) && until < now) return ['expired', 'expired'];
    if (failed.length) return ['invalid', `not verified: ${failed[0].name}`];
    if (!report) return ['pending', 'not checked'];
    return ['valid', 'valid'];
  }

  function claimText(v) {
    if (v === null || v === undefined) return '';
    if (typeof v === 'object') return JSON.stringify(v);
    return String(v);
  }

  function fileName(cid) {
    const tail = String(cid).replace(/^urn:uuid:/, '').replace(/[^A-Za-z0-9._-]+/g, '-').slice(0, 80);
    return `tim-credential-${tail || 'unnamed'}`;
  }

  function download(text, name, type) {
    const url = URL.createObjectURL(new Blob([text], { type }));
    const a = el('a', { href: url, download: name, hidden: true });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  }

  // The credentials of the timite's passport that the join form offers to present (a space
  // may require some: `SpaceSummary.requirements`).
  async function loadPresentable() {
    let creds;
    try {
      creds = await api('GET', '/v1/passport');
    } catch (_) {
      creds = [];
    }
    const me = state.me && state.me.did;
    const mine = creds.filter((vc) => vc.id && (!vc.credentialSubject || !vc.credentialSubject.id || vc.credentialSubject.id === me));
    const checked = new Set([...document.querySelectorAll('#join-present-list input:checked')].map((c) => c.value));
    $('join-present-list').replaceChildren(...mine.map((vc) => {
      const subject = vc.credentialSubject || {};
      const known = subject.space && state.spaces.find((x) => String(subject.space).endsWith(x.id));
      const where = subject.space ? ` · ${known ? known.name : subject.space}` : '';
      const box = el('input', { type: 'checkbox', value: vc.id, checked: checked.has(vc.id) });
      return el('label', { class: 'check', title: vc.id }, box, ` ${typeNames(vc).map(humanType).join(', ')}${where}`);
    }));
    $('join-present').hidden = mine.length === 0;
  }

  async function loadPassport() {
    let creds;
    try {
      creds = await api('GET', '/v1/passport');
    } catch (e) {
      showError(e.message);
      return;
    }
    const spaceName = (iri) => {
      const s = state.spaces.find((x) => iri === x.id || String(iri).endsWith(x.id));
      return s ? `${s.name} (${iri})` : iri;
    };
    // What the node says of each: revocation (when it hosts the issuing space) and the rest of
    // its checks. A credential the node cannot vouch for shows why.
    const reports = await Promise.all(creds.map((vc) => api('POST', '/v1/passport/verify', vc).catch(() => null)));
    const me = state.me && state.me.did;
    const card = (vc, report) => {
      const subject = vc.credentialSubject || {};
      const types = typeNames(vc);
      const [cls, word] = validity(vc, report);
      const claims = el('dl', { class: 'claims' });
      const add = (k, v) => claims.append(el('dt', { text: k }), el('dd', { text: v }));
      if (subject.space) add('space', spaceName(subject.space));
      if (types.includes('TimProfileCredential')) add('kind', 'profile, self-issued: shown with your passport, never counted');
      for (const [k, v] of Object.entries(subject)) {
        if (k === 'id' || k === 'space' || k === 'type') continue;
        add(k, claimText(v));
      }
      const issuer = typeof vc.issuer === 'object' ? vc.issuer.id : vc.issuer;
      add('issuer', issuer);
      if (subject.id && subject.id !== me) add('subject', subject.id);
      const when = el('p', { class: 'validity' }, el('span', { class: `badge ${cls}`, text: word }));
      if (vc.validFrom) when.append(' from ', timeNode(Date.parse(vc.validFrom)));
      if (vc.validUntil) when.append(' until ', timeNode(Date.parse(vc.validUntil)));
      const jsonButton = el('button', { type: 'button', text: 'Download' });
      jsonButton.setAttribute('aria-label', `Download the ${types.map(humanType).join(', ')} credential ${vc.id} as JSON`);
      jsonButton.addEventListener('click', () => downloadCredential(vc, jsonButton));
      const actions = el('p', { class: 'actions' }, jsonButton);
      // The JWT form is signed by the issuer's key, so only the issuer's node makes it.
      if (issuer === me) {
        const jwtButton = el('button', { type: 'button', class: 'quiet', text: 'Download as JWT' });
        jwtButton.addEventListener('click', () => downloadJwt(vc, jwtButton));
        actions.append(' ', jwtButton);
      }
      return el('li', { class: 'credential card', 'data-id': vc.id, 'data-state': cls },
        el('h3', { text: types.map(humanType).join(', ') || 'Credential' }),
        el('p', { class: 'cid' }, el('code', { text: vc.id || '' })),
        when, claims, actions);
    };
    const held = [];
    const issued = [];
    creds.forEach((vc, i) => {
      const subject = (vc.credentialSubject || {}).id;
      (subject === me ? held : issued).push(card(vc, reports[i]));
    });
    $('credentials').replaceChildren(...held);
    $('passport-empty').hidden = held.length > 0;
    for (const k of ['issued', 'issued-title', 'issued-hint']) $(k).hidden = issued.length === 0;
    $('issued').replaceChildren(...issued);
  }

  async function downloadCredential(vc, button) {
    button.disabled = true;
    try {
      let full = vc;
      if (vc.id) {
        try {
          full = await api('GET', `/v1/passport/${enc(vc.id)}`);
        } catch (e) {
          if (e.status !== 404) throw e;
        }
      }
      download(JSON.stringify(full, null, 2), `${fileName(vc.id)}.json`, 'application/vc+ld+json');
      say('Credential downloaded.');
    } catch (e) {
      showError(e.message);
    } finally {
      button.disabled = false;
    }
  }

  async function downloadJwt(vc, button) {
    button.disabled = true;
    try {
      const jwt = await api('GET', `/v1/passport/${enc(vc.id)}/jwt`, undefined, 'application/vc-ld+jwt');
      download(jwt.trim(), `${fileName(vc.id)}.jwt`, 'application/vc-ld+jwt');
      say('Credential downloaded as a JWT.');
    } catch (e) {
      showError(`No JWT form of this credential here: ${e.message}`);
    } finally {
      button.disabled = false;
    }
  }

  // ---------- forms ----------

  function wire() {
    $('signin-form').addEventListener('submit', async (ev) => {
      ev.preventDefault();
      clearError();
      const token = $('token').value.trim();
      if (!token) return;
      await busy(ev.target, 'Signing in…', async () => {
        try {
          await signIn(token, sessionStorage);
        } catch (e) {
          state.token = null;
          state.me = null;
          throw e;
        }
      });
    });

    $('challenge-form').addEventListener('submit', async (ev) => {
      ev.preventDefault();
      clearError();
      const did = $('challenge-did').value.trim();
      if (!did) return;
      await busy(ev.target, 'Signing in…', async () => {
        try {
          await signInWithKey(did);
        } catch (e) {
          state.token = null;
          state.me = null;
          throw e;
        }
      });
    });
    $('challenge-did').addEventListener('input', keyCommand);
    $('reply-cancel').addEventListener('click', () => setReplyTo(null));

    $('sign-out').addEventListener('click', async () => {
      clearError();
      // A token the browser's key signed in for is this browser's alone: revoke it too. A
      // token someone gave is only forgotten here (it may be used elsewhere).
      if (state.me && state.me.token_id && localStorage.getItem(TOKEN_KEY) === state.token) {
        await api('DELETE', `/v1/tokens/${enc(state.me.token_id)}`).catch(() => {});
      }
      signOut();
      say('Signed out.');
    });

    $('error-close').addEventListener('click', clearError);

    $('create-visibility').addEventListener('change', () => {
      $('create-ttl-row').hidden = $('create-visibility').value !== 'ephemeral';
    });

    $('create-form').addEventListener('submit', async (ev) => {
      ev.preventDefault();
      clearError();
      const form = ev.target;
      const body = {
        name: $('create-name').value.trim(),
        purpose: $('create-purpose').value.trim(),
        visibility: $('create-visibility').value,
      };
      if (body.visibility === 'ephemeral') body.ttl_secs = Math.round(Number($('create-ttl').value) * 60);
      const created = await busy(form, 'Creating…', () => api('POST', '/v1/spaces', body));
      if (!created) return;
      form.reset();
      $('create-ttl-row').hidden = true;
      upsertSpace(created);
      say(`Created “${created.name}”.`);
      location.hash = `#/space/${enc(created.id)}`;
    });

    $('join-form').addEventListener('submit', async (ev) => {
      ev.preventDefault();
      clearError();
      const form = ev.target;
      let link;
      try {
        link = joinTarget($('join-id').value.trim(), $('join-via').value.trim());
      } catch (e) {
        showError(e.message);
        return;
      }
      if (link.for && state.me && link.for !== state.me.did) {
        showError(`This link's invite is for ${link.for}, not for you (${state.me.did}).`);
        return;
      }
      say('Joining: asking peers for the space, this can take a few seconds…');
      const present = [...document.querySelectorAll('#join-present-list input:checked')].map((c) => c.value);
      const joined = await busy(form, 'Joining…', () => api('POST', `/v1/spaces/${enc(link.id)}/join`, { via: link.via, present }));
      if (!joined) return;
      form.reset();
      upsertSpace(joined);
      say(`Joined “${joined.name}”.`);
      if (state.space === joined.id) state.space = null;
      location.hash = `#/space/${enc(joined.id)}`;
      route();
    });

    const message = $('message');
    message.addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
        ev.preventDefault();
        $('post-form').requestSubmit();
      }
    });

    $('post-form').addEventListener('submit', async (ev) => {
      ev.preventDefault();
      clearError();
      const id = state.space;
      const text = message.value;
      if (!id || !text.trim()) return;
      const body = { text };
      if (state.replyTo) body.reply_to = state.replyTo;
      const posted = await busy(ev.target, 'Posting…', () => api('POST', `/v1/spaces/${enc(id)}/messages`, body));
      if (!posted) return;
      message.value = '';
      setReplyTo(null);
      message.focus();
      if (state.space === id && state.newer) jumpToNewest();
      else if (state.space === id) addMessage({ id: posted.id, author: state.me.did, text, at: posted.at, reply_to: body.reply_to }, true);
      refreshSummarySoon(id);
      loadMembersSoon(id);
    });

    $('abilities-form').addEventListener('submit', async (ev) => {
      ev.preventDefault();
      clearError();
      const id = state.space;
      const abilities = $('abilities').value.split(',').map((a) => a.trim()).filter(Boolean);
      const done = await busy(ev.target, 'Saving…', () => api('PUT', `/v1/spaces/${enc(id)}/abilities`, { abilities }));
      if (!done) return;
      say('Abilities saved.');
      loadMembers(id);
    });

    $('join-box').addEventListener('toggle', () => {
      if ($('join-box').open) loadPresentable();
    });

    $('copy-id').addEventListener('click', async () => {
      const id = $('space-id').textContent;
      try {
        await navigator.clipboard.writeText(id);
        say('Space id copied.');
      } catch (_) {
        const range = document.createRange();
        range.selectNodeContents($('space-id'));
        const sel = getSelection();
        sel.removeAllRanges();
        sel.addRange(range);
        say('Space id selected: press Ctrl+C to copy it.');
      }
    });

    $('find-form').addEventListener('submit', search);
    $('ask-form').addEventListener('submit', ask);
    $('ask-ability').addEventListener('change', () => fillTargets());
    $('declare-form').addEventListener('submit', declare);
    $('propose-form').addEventListener('submit', propose);
    $('invite-form').addEventListener('submit', invite);
    $('agent-new-form').addEventListener('submit', makeAgent);

    $('load-older').addEventListener('click', loadOlder);
    $('jump-newest').addEventListener('click', jumpToNewest);
    $('timeline').addEventListener('scroll', () => {
      const list = $('timeline');
      if (list.scrollTop < OLDER_AT_PX) loadOlder();
      else if (state.newer && list.scrollHeight - list.scrollTop - list.clientHeight < OLDER_AT_PX) loadNewer();
    }, { passive: true });

    window.addEventListener('hashchange', route);
  }

  async function init() {
    wire();
    if (state.token) {
      try {
        await signIn(state.token);
        return;
      } catch (e) {
        signOut(e.status === 401 ? `Please sign in again: ${e.message}` : e.message);
        return;
      }
    }
    signOut();
  }

  init();
})();
