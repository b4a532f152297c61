// glassnet playground: the page draws; the server (glassnet itself) trains.
// No framework and no build step. State the tests and benchmarks read is on window.playground.
"use strict";

const token = document.body.dataset.token;
const $ = (id) => document.getElementById(id);
const NS = "http://www.w3.org/2000/svg";

const state = {
  session: null, config: null, query: "", options: null, setup: null, playing: false,
  frames: 0, epoch: 0, header: null, values: null, doctor: null, refusals: [],
  history: null, connected: false, busy: false, version: 0, frameTimes: [], drawMs: [], socket: null,
};
window.playground = state;

// --- colours: orange (negative) - light grey (zero) - blue (positive), as TF Playground ---
const NEG = [245, 147, 34], MID = [232, 234, 235], POS = [8, 119, 189];
const LUT = new Uint8ClampedArray(256 * 3);
for (let k = 0; k < 256; k++) {
  const t = k / 127.5 - 1, end = t < 0 ? NEG : POS, a = Math.abs(t);
  for (let c = 0; c < 3; c++) LUT[3 * k + c] = Math.round(MID[c] + (end[c] - MID[c]) * a);
}
const colour = (t) => {
  const k = Math.max(0, Math.min(255, Math.round((t + 1) * 127.5)));
  return `rgb(${LUT[3 * k]},${LUT[3 * k + 1]},${LUT[3 * k + 2]})`;
};

function paint(canvas, values, offset, desc) {
  const [h, w] = desc.shape;
  if (canvas.width !== w || canvas.height !== h) { canvas.width = w; canvas.height = h; }
  const ctx = canvas.getContext("2d"), img = ctx.createImageData(w, h), px = img.data;
  const scale = desc.scale || 1, shift = desc.shift || 0;
  for (let i = 0; i < w * h; i++) {
    const t = (values[offset + i] - shift) / scale;
    const k = t >= 1 ? 255 : t <= -1 ? 0 : Math.round((t + 1) * 127.5);
    px[4 * i] = LUT[3 * k]; px[4 * i + 1] = LUT[3 * k + 1]; px[4 * i + 2] = LUT[3 * k + 2];
    px[4 * i + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
}

// --- the socket ---
let ws = null;
function send(msg) { if (ws && ws.readyState === 1) ws.send(JSON.stringify(msg)); }
state.send = send;

function connect() {
  ws = new WebSocket(`ws://${location.host}/ws?token=${encodeURIComponent(token)}`);
  ws.binaryType = "arraybuffer";
  state.socket = ws;
  ws.onopen = () => { state.connected = true; send({ type: "hello", query: location.hash.slice(1) }); };
  ws.onmessage = (ev) => {
    if (typeof ev.data === "string") onMessage(JSON.parse(ev.data)); else onFrame(ev.data);
  };
  ws.onclose = (ev) => {
    state.connected = false;
    if (!state.busy) notice("The connection to glassnet playground closed" +
      (ev.reason ? ` (${ev.reason})` : "") + ". Is the command still running? Reload to reconnect.");
  };
}

function onMessage(m) {
  switch (m.type) {
    case "setup": onSetup(m); break;
    case "config": applyConfig(m.config, m.query, m.version); $("code").textContent = m.code; break;
    case "state": setPlaying(m.playing); break;
    case "doctor": onDoctor(m); break;
    case "refused":
      state.refusals.push(m.message);
      notice(`Refused: ${m.message}`);
      applyConfig(m.config, m.query);
      break;
    case "busy": state.busy = true; notice(m.message); break;
    case "code": $("code").textContent = m.text; state.code = m.text; break;
  }
}

function notice(text, kind) {
  const n = $("notice");
  n.textContent = text; n.className = kind || ""; n.hidden = false;
  clearTimeout(notice.timer);
  notice.timer = setTimeout(() => { n.hidden = true; }, 10000);
}

// --- settings ---
function fillSelect(id, values, label) {
  const sel = $(id);
  sel.innerHTML = "";
  for (const v of values) {
    const o = document.createElement("option");
    o.value = String(v); o.textContent = label ? label(v) : String(v);
    sel.appendChild(o);
  }
}

function setSelect(id, value) {
  const sel = $(id), v = String(value);
  if (![...sel.options].some((o) => o.value === v)) {
    const o = document.createElement("option"); o.value = v; o.textContent = v; sel.appendChild(o);
  }
  sel.value = v;
}

function change(changes) { send({ type: "set", config: changes }); }

function buildControls(opt) {
  fillSelect("learning_rate", [0.00001, 0.0001, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1, 3, 10]);
  fillSelect("activation", opt.activations);
  fillSelect("init", opt.inits, (v) => (v === "normal" ? "normal(0, 1)" :
    v === "constant" ? "constant (0.5)" : v === "default" ? "default for activation" : v));
  fillSelect("optimizer", opt.optimizers);
  fillSelect("l2", [0, 0.00001, 0.0001, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1]);
  fillSelect("grid", [20, 30, 50, 75, 100], (v) => `${v} x ${v}`);
  fillSelect("epochs_per_frame", [1, 2, 5, 10, 20]);
  fillSelect("doctor_every", [1, 5, 10, 25, 50, 100], (v) => `${v} epochs`);
  const ds = $("datasets"); ds.innerHTML = "";
  for (const name of opt.datasets) {
    const b = document.createElement("button");
    b.textContent = name; b.dataset.value = name;
    b.onclick = () => change({ data: name });
    ds.appendChild(b);
  }
  const fs = $("features"); fs.innerHTML = "";
  for (const [name, label] of opt.features) {
    const b = document.createElement("button");
    b.textContent = label; b.dataset.value = name;
    b.onclick = () => {
      const now = new Set(state.config.features);
      now.has(name) ? now.delete(name) : now.add(name);
      change({ features: [...now] });
    };
    fs.appendChild(b);
  }
}

const NUMBER = { learning_rate: parseFloat, l2: parseFloat, batch_size: Number, seed: Number,
  grid: Number, epochs_per_frame: Number, doctor_every: Number };
for (const id of ["learning_rate", "activation", "init", "optimizer", "l2", "grid",
  "epochs_per_frame", "doctor_every", "batch_size", "seed"]) {
  $(id).addEventListener("change", (ev) => {
    const parse = NUMBER[id];
    change({ [id]: parse ? parse(ev.target.value) : ev.target.value });
  });
}
$("points").addEventListener("change", (ev) => change({ points: Number(ev.target.value) }));
$("noise").addEventListener("change", (ev) => change({ noise: Number(ev.target.value) / 100 }));
$("test_fraction").addEventListener("change",
  (ev) => change({ test_fraction: Number(ev.target.value) / 100 }));
$("add-layer").onclick = () => change({ layers: [...state.config.layers, 4] });
$("remove-layer").onclick = () => change({ layers: state.config.layers.slice(0, -1) });

function applyConfig(cfg, query, version) {
  if (!cfg) return;
  state.config = cfg; state.query = query || state.query;
  if (version !== undefined) state.version = version;
  for (const id of ["learning_rate", "activation", "init", "optimizer", "l2", "grid",
    "epochs_per_frame", "doctor_every"]) setSelect(id, cfg[id]);
  $("batch_size").value = cfg.batch_size; $("seed").value = cfg.seed;
  $("points").value = cfg.points; $("points-value").textContent = cfg.points;
  $("noise").value = Math.round(cfg.noise * 100); $("noise-value").textContent = `${Math.round(cfg.noise * 100)}%`;
  $("test_fraction").value = Math.round(cfg.test_fraction * 100);
  $("test-value").textContent = `${Math.round(cfg.test_fraction * 100)}%`;
  for (const b of $("datasets").children) b.classList.toggle("on", b.dataset.value === cfg.data);
  for (const b of $("features").children) b.classList.toggle("on", cfg.features.includes(b.dataset.value));
  $("features-box").hidden = cfg.data === "digits";
  $("layer-count").textContent = `${cfg.layers.length} hidden layer${cfg.layers.length === 1 ? "" : "s"}`;
  if (state.query) history.replaceState(null, "", `?token=${encodeURIComponent(token)}#${state.query}`);
}

function setPlaying(on) {
  state.playing = on;
  const b = $("play");
  b.innerHTML = on ? "&#10074;&#10074; pause" : "&#9654; play";
  b.classList.toggle("playing", on);
}
$("play").onclick = () => send({ type: state.playing ? "pause" : "play" });
$("step").onclick = () => send({ type: "step" });
$("reset").onclick = () => send({ type: "reset" });
document.addEventListener("keydown", (ev) => {
  if (ev.code === "Space" && !["INPUT", "SELECT", "BUTTON"].includes(ev.target.tagName)) {
    ev.preventDefault(); $("play").click();
  }
});

// --- the network drawing ---
const layout = { units: [], columns: [], wires: [], size: 40 };

function onSetup(m) {
  state.session = m.session; state.setup = m; state.options = state.options || m.options;
  if (!$("datasets").children.length) buildControls(m.options);
  applyConfig(m.config, m.query, m.version);
  state.history = m.history;
  $("code").textContent = m.code;
  setPlaying(false);
  $("show-test-box").hidden = m.digits;
  $("legend").textContent = (m.digits
    ? "First hidden layer: each unit's 64 incoming weights as an 8x8 image; deeper units: " +
      "their mean output for each digit 0-9, left to right. "
    : "Each box is a unit: its output over the input plane. ") +
    "Orange is negative, blue positive. Lines are weights: blue positive, orange negative, " +
    "wider is larger. Hover for numbers.";
  $("output-caption").textContent = m.digits
    ? "Test set: rows are the true digit, columns the predicted one (% of each row)."
    : "The output over the plane: P(blue) from 0 (orange) to 1 (blue); hover for numbers.";
  buildNetwork(m);
  state.doctor = null;
  $("doctor").innerHTML = '<p class="quiet">reading&hellip;</p>';
}

function buildNetwork(m) {
  const net = $("network"), wires = $("wires");
  for (const el of [...net.querySelectorAll(".unit, .column-head")]) el.remove();
  wires.innerHTML = "";
  const sizes = m.layer_sizes, L = sizes.length - 1;
  const inputs = m.digits ? ["64 pixels"] : m.inputs;
  const columns = [inputs.length, ...sizes.slice(1, -1), m.digits ? sizes[L] : 1];
  const width = Math.max(net.clientWidth, 420);
  const left = 70, right = m.digits ? 60 : 30;
  // boxes take at most ~55% of a column's width, so the weights between them stay visible
  const fit = Math.floor((width - left - right) / (columns.length * 1.8));
  const size = Math.max(22, Math.min(m.digits ? 34 : 40, fit)), top = 44;
  const gapY = Math.max(6, Math.round(size / 4));
  const step = columns.length > 1 ? (width - left - right - size) / (columns.length - 1) : 0;
  let height = 0;
  layout.units = []; layout.columns = columns; layout.size = size;
  columns.forEach((count, c) => {
    const x = left + c * step, boxes = [];
    const head = document.createElement("div");
    head.className = "column-head";
    head.style.left = `${x - 30}px`; head.style.width = `${size + 60}px`; head.style.top = "0px";
    if (c === 0) head.textContent = m.digits ? "input" : "features";
    else if (c === columns.length - 1) head.textContent = "output";
    else {
      const h = c - 1;
      head.innerHTML = `<button data-l="${h}" data-d="1">+</button> <button data-l="${h}" data-d="-1">&minus;</button><br>${count} unit${count > 1 ? "s" : ""}`;
      head.querySelectorAll("button").forEach((b) => (b.onclick = () => {
        const layers = [...state.config.layers];
        layers[h] += Number(b.dataset.d);
        change({ layers });
      }));
    }
    net.appendChild(head);
    const unitSize = c === 0 && m.digits ? size * 1.5 : size;
    const outputsDigits = m.digits && c === columns.length - 1;
    const box = outputsDigits ? 22 : unitSize;
    for (let j = 0; j < count; j++) {
      const y = top + j * (box + (outputsDigits ? 4 : gapY));
      const u = document.createElement("div");
      u.className = "unit" + (c === 0 ? " input" : "");
      u.style.left = `${x}px`; u.style.top = `${y}px`;
      u.style.width = `${box}px`; u.style.height = `${box}px`;
      u.dataset.column = c; u.dataset.unit = j;
      const canvas = document.createElement("canvas");
      u.appendChild(canvas);
      if (c === 0) {
        const name = document.createElement("span");
        name.className = "name"; name.textContent = inputs[j]; u.appendChild(name);
        if (!m.digits) paint(canvas, m.input_maps[j], 0, { shape: [m.config.grid, m.config.grid], scale: Math.max(...m.input_maps[j].map(Math.abs)) || 1 });
        else paint(canvas, m.input_image, 0, { shape: [8, 8], scale: 1, shift: 0 });  // the mean digit
      }
      if (outputsDigits) {
        const name = document.createElement("span");
        name.className = "name"; name.style.right = "auto"; name.style.left = "120%";
        name.textContent = `digit ${j}`; u.appendChild(name);
      }
      net.appendChild(u);
      u.addEventListener("mouseenter", (ev) => showTip(ev, () => unitTip(c, j)));
      u.addEventListener("mousemove", moveTip);
      u.addEventListener("mouseleave", hideTip);
      boxes.push({ el: u, canvas, x, y, size: box });
      height = Math.max(height, y + box);
    }
    layout.units.push(boxes);
  });
  net.style.height = `${height + 20}px`;
  wires.setAttribute("width", width); wires.setAttribute("height", height + 20);
  // one path per weight (digits: the 64 inputs are drawn as the first layer's weight images)
  layout.wires = [];
  for (let l = m.digits ? 1 : 0; l < L; l++) {
    const from = layout.units[l], to = layout.units[l + 1];
    const paths = [];
    for (let i = 0; i < from.length; i++) {
      const row = [];
      for (let j = 0; j < to.length; j++) {
        const a = from[i], b = to[j];
        const x1 = a.x + a.size, y1 = a.y + a.size / 2, x2 = b.x, y2 = b.y + b.size / 2;
        const dx = (x2 - x1) / 2;
        const p = document.createElementNS(NS, "path");
        p.setAttribute("d", `M${x1},${y1} C${x1 + dx},${y1} ${x2 - dx},${y2} ${x2},${y2}`);
        p.setAttribute("class", "wire");
        p.addEventListener("mouseenter", (ev) => showTip(ev, () => wireTip(l, i, j)));
        p.addEventListener("mousemove", moveTip);
        p.addEventListener("mouseleave", hideTip);
        wires.appendChild(p);
        row.push(p);
      }
      paths.push(row);
    }
    layout.wires[l] = paths;
  }
}

function unitName(c, j) {
  const m = state.setup;
  if (c === 0) return m.digits ? "the 64 pixels (the picture: the mean training digit)" : `input ${m.inputs[j]}`;
  if (c === layout.columns.length - 1) return m.digits ? `output unit (digit ${j})` : "output unit";
  return `layer ${c} unit ${j + 1}`;
}

function unitTip(c, j) {
  const h = state.header;
  if (!h) return "";
  if (c === 0) return unitName(c, j);
  const l = c - 1, lines = [unitName(c, j)];
  lines.push(`bias ${fmt(h.biases[l][j])}`);
  const desc = h.maps.find((d) => d.layer === l && d.unit === j);
  if (desc && !state.setup.digits) lines.push(`output over the plane: ${fmt(desc.min)} to ${fmt(desc.max)}`);
  if (desc && desc.kind === "weights") lines.push(`its 64 incoming weights: ${fmt(desc.min)} to ${fmt(desc.max)}`);
  if (desc && desc.kind === "class_means") lines.push(`mean output per digit: ${fmt(desc.min)} to ${fmt(desc.max)}`);
  if (l > 0 || !state.setup.digits) {
    const w = h.weights[l].map((row) => row[j]);
    lines.push(`incoming weights: ${w.map(fmt).join(", ")}`);
  }
  if (state.doctor) {
    const mk = state.doctor.marks[l];
    if (mk) {
      if (mk.dead.includes(j)) lines.push("doctor: dead (no signal, no gradient)");
      if (mk.saturated.includes(j)) lines.push("doctor: saturated (in its flat tails)");
      if (mk.identical.some((g) => g.includes(j))) lines.push("doctor: identical to another unit");
      if (mk.frozen) lines.push("doctor: this layer never moves");
    }
  }
  return lines.join("\n");
}

function wireTip(l, i, j) {
  const h = state.header;
  if (!h) return "";
  return `weight from ${unitName(l, i)} to ${unitName(l + 1, j)}\n${fmt(h.weights[l][i][j])}`;
}

const fmt = (v) => (v === null || v === undefined ? "NaN/inf" :
  Math.abs(v) >= 1000 || (Math.abs(v) < 0.001 && v !== 0) ? v.toExponential(2) : v.toFixed(3));

let tipText = null;
function showTip(ev, text) { tipText = text; $("tip").hidden = false; moveTip(ev); }
function moveTip(ev) {
  const tip = $("tip");
  if (tip.hidden || !tipText) return;
  tip.textContent = tipText();
  tip.style.left = `${ev.clientX + 14}px`; tip.style.top = `${ev.clientY + 14}px`;
}
function hideTip() { $("tip").hidden = true; tipText = null; }

// --- frames ---
function onFrame(buffer) {
  const started = performance.now();
  const view = new DataView(buffer), n = view.getUint32(0, true);
  const h = JSON.parse(new TextDecoder().decode(new Uint8Array(buffer, 4, n)));
  const values = new Float32Array(buffer, 4 + n);
  state.header = h; state.values = values; state.epoch = h.epoch; state.frames += 1;
  state.frameTimes.push(performance.now());
  if (state.frameTimes.length > 600) state.frameTimes.splice(0, 300);
  if (state.history) for (const k of Object.keys(h.history)) state.history[k].push(...h.history[k]);
  $("epoch").textContent = h.epoch.toLocaleString("en");
  $("test-loss").textContent = fmt(h.test_loss); $("train-loss").textContent = fmt(h.train_loss);
  $("test-acc").textContent = h.test_accuracy === null ? "-" : `${(100 * h.test_accuracy).toFixed(1)}%`;
  let offset = 0;
  for (const d of h.maps) {
    const count = d.shape[0] * d.shape[1];
    const column = d.layer + 1;
    d.offset = offset;
    const box = layout.units[column] && layout.units[column][d.unit];
    if (box && !(state.setup.digits && column === layout.columns.length - 1)) paint(box.canvas, values, offset, d);
    offset += count;
  }
  drawWires(h);
  drawOutput(h, values);
  drawCurve();
  if (h.diverged) notice(`Training stopped: ${h.diverged}`);
  setPlaying(h.playing);
  send({ type: "ack", frame: h.frame });
  state.drawMs.push(performance.now() - started);
  if (state.drawMs.length > 600) state.drawMs.splice(0, 300);
}

function drawWires(h) {
  layout.wires.forEach((paths, l) => {
    if (!paths) return;
    const W = h.weights[l];
    for (let i = 0; i < paths.length; i++) for (let j = 0; j < paths[i].length; j++) {
      const w = W[i][j], p = paths[i][j];
      p.style.stroke = w === null ? "#000" : w >= 0 ? "rgb(8,119,189)" : "rgb(245,147,34)";
      p.style.strokeWidth = w === null ? 1 : Math.min(7, 0.4 + 2.4 * Math.abs(w)).toFixed(2);
      p.style.strokeOpacity = 0.75;
    }
  });
}

const offscreen = document.createElement("canvas");
function drawOutput(h, values) {
  const canvas = $("output"), ctx = canvas.getContext("2d"), W = canvas.width, H = canvas.height;
  const d = h.maps[h.maps.length - 1];
  state.outputMap = values.subarray(d.offset, d.offset + d.shape[0] * d.shape[1]);
  ctx.clearRect(0, 0, W, H);
  if (state.setup.digits) return drawConfusion(ctx, d, values, W, H);
  paint(offscreen, values, d.offset, d);
  ctx.imageSmoothingEnabled = true;
  ctx.drawImage(offscreen, 0, 0, W, H);
  const m = state.setup, P = m.plane;
  const dot = (pts, labels, test) => {
    for (let i = 0; i < pts.length; i++) {
      const x = (pts[i][0] + P) / (2 * P) * W, y = (P - pts[i][1]) / (2 * P) * H;
      ctx.beginPath(); ctx.arc(x, y, 3.2, 0, 2 * Math.PI);
      ctx.fillStyle = labels[i] ? "rgb(8,119,189)" : "rgb(245,147,34)"; ctx.fill();
      ctx.lineWidth = 1; ctx.strokeStyle = test ? "#000" : "#fff"; ctx.stroke();
    }
  };
  dot(m.train_points, m.train_labels, false);
  if ($("show-test").checked) dot(m.test_points, m.test_labels, true);
}
$("show-test").onchange = () => state.header && drawOutput(state.header, state.values);

function drawConfusion(ctx, d, values, W, H) {
  const pad = 28, cell = (W - pad) / 10;
  ctx.font = "11px sans-serif"; ctx.textAlign = "center"; ctx.textBaseline = "middle";
  for (let r = 0; r < 10; r++) for (let c = 0; c < 10; c++) {
    const v = values[d.offset + 10 * r + c];
    ctx.fillStyle = colour(v); ctx.fillRect(pad + c * cell, pad + r * cell, cell - 1, cell - 1);
    if (v > 0.005) { ctx.fillStyle = v > 0.6 ? "#fff" : "#333"; ctx.fillText(Math.round(100 * v), pad + (c + 0.5) * cell, pad + (r + 0.5) * cell); }
  }
  ctx.fillStyle = "#555";
  for (let k = 0; k < 10; k++) {
    ctx.fillText(k, pad + (k + 0.5) * cell, pad / 2); ctx.fillText(k, pad / 2, pad + (k + 0.5) * cell);
  }
}

function drawCurve() {
  const canvas = $("curve"), ctx = canvas.getContext("2d"), W = canvas.width, H = canvas.height;
  const hist = state.history;
  ctx.clearRect(0, 0, W, H);
  if (!hist || hist.epoch.length < 1) return;
  let top = 1e-9;
  for (const v of hist.train_loss) if (v !== null && v > top) top = v;
  for (const v of hist.test_loss) if (v !== null && v > top) top = v;
  const n = hist.epoch.length;
  const every = Math.max(1, Math.floor(n / W));      // at most one point per pixel
  const line = (ys, style, width) => {
    ctx.beginPath(); ctx.strokeStyle = style; ctx.lineWidth = width;
    for (let i = 0; i < n; i += (i + every < n || i === n - 1 ? every : n - 1 - i)) {
      const v = ys[i];
      const x = n > 1 ? (i / (n - 1)) * (W - 2) + 1 : 1;
      const y = H - 2 - ((v === null ? top : v) / top) * (H - 12);
      i ? ctx.lineTo(x, y) : ctx.moveTo(x, y);
      if (i === n - 1) break;
    }
    ctx.stroke();
  };
  line(hist.train_loss, "#aaa", 1.5);
  line(hist.test_loss, "#222", 1.5);
  ctx.fillStyle = "#777"; ctx.font = "10px sans-serif";
  ctx.fillText(`max ${fmt(top)}`, 4, 10);
  ctx.fillText("test \u2014 black, training \u2014 grey", W - 160, 10);
}

// --- the doctor ---
function onDoctor(m) {
  state.doctor = m;
  $("doctor-epoch").textContent = `at epoch ${m.epoch}`;
  const box = $("doctor");
  box.innerHTML = "";
  if (!m.findings.length) {
    box.innerHTML = '<p class="healthy">healthy: nothing wrong found</p>';
  }
  for (const f of m.findings) {
    const div = document.createElement("div");
    div.className = `finding ${f.severity}`;
    div.dataset.code = f.code;
    const layers = f.layers.length ? `layer${f.layers.length > 1 ? "s" : ""} ${f.layers.join(", ")}` : "";
    div.innerHTML = `<span class="code"></span><span class="sev"></span><span class="layers"></span>
      <p class="message"></p><p class="fix"></p><div class="actions"></div>`;
    div.querySelector(".code").textContent = f.code;
    div.querySelector(".sev").textContent = f.severity;
    div.querySelector(".layers").textContent = layers;
    div.querySelector(".message").textContent = f.message;
    div.querySelector(".fix").textContent = `Fix: ${f.fix}`;
    for (const a of f.actions) {
      const b = document.createElement("button");
      b.textContent = a.label;
      b.onclick = () => change(a.set);
      div.querySelector(".actions").appendChild(b);
    }
    box.appendChild(div);
  }
  if (m.findings.length) {
    const key = document.createElement("p");
    key.className = "quiet";
    key.textContent = "On the drawing: dimmed = dead, red outline = saturated, purple dashes link identical units, dashed box = a layer that never moves.";
    box.appendChild(key);
  }
  markUnits(m.marks);
}

function markUnits(marks) {
  for (const el of $("wires").querySelectorAll("path.link")) el.remove();
  marks.forEach((mk) => {
    const boxes = layout.units[mk.layer] || [];
    boxes.forEach((b, j) => {
      b.el.classList.toggle("dead", mk.dead.includes(j));
      b.el.classList.toggle("saturated", mk.saturated.includes(j));
      b.el.classList.toggle("frozen", mk.frozen);
    });
    for (const group of mk.identical) {
      for (let k = 1; k < group.length; k++) {
        const a = boxes[group[k - 1]], b = boxes[group[k]];
        if (!a || !b) continue;
        const x = a.x + a.size + 2, y1 = a.y + a.size / 2, y2 = b.y + b.size / 2;
        const p = document.createElementNS(NS, "path");
        p.setAttribute("d", `M${x},${y1} C${x + 22},${y1} ${x + 22},${y2} ${x},${y2}`);
        p.setAttribute("class", "link");
        $("wires").appendChild(p);
      }
    }
  });
}

// --- keep and share ---
$("download").onclick = async () => {
  const r = await fetch(`/model?token=${encodeURIComponent(token)}&session=${state.session}`);
  if (!r.ok) { notice(await r.text()); return; }
  const blob = await r.blob();
  const match = /filename="([^"]+)"/.exec(r.headers.get("content-disposition") || "");
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob); a.download = match ? match[1] : "playground.glassnet";
  document.body.appendChild(a); a.click(); a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10000);
};
$("show-code").onclick = () => {
  const box = $("code-box");
  box.hidden = !box.hidden;
  if (!box.hidden) send({ type: "code" });       // the code for the epoch reached now
};
$("close-code").onclick = () => { $("code-box").hidden = true; };
$("copy-code").onclick = () => navigator.clipboard && navigator.clipboard.writeText($("code").textContent);
$("output").addEventListener("mousemove", (ev) => {
  if (!state.header || !state.setup || state.setup.digits || !state.outputMap) return;
  const r = ev.target.getBoundingClientRect(), g = state.config.grid, P = state.setup.plane;
  const cx = Math.min(g - 1, Math.floor((ev.clientX - r.left) / r.width * g));
  const cy = Math.min(g - 1, Math.floor((ev.clientY - r.top) / r.height * g));
  const x1 = -P + (2 * P * (ev.clientX - r.left)) / r.width, x2 = P - (2 * P * (ev.clientY - r.top)) / r.height;
  tipText = () => `x1 ${x1.toFixed(2)}, x2 ${x2.toFixed(2)}\nP(blue) = ${state.outputMap[cy * g + cx].toFixed(3)}`;
  $("tip").hidden = false; moveTip(ev);
});
$("output").addEventListener("mouseleave", hideTip);

connect();
