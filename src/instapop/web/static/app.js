// instapop page: pick or drop candidates, POST them to /api/predict, show the ranking as cards.
// Plain DOM code, no framework and nothing from the network: the page must work offline.
"use strict";

// plans: the time and caption a person typed per file name; candidates: the latest ranking.
const state = { files: [], urls: [], classNames: [], plans: {}, candidates: [] };
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

// The range of the target (named `name`) that class k covers, from the card's boundaries.
function classRange(boundaries, k, name) {
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
    row.append(label, element("td", "", classRange(info.boundaries, k, labels.name)));
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
  state.context = model.context;
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
  card.append(element("p", "muted", contextText(model.context)));
  const limits = model.limits;
  if (limits) {
    $("#limits").textContent = `Up to ${limits.max_files} files, ${Math.round(limits.max_file_bytes / 2 ** 20)} MiB each, ` +
      `videos up to ${limits.max_video_s} s.`;
  }
}

function contextText(context) {
  if (!context || context.used_by.length === 0) {
    return "The model ranks by the picture alone: a planned time or caption does not change a score.";
  }
  const t = context.typical;
  const slot = t && t.typical_hour !== null
    ? ` (mostly ${t.typical_weekday} ${String(t.typical_hour).padStart(2, "0")}:00 UTC, ${t.median_gap_hours} h after the previous post)`
    : "";
  return `The ${context.used_by.join(" and ")} model also reads the planned time and caption; ` +
    `without them it assumes the profile's typical ones${slot}.`;
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

function points(x) {
  const value = (x * 100).toFixed(1);
  return x >= 0 ? `+${value}` : `−${value.slice(1)}`;
}

// The caption's terms that moved its words part, strongest first; "" when none did.
function captionWordsText(captionWords) {
  if (!captionWords) return "";
  const list = (terms) => terms.map((t) => `${t.term} ${points(t.move)}`).join(", ");
  const parts = [];
  if (captionWords.up.length) parts.push(`raised by ${list(captionWords.up)}`);
  if (captionWords.down.length) parts.push(`lowered by ${list(captionWords.down)}`);
  return parts.length ? `Caption words: ${parts.join("; ")}` : "";
}

function verdictText(candidate) {
  if (candidate.percentile !== null) {
    return `${candidate.class_name} (predicted percentile ${Math.round(candidate.percentile * 100)})`;
  }
  return `${candidate.class_name} (${percent(candidate.probs[candidate.predicted_class])})`;
}

function scoreText(candidate) {
  if (candidate.percentile !== null) {
    return `score ${candidate.score.toFixed(3)}: the share of the profile's posts of its time it should beat`;
  }
  return `expected class ${candidate.expected_score.toFixed(2)} of ${state.classNames.length - 1}`;
}

function planInputs(node, candidate) {
  const plan = state.plans[candidate.name] || {};
  const when = node.querySelector(".when");
  const caption = node.querySelector(".caption");
  when.value = plan.when || "";
  caption.value = plan.caption || "";
  const changed = () => {
    state.plans[candidate.name] = { when: when.value, caption: caption.value };
    rescore(candidate.name);
  };
  when.addEventListener("change", changed);
  caption.addEventListener("change", changed);
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
    for (const part of [".bar", ".score", ".moves", ".words", ".plan", ".note"]) node.querySelector(part).remove();
    button.remove();
    return node;
  }
  node.dataset.rank = candidate.rank;
  node.dataset.score = candidate.score;
  node.querySelector(".rank").textContent = `#${candidate.rank}`;
  node.querySelector(".verdict").textContent = verdictText(candidate);
  probabilityBar(node.querySelector(".bar"), candidate.probs);
  node.querySelector(".score").textContent = scoreText(candidate);
  const moves = candidate.contributions;
  const movesBox = node.querySelector(".moves");
  if (moves) {
    const words = moves.words === null ? "" : ` · words ${points(moves.words)}`;
    movesBox.textContent = `picture ${points(moves.picture)} · context ${points(moves.context)}${words} ` +
      "percentile points against the profile's average post";
  } else {
    movesBox.remove();
  }
  const termsBox = node.querySelector(".words");
  const terms = captionWordsText(candidate.caption_words);
  if (terms) termsBox.textContent = terms;
  else termsBox.remove();
  node.querySelector(".note").textContent = candidate.context.note;
  planInputs(node, candidate);
  heatmapToggle(button, previewBox, original, candidate.heatmap, candidate.media_type);
  return node;
}

// The server's order: best score first, ties by name, failures last by name.
function ranked(candidates) {
  const byName = (a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  const scored = candidates.filter((c) => !c.error).sort((a, b) => b.score - a.score || byName(a, b));
  const failed = candidates.filter((c) => c.error).sort(byName);
  return [...scored.map((c, i) => ({ ...c, rank: i + 1 })), ...failed.map((c) => ({ ...c, rank: null }))];
}

function showRanking(body) {
  state.candidates = body.candidates;
  const results = $("#results");
  results.replaceChildren(...body.candidates.map(card));
  const scored = body.candidates.filter((c) => !c.error).length;
  const failed = body.candidates.length - scored;
  setStatus(`${scored} ranked${failed ? `, ${failed} could not be scored` : ""}.`, failed > 0 && scored === 0);
}

// A datetime-local value is the person's local time: send it as UTC, which the server reads.
function isoTime(local) {
  return local ? new Date(local).toISOString() : "";
}

function appendPlan(form, name) {
  const plan = state.plans[name] || {};
  form.append("when", isoTime(plan.when));
  form.append("caption", plan.caption || "");
}

async function post(form) {
  const response = await fetch("/api/predict?explain=true", { method: "POST", body: form });
  return [response, await response.json()];
}

async function rescore(name) {
  const file = state.files.find((f) => f.name === name);
  const form = new FormData();
  form.append("files", file, file.name);
  appendPlan(form, name);
  setStatus(`Scoring ${name} again…`);
  try {
    const [response, body] = await post(form);
    if (!body.candidates) {
      setStatus(body.detail || `The server refused the request (${response.status}).`, true);
      return;
    }
    const others = state.candidates.filter((c) => c.name !== name);
    showRanking({ candidates: ranked([...others, body.candidates[0]]) });
  } catch (error) {
    setStatus(`The request failed: ${error}`, true);
  }
}

async function rank() {
  const form = new FormData();
  state.files.forEach((file) => {
    form.append("files", file, file.name);
    appendPlan(form, file.name);
  });
  setStatus(`Scoring ${state.files.length} file${state.files.length === 1 ? "" : "s"}…`);
  $("#results").setAttribute("aria-busy", "true");
  try {
    const [response, body] = await post(form);
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
  state.plans = {};
  state.candidates = [];
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
