// The playground page: threads in the sidebar, the open thread, the composer, participants.
// State lives on the server (threads, messages, files) and in localStorage (who you are).
import * as api from './api.js';
import { setupAdmin } from './admin.js';
import { attachmentsElement, finishReply, messageElement, replyElement, showControlReply, updateReply } from './render.js';

const $ = (id) => document.getElementById(id);
const PEOPLE_KEY = 'threadline.participants';
const ME_KEY = 'threadline.me';

const state = {
  threadId: location.hash.startsWith('#t-') ? location.hash.slice(1) : null,
  people: JSON.parse(localStorage.getItem(PEOPLE_KEY) ?? 'null') ?? ['Alice', 'Bob'],
  me: localStorage.getItem(ME_KEY) ?? 'Alice',
  files: [],
  /** True while the open thread loads: its live events wait in `held` until it is on screen. */
  loading: false,
  /** Live events of threads not on screen (yet), newest last, so a thread opened late still streams. */
  held: [],
};
const HELD_MAX = 500;
const handlers = {};

// ---- participants -------------------------------------------------------------------------
function renderPeople() {
  const select = $('participant');
  select.replaceChildren(...state.people.map((name) => new Option(name, name, false, name === state.me)));
}

function addPerson(name, { become = true } = {}) {
  const clean = name.trim();
  if (clean === '') return;
  if (!state.people.some((person) => person.toLowerCase() === clean.toLowerCase())) state.people.push(clean);
  if (become) state.me = state.people.find((person) => person.toLowerCase() === clean.toLowerCase());
  localStorage.setItem(PEOPLE_KEY, JSON.stringify(state.people));
  localStorage.setItem(ME_KEY, state.me);
  renderPeople();
}

$('participant').addEventListener('change', (event) => {
  state.me = event.target.value;
  localStorage.setItem(ME_KEY, state.me);
});
$('add-participant').addEventListener('submit', (event) => {
  event.preventDefault();
  addPerson($('new-participant').value);
  $('new-participant').value = '';
});

// ---- threads ------------------------------------------------------------------------------
async function refreshThreads() {
  const { threads } = await api.listThreads();
  const nav = $('threads');
  nav.replaceChildren(
    ...threads.map((thread) => {
      const link = document.createElement('a');
      link.href = `#${thread.id}`;
      link.textContent = thread.title;
      link.className = thread.id === state.threadId ? 'thread active' : 'thread';
      link.dataset.threadId = thread.id;
      return link;
    }),
  );
  if (threads.length === 0) nav.append(Object.assign(document.createElement('p'), { className: 'muted', textContent: 'No threads yet.' }));
}

async function openThread(threadId) {
  state.threadId = threadId;
  const box = $('messages');
  box.replaceChildren();
  $('thread-title').textContent = 'New thread';
  for (const link of document.querySelectorAll('#threads .thread')) link.classList.toggle('active', link.dataset.threadId === threadId);
  if (threadId === null) return;
  state.loading = true;
  try {
    const { entries } = await api.readThread(threadId);
    if (state.threadId !== threadId) return;
    for (const entry of entries) showEntry(entry);
    // Whoever wrote in the thread can be switched to, also in a browser that never saw them.
    for (const entry of entries) if (entry.author.kind === 'user') addPerson(entry.author.name, { become: false });
    const first = entries.find((entry) => entry.author.kind !== 'self');
    $('thread-title').textContent = first ? titleOf(first) : 'Thread';
  } catch (error) {
    showError(error.message);
  } finally {
    if (state.threadId === threadId) {
      state.loading = false;
      const mine = state.held.filter((event) => event.data.threadId === threadId);
      state.held = state.held.filter((event) => event.data.threadId !== threadId);
      for (const event of mine) handlers[event.type](event.data);
    }
  }
}

function titleOf(entry) {
  const text = entry.text.replace(/[*_`#>~]+/g, '').replace(/\s+/g, ' ').trim() || entry.attachments[0]?.name || 'Thread';
  return text.length > 60 ? `${text.slice(0, 59)}…` : text;
}

function showEntry(entry) {
  const box = $('messages');
  if (box.querySelector(`[data-message-id="${CSS.escape(entry.messageId)}"], [data-reply-id="${CSS.escape(entry.messageId)}"]`)) return;
  box.append(messageElement(entry, pressControl));
  box.scrollTop = box.scrollHeight;
}

// ---- buttons on answers -------------------------------------------------------------------
/** Regenerate, 👍 or 👎, pressed as whoever you are now; the core's reply shows beside the buttons. */
async function pressControl(control, bar) {
  const buttons = bar.querySelectorAll('button');
  for (const button of buttons) button.disabled = true;
  try {
    const reply = await api.pressControl(state.me, control);
    // A regeneration answers by rewriting the answer (reply-start), not in words.
    if (reply.text) showControlReply(bar, reply.text);
  } catch (error) {
    showControlReply(bar, error.message, true);
  } finally {
    for (const button of buttons) button.disabled = false;
  }
}

window.addEventListener('hashchange', () => {
  const id = location.hash.startsWith('#t-') ? location.hash.slice(1) : null;
  if (id !== state.threadId) void openThread(id);
});
$('new-thread').addEventListener('click', () => {
  history.pushState(null, '', location.pathname);
  void openThread(null);
  $('text').focus();
});

// ---- live events --------------------------------------------------------------------------
function replyArticle(replyId) {
  return $('messages').querySelector(`[data-reply-id="${CSS.escape(replyId)}"]`);
}

/** An answer already on screen as a stored message (it finished before the thread loaded). */
function storedArticle(replyId) {
  return $('messages').querySelector(`[data-message-id="${CSS.escape(replyId)}"]`);
}

function storedReply(replyId) {
  return storedArticle(replyId) !== null;
}

function connect() {
  const events = new EventSource('/api/events');
  let opened = false;
  events.addEventListener('open', () => {
    $('connection').textContent = '';
    document.body.dataset.connected = 'true';
    // Back after a lost connection (a restart, say): catch up on what happened meanwhile.
    if (opened) {
      void refreshThreads();
      void openThread(state.threadId);
    }
    opened = true;
  });
  events.addEventListener('error', () => {
    $('connection').textContent = 'reconnecting…';
  });
  const on = (type, handler) => {
    handlers[type] = handler;
    events.addEventListener(type, (event) => {
      const data = JSON.parse(event.data);
      if (type === 'threads') return handler(data);
      if (data.threadId === state.threadId && !state.loading) return handler(data);
      state.held.push({ type, data });
      if (state.held.length > HELD_MAX) state.held.shift();
    });
  };
  on('threads', () => void refreshThreads());
  on('message', (data) => showEntry(data.entry));
  on('reply-start', (data) => {
    const stop = (replyId) => api.stopReply(replyId).catch(() => undefined);
    if (data.replaces) {
      // Regenerate: the new answer is written where the old one stands, whether streamed or loaded.
      const old = replyArticle(data.replyId) ?? storedArticle(data.replyId);
      if (old) return old.replaceWith(replyElement(data.replyId, stop));
    }
    if (replyArticle(data.replyId) || storedReply(data.replyId)) return;
    const box = $('messages');
    box.append(replyElement(data.replyId, stop));
    box.scrollTop = box.scrollHeight;
  });
  on('reply-progress', (data) => {
    const article = replyArticle(data.replyId);
    if (article) updateReply(article, data.text);
  });
  on('reply-done', (data) => {
    const article = replyArticle(data.replyId);
    if (article) finishReply(article, data.text, data.note, false, data.controls, pressControl);
    void refreshThreads();
  });
  on('reply-failed', (data) => {
    const article = replyArticle(data.replyId);
    if (article) finishReply(article, data.text, undefined, true);
  });
}

// ---- composer -----------------------------------------------------------------------------
function renderPendingFiles() {
  const box = $('pending-files');
  box.replaceChildren();
  if (state.files.length === 0) return;
  box.append(attachmentsElement(state.files.map((file) => ({ name: file.name, mediaType: file.mediaType, url: file.url }))));
}

$('file').addEventListener('change', async (event) => {
  showError('');
  for (const file of event.target.files) {
    try {
      state.files.push(await api.upload(file));
    } catch (error) {
      showError(error.message);
    }
  }
  event.target.value = '';
  renderPendingFiles();
});

function showError(text) {
  $('composer-error').textContent = text;
}

async function send() {
  const text = $('text').value;
  if (text.trim() === '' && state.files.length === 0) return;
  const message = { author: state.me, text, attachments: state.files.map((file) => file.id) };
  $('send').disabled = true;
  showError('');
  try {
    if (state.threadId === null) {
      const { threadId } = await api.startThread(message);
      history.pushState(null, '', `#${threadId}`);
      await openThread(threadId);
    } else {
      await api.postMessage(state.threadId, message);
    }
    $('text').value = '';
    state.files = [];
    renderPendingFiles();
  } catch (error) {
    showError(error.message);
  } finally {
    $('send').disabled = false;
  }
}

$('composer').addEventListener('submit', (event) => {
  event.preventDefault();
  void send();
});
$('text').addEventListener('keydown', (event) => {
  if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    void send();
  }
});

// ---- start --------------------------------------------------------------------------------
setupAdmin({
  dialog: $('admin'),
  openButton: $('open-admin'),
  closeButton: $('close-admin'),
  form: $('admin-form'),
  fieldsBox: $('admin-fields'),
  output: $('admin-output'),
  currentUser: () => state.me,
});
addPerson(state.me);
connect();
void refreshThreads();
void openThread(state.threadId);
