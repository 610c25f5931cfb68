// Vigil dashboard: a small single-page app over the admin API (docs/api.md). No framework, no build.
// Every datum is written with textContent/attributes, never innerHTML, so names cannot inject markup.

const state = { me: null, csrf: null, view: null, timer: null, events: null, clients: new Map() };

// ---------- helpers ----------
function h(tag, attrs = {}, ...children) {
  const svg = ['svg', 'rect', 'g', 'line', 'text', 'title'].includes(tag);
  const el = svg ? document.createElementNS('http://www.w3.org/2000/svg', tag) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.setAttribute('class', v);
    else if (k in el && !svg && typeof v !== 'string') el[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}
const $ = (sel) => document.querySelector(sel);

function toast(message, kind = 'info') {
  const t = h('div', { class: `toast ${kind}` }, message);
  $('#toasts').append(t);
  setTimeout(() => t.remove(), 5000);
}

function ago(iso) {
  if (!iso) return 'never';
  const s = Math.round((Date.now() - Date.parse(iso)) / 1000);
  if (s < 5) return 'just now';
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return new Date(iso).toLocaleString();
}
const when = (iso) => new Date(iso).toLocaleString();
const pretty = (name) => String(name).replace(/^(ACTION|REASON)_/, '').replace(/_/g, ' ').toLowerCase().replace(/^\w/, (c) => c.toUpperCase());

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

// `background` marks automatic refreshes: they must not keep an unattended session alive.
async function api(method, path, body, { background = false } = {}) {
  const headers = {};
  if (background) headers['x-vigil-background'] = '1';
  let payload;
  if (body instanceof FormData) payload = body;
  else if (body !== undefined) {
    headers['content-type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  if (method !== 'GET' && state.csrf) headers['x-csrf-token'] = state.csrf;
  const res = await fetch(path, { method, headers, body: payload, credentials: 'same-origin' });
  if (res.status === 204) return null;
  const data = res.headers.get('content-type')?.includes('json') ? await res.json() : null;
  if (!res.ok) {
    const err = new ApiError(res.status, data?.error?.code ?? 'error', data?.error?.message ?? res.statusText);
    if (res.status === 401 && !path.startsWith('/api/auth/login')) showLogin(err.code === 'session_expired' ? 'Your session has expired. Please sign in again.' : '');
    throw err;
  }
  return data;
}

function reportError(err) {
  if (err instanceof ApiError && err.status === 401) return;
  toast(err.message, 'error');
}

// ---------- login ----------
function showLogin(message = '') {
  stopLive();
  state.me = null;
  $('#shell').classList.add('hidden');
  $('#login').classList.remove('hidden');
  $('#login-error').textContent = message;
  $('#username').focus();
}

async function boot() {
  $('#login-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const btn = $('#login-submit');
    btn.disabled = true;
    $('#login-error').textContent = '';
    try {
      const r = await api('POST', '/api/auth/login', { username: $('#username').value, password: $('#password').value });
      state.csrf = r.csrfToken;
      $('#password').value = '';
      await enter();
    } catch (err) {
      $('#login-error').textContent = err.message;
    } finally {
      btn.disabled = false;
    }
  });
  $('#logout').addEventListener('click', async () => {
    try {
      await api('POST', '/api/auth/logout');
    } catch {}
    state.csrf = null;
    showLogin('You are signed out.');
  });
  window.addEventListener('hashchange', route);
  try {
    await enter();
  } catch {
    showLogin();
  }
}

async function enter() {
  const me = await api('GET', '/api/auth/me');
  state.me = me;
  state.csrf = me.csrfToken ?? state.csrf;
  $('#who-name').textContent = me.name;
  $('#login').classList.add('hidden');
  $('#shell').classList.remove('hidden');
  startLive();
  route();
}

// ---------- live updates ----------
function startLive() {
  stopLive();
  const es = new EventSource('/api/events');
  state.events = es;
  es.onopen = () => $('#live-dot').classList.add('on');
  es.onerror = () => $('#live-dot').classList.remove('on');
  for (const name of ['clients', 'status', 'action', 'users', 'event']) {
    es.addEventListener(name, (ev) => {
      let data = null;
      try {
        data = JSON.parse(ev.data);
      } catch {}
      state.view?.onEvent?.(name, data);
    });
  }
}
function stopLive() {
  state.events?.close();
  state.events = null;
  $('#live-dot')?.classList.remove('on');
}

// ---------- routing ----------
function route() {
  if (!state.me) return;
  clearInterval(state.timer);
  state.view?.leave?.();
  const hash = location.hash.replace(/^#/, '') || '/';
  const parts = hash.split('/').filter(Boolean);
  const nav = parts[0] ?? 'clients';
  for (const a of document.querySelectorAll('[data-nav]')) a.classList.toggle('active', a.dataset.nav === (nav === 'clients' || !parts.length ? 'clients' : nav));
  const view = $('#view');
  view.replaceChildren();
  let v;
  if (parts[0] === 'clients' && parts[1]) v = clientView(decodeURIComponent(parts[1]));
  else if (parts[0] === 'actions') v = actionsView();
  else if (parts[0] === 'users') v = usersView();
  else if (parts[0] === 'access') v = accessView();
  else if (parts[0] === 'health') v = healthView();
  else v = clientsView();
  state.view = v;
  view.append(v.el);
  v.load?.(false).catch(reportError);
  if (v.every) state.timer = setInterval(() => v.load(true).catch(() => {}), v.every);
}

// ---------- shared pieces ----------
const REASON_COLORS = ['#2f6fed', '#d92d20', '#e8a317', '#7a5af8', '#12a150', '#0ba5ec', '#f670c7', '#667085', '#ef6820', '#15b79e', '#9e77ed', '#344054', '#f79009', '#66c61c', '#06aed4'];
function reasonColor(reason, all) {
  return REASON_COLORS[all.indexOf(reason) % REASON_COLORS.length];
}

function stateBadge(s, connected) {
  const label = s === 'unknown' ? (connected ? 'connected' : 'offline') : s.replace('_', ' ');
  return h('span', { class: `badge ${s === 'unknown' ? (connected ? 'connected' : 'offline') : s}`, 'data-state': s }, label);
}
function actionPill(a) {
  return h('span', { class: `pill ${a.action}` }, pretty(a.action));
}

function controlButtons(c, after) {
  const make = (change, label, cls = '') =>
    h('button', {
      class: `small ${cls}`,
      'data-change': change,
      onclick: async (e) => {
        e.stopPropagation();
        try {
          await api('POST', `/api/clients/${encodeURIComponent(c.id)}/${change}`);
          toast(`${c.id}: ${change} requested`);
          after?.();
        } catch (err) {
          reportError(err);
        }
      },
    }, label);
  const out = [];
  if (c.state === 'paused') out.push(make('resume', 'Resume'));
  else if (c.state !== 'blocked') out.push(make('pause', 'Pause'));
  if (c.state === 'blocked') out.push(make('unblock', 'Unblock'));
  else out.push(make('block', 'Block', 'danger'));
  return out;
}

function timelineChart(stats) {
  const reasons = Object.keys(stats.series).sort();
  const n = stats.buckets;
  const totals = new Array(n).fill(0);
  for (const r of reasons) stats.series[r].forEach((v, i) => (totals[i] += v));
  // Whole-number gridlines: the scale's top is a multiple of 4 steps.
  const step = Math.max(1, Math.ceil(Math.max(1, ...totals) / 4));
  const max = step * 4;
  const W = 800, H = 180, pad = 24, bw = (W - pad) / n;
  const svg = h('svg', { class: 'chart', viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: 'none', role: 'img', 'aria-label': 'Actions by reason over time' });
  for (let k = 0; k <= 4; k++) {
    const y = H - 18 - ((H - 30) * k) / 4;
    svg.append(h('line', { x1: pad, x2: W, y1: y, y2: y, stroke: '#e3e8ef', 'stroke-width': 1 }));
    svg.append(h('text', { x: 0, y: y + 4, 'font-size': 10, fill: '#98a2b3' }, String(step * k)));
  }
  for (let i = 0; i < n; i++) {
    let y = H - 18;
    for (const r of reasons) {
      const v = stats.series[r][i];
      if (!v) continue;
      const hgt = ((H - 30) * v) / max;
      y -= hgt;
      svg.append(h('rect', { x: pad + i * bw + 1, y, width: Math.max(1, bw - 2), height: hgt, fill: reasonColor(r, reasons), rx: 2 }, h('title', {}, `${pretty(r)}: ${v}`)));
    }
  }
  const start = Date.parse(stats.since);
  for (let i = 0; i < n; i += Math.max(1, Math.ceil(n / 8))) {
    const t = new Date(start + i * stats.bucketMinutes * 60000);
    svg.append(h('text', { x: pad + i * bw, y: H - 4, 'font-size': 10, fill: '#98a2b3' }, t.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })));
  }
  const legend = h('div', { class: 'legend' }, reasons.length ? reasons.map((r) => h('span', {}, h('i', { class: 'swatch', 'data-color': reasonColor(r, reasons) }), `${pretty(r)} (${stats.totals[r]})`)) : h('span', {}, 'No actions in this period.'));
  for (const i of legend.querySelectorAll('i.swatch')) i.style.background = i.dataset.color;
  return h('div', {}, svg, legend);
}

function evidenceUrl(path) {
  return '/api/evidence/' + path.split('/').map(encodeURIComponent).join('/');
}

function openEvidence(a) {
  const body = h('div', { class: 'modal-body' }, h('div', { class: 'page-head' }, h('h2', {}, `${a.clientId} — ${pretty(a.reason)}`), h('button', { onclick: () => modal.remove() }, 'Close')));
  const modal = h('div', { class: 'modal', onclick: (e) => e.target === modal && modal.remove() }, body);
  if (a.evidence?.image) body.append(h('img', { src: evidenceUrl(a.evidence.image), alt: `evidence for ${a.id}` }));
  const facts = h('dl', { class: 'facts' }, h('dt', {}, 'Action'), h('dd', {}, actionPill(a)), h('dt', {}, 'When'), h('dd', {}, when(a.at)), h('dt', {}, 'Message'), h('dd', {}, a.message || '—'), h('dt', {}, 'Id'), h('dd', { class: 'mono' }, a.id));
  body.append(h('div', { class: 'panel' }, facts));
  if (a.evidence?.sidecar) {
    const dl = h('dl', { class: 'facts' });
    body.append(h('div', { class: 'panel' }, h('h3', {}, 'Scores and models'), dl));
    fetch(evidenceUrl(a.evidence.sidecar), { credentials: 'same-origin' })
      .then((r) => (r.ok ? r.json() : null))
      .then((side) => {
        if (!side) return dl.append(h('dd', {}, 'sidecar unavailable'));
        for (const [k, v] of Object.entries(flatten(side))) dl.append(h('dt', {}, k), h('dd', { class: 'mono' }, String(v)));
      })
      .catch(() => {});
  }
  document.body.append(modal);
}
function flatten(obj, prefix = '', out = {}) {
  for (const [k, v] of Object.entries(obj ?? {})) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (v && typeof v === 'object' && !Array.isArray(v) && Object.keys(out).length < 60) flatten(v, key, out);
    else out[key] = Array.isArray(v) ? v.map((x) => (typeof x === 'number' ? Math.round(x * 1000) / 1000 : JSON.stringify(x))).join(', ') : typeof v === 'number' ? Math.round(v * 1000) / 1000 : v;
  }
  return out;
}

function actionsTable(list, { showClient = true } = {}) {
  if (!list.length) return h('div', { class: 'empty' }, 'No actions yet.');
  return h('div', { class: 'table-wrap' }, h('table', { class: 'actions-table' },
    h('thead', {}, h('tr', {}, h('th', {}, 'Evidence'), showClient && h('th', {}, 'Client'), h('th', {}, 'Action'), h('th', {}, 'Reason'), h('th', {}, 'When'), h('th', {}, 'Message'))),
    h('tbody', {}, list.map((a) => h('tr', { 'data-action-id': a.id },
      h('td', {}, a.evidence?.image ? h('img', { class: 'evidence', src: evidenceUrl(a.evidence.image), alt: 'evidence', loading: 'lazy', onclick: () => openEvidence(a) }) : h('span', { class: 'muted small' }, '—')),
      showClient && h('td', {}, h('a', { href: `#/clients/${encodeURIComponent(a.clientId)}` }, a.clientId)),
      h('td', {}, actionPill(a)),
      h('td', {}, pretty(a.reason)),
      h('td', { class: 'when', title: when(a.at) }, ago(a.at)),
      h('td', { class: 'small' }, a.message || '')))),
  ));
}

// ---------- views ----------
function clientsView() {
  const stats = h('div', { class: 'stats' });
  const chart = h('div', { class: 'panel' }, h('h3', {}, 'Actions, last 24 hours'), h('div', { class: 'muted small' }, 'Loading…'));
  const grid = h('div', { class: 'grid', id: 'client-grid' });
  const el = h('section', {}, h('div', { class: 'page-head' }, h('h1', {}, 'Clients'), h('span', { class: 'muted small', id: 'updated' }, '')), stats, chart, grid);
  const cards = new Map();

  function card(c) {
    let entry = cards.get(c.id);
    if (!entry) {
      const img = h('img', { alt: `latest frame of ${c.id}` });
      const placeholder = h('span', {});
      const thumb = h('div', { class: 'thumb', onclick: () => (location.hash = `#/clients/${encodeURIComponent(c.id)}`) });
      const seen = h('span', { class: 'muted small' });
      const body = h('div', { class: 'body' });
      const node = h('article', { class: 'card client-card', 'data-client': c.id }, thumb, body);
      entry = { node, thumb, img, placeholder, seen, body, seq: null, sig: '' };
      cards.set(c.id, entry);
    }
    const e = entry;
    // Rebuilt only when something visible changed, so buttons stay put under a stream of frames.
    const sig = JSON.stringify([c.state, c.connected, Boolean(c.frame), c.lastAction?.id ?? null]);
    if (sig !== e.sig) {
      e.sig = sig;
      e.placeholder.textContent = c.connected ? 'waiting for a frame…' : 'offline';
      e.thumb.replaceChildren(c.frame ? e.img : e.placeholder, stateBadge(c.state, c.connected));
      e.body.replaceChildren(
        h('div', { class: 'title' }, h('a', { href: `#/clients/${encodeURIComponent(c.id)}` }, c.id), e.seen),
        c.lastAction ? h('div', { class: 'small last-action' }, actionPill(c.lastAction), ' ', pretty(c.lastAction.reason), h('span', { class: 'muted' }, ` · ${ago(c.lastAction.at)}`)) : h('div', { class: 'small muted' }, 'No actions'),
        h('div', { class: 'actions' }, controlButtons(c, load)),
      );
    }
    if (c.frame) refreshThumb(e, c.id, c.frame.seq);
    e.seen.textContent = c.connected ? `seen ${ago(c.lastSeen)}` : 'disconnected';
    return e.node;
  }

  // One thumbnail request at a time per card, at most one a second: a fast agent must not keep
  // the image forever loading (or the server busy resizing).
  function refreshThumb(e, id, seq) {
    e.want = seq;
    if (e.loading || e.seq === seq) return;
    const wait = 1000 - (Date.now() - (e.startedAt ?? 0));
    if (wait > 0) {
      clearTimeout(e.later);
      e.later = setTimeout(() => refreshThumb(e, id, e.want), wait);
      return;
    }
    e.loading = true;
    e.startedAt = Date.now();
    e.seq = seq;
    const done = () => {
      e.loading = false;
      if (e.want !== e.seq) refreshThumb(e, id, e.want);
    };
    e.img.onload = done;
    e.img.onerror = done;
    e.img.src = `/api/clients/${encodeURIComponent(id)}/frame?w=320&seq=${seq}`;
  }

  async function load(bg = true) {
    const data = await api('GET', '/api/clients', undefined, { background: bg });
    const counts = { active: 0, paused: 0, blocked: 0 };
    for (const c of data.clients) if (c.state in counts) counts[c.state]++;
    stats.replaceChildren(
      h('div', { class: 'stat' }, h('div', { class: 'label' }, 'Connected'), h('div', { class: 'value', id: 'stat-connected' }, data.connected)),
      h('div', { class: 'stat' }, h('div', { class: 'label' }, 'Known clients'), h('div', { class: 'value' }, data.total)),
      h('div', { class: 'stat' }, h('div', { class: 'label' }, 'Paused'), h('div', { class: 'value' }, counts.paused)),
      h('div', { class: 'stat' }, h('div', { class: 'label' }, 'Blocked'), h('div', { class: 'value' }, counts.blocked)),
    );
    const seen = new Set();
    const nodes = data.clients.map((c) => (seen.add(c.id), card(c)));
    for (const id of [...cards.keys()]) if (!seen.has(id)) cards.delete(id);
    const same = nodes.length === grid.children.length && nodes.every((n, i) => grid.children[i] === n);
    if (nodes.length && !same) grid.replaceChildren(...nodes);
    else if (!nodes.length) grid.replaceChildren(h('div', { class: 'empty' }, h('h2', {}, 'No clients yet'), h('p', {}, 'Open ', h('a', { href: '#/access' }, 'Agents & keys'), ' to issue a token and start the browser agent on a workstation.')));
    $('#updated').textContent = `updated ${new Date().toLocaleTimeString()}`;
  }
  async function loadChart(bg = true) {
    try {
      const s = await api('GET', '/api/stats/actions?hours=24&bucketMin=60', undefined, { background: bg });
      chart.replaceChildren(h('h3', {}, 'Actions, last 24 hours'), timelineChart(s));
    } catch (err) {
      chart.replaceChildren(h('h3', {}, 'Actions, last 24 hours'), h('div', { class: 'muted small' }, err.status === 503 ? 'The action history is not available on this server.' : err.message));
    }
  }
  let pending = null;
  const soon = () => {
    clearTimeout(pending);
    pending = setTimeout(() => load().catch(() => {}), 150);
  };
  return {
    el,
    every: 5000,
    load: async (bg) => {
      await Promise.all([load(bg), loadChart(bg)]);
    },
    onEvent(name) {
      soon();
      if (name === 'action') loadChart();
    },
  };
}

function clientView(id) {
  const el = h('section', {}, h('div', { class: 'page-head' }, h('div', {}, h('a', { href: '#/' }, '← Clients'), h('h1', {}, id))));
  const left = h('div', {});
  const right = h('div', {});
  el.append(h('div', { class: 'client-layout' }, left, right));
  const img = h('img', { class: 'frame-large', alt: `latest frame of ${id}` });
  let seq = null;
  let actionsKey;
  let actionsPanel;
  async function load(bg = true) {
    let c;
    try {
      c = await api('GET', `/api/clients/${encodeURIComponent(id)}`, undefined, { background: bg });
    } catch (err) {
      if (err.status === 404) return left.replaceChildren(h('div', { class: 'empty' }, `No client named ${id} is known.`));
      throw err;
    }
    if (c.frame && c.frame.seq !== seq) {
      seq = c.frame.seq;
      img.src = `/api/clients/${encodeURIComponent(id)}/frame?w=960&seq=${seq}`;
    }
    // Live updates come every second or so: the actions panel is rebuilt only when its actions change, so its
    // rows and evidence images stay put (no reload, nothing to chase when clicking); only the times move.
    const list = c.recentActions;
    const key = JSON.stringify(list?.map((a) => [a.id, a.action, a.reason, a.evidence?.image ?? null, a.message ?? '']) ?? null);
    if (!actionsPanel || key !== actionsKey) {
      actionsKey = key;
      actionsPanel = h('div', { class: 'panel' }, h('h2', {}, 'Recent actions'), list ? actionsTable(list, { showClient: false }) : h('div', { class: 'muted' }, 'The action history is not available on this server.'));
    } else {
      for (const a of list ?? []) {
        const cell = actionsPanel.querySelector(`tr[data-action-id="${CSS.escape(a.id)}"] td.when`);
        if (cell) cell.textContent = ago(a.at);
      }
    }
    const frameNode = c.frame ? img : h('div', { class: 'empty' }, c.connected ? 'Waiting for a frame…' : 'The client is offline.');
    if (!left.contains(actionsPanel)) left.replaceChildren(frameNode, actionsPanel);
    else if (left.firstChild !== frameNode) left.replaceChild(frameNode, left.firstChild);
    right.replaceChildren(
      h('div', { class: 'panel' },
        h('div', { class: 'page-head' }, h('h2', {}, 'State'), stateBadge(c.state, c.connected)),
        h('dl', { class: 'facts' },
          h('dt', {}, 'Connection'), h('dd', {}, c.connected ? 'connected' : 'offline'),
          h('dt', {}, 'Last seen'), h('dd', {}, ago(c.lastSeen)),
          h('dt', {}, 'Connected at'), h('dd', {}, c.connectedAt ? when(c.connectedAt) : '—'),
          h('dt', {}, 'Address'), h('dd', {}, c.address ?? '—'),
          h('dt', {}, 'Agent'), h('dd', {}, c.agent ?? '—'),
          h('dt', {}, 'Frame'), h('dd', {}, c.frame ? `#${c.frame.seq} · ${Math.round(c.frame.bytes / 1024)} KB · ${ago(c.frame.at)}` : '—')),
        h('div', { class: 'actions row' }, controlButtons(c, load))),
      h('div', { class: 'panel' }, h('h2', {}, 'Waiting for acknowledgement'), c.pendingActions.length ? h('ul', {}, c.pendingActions.map((a) => h('li', { class: 'small' }, actionPill(a), ' ', pretty(a.reason), ' · ', ago(a.at)))) : h('div', { class: 'muted small' }, 'Nothing pending.')),
    );
  }
  return { el, load, every: 3000, onEvent: (name, d) => (!d?.clientId || d.clientId === id || name === 'clients') && load().catch(() => {}) };
}

function actionsView() {
  const reasons = ['', 'REASON_PHONE_DETECTION', 'REASON_CABLE_REMOVE', 'REASON_CAMERA_NOT_ATTACH', 'REASON_CONNECT_TO_INTERNET', 'REASON_SPOOF_IMAGE', 'REASON_WRONG_USER', 'REASON_NO_FACE', 'REASON_BLOCKED_CLIENT', 'REASON_PAUSED_CLIENT', 'REASON_RESUME_CLIENT', 'REASON_CLIENT_NOT_AVAILABLE', 'REASON_SEVERAL_FACES', 'REASON_POOR_IMAGE', 'REASON_ANALYSIS_FAILED'];
  const user = h('input', { id: 'filter-user', placeholder: 'any user' });
  const reason = h('select', { id: 'filter-reason' }, reasons.map((r) => h('option', { value: r }, r ? pretty(r) : 'any reason')));
  const since = h('select', { id: 'filter-since' }, [['1', 'last hour'], ['24', 'last 24 hours'], ['168', 'last 7 days'], ['', 'all time']].map(([v, l]) => h('option', { value: v, selected: v === '24' }, l)));
  const out = h('div', {});
  const form = h('form', { class: 'panel row', onsubmit: (e) => (e.preventDefault(), load(false).catch(reportError)) },
    h('div', { class: 'field' }, h('label', { for: 'filter-user' }, 'User'), user),
    h('div', { class: 'field' }, h('label', { for: 'filter-reason' }, 'Reason'), reason),
    h('div', { class: 'field' }, h('label', { for: 'filter-since' }, 'Period'), since),
    h('button', { class: 'primary', type: 'submit' }, 'Filter'));
  const el = h('section', {}, h('div', { class: 'page-head' }, h('h1', {}, 'Actions')), form, h('div', { class: 'panel' }, out));
  async function load(bg = true) {
    const q = new URLSearchParams({ limit: '200' });
    if (user.value.trim()) q.set('user', user.value.trim());
    if (reason.value) q.set('reason', reason.value);
    if (since.value) q.set('since', String(Date.now() - Number(since.value) * 3600000));
    try {
      const r = await api('GET', `/api/actions?${q}`, undefined, { background: bg });
      out.replaceChildren(h('div', { class: 'muted small' }, `${r.count} action${r.count === 1 ? '' : 's'}`), actionsTable(r.actions));
    } catch (err) {
      out.replaceChildren(h('div', { class: 'empty' }, err.status === 503 ? 'The action history is not available on this server.' : err.message));
    }
  }
  return { el, load, onEvent: (name) => name === 'action' && load().catch(() => {}) };
}

function usersView() {
  const list = h('div', {});
  const name = h('input', { id: 'enrol-name', placeholder: 'e.g. alice', required: true, pattern: '[A-Za-z0-9][A-Za-z0-9._\\-]{0,63}' });
  const files = h('input', { id: 'enrol-files', type: 'file', accept: 'image/jpeg,image/png,image/webp', multiple: true });
  const shots = [];
  const shotsEl = h('div', { class: 'shots' });
  const video = h('video', { autoplay: true, muted: true, playsinline: true });
  const canvas = h('canvas', { width: 640, height: 480 });
  let stream = null;
  const camBtn = h('button', { type: 'button', onclick: async () => {
    if (stream) return;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 } });
      video.srcObject = stream;
      snapBtn.disabled = false;
    } catch (err) {
      toast(`Camera unavailable: ${err.message}`, 'error');
    }
  } }, 'Start camera');
  const snapBtn = h('button', { type: 'button', disabled: true, onclick: () => {
    canvas.getContext('2d').drawImage(video, 0, 0, canvas.width, canvas.height);
    canvas.toBlob((b) => {
      shots.push(b);
      shotsEl.append(h('img', { src: URL.createObjectURL(b), alt: 'capture' }));
    }, 'image/jpeg', 0.92);
  } }, 'Capture');
  const form = h('form', { class: 'panel', onsubmit: async (e) => {
    e.preventDefault();
    const fd = new FormData();
    for (const f of files.files) fd.append('images', f, f.name);
    shots.forEach((b, i) => fd.append('images', b, `webcam-${i + 1}.jpg`));
    if (![...fd.keys()].length) return toast('Choose images or capture some with the camera.', 'error');
    try {
      const r = await api('POST', `/api/users/${encodeURIComponent(name.value.trim())}/images`, fd);
      toast(`${r.name}: ${r.received} image${r.received === 1 ? '' : 's'} enrolled`);
      files.value = '';
      shots.length = 0;
      shotsEl.replaceChildren();
      load().catch(() => {});
    } catch (err) {
      reportError(err);
    }
  } },
    h('h2', {}, 'Enrol a user'),
    h('p', { class: 'muted small' }, 'JPEG, PNG or WebP reference photos of the user\'s face, one face per image. Up to 10 images per upload; 5 uploads per hour.'),
    h('div', { class: 'row' }, h('div', { class: 'field' }, h('label', { for: 'enrol-name' }, 'User name'), name), h('div', { class: 'field' }, h('label', { for: 'enrol-files' }, 'Images'), files)),
    h('h3', { class: 'spaced' }, 'Or capture with the webcam'),
    h('div', { class: 'capture' }, video, h('div', {}, h('div', { class: 'row' }, camBtn, snapBtn), shotsEl)),
    h('div', { class: 'row' }, h('button', { class: 'primary', type: 'submit', id: 'enrol-submit' }, 'Enrol')));
  const el = h('section', {}, h('div', { class: 'page-head' }, h('h1', {}, 'Users')), form, h('div', { class: 'panel' }, h('h2', {}, 'Enrolled users'), list));
  async function load(bg = true) {
    try {
      const r = await api('GET', '/api/users', undefined, { background: bg });
      list.replaceChildren(r.users.length ? h('table', {}, h('thead', {}, h('tr', {}, h('th', {}, 'User'), h('th', {}, 'Reference images'), h('th', {}, 'Updated'), h('th', {}, ''))),
        h('tbody', {}, r.users.map((u) => h('tr', {}, h('td', {}, h('a', { href: `#/clients/${encodeURIComponent(u.name)}` }, u.name)), h('td', {}, u.images), h('td', {}, u.updatedAt ? ago(u.updatedAt) : '—'),
          h('td', {}, h('button', { class: 'small danger', onclick: async () => {
            if (!confirm(`Delete ${u.name} and their reference images?`)) return;
            try {
              await api('DELETE', `/api/users/${encodeURIComponent(u.name)}`);
              toast(`${u.name} deleted`);
              load().catch(() => {});
            } catch (err) {
              reportError(err);
            }
          } }, 'Delete')))))) : h('div', { class: 'empty' }, 'No users enrolled yet.'));
    } catch (err) {
      list.replaceChildren(h('div', { class: 'empty' }, err.status === 503 ? 'The users database is not available on this server.' : err.message));
    }
  }
  return { el, load, onEvent: (n) => n === 'users' && load().catch(() => {}), leave: () => stream?.getTracks().forEach((t) => t.stop()) };
}

function accessView() {
  const tokenOut = h('div', {});
  const clientId = h('input', { id: 'token-client', placeholder: 'client id = user name', required: true });
  const tokenForm = h('form', { class: 'panel', onsubmit: async (e) => {
    e.preventDefault();
    try {
      const r = await api('POST', `/api/clients/${encodeURIComponent(clientId.value.trim())}/token`);
      const link = new URL(r.agentUrl, location.origin).href;
      tokenOut.replaceChildren(
        h('p', { class: 'small' }, 'Open this link on the workstation (it carries the token; it is shown only once, and issuing again replaces it):'),
        h('div', { class: 'secret mono', id: 'agent-link' }, link),
        h('div', { class: 'row' }, h('a', { class: 'button', href: link, target: '_blank', rel: 'noopener' }, 'Open the agent page'), h('button', { type: 'button', onclick: () => navigator.clipboard?.writeText(link).then(() => toast('Link copied')) }, 'Copy link')));
    } catch (err) {
      reportError(err);
    }
  } }, h('h2', {}, 'Browser agent'), h('p', { class: 'muted small' }, 'Issue an agent token for a client and open the agent page with it: the page streams the webcam to Vigil and shows the actions it receives.'),
    h('div', { class: 'row' }, h('div', { class: 'field' }, h('label', { for: 'token-client' }, 'Client'), clientId), h('button', { class: 'primary', type: 'submit' }, 'Issue token')), tokenOut);

  const keysList = h('div', {});
  const keyOut = h('div', {});
  const keyName = h('input', { id: 'key-name', placeholder: 'e.g. nightly-export', required: true });
  const scopeBoxes = ['read', 'control', 'enrol', 'admin'].map((s) => h('label', {}, h('input', { type: 'checkbox', value: s, checked: s === 'read' }), s));
  const keyForm = h('form', { class: 'panel', onsubmit: async (e) => {
    e.preventDefault();
    const scopes = scopeBoxes.map((l) => l.querySelector('input')).filter((i) => i.checked).map((i) => i.value);
    try {
      const r = await api('POST', '/api/keys', { name: keyName.value.trim(), scopes });
      keyOut.replaceChildren(h('p', { class: 'small' }, 'Copy the key now; it is not shown again:'), h('div', { class: 'secret mono' }, r.key));
      loadKeys().catch(() => {});
    } catch (err) {
      reportError(err);
    }
  } }, h('h2', {}, 'API keys'), h('p', { class: 'muted small' }, 'For scripts: send the key as "Authorization: Bearer KEY". Only its SHA-256 is stored.'),
    h('div', { class: 'row' }, h('div', { class: 'field' }, h('label', { for: 'key-name' }, 'Name'), keyName), h('div', { class: 'field' }, h('label', {}, 'Scopes'), h('div', { class: 'checks' }, scopeBoxes)), h('button', { class: 'primary', type: 'submit' }, 'Create key')), keyOut, keysList);
  async function loadKeys(bg = true) {
    const r = await api('GET', '/api/keys', undefined, { background: bg });
    keysList.replaceChildren(r.keys.length ? h('table', {}, h('thead', {}, h('tr', {}, h('th', {}, 'Name'), h('th', {}, 'Owner'), h('th', {}, 'Scopes'), h('th', {}, 'Created'), h('th', {}, 'Last used'), h('th', {}, ''))),
      h('tbody', {}, r.keys.map((k) => h('tr', {}, h('td', {}, k.name), h('td', {}, k.owner), h('td', {}, k.scopes.join(', ')), h('td', {}, ago(k.createdAt)), h('td', {}, k.lastUsedAt ? ago(k.lastUsedAt) : 'never'),
        h('td', {}, h('button', { class: 'small danger', onclick: async () => {
          try {
            await api('DELETE', `/api/keys/${k.id}`);
            loadKeys().catch(() => {});
          } catch (err) {
            reportError(err);
          }
        } }, 'Revoke')))))) : h('div', { class: 'muted small' }, 'No API keys yet.'));
  }
  const el = h('section', {}, h('div', { class: 'page-head' }, h('h1', {}, 'Agents & keys')), tokenForm, keyForm);
  return { el, load: loadKeys };
}

function healthView() {
  const out = h('div', {});
  const el = h('section', {}, h('div', { class: 'page-head' }, h('h1', {}, 'Health')), out);
  async function load(bg = true) {
    let r;
    try {
      r = await api('GET', '/health/ready', undefined, { background: bg });
    } catch (err) {
      if (err.status !== 503) throw err;
      r = { status: 'unhealthy', redis: { ping: { up: false, error: err.message } } };
    }
    const redis = r.redis ?? {};
    const stat = (label, value) => h('div', { class: 'stat' }, h('div', { class: 'label' }, label), h('div', { class: 'value' }, value ?? '—'));
    out.replaceChildren(
      h('div', { class: 'stats' },
        stat('Status', r.status),
        stat('Redis ping', redis.ping?.up ? `${redis.ping.pingMs} ms` : 'down'),
        stat('Redis memory', redis.memory ? `${redis.memory.usedMb} MB` : null),
        stat('Redis clients', redis.clients?.connected),
        stat('Agents here', r.gateway?.agents ?? r.gateway?.authenticated),
        stat('Frames stored', r.gateway?.framesStored)),
      h('div', { class: 'panel' }, h('h2', {}, 'Redis'), h('dl', { class: 'facts' },
        h('dt', {}, 'Version'), h('dd', {}, redis.version ?? '—'),
        h('dt', {}, 'Role'), h('dd', {}, redis.replication ? `${redis.replication.role} (${redis.replication.connectedReplicas} replicas)` : '—'),
        h('dt', {}, 'Persistence'), h('dd', {}, redis.persistence ? `AOF ${redis.persistence.aofEnabled ? 'on' : 'off'} · last RDB save ${redis.persistence.rdbLastSaveAt ? ago(redis.persistence.rdbLastSaveAt) : 'never'}` : '—'),
        h('dt', {}, 'Slow log'), h('dd', {}, redis.slowLog ? (redis.slowLog.length ? redis.slowLog.map((s) => `${s.command} (${s.durationUs} µs)`).join(' · ') : 'empty') : '—'),
        h('dt', {}, 'Error'), h('dd', {}, redis.ping?.error ?? '—'))),
    );
  }
  return { el, load, every: 5000 };
}

boot();
