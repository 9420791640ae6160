// The same scenarios for every generation of the unmodified `inngest` SDK;
// each generation runs in its own Node process (they share global state).
// Env: ERRAND_URL, ERRAND_SERVICE_KEY.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';

const base = process.env.ERRAND_URL;
const admin = { authorization: `Bearer ${process.env.ERRAND_SERVICE_KEY}`, 'content-type': 'application/json' };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function api(path, opts = {}) {
  const res = await fetch(base + path, { headers: admin, ...opts });
  const body = await res.json();
  if (!res.ok) throw new Error(`${path}: ${res.status} ${JSON.stringify(body)}`);
  return body;
}

async function jobsFor(eventId) {
  return (await api(`/v1/jobs?event_id=${eventId}`)).jobs;
}

async function until(what, fn, tries = 300) {
  for (let i = 0; i < tries; i++) {
    const v = await fn();
    if (v) return v;
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what}`);
}

const ended = (j) => ['finished', 'failed', 'cancelled'].includes(j.status);

// sdk: { gen, client, fn(opts, event, handler), supports: {onFailure, concurrency},
// and for the 2.x step API (no step ids) sleep(step, id, d) and wait(step, id, opts) }.
// It returns the functions to serve; the caller serves them and calls
// setUrl with the serve URL before the tests run.
export function suite(sdk) {
  const send = async (name, data) => {
    const id = randomUUID();
    await sdk.client.send({ id, name, data });
    return id;
  };
  const failures = [];
  const fns = {
    hello: sdk.fn({ id: 'hello' }, 'app/hello', async ({ event }) => `Hello, ${event.data.name}!`),
    multi: sdk.fn({ id: 'multi' }, 'app/multi', async ({ event, step }) => {
      const a = await step.run('a', () => 20);
      await (sdk.sleep ? sdk.sleep(step, 'nap', '1s') : step.sleep('nap', '1s'));
      const match = { event: 'app/paid', timeout: '1m', if: 'async.data.order == event.data.order' };
      const paid = await (sdk.wait ? sdk.wait(step, 'paid', match) : step.waitForEvent('paid', match));
      const b = await step.run('b', () => a + 22);
      return { b, by: paid?.data?.by ?? null };
    }),
    flaky: sdk.fn({ id: 'flaky', retries: 1, ...(sdk.supports.onFailure ? { onFailure: async ({ error, event }) => { failures.push(error.message); return 'handled'; } } : {}) },
      'app/flaky', async () => { throw new Error('always broken'); }),
    whoami: sdk.fn({ id: 'whoami' }, 'app/whoami', async ({ event }) => {
      const u = event.user || {};
      // The job token lets the function call errand's auth API as the user.
      const res = await fetch(`${base}/auth/v1/user`, { headers: { apikey: process.env.ERRAND_ANON_KEY, authorization: `Bearer ${u.access_token}` } });
      const me = await res.json();
      return { id: u.id ?? null, status: res.status, email: me.email ?? null, expires: u.expires_at > Date.now() / 1000 };
    }),
    ...(sdk.supports.batch ? {
      batch: sdk.fn({ id: 'batch', batchEvents: { maxSize: 2, timeout: '10s' } }, 'app/item',
        async ({ events }) => events.reduce((sum, e) => sum + e.data.n, 0)),
    } : {}),
    ...(sdk.supports.timeouts ? {
      late: sdk.fn({ id: 'late', timeouts: { finish: '1s' }, priority: { run: 'event.data.p' } }, 'app/late', async ({ step }) => {
        await step.sleep('long', '2s');
        return 'too late';
      }),
    } : {}),
    ...(sdk.supports.concurrency ? {
      serial: sdk.fn({ id: 'serial', concurrency: { limit: 1, key: 'event.data.user' } }, 'app/serial', async ({ step }) => {
        return await step.run('work', async () => { const start = Date.now(); await sleep(300); return { start, end: Date.now() }; });
      }),
    } : {}),
  };
  let url;
  let ready;
  const served = new Promise((r) => { ready = r; });
  before(async () => { url = await served; });

  test(`${sdk.gen}: sync registers the functions`, async () => {
    await api('/v1/apps/sync', { method: 'POST', body: JSON.stringify({ url }) });
    const ids = (await api('/v1/functions')).functions.map((f) => f.id);
    for (const name of Object.keys(fns)) assert.ok(ids.some((id) => id.endsWith('-' + name)), `${name} in ${ids}`);
  });

  test(`${sdk.gen}: hello`, async () => {
    const ev = await send('app/hello', { name: 'Ada' });
    const job = await until('hello', async () => (await jobsFor(ev)).find(ended));
    assert.equal(job.status, 'finished', JSON.stringify(job));
    assert.equal(job.output, 'Hello, Ada!');
  });

  test(`${sdk.gen}: steps, sleep and waitForEvent`, async () => {
    const ev = await send('app/multi', { order: 'o1' });
    const job = await until('the job', async () => (await jobsFor(ev))[0]);
    await until('the wait', async () => (await api(`/v1/jobs/${job.id}/steps`)).steps.some((s) => s.kind === 'waitForEvent'));
    await send('app/paid', { order: 'other', by: 'nobody' });
    await send('app/paid', { order: 'o1', by: 'card' });
    const done = await until('multi', async () => (await jobsFor(ev)).find(ended));
    assert.equal(done.status, 'finished', JSON.stringify(done));
    assert.deepEqual(done.output, { b: 42, by: 'card' });
    const kinds = (await api(`/v1/jobs/${job.id}/steps`)).steps.map((s) => s.kind);
    assert.deepEqual(kinds, ['run', 'sleep', 'waitForEvent', 'run']);
  });

  test(`${sdk.gen}: a failing function retries, fails, then onFailure runs`, async () => {
    const ev = await send('app/flaky', {});
    const job = await until('flaky', async () => (await jobsFor(ev)).find(ended), 600);
    assert.equal(job.status, 'failed');
    assert.equal(job.attempt, 2, 'one retry, then failed');
    assert.match(job.error.message, /always broken/);
    if (sdk.supports.onFailure) {
      await until('onFailure', async () => failures.length > 0);
      assert.match(failures[0], /always broken/);
    }
  });

  test(`${sdk.gen}: an owned job gets its owner and a job token in event.user`, async () => {
    const anonHeaders = { apikey: process.env.ERRAND_ANON_KEY, 'content-type': 'application/json' };
    const email = `${randomUUID()}@example.com`;
    const res = await fetch(`${base}/auth/v1/signup`, { method: 'POST', headers: anonHeaders, body: JSON.stringify({ email, password: 'correct horse' }) });
    const session = await res.json();
    assert.equal(res.status, 200, JSON.stringify(session));
    const id = randomUUID();
    await sdk.client.send({ id, name: 'app/whoami', data: {}, user: { access_token: session.access_token } });
    const job = await until('whoami', async () => (await jobsFor(id)).find(ended));
    assert.equal(job.status, 'finished', JSON.stringify(job));
    assert.equal(job.owner, session.user.id);
    assert.deepEqual(job.output, { id: session.user.id, status: 200, email, expires: true });
    const stored = await api(`/v1/events/${id}`);
    assert.ok(!JSON.stringify(stored).includes(session.access_token), 'the access token was stored');
  });

  if (sdk.supports.batch) {
    test(`${sdk.gen}: batchEvents hands one job the batch`, async () => {
      const a = await send('app/item', { n: 1 });
      await send('app/item', { n: 2 });
      const job = await until('the batch', async () => (await jobsFor(a)).find(ended));
      assert.equal(job.status, 'finished', JSON.stringify(job));
      assert.equal(job.output, 3);
    });
  }

  if (sdk.supports.timeouts) {
    test(`${sdk.gen}: timeouts.finish cancels a job that runs too long`, async () => {
      const ev = await send('app/late', { p: 10 });
      const job = await until('late', async () => (await jobsFor(ev)).find(ended));
      assert.equal(job.status, 'cancelled', JSON.stringify(job));
      assert.equal(job.error.code, 'timeout');
    });
  }

  if (sdk.supports.concurrency) {
    test(`${sdk.gen}: a concurrency key runs one job per user at a time`, async () => {
      const evs = [];
      for (let i = 0; i < 3; i++) evs.push(await send('app/serial', { user: 'u1' }));
      const jobs = [];
      for (const ev of evs) jobs.push(await until('serial', async () => (await jobsFor(ev)).find(ended), 600));
      const spans = jobs.map((j) => j.output).sort((a, b) => a.start - b.start);
      for (let i = 1; i < spans.length; i++) assert.ok(spans[i].start >= spans[i - 1].end, `overlap: ${JSON.stringify(spans)}`);
    });
  }
  return { functions: Object.values(fns), setUrl: (u) => ready(u) };
}
