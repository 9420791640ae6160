// errand runs functions served by the unmodified `inngest` 3.x SDK (classic
// execution) through a plain Node HTTP server.
// Env: ERRAND_URL, ERRAND_SERVICE_KEY.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { Inngest } from 'inngest3';
import { serve } from 'inngest3/node';

const base = process.env.ERRAND_URL;
const service = process.env.ERRAND_SERVICE_KEY;
const admin = { authorization: `Bearer ${service}`, 'content-type': 'application/json' };

const inngest = new Inngest({ id: 'app3', baseUrl: base, isDev: true, eventKey: 'any-key' });
const hello = inngest.createFunction({ id: 'hello' }, { event: 'app/hello' },
  async ({ event }) => `Hello, ${event.data.name}!`);
const multi = inngest.createFunction({ id: 'multi' }, { event: 'app/multi' }, async ({ event, step }) => {
  const a = await step.run('a', () => 20);
  await step.sleep('nap', '1s');
  const paid = await step.waitForEvent('paid', { event: 'app/paid', timeout: '1m', if: 'async.data.order == event.data.order' });
  const b = await step.run('b', () => a + 22);
  return { b, by: paid?.data?.by };
});

const server = http.createServer(serve({ client: inngest, functions: [hello, multi] }));
await new Promise((r) => server.listen(0, '127.0.0.1', r));
after(() => server.close());
const url = `http://127.0.0.1:${server.address().port}/api/inngest`;

async function jobFor(eventId, want = 'finished') {
  for (let i = 0; i < 300; i++) {
    const res = await fetch(`${base}/v1/jobs?event_id=${eventId}`, { headers: admin });
    const { jobs } = await res.json();
    if (jobs.length && ['finished', 'failed', 'cancelled'].includes(jobs[0].status)) return jobs[0];
    if (want === 'running' && jobs.length && jobs[0].status === 'running') return jobs[0];
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no job for event ${eventId} reached ${want}`);
}

test('sync registers the functions', async () => {
  const res = await fetch(`${base}/v1/apps/sync`, { method: 'POST', headers: admin, body: JSON.stringify({ url }) });
  assert.equal(res.status, 200, await res.text());
  const fns = await (await fetch(`${base}/v1/functions`, { headers: admin })).json();
  const ids = fns.functions.map((f) => f.id);
  assert.ok(ids.includes('app3-hello') && ids.includes('app3-multi'), ids.join(','));
});

test('hello', async () => {
  const { ids } = await inngest.send({ name: 'app/hello', data: { name: 'Ada' } });
  const job = await jobFor(ids[0]);
  assert.equal(job.status, 'finished', JSON.stringify(job));
  assert.equal(job.output, 'Hello, Ada!');
});

test('steps, sleep and waitForEvent', async () => {
  const { ids } = await inngest.send({ name: 'app/multi', data: { order: 'o1' } });
  const running = await jobFor(ids[0], 'running');
  assert.ok(running);
  // Wait until the job parks on the event, then send it.
  for (let i = 0; i < 100; i++) {
    const steps = await (await fetch(`${base}/v1/jobs/${running.id}/steps`, { headers: admin })).json();
    if (steps.steps.some((s) => s.kind === 'waitForEvent')) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  await inngest.send({ name: 'app/paid', data: { order: 'o1', by: 'card' } });
  const job = await jobFor(ids[0]);
  assert.equal(job.status, 'finished', JSON.stringify(job));
  assert.deepEqual(job.output, { b: 42, by: 'card' });
  const steps = await (await fetch(`${base}/v1/jobs/${job.id}/steps`, { headers: admin })).json();
  assert.deepEqual(steps.steps.map((s) => s.kind), ['run', 'sleep', 'waitForEvent', 'run']);
});
