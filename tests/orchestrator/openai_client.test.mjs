// The official `openai` npm client, unchanged, against a live `llorch serve` on 127.0.0.1:
// models, completions and chat completions, streaming and not, usage, opt-in narration, errors.
// Run by ctest with LLORCH_BIN and LLORCH_MODEL set.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { createInterface } from 'node:readline';

// The client is installed (pinned) with the contract tools in contracts/node_modules.
const require = createRequire(new URL('../../contracts/package.json', import.meta.url));
const OpenAI = require('openai').default ?? require('openai');

let server;
let client;
let model;

before(async () => {
  server = spawn(process.env.LLORCH_BIN, ['serve', '--model', process.env.LLORCH_MODEL, '--port', '0'],
                 { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, LLORCH_LOG_FORMAT: 'json' } });
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('llorch serve did not bind within 20 s')), 20000);
    createInterface({ input: server.stdout }).on('line', (line) => {
      try {
        const e = JSON.parse(line);
        if (e.action === 'server_bind' && e.human.startsWith('Orchestrator')) {
          clearTimeout(timer);
          resolve(`http://${e.address}`);
        }
      } catch { /* not narration */ }
    });
    server.on('exit', (code) => reject(new Error(`llorch serve exited with ${code}`)));
  });
  client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'unused', maxRetries: 0 });
  // Ready once a worker serves a model.
  for (let i = 0; i < 300; i++) {
    const list = await client.models.list();
    if (list.data.length > 0) { model = list.data[0].id; return; }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('no model became ready');
});

after(async () => {
  if (!server || server.exitCode !== null) return;
  const exited = new Promise((resolve) => server.on('exit', resolve));
  server.kill('SIGTERM');
  const code = await exited;
  assert.equal(code, 0, 'llorch serve exits 0 on SIGTERM');
});

test('models lists the served model', async () => {
  const list = await client.models.list();
  assert.deepEqual(list.data.map((m) => m.id), ['stories260K']);
  assert.equal(list.data[0].object, 'model');
});

test('a completion, not streamed, with usage', async () => {
  const r = await client.completions.create({ model, prompt: 'Once upon a time', max_tokens: 12, seed: 1 });
  assert.equal(r.object, 'text_completion');
  assert.equal(r.choices.length, 1);
  assert.ok(r.choices[0].text.length > 0);
  assert.equal(r.choices[0].finish_reason, 'length');
  assert.equal(r.usage.completion_tokens, 12);
  assert.ok(r.usage.prompt_tokens > 0);
  assert.equal(r.usage.total_tokens, r.usage.prompt_tokens + 12);
});

test('a chat completion, not streamed', async () => {
  const r = await client.chat.completions.create({
    model, max_tokens: 10, seed: 2,
    messages: [{ role: 'system', content: 'You tell stories.' }, { role: 'user', content: 'Tell me one.' }],
  });
  assert.equal(r.object, 'chat.completion');
  assert.equal(r.choices[0].message.role, 'assistant');
  assert.equal(typeof r.choices[0].message.content, 'string');
  assert.equal(r.usage.completion_tokens, 10);
});

test('a chat completion streamed, with include_usage and [DONE]', async () => {
  const stream = await client.chat.completions.create({
    model, max_tokens: 16, seed: 3, stream: true, stream_options: { include_usage: true },
    messages: [{ role: 'user', content: 'Once upon a time' }],
  });
  let text = '';
  let usage = null;
  let finish = null;
  let chunks = 0;
  for await (const chunk of stream) {
    chunks++;
    assert.equal(chunk.object, 'chat.completion.chunk');
    if (chunk.usage) usage = chunk.usage;
    const choice = chunk.choices[0];
    if (choice?.delta?.content) text += choice.delta.content;
    if (choice?.finish_reason) finish = choice.finish_reason;
  }
  assert.ok(chunks >= 16);
  assert.ok(text.length > 0);
  assert.equal(finish, 'length');
  assert.equal(usage.completion_tokens, 16);
});

test('the same seed gives the same text streamed or not', async () => {
  const whole = await client.completions.create({ model, prompt: 'Lily', max_tokens: 20, seed: 9 });
  const stream = await client.completions.create({ model, prompt: 'Lily', max_tokens: 20, seed: 9, stream: true });
  let text = '';
  for await (const chunk of stream) text += chunk.choices[0]?.text ?? '';
  assert.equal(text, whole.choices[0].text);
});

test('narration only when asked, in chunks plain clients skip', async () => {
  const stream = await client.chat.completions.create({
    model, max_tokens: 8, stream: true, llorch: { narration: true },
    messages: [{ role: 'user', content: 'Hi' }],
  });
  const actions = [];
  let text = '';
  for await (const chunk of stream) {
    if (chunk.llorch?.narration) {
      assert.deepEqual(chunk.choices, []);
      actions.push(chunk.llorch.narration.action);
    }
    text += chunk.choices[0]?.delta?.content ?? '';
  }
  for (const a of ['task_admitted', 'task_dispatched', 'request_validated', 'chat_template', 'tokenize']) {
    assert.ok(actions.includes(a), `narration ${a} in ${actions}`);
  }
  const plain = await client.chat.completions.create({
    model, max_tokens: 4, stream: true, messages: [{ role: 'user', content: 'Hi' }],
  });
  for await (const chunk of plain) assert.equal(chunk.llorch, undefined);
});

test('logprobs: chat (content, top_logprobs) and completions (tokens, token_logprobs), streamed and not', async () => {
  const chat = await client.chat.completions.create({
    model, max_tokens: 6, temperature: 0, logprobs: true, top_logprobs: 2,
    messages: [{ role: 'user', content: 'Hi' }],
  });
  const content = chat.choices[0].logprobs.content;
  assert.equal(content.length, chat.usage.completion_tokens);
  for (const t of content) {
    assert.ok(t.logprob <= 0);
    assert.equal(t.top_logprobs.length, 2);
    assert.equal(t.top_logprobs[0].logprob, t.logprob, 'greedy: the chosen token is the likeliest');
    assert.ok(Array.isArray(t.bytes));
  }
  const stream = await client.completions.create({
    model, prompt: 'Once upon a time', max_tokens: 5, temperature: 0, logprobs: 1, stream: true,
  });
  let offsets = [];
  for await (const chunk of stream) {
    const lp = chunk.choices[0]?.logprobs;
    if (!lp) continue;
    assert.equal(lp.tokens.length, 1);
    assert.ok(lp.token_logprobs[0] <= 0);
    assert.equal(Object.keys(lp.top_logprobs[0]).length, 1);
    offsets.push(lp.text_offset[0]);
  }
  assert.equal(offsets.length, 5);
  assert.deepEqual(offsets, [...offsets].sort((a, b) => a - b));
});

test('bad requests are errors that name each field', async () => {
  await assert.rejects(
    client.completions.create({ model, prompt: 'x', temperature: 7, n: 3 }),
    (e) => e.status === 400 && /temperature/.test(e.message) && /\bn\b/.test(e.message));
  await assert.rejects(
    client.chat.completions.create({ model: 'no-such-model', messages: [{ role: 'user', content: 'x' }] }),
    (e) => e.status === 404 && /no-such-model/.test(e.message));
});
