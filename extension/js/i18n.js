// Labels come from _locales through chrome.i18n; data (service names, URLs, user names) is set
// with textContent only. Names that policy and catalogue carry per language are picked here.

export const t = (key, ...subs) => chrome.i18n.getMessage(key, subs.map(String)) || key;

/** The page's language tag, from the locale Chromium chose for this extension. */
export function uiLocale() {
  return chrome.i18n.getMessage('@@ui_locale') || 'en';
}

/** Fills every [data-i18n] element's text and [data-i18n-*] attributes, and sets <html lang>. */
export function localise(root = document) {
  document.documentElement.lang = uiLocale().replace('_', '-');
  for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll('[data-i18n-placeholder]')) el.placeholder = t(el.dataset.i18nPlaceholder);
  for (const el of root.querySelectorAll('[data-i18n-aria-label]')) el.setAttribute('aria-label', t(el.dataset.i18nAriaLabel));
  for (const el of root.querySelectorAll('[data-i18n-title]')) el.title = t(el.dataset.i18nTitle);
}

/**
 * Picks the right text from `{en, zh_TW, zh_CN}`. Hong Kong and Taiwan read Traditional
 * Chinese; a Simplified Chinese reader without a zh_CN text gets zh_TW before English.
 */
export function pickName(names, locale = uiLocale()) {
  if (!names) return null;
  if (typeof names === 'string') return names;
  const lang = locale.replace('-', '_');
  if (/^zh_(TW|HK|MO)|^zh_Hant/i.test(lang)) return names.zh_TW || names.en;
  if (/^zh/i.test(lang)) return names.zh_CN || names.zh_TW || names.en;
  return names.en || names.zh_TW || null;
}

/** A date and time in the reader's language. */
export function formatTime(ms, locale = uiLocale()) {
  if (ms === null || ms === undefined) return '';
  try {
    return new Intl.DateTimeFormat(locale.replace('_', '-'), { dateStyle: 'medium', timeStyle: 'short' }).format(new Date(ms));
  } catch {
    return new Date(ms).toISOString();
  }
}

export function formatDate(ms, locale = uiLocale()) {
  try {
    return new Intl.DateTimeFormat(locale.replace('_', '-'), { dateStyle: 'long' }).format(new Date(ms));
  } catch {
    return new Date(ms).toISOString().slice(0, 10);
  }
}
