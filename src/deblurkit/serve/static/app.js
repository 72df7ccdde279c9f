// deblurkit serve: the page. Plain JavaScript, no build step, nothing loaded from elsewhere.
//
// Files dropped or picked are uploaded one at a time to POST /api/jobs (the server queues
// them and runs one job at a time); each card polls GET /api/jobs/{id} for its progress.
// A finished file can be compared before/after (slider, zoom); a video's report draws the
// frames the selector sent to the model on a timeline.
"use strict";

const POLL_MS = 400;          // how often a running job is polled
const MAX_ACTIVE = 3;         // unfinished jobs the page keeps on the server at once

const $ = (id) => document.getElementById(id);
// How the page names the frame selections of `deblurkit video --select`.
const SELECT_LABELS = {
  all: "all of them",
  classifier: "the blurred ones (frame classifier)",
  middle15: "blurred runs (classifier on every 15th frame)",
  laplacian: "the blurred ones (sharpness, no model)",
  temporal: "the blurred ones (sharpness over time)",
};
const state = { info: null, items: [], uploading: false, shown: null, frame: 0, report: null };

// ---------------------------------------------------------------- small helpers
function detailOf(body, status) {
  if (body && typeof body.detail === "string") return body.detail;
  return `the server answered ${status}`;
}

async function api(path, options) {
  const response = await fetch(path, options);
  let body = null;
  if ((response.headers.get("content-type") || "").includes("application/json")) {
    body = await response.json();
  }
  if (!response.ok) throw new Error(detailOf(body, response.status));
  return body;
}

function duration(seconds) {
  if (seconds < 1) return "under a second";
  if (seconds < 90) return `${Math.round(seconds)} s`;
  return `${Math.round(seconds / 60)} min`;
}

function bytes(n) {
  if (n >= 2 ** 30) return `${(n / 2 ** 30).toFixed(1)} GiB`;
  if (n >= 2 ** 20) return `${Math.round(n / 2 ** 20)} MiB`;
  if (n >= 1024) return `${Math.round(n / 1024)} KiB`;
  return `${n} bytes`;
}

// ---------------------------------------------------------------- server info
async function loadInfo() {
  try {
    state.info = await api("/api/info");
    const info = state.info;
    $("server-info").textContent =
      `model ${info.model} · ${info.tile ? `tiles of ${info.tile} px` : "whole images"}` +
      (info.tta > 1 ? ` · ${info.tta} views` : "");
    $("limits").textContent =
      `${info.image_formats.join(", ")} images or videos · up to ${bytes(info.limits.max_upload_bytes)}` +
      ` and ${(info.limits.max_pixels / 1e6).toFixed(0)} megapixels per picture`;
    const select = $("select-mode");
    for (const mode of info.select_modes) {
      const option = document.createElement("option");
      option.value = mode;
      option.textContent = SELECT_LABELS[mode] || mode;
      option.selected = mode === info.select;
      select.appendChild(option);
    }
  } catch (error) {
    $("server-info").textContent = `server unreachable: ${error.message}`;
  }
}

// ---------------------------------------------------------------- the file cards
function addFiles(files) {
  for (const file of files) {
    const node = $("item-template").content.firstElementChild.cloneNode(true);
    const item = { file, node, job: null, status: "waiting", removed: false };
    node.querySelector(".item-name").textContent = file.name;
    node.querySelector(".item-name").title = file.name;
    node.querySelector(".item-kind").textContent = bytes(file.size);
    node.querySelector(".item-show").addEventListener("click", () => show(item));
    node.querySelector(".item-remove").addEventListener("click", () => remove(item));
    $("queue").appendChild(node);
    state.items.push(item);
  }
  $("empty").hidden = state.items.length > 0;
  pump();
}

function setStatus(item, status, text, fraction) {
  item.status = status;
  item.node.dataset.status = status;
  item.node.querySelector(".item-status").textContent = text;
  if (fraction !== undefined && fraction !== null) {
    item.node.querySelector(".bar-fill").style.width = `${Math.round(fraction * 100)}%`;
  }
}

function active() {
  return state.items.filter((i) => ["uploading", "queued", "running"].includes(i.status)).length;
}

// Upload the next waiting file when fewer than MAX_ACTIVE jobs are unfinished.
async function pump() {
  if (state.uploading) return;
  const next = state.items.find((i) => i.status === "waiting");
  if (!next || active() >= MAX_ACTIVE) return;
  state.uploading = true;
  try {
    await upload(next);
  } finally {
    state.uploading = false;
  }
  pump();
}

function upload(item) {
  const limit = state.info && state.info.limits.max_upload_bytes;
  if (limit && item.file.size > limit) {
    setStatus(item, "failed", `${item.file.name}: larger than the upload limit of ${bytes(limit)}`);
    return Promise.resolve();
  }
  setStatus(item, "uploading", "uploading", 0);
  return new Promise((resolve) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/api/jobs");
    xhr.responseType = "json";
    xhr.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable && !item.removed) {
        const f = event.loaded / event.total;
        setStatus(item, "uploading", `uploading ${Math.round(f * 100)}%`, f);
      }
    });
    xhr.addEventListener("load", () => {
      if (xhr.status === 202 && xhr.response) {
        item.job = xhr.response;
        if (item.removed) {
          fetch(item.job.links.self, { method: "DELETE" });
        } else {
          update(item, xhr.response);
          poll(item);
        }
      } else {
        setStatus(item, "failed", detailOf(xhr.response, xhr.status));
      }
      resolve();
    });
    xhr.addEventListener("error", () => {
      setStatus(item, "failed", `${item.file.name}: the upload failed (server unreachable)`);
      resolve();
    });
    const form = new FormData();
    form.append("file", item.file, item.file.name);
    if ($("select-mode").value) form.append("select", $("select-mode").value);
    xhr.send(form);
  });
}

function update(item, job) {
  item.job = job;
  const node = item.node;
  node.dataset.job = job.id;
  node.querySelector(".item-kind").textContent =
    `${job.kind} · ${job.input.width}×${job.input.height}` +
    (job.kind === "video" && job.input.frames ? ` · ${job.input.frames} frames` : "");
  const p = job.progress;
  if (job.status === "queued") {
    const ahead = job.queue_position;
    setStatus(item, "queued", ahead ? `waiting: ${ahead} ahead` : "next in line", 0);
  } else if (job.status === "running") {
    let text = job.stage;
    if (job.stage === "restoring" && p.done !== null) {
      const unit = p.unit === "tiles" ? "tile" : "frame";
      text = p.total ? `${unit} ${Math.min(p.done + 1, p.total)} of ${p.total}` : `${unit} ${p.done + 1}`;
      if (p.eta_seconds !== null) text += ` · about ${duration(p.eta_seconds)} left`;
    }
    setStatus(item, "running", text, p.fraction || 0);
  } else if (job.status === "done") {
    const took = p.elapsed_seconds !== null ? ` in ${duration(p.elapsed_seconds)}` : "";
    setStatus(item, "done", `restored${took}`, 1);
    node.querySelector(".item-show").disabled = false;
    const get = node.querySelector(".item-get");
    get.href = job.links.result;
    get.download = job.result ? job.result.filename : "";
    get.hidden = false;
  } else {
    setStatus(item, job.status, job.error || job.status, 1);
  }
}

async function poll(item) {
  while (!item.removed) {
    let job;
    try {
      job = await api(item.job.links.self);
    } catch (error) {
      setStatus(item, "failed", error.message);
      break;
    }
    if (item.removed) break;
    update(item, job);
    if (["done", "failed", "cancelled"].includes(job.status)) {
      if (job.status === "done" && !state.shown) show(item);
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  pump();
}

function remove(item) {
  item.removed = true;
  if (item.job) fetch(item.job.links.self, { method: "DELETE" }).catch(() => {});
  item.node.remove();
  state.items = state.items.filter((i) => i !== item);
  $("empty").hidden = state.items.length > 0;
  if (state.shown === item) {
    state.shown = null;
    $("viewer").hidden = true;
  }
  pump();
}

// ---------------------------------------------------------------- before / after
function setSplit(percent) {
  $("after").style.clipPath = `inset(0 0 0 ${percent}%)`;
  $("divider").style.left = `${percent}%`;
}

const view = { zoom: 1, fx: 0.5, fy: 0.5 };

// Scale the stage about the chosen point and keep that point centred (clamped to the picture).
function applyZoom() {
  const stage = $("stage");
  const w = stage.offsetWidth, h = stage.offsetHeight, z = view.zoom;
  const tx = Math.min(0, Math.max(w - w * z, w / 2 - view.fx * w * z));
  const ty = Math.min(0, Math.max(h - h * z, h / 2 - view.fy * h * z));
  stage.style.transform = z === 1 ? "" : `translate(${tx}px, ${ty}px) scale(${z})`;
  stage.style.setProperty("--zoom", String(z));
  $("compare").classList.toggle("zoomed", z > 1);
}

function pictures(before, after) {
  const viewer = $("viewer");
  viewer.dataset.ready = "false";
  let pending = 2;
  const loaded = () => {
    pending -= 1;
    if (pending === 0) {
      viewer.dataset.ready = "true";
      applyZoom();
    }
  };
  for (const [img, src] of [[$("before"), before], [$("after"), after]]) {
    img.addEventListener("load", loaded, { once: true });
    img.addEventListener("error", loaded, { once: true });
    img.src = src;
  }
}

async function show(item) {
  const job = item.job;
  state.shown = item;
  state.report = null;
  for (const other of state.items) other.node.classList.toggle("selected", other === item);
  const viewer = $("viewer");
  viewer.hidden = false;
  viewer.dataset.job = job.id;
  $("viewer-title").textContent = job.name;
  $("viewer-title").title = job.name;
  const download = $("download");
  download.href = job.links.result;
  download.download = job.result ? job.result.filename : "";
  const report = $("report");
  report.href = job.links.report;
  report.download = (job.result ? job.result.filename.replace(/\.[^.]+$/, "") : job.id) + ".json";
  $("timeline-box").hidden = job.kind !== "video";
  if (job.kind === "image") {
    pictures(job.links.preview_input, job.links.preview_result);
    return;
  }
  try {
    state.report = await api(job.links.report);
  } catch (error) {
    $("timeline-info").textContent = error.message;
    return;
  }
  if (state.shown !== item) return;
  const frames = state.report.frames;
  const first = frames.findIndex((f) => f.deblurred);
  showFrame(first >= 0 ? first : 0);
}

// ---------------------------------------------------------------- video timeline
function showFrame(index) {
  const item = state.shown;
  if (!item || !state.report) return;
  const frames = state.report.frames;
  state.frame = Math.max(0, Math.min(frames.length - 1, index));
  const f = frames[state.frame];
  const job = item.job;
  pictures(`${job.links.preview_input}?frame=${state.frame}`,
           `${job.links.preview_result}?frame=${state.frame}`);
  const totals = state.report.totals;
  const time = f.time !== null ? ` at ${f.time.toFixed(2)} s` : "";
  const score = f.score !== null ? `, score ${f.score.toFixed(2)}` : "";
  $("timeline-info").textContent =
    `frame ${state.frame + 1} of ${frames.length}${time}: ${f.deblurred ? "deblurred" : "kept as it was"}${score}` +
    ` · ${totals.N_b} of ${totals.N_a} frames deblurred (select: ${state.report.select})`;
  drawTimeline();
}

function drawTimeline() {
  const canvas = $("timeline");
  const report = state.report;
  if (!report) return;
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth, height = canvas.clientHeight;
  canvas.width = Math.round(width * ratio);
  canvas.height = Math.round(height * ratio);
  const ctx = canvas.getContext("2d");
  ctx.scale(ratio, ratio);
  ctx.clearRect(0, 0, width, height);
  const styles = getComputedStyle(document.documentElement);
  const accent = styles.getPropertyValue("--accent").trim();
  const plain = styles.getPropertyValue("--frame").trim();
  const frames = report.frames, n = frames.length, step = width / n;
  frames.forEach((f, i) => {
    const score = f.score === null ? 1 : Math.max(0.15, Math.min(1, f.score));
    const h = (height - 8) * score;
    ctx.fillStyle = f.deblurred ? accent : plain;
    ctx.fillRect(i * step, height - h, Math.max(1, step - (step > 3 ? 1 : 0)), h);
  });
  ctx.strokeStyle = styles.getPropertyValue("--ink").trim();
  ctx.lineWidth = 2;
  const x = (state.frame + 0.5) * step;
  ctx.beginPath();
  ctx.moveTo(x, 0);
  ctx.lineTo(x, height);
  ctx.stroke();
}

function stepDeblurred(direction) {
  const frames = state.report ? state.report.frames : [];
  for (let i = state.frame + direction; i >= 0 && i < frames.length; i += direction) {
    if (frames[i].deblurred) {
      showFrame(i);
      return;
    }
  }
}

// ---------------------------------------------------------------- wiring
function wire() {
  const drop = $("drop");
  drop.addEventListener("dragover", (event) => {
    event.preventDefault();
    drop.classList.add("over");
  });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    drop.classList.remove("over");
    addFiles(event.dataTransfer.files);
  });
  drop.addEventListener("keydown", (event) => {
    if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      $("picker").click();
    }
  });
  // dropping a file anywhere else must not make the browser navigate away from the page
  window.addEventListener("dragover", (event) => event.preventDefault());
  window.addEventListener("drop", (event) => event.preventDefault());
  $("picker").addEventListener("change", (event) => {
    addFiles(event.target.files);
    event.target.value = "";
  });
  $("slider").addEventListener("input", (event) => setSplit(Number(event.target.value)));
  $("zoom").addEventListener("change", (event) => {
    view.zoom = Number(event.target.value);
    applyZoom();
  });
  $("compare").addEventListener("click", (event) => {
    const rect = $("stage").getBoundingClientRect();
    view.fx = Math.min(1, Math.max(0, (event.clientX - rect.left) / rect.width));
    view.fy = Math.min(1, Math.max(0, (event.clientY - rect.top) / rect.height));
    if (view.zoom === 1) {
      view.zoom = 4;
      $("zoom").value = "4";
    }
    applyZoom();
  });
  $("timeline").addEventListener("click", (event) => {
    if (!state.report) return;
    const rect = event.target.getBoundingClientRect();
    showFrame(Math.floor((event.clientX - rect.left) / rect.width * state.report.frames.length));
  });
  $("timeline").addEventListener("keydown", (event) => {
    if (event.key === "ArrowLeft" || event.key === "ArrowRight") {
      event.preventDefault();
      showFrame(state.frame + (event.key === "ArrowLeft" ? -1 : 1));
    }
  });
  $("prev-frame").addEventListener("click", () => stepDeblurred(-1));
  $("next-frame").addEventListener("click", () => stepDeblurred(1));
  window.addEventListener("resize", () => {
    applyZoom();
    drawTimeline();
  });
  setSplit(Number($("slider").value));
}

wire();
loadInfo();
