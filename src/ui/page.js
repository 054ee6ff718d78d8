// Shared by both pages: the API token, API calls whose failures carry the server's code and
// message, Server-Sent Events read with fetch (EventSource can send neither a bearer token nor a
// Last-Event-ID of our choosing), the theme, and what to do about each error code.
const llorch = (() => {
  const TOKEN_KEY = 'llorch.token';
  const THEME_KEY = 'llorch.theme';

  const token = () => localStorage.getItem(TOKEN_KEY) || '';
  const setToken = (value) => {
    if (value) localStorage.setItem(TOKEN_KEY, value);
    else localStorage.removeItem(TOKEN_KEY);
  };

  function headers(extra = {}) {
    const h = { ...extra };
    if (token()) h.Authorization = `Bearer ${token()}`;
    return h;
  }

  class ApiError extends Error {
    constructor(status, code, message, details = []) {
      super(message);
      this.status = status;
      this.code = code;
      this.details = details;
    }
  }

  // The server's error body ({error: {code, message, details}}), or the OpenAI one, as an ApiError.
  async function errorOf(response) {
    const text = await response.text();
    let body = null;
    try { body = JSON.parse(text); } catch { /* not JSON */ }
    const e = (body && body.error) || {};
    // The OpenAI endpoints name a refusal invalid_api_key, the others UNAUTHORIZED: one code here.
    const named = typeof e.code === 'string' ? e.code.toUpperCase() : `HTTP_${response.status}`;
    const code = response.status === 401 ? 'UNAUTHORIZED' : named;
    return new ApiError(response.status, code, e.message || text || response.statusText, e.details || []);
  }

  async function call(method, path, body) {
    let response;
    try {
      response = await fetch(path, {
        method,
        cache: 'no-store',
        headers: headers(body === undefined ? {} : { 'Content-Type': 'application/json' }),
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (e) {
      throw new ApiError(0, 'UNREACHABLE', `cannot reach the orchestrator (${e.message})`);
    }
    if (!response.ok) throw await errorOf(response);
    const text = await response.text();
    return text ? JSON.parse(text) : null;
  }

  // Reads the SSE stream at `url`, calling onOpen(response) once it answers and onFrame({id, event,
  // data}) for each frame. Resolves when the server ends the stream; rejects when the connection
  // breaks (or `signal` aborts).
  async function readEvents(url, { lastEventId = null, signal, onFrame, onOpen }) {
    const h = headers({ Accept: 'text/event-stream' });
    if (lastEventId !== null) h['Last-Event-ID'] = String(lastEventId);
    let response;
    try {
      response = await fetch(url, { headers: h, signal, cache: 'no-store' });
    } catch (e) {
      if (signal && signal.aborted) throw e;
      throw new ApiError(0, 'UNREACHABLE', `cannot reach the orchestrator (${e.message})`);
    }
    if (!response.ok) throw await errorOf(response);
    if (onOpen) onOpen(response);
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    let frame = { id: null, event: 'message', data: [] };
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      let newline;
      while ((newline = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, newline).replace(/\r$/, '');
        buffer = buffer.slice(newline + 1);
        if (line === '') {
          if (frame.data.length > 0) onFrame({ id: frame.id, event: frame.event, data: frame.data.join('\n') });
          frame = { id: null, event: 'message', data: [] };
          continue;
        }
        if (line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const text = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'id') frame.id = text;
        else if (field === 'event') frame.event = text;
        else if (field === 'data') frame.data.push(text);
      }
    }
  }

  // What a user can do about each error the API or a stream may report.
  const remedies = {
    UNAUTHORIZED: 'Enter the API key under Settings: this orchestrator asks for one.',
    INVALID_API_KEY: 'Enter the API key under Settings: this orchestrator asks for one.',
    UNREACHABLE: 'Check that llorch serve (or the orchestrator) is running, then send again.',
    QUEUE_FULL: 'Every place in the queue is taken: wait a few seconds and send again.',
    DRAINING: 'The server is shutting down: send again once it is back.',
    SHUTTING_DOWN: 'The server is shutting down: send again once it is back.',
    MODEL_NOT_FOUND: 'Pick one of the models in the list: the orchestrator serves only those.',
    MODEL_UNAVAILABLE: 'No worker can load this model: the operator must fix the model file or the worker settings (the system page shows why).',
    QUEUE_TIMEOUT: 'No worker became free in time: send again later, or ask the operator for more workers.',
    PROMPT_TOO_LONG: 'The conversation no longer fits the model\'s context: start a new chat or shorten the message.',
    INVALID_REQUEST: 'Change the settings named above and send again.',
    WORKER_LOST: 'The worker stopped mid-answer: send again (its pool restarts it).',
    WORKER_UNAVAILABLE: 'No worker could take the task: send again in a moment.',
    WORKER_REFUSED: 'The workers were busy: send again in a moment.',
    MODEL_FILE_CHANGED: 'The model file changed on disk while it was served: send again once the worker has reloaded it.',
    INFERENCE_FAILED: 'The worker failed while generating: send again; if it persists, tell the operator (the system page has the details).',
  };
  const remedy = (code) => remedies[code] || 'Send again; if it persists, the system page shows what the server says.';

  // The theme: the system's choice ("auto") unless the user picked light or dark.
  function initTheme(button) {
    const order = ['auto', 'light', 'dark'];
    const apply = (theme) => {
      if (theme === 'auto') delete document.documentElement.dataset.theme;
      else document.documentElement.dataset.theme = theme;
      button.textContent = `Theme: ${theme}`;
      button.setAttribute('aria-label', `Theme: ${theme} (change)`);
    };
    let theme = localStorage.getItem(THEME_KEY) || 'auto';
    if (!order.includes(theme)) theme = 'auto';
    apply(theme);
    button.addEventListener('click', () => {
      theme = order[(order.indexOf(theme) + 1) % order.length];
      localStorage.setItem(THEME_KEY, theme);
      apply(theme);
    });
  }

  // A DOM element with text (never HTML) and attributes.
  function el(tag, attributes = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes)) {
      if (value === undefined || value === null || value === false) continue;
      if (name === 'dataset') Object.assign(node.dataset, value);
      else node.setAttribute(name, value === true ? '' : String(value));
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(typeof child === 'string' ? document.createTextNode(child) : child);
    }
    return node;
  }

  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  return { token, setToken, ApiError, call, readEvents, remedy, initTheme, el, sleep };
})();

// The page's elements by id, and the element builder, for both pages' scripts.
const $ = (id) => document.getElementById(id);
const { el } = llorch;
