// instapop page: pick or drop candidates, POST them to /api/predict, show the ranking as cards.
// Plain DOM code, no framework and nothing from the network: the page must work offline.
"use strict";

const state = { files: [], urls: [], classNames: [] };
const $ = (selector) => document.querySelector(selector);

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;  // textContent: file names are never parsed as HTML
  return node;
}

function percent(p) {
  return `${Math.round(p * 100)}%`;
}

function day(iso) {
  return iso.slice(0, 10);  // "2021-03-04T17:05:09Z" -> "2021-03-04"
}

function setStatus(text, isError = false) {
  const status = $("#status");
  status.textContent = text;
  status.classList.toggle("error", isError);
}

// --- model card -------------------------------------------------------------------

function porRange(boundaries, k, name) {
  const fmt = (x) => x.toPrecision(3);
  if (!boundaries || boundaries.length === 0) return "";
  if (k === 0) return `${name} < ${fmt(boundaries[0])}`;
  if (k === boundaries.length) return `${name} ≥ ${fmt(boundaries[k - 1])}`;
  return `${fmt(boundaries[k - 1])} ≤ ${name} < ${fmt(boundaries[k])}`;
}

// The card's target (por, reach-rate, reach) as shown: the paper's name for PoR.
function targetLabels(target) {
  if (!target || target.name === "por") {
    return { name: "PoR", header: "popularity rate (likes + comments per follower)" };
  }
  return { name: target.name, header: `${target.name}: ${target.formula}` };
}

function accuracyText(info) {
  if (info.cv_accuracy === null || info.cv_accuracy === undefined) return "not measured";
  const spread = info.cv_std ? ` ± ${percent(info.cv_std)}` : "";
  const majority = info.majority_accuracy === null ? "" : ` (always guessing the commonest class: ${percent(info.majority_accuracy)})`;
  return `${percent(info.cv_accuracy)}${spread}${majority}`;
}

function mediaSection(mediaType, info, classNames, target) {
  const labels = targetLabels(target);
  const section = element("section", "media-card");
  section.dataset.mediaType = mediaType;
  section.append(element("h3", "", `${mediaType[0].toUpperCase()}${mediaType.slice(1)}s`));
  const approach = element("p", "", `Approach: ${info.approach}, trained on ${info.trained_on} ${mediaType}s.`);
  approach.title = info.choice;
  section.append(approach, element("p", "", `Cross-validated accuracy: ${accuracyText(info)}.`));
  const table = element("table");
  const head = table.insertRow();
  head.append(element("th", "", "class"), element("th", "", labels.header));
  classNames.forEach((name, k) => {
    const row = table.insertRow();
    const label = element("td");
    const swatch = element("span", "swatch");
    swatch.style.background = `var(--c${k})`;
    label.append(swatch, document.createTextNode(name));
    row.append(label, element("td", "", porRange(info.boundaries, k, labels.name)));
  });
  section.append(table);
  if (info.window && info.window.window_start) {
    section.append(element("p", "muted",
      `Boundaries from the latest ${info.window.window_posts} posts (${day(info.window.window_start)} to ${day(info.window.window_end)}).`));
  }
  return section;
}

async function loadModelCard() {
  const card = $("#model-card");
  const response = await fetch("/api/model");
  const model = await response.json();
  state.classNames = model.class_names;
  card.replaceChildren(element("h2", "", "Model card"));
  card.append(element("p", "", `${model.n_classes} popularity classes, on ${model.backbone} embeddings.`));
  card.append(element("p", "", `Trained on posts from ${day(model.date_range.start)} to ${day(model.date_range.end)}.`));
  const protocol = model.cv_protocol;
  card.append(element("p", "muted", `Accuracy from ${protocol.n_splits}-fold cross-validation × ${protocol.n_repeats}` +
    `${protocol.grouped_folds ? ", carousel items kept in one fold" : ""}.`));
  for (const [mediaType, info] of Object.entries(model.media)) {
    card.append(mediaSection(mediaType, info, model.class_names, model.target));
  }
  card.append(element("p", "muted",
    "Classes are relative to this profile's recent posts: a new post must beat the boundaries above."));
  const limits = model.limits;
  if (limits) {
    $("#limits").textContent = `Up to ${limits.max_files} files, ${Math.round(limits.max_file_bytes / 2 ** 20)} MiB each, ` +
      `videos up to ${limits.max_video_s} s.`;
  }
}

// --- ranking ------------------------------------------------------------------------

function preview(file, url) {
  if (file && file.type.startsWith("video/")) {
    const video = element("video");
    Object.assign(video, { src: url, muted: true, controls: true, preload: "metadata" });
    return video;
  }
  const img = element("img");
  img.alt = file ? file.name : "";
  if (url) img.src = url;
  return img;
}

function probabilityBar(bar, probs) {
  bar.setAttribute("aria-label", probs.map((p, k) => `${state.classNames[k]} ${percent(p)}`).join(", "));
  probs.forEach((p, k) => {
    const segment = element("span");
    segment.style.width = `${p * 100}%`;
    segment.title = `${state.classNames[k]}: ${percent(p)}`;
    bar.append(segment);
  });
}

function heatmapToggle(button, previewBox, original, heatmapUrl, mediaType) {
  if (!heatmapUrl) {
    button.remove();
    return;
  }
  const heatmap = element("img", mediaType === "video" ? "filmstrip heatmap" : "heatmap");
  heatmap.alt = `heatmap of ${original.alt || "the candidate"}`;
  heatmap.src = heatmapUrl;
  let showing = false;
  button.textContent = mediaType === "video" ? "Show frame importance" : "Show heatmap";
  button.addEventListener("click", () => {
    showing = !showing;
    previewBox.replaceChildren(showing ? heatmap : original);
    // a filmstrip is a row of 15 frames: give it the whole width of the grid
    if (mediaType === "video") button.closest(".card").classList.toggle("wide", showing);
    button.textContent = showing ? "Show original" : (mediaType === "video" ? "Show frame importance" : "Show heatmap");
    button.setAttribute("aria-pressed", String(showing));
  });
}

function card(candidate) {
  const node = $("#card-template").content.firstElementChild.cloneNode(true);
  const index = state.files.findIndex((file) => file.name === candidate.name);
  const file = state.files[index];
  node.dataset.name = candidate.name;
  node.querySelector(".name").textContent = candidate.name;
  node.querySelector(".type").textContent = candidate.media_type;
  const previewBox = node.querySelector(".preview");
  const original = preview(file, state.urls[index]);
  previewBox.append(original);
  const button = node.querySelector(".heatmap-toggle");
  if (candidate.error) {
    node.classList.add("failed");
    node.querySelector(".rank").textContent = "✕";
    node.querySelector(".verdict").replaceWith(element("div", "reason", candidate.error));
    node.querySelector(".bar").remove();
    node.querySelector(".score").remove();
    button.remove();
    return node;
  }
  node.dataset.rank = candidate.rank;
  node.querySelector(".rank").textContent = `#${candidate.rank}`;
  node.querySelector(".verdict").textContent =
    `${candidate.class_name} (${percent(candidate.probs[candidate.predicted_class])})`;
  probabilityBar(node.querySelector(".bar"), candidate.probs);
  node.querySelector(".score").textContent =
    `expected class ${candidate.expected_score.toFixed(2)} of ${state.classNames.length - 1}`;
  heatmapToggle(button, previewBox, original, candidate.heatmap, candidate.media_type);
  return node;
}

function showRanking(body) {
  const results = $("#results");
  results.replaceChildren(...body.candidates.map(card));
  const scored = body.candidates.filter((c) => !c.error).length;
  const failed = body.candidates.length - scored;
  setStatus(`${scored} ranked${failed ? `, ${failed} could not be scored` : ""}.`, failed > 0 && scored === 0);
}

async function rank() {
  const form = new FormData();
  state.files.forEach((file) => form.append("files", file, file.name));
  setStatus(`Scoring ${state.files.length} file${state.files.length === 1 ? "" : "s"}…`);
  $("#results").setAttribute("aria-busy", "true");
  try {
    const response = await fetch("/api/predict?explain=true", { method: "POST", body: form });
    const body = await response.json();
    if (body.candidates) showRanking(body);
    if (!response.ok) setStatus(body.detail || `The server refused the request (${response.status}).`, true);
  } catch (error) {
    setStatus(`The request failed: ${error}`, true);
  } finally {
    $("#results").removeAttribute("aria-busy");
  }
}

function addFiles(fileList) {
  for (const file of fileList) {
    state.files.push(file);
    state.urls.push(URL.createObjectURL(file));
  }
  $("#clear").hidden = state.files.length === 0;
  if (state.files.length) rank();
}

function clearFiles() {
  state.urls.forEach((url) => URL.revokeObjectURL(url));
  state.files = [];
  state.urls = [];
  $("#results").replaceChildren();
  $("#clear").hidden = true;
  setStatus("No candidates yet.");
}

function wireDropZone() {
  const drop = $("#drop");
  const input = $("#files");
  input.addEventListener("change", () => {
    addFiles(input.files);
    input.value = "";  // picking the same file again fires change again
  });
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
  $("#clear").addEventListener("click", clearFiles);
}

wireDropZone();
loadModelCard().catch((error) => setStatus(`Could not load the model card: ${error}`, true));
