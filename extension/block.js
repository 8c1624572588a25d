// The block page. A declarativeNetRequest rule redirected the navigation here with the original
// URL in the fragment (`block.html#https://…`); the service worker explains the verdict, and
// this page renders it — text only, every label from _locales.

import { $, answer, ask, setText } from './js/dom.js';
import { formatDate, formatTime, localise, pickName, t } from './js/i18n.js';
import { REASONS } from './js/reasons.js';

/** Reasons a token for this service is not in force that the page explains in words. */
const APPROVAL_NOTES = new Set(['expired', 'revoked', 'not_yet_valid', 'other_user', 'other_machine', 'revocation_list_stale']);
/** Reason codes with a sentence of their own in _locales (`reason_<code>`). */
const KNOWN_REASONS = new Set(REASONS);

const blockedUrl = location.hash.slice(1);
let info = null;
let lastRecord = null;

localise();
render().catch(showError);

function show(id, visible = true) {
  $(id).hidden = !visible;
}

function showError(err) {
  show('loading', false);
  show('error');
  setText('error-text', t('errorText', err?.message ?? String(err)));
  document.body.dataset.state = 'error';
}

async function render() {
  let url;
  try {
    url = new URL(blockedUrl);
  } catch {
    throw new Error(`not a URL: ${blockedUrl.slice(0, 200)}`);
  }
  if (window.top !== window) {
    // Inside someone else's frame: say what happened, but keep the forms to a top-level page
    // (no click-jacking of "continue").
    show('loading', false);
    show('framed');
    $('open-in-tab').href = location.href;
    document.body.dataset.state = 'ready';
    return;
  }
  // Asked by js/early.js before the page was parsed.
  info = answer(await globalThis.gatehouseBlockInfo);
  const { verdict, policy } = info;
  const action = verdict.action;

  const department = pickName(policy.department);
  setText('department', department ? `· ${department}` : '');
  const service = pickName(verdict.service?.name) ?? t('unknownService');
  const category = pickName(verdict.categoryName) ?? verdict.category ?? '';
  document.title = `${t(action === 'warn' ? 'warnHeading' : action === 'block' ? 'blockDocTitle' : 'allowedHeading')} – ${service}`;

  setText('heading', t(action === 'warn' ? 'warnHeading' : action === 'block' ? 'blockHeading' : 'allowedHeading'));
  // A category may have a lead sentence of its own in _locales (`leadService_<category>`:
  // circumvention says what such a site is for); the others share `leadService`.
  const lead = chrome.i18n.getMessage(`leadService_${verdict.category}`) ? `leadService_${verdict.category}` : 'leadService';
  setText('lead', verdict.category ? t(lead, service, category) : '');
  setText('rule-text', action === 'allow' ? t('allowedLead') : t('leadRule'));
  setText('address', blockedUrl);
  setText('service', service);
  setText('category', category);
  setText('reason', t(KNOWN_REASONS.has(verdict.reason) ? `reason_${verdict.reason}` : 'reason_unknown'));
  const adaptationEndMs = verdict.reason === 'adaptation_period' ? info.adaptationEndMs : null;
  setText('adaptation', adaptationEndMs ? t('adaptationEnds', formatDate(adaptationEndMs)) : '');
  setText('user', info.who ? (info.who.principal || info.who.user) + (info.who.machine ? ` (${info.who.machine})` : '') : t('unknownUser'));
  const scope = info.scope;
  setText('scope', scope.reason === 'facts_unknown' && scope.inScope ? t('scopeUnknown') : scope.inScope ? t('scopeIn') : t('scopeOut'));
  setText('reason-code', verdict.reason);
  setText('matched-rule', verdict.matchedRule ?? '—');
  setText('policy-source', policy.source);
  setText('explanation', verdict.explanation ?? '');

  const notes = info.approvalNotes ?? [];
  if (notes.length) {
    const box = $('approval-notes');
    for (const note of notes) {
      const p = document.createElement('p');
      const known = APPROVAL_NOTES.has(note.reason) ? note.reason : 'other';
      const when = note.reason === 'not_yet_valid' ? note.notBeforeMs : note.expiresMs;
      p.textContent = t(`approvalNote_${known}`, note.id, formatTime(when));
      box.append(p);
    }
    show('approval-notes');
  }

  const message = pickName(policy.message);
  if (message || policy.contact) {
    show('department-message');
    setText('message', message ?? '');
    if (policy.contact) {
      show('contact-line');
      setText('contact', policy.contact);
    }
  }

  if (action === 'allow' || action === 'monitor') {
    show('allowed-line');
    $('open-site').href = url.href;
  }
  if (action === 'warn') {
    show('proceed');
    setText('proceed-hint', t('proceedHint', policy.warnProceedMinutes));
    $('proceed-form').addEventListener('submit', onProceed);
  }
  if (action === 'block' || action === 'warn') {
    show('request');
    const max = policy.requests.maxDays;
    const days = $('days');
    days.max = String(max);
    days.value = String(Math.min(30, max));
    setText('days-hint', t('daysHint', max));
    $('request-form').addEventListener('submit', onRequest);
    $('request-download').addEventListener('click', download);
    if (info.desk) showDesk(info.desk);
  }

  show('loading', false);
  show('verdict');
  // When the explanation was on screen, on the page's own clock (tests/browser/bench.mjs).
  document.body.dataset.renderedMs = String(Math.round(performance.now()));
  document.body.dataset.state = 'ready';
  document.body.dataset.action = action;
  $('heading').tabIndex = -1;
  $('heading').focus();
}

async function onProceed(event) {
  event.preventDefault();
  const reason = $('proceed-reason');
  setText('proceed-error', '');
  if (reason.value.trim().length < 5) {
    reason.setAttribute('aria-invalid', 'true');
    setText('proceed-error', t('proceedReasonLabel'));
    reason.focus();
    return;
  }
  reason.removeAttribute('aria-invalid');
  $('proceed-button').disabled = true;
  try {
    await ask('block.proceed', { url: blockedUrl, reason: reason.value });
    location.replace(blockedUrl);
  } catch (err) {
    setText('proceed-error', t('proceedFailed', err.message));
    $('proceed-button').disabled = false;
  }
}

async function onRequest(event) {
  event.preventDefault();
  const justification = $('justification');
  const days = $('days');
  setText('request-error', '');
  const n = Number(days.value);
  const max = info.policy.requests.maxDays;
  const badText = justification.value.trim().length < 10;
  const badDays = !Number.isInteger(n) || n < 1 || n > max;
  markInvalid(justification, badText);
  markInvalid(days, badDays);
  if (badText || badDays) {
    setText('request-error', badText ? t('justificationHint') : t('daysHint', max));
    (badText ? justification : days).focus();
    return;
  }
  $('request-button').disabled = true;
  try {
    const result = await ask('block.request', { url: blockedUrl, justification: justification.value, days: n });
    showRequest(result);
  } catch (err) {
    setText('request-error', t('requestFailed', err.message));
    $('request-button').disabled = false;
  }
}

function markInvalid(el, invalid) {
  if (invalid) el.setAttribute('aria-invalid', 'true');
  else el.removeAttribute('aria-invalid');
}

/** How often an open block page asks whether the desk has decided. */
const DESK_POLL_MS = 5000;
let deskTimer = null;

/** The approval desk's answer to this service's latest request (js/desk.js). */
function showDesk(entry) {
  const box = $('desk-status');
  box.textContent = '';
  const line = (text) => {
    const p = document.createElement('span');
    p.textContent = text;
    box.append(p, document.createElement('br'));
  };
  const waiting = entry.status === 'pending';
  if (waiting) line(t('deskPending', entry.requestId ?? entry.id));
  if (entry.status === 'approved' && entry.expiresMs > Date.now()) line(t('deskApproved', formatTime(entry.expiresMs)));
  if (entry.status === 'denied') line(t('deskDenied', entry.reason || '—'));
  if (entry.status === 'revoked') line(t('deskRevoked'));
  if (waiting && entry.error) line(t('deskUnreachable', entry.error));
  box.hidden = box.childElementCount === 0;
  box.dataset.status = entry.status;
  // A request is waiting: no second one; a decision allows asking again.
  show('request-form', !waiting);
  clearTimeout(deskTimer);
  if (waiting) deskTimer = setTimeout(askDesk, DESK_POLL_MS);
}

async function askDesk() {
  let answer;
  try {
    answer = await ask('block.desk', { url: blockedUrl });
  } catch {
    deskTimer = setTimeout(askDesk, DESK_POLL_MS);
    return;
  }
  if (answer.desk) showDesk(answer.desk);
  // The token is in force (the worker recompiled before answering): open what was asked for.
  if (answer.action === 'allow' || answer.action === 'monitor') location.replace(blockedUrl);
}

function showRequest({ record, posted, desk, mail, file }) {
  lastRecord = record;
  if (desk) {
    show('request-result');
    setText('request-outcome', t('requestSent', record.requestId));
    $('request-result').dataset.requestId = record.requestId;
    showDesk(desk);
    if (desk.status === 'approved') location.replace(blockedUrl);
    return;
  }
  show('request-result');
  const sent = posted?.ok === true;
  setText('request-outcome', t(sent ? 'requestSent' : 'requestPrepared', record.requestId));
  if (posted && !sent) {
    show('request-post-failed');
    setText('request-post-failed', t('requestPostFailed', posted.error ?? `HTTP ${posted.status}`));
  }
  // When the intranet took the request, nothing else is needed; otherwise offer every other way.
  if (!sent && mail) {
    const service = pickName(info.verdict.service?.name) ?? record.service ?? record.origin;
    const subject = t('mailSubject', service, record.requestId);
    const body = requestText(record);
    const link = $('request-mail');
    link.href = `mailto:${encodeURIComponent(mail).replace(/%40/g, '@')}?subject=${encodeURIComponent(subject)}&body=${encodeURIComponent(body)}`;
    show('request-mail');
  }
  if (!sent && (file || !mail)) show('request-file');
  $('request-result').dataset.requestId = record.requestId;
}

function requestText(record) {
  const lines = [
    `${t('labelService')}: ${record.service ?? '—'} (${record.category ?? '—'})`,
    `${t('labelAddress')}: ${record.origin}`,
    `${t('labelUser')}: ${record.principal ?? record.user ?? '—'}`,
    `${t('labelMachine')}: ${record.machine ?? '—'}`,
    `${t('daysLabel')}: ${record.days}`,
    '',
    record.justification,
    '',
    '--- gatehouse request ---',
    JSON.stringify(record),
  ];
  return lines.join('\n');
}

function download() {
  if (!lastRecord) return;
  const blob = new Blob([`${JSON.stringify(lastRecord, null, 2)}\n`], { type: 'application/json' });
  const a = document.createElement('a');
  a.href = URL.createObjectURL(blob);
  a.download = `gatehouse-request-${lastRecord.requestId}.json`;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
}
