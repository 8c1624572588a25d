// Tiny DOM helpers: build elements from text, never from markup.

/** `h('dt', {class: 'x'}, 'text', childNode)`; strings become text nodes. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'hidden') el.hidden = true;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export const $ = (id) => document.getElementById(id);

export function setText(id, text) {
  const el = $(id);
  if (el) el.textContent = text ?? '';
  return el;
}

/** Asks the service worker; resolves to `data`, rejects with its error message. */
export async function ask(type, params = {}) {
  return answer(await chrome.runtime.sendMessage({ type, ...params }));
}

/** The data of the worker's reply to a message, or its error thrown. */
export function answer(reply) {
  if (!reply) throw new Error('no answer from the Gatehouse service worker');
  if (!reply.ok) throw new Error(reply.error);
  return reply.data;
}
