// A long-running inngest 3.x app for process-level tests and the step
// overhead benchmark. Prints its serve URL on the first line.
// GET /stats returns the gaps between a 206 reply (a step done) and the next
// call (errand's per-step orchestration overhead), in milliseconds; run one
// job at a time when measuring.
import http from 'node:http';
import { Inngest } from 'inngest3';
import { serve } from 'inngest3/node';

const client = new Inngest({ id: 'app3', baseUrl: process.env.ERRAND_URL, isDev: true, eventKey: 'any-key' });
const counts = {};
const count = (k) => { counts[k] = (counts[k] || 0) + 1; return counts[k]; };
const durable = client.createFunction({ id: 'durable' }, { event: 'app/durable' }, async ({ step }) => {
  const a = await step.run('a', () => count('a'));
  await step.sleep('nap', '2s');
  const b = await step.run('b', () => count('b'));
  return { a, b, runs_of_a: counts.a, runs_of_b: counts.b };
});
const twenty = client.createFunction({ id: 'twenty' }, { event: 'app/twenty' }, async ({ step }) => {
  for (let i = 0; i < 20; i++) await step.run(`s${i}`, () => i);
  return 'done';
});
const handler = serve({ client, functions: [durable, twenty] });
let lastReply = null;
const gaps = [];
const server = http.createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/stats') {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ gaps }));
    return;
  }
  if (req.method === 'POST' && lastReply !== null) gaps.push(performance.now() - lastReply);
  res.on('finish', () => { lastReply = req.method === 'POST' && res.statusCode === 206 ? performance.now() : null; });
  handler(req, res);
});
server.listen(0, '127.0.0.1', () => console.log(`http://127.0.0.1:${server.address().port}/api/inngest`));
