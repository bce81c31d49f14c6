// tests/browser/ui.mjs URL OUTDIR LABEL - drive opencode's web UI through
// occ's front in a real Chromium (Debian's, through playwright-core) and
// check what a user would: the app opens straight away (never opencode's own
// "Connect to a server" page), a session made through the UI is there again
// after a reload, and the terminal's websocket works (opencode 2 only; 1.x
// serves no UI of its own here). Screenshots go to OUTDIR/browser-LABEL-*.png.
//
// Environment: OCC_E2E_CHROME (the browser, or a wrapper around it),
// OCC_E2E_USER and OCC_E2E_PASSWORD (HTTP Basic for the front; unset in
// open mode). Passwords never go into argv. Exit 0 passed, 1 failed.
import { chromium } from 'playwright-core';

const [url, outdir, label] = process.argv.slice(2);
if (!url || !outdir || !label) {
	console.error('usage: ui.mjs URL OUTDIR LABEL');
	process.exit(64);
}
const user = process.env.OCC_E2E_USER;
const password = process.env.OCC_E2E_PASSWORD;
const marker = `occ-e2e-${label}-${process.pid}-${Date.now()}`;
const shot = (page, name) => page.screenshot({ path: `${outdir}/browser-${label}-${name}.png` });
const log = (msg) => console.log(`   ${label}: ${msg}`);

// Strings of opencode's own connection screen (server.connect.* in its
// language bundle): none of them may ever show through occ's front.
const connectScreen = [
	'Connect to a server',
	'Use password',
	'Use pairing link',
	'Pairing link',
	'Enter your server address and password',
];

async function assertApp(page, what) {
	// The home view's session search or a session's composer: the app.
	await page.locator('[data-component="home-session-search"], [data-component="composer-editor"]')
		.first().waitFor({ state: 'visible', timeout: 30000 });
	const text = await page.innerText('body');
	for (const s of connectScreen) {
		if (text.includes(s)) throw new Error(`${what}: opencode's connect screen shows ('${s}')`);
	}
	log(`${what}: the app shows, no connect screen`);
}

const browser = await chromium.launch({
	executablePath: process.env.OCC_E2E_CHROME || '/usr/bin/chromium',
	args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
		'--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
let failed = false;
try {
	const context = await browser.newContext({
		viewport: { width: 1280, height: 800 },
		...(user ? { httpCredentials: { username: user, password: password ?? '' } } : {}),
	});
	const page = await context.newPage();
	const bad = [];
	let events = 0;
	page.on('response', (r) => {
		const u = new URL(r.url());
		if (u.pathname === '/api/event' && r.status() === 200) events++;
		if (r.status() === 401 || r.status() === 403 || r.status() === 421 || r.status() >= 500)
			bad.push(`${r.request().method()} ${u.pathname} -> ${r.status()}`);
	});

	// 1. Straight into the app.
	const first = await page.goto(url);
	if (!first || first.status() !== 200) throw new Error(`GET / -> ${first?.status()}`);
	await assertApp(page, 'load /');
	await shot(page, 'home');

	// 2. A session made through the UI: a new session, a prompt, Send. (The
	// model cannot answer offline; the session exists all the same.)
	await page.getByRole('button', { name: 'New session' }).first().click();
	await page.locator('[data-component="composer-editor"]').first().click();
	await page.keyboard.type(marker);
	await page.getByRole('button', { name: 'Send' }).first().click();
	await page.waitForURL(/\/session\/ses_[A-Za-z0-9]+/, { timeout: 30000 });
	const sessionUrl = page.url();
	await page.getByText(marker).first().waitFor({ timeout: 15000 });
	log(`session made through the UI: ${new URL(sessionUrl).pathname.split('/').pop()}`);
	await shot(page, 'session');

	// 3. After a reload: the app again, and the session with its message.
	await page.reload();
	await assertApp(page, 'reload');
	await page.getByText(marker).first().waitFor({ timeout: 30000 });
	log('the session is there after a reload');
	await page.getByRole('button', { name: 'Home' }).first().click();
	await page.locator('[data-component="home-session-row"]').first().waitFor({ timeout: 15000 });
	await shot(page, 'reload-home');
	await page.goto(sessionUrl);
	await assertApp(page, 'session page');

	// 4. Server-sent events reached the page through the front.
	if (events === 0) throw new Error('no /api/event stream answered 200');
	log(`server-sent events: ${events} stream(s) opened`);

	// 5. The terminal (opencode's terminal.toggle, Ctrl+`): a PTY websocket
	// through the front, a command typed into it, its output back.
	const ws = page.waitForEvent('websocket', { predicate: (w) => /pty\/[^/]+\/connect/.test(new URL(w.url()).pathname), timeout: 20000 });
	await page.locator('[data-component="composer-editor"]').first().click();
	await page.keyboard.press('Control+Backquote');
	const socket = await ws;
	log(`terminal websocket: ${new URL(socket.url()).pathname}`);
	let output = '';
	socket.on('framereceived', (f) => { output += typeof f.payload === 'string' ? f.payload : f.payload.toString(); });
	const term = page.locator('[data-component="terminal"]').first();
	await term.waitFor({ state: 'visible', timeout: 15000 });
	await term.click();
	await page.keyboard.type(`echo ${marker}-$((6*7))\n`);
	const deadline = Date.now() + 15000;
	while (!output.includes(`${marker}-42`) && Date.now() < deadline) await page.waitForTimeout(200);
	if (!output.includes(`${marker}-42`)) throw new Error('the terminal did not echo the command\'s output');
	log('terminal: a command ran and its output came back');
	await page.waitForTimeout(500);
	await shot(page, 'terminal');

	if (bad.length) throw new Error(`refused requests: ${bad.join(', ')}`);
	await assertApp(page, 'end');
} catch (e) {
	failed = true;
	console.error(`   ${label}: FAIL: ${e.message}`);
	for (const p of browser.contexts().flatMap((c) => c.pages())) {
		await p.screenshot({ path: `${outdir}/browser-${label}-failure.png` }).catch(() => {});
	}
} finally {
	await browser.close();
}
process.exit(failed ? 1 : 0);
