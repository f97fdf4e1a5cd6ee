// The clothing classifier's page: send an image (its bytes, its bytes as base64 in JSON, or its
// URL) to POST /predict and show the answer. Plain JavaScript, no build step. Everything that came from the API or the
// user is put on the page with textContent, never innerHTML: an error message that echoes
// "<img onerror=...>" must show those characters, not run them.
"use strict";

const config = window.CLOTHING_API || {};
const elements = {
  fileInput: document.getElementById("file-input"),
  sendBase64: document.getElementById("send-base64"),
  dropZone: document.getElementById("drop-zone"),
  urlForm: document.getElementById("url-form"),
  urlInput: document.getElementById("url-input"),
  urlButton: document.getElementById("url-button"),
  status: document.getElementById("status"),
  error: document.getElementById("error"),
  result: document.getElementById("result"),
  preview: document.getElementById("preview"),
  prediction: document.getElementById("prediction"),
  scores: document.getElementById("scores"),
};
let previewUrl = null; // the object URL of the last chosen file, released when replaced

function showError(message) {
  elements.result.hidden = true;
  elements.status.textContent = "";
  elements.error.textContent = message;
  elements.error.hidden = false;
}

function setBusy(busy, message) {
  elements.urlButton.disabled = busy;
  elements.fileInput.disabled = busy;
  document.body.setAttribute("aria-busy", String(busy));
  elements.status.textContent = message;
  if (busy) elements.error.hidden = true;
}

function showPrediction(answer, imageSource) {
  elements.preview.src = imageSource;
  elements.prediction.textContent = answer.prediction;
  const rows = Object.entries(answer.scores || {}).sort((a, b) => b[1] - a[1]);
  elements.scores.replaceChildren(...rows.map(([label, score]) => scoreRow(label, score, answer)));
  elements.status.textContent = `Done: ${answer.prediction}.`;
  elements.result.hidden = false;
}

function scoreRow(label, score, answer) {
  // Bars are scaled to the best score, so they read the same for probabilities or logits.
  const values = Object.values(answer.scores);
  const low = Math.min(...values, 0);
  const high = Math.max(...values);
  const width = high > low ? ((score - low) / (high - low)) * 100 : 0;
  const row = document.createElement("li");
  if (label === answer.prediction) row.className = "best";
  const name = document.createElement("span");
  name.textContent = label;
  const bar = document.createElement("span");
  bar.className = "bar";
  bar.setAttribute("aria-hidden", "true"); // the number next to it says the same
  const fill = document.createElement("span");
  fill.style.width = `${width.toFixed(1)}%`;
  bar.append(fill);
  const value = document.createElement("span");
  value.className = "value";
  value.textContent = score.toFixed(2);
  row.append(name, bar, value);
  return row;
}

// A readable sentence for any answer that is not a prediction: the course's handler says
// {"error": {"message": ...}}, API Gateway and sam local say {"message": ...}.
function errorMessage(status, text) {
  let document = null;
  try {
    document = JSON.parse(text);
  } catch (_) {
    // not JSON: fall through to the status alone
  }
  const detail = (document && document.error && document.error.message) ||
    (document && typeof document.message === "string" && document.message) ||
    "the API gave no reason";
  return `The image could not be classified (HTTP ${status}): ${detail}`;
}

async function classify(body, contentType, imageSource) {
  if (!config.predictUrl) {
    showError("This page does not know where the API is: config.js has no predictUrl.");
    return;
  }
  setBusy(true, "Classifying…");
  const headers = { "Content-Type": contentType };
  if (config.apiKey) headers["x-api-key"] = config.apiKey;
  let response;
  let text;
  try {
    response = await fetch(config.predictUrl, { method: "POST", headers, body });
    text = await response.text();
  } catch (_) {
    // The browser hides the reason on purpose; a refused CORS preflight looks the same.
    setBusy(false, "");
    showError(`Could not reach the API at ${config.predictUrl}. It may be down, or it may ` +
      "not accept requests from this page's address (CORS).");
    return;
  }
  setBusy(false, "");
  let answer = null;
  try {
    answer = JSON.parse(text);
  } catch (_) {
    answer = null;
  }
  if (response.ok && answer && typeof answer.prediction === "string") {
    showPrediction(answer, imageSource);
  } else {
    showError(errorMessage(response.status, text));
  }
}

// The file's bytes as base64 text. readAsDataURL gives "data:image/jpeg;base64,..."; the API
// wants only what follows the comma.
function base64Of(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result.slice(reader.result.indexOf(",") + 1));
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(file);
  });
}

async function classifyFile(file) {
  if (!file) return;
  if (!file.type.startsWith("image/")) {
    // Only image bodies reach the function intact (the API's binary media types), and a
    // file that is not an image would be refused anyway: say so before sending it.
    showError(`${file.name} is not an image (${file.type || "unknown type"}): choose a ` +
      "JPEG, PNG or WebP photo.");
    return;
  }
  if (previewUrl) URL.revokeObjectURL(previewUrl);
  previewUrl = URL.createObjectURL(file);
  if (!elements.sendBase64.checked) {
    // The file's bytes are the body: API Gateway passes image/* bodies on as base64 when
    // the API lists them as binary media types.
    classify(file, file.type, previewUrl);
    return;
  }
  // Base64 inside JSON: a third larger, but text, so it needs no binary media types.
  let image;
  try {
    image = await base64Of(file);
  } catch (_) {
    showError(`${file.name} could not be read.`);
    return;
  }
  classify(JSON.stringify({ image }), "application/json", previewUrl);
}

elements.fileInput.addEventListener("change", () => classifyFile(elements.fileInput.files[0]));

elements.urlForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const url = elements.urlInput.value.trim();
  classify(JSON.stringify({ url }), "application/json", url);
});

for (const name of ["dragenter", "dragover"]) {
  elements.dropZone.addEventListener(name, (event) => {
    event.preventDefault();
    elements.dropZone.classList.add("dragging");
  });
}
for (const name of ["dragleave", "drop"]) {
  elements.dropZone.addEventListener(name, () => elements.dropZone.classList.remove("dragging"));
}
elements.dropZone.addEventListener("drop", (event) => {
  event.preventDefault();
  classifyFile(event.dataTransfer.files[0]);
});
