// The status page (options page and action popup): what is in force and why, from the service
// worker's snapshot. Text only; labels from _locales.

import { $, ask, h, setText } from './js/dom.js';
import { formatTime, localise, pickName, t } from './js/i18n.js';

const popup = new URLSearchParams(location.search).get('view') === 'popup';
document.documentElement.classList.toggle('popup', popup);
$('open-tab').hidden = !popup;

localise();
load('status.get').catch(showFatal);

$('refresh').addEventListener('click', () => load('status.refresh').catch(showFatal));
$('import-form').addEventListener('submit', onImport);

async function load(type) {
  render(await ask(type));
}

function showFatal(err) {
  const p = $('engine-error');
  p.hidden = false;
  p.textContent = String(err?.message ?? err);
  document.body.dataset.state = 'error';
}

function replace(id, children) {
  const el = $(id);
  el.replaceChildren(...children);
  return el;
}

function facts(id, pairs) {
  replace(id, pairs.filter(([, v]) => v !== undefined && v !== null && v !== '').flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
}

function render(s) {
  $('engine-error').hidden = !s.engineError;
  if (s.engineError) setText('engine-error', `${t('engineFailed')} (${s.engineError})`);

  const info = s.policy?.info;
  const department = pickName(info?.department);
  setText('department', department ? `· ${department}` : '');

  // Policy
  const source = s.policy?.source ?? 'unknown';
  setText('policy-source', t(`source_${source}`) || source);
  $('policy-source').dataset.source = source;
  $('policy-error').hidden = !s.policy?.error;
  setText('policy-error', s.policy?.error ? `${t('policyError')}: ${s.policy.error}` : '');
  const warnings = s.policy?.warnings ?? [];
  replace('policy-warnings', warnings.length
    ? warnings.map((w) => h('li', {}, h('code', {}, w.path), ' — ', w.message))
    : [h('li', { class: 'muted' }, t('noWarnings'))]);
  $('policy-warnings').dataset.count = String(warnings.length);

  // Host
  const status = s.host?.status ?? 'unknown';
  const hostText = status === 'connected' ? t('hostConnected') : status === 'unavailable' ? t('hostUnavailable') : t('hostUnknown');
  const hostLine = replace('host-status', [h('span', { class: status === 'connected' ? 'ok' : 'bad' }, hostText)]);
  hostLine.dataset.status = status;
  const hello = s.host?.hello ?? {};
  const error = s.host?.error;
  facts('host-facts', [
    [t('labelVersion'), hello.hostVersion ? `${hello.hostVersion} (${hello.platform ?? '?'})` : null],
    [t('labelProblem'), error ? `${error.message}${error.name ? ` (${error.name})` : ''}` : null],
  ]);

  // Identity
  const id = s.identity;
  if (id) {
    facts('identity', [
      [t('labelUser'), id.principal ? `${id.principal} (${id.user})` : id.user],
      [t('labelMachine'), id.fqdn ?? id.machine],
      [t('labelDomain'), id.domain ?? null],
      [t('labelJoined'), id.joined ? t('yes') : t('no')],
      [t('labelIdentitySource'), id.source ?? null],
    ]);
  } else {
    replace('identity', [h('dt', {}, t('labelUser')), h('dd', { class: 'muted' }, t('noIdentity'))]);
  }

  // Scope
  const scope = s.scope;
  const scopeText = !scope ? '' : scope.reason === 'facts_unknown' && scope.inScope ? t('scopeUnknown') : scope.inScope ? t('scopeIn') : t('scopeOut');
  setText('scope', scopeText);
  $('scope').dataset.inScope = String(scope?.inScope ?? true);
  setText('scope-explanation', scope?.explanation ?? '');

  // Approvals
  replace('approvals', s.approvals.length
    ? s.approvals.map((a) => h('li', {}, h('strong', {}, [...(a.services ?? []), ...(a.categories ?? [])].join(', ') || a.id), ' — ',
      a.purpose ?? '', ' ', h('span', { class: 'muted' }, t('expires', formatTime(a.expiresMs))), ' ', h('code', {}, a.id)))
    : [h('li', { class: 'muted' }, t('noApprovals'))]);
  const rejected = [...s.rejected, ...s.problems.map((p) => ({ reason: p.code ?? p.reason ?? 'unreadable', message: p.message ?? JSON.stringify(p), file: p.file ?? p.path }))];
  replace('rejected', rejected.length
    ? rejected.map((r) => h('li', { dataset: { reason: r.reason ?? '' } }, h('code', {}, r.reason ?? 'rejected'), ' — ', r.message ?? '', r.file ? h('span', { class: 'muted' }, ` (${r.file})`) : null))
    : [h('li', { class: 'muted' }, t('noApprovals'))]);

  // Enforcement
  const c = s.compiled ?? {};
  facts('enforcement', [
    [t('labelRules'), c.error ?? (c.install && !c.install.ok ? `${t('rulesNotInstalled')}: ${c.install.error}` : c.rules !== undefined ? String(c.rules) : null)],
    [t('labelCompiled'), c.atMs ? `${formatTime(c.atMs)} (${c.reason})` : null],
    [t('labelBootstrap'), c.install ? (c.install.bootstrapEnabled ? t('on') : t('off')) : null],
    [t('labelPrediction'), s.prediction === 'off' ? t('off') : s.prediction],
    [t('labelVersion'), s.extension?.version],
  ]);
  replace('recent', (s.recent ?? []).slice(-20).reverse().map((e) =>
    h('li', {}, `${formatTime(e.atMs)} `, h('code', {}, e.kind), ` ${e.service ?? ''} ${e.origin ?? e.url ?? ''} ${e.reason ?? ''}`)));
  document.body.dataset.state = 'ready';
}

async function onImport(event) {
  event.preventDefault();
  const token = $('token');
  const out = $('import-result');
  out.className = '';
  if (!token.value.trim()) {
    token.setAttribute('aria-invalid', 'true');
    token.focus();
    return;
  }
  token.removeAttribute('aria-invalid');
  $('import').disabled = true;
  try {
    const { result, status } = await ask('status.import', { token: token.value });
    render(status);
    if (result?.ok) {
      const a = result.approval;
      out.className = 'ok';
      out.textContent = t('importAccepted', [...(a.services ?? []), ...(a.categories ?? [])].join(', '), formatTime(a.expiresMs));
      token.value = '';
    } else {
      out.className = 'bad';
      out.textContent = t('importRejected', result ? `${result.reason}: ${result.message ?? ''}` : t('importUnverified'));
    }
    out.dataset.result = result?.ok ? 'accepted' : result ? result.reason : 'unknown';
  } catch (err) {
    out.className = 'bad';
    out.textContent = t('importFailed', err.message);
    out.dataset.result = 'failed';
  } finally {
    $('import').disabled = false;
  }
}
