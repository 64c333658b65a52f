/**
 * The bundled chat page (src/local/example) in headless Chromium, against local mode: two tabs chatting, HTML
 * injection shown as text, long words wrapping on a phone-sized screen, an over-limit message refused in the page,
 * an invalid room caught before connecting, and a server restart (one status line that backs off, typed messages
 * queued and sent on reconnect). Screenshots go to .screenshots/chat/ (gitignored).
 *
 * Chromium is Debian's `chromium` on the PATH (CHROMIUM overrides), started here with fixed flags and driven over
 * the DevTools protocol with playwright-core; nothing is downloaded.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RecordingLog } from '#test-helpers/fakes.js';
import { startLocal, type LocalOptions, type LocalStack } from '#src/local/start.js';

const SCREENSHOTS = join(import.meta.dirname, '..', '..', '.screenshots', 'chat');
const PHONE = { width: 390, height: 740 };
const DESKTOP = { width: 1024, height: 720 };

let stack: LocalStack;
let stackOptions: LocalOptions;
let browser: Browser;
let chrome: ChildProcess;
let profile: string;

beforeAll(async () => {
  await mkdir(SCREENSHOTS, { recursive: true });
  stackOptions = {
    wsPort: 0,
    controlPort: 0,
    examplePort: 0,
    gripKey: 'browser-test-key',
    sweepIntervalMs: 600_000,
    log: new RecordingLog(),
  };
  stack = await startLocal({ ...stackOptions, worker: { waitTimeSeconds: 1 } });
  // The restart test starts the stack again on the same ports, as a person restarting `npm start` would.
  stackOptions = {
    ...stackOptions,
    wsPort: Number(new URL(stack.wsUrl).port),
    controlPort: Number(new URL(stack.controlUrl).port),
    examplePort: Number(new URL(stack.exampleUrl ?? '').port),
  };
  profile = await mkdtemp(join(tmpdir(), 'chat-browser-profile-'));
  const launched = await launchChromium(profile);
  chrome = launched.process;
  browser = await chromium.connectOverCDP(launched.endpoint);
});

afterAll(async () => {
  await browser?.close().catch(() => undefined);
  // Chromium writes into its profile until it has exited: removing the folder before then fails (ENOTEMPTY).
  const exited = chrome && chrome.exitCode === null && chrome.signalCode === null ? new Promise((r) => chrome.once('exit', r)) : null;
  chrome?.kill();
  await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000))]);
  await stack?.stop();
  if (profile) await rm(profile, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
});

/** Opens the chat page in a fresh browser context (its own storage), at a phone or desktop size. */
async function openChat(query: string, viewport = DESKTOP): Promise<Page> {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  await page.goto(`${stack.exampleUrl}/?${query}`);
  return page;
}

const logText = (page: Page) => page.locator('#log').innerText();
const statusText = (page: Page) => page.locator('#state').innerText();

async function say(page: Page, text: string): Promise<void> {
  await page.locator('#text').fill(text);
  await page.locator('#text').press('Enter');
}

async function connected(page: Page, as: string, timeout = 10_000): Promise<void> {
  await expect.poll(() => statusText(page), { timeout }).toContain(`as ${as}.`);
}

describe('the chat page', () => {
  it('lets two tabs chat, shows HTML as text, and wraps long words on a phone', async () => {
    const alice = await openChat('room=lobby&name=alice', PHONE);
    const bob = await openChat('room=lobby&name=bob');
    await connected(alice, 'alice');
    await connected(bob, 'bob');

    await say(alice, 'hello bob');
    await say(bob, 'hi alice!');
    for (const page of [alice, bob]) {
      await expect.poll(() => logText(page)).toContain('alice: hello bob\nbob: hi alice!');
    }

    const injection = '<img src=x onerror="window.__pwned=1"><b>bold?</b><script>window.__pwned=2</script>';
    await say(bob, injection);
    await expect.poll(() => logText(alice)).toContain(`bob: ${injection}`);
    expect(await alice.locator('#log img, #log b, #log script').count()).toBe(0);
    expect(await alice.evaluate(() => (window as { __pwned?: number }).__pwned)).toBeUndefined();

    const url = `https://example.com/${'very-long-path-segment-'.repeat(12)}?q=${'x'.repeat(120)}`;
    await say(alice, url);
    await say(alice, 'W'.repeat(400));
    await expect.poll(() => logText(alice)).toContain('W'.repeat(400));
    const overflow = await alice.locator('#log').evaluate((log) => log.scrollWidth - log.clientWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    const pageOverflow = await alice.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(pageOverflow).toBeLessThanOrEqual(0);

    await alice.screenshot({ path: join(SCREENSHOTS, '1-phone-alice.png') });
    await bob.screenshot({ path: join(SCREENSHOTS, '2-desktop-bob.png') });
    await alice.context().close();
    await bob.context().close();
  });

  it('refuses a message over the limit in the page, with the reason, and stays connected', async () => {
    const carol = await openChat('room=limits&name=carol');
    await connected(carol, 'carol');
    const huge = 'a'.repeat(140_000);
    await say(carol, huge);
    await expect.poll(() => logText(carol)).toMatch(/Not sent: the message is 140,000 bytes; a chat message may have at most 130,048/);
    expect((await carol.locator('#text').inputValue()).length).toBe(140_000);
    await say(carol, 'short one');
    await expect.poll(() => logText(carol)).toContain('carol: short one');
    expect(await statusText(carol)).toContain('Connected to limits');
    await carol.screenshot({ path: join(SCREENSHOTS, '3-over-limit.png') });
    await carol.context().close();
  });

  it('catches an empty or invalid room before connecting', async () => {
    for (const [query, shot] of [
      ['room=&name=dave', '4-empty-room.png'],
      ['room=no%20spaces!&name=dave', '5-invalid-room.png'],
    ] as const) {
      const context = await browser.newContext({ viewport: PHONE });
      const page = await context.newPage();
      const sockets: string[] = [];
      page.on('websocket', (ws) => sockets.push(ws.url()));
      await page.goto(`${stack.exampleUrl}/?${query}`);
      await expect.poll(() => statusText(page)).toMatch(/^Cannot join room ".*": a room name is 1 to 64 letters, digits, - or _/);
      expect(await page.locator('#text').isDisabled()).toBe(true);
      expect(sockets).toEqual([]);
      await page.screenshot({ path: join(SCREENSHOTS, shot) });
      await context.close();
    }
  });

  it('survives a server restart: one status line that backs off, and nothing typed is lost', async () => {
    const erin = await openChat('room=restart&name=erin', PHONE);
    const frank = await openChat('room=restart&name=frank');
    await connected(erin, 'erin');
    await connected(frank, 'frank');
    await say(frank, 'before the restart');
    await expect.poll(() => logText(erin)).toContain('frank: before the restart');

    await stack.stop();
    // 1 s, then 2 s, then 4 s: "Retrying in 4 s" can only show on the third failed attempt.
    await expect.poll(() => statusText(erin), { timeout: 15_000, interval: 100 }).toMatch(/Cannot reach the chat server.*Retrying in 4 s/);
    await say(erin, 'typed while the server was down');
    await expect.poll(() => logText(erin)).toContain('(waiting for the connection) typed while the server was down');
    expect((await logText(erin)).match(/disconnected/g)).toHaveLength(1);
    await erin.screenshot({ path: join(SCREENSHOTS, '6-server-down.png') });

    stack = await startLocal({ ...stackOptions, worker: { waitTimeSeconds: 1 } });
    // The next attempt comes when the page's backoff says: up to 8 s if one more failed while the stack started.
    await connected(erin, 'erin', 20_000);
    await connected(frank, 'frank', 20_000);
    for (const page of [erin, frank]) {
      await expect.poll(() => logText(page), { timeout: 10_000 }).toContain('erin: typed while the server was down');
    }
    expect(await logText(erin)).not.toContain('(waiting for the connection)');
    expect((await logText(erin)).match(/reconnected/g)).toHaveLength(1);
    await erin.screenshot({ path: join(SCREENSHOTS, '7-after-restart.png') });
    await erin.context().close();
    await frank.context().close();
  }, 60_000);
});

/** Starts Chromium with the DevTools protocol on a free port; resolves with its endpoint once it listens. */
function launchChromium(userDataDir: string): Promise<{ process: ChildProcess; endpoint: string }> {
  const executable = process.env['CHROMIUM'] ?? 'chromium';
  const child = spawn(
    executable,
    [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      `--user-data-dir=${userDataDir}`,
      '--remote-debugging-port=0',
      'about:blank',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  return new Promise((resolve, reject) => {
    let stderr = '';
    const timer = setTimeout(() => reject(new Error(`Chromium did not start in 20 s:\n${stderr}`)), 20_000);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(new Error(`cannot start ${executable} (install Debian's chromium package, or set CHROMIUM): ${error.message}`));
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`Chromium exited with ${code}:\n${stderr}`));
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      const match = /DevTools listening on (ws:\/\/\S+)/.exec(stderr);
      if (match?.[1]) {
        clearTimeout(timer);
        resolve({ process: child, endpoint: match[1] });
      }
    });
  });
}
