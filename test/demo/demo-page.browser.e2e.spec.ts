import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LakechatClient } from '../../client/src/index.ts';
import { runMigrations } from '../../src/migrate.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { freePort } from '../support/global-setup.ts';

const chromiumPath = '/usr/bin/chromium';
const root = fileURLToPath(new URL('../..', import.meta.url));
const tsx = import.meta.resolve('tsx');
// In CI the browser test must run: .ci/run installs chromium, and its absence is a failure there.
const skip = !existsSync(chromiumPath) && process.env.CI === undefined;
if (skip) console.warn(`skipping the demo page browser test: ${chromiumPath} is missing (apt-get install -y chromium)`);

interface ServerProcess {
  url: string;
  stop(): Promise<void>;
}

/** A real lakechat server process on 127.0.0.1:port, on the test database (or on its memory store). */
async function startServer(port: number, databaseUrl: string | null): Promise<ServerProcess> {
  const storage: Record<string, string> = databaseUrl === null ? {} : { LAKEBASE_PG_URL: databaseUrl, STORAGE_FALLBACK: 'fail' };
  const child: ChildProcess = spawn(process.execPath, ['--import', tsx, 'src/server.ts'], {
    cwd: root,
    // Other test files share the PostgreSQL server: their transactions can hold the log's readers
    // (and so a write's wait for the read models) back for longer than the default 5 s.
    env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', PORT: String(port), ...storage, LOG_LEVEL: 'warn', PROJECTION_WAIT_TIMEOUT_MS: '30000' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  for (let attempt = 0; ; attempt += 1) {
    if (child.exitCode !== null) throw new Error(`the server exited:\n${output}`);
    try {
      if ((await fetch(`${url}/ready`)).ok) break;
    } catch {
      // not listening yet
    }
    if (attempt > 900) throw new Error(`the server did not become ready:\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    url,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

let database: TestDatabase;
let profile: string;
let context: BrowserContext | undefined;
const servers: ServerProcess[] = [];
beforeAll(async () => {
  if (skip) return;
  database = await createTestDatabase();
  await runMigrations({ connectionString: database.url });
  profile = mkdtempSync(path.join(tmpdir(), 'lakechat-chromium-'));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});
afterAll(async () => {
  if (skip) return;
  await context?.close();
  for (const server of servers) await server.stop();
  rmSync(profile, { recursive: true, force: true });
  await database.drop();
});

const browser = (): BrowserContext => {
  if (context === undefined) throw new Error('the browser did not start');
  return context;
};
const messagesOf = (page: Page) => page.locator('#messages li .content');
/** What a page shows, polled until it matches (a browser and two servers share two busy cores). */
const poll = <T>(probe: () => Promise<T>) => expect.poll(probe, { timeout: 20_000, interval: 100 });

describe.skipIf(skip)('the demo page in a real browser', () => {
  it('chats between two tabs on two server instances, through a restart of one of them, live and without duplicates', async () => {
    const portA = await freePort();
    const portB = await freePort();
    const [serverA, serverB] = await Promise.all([startServer(portA, database.url), startServer(portB, database.url)]);
    servers.push(serverA, serverB);

    const context = browser();
    const user = encodeURIComponent('alice@example.com');
    const first = await context.newPage();
    const second = await context.newPage();
    const pageErrors: string[] = [];
    for (const page of [first, second]) page.on('pageerror', (error) => pageErrors.push(error.message));
    await first.goto(`${serverA.url}/?user=${user}`);
    await second.goto(`${serverB.url}/?user=${user}`);
    await poll(() => first.locator('#status').getAttribute('data-state')).toBe('live');
    await poll(() => second.locator('#status').getAttribute('data-state')).toBe('live');
    // No chat open: no message box to type into.
    expect(await first.locator('#post').isVisible()).toBe(false);

    // Tab 1 starts a chat: tab 2, on the other instance, sees it appear.
    await first.fill('#new-title', 'Groceries');
    await first.click('#new-chat button');
    await poll(() => first.locator('#post').isVisible()).toBe(true);
    await poll(() => second.locator('#chats li .title').allTextContents()).toEqual(['Groceries']);
    await second.click('#chats li');
    await poll(() => first.locator('#chat-title').textContent()).toBe('Groceries');

    // Typing in tab 1 shows in tab 2 (a signal, across instances through PostgreSQL).
    await first.locator('#content').pressSequentially('mil');
    await poll(() => second.locator('#typing').textContent()).toBe('alice@example.com is typing…');
    await first.fill('#content', 'milk');
    await first.click('#post button');
    await poll(() => messagesOf(second).allTextContents()).toEqual(['milk']);

    // Instance B restarts: tab 2 reconnects by itself and resumes after its last cursor.
    await serverB.stop();
    await poll(() => second.locator('#status').getAttribute('data-state')).toBe('reconnecting');
    await first.fill('#content', 'eggs');
    await first.click('#post button');
    await poll(() => messagesOf(first).allTextContents()).toEqual(['milk', 'eggs']);
    const restarted = await startServer(portB, database.url);
    servers.push(restarted);
    await poll(() => second.locator('#status').getAttribute('data-state')).toBe('live');
    await poll(() => messagesOf(second).allTextContents()).toEqual(['milk', 'eggs']);

    // And tab 2 posts through the restarted instance: tab 1 sees it, nothing twice anywhere.
    await second.fill('#content', 'bread');
    await second.click('#post button');
    await poll(() => messagesOf(first).allTextContents()).toEqual(['milk', 'eggs', 'bread']);
    await poll(() => messagesOf(second).allTextContents()).toEqual(['milk', 'eggs', 'bread']);
    expect(await second.locator('#chats li .preview').textContent()).toBe('bread');

    await second.screenshot({ path: path.join(tmpdir(), 'lakechat-demo-page.png') });
    expect(pageErrors).toEqual([]);
    await first.close();
    await second.close();
  }, 180_000);

  it('is usable on a phone, from 360 px up: header, chat list, title, Send and messages fit the width', async () => {
    const server = await startServer(await freePort(), database.url);
    servers.push(server);
    const page = await browser().newPage();
    const user = encodeURIComponent('carol@example.com');
    for (const width of [390, 360]) {
      await page.setViewportSize({ width, height: 800 });
      await page.goto(`${server.url}/?user=${user}`);
      await poll(() => page.locator('#status').getAttribute('data-state')).toBe('live');
      if (width === 390) {
        await page.fill('#new-title', 'Plans for the long weekend trip to the mountains with everyone');
        await page.click('#new-chat button');
        await page.fill('#content', 'A message long enough to need several lines on a phone, which must wrap on words and not one word per line.');
        await page.click('#post button');
      } else {
        await page.click('#chats li');
      }
      await poll(() => messagesOf(page).count()).toBe(1);
      // Measured in the page (a string: this file is compiled without the DOM's types).
      const layout = (await page.evaluate(`(() => {
        const box = (selector) => document.querySelector(selector).getBoundingClientRect();
        const title = document.querySelector('#chat-title');
        const send = box('#post button');
        return {
          scrollWidth: document.documentElement.scrollWidth,
          header: box('header').right,
          status: box('#status').right,
          chatList: box('#chats').right,
          send: { right: send.right, width: send.width, bottom: send.bottom },
          titleCut: title.scrollWidth > title.clientWidth,
          message: { width: box('#messages li').width },
          messageLineHeight: parseFloat(getComputedStyle(document.querySelector('#messages li .content')).lineHeight) || 20,
          contentHeight: box('#messages li .content').height,
        };
      })()`)) as {
        scrollWidth: number;
        header: number;
        status: number;
        chatList: number;
        send: { right: number; width: number; bottom: number };
        titleCut: boolean;
        message: { width: number };
        messageLineHeight: number;
        contentHeight: number;
      };
      expect(layout.scrollWidth, `${width}px: nothing wider than the screen`).toBeLessThanOrEqual(width);
      for (const right of [layout.header, layout.status, layout.chatList, layout.send.right]) expect(right).toBeLessThanOrEqual(width);
      expect(layout.send.width).toBeGreaterThan(30);
      expect(layout.send.bottom).toBeLessThanOrEqual(800);
      expect(layout.titleCut).toBe(false);
      expect(layout.message.width, 'a message uses the width of the screen').toBeGreaterThan(width * 0.7);
      expect(layout.contentHeight / layout.messageLineHeight, 'a long message wraps on a few lines, not one word per line').toBeLessThan(6);
      await page.screenshot({ path: path.join(tmpdir(), `lakechat-demo-page-${width}.png`) });
    }
    await page.close();
  }, 120_000);

  it('says what is wrong in a sentence, once, when the server refuses the connection', async () => {
    const server = await startServer(await freePort(), database.url);
    servers.push(server);
    const page = await browser().newPage();
    await page.goto(`${server.url}/?user=`); // no identity: the connection is refused (4401)
    await poll(() => page.locator('#status').getAttribute('data-state')).toBe('stopped');
    const sentence = 'The server does not know who you are. Pick a demo user above, or open the page through Databricks Apps.';
    await poll(() => page.locator('#error').textContent()).toBe(sentence);
    const text = await page.locator('body').innerText();
    expect(text.split(sentence)).toHaveLength(2); // shown once
    expect(text).not.toContain('LAKECHAT_ERR');
    await page.close();
  }, 120_000);

  it('shows nothing of a deleted chat whose content was erased: no empty chat from its tombstones, no error', async () => {
    const server = await startServer(await freePort(), null);
    servers.push(server);
    const user = 'erin@example.com';
    const lakechat = new LakechatClient({ url: server.url, user });
    const page = await browser().newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (error) => pageErrors.push(error.message));
    try {
      await lakechat.chats.create({ id: 'budget', title: 'Secret budget' });
      await lakechat.post('budget', { content: 'my salary' });
      await lakechat.chats.create({ id: 'kept', title: 'Kept' });
      await lakechat.post('kept', { content: 'hello' });
      // The chat is deleted and its content erased: the log holds its tombstones, and ChatDeleted.
      await lakechat.chats.remove('budget');
      await page.goto(`${server.url}/?user=${encodeURIComponent(user)}`);
      await poll(() => page.locator('#status').getAttribute('data-state')).toBe('live');
      await poll(() => page.locator('#chats li .title').allTextContents()).toEqual(['Kept']);
      const text = await page.locator('body').innerText();
      expect(text).not.toContain('Secret budget');
      expect(text).not.toContain('my salary');
      await page.click('#chats li');
      await poll(() => messagesOf(page).allTextContents()).toEqual(['hello']);
      expect(pageErrors).toEqual([]);
    } finally {
      await lakechat.close();
      await page.close();
    }
  }, 120_000);

  it("starts over when the server moved to another store and refuses the tab's cursor, instead of showing stale chats as live", async () => {
    const port = await freePort();
    const memory = await startServer(port, null);
    const page = await browser().newPage();
    const user = 'dan@example.com';
    await page.goto(`${memory.url}/?user=${encodeURIComponent(user)}`);
    await poll(() => page.locator('#status').getAttribute('data-state')).toBe('live');
    await page.fill('#new-title', 'Only in memory');
    await page.click('#new-chat button');
    await poll(() => page.locator('#chats li .title').allTextContents()).toEqual(['Only in memory']);
    // Where a client of the memory store stands, to ask the next server whether it refuses it.
    const probe = new LakechatClient({ url: memory.url, user });
    const memoryCursor = await new Promise<string | null>((resolve) => probe.subscribe({ scope: 'user', after: null }, { onCaughtUp: resolve }));
    await probe.close();
    await memory.stop();

    // The server comes back on PostgreSQL, which holds other chats of the user.
    const postgres = await startServer(port, database.url);
    servers.push(postgres);
    const lakechat = new LakechatClient({ url: postgres.url, user });
    try {
      await lakechat.chats.create({ title: 'In PostgreSQL' });
      const refused = await new Promise<boolean>((resolve) => {
        lakechat.subscribe({ scope: 'user', after: memoryCursor }, { onReset: () => resolve(true), onCaughtUp: () => resolve(false) });
      });
      // The server refuses a cursor of another store (LAKECHAT_ERR_STORE_INVALID_CURSOR): the page must react.
      expect(refused).toBe(true);
      await poll(() => page.locator('#chats li .title').allTextContents()).toEqual(['In PostgreSQL']);
      await poll(() => page.locator('#status').getAttribute('data-state')).toBe('live');
      expect(await page.locator('#notice').isVisible()).toBe(true);
    } finally {
      await lakechat.close();
      await page.close();
    }
  }, 180_000);
});
