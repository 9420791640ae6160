import http from 'node:http';
import { after } from 'node:test';
import { Inngest } from 'inngest4';
import { serve } from 'inngest4/node';
import { suite } from './inngest-suite.mjs';

const client = new Inngest({ id: 'app4', baseUrl: process.env.ERRAND_URL, isDev: true, eventKey: 'any-key' });
const { functions, setUrl } = suite({
  gen: 'inngest 4.x', client, supports: { onFailure: true, concurrency: true, batch: true, timeouts: true },
  fn: (opts, event, handler) => client.createFunction({ ...opts, triggers: [{ event }] }, handler),
});
const server = http.createServer(serve({ client, functions }));
await new Promise((r) => server.listen(0, '127.0.0.1', r));
after(() => server.close());
setUrl(`http://127.0.0.1:${server.address().port}/api/inngest`);
