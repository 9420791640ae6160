// The seed's SDK generation, served through Express as the seed app did.
import { after } from 'node:test';
import express from 'express';
import { Inngest } from 'inngest2';
import { serve } from 'inngest2/express.js';
import { suite } from './inngest-suite.mjs';

const client = new Inngest({ name: 'app2', inngestBaseUrl: process.env.ERRAND_URL + '/', eventKey: 'any-key' });
const { functions, setUrl } = suite({
  gen: 'inngest 2.0.1', client, supports: { onFailure: true, concurrency: true, batch: false, timeouts: false },
  fn: (opts, event, handler) => client.createFunction({ ...opts, name: opts.id, id: undefined }, { event }, handler),
  sleep: (step, _id, d) => step.sleep(d),
  wait: (step, _id, { event, ...opts }) => step.waitForEvent(event, opts),
});
const app = express();
app.use(express.json({ limit: '10mb' }));
app.use('/api/inngest', serve(client, functions, { inngestRegisterUrl: process.env.ERRAND_URL + '/fn/register' }));
const server = await new Promise((r) => { const s = app.listen(0, '127.0.0.1', () => r(s)); });
after(() => server.close());
setUrl(`http://127.0.0.1:${server.address().port}/api/inngest`);
