// The chat page and the operator's view in a real browser: Debian's chromium, headless, driven by
// puppeteer-core (which downloads no browser) against live `llorch serve` processes on 127.0.0.1.
// Run by ctest with LLORCH_BIN, LLORCH_MODEL (stories260K), LLORCH_SLOW_MODEL (the random Llama-2,
// whose long answers take seconds, so that Stop lands mid-stream), CHROMIUM and LLORCH_ARTIFACTS
// (where the screenshots of the main states go).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import puppeteer from 'puppeteer-core';

const require = createRequire(import.meta.url);
const AXE_SOURCE = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const ARTIFACTS = process.env.LLORCH_ARTIFACTS || fs.mkdtempSync('/tmp/llorch-browser-');
fs.mkdirSync(ARTIFACTS, { recursive: true });

const servers = [];
let browser;

// `llorch serve` on a free port, ready once /v1/models lists a model. Its narration (JSON lines)
// is kept for assertions.
async function serve(model, { env = {}, args = [] } = {}) {
  const proc = spawn(process.env.LLORCH_BIN, ['serve', '--model', model, '--port', '0', ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, LLORCH_LOG_FORMAT: 'json', ...env },
  });
  const server = { proc, lines: [], url: null };
  servers.push(server);
  server.url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('llorch serve did not bind within 20 s')), 20000);
    createInterface({ input: proc.stdout }).on('line', (line) => {
      let e;
      try { e = JSON.parse(line); } catch { return; }
      server.lines.push(e);
      if (e.action === 'server_bind' && e.human.startsWith('Orchestrator')) {
        clearTimeout(timer);
        resolve(`http://${e.address}`);
      }
    });
    proc.on('exit', (code) => reject(new Error(`llorch serve exited with ${code}`)));
  });
  const auth = env.LLORCH_TEST_KEY ? { Authorization: `Bearer ${env.LLORCH_TEST_KEY}` } : {};
  for (let i = 0; i < 300; i++) {
    const list = await (await fetch(`${server.url}/v1/models`, { headers: auth })).json();
    if (list.data && list.data.length > 0) return server;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('no model became ready');
}

async function stop(server) {
  if (server.proc.exitCode !== null) return server.proc.exitCode;
  const exited = new Promise((resolve) => server.proc.on('exit', resolve));
  server.proc.kill('SIGTERM');
  return exited;
}

// A page that records console errors and uncaught exceptions.
async function openPage(url, viewport = { width: 1400, height: 900 }) {
  const page = await browser.newPage();
  page.problems = [];
  page.on('console', (m) => { if (m.type() === 'error') page.problems.push(`console: ${m.text()}`); });
  page.on('pageerror', (e) => page.problems.push(`pageerror: ${e.message}`));
  await page.setViewport(viewport);
  await page.goto(url, { waitUntil: 'load' });
  return page;
}

async function shot(page, name) {
  await page.screenshot({ path: path.join(ARTIFACTS, name), fullPage: false });
}

// Sends `text` from the chat page in the given mode and waits for the answer's terminal entry.
async function ask(page, text, { mode = 'completion', maxTokens = 60, seed = 7, voice = 'human', newChat = true } = {}) {
  await page.waitForFunction(() => document.querySelector('#model').value !== '');
  if (newChat) await page.click('#new-chat');
  await page.select('#mode', mode);
  await page.select('#voice', voice);
  await page.$eval('#settings', (d) => { d.open = true; });
  await page.$eval('#max-tokens', (e, v) => { e.value = v; }, String(maxTokens));
  await page.$eval('#seed', (e, v) => { e.value = v; }, String(seed));
  await page.$eval('#settings', (d) => { d.open = false; });
  await page.focus('#prompt');
  await page.keyboard.type(text);
  await page.keyboard.press('Enter');
}

const terminal = '#narration li[data-action="done"], #narration li[data-action="stopped"], #narration li[data-action="failed"]';

// What the page shows of the last answer, and what it kept in the browser's history.
async function lastAnswer(page) {
  return page.evaluate(() => {
    const items = [...document.querySelectorAll('#narration li')].map((li) => ({
      action: li.dataset.action, id: li.dataset.eventId, correlation: li.dataset.correlationId,
      text: li.querySelector('.text').textContent,
    }));
    const answers = document.querySelectorAll('.message.assistant .content');
    const history = JSON.parse(localStorage.getItem('llorch.conversations') || '[]');
    const messages = history.length ? history[0].messages : [];
    return {
      items,
      shown: answers.length ? answers[answers.length - 1].textContent : '',
      kept: messages.length ? messages[messages.length - 1] : null,
      correlation: document.querySelector('#correlation-id').textContent,
      jobId: document.querySelector('#job-id').textContent,
      resumes: Number(document.querySelector('#narration').dataset.resumes || 0),
    };
  });
}

// The task's whole stream, read afresh from the orchestrator: what the page should have shown.
async function serverStream(server, jobId, headers = {}) {
  const body = await (await fetch(`${server.url}/v2/tasks/${jobId}/events`, { headers })).text();
  const events = [];
  for (const frame of body.split('\n\n')) {
    const id = frame.match(/^id: (\d+)$/m);
    const data = frame.match(/^data: (.*)$/m);
    if (id && data) events.push({ id: Number(id[1]), ...JSON.parse(data[1]) });
  }
  return events;
}

// A TCP proxy in front of the orchestrator that cuts the first event stream after `bytes` bytes
// of its answer, as a dropped Wi-Fi or a restarted load balancer would.
function cuttingProxy(targetPort, bytes) {
  let cut = false;
  const sockets = new Set();
  const proxy = net.createServer((client) => {
    const upstream = net.connect(targetPort, '127.0.0.1');
    sockets.add(client);
    sockets.add(upstream);
    let watching = false;
    let seen = 0;
    client.on('data', (chunk) => {
      const head = chunk.toString('latin1');
      if (!cut && /^GET \/v2\/tasks\/[^ ]+\/events /.test(head) && !/last-event-id/i.test(head)) watching = true;
      upstream.write(chunk);
    });
    upstream.on('data', (chunk) => {
      if (watching && !cut) {
        seen += chunk.length;
        if (seen >= bytes) {
          cut = true;
          client.write(chunk.subarray(0, chunk.length - (seen - bytes)));
          client.destroy();
          upstream.destroy();
          return;
        }
      }
      client.write(chunk);
    });
    const close = () => { client.destroy(); upstream.destroy(); };
    client.on('error', close);
    upstream.on('error', close);
    client.on('close', close);
    upstream.on('close', close);
  });
  return new Promise((resolve) => proxy.listen(0, '127.0.0.1', () => resolve({
    url: `http://127.0.0.1:${proxy.address().port}`,
    wasCut: () => cut,
    close: () => { for (const s of sockets) s.destroy(); proxy.close(); },
  })));
}

async function axeViolations(page) {
  await page.addScriptTag({ content: AXE_SOURCE });
  const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
}

let stories;

before(async () => {
  browser = await puppeteer.launch({
    executablePath: process.env.CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run'],
  });
  stories = await serve(process.env.LLORCH_MODEL);
});

after(async () => {
  if (browser) await browser.close();
  const codes = await Promise.all(servers.map(stop));
  assert.deepEqual(codes, codes.map(() => 0), 'every llorch serve exits 0 on SIGTERM');
});

test('the chat page streams the answer beside its narration, in order, under one correlation id', async () => {
  const page = await openPage(`${stories.url}/`);
  await ask(page, 'Once upon a time');
  await page.waitForSelector(terminal, { timeout: 20000 });
  const a = await lastAnswer(page);
  await shot(page, 'chat-complete.png');

  const actions = a.items.map((i) => i.action);
  const order = ['task_admitted', 'task_dispatched', 'request_validated', 'tokenize', 'inference_start', 'inference_complete', 'done'];
  let at = -1;
  for (const action of order) {
    const next = actions.indexOf(action, at + 1);
    assert.ok(next > at, `${action} follows ${order[order.indexOf(action) - 1] || 'the start'} in the pane: ${actions.join(', ')}`);
    at = next;
  }
  const ids = a.items.filter((i) => i.id !== '').map((i) => Number(i.id));
  assert.deepEqual(ids, [...ids].sort((x, y) => x - y), 'narration in stream order');
  const correlations = new Set(a.items.filter((i) => i.correlation).map((i) => i.correlation));
  assert.deepEqual([...correlations], [a.correlation], 'one correlation id, the one the pane shows');
  assert.match(a.items.at(-1).text, /^Done: \d+ tokens in \d+ ms end to end \([\d.]+ tok\/s, (MAX_TOKENS|EOS)\)$/);

  // The text is the worker's, exactly: kept whole in the history, shown whole in the page.
  const events = await serverStream(stories, a.jobId);
  const text = events.filter((e) => e.type === 'token').map((e) => e.t).join('');
  assert.ok(text.length > 0);
  assert.equal(a.kept.content, text);
  assert.equal(a.shown.replace(/\s+/g, ''), text.replace(/\s+/g, ''));
  assert.ok(events.every((e) => e.correlation_id === a.correlation), 'the server used the same id');
  assert.deepEqual(page.problems, []);
  await page.close();
});

test('the narration speaks in the chosen voice, and a conversation is kept across reloads', async () => {
  const page = await openPage(`${stories.url}/`);
  await ask(page, 'Hi there', { mode: 'chat', voice: 'cute', maxTokens: 20 });
  await page.waitForSelector(terminal, { timeout: 20000 });
  const a = await lastAnswer(page);
  const admitted = a.items.find((i) => i.action === 'task_admitted');
  assert.equal(admitted.text, 'Your request is in! 🎟️');
  assert.ok(a.items.some((i) => i.action === 'chat_template'), 'chat mode sends messages through the template');
  await page.reload({ waitUntil: 'load' });
  const after = await lastAnswer(page);
  assert.equal(after.kept.content, a.kept.content);
  assert.equal(after.correlation, a.correlation, 'the reopened answer shows its narration');
  const titles = await page.$$eval('#conversations button.open', (b) => b.map((x) => x.textContent));
  assert.ok(titles.includes('Hi there'), `history lists the conversation: ${titles}`);
  assert.deepEqual(page.problems, []);
  await page.close();
});

test('the answer is rendered as markdown, and as text only: no markup from the model runs', async () => {
  const page = await openPage(`${stories.url}/`);
  const dom = await page.evaluate(() => {
    const box = document.createElement('div');
    renderMarkdown([
      '# Title', 'Some **bold**, *soft* and `code` with [a link](https://example.org/x).', '',
      '- one', '- two', '', '1. first', '2. second', '', '```js', 'const x = "<b>";', '```',
      '<img src=x onerror="window.pwned=1"> <script>window.pwned=2</script>',
    ].join('\n'), box);
    document.body.append(box);
    return {
      heading: box.querySelector('h3')?.textContent,
      strong: box.querySelector('strong')?.textContent,
      em: box.querySelector('em')?.textContent,
      code: box.querySelector('p code')?.textContent,
      link: box.querySelector('a')?.getAttribute('href'),
      rel: box.querySelector('a')?.getAttribute('rel'),
      bullets: [...box.querySelectorAll('ul li')].map((li) => li.textContent),
      numbered: [...box.querySelectorAll('ol li')].map((li) => li.textContent),
      block: box.querySelector('pre code')?.textContent,
      language: box.querySelector('pre code')?.dataset.language,
      elements: [...box.querySelectorAll('img, script')].length,
      pwned: window.pwned ?? null,
    };
  });
  assert.deepEqual(dom, {
    heading: 'Title', strong: 'bold', em: 'soft', code: 'code', link: 'https://example.org/x',
    rel: 'noopener noreferrer', bullets: ['one', 'two'], numbered: ['first', 'second'],
    block: 'const x = "<b>";', language: 'js', elements: 0, pwned: null,
  });
  assert.deepEqual(page.problems, []);
  await page.close();
});

test('a dropped connection resumes with Last-Event-ID: nothing lost, nothing twice', async () => {
  const port = Number(new URL(stories.url).port);
  const proxy = await cuttingProxy(port, 2500);
  try {
    const page = await openPage(`${proxy.url}/`);
    await ask(page, 'The little dog', { maxTokens: 120, seed: 11 });
    await page.waitForSelector(terminal, { timeout: 30000 });
    const a = await lastAnswer(page);
    await shot(page, 'chat-resumed.png');
    assert.ok(proxy.wasCut(), 'the proxy cut the stream');
    assert.ok(a.resumes >= 1, 'the page resumed');
    assert.ok(a.items.some((i) => i.action === 'resume'), 'and said so in the pane');
    const events = await serverStream(stories, a.jobId);
    const text = events.filter((e) => e.type === 'token').map((e) => e.t).join('');
    assert.equal(a.kept.content, text, 'the text is whole, with nothing repeated');
    const shownIds = a.items.filter((i) => i.id !== '').map((i) => Number(i.id));
    const serverIds = events.filter((e) => e.type === 'narration').map((e) => e.id);
    assert.deepEqual(shownIds, serverIds, 'every narration event once, in order');
    assert.deepEqual(page.problems.filter((p) => !/ERR_CONNECTION|network|Failed to fetch/i.test(p)), []);
    await page.close();
  } finally {
    proxy.close();
  }
});

test('the queue position shows while waiting; Stop cancels the task on its worker', async () => {
  const slow = await serve(process.env.LLORCH_SLOW_MODEL);
  // Another user's long answer holds the only slot: the page's task waits behind it.
  const other = await (await fetch(`${slow.url}/v2/tasks`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ prompt: 'Hello', max_tokens: 2000, on_disconnect: 'continue' }),
  })).json();
  const page = await openPage(`${slow.url}/`);
  await ask(page, 'Hi', { maxTokens: 2000 });
  await page.waitForFunction(() => document.querySelector('#task-status').textContent === 'Queued: position 1', { timeout: 10000 });
  await shot(page, 'chat-queued.png');
  const queued = await page.$eval('#narration li[data-action="task_queued"] .text', (e) => e.textContent);
  assert.match(queued, /position 1/);
  await fetch(`${slow.url}/v2/tasks/${other.job_id}`, { method: 'DELETE' });
  await page.waitForSelector('#narration li[data-action="task_dispatched"]', { timeout: 10000 });
  await page.waitForFunction(() => {
    const c = document.querySelectorAll('.message.assistant .content');
    return c.length && c[c.length - 1].textContent.length > 20;
  }, { timeout: 20000 });
  await page.click('#stop');
  await page.waitForSelector(terminal, { timeout: 20000 });
  const a = await lastAnswer(page);
  await shot(page, 'chat-stopped.png');
  const last = a.items.at(-1);
  assert.equal(last.action, 'stopped', a.items.map((i) => i.action).join(', '));
  assert.match(last.text, /^Stopped: cancelled on worker-\S+ after \d+ tokens$/);
  assert.ok(a.items.some((i) => i.action === 'inference_cancelled'), 'the worker narrated its cancel');
  const task = await (await fetch(`${slow.url}/v2/tasks/${a.jobId}`)).json();
  assert.equal(task.state, 'cancelled');
  assert.equal(task.stop_reason, 'CANCELLED');
  assert.ok(task.tokens_out < 2000, `stopped early (${task.tokens_out} tokens)`);
  assert.ok(slow.lines.some((e) => e.action === 'inference_cancelled' && e.job_id === a.jobId),
    'the worker logged the cancel');
  assert.equal(await page.$eval('#send', (b) => b.disabled), false, 'ready for the next message');
  assert.deepEqual(page.problems, []);
  await page.close();
});

test('errors show their cause and remedy; the API key entered in the page is used', async () => {
  const key = 'browser-test-key-0123456789abcdef';
  const locked = await serve(process.env.LLORCH_MODEL, { env: { LLORCH_TEST_KEY: key }, args: ['--api-token-env', 'LLORCH_TEST_KEY'] });
  const page = await openPage(`${locked.url}/`);
  await page.waitForSelector('#error[data-code="UNAUTHORIZED"]', { timeout: 10000 });
  const refusal = await page.$eval('#error', (e) => e.textContent);
  assert.match(refusal, /API key/);
  await shot(page, 'chat-needs-key.png');
  await page.$eval('#settings', (d) => { d.open = true; });
  await page.type('#api-key', key);
  await page.$eval('#api-key', (e) => e.dispatchEvent(new Event('change')));
  await ask(page, 'Once upon a time', { maxTokens: 0 });
  await page.waitForSelector('#error[data-code="INVALID_REQUEST"]', { timeout: 10000 });
  const invalid = await page.$eval('#error', (e) => e.textContent);
  assert.match(invalid, /max_tokens/, 'names the failing field');
  assert.match(invalid, /Change the settings named above/, 'and the remedy');
  await ask(page, 'Once upon a time', { maxTokens: 15 });
  await page.waitForSelector('#narration li[data-action="done"]', { timeout: 20000 });
  assert.equal(await page.$eval('#error', (e) => e.textContent), '', 'the error is gone once it works');
  // The page itself never carries data: it is served without the key, and so is nothing else.
  assert.equal((await fetch(`${locked.url}/`)).status, 200);
  assert.equal((await fetch(`${locked.url}/v2/tasks`)).status, 401);
  assert.equal((await fetch(`${locked.url}/v1/narration`)).status, 401);
  assert.deepEqual(page.problems.filter((p) => !/status of 40[01]/.test(p)), []);
  await page.close();
});

test('keyboard only, on a phone-sized screen, in the dark theme', async () => {
  const page = await openPage(`${stories.url}/`, { width: 390, height: 844, isMobile: true, hasTouch: true });
  await page.emulateMediaFeatures([{ name: 'prefers-color-scheme', value: 'dark' }]);
  await page.waitForFunction(() => document.querySelector('#model').value !== '');
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.className), 'skip-link');
  await page.keyboard.press('Enter');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'prompt', 'the skip link leads to the message box');
  await page.keyboard.type('Once upon a time');
  await page.keyboard.press('Enter');
  await page.waitForSelector(terminal, { timeout: 20000 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `no sideways scrolling (${overflow} px too wide)`);
  const background = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  assert.equal(background, 'rgb(20, 20, 19)', 'the dark theme follows the system');
  await shot(page, 'chat-phone-dark.png');
  // The theme button overrides the system: auto → light → dark, kept across reloads.
  await page.click('#theme');
  assert.equal(await page.evaluate(() => getComputedStyle(document.body).backgroundColor), 'rgb(247, 247, 245)');
  await page.reload({ waitUntil: 'load' });
  assert.equal(await page.$eval('#theme', (b) => b.textContent), 'Theme: light');
  await page.click('#theme');
  assert.equal(await page.evaluate(() => getComputedStyle(document.body).backgroundColor), 'rgb(20, 20, 19)');
  await page.click('#theme');  // back to auto for the tests that follow
  assert.deepEqual(await axeViolations(page), []);
  assert.deepEqual(page.problems, []);
  await page.close();
});

test('both pages: no console errors, under 300 KB, no serious accessibility violations', async () => {
  for (const where of ['/', '/ui/system']) {
    const page = await openPage(`${stories.url}${where}`);
    await new Promise((r) => setTimeout(r, 1500));  // its first reads of the API
    const bytes = await page.evaluate(() => performance.getEntriesByType('navigation')
      .concat(performance.getEntriesByType('resource'))
      .reduce((sum, e) => sum + (e.transferSize || 0), 0));
    assert.ok(bytes > 0 && bytes < 300 * 1024, `${where}: ${bytes} bytes transferred`);
    const hosts = await page.evaluate(() => performance.getEntriesByType('resource').map((e) => new URL(e.name).host));
    const own = new URL(stories.url).host;
    assert.ok(hosts.every((h) => h === own), `${where} asks no other host: ${hosts}`);
    assert.deepEqual(await axeViolations(page), [], `${where} in the light theme`);
    assert.deepEqual(page.problems, [], where);
    await page.close();
  }
});

test('the operator page lists the pool\'s workers and shows a crash after kill -9', async () => {
  const page = await openPage(`${stories.url}/ui/system`);
  await page.waitForSelector('tr[data-worker-id][data-state="ready"]', { timeout: 10000 });
  await page.waitForSelector('#connection[data-state="ready"]', { timeout: 10000 });
  const tasks = await page.$$eval('#tasks tbody tr[data-job-id]', (rows) => rows.map((r) => r.dataset.jobId));
  assert.ok(tasks.length >= 3, `the earlier tasks are listed: ${tasks}`);
  await shot(page, 'system-ready.png');

  const worker = await page.$eval('tr[data-worker-id]', (r) => r.dataset.workerId);
  const pids = execFileSync('pgrep', ['-P', String(stories.proc.pid)]).toString().trim().split('\n').map(Number);
  assert.equal(pids.length, 1, `one worker process: ${pids}`);
  process.kill(pids[0], 'SIGKILL');

  await page.waitForSelector('#feed li[data-action="worker_crashed"]', { timeout: 10000 });
  await page.waitForFunction((id) => {
    const row = document.querySelector(`tr[data-worker-id="${id}"]`);
    return row && row.querySelector('.restarts').textContent === '1' && /signal 9|SIGKILL|killed/i.test(row.querySelector('.last-error').textContent);
  }, { timeout: 15000 }, worker);
  await shot(page, 'system-after-crash.png');
  const crash = await page.$eval('#feed li[data-action="worker_crashed"]', (li) => li.textContent);
  assert.match(crash, new RegExp(worker));

  // The pool restarted it: the next answer works, and the feed shows its lines alone when
  // filtered by its correlation id.
  const chat = await openPage(`${stories.url}/`);
  await ask(chat, 'Once upon a time', { maxTokens: 10 });
  await chat.waitForSelector('#narration li[data-action="done"]', { timeout: 20000 });
  const { correlation, jobId } = await lastAnswer(chat);
  await chat.close();
  const link = `#tasks tbody tr[data-job-id="${jobId}"] button.link`;
  await page.waitForSelector(link, { timeout: 5000 });
  await page.click(link);
  assert.equal(await page.$eval('#filter-correlation', (e) => e.value), correlation);
  const shown = await page.$$eval('#feed li', (items) => items.map((li) => li.dataset.correlationId));
  assert.ok(shown.length >= 3, `the task's narration is in the feed (${shown.length} lines)`);
  assert.ok(shown.every((c) => c === correlation), 'and nothing else');
  await shot(page, 'system-filtered.png');
  assert.deepEqual(page.problems, []);
  await page.close();
});
