// The seed's scenario in headless Chromium, on examples/seed-app (driven
// by its TestSeedAppInChromium): sign up on the app's own page, start a
// report, and watch it run to the end without reloading.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

const base = process.env.SEED_URL;
const email = process.env.SEED_EMAIL;

test('a user signs up, starts a report and watches it finish', async () => {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
  });
  try {
    const page = await browser.newPage();
    page.setDefaultTimeout(15000);
    let navigations = 0;
    page.on('framenavigated', (f) => { if (f === page.mainFrame()) navigations++; });
    await page.goto(base);
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill('correct horse battery');
    await page.getByRole('button', { name: 'Sign up' }).click();
    await page.getByText(`Signed in as ${email}`).waitFor();

    // Record every status the job's row shows.
    await page.evaluate(() => {
      window.__seen = [];
      new MutationObserver(() => {
        const s = document.querySelector('#jobs li')?.dataset.status;
        if (s && window.__seen.at(-1) !== s) window.__seen.push(s);
      }).observe(document.getElementById('jobs'), { subtree: true, childList: true, attributes: true });
    });
    await page.getByRole('button', { name: 'Start report' }).click();
    await page.waitForFunction(() => document.querySelector('#jobs li')?.dataset.status === 'finished');
    const seen = await page.evaluate(() => window.__seen);
    assert.equal(seen.at(-1), 'finished');
    assert.ok(seen.includes('running'), `statuses seen: ${seen}`);
    assert.ok(seen.indexOf('running') < seen.indexOf('finished'));
    const text = await page.locator('#jobs li').textContent();
    assert.match(text, /"rows_updated":1/);
    assert.equal(await page.locator('#jobs li progress').evaluate((p) => p.value), 1);
    assert.equal(navigations, 1, 'the page was loaded more than once');
  } finally {
    await browser.close();
  }
});
