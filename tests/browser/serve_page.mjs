// The page of `denoise serve` in a real browser: headless Chromium driven through
// chromedriver's W3C WebDriver protocol (plain HTTP; Node's own fetch, no npm package).
// It draws digits on the canvas with mouse events and one with the arrow keys, waits for
// the page's prediction and checks the digit read after denoising; moves the noise
// slider with the keyboard and checks that the noisy picture changes; saves a
// screenshot; and draws again in a phone-sized window.
//
// Usage: node serve_page.mjs DENOISE_EXE SOURCE_DIR SCREENSHOT.png
// Environment: CHROMIUM (default /usr/bin/chromium), CHROMEDRIVER (default /usr/bin/chromedriver).
import { spawn } from 'node:child_process';
import { writeFileSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';

const [exe, sourceDir, screenshot] = process.argv.slice(2);
if (!exe || !sourceDir || !screenshot) {
  console.error('usage: node serve_page.mjs DENOISE_EXE SOURCE_DIR SCREENSHOT.png');
  process.exit(2);
}
const chromium = process.env.CHROMIUM || '/usr/bin/chromium';
const chromedriver = process.env.CHROMEDRIVER || '/usr/bin/chromedriver';
const ELEMENT = 'element-6066-11e4-a52e-4f735466cecf';  // the W3C web element key
const children = [];
let failures = 0;

function check(ok, what) {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
  if (!ok) failures++;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function freePort() {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

// Starts a program and resolves once a line of its output matches `ready`.
function start(program, args, ready) {
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`${program} did not start: ${seen}`)), 30000);
    const look = (data) => {
      seen += data;
      const m = seen.match(ready);
      if (m) { clearTimeout(timer); resolve({ child, match: m }); }
    };
    child.stdout.on('data', look);
    child.stderr.on('data', look);
    child.on('exit', (code) => reject(new Error(`${program} exited (${code}): ${seen}`)));
  });
}

let driver, session;
async function wd(method, path, body) {
  const res = await fetch(`${driver}/session${session ? '/' + session : ''}${path}`, {
    method, headers: { 'Content-Type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body),
  });
  const answer = await res.json();
  if (!res.ok) throw new Error(`${method} ${path}: ${JSON.stringify(answer.value).slice(0, 500)}`);
  return answer.value;
}
const run = (script, ...args) => wd('POST', '/execute/sync', { script, args });
const find = async (css) => (await wd('POST', '/element', { using: 'css selector', value: css }))[ELEMENT];

// Polls the page until fn's script returns true (or fails after timeout ms).
async function until(script, what, timeout = 15000) {
  const end = Date.now() + timeout;
  while (Date.now() < end) {
    if (await run(script)) return true;
    await sleep(50);
  }
  throw new Error(`timed out waiting for ${what}`);
}

// The number of answers the page has shown; the next drawing must raise it.
const answers = () => run('return Number(document.body.dataset.answers || 0)');

async function settled(before) {
  await sleep(300);  // the page waits 150 ms after the last stroke before it asks
  await until(`return document.body.dataset.state === 'ready' && Number(document.body.dataset.answers || 0) > ${before}`,
              'the prediction');
}

// Strokes in the 280x280 canvas's own pixels; W3C pointer offsets are from the element's centre.
async function draw(canvas, strokes) {
  const actions = [];
  for (const stroke of strokes) {
    const [x0, y0] = stroke[0];
    actions.push({ type: 'pointerMove', duration: 0, origin: { [ELEMENT]: canvas }, x: x0 - 140, y: y0 - 140 });
    actions.push({ type: 'pointerDown', button: 0 });
    for (const [x, y] of stroke.slice(1))
      actions.push({ type: 'pointerMove', duration: 15, origin: { [ELEMENT]: canvas }, x: x - 140, y: y - 140 });
    actions.push({ type: 'pointerUp', button: 0 });
  }
  await wd('POST', '/actions', { actions: [{ type: 'pointer', id: 'mouse', parameters: { pointerType: 'mouse' }, actions }] });
  await wd('DELETE', '/actions');
}

function ellipse(cx, cy, rx, ry, n = 28) {
  const pts = [];
  for (let i = 0; i <= n; i++) pts.push([cx + rx * Math.sin(2 * Math.PI * i / n), cy - ry * Math.cos(2 * Math.PI * i / n)]);
  return pts;
}

// Clearly drawn digits, as a person draws them.
const digits = [
  { digit: 0, strokes: [ellipse(140, 140, 55, 90)] },
  { digit: 1, strokes: [[[150, 45], [145, 120], [140, 235]]] },
  { digit: 4, strokes: [[[120, 45], [80, 160], [205, 160]], [[175, 70], [175, 240]]] },
  { digit: 7, strokes: [[[75, 55], [205, 55], [160, 140], [125, 240]]] },
  { digit: 3, strokes: [[[85, 70], [120, 45], [175, 50], [190, 90], [165, 130], [125, 138], [170, 145], [195, 190],
                         [170, 232], [120, 238], [80, 215]]] },
];

async function main() {
  const { match } = await start(exe, ['serve', '--denoiser', join(sourceDir, 'models/seed-mnist-gaussian0.5'),
                                      '--classifier', join(sourceDir, 'models/classifier-mnist-clean'),
                                      '--port', '0', '--quiet'], /http:\/\/127\.0\.0\.1:(\d+)\//);
  const url = `http://127.0.0.1:${match[1]}/`;
  const driverPort = await freePort();
  await start(chromedriver, [`--port=${driverPort}`], /started successfully/);
  driver = `http://127.0.0.1:${driverPort}`;
  session = (await wd('POST', '', {
    capabilities: { alwaysMatch: { browserName: 'chrome', 'goog:chromeOptions': {
      binary: chromium,
      args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--window-size=1100,860',
             '--force-device-scale-factor=1'] } } },
  })).sessionId;

  await wd('POST', '/url', { url });
  check(await run('return document.title') === 'denoise: draw a digit', 'the page loads');
  const canvas = await find('#pad');

  for (const { digit, strokes } of digits) {
    await run("document.getElementById('clear').click()");
    const before = await answers();
    await draw(canvas, strokes);
    await settled(before);
    const read = await run("return document.getElementById('digit-denoised').textContent");
    check(read === String(digit), `a drawn ${digit} is read as ${read} after denoising`);
  }

  // The noise level, changed with the keyboard on the slider: the noisy picture changes.
  const noisyBefore = await run("return document.getElementById('img-noisy').src");
  const slider = await find('#level');
  const before = await answers();
  await wd('POST', `/element/${slider}/click`, {});
  await wd('POST', '/actions', { actions: [{ type: 'key', id: 'keyboard', actions: [
    { type: 'keyDown', value: '\uE012' }, { type: 'keyUp', value: '\uE012' },  // ArrowLeft
    { type: 'keyDown', value: '\uE012' }, { type: 'keyUp', value: '\uE012' }] }] });
  await wd('DELETE', '/actions');
  await settled(before);
  const level = await run("return document.getElementById('level').value");
  const noisyAfter = await run("return document.getElementById('img-noisy').src");
  check(level !== '0.5', `the slider moved (level ${level})`);
  check(noisyAfter.startsWith('data:image/png') && noisyAfter !== noisyBefore, 'the noisy picture changes with the level');

  // The last digit drawn, at a heavier noise level, for the screenshot.
  await run("const l = document.getElementById('level'); l.value = '0.6'; l.dispatchEvent(new Event('input'));");
  await settled(await answers());
  const png = await wd('GET', '/screenshot');
  mkdirSync(dirname(screenshot), { recursive: true });
  writeFileSync(screenshot, Buffer.from(png, 'base64'));
  console.log(`screenshot: ${screenshot}`);

  // A digit drawn with the keyboard: the pen starts at the pad's centre; 4 steps up with
  // the pen lifted, Space, 8 steps down, Space: a vertical stroke, read as a 1.
  await run("document.getElementById('clear').click(); document.getElementById('pad').focus()");
  check(await run("return getComputedStyle(document.getElementById('pen')).display") === 'block',
        'the pen shows on the focused pad');
  const press = (value, times = 1) =>
    Array.from({ length: times }, () => [{ type: 'keyDown', value }, { type: 'keyUp', value }]).flat();
  const beforeKeys = await answers();
  await wd('POST', '/actions', { actions: [{ type: 'key', id: 'keyboard', actions: [
    ...press('\uE013', 4), ...press(' '), ...press('\uE015', 8), ...press(' ')] }] });  // ArrowUp, ArrowDown
  await wd('DELETE', '/actions');
  await settled(beforeKeys);
  const keyed = await run("return document.getElementById('digit-denoised').textContent");
  check(keyed === '1', `a 1 drawn with the arrow keys is read as ${keyed}`);
  check(await run("return document.getElementById('pen-state').textContent") === 'Pen up: the arrow keys move the pen.',
        'the pen\'s state is announced');

  // A phone-sized window: nothing runs off the side, and a new drawing is still read.
  await wd('POST', '/window/rect', { width: 380, height: 800 });
  await sleep(200);
  const fits = await run('const e = document.documentElement; return e.scrollWidth <= e.clientWidth');
  check(fits, 'the page fits a 380-pixel-wide window');
  await run("document.getElementById('clear').click()");
  const small = await answers();
  await draw(canvas, digits[1].strokes.map((stroke) => stroke.map(([x, y]) => [140 + (x - 140) * 0.6, 140 + (y - 140) * 0.6])));
  await settled(small);
  const read = await run("return document.getElementById('digit-denoised').textContent");
  check(read === '1', `a 1 drawn in the small window is read as ${read}`);
}

try {
  await main();
} catch (e) {
  console.error(`FAIL ${e.message}`);
  failures++;
} finally {
  if (session) await wd('DELETE', '').catch(() => {});
  for (const c of children) c.kill('SIGTERM');
}
console.log(failures ? `${failures} check(s) failed` : 'all checks passed');
process.exit(failures ? 1 : 0);
