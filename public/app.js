// The lakechat demo page, on the client package (@lakechat/client, served bundled as
// /demo/lakechat-client.js). One subscription to everything of the user builds the page's state from
// the events; the client reconnects by itself, resumes after the last event, sends each post exactly
// once (kept in localStorage until the server has it) and tells the page when the server refused its
// cursor (the server moved to another store): the page then starts over from the new store.
import { LakechatClient, localStorageOutbox } from '/demo/lakechat-client.js';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
// Deployed, the Databricks Apps proxy says who the user is; locally a demo user stands in.
const deployed = location.hostname.endsWith('.databricksapps.com');
const user = params.get('user') ?? localStorage.getItem('lakechat.user') ?? (deployed ? '' : 'alice@example.com');

const chats = new Map(); // chatId -> { id, title, preview, at }
const messages = new Map(); // chatId -> Map(messageId -> message), in arrival (= log) order
const shownAt = new Map(); // log position -> what the page shows of that event, to drop it if it is erased
let openChat = null;
let typingTimer = null;
let lastTypingSent = 0;

// ---- what the page says ----------------------------------------------------------------------

/** Error codes as sentences a user can act on; anything else shows the server's own sentence. */
const sentences = {
  LAKECHAT_ERR_AUTH_MISSING_IDENTITY: 'The server does not know who you are. Pick a demo user above, or open the page through Databricks Apps.',
  LAKECHAT_ERR_AUTH_INVALID_IDENTITY: 'This user name is not valid. Pick a demo user above.',
  LAKECHAT_ERR_WS_FORBIDDEN_ORIGIN: 'The server does not accept live connections from this address (see WS_ALLOWED_ORIGINS).',
  LAKECHAT_ERR_WS_TOO_MANY_CONNECTIONS: 'Too many tabs are open for this user. Close a few, then reload this one.',
  LAKECHAT_ERR_CHAT_NOT_FOUND: 'This chat no longer exists.',
  LAKECHAT_ERR_CHAT_DELETED: 'This chat was deleted and takes no more messages.',
  LAKECHAT_ERR_CHAT_MESSAGE_TOO_LARGE: 'This message is too long to send.',
  LAKECHAT_ERR_HTTP_VALIDATION: 'That was not accepted: check what you typed.',
  LAKECHAT_ERR_HTTP_RATE_LIMITED: 'Too many requests at once. Wait a moment and try again.',
  LAKECHAT_CLIENT_NETWORK: 'The server cannot be reached. Try again in a moment.',
};

function sentenceFor(error) {
  const known = sentences[error?.code];
  if (known !== undefined) return known;
  const message = String(error?.message ?? error ?? '');
  // The server's messages are sentences; a bare code or an empty message is not one.
  return message === '' || /^[A-Z0-9_]+$/.test(message) ? 'Something went wrong. Reload the page to try again.' : message;
}

function showError(error) {
  $('error').textContent = error === null ? '' : sentenceFor(error);
}

function showNotice(text) {
  $('notice').textContent = text;
  $('notice').hidden = text === '';
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
  showError(null);
  renderChats();
  renderMessages();
  $('content').focus();
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

// ---- events from the log ----------------------------------------------------------------------

function apply(event) {
  const data = event.data;
  switch (event.eventType) {
    case 'ChatStarted':
      chats.set(data.chatId, { id: data.chatId, title: data.title, preview: null, at: event.recordedAt });
      shownAt.set(event.position, { chatId: data.chatId });
      break;
    case 'ChatRenamed': {
      const chat = chats.get(data.chatId);
      if (chat !== undefined) chat.title = data.title;
      shownAt.set(event.position, { chatId: data.chatId, title: true });
      break;
    }
    case 'MessagePosted': {
      let list = messages.get(data.chatId);
      if (list === undefined) messages.set(data.chatId, (list = new Map()));
      list.set(data.messageId, { position: data.position, role: data.role, content: data.content, at: event.recordedAt });
      shownAt.set(event.position, { chatId: data.chatId, messageId: data.messageId });
      const chat = chats.get(data.chatId);
      if (chat !== undefined) Object.assign(chat, { preview: data.content.slice(0, 80), at: event.recordedAt });
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

/**
 * An erased event (a tombstone: its content is gone). The client hands it here instead of to
 * `apply`, so its empty data never becomes a chat or a message; if the page shows that event, it
 * drops it: a message, a chat's title, or a chat with its messages.
 */
function drop(event) {
  const shown = shownAt.get(event.position);
  if (shown === undefined) return;
  shownAt.delete(event.position);
  const chat = chats.get(shown.chatId);
  if (shown.messageId !== undefined) {
    const list = messages.get(shown.chatId);
    list?.delete(shown.messageId);
    const last = list === undefined ? undefined : [...list.values()].at(-1);
    if (chat !== undefined) chat.preview = last === undefined ? null : last.content.slice(0, 80);
  } else if (shown.title === true) {
    if (chat !== undefined) chat.title = '(title erased)';
  } else {
    chats.delete(shown.chatId);
    messages.delete(shown.chatId);
    if (openChat === shown.chatId) openChat = null;
  }
}

function showTyping(signal) {
  if (signal.kind !== 'typing' || signal.chatId !== openChat) return;
  $('typing').textContent = `${signal.data?.name || 'someone'} is typing…`;
  clearTimeout(typingTimer);
  typingTimer = setTimeout(() => ($('typing').textContent = ''), 3000);
}

// ---- the client -------------------------------------------------------------------------------

const client = new LakechatClient({
  ...(user === '' ? {} : { user }),
  // A demo wants to be back soon after a restart: cap the reconnection delay at 5 s (default 10 s).
  reconnect: { maxDelayMs: 5000 },
  // A post the server has not acknowledged survives a reload, and is sent again (it lands once).
  outbox: localStorageOutbox({ key: `lakechat.outbox.${user || 'signed-in'}` }),
});

client.on('state', (state) => {
  if (state === 'connecting') setStatus('connecting', 'connecting…');
  else if (state === 'reconnecting') setStatus('reconnecting', 'reconnecting…');
  else if (state === 'closed') setStatus('stopped', 'offline');
  // 'open': "live" once the subscription has caught up (onCaughtUp)
});
client.on('error', showError);

client.subscribe(
  { scope: 'user', after: null },
  {
    onEvent(event) {
      apply(event);
      renderSoon();
    },
    onErased(event) {
      drop(event);
      renderSoon();
    },
    onCaughtUp() {
      setStatus('live', 'live');
    },
    onReset() {
      // The server no longer knows our place in its log (it moved to another store, or its history was
      // erased): what the page shows may not exist any more. Start over from what the server has now.
      chats.clear();
      messages.clear();
      shownAt.clear();
      openChat = null;
      setStatus('connecting', 'reloading…');
      showNotice('The server moved to another store: the page now shows what that store holds.');
      renderSoon();
    },
    onSignal: showTyping,
    onError: showError,
  },
);

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
    const chat = await client.chats.create(title === '' ? {} : { title });
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
  $('content').value = '';
  try {
    // Sent now or after the next reconnection, with the same client message id until acknowledged.
    await client.post(openChat, { content });
    showError(null);
  } catch (error) {
    showError(error);
  }
});

$('content').addEventListener('input', () => {
  const now = Date.now();
  if (openChat === null || now - lastTypingSent < 1000) return;
  if (client.signal(openChat, 'typing', { name: user || 'someone' })) lastTypingSent = now;
});

$('notice').addEventListener('click', () => showNotice(''));
renderMessages();
