// Segment Any Crack — the page of `sac serve`. Plain JavaScript, no build step, no external files.
"use strict";

const $ = (sel, root = document) => root.querySelector(sel);
const state = { info: null, cards: new Map(), seq: 0 };

async function api(url, options) {
  const r = await fetch(url, options);
  let body = null;
  try { body = await r.json(); } catch (_) { body = null; }
  if (!r.ok) throw new Error((body && body.detail) || `${r.status} ${r.statusText}`);
  return body;
}

function scaleQuery() {
  const kind = document.querySelector('input[name="scale-kind"]:checked').value;
  const q = new URLSearchParams();
  if (kind === "mmpx" && $("#mm-per-px").value) q.set("mm_per_px", $("#mm-per-px").value);
  if (kind === "ref" && $("#ref-px").value && $("#ref-mm").value) {
    q.set("ref_px", $("#ref-px").value);
    q.set("ref_mm", $("#ref-mm").value);
  }
  const hasScale = q.has("mm_per_px") || q.has("ref_px");
  const std = $("#standard").value;
  if (std && hasScale) q.set("standard", std);
  $("#standard-note").textContent = std && !hasScale
    ? "Severity classes need a scale: give mm per pixel or a reference length." : "";
  return q;
}

function fmt(v) {
  if (v === null || v === undefined) return "—";
  if (typeof v === "number") return Math.abs(v) >= 1000 ? v.toFixed(0) : Number(v.toPrecision(4)).toString();
  return String(v);
}

function newCard(name) {
  const id = `c${++state.seq}`;
  const el = $("#card-template").content.firstElementChild.cloneNode(true);
  el.id = id;
  $(".name", el).textContent = name;
  el.querySelectorAll(".views input").forEach((r) => { r.name = `${id}-view`; });
  $("#cards").prepend(el);
  const card = { id, el, job: null, threshold: null, timer: null };
  state.cards.set(id, card);
  return card;
}

function showError(card, message) {
  $(".status", card.el).hidden = true;
  const e = $(".error", card.el);
  e.textContent = message;
  e.hidden = false;
}

async function upload(file) {
  const card = newCard(file.name);
  const form = new FormData();
  form.append("file", file);
  form.append("model", $("#model").value || "default");
  try {
    const { id } = await api("/api/jobs", { method: "POST", body: form });
    card.job = id;
    card.el.dataset.job = id;
    poll(card);
  } catch (err) {
    showError(card, err.message);
  }
}

async function poll(card) {
  try {
    const m = await api(`/api/jobs/${card.job}`);
    const [done, total] = m.progress || [0, 0];
    const bar = $(".bar", card.el);
    bar.max = Math.max(total, 1);
    bar.value = done;
    $(".status-text", card.el).textContent = m.status === "running"
      ? `${m.width}×${m.height} px — ${total ? `tile ${done} of ${total}` : "starting"}`
      : `${m.status}`;
    if (m.status === "error") return showError(card, m.error);
    if (m.status !== "done") { setTimeout(() => poll(card), 400); return; }
    $(".status-text", card.el).textContent = `done in ${m.seconds.toFixed(1)} s — ${m.width}×${m.height} px, ` +
      `${m.model_description || m.model}`;
    bar.hidden = true;
    card.threshold = m.threshold;
    const slider = $(".threshold", card.el);
    slider.value = m.threshold;
    slider.addEventListener("input", () => {
      card.threshold = Number(slider.value);
      $(".threshold-value", card.el).textContent = card.threshold.toFixed(2);
      clearTimeout(card.timer);
      card.timer = setTimeout(() => refresh(card), 150);
    });
    card.el.querySelectorAll(".views input").forEach((r) => r.addEventListener("change", () => setImage(card)));
    $(".result", card.el).hidden = false;
    await refresh(card);
  } catch (err) {
    showError(card, err.message);
  }
}

function query(card) {
  const q = scaleQuery();
  q.set("threshold", card.threshold.toFixed(2));
  return q;
}

function setImage(card) {
  const view = card.el.querySelector(".views input:checked").value;
  const q = query(card);
  q.set("preview", "1");
  $(".view", card.el).src = `/api/jobs/${card.job}/file/${view}.png?${q}`;
}

const DOWNLOADS = ["mask.png", "overlay.png", "cracks.csv", "cracks.json", "centrelines.geojson", "report.html"];

async function refresh(card) {
  const q = query(card);
  $(".threshold-value", card.el).textContent = card.threshold.toFixed(2);
  let r;
  try {
    r = await api(`/api/jobs/${card.job}/result?${q}`);
  } catch (err) {
    $(".severity-note", card.el).textContent = err.message;
    return;
  }
  $(".error", card.el).hidden = true;
  const u = r.unit;
  const t = r.totals;
  const rows = [["cracks", t.count], [`total length (${u})`, t[`total_length_${u}`]],
    [`max width (${u})`, t[`width_max_${u}`]], [`mean width (${u})`, t[`width_mean_${u}`]],
    ["crack area share", `${(100 * t.crack_area_share).toFixed(2)} %`]];
  if (r.standard) rows.push(["worst severity", t.worst_severity || "—"]);
  const totals = $(".totals", card.el);
  totals.innerHTML = "";
  for (const [k, v] of rows) {
    const tr = totals.insertRow();
    tr.insertCell().textContent = k;
    const td = tr.insertCell();
    td.textContent = fmt(v);
    td.dataset.key = k.split(" (")[0].replace(/ /g, "_");
  }
  $(".severity-note", card.el).textContent = r.standard
    ? `Graded under ${r.standard} on each crack's 95th-percentile width; widths under 2 px are not classified.`
    : ($("#standard").value ? "Severity classes need a scale: give mm per pixel or a reference length." : "");
  const table = $(".cracks", card.el);
  table.innerHTML = "";
  const cols = r.columns.filter((c) => !c.startsWith("bbox") && !["n_branches", "n_junctions", "severity_class"]
    .includes(c) && !(u === "mm" && c.endsWith("_px") && c !== "area_px"));
  const head = table.createTHead().insertRow();
  for (const c of cols) head.appendChild(Object.assign(document.createElement("th"), { textContent: c }));
  const body = table.createTBody();
  for (const c of r.cracks) {
    const tr = body.insertRow();
    for (const k of cols) {
      const td = tr.insertCell();
      td.textContent = fmt(c[k]);
      if (typeof c[k] === "string") td.className = "text";
    }
  }
  // the links are made once and only their addresses change: a refresh (a settings field losing focus fires
  // one) that replaced them between a click's mouse-down and mouse-up would swallow the click
  const dl = $(".downloads", card.el);
  if (!dl.querySelector("a")) {
    dl.textContent = "Download: ";
    for (const kind of DOWNLOADS) {
      const a = Object.assign(document.createElement("a"), { textContent: kind, className: `dl-${kind.replace(".", "-")}` });
      a.setAttribute("download", "");
      dl.append(a, " ");
    }
  }
  for (const kind of DOWNLOADS) $(`.dl-${kind.replace(".", "-")}`, dl).href = `/api/jobs/${card.job}/file/${kind}?${q}`;
  setImage(card);
}

function refreshAll() {
  for (const card of state.cards.values()) if (card.job && card.threshold !== null) refresh(card);
}

async function gallery() {
  const jobs = await api("/api/jobs");
  const box = $("#gallery-jobs");
  box.innerHTML = jobs.length ? "" : "<p class='note'>No photos yet.</p>";
  for (const j of jobs) {
    const div = document.createElement("div");
    div.className = "thumb";
    const when = new Date(j.created * 1000).toLocaleString();
    if (j.status === "done") {
      div.innerHTML = `<img alt="" src="/api/jobs/${j.id}/file/overlay.png?preview=1">`;
    }
    div.append(Object.assign(document.createElement("p"), { textContent: `${j.name} — ${j.status}, ${when}` }));
    box.append(div);
  }
  const folders = await api("/api/folders");
  if (!folders.length) return;
  const fbox = $("#gallery-folders");
  fbox.innerHTML = "";
  for (const f of folders) {
    fbox.append(Object.assign(document.createElement("h3"), { textContent: f.name }));
    for (const p of f.photos) {
      const div = document.createElement("div");
      div.className = "thumb";
      const overlay = p.files.find((n) => n.endsWith("_overlay.png"));
      if (overlay) div.innerHTML = `<img alt="" src="/api/folders/${f.index}/${encodeURIComponent(overlay)}">`;
      const links = document.createElement("p");
      links.append(`${p.stem}: `);
      for (const n of p.files) {
        links.append(Object.assign(document.createElement("a"), { href: `/api/folders/${f.index}/${encodeURIComponent(n)}`,
          textContent: n.slice(p.stem.length + 1) }), " ");
      }
      div.append(links);
      fbox.append(div);
    }
  }
}

async function init() {
  state.info = await api("/api/info");
  const sel = $("#model");
  for (const m of state.info.models) {
    sel.append(Object.assign(document.createElement("option"), { value: m.name, textContent: m.name,
      selected: m.default }));
  }
  for (const s of state.info.standards) {
    $("#standard").append(Object.assign(document.createElement("option"), { value: s.key,
      textContent: `${s.key} — ${s.title}`, title: `${s.classes}\nSource: ${s.source}` }));
  }
  const L = state.info.limits;
  $("#limits").textContent = `Any size: large photos are tiled. Up to ${L.max_upload_mb} MB and ${L.max_megapixels} ` +
    "megapixels per photo; JPEG, PNG, TIFF, BMP or WebP. Photos and results stay on this machine.";
  const drop = $("#drop");
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    for (const f of e.dataTransfer.files) upload(f);
  });
  $("#files").addEventListener("change", (e) => { for (const f of e.target.files) upload(f); e.target.value = ""; });
  for (const el of document.querySelectorAll('#settings input, #standard')) el.addEventListener("change", refreshAll);
  $("#tab-work").addEventListener("click", () => switchTab("work"));
  $("#tab-gallery").addEventListener("click", () => { switchTab("gallery"); gallery(); });
  scaleQuery();
}

function switchTab(which) {
  $("#work").hidden = which !== "work";
  $("#gallery").hidden = which !== "gallery";
  $("#tab-work").classList.toggle("active", which === "work");
  $("#tab-gallery").classList.toggle("active", which === "gallery");
}

init().catch((err) => {
  document.body.prepend(Object.assign(document.createElement("p"), { className: "error", textContent: err.message }));
});
