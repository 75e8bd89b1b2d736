// The page: a drawing pad whose picture goes to /api/predict (debounced) with the
// chosen noise; the answer's pictures and probabilities are shown side by side.
'use strict';
const pad = document.getElementById('pad');
const ctx = pad.getContext('2d');
const $ = (id) => document.getElementById(id);
let drawing = false, last = null, dirty = false, timer = null, upload = null, inFlight = 0, sent = 0, shown = 0;
// data-state on the body: "busy" from a change until its answer is shown, then "ready".
let pending = false;

function clearPad() {
  ctx.fillStyle = '#000';
  ctx.fillRect(0, 0, pad.width, pad.height);
  dirty = false;
  upload = null;
}

function point(e) {
  const r = pad.getBoundingClientRect();
  return { x: (e.clientX - r.left) * pad.width / r.width, y: (e.clientY - r.top) * pad.height / r.height };
}

function stroke(from, to) {
  ctx.strokeStyle = '#fff';
  ctx.lineWidth = 22;
  ctx.lineCap = 'round';
  ctx.lineJoin = 'round';
  ctx.beginPath();
  ctx.moveTo(from.x, from.y);
  ctx.lineTo(to.x, to.y);
  ctx.stroke();
}

pad.addEventListener('pointerdown', (e) => {
  drawing = true;
  upload = null;
  pad.setPointerCapture(e.pointerId);
  last = point(e);
  stroke(last, last);
  dirty = true;
  schedule();
});
pad.addEventListener('pointermove', (e) => {
  if (!drawing) return;
  const p = point(e);
  stroke(last, p);
  last = p;
  schedule();
});
const stop = () => { if (drawing) { drawing = false; schedule(); } };
pad.addEventListener('pointerup', stop);
pad.addEventListener('pointercancel', stop);

$('clear').addEventListener('click', () => { clearPad(); showEmpty(); });
// Drawing with the keyboard: the arrow keys move a pen over the pad (Shift: small steps),
// Space or Enter puts it down (a dot) or lifts it; while it is down, each move draws.
const pen = { x: pad.width / 2, y: pad.height / 2, down: false };
const moves = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };
function showPen() {  // the ring, in the pad's displayed pixels (inside its border)
  $('pen').style.left = (pad.offsetLeft + pad.clientLeft + pen.x * pad.clientWidth / pad.width) + 'px';
  $('pen').style.top = (pad.offsetTop + pad.clientTop + pen.y * pad.clientHeight / pad.height) + 'px';
  $('pen').classList.toggle('down', pen.down);
}
function ink(from, to) {
  upload = null;
  stroke(from, to);
  dirty = true;
  schedule();
}
pad.addEventListener('focus', showPen);
pad.addEventListener('keydown', (e) => {
  if (e.key === 'Delete' || e.key === 'Backspace' || e.key === 'Escape') {
    clearPad();
    showEmpty();
  } else if (e.key in moves) {
    const step = e.shiftKey ? 5 : 20, [dx, dy] = moves[e.key];
    const to = { x: Math.min(pad.width, Math.max(0, pen.x + dx * step)),
                 y: Math.min(pad.height, Math.max(0, pen.y + dy * step)) };
    if (pen.down) ink({ x: pen.x, y: pen.y }, to);
    Object.assign(pen, to);
  } else if (e.key === ' ' || e.key === 'Enter') {
    pen.down = !pen.down;
    if (pen.down) ink(pen, pen);
    $('pen-state').textContent = pen.down ? 'Pen down: the arrow keys draw.' : 'Pen up: the arrow keys move the pen.';
  } else {
    return;
  }
  showPen();
  e.preventDefault();
});
$('upload').addEventListener('change', () => {
  const file = $('upload').files[0];
  if (!file) return;
  upload = file;
  const img = new Image();
  img.onload = () => {
    clearPad();
    upload = file;
    const s = Math.min(pad.width / img.width, pad.height / img.height);
    ctx.drawImage(img, (pad.width - img.width * s) / 2, (pad.height - img.height * s) / 2, img.width * s, img.height * s);
    URL.revokeObjectURL(img.src);
  };
  img.src = URL.createObjectURL(file);
  dirty = true;
  update();
});

function noiseSpec() {
  const kind = $('kind').value, level = Number($('level').value);
  if (kind === 'none') return 'none';
  if (kind === 'poisson') return 'poisson:' + Math.max(1, Math.round(level * 100));  // peak count: lower is noisier
  return kind + ':' + level;
}
function showLevel() {
  const kind = $('kind').value;
  $('level').disabled = kind === 'none';
  $('level-value').textContent = kind === 'poisson' ? 'peak ' + Math.max(1, Math.round(Number($('level').value) * 100))
                                                    : Number($('level').value).toFixed(2);
}
for (const id of ['kind', 'level', 'seed']) $(id).addEventListener('input', () => { showLevel(); schedule(); });

function schedule() {
  clearTimeout(timer);
  pending = true;
  document.body.dataset.state = 'busy';
  timer = setTimeout(() => { pending = false; update(); }, 150);
}

function bars(list, probabilities) {
  const top = probabilities.indexOf(Math.max(...probabilities));
  list.replaceChildren(...probabilities.map((p, d) => {
    const li = document.createElement('li');
    if (d === top) li.className = 'top';
    li.setAttribute('aria-label', `${d}: ${(100 * p).toFixed(1)} percent`);
    const label = document.createElement('span'), track = document.createElement('span');
    const fill = document.createElement('span'), value = document.createElement('span');
    label.textContent = d;
    track.className = 'track';
    fill.className = 'fill';
    fill.style.width = (100 * p).toFixed(1) + '%';  // CSSOM, which the page's content policy allows
    value.textContent = p.toFixed(3);
    track.append(fill);
    li.append(label, track, value);
    return li;
  }));
}

function showEmpty() {
  for (const id of ['img-framed', 'img-noisy', 'img-denoised']) $(id).removeAttribute('src');
  for (const which of ['noisy', 'denoised']) { $('digit-' + which).textContent = '–'; $('bars-' + which).replaceChildren(); }
  $('status').textContent = 'Draw a digit to start.';
  document.body.dataset.state = 'empty';
}

async function update() {
  const id = ++sent;
  inFlight++;
  document.body.dataset.state = 'busy';
  try {
    if (!dirty) return;
    const body = upload || await new Promise((resolve) => pad.toBlob(resolve, 'image/png'));
    const query = new URLSearchParams({ noise: noiseSpec(), seed: $('seed').value || '0', denoise: '1', images: '1' });
    const res = await fetch('/api/predict?' + query, { method: 'POST', headers: { 'Content-Type': body.type || 'image/png' }, body });
    const answer = await res.json();
    if (id < shown) return;  // an older answer arriving after a newer one
    shown = id;
    if (!res.ok) {
      $('status').textContent = answer.error || ('error ' + res.status);
      if (res.status === 400) showEmptyPictures();
      return;
    }
    $('img-framed').src = answer.images.framed;
    $('img-noisy').src = answer.images.input;
    $('img-denoised').src = answer.images.denoised;
    $('digit-noisy').textContent = answer.input.digit;
    $('digit-denoised').textContent = answer.denoised.digit;
    bars($('bars-noisy'), answer.input.probabilities);
    bars($('bars-denoised'), answer.denoised.probabilities);
    $('status').textContent = `noise ${answer.noise}, seed ${answer.seed}` +
        (answer.denoised.low_confidence ? ': low confidence, this may not be a digit' : '');
  } catch (err) {
    $('status').textContent = 'The server did not answer: ' + err.message;
  } finally {
    if (--inFlight === 0 && !pending) document.body.dataset.state = 'ready';
    document.body.dataset.answers = String(shown);
  }
}
function showEmptyPictures() {
  for (const id of ['img-framed', 'img-noisy', 'img-denoised']) $(id).removeAttribute('src');
}

clearPad();
showLevel();
showEmpty();
