// Messages → DOM. Markdown goes through markdown-it with raw HTML off, so text from the model or
// a participant can never become markup; everything else is set as textContent.
import markdownit from '/vendor/markdown-it.js';

const md = markdownit({ html: false, linkify: true, breaks: true });
const defaultLink = md.renderer.rules.link_open ?? ((tokens, idx, options, env, self) => self.renderToken(tokens, idx, options));
md.renderer.rules.link_open = (tokens, idx, options, env, self) => {
  tokens[idx].attrSet('target', '_blank');
  tokens[idx].attrSet('rel', 'noopener noreferrer nofollow');
  return defaultLink(tokens, idx, options, env, self);
};

export function renderMarkdown(element, text) {
  element.innerHTML = md.render(text);
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function time(ms) {
  return new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

/** One message (a participant's or an answer) as an article; `entry` is the API's ThreadEntry. `onControl` presses an answer's buttons. */
export function messageElement(entry, onControl) {
  const isBot = entry.author.kind === 'self';
  const article = el('article', `message ${isBot ? 'bot' : 'user'}`);
  article.dataset.messageId = entry.messageId;
  const head = el('header');
  head.append(el('span', 'author', isBot ? 'threadline' : entry.author.name), el('time', 'muted', time(entry.createdAt)));
  const body = el('div', 'body markdown');
  if (isBot && entry.text === '') body.append(el('em', 'muted', 'No answer was given (it failed, or was stopped).'));
  else renderMarkdown(body, entry.text);
  article.append(head, body);
  if (entry.attachments.length > 0) article.append(attachmentsElement(entry.attachments));
  if (isBot && entry.controls) article.append(controlsElement(entry.controls, onControl));
  return article;
}

const CONTROL_BUTTONS = [
  ['regen', '🔄 Regenerate', 'Regenerate this answer'],
  ['up', '👍', 'This answer helped'],
  ['down', '👎', 'This answer did not help'],
];

/**
 * The buttons under a finished answer. `controls` holds the ids the server gave (the core's
 * control ids); `onControl(id, buttons)` sends a press and shows the reply with `showControlReply`.
 */
export function controlsElement(controls, onControl) {
  const bar = el('div', 'controls');
  for (const [action, label, title] of CONTROL_BUTTONS) {
    if (!controls[action]) continue;
    const button = el('button', `control ${action}`, label);
    button.type = 'button';
    button.title = title;
    button.setAttribute('aria-label', title);
    button.dataset.control = controls[action];
    button.addEventListener('click', () => onControl(controls[action], bar));
    bar.append(button);
  }
  bar.append(el('span', 'control-reply muted'));
  bar.lastChild.setAttribute('role', 'status');
  return bar;
}

/** What the core answered to a press, for the presser alone and only for a while (like an ephemeral message). */
export function showControlReply(bar, text, failed = false) {
  const status = bar.querySelector('.control-reply');
  status.textContent = text;
  status.classList.toggle('error', failed);
  clearTimeout(status.hideTimer);
  status.hideTimer = setTimeout(() => {
    status.textContent = '';
  }, 8000);
}

export function attachmentsElement(attachments) {
  const list = el('div', 'attachments');
  for (const file of attachments) {
    if (file.mediaType && file.mediaType.startsWith('image/')) {
      const img = el('img');
      img.src = file.url;
      img.alt = file.name;
      img.title = file.name;
      list.append(img);
    } else {
      const link = el('a', 'file', `📄 ${file.name}`);
      link.href = file.url;
      link.download = file.name;
      list.append(link);
    }
  }
  return list;
}

/** An answer while it streams: text so far, a Stop button, and later the final text or an error. */
export function replyElement(replyId, onStop) {
  const article = el('article', 'message bot streaming');
  article.dataset.replyId = replyId;
  const head = el('header');
  const stop = el('button', 'stop', 'Stop');
  stop.type = 'button';
  stop.addEventListener('click', () => onStop(replyId));
  head.append(el('span', 'author', 'threadline'), el('span', 'muted thinking', 'thinking…'), stop);
  const body = el('div', 'body markdown');
  article.append(head, body);
  return article;
}

export function updateReply(article, text) {
  article.querySelector('.thinking')?.remove();
  renderMarkdown(article.querySelector('.body'), text);
}

/** A finished answer; one that did not fail gets its buttons (`controls`, pressed through `onControl`). */
export function finishReply(article, text, note, failed, controls, onControl) {
  article.classList.remove('streaming');
  article.querySelector('.stop')?.remove();
  article.querySelector('.thinking')?.remove();
  article.querySelector('header').append(el('time', 'muted', time(Date.now())));
  if (failed) {
    article.classList.add('failed');
    article.querySelector('.body').textContent = text;
  } else {
    renderMarkdown(article.querySelector('.body'), text);
  }
  if (note) article.append(el('p', 'note muted', note));
  if (!failed && controls) article.append(controlsElement(controls, onControl));
}
