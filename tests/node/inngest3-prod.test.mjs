// errand start (production): calls to the app are signed, and the
// unmodified inngest 3.x SDK in cloud mode accepts them; a tampered body or
// an expired timestamp is refused.
// Env: ERRAND_URL, ERRAND_SERVICE_KEY, ERRAND_EVENT_KEY, ERRAND_SIGNING_KEY.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { createHmac, randomUUID } from 'node:crypto';
import { Inngest } from 'inngest3';
import { serve } from 'inngest3/node';

const base = process.env.ERRAND_URL;
const signingKey = process.env.ERRAND_SIGNING_KEY;
const admin = { authorization: `Bearer ${process.env.ERRAND_SERVICE_KEY}`, 'content-type': 'application/json' };
const client = new Inngest({ id: 'prodapp', baseUrl: base, isDev: false, eventKey: process.env.ERRAND_EVENT_KEY });
const hello = client.createFunction({ id: 'hello' }, { event: 'app/hello' }, async ({ event }) => `Hello, ${event.data.name}!`);
const server = http.createServer(serve({ client, functions: [hello], signingKey }));
let url;
before(async () => {
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${server.address().port}/api/inngest`;
});
after(() => server.close());

// canonical is RFC 8785 JSON for plain data: sorted keys, no spaces.
const canonical = (v) => Array.isArray(v) ? `[${v.map(canonical).join(',')}]`
  : v && typeof v === 'object' ? `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`).join(',')}}`
  : JSON.stringify(v);

const sign = (body, t) => {
  const key = signingKey.replace(/^signkey-\w+-/, '');
  return `t=${t}&s=${createHmac('sha256', key).update(body + t).digest('hex')}`;
};

test('a signed sync and signed calls run the function', async () => {
  const res = await fetch(`${base}/v1/apps/sync`, { method: 'POST', headers: admin, body: JSON.stringify({ url }) });
  assert.equal(res.status, 200, await res.text());
  const id = randomUUID();
  await client.send({ id, name: 'app/hello', data: { name: 'Ada' } });
  let job;
  for (let i = 0; i < 100 && !(job && job.status === 'finished'); i++) {
    job = (await (await fetch(`${base}/v1/jobs?event_id=${id}`, { headers: admin })).json()).jobs[0];
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(job?.status, 'finished', JSON.stringify(job));
  assert.equal(job.output, 'Hello, Ada!');
});

test('the app refuses a tampered body and an expired timestamp', async () => {
  const body = canonical({ event: { name: 'app/hello', data: { name: 'Eve' } }, events: [], steps: {}, ctx: { run_id: 'r', attempt: 0, stack: { stack: [], current: 0 } }, version: 1 });
  const now = Math.floor(Date.now() / 1000);
  const call = (b, sig) => fetch(`${url}?fnId=prodapp-hello&stepId=step`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-inngest-signature': sig }, body: b });
  const tampered = await call(body.replace('Eve', 'Mallory'), sign(body, now));
  assert.ok(tampered.status >= 400, `tampered body accepted: ${tampered.status}`);
  const expired = await call(body, sign(body, now - 600));
  assert.ok(expired.status >= 400, `expired timestamp accepted: ${expired.status}`);
  const good = await call(body, sign(body, now));
  assert.ok(good.status === 200 || good.status === 206, `a correctly signed call was refused: ${good.status}`);
});
