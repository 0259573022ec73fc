// The page of `vit serve`: pick or drop an image, POST it to /v1/classify and /v1/explain, show the top classes as bars
// and the attention-rollout overlay. Everything comes from this server (no CDN, no external requests).
"use strict";

const $ = (id) => document.getElementById(id);
let keyRequired = false;
let previewUrl = null, overlayUrl = null;

function headers() {
  const key = $("key").value;
  return keyRequired && key ? { "X-Api-Key": key } : {};
}

function status(text, isError) {
  $("status").textContent = text;
  $("status").className = isError ? "error" : "";
}

async function problem(response) {
  try {
    const body = await response.json();
    return `${response.status} ${body.title}: ${body.detail}`;
  } catch {
    return `${response.status} ${response.statusText}`;
  }
}

async function describe() {
  try {
    const response = await fetch("/v1/model", { headers: headers() });
    if (response.status === 401) {
      keyRequired = true;
      $("key-row").hidden = false;
      $("model").textContent = "this server needs an API key: enter it below";
      return;
    }
    const model = await response.json();
    keyRequired = model.limits.api_key_required;
    $("key-row").hidden = !keyRequired;
    const c = model.config;
    $("model").textContent = `${model.name}: ${c.classes} classes, ${c.image_size}×${c.image_size} ${model.preprocessing.color}, ` +
      `${c.layers} layers, width ${c.hidden}, ${model.engine} engine, batches up to ${model.batching.max_batch}`;
  } catch (e) {
    $("model").textContent = "cannot reach the server: " + e;
  }
}

function showScores(result) {
  const bars = $("bars");
  bars.replaceChildren();
  for (const score of result.top) {
    const item = document.createElement("li");
    const label = document.createElement("span");
    label.className = "label";
    label.textContent = score.label;
    const bar = document.createElement("span");
    bar.className = "bar";
    const fill = document.createElement("span");
    fill.style.width = (score.probability * 100).toFixed(1) + "%";
    bar.append(fill);
    const probability = document.createElement("span");
    probability.className = "probability";
    probability.textContent = (score.probability * 100).toFixed(1) + " %";
    item.append(label, bar, probability);
    bars.append(item);
  }
  const best = result.top[0];
  $("top1").textContent = best.label;
  $("top1").dataset.label = best.label;
  $("timing").textContent = `${result.elapsed_ms.toFixed(1)} ms on the server, batch of ${result.batch_size}`;
}

async function classify(file) {
  status("classifying " + (file.name || "the image") + "…");
  $("result").hidden = false;
  $("top1").textContent = "…";
  $("top1").dataset.label = "";
  $("bars").replaceChildren();
  if (previewUrl) URL.revokeObjectURL(previewUrl);
  previewUrl = URL.createObjectURL(file);
  $("preview").src = previewUrl;
  $("overlay").removeAttribute("src");
  try {
    const response = await fetch("/v1/classify?top=5", { method: "POST", body: file, headers: headers() });
    if (!response.ok) {
      status(await problem(response), true);
      $("top1").textContent = "";
      return;
    }
    showScores(await response.json());
    status("");
    const explained = await fetch("/v1/explain", { method: "POST", body: file, headers: headers() });
    if (explained.ok) {
      if (overlayUrl) URL.revokeObjectURL(overlayUrl);
      overlayUrl = URL.createObjectURL(await explained.blob());
      $("overlay").src = overlayUrl;
    } else {
      status("no overlay: " + await problem(explained), true);
    }
  } catch (e) {
    status("the request failed: " + e, true);
  }
}

$("file").addEventListener("change", () => {
  const file = $("file").files[0];
  if (file) classify(file);
});

const drop = $("drop");
drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => {
  e.preventDefault();
  drop.classList.remove("over");
  const file = e.dataTransfer.files[0];
  if (file) classify(file);
});
$("key").addEventListener("change", describe);

describe();
