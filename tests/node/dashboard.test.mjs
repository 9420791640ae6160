// The dashboard in headless Chromium (Debian's chromium, driven by the
// unmodified playwright-core). Run by internal/dashboard's
// TestDashboardInChromium, which starts errand with a "report" function
// whose jobs stop at gates this script opens through CONTROL_URL.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const base = process.env.ERRAND_URL;
const serviceKey = process.env.ERRAND_SERVICE_KEY;
const control = process.env.CONTROL_URL;
const shots = process.env.SCREENSHOTS;
const stamp = Date.now();
const alice = { email: `alice-${stamp}@example.com`, password: 'correct horse battery' };
const bob = { email: `bob-${stamp}@example.com`, password: 'another good password' };
const T = { timeout: 15000 };

let browser;
const state = {}; // job ids, shared between the ordered tests

before(async () => {
  mkdirSync(shots, { recursive: true });
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
    // launch() gives the browser a fresh, temporary profile of its own.
  });
});

after(async () => {
  await browser?.close();
});

async function release(key) {
  const r = await fetch(`${control}/release?key=${encodeURIComponent(key)}`, { method: 'POST' });
  assert.equal(r.status, 200);
}

// Every page we photograph is also checked for the basics of
// accessibility: a language, one h1, a label for every control, a name
// for every button and link, and a skip link that the keyboard reaches
// first.
async function shot(page, name) {
  const problems = await page.evaluate(() => {
    const out = [];
    if (!document.documentElement.lang) out.push('no lang on <html>');
    const h1 = document.querySelectorAll('h1').length;
    if (h1 !== 1) out.push(`${h1} h1 elements`);
    for (const c of document.querySelectorAll('input:not([type=hidden]), select, textarea')) {
      if (!c.labels?.length && !c.getAttribute('aria-label')) out.push(`unlabelled ${c.outerHTML.slice(0, 80)}`);
    }
    for (const c of document.querySelectorAll('button, a[href], summary')) {
      if (!c.textContent.trim() && !c.getAttribute('aria-label')) out.push(`nameless ${c.outerHTML.slice(0, 80)}`);
    }
    for (const c of document.querySelectorAll('progress')) {
      if (!c.getAttribute('aria-label') && !c.labels?.length) out.push('unlabelled progress');
    }
    return out;
  });
  assert.deepEqual(problems, [], `${name}: accessibility problems`);
  await page.keyboard.press('Tab');
  const first = await page.evaluate(() => document.activeElement?.textContent);
  assert.equal(first, 'Skip to content', `${name}: the first Tab does not reach the skip link`);
  await page.keyboard.press('Shift+Tab');
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
}

async function newContext(opts) {
  const ctx = await browser.newContext(opts);
  ctx.setDefaultTimeout(10000);
  return ctx;
}

async function signUp(page, who, name) {
  await page.goto(`${base}/signup`);
  if (name) await shot(page, name);
  await page.getByLabel('Email').fill(who.email);
  await page.locator('#password').fill(who.password);
  await page.getByLabel('Password again').fill(who.password);
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.waitForURL(`${base}/`);
  await page.getByRole('heading', { name: 'My jobs' }).waitFor(T);
}

async function startReport(page, title) {
  await page.getByLabel('Function').selectOption('report');
  await page.getByLabel(/^Input/).fill(JSON.stringify({ title }));
  await page.getByRole('button', { name: 'Start' }).click();
  await page.waitForURL(`${base}/`);
  const flash = await page.getByRole('status').textContent();
  const id = /Started job (\w+)\./.exec(flash)?.[1];
  assert.ok(id, `no job id in ${flash}`);
  return id;
}

const statusOf = (page, id) => page.locator(`tr[data-job="${id}"] [data-field="status"]`);

async function waitStatus(page, id, status) {
  await page.waitForFunction(([id, status]) =>
    document.querySelector(`tr[data-job="${id}"] [data-field="status"]`)?.textContent === status, [id, status], T);
}

test('alice signs up, starts a job and watches it without reloading', async () => {
  const ctx = await newContext({ viewport: { width: 1280, height: 800 } });
  const page = await ctx.newPage();
  state.alice = ctx;
  await page.goto(`${base}/`);
  await page.waitForURL(`${base}/signin`);
  await shot(page, '0-sign-in');
  await signUp(page, alice, '0-sign-up');
  assert.match(await page.locator('tbody').textContent(), /no jobs yet/);

  const id = await startReport(page, 'Q3 numbers');
  state.first = id;
  assert.equal(await statusOf(page, id).textContent(), 'waiting', 'the blocker holds the only slot');

  // From here on the page must not load again: count navigations, and
  // record every status the row shows.
  let navigations = 0;
  page.on('framenavigated', (f) => { if (f === page.mainFrame()) navigations++; });
  await page.evaluate((id) => {
    window.__seen = [document.querySelector(`tr[data-job="${id}"] [data-field="status"]`).textContent];
    window.__marker = 'same page';
    const cell = document.querySelector(`tr[data-job="${id}"]`);
    new MutationObserver(() => {
      const s = cell.querySelector('[data-field="status"]').textContent;
      if (window.__seen.at(-1) !== s) window.__seen.push(s);
    }).observe(cell, { subtree: true, childList: true, characterData: true });
  }, id);
  await page.locator('[data-live-state]').filter({ hasText: 'live' }).waitFor(T);
  await shot(page, '1-my-jobs-waiting');

  await release(process.env.BLOCKER_GATE + '/start');
  await release(process.env.BLOCKER_GATE + '/finish');
  await waitStatus(page, id, 'running');
  await shot(page, '2-my-jobs-running');

  await release(`${id}/start`);
  await page.locator(`tr[data-job="${id}"] [data-field="message"]`).filter({ hasText: 'halfway' }).waitFor(T);
  assert.equal(await page.locator(`tr[data-job="${id}"] progress`).getAttribute('value'), '50');

  await release(`${id}/finish`);
  await waitStatus(page, id, 'finished');
  const result = await page.locator(`tr[data-job="${id}"] [data-field="result"]`).textContent();
  assert.match(result, /"pages":3/);
  assert.equal(await page.locator(`tr[data-job="${id}"] progress`).getAttribute('value'), '100');
  assert.deepEqual(await page.evaluate(() => window.__seen), ['waiting', 'running', 'finished']);
  assert.equal(await page.evaluate(() => window.__marker), 'same page');
  assert.equal(navigations, 0, 'the page was reloaded');
  await shot(page, '3-my-jobs-finished');
});

test('alice cancels another job', async () => {
  const page = await state.alice.newPage();
  await page.goto(`${base}/`);
  const id = await startReport(page, 'to be cancelled');
  state.cancelled = id;
  await waitStatus(page, id, 'running'); // stopped at its first gate
  await page.locator(`tr[data-job="${id}"]`).getByRole('button', { name: 'Cancel' }).click();
  await page.waitForURL(`${base}/`);
  assert.match(await page.getByRole('status').textContent(), new RegExp(`Job ${id} is cancelled`));
  await waitStatus(page, id, 'cancelled');
  assert.equal(await page.locator(`tr[data-job="${id}"] form[action$="/cancel"]`).count(), 0);
  await shot(page, '4-my-jobs');
});

test('the job page shows the steps as a timeline', async () => {
  const page = await state.alice.newPage();
  await page.goto(`${base}/`);
  await page.locator(`tr[data-job="${state.first}"] a`).click();
  await page.waitForURL(`${base}/jobs/${state.first}`);
  await page.getByRole('heading', { name: `Job ${state.first}` }).waitFor(T);
  const steps = page.locator('#steps > li');
  assert.equal(await steps.count(), 2);
  assert.match(await steps.nth(0).textContent(), /prepare[\s\S]*done[\s\S]*1 attempt/);
  assert.match(await steps.nth(1).textContent(), /render[\s\S]*done/);
  assert.match(await page.locator('[data-field="output"]').textContent(), /"title": "Q3 numbers"/);
  await shot(page, '5-job-timeline');

  // The same page with JavaScript off: everything is there.
  const nojs = await newContext({ javaScriptEnabled: false, storageState: await state.alice.storageState() });
  const p2 = await nojs.newPage();
  await p2.goto(`${base}/jobs/${state.first}`);
  assert.equal(await p2.locator('#steps > li').count(), 2);
  await p2.goto(`${base}/`);
  assert.equal(await p2.locator(`tr[data-job="${state.first}"] [data-field="status"]`).textContent(), 'finished');
  await nojs.close();

  // And on a phone.
  const phone = await newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true,
    storageState: await state.alice.storageState() });
  const p3 = await phone.newPage();
  await p3.goto(`${base}/`);
  const width = await p3.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(width <= 390, `the page is ${width}px wide on a 390px phone`);
  await shot(p3, '6-my-jobs-phone');
  await phone.close();
});

test('bob sees none of alice\'s jobs and no admin page', async () => {
  const ctx = await newContext();
  const page = await ctx.newPage();
  await signUp(page, bob);
  const body = await page.locator('main').textContent();
  assert.ok(!body.includes(state.first) && !body.includes(state.cancelled), 'bob sees alice\'s jobs');
  assert.match(body, /no jobs yet/);

  const r = await page.goto(`${base}/jobs/${state.first}`);
  assert.equal(r.status(), 404);
  await shot(page, '12-another-users-job');
  const live = await page.goto(`${base}/live/jobs/${state.first}/steps`);
  assert.equal(live.status(), 404);
  const admin = await page.goto(`${base}/admin/jobs`);
  assert.equal(admin.status(), 403);
  assert.ok(!(await page.content()).includes(alice.email));

  await page.goto(`${base}/`);
  const id = await startReport(page, 'bob\'s report');
  state.bob = id;
  await release(`${id}/start`);
  await release(`${id}/finish`);
  await waitStatus(page, id, 'finished');
  await ctx.close();
});

test('an admin signs in with the service key and sees both users\' jobs', async () => {
  const ctx = await newContext({ viewport: { width: 1280, height: 900 } });
  const page = await ctx.newPage();
  await page.goto(`${base}/admin`);
  await page.waitForURL(/\/signin/);
  await page.getByText('Admin: sign in with the service key').click();
  await page.getByLabel(/Service key/).fill(serviceKey);
  await page.getByRole('button', { name: 'Sign in as admin' }).click();
  await page.waitForURL(`${base}/admin`);
  await page.getByRole('heading', { name: 'Overview' }).waitFor(T);
  assert.equal(await page.locator('figure.chart').count(), 3);
  await shot(page, '7-admin-overview');

  await page.goto(`${base}/admin/jobs`);
  const table = await page.locator('table.jobs').textContent();
  for (const id of [state.first, state.cancelled, state.bob]) assert.ok(table.includes(id), `admin misses ${id}`);
  assert.ok(table.includes(alice.email) && table.includes(bob.email));
  const wide = await page.evaluate(() => [document.documentElement.scrollWidth, document.querySelector('.table-wrap').scrollWidth,
    document.querySelector('.table-wrap').clientWidth]);
  assert.ok(wide[0] <= 1280 && wide[1] <= wide[2], `the jobs page overflows: ${wide}`);
  await shot(page, '8-admin-jobs');

  // Filters: bob's jobs only, then the cancelled one by status.
  await page.getByLabel('Owner').fill(bob.email);
  await page.getByRole('button', { name: 'Filter' }).click();
  let rows = await page.locator('tbody tr[data-job]').evaluateAll((trs) => trs.map((tr) => tr.dataset.job));
  assert.deepEqual(rows, [state.bob]);
  await page.goto(`${base}/admin/jobs?status=cancelled`);
  rows = await page.locator('tbody tr[data-job]').evaluateAll((trs) => trs.map((tr) => tr.dataset.job));
  assert.deepEqual(rows, [state.cancelled]);

  // Retry the cancelled job: a new job of the same function.
  await page.locator(`tr[data-job="${state.cancelled}"]`).getByRole('button', { name: 'Retry' }).click();
  await page.waitForLoadState();
  assert.match(page.url(), /\/jobs\/\w+$/, await page.locator('main').textContent());
  assert.match(await page.getByRole('status').textContent(), /Retried as job/);
  const retried = page.url().split('/').pop();
  // The jobs page follows the retried job live.
  await page.goto(`${base}/admin/jobs`);
  await page.locator('[data-live-state]').filter({ hasText: 'live' }).waitFor(T);
  await waitStatus(page, retried, 'running');
  await release(`${retried}/start`);
  await release(`${retried}/finish`);
  await waitStatus(page, retried, 'finished');
  // A job started elsewhere appears on the unfiltered list by itself.
  const r = await fetch(`${base}/v1/jobs`, { method: 'POST', headers: { authorization: `Bearer ${serviceKey}`,
    'content-type': 'application/json' }, body: JSON.stringify({ function: 'report', data: { title: 'from the API' } }) });
  assert.equal(r.status, 201);
  const apiJob = (await r.json()).id;
  await page.locator(`tr[data-job="${apiJob}"]`).waitFor(T);
  await release(`${apiJob}/start`);
  await release(`${apiJob}/finish`);
  await waitStatus(page, apiJob, 'finished');
  assert.equal(await page.locator(`tr[data-job="${apiJob}"] td[data-label="Owner"]`).textContent(), 'system');

  await page.goto(`${base}/admin/events`);
  await page.locator('li.event').first().waitFor(T);
  await shot(page, '9-admin-events');
  await page.goto(`${base}/admin/functions`);
  assert.match(await page.locator('main').textContent(), /Monthly report/);
  await shot(page, '10-admin-functions');
  await page.goto(`${base}/admin/users`);
  const users = await page.locator('main').textContent();
  assert.ok(users.includes(alice.email) && users.includes(bob.email));
  await shot(page, '11-admin-users');

  // Ban bob: his session ends at once.
  await page.locator(`tr[data-user="${bob.email}"]`).getByRole('button', { name: 'Ban' }).click();
  assert.match(await page.getByRole('status').textContent(), /is banned/);
  await ctx.close();
});

test('forms from another site are refused', async () => {
  const ctx = await newContext();
  const page = await ctx.newPage();
  await page.goto(`${base}/signin`);
  const status = await page.evaluate(async (base) => {
    const r = await fetch(`${base}/signin`, { method: 'POST', body: new URLSearchParams({ email: 'a@b.c', password: 'x', csrf: 'forged' }) });
    return r.status;
  }, base);
  assert.equal(status, 403);
  await ctx.close();
});
