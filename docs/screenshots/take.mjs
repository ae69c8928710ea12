// Screenshots of the Temporal Web UI of a running `go run ./cmd/dev`, for
// docs/operations.md: the workflow list with idvflow's columns, and one session's
// page. Run (see docs/operations.md, "Where is this user's session?"):
//
//   npm install --prefix docs/screenshots
//   node docs/screenshots/take.mjs [UI URL] [a session's link, as cmd/simulate prints it]
//
// The UI polls and never goes idle, so each page is given real time to
// render instead of waiting for the network to settle.
import puppeteer from 'puppeteer-core';

const ui = process.argv[2] ?? 'http://127.0.0.1:8233';
const sessionURL = process.argv[3];
const out = new URL('.', import.meta.url).pathname;
const settle = (ms) => new Promise((r) => setTimeout(r, ms));

const browser = await puppeteer.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--headless=new'],
  defaultViewport: { width: 1600, height: 900 },
});
try {
  const page = await browser.newPage();
  // What "Configure Columns" stores when a user adds idvflow's search
  // attributes to the list (the UI keeps it in the browser, per namespace).
  await page.goto(`${ui}/namespaces/default/workflows`, { waitUntil: 'domcontentloaded' });
  await page.evaluate(() => {
    const columns = ['Status', 'Workflow ID', 'IdvStatus', 'IdvProvider', 'IdvUserId', 'Type', 'Start', 'End'];
    localStorage.setItem('namespace-workflow-table-columns',
      JSON.stringify({ default: columns.map((label) => ({ label })) }));
  });
  await page.goto(`${ui}/namespaces/default/workflows`, { waitUntil: 'domcontentloaded' });
  await settle(10000);
  await page.screenshot({ path: `${out}/workflow-list.png` });

  // Where a user adds the columns: the table's "Configure Columns" button.
  const opened = await page.evaluate(() => {
    const b = [...document.querySelectorAll('button')].find((e) =>
      /column/i.test(`${e.getAttribute('aria-label') ?? ''} ${e.title ?? ''} ${e.textContent}`));
    b?.click();
    return Boolean(b);
  });
  if (!opened) throw new Error('no "Configure Columns" button');
  await settle(3000);
  await page.screenshot({ path: `${out}/configure-columns.png` });

  if (sessionURL) {
    // The simulator's link lists the one session; its ID leads to its page.
    await page.goto(sessionURL, { waitUntil: 'domcontentloaded' });
    await settle(5000);
    const id = decodeURIComponent(sessionURL).match(/WorkflowId="([^"]+)"/)[1];
    const href = await page.evaluate((id) =>
      [...document.querySelectorAll('a')].find((a) => a.textContent.trim() === id)?.href, id);
    if (!href) throw new Error(`no link to ${id} on ${sessionURL}`);
    await page.goto(href, { waitUntil: 'domcontentloaded' });
    await settle(8000);
    await page.screenshot({ path: `${out}/session.png` });

    // The one-line summary and the live Markdown details are on the
    // "User Metadata" tab.
    const clicked = await page.evaluate(() => {
      const tab = [...document.querySelectorAll('a, button, [role="tab"]')]
        .find((e) => e.textContent.trim() === 'User Metadata');
      tab?.click();
      return Boolean(tab);
    });
    if (!clicked) throw new Error('no "User Metadata" tab');
    await settle(4000);
    await page.screenshot({ path: `${out}/session-metadata.png` });
  }
} finally {
  await browser.close();
}
