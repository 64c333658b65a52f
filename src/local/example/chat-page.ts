/**
 * The chat page the example backend (`chat.ts`) serves: the first thing many people see of this server. It checks
 * the room before connecting, shows the connection's state in one status line and backs off (1 s, 2 s, 4 s … 30 s)
 * while the server cannot be reached, queues what is typed while disconnected and sends it on reconnect, refuses a
 * message that is too long with the reason, and resumes after the last message it saw (`?last=<id>`). Everything
 * received is shown with `textContent`, never parsed as HTML. `tests/browser/chat.test.ts` drives it in Chromium.
 */
import { MAX_MESSAGE_BYTES } from '../../client/index.js';

/** Room names the backend accepts (as a RegExp source, shared with the page). */
export const ROOM_PATTERN = '^[A-Za-z0-9_-]{1,64}$';
/** What a valid room is, for the page and the backend's 400. */
export const ROOM_RULE = 'a room name is 1 to 64 letters, digits, - or _';
/** The longest text a chat message may carry: the server's per-message limit less room for the JSON envelope. */
export const MAX_CHAT_TEXT_BYTES = MAX_MESSAGE_BYTES - 1024;

/**
 * The page's HTML, with the WebSocket base URL the browser should connect to.
 *
 * @example
 * new Response(chatPage('ws://127.0.0.1:8080'), { headers: { 'content-type': 'text/html; charset=utf-8' } });
 */
export function chatPage(websocketUrl: string): string {
  const config = JSON.stringify({ websocketUrl, roomPattern: ROOM_PATTERN, roomRule: ROOM_RULE, maxBytes: MAX_CHAT_TEXT_BYTES });
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>GRIP chat</title>
<style>
*{box-sizing:border-box}
body{margin:0 auto;max-width:44rem;height:100vh;height:100dvh;display:flex;flex-direction:column;padding:.75rem;font:16px/1.4 system-ui,sans-serif}
h1{font-size:1.3rem;margin:0}
p{margin:.25rem 0;font-size:.9rem;color:#444}
#status{margin:.5rem 0;padding:.4rem .6rem;border-radius:.3rem;background:#eef1f8;font-size:.9rem;display:flex;gap:.5rem;align-items:center;flex-wrap:wrap}
#status.ok{background:#e6f4ea;color:#1e5b2c}
#status.bad{background:#fdecea;color:#8a1f17}
#status button{font-size:.85rem;padding:.1rem .5rem}
#log{flex:1;min-height:8rem;overflow-y:auto;border:1px solid #ccc;border-radius:.3rem;padding:.5rem;white-space:pre-wrap;overflow-wrap:anywhere;word-break:break-word}
#log div{margin:.1rem 0}
.who{font-weight:600}
.sys{color:#666;font-style:italic}
.err{color:#a1261b}
.pending{color:#888}
form{display:flex;gap:.5rem;margin-top:.5rem}
#text{flex:1;min-width:0;font-size:16px;padding:.5rem}
form button{font-size:16px;padding:.5rem 1rem}
</style></head><body>
<h1>GRIP chat</h1>
<p>Room <b id="room"></b>. Open this page in a second tab (add <code>?room=NAME&amp;name=YOU</code> to the URL) and talk.</p>
<div id="status" role="status"><span id="state">Starting…</span> <button id="retry" type="button" hidden>Retry now</button></div>
<div id="log" aria-live="polite"></div>
<form id="form"><input id="text" autocomplete="off" placeholder="say something" aria-label="message" autofocus><button id="send">Send</button></form>
<script>
const config = ${config.replace(/</g, '\\u003c')};
const params = new URLSearchParams(location.search);
const room = params.has('room') ? params.get('room') : 'lobby';
const name = params.get('name') || '';
const els = { room: document.getElementById('room'), status: document.getElementById('status'), state: document.getElementById('state'),
  retry: document.getElementById('retry'), log: document.getElementById('log'), form: document.getElementById('form'), text: document.getElementById('text'), send: document.getElementById('send') };
els.room.textContent = room;
const utf8 = new TextEncoder();
const seen = new Set();
const outbox = [];
let ws = null, lastId = null, failures = 0, everConnected = false, connected = false, timer = null;

function line(parts, cls) {
  const div = document.createElement('div');
  if (cls) div.className = cls;
  for (const [text, partCls] of parts) { const span = document.createElement('span'); span.textContent = text; if (partCls) span.className = partCls; div.append(span); }
  const atBottom = els.log.scrollTop + els.log.clientHeight >= els.log.scrollHeight - 4;
  els.log.append(div);
  if (atBottom) els.log.scrollTop = els.log.scrollHeight;
  return div;
}
const sys = (text, cls = 'sys') => line([[text]], cls);
function status(text, kind) { els.state.textContent = text; els.status.className = kind || ''; }

if (!new RegExp(config.roomPattern).test(room)) {
  status('Cannot join room "' + room + '": ' + config.roomRule + '. Try ?room=lobby.', 'bad');
  els.text.disabled = true; els.send.disabled = true;
} else {
  connect();
}

function connect() {
  clearTimeout(timer); timer = null;
  els.retry.hidden = true;
  const url = new URL(config.websocketUrl);
  url.pathname = '/chat';
  url.search = '';
  url.searchParams.set('room', room);
  if (name) url.searchParams.set('name', name);
  if (lastId) url.searchParams.set('last', lastId);
  status(failures === 0 ? 'Connecting…' : 'Connecting… (attempt ' + (failures + 1) + ')');
  let opened = false;
  ws = new WebSocket(url);
  ws.onopen = () => {
    opened = true; connected = true; failures = 0;
    status('Connected to ' + room + '.', 'ok');
    if (everConnected) sys('reconnected');
    everConnected = true;
    while (outbox.length > 0) { const item = outbox.shift(); ws.send(item.text); item.line.remove(); }
  };
  ws.onmessage = (e) => receive(e.data);
  ws.onclose = (e) => {
    connected = false;
    if (opened) sys('disconnected (' + e.code + (e.reason ? ': ' + e.reason : '') + ')');
    const delay = Math.min(30, 2 ** failures);
    failures++;
    const why = opened ? 'Connection lost' : 'Cannot reach the chat server (the connection was refused or the server is down)';
    countdown(why, delay);
  };
}

function countdown(why, seconds) {
  els.retry.hidden = false;
  status(why + '. Retrying in ' + seconds + ' s.', 'bad');
  timer = setTimeout(() => (seconds > 1 ? countdown(why, seconds - 1) : connect()), 1000);
}
els.retry.onclick = () => connect();

function receive(data) {
  let m;
  try { m = JSON.parse(data); } catch { line([[String(data)]]); return; }
  if (m.type === 'message') {
    if (seen.has(m.id)) return;
    seen.add(m.id); lastId = m.id;
    line([[m.name + ': ', 'who'], [m.text]]);
  } else if (m.type === 'welcome') {
    status('Connected to ' + m.room + ' as ' + m.name + '.', 'ok');
  } else if (m.type === 'error') {
    sys(m.text, 'err');
  } else if (m.type === 'gap') {
    sys('Some messages were missed while disconnected and can no longer be fetched.');
  } else {
    line([[String(data)]]);
  }
}

els.form.onsubmit = (e) => {
  e.preventDefault();
  const text = els.text.value;
  if (text === '') return;
  const bytes = utf8.encode(text).length;
  if (bytes > config.maxBytes) {
    sys('Not sent: the message is ' + bytes.toLocaleString('en') + ' bytes; a chat message may have at most ' + config.maxBytes.toLocaleString('en') + ' (the server takes 128 KB per message). Shorten it and send again.', 'err');
    return;
  }
  if (connected && ws.readyState === WebSocket.OPEN) ws.send(text);
  else outbox.push({ text, line: line([['(waiting for the connection) ', 'who'], [text]], 'pending') });
  els.text.value = '';
};
</script></body></html>`;
}
