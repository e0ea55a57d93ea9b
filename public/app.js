// The lakechat demo page: only the public HTTP API (docs/api.md) and WebSocket protocol
// (docs/protocol.md). One WebSocket subscription to everything of the user builds the page's state
// from the events; it reconnects by itself and resumes after the last cursor it processed.

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
// Deployed, the Databricks Apps proxy says who the user is; locally a demo user stands in.
const deployed = location.hostname.endsWith('.databricksapps.com');
const user = params.get('user') ?? localStorage.getItem('lakechat.user') ?? (deployed ? '' : 'alice@example.com');

const chats = new Map(); // chatId -> { id, title, preview, at }
const messages = new Map(); // chatId -> Map(messageId -> message), in arrival (= store) order
let openChat = null;
let lastCursor = null; // the last event (or caught_up) processed: where a reconnect resumes
let socket = null;
let retryDelay = 250;
let typingTimer = null;
let lastTypingSent = 0;

function headers(json) {
  const h = {};
  if (user !== '') h['x-demo-user'] = user;
  if (json) h['content-type'] = 'application/json';
  return h;
}

async function api(method, path, body) {
  const response = await fetch(path, { method, headers: headers(body !== undefined), body: body === undefined ? undefined : JSON.stringify(body) });
  const payload = response.status === 204 ? null : await response.json();
  if (!response.ok) throw new Error(payload?.error?.code ?? `HTTP ${response.status}`);
  return payload;
}

function showError(error) {
  $('error').textContent = error === null ? '' : String(error.message ?? error);
}

function setStatus(state, text) {
  $('status').dataset.state = state;
  $('status').textContent = text;
}

// ---- rendering --------------------------------------------------------------------------------

function renderChats() {
  const list = $('chats');
  list.replaceChildren(
    ...[...chats.values()]
      .sort((a, b) => (a.at < b.at ? 1 : a.at > b.at ? -1 : 0))
      .map((chat) => {
        const item = document.createElement('li');
        item.dataset.chatId = chat.id;
        if (chat.id === openChat) item.className = 'open';
        const title = document.createElement('span');
        title.className = 'title';
        title.textContent = chat.title;
        const preview = document.createElement('span');
        preview.className = 'preview';
        preview.textContent = chat.preview ?? 'no messages yet';
        item.append(title, preview);
        item.addEventListener('click', () => open(chat.id));
        return item;
      }),
  );
}

function renderMessages() {
  const chat = openChat === null ? undefined : chats.get(openChat);
  $('chat-title').textContent = chat === undefined ? 'Pick or start a chat' : chat.title;
  $('post').hidden = chat === undefined;
  const list = $('messages');
  const shown = chat === undefined ? [] : [...(messages.get(chat.id)?.values() ?? [])];
  list.replaceChildren(
    ...shown.map((message) => {
      const item = document.createElement('li');
      const meta = document.createElement('span');
      meta.className = 'meta';
      meta.textContent = `#${message.position} · ${message.role} · ${new Date(message.at).toLocaleTimeString()}`;
      const text = document.createElement('span');
      text.className = 'content';
      text.textContent = message.content;
      item.append(meta, text);
      return item;
    }),
  );
  list.scrollTop = list.scrollHeight;
}

function open(chatId) {
  openChat = chatId;
  $('typing').textContent = '';
  renderChats();
  renderMessages();
  $('content').focus();
}

// ---- events from the store --------------------------------------------------------------------

function apply(frame) {
  const data = frame.data;
  switch (frame.eventType) {
    case 'ChatStarted':
      chats.set(data.chatId, { id: data.chatId, title: data.title, preview: null, at: frame.recordedAt });
      break;
    case 'ChatRenamed': {
      const chat = chats.get(data.chatId);
      if (chat !== undefined) chat.title = data.title;
      break;
    }
    case 'MessagePosted': {
      let list = messages.get(data.chatId);
      if (list === undefined) messages.set(data.chatId, (list = new Map()));
      list.set(data.messageId, { position: data.position, role: data.role, content: data.content, at: frame.recordedAt });
      const chat = chats.get(data.chatId);
      if (chat !== undefined) Object.assign(chat, { preview: data.content.slice(0, 80), at: frame.recordedAt });
      break;
    }
    case 'ChatDeleted':
      chats.delete(data.chatId);
      messages.delete(data.chatId);
      if (openChat === data.chatId) openChat = null;
      break;
    default:
      return; // profile events and anything newer: not shown here
  }
}

let renderQueued = false;
function renderSoon() {
  if (renderQueued) return;
  renderQueued = true;
  requestAnimationFrame(() => {
    renderQueued = false;
    renderChats();
    renderMessages();
  });
}

function showTyping(frame) {
  if (frame.kind !== 'typing' || frame.chatId !== openChat) return;
  $('typing').textContent = `${frame.data?.name || 'someone'} is typing…`;
  clearTimeout(typingTimer);
  typingTimer = setTimeout(() => ($('typing').textContent = ''), 3000);
}

// ---- the WebSocket ----------------------------------------------------------------------------

function connect() {
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  const query = user === '' ? '' : `?user=${encodeURIComponent(user)}`;
  socket = new WebSocket(`${scheme}://${location.host}/ws${query}`);
  socket.addEventListener('open', () => {
    // After the last cursor processed: nothing missed, nothing twice (null: the whole history).
    socket.send(JSON.stringify({ type: 'subscribe', id: 'me', scope: 'user', after: lastCursor }));
  });
  socket.addEventListener('message', (message) => {
    const frame = JSON.parse(message.data);
    if (frame.type === 'event') {
      apply(frame);
      lastCursor = frame.cursor;
      renderSoon();
    } else if (frame.type === 'caught_up') {
      lastCursor = frame.cursor;
      retryDelay = 250;
      setStatus('live', 'live');
    } else if (frame.type === 'signal') {
      showTyping(frame);
    } else if (frame.type === 'error') {
      if (frame.id === 'me' && frame.code === 'LAKECHAT_ERR_STORE_INVALID_CURSOR') {
        // A cursor this database never issued (it was reset): start over from the beginning.
        lastCursor = null;
        chats.clear();
        messages.clear();
        socket.send(JSON.stringify({ type: 'subscribe', id: 'me', scope: 'user', after: null }));
      } else {
        showError(new Error(frame.code));
      }
    }
  });
  socket.addEventListener('close', (event) => {
    // 4400-4499, 1008, 1009: something must change first (docs/protocol.md); anything else: resume.
    if ((event.code >= 4400 && event.code <= 4499) || event.code === 1008 || event.code === 1009) {
      setStatus('stopped', `disconnected: ${event.reason || event.code}`);
      return;
    }
    setStatus('reconnecting', 'reconnecting…');
    setTimeout(connect, retryDelay);
    retryDelay = Math.min(retryDelay * 2, 5000);
  });
}

// ---- what the user does -----------------------------------------------------------------------

$('user').value = [...$('user').options].some((option) => option.value === user) ? user : '';
$('user').addEventListener('change', () => {
  localStorage.setItem('lakechat.user', $('user').value);
  location.search = $('user').value === '' ? '' : `?user=${encodeURIComponent($('user').value)}`;
});

$('new-chat').addEventListener('submit', async (event) => {
  event.preventDefault();
  const title = $('new-title').value.trim();
  try {
    const chat = await api('POST', '/api/chats', title === '' ? {} : { title });
    if (!chats.has(chat.id)) chats.set(chat.id, { id: chat.id, title: chat.title, preview: null, at: chat.createdAt });
    $('new-title').value = '';
    showError(null);
    open(chat.id);
  } catch (error) {
    showError(error);
  }
});

$('post').addEventListener('submit', async (event) => {
  event.preventDefault();
  const content = $('content').value;
  if (content.trim() === '' || openChat === null) return;
  const chatId = openChat;
  $('content').value = '';
  // The same clientMessageId on every attempt: a retry after a lost answer posts nothing twice.
  const clientMessageId = crypto.randomUUID();
  for (let attempt = 0; ; attempt += 1) {
    try {
      await api('POST', `/api/chats/${encodeURIComponent(chatId)}/messages`, { content, clientMessageId });
      showError(null);
      return;
    } catch (error) {
      if (!(error instanceof TypeError) || attempt >= 5) return showError(error); // TypeError: the network
      await new Promise((resolve) => setTimeout(resolve, 500 * (attempt + 1)));
    }
  }
});

$('content').addEventListener('input', () => {
  const now = Date.now();
  if (openChat === null || socket?.readyState !== WebSocket.OPEN || now - lastTypingSent < 1000) return;
  lastTypingSent = now;
  socket.send(JSON.stringify({ type: 'signal', chatId: openChat, kind: 'typing', data: { name: user || 'someone' } }));
});

try {
  const { chats: listed } = await api('GET', '/api/chats?limit=100');
  for (const chat of listed) chats.set(chat.id, { id: chat.id, title: chat.title, preview: chat.lastMessage?.preview ?? null, at: chat.updatedAt });
  renderChats();
} catch (error) {
  showError(error);
}
connect();
