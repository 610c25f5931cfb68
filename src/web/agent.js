// Vigil browser agent: streams the webcam to /v1/agent (protocol v1, docs/protocol.md), heartbeats,
// reports camera loss, shows and acknowledges the actions it receives, reconnects with backoff.

const ACTIONS = ['NO_ACTION', 'ACTION_LOCK_SCREEN', 'ACTION_SIGN_OUT', 'ACTION_WARNING', 'ACTION_ERROR'];
const REASONS = ['EMPTY_REASON', 'REASON_PHONE_DETECTION', 'REASON_CABLE_REMOVE', 'REASON_CAMERA_NOT_ATTACH', 'REASON_CONNECT_TO_INTERNET', 'REASON_SPOOF_IMAGE', 'REASON_WRONG_USER', 'REASON_NO_FACE', 'REASON_BLOCKED_CLIENT', 'REASON_PAUSED_CLIENT', 'REASON_RESUME_CLIENT', 'REASON_CLIENT_NOT_AVAILABLE', 'REASON_SEVERAL_FACES', 'REASON_POOR_IMAGE', 'REASON_ANALYSIS_FAILED'];
const R = Object.fromEntries(REASONS.map((r, i) => [r, i]));
const A = Object.fromEntries(ACTIONS.map((a, i) => [a, i]));
const FATAL_CLOSE = new Set([4001, 4005]); // auth failed, unsupported version: retrying cannot help
const $ = (s) => document.querySelector(s);

// Observable state, also read by the browser tests.
const agent = (window.vigilAgent = { connected: false, framesSent: 0, actions: [], telemetry: [], errors: [], paused: false, locked: false, signedOut: false, cameraOk: false });

let creds = null;
let config = { frameIntervalMs: 1000, socketPath: '/v1/agent' };
let ws = null;
let stream = null;
let frameTimer = null;
let heartbeatTimer = null;
let reconnectTimer = null;
let attempt = 0;
let stopped = false;
let wasOffline = false;
const video = $('#preview');
const canvas = document.createElement('canvas');

function readCredentials() {
  const frag = new URLSearchParams(location.hash.slice(1));
  if (frag.get('client') && frag.get('token')) {
    sessionStorage.setItem('vigil-agent', JSON.stringify({ client: frag.get('client'), token: frag.get('token') }));
    // The token leaves the address bar (history, screenshots, shoulder surfers).
    history.replaceState(null, '', location.pathname);
  }
  try {
    return JSON.parse(sessionStorage.getItem('vigil-agent') ?? 'null');
  } catch {
    return null;
  }
}

function setConn(text, on) {
  $('#conn-text').textContent = text;
  $('#conn-dot').classList.toggle('on', on);
}
function setState(text, cls) {
  const b = $('#state-badge');
  b.textContent = text;
  b.className = `badge ${cls}`;
}
function log(text) {
  const li = document.createElement('li');
  li.textContent = `${new Date().toLocaleTimeString()} — ${text}`;
  $('#log').prepend(li);
  while ($('#log').children.length > 50) $('#log').lastChild.remove();
}
function banner(kind, text, { id, ttlMs } = {}) {
  if (id) document.getElementById(id)?.remove();
  const el = document.createElement('div');
  el.className = `banner ${kind}`;
  if (id) el.id = id;
  const span = document.createElement('span');
  span.textContent = text;
  const close = document.createElement('button');
  close.className = 'small';
  close.textContent = 'Dismiss';
  close.onclick = () => el.remove();
  el.append(span, close);
  $('#banners').prepend(el);
  if (ttlMs) setTimeout(() => el.remove(), ttlMs);
  return el;
}

function send(msg) {
  if (ws?.readyState === WebSocket.OPEN) ws.send(JSON.stringify(msg));
}
function telemetry(event) {
  agent.telemetry.push(event);
  send({ type: 'telemetry', event, at: Date.now() });
  log(`reported ${event.replace('_', ' ')}`);
}

// ---------- camera ----------
async function startCamera() {
  try {
    stream = await navigator.mediaDevices.getUserMedia({ video: { width: { ideal: 640 }, height: { ideal: 480 } }, audio: false });
  } catch (err) {
    agent.cameraOk = false;
    banner('error', `No camera: ${err.message}. Vigil has been told.`, { id: 'camera-banner' });
    if (agent.connected) telemetry('camera_detached');
    setTimeout(startCamera, 3000);
    return;
  }
  video.srcObject = stream;
  const wasDown = agent.cameraOk === false && agent.telemetry.includes('camera_detached');
  agent.cameraOk = true;
  document.getElementById('camera-banner')?.remove();
  if (wasDown) telemetry('camera_attached');
  for (const track of stream.getVideoTracks()) {
    track.addEventListener('ended', () => {
      agent.cameraOk = false;
      banner('error', 'The camera stopped (unplugged or taken by another program). Vigil has been told.', { id: 'camera-banner' });
      telemetry('camera_detached');
      setTimeout(startCamera, 3000);
    });
  }
}

async function grabFrame() {
  if (!agent.cameraOk || video.readyState < 2 || !video.videoWidth) return;
  // Latest wins on the server too: never queue frames behind a slow link.
  if (!ws || ws.readyState !== WebSocket.OPEN || ws.bufferedAmount > 256 * 1024) return;
  const w = Math.min(640, video.videoWidth);
  canvas.width = w;
  canvas.height = Math.round((video.videoHeight * w) / video.videoWidth);
  canvas.getContext('2d').drawImage(video, 0, 0, canvas.width, canvas.height);
  const blob = await new Promise((resolve) => canvas.toBlob(resolve, 'image/jpeg', 0.8));
  if (!blob || ws?.readyState !== WebSocket.OPEN) return;
  ws.send(await blob.arrayBuffer());
  agent.framesSent++;
  $('#frames-sent').textContent = String(agent.framesSent);
}

// ---------- actions ----------
function showLock(message) {
  agent.locked = true;
  $('#lock-message').textContent = message;
  $('#lock').classList.remove('hidden');
}
function hideLock() {
  agent.locked = false;
  $('#lock').classList.add('hidden');
}
function signOut(message) {
  agent.signedOut = true;
  stop();
  $('#signed-out-message').textContent = message;
  $('#signed-out').classList.remove('hidden');
  setConn('signed out', false);
}

function onAction(msg) {
  send({ type: 'ack', id: msg.id });
  const action = ACTIONS[msg.action] ?? `action ${msg.action}`;
  const reason = REASONS[msg.reason] ?? `reason ${msg.reason}`;
  agent.actions.push({ id: msg.id, action, reason, message: msg.message, at: msg.at });
  $('#actions-received').textContent = String(agent.actions.length);
  log(`${action.replace('ACTION_', '').replace('_', ' ').toLowerCase()}: ${msg.message || reason}`);
  if (msg.reason === R.REASON_PAUSED_CLIENT) {
    agent.paused = true;
    setState('paused', 'paused');
    banner('info', msg.message || 'Monitoring has been paused by an administrator.', { id: 'paused-banner' });
  } else if (msg.reason === R.REASON_RESUME_CLIENT) {
    agent.paused = false;
    setState('active', 'active');
    document.getElementById('paused-banner')?.remove();
    hideLock();
    banner('info', msg.message || 'Monitoring has resumed.', { ttlMs: 8000 });
  } else if (msg.reason === R.REASON_BLOCKED_CLIENT) {
    setState('blocked', 'blocked');
  }
  if (msg.action === A.ACTION_WARNING) banner('warning', msg.message || reason, { ttlMs: 15000 });
  else if (msg.action === A.ACTION_LOCK_SCREEN) showLock(msg.message || reason);
  else if (msg.action === A.ACTION_SIGN_OUT) signOut(msg.message || reason);
  else if (msg.action === A.ACTION_ERROR) banner('error', msg.message || reason, { ttlMs: 15000 });
}

// ---------- socket ----------
function connect() {
  if (stopped) return;
  clearTimeout(reconnectTimer);
  setConn('connecting…', false);
  const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}${config.socketPath}`;
  ws = new WebSocket(url);
  ws.binaryType = 'arraybuffer';
  ws.onopen = () => send({ type: 'hello', v: 1, client: creds.client, token: creds.token, agent: 'vigil-browser/1' });
  ws.onmessage = (ev) => {
    if (typeof ev.data !== 'string') return;
    let msg;
    try {
      msg = JSON.parse(ev.data);
    } catch {
      return;
    }
    if (msg.type === 'welcome') {
      attempt = 0;
      agent.connected = true;
      setConn('connected', true);
      if (!agent.paused) setState('active', 'active');
      log('connected to Vigil');
      clearInterval(frameTimer);
      clearInterval(heartbeatTimer);
      frameTimer = setInterval(() => grabFrame().catch(() => {}), config.frameIntervalMs);
      heartbeatTimer = setInterval(() => send({ type: 'heartbeat' }), msg.heartbeatMs ?? 1000);
      if (!agent.cameraOk) telemetry('camera_detached');
      if (wasOffline) {
        telemetry('network_restored');
        wasOffline = false;
      }
    } else if (msg.type === 'action') onAction(msg);
    else if (msg.type === 'burst') burst(msg.frames, msg.fps);
    else if (msg.type === 'error') {
      agent.errors.push(msg);
      $('#last-error').textContent = msg.message;
      if (msg.code !== 'rate_limited') log(`server: ${msg.message}`);
    }
  };
  ws.onclose = (ev) => {
    agent.connected = false;
    clearInterval(frameTimer);
    clearInterval(heartbeatTimer);
    if (stopped) return;
    if (FATAL_CLOSE.has(ev.code)) {
      setConn('refused', false);
      sessionStorage.removeItem('vigil-agent');
      banner('error', ev.code === 4001 ? 'The client id or token was refused. Ask an administrator for a new agent link.' : `Connection refused: ${ev.reason}`, { id: 'auth-banner' });
      showSetup();
      return;
    }
    if (ev.code === 4003) {
      setState('blocked', 'blocked');
      showLock(ev.reason || 'This workstation has been blocked by an administrator.');
    }
    // Exponential backoff with jitter, so a restarted server is not hit by every agent at once.
    const delay = Math.min(15000, 500 * 2 ** attempt) * (0.5 + Math.random() / 2);
    attempt++;
    setConn(`reconnecting in ${Math.round(delay / 1000)} s`, false);
    reconnectTimer = setTimeout(connect, delay);
  };
}

function burst(frames, fps) {
  let left = Math.min(frames, 30);
  const t = setInterval(() => {
    if (left-- <= 0) return clearInterval(t);
    grabFrame().catch(() => {});
  }, Math.max(50, 1000 / Math.max(1, fps)));
}

function stop() {
  stopped = true;
  clearInterval(frameTimer);
  clearInterval(heartbeatTimer);
  clearTimeout(reconnectTimer);
  ws?.close(1000, 'agent stopped');
  stream?.getTracks().forEach((t) => t.stop());
}

function showSetup() {
  $('#running').classList.add('hidden');
  $('#setup').classList.remove('hidden');
}

async function start() {
  $('#setup').classList.add('hidden');
  $('#running').classList.remove('hidden');
  $('#client-name').textContent = creds.client;
  stopped = false;
  try {
    const r = await fetch('/agent/config.json');
    if (r.ok) config = { ...config, ...(await r.json()) };
  } catch {}
  await startCamera();
  connect();
}

$('#setup').addEventListener('submit', (e) => {
  e.preventDefault();
  creds = { client: $('#client').value.trim(), token: $('#token').value.trim() };
  sessionStorage.setItem('vigil-agent', JSON.stringify(creds));
  document.getElementById('auth-banner')?.remove();
  start();
});
$('#unlock').addEventListener('click', hideLock);
$('#restart').addEventListener('click', () => location.reload());
window.addEventListener('offline', () => {
  wasOffline = true;
  banner('warning', 'The network connection was lost; Vigil will be told when it is back.', { id: 'net-banner', ttlMs: 30000 });
});
window.addEventListener('online', () => document.getElementById('net-banner')?.remove());

creds = readCredentials();
if (creds) start();
else showSetup();
