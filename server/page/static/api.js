// What both pages share: the JSON API with the person's token, safe DOM building, the poll loop.
// The token lives in this tab's sessionStorage and goes out only as the Authorization header
// of calls to this origin — never in a URL, so never in a log or the browser's history.

const TOKEN_KEY = 'trainpilot.token';

export class Unauthorized extends Error {}

export async function api(path) {
  const token = sessionStorage.getItem(TOKEN_KEY);
  const res = await fetch(path, { headers: token ? { authorization: `Bearer ${token}` } : {}, cache: 'no-store' });
  if (res.status === 401) throw new Unauthorized('this sidecar needs its token');
  const body = await res.json().catch(() => null);
  if (!res.ok) throw new Error(`${path}: ${res.status} ${body?.message ?? ''}`);
  return body;
}

/**
 * An element with attributes and children; strings become text nodes, so run names, reasons
 * and evidence (user input, all of them) are never parsed as markup.
 */
export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'class') e.className = v;
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) e.append(c instanceof Node ? c : String(c));
  return e;
}

export function setStatus(text, kind = 'info') {
  const s = document.getElementById('status');
  if (!s) return;
  s.textContent = text;
  s.dataset.kind = kind;
}

/** Shows the token form; resolves once the person has entered a token. */
function askToken() {
  const form = document.getElementById('token-form');
  form.hidden = false;
  const input = form.querySelector('input');
  input.focus();
  return new Promise((resolve) => {
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      sessionStorage.setItem(TOKEN_KEY, input.value.trim());
      input.value = '';
      form.hidden = true;
      resolve();
    }, { once: true });
  });
}

/**
 * Calls `refresh` every `ms` (every 5 s while the tab is hidden), one call at a time. A 401 asks
 * for the token and goes on with it; other errors are shown and retried.
 */
export function poll(refresh, ms) {
  let timer = null;
  const run = async () => {
    timer = null;
    try {
      await refresh();
      setStatus(`updated ${new Date().toLocaleTimeString()}`);
    } catch (err) {
      if (err instanceof Unauthorized) {
        setStatus('this sidecar needs its token', 'warn');
        await askToken();
        return run();
      }
      setStatus(`cannot reach the sidecar: ${err.message}`, 'error');
    }
    timer = setTimeout(run, document.hidden ? 5000 : ms);
  };
  document.addEventListener('visibilitychange', () => {
    if (!document.hidden && timer !== null) {
      clearTimeout(timer);
      void run();
    }
  });
  void run();
}
