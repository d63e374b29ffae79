// skillforge expert review page: talks to the review API with a bearer token (local token or Cognito id token).
"use strict";

const state = { variants: {}, classes: [], variant: null, items: [], focus: 0, selected: new Set(), urls: [] };

function showLogin(reason) {
  $("app").hidden = true;
  $("login").hidden = false;
  $("login-error").textContent = reason ? "Not signed in: " + reason : "";
  $("who").textContent = "";
}

function say(text, isError) {
  $("message").textContent = text;
  $("message").className = isError ? "error" : "";
}

function showProgress(progress) {
  $("progress").textContent = `done ${progress.done} · remaining ${progress.remaining}`;
  $("progress").dataset.done = progress.done;
  $("progress").dataset.remaining = progress.remaining;
}

async function start() {
  try {
    const me = await session.json("api/me");
    $("who").textContent = me.reviewer;
    $("login").hidden = true;
    $("app").hidden = false;
    await refresh();
  } catch (error) {
    if (error.message !== "refused") session.signOut(error.message);
  }
}

async function refresh(keepVariant) {
  const data = await session.json("api/variants");
  state.variants = data.variants;
  state.classes = data.classes;
  showProgress(data.progress);
  const list = $("variants");
  list.replaceChildren();
  const names = Object.keys(state.variants);
  if (!keepVariant || !(state.variant in state.variants)) state.variant = names[0] || null;
  for (const name of names) {
    const li = document.createElement("li");
    li.dataset.variant = name;
    li.className = name === state.variant ? "current" : "";
    const label = document.createElement("span");
    label.textContent = name;
    const count = document.createElement("span");
    count.textContent = state.variants[name];
    li.append(label, count);
    li.addEventListener("click", () => { state.variant = name; refresh(true); });
    list.append(li);
  }
  const datalist = $("classes");
  datalist.replaceChildren(...state.classes.map((c) => Object.assign(document.createElement("option"), { value: c })));
  await loadQueue();
}

async function loadQueue() {
  state.urls.forEach((url) => URL.revokeObjectURL(url));
  state.urls = [];
  state.items = [];
  state.selected.clear();
  state.focus = 0;
  if (state.variant) {
    const data = await session.json("api/queue?variant=" + encodeURIComponent(state.variant));
    state.items = data.items;
  }
  $("title").textContent = state.variant ? `Proposed: ${state.variant}` : "Nothing to review";
  $("confirm").textContent = state.variant ? `Yes, these are ${state.variant} (y)` : "Yes, these are …";
  await renderGrid();
}

async function renderGrid() {
  const grid = $("grid");
  grid.replaceChildren();
  for (const [index, item] of state.items.entries()) {
    const card = document.createElement("div");
    card.className = "card";
    card.dataset.cropId = item.crop_id;
    card.setAttribute("role", "option");
    const frame = document.createElement("div");
    frame.className = "frame";
    const img = document.createElement("img");
    img.alt = "crop " + item.crop_id;
    const box = document.createElement("div");
    box.className = "box";
    const [x1, y1, x2, y2] = item.box;
    box.style.left = x1 * 100 + "%";
    box.style.top = y1 * 100 + "%";
    box.style.width = (x2 - x1) * 100 + "%";
    box.style.height = (y2 - y1) * 100 + "%";
    frame.append(img, box);
    const meta = document.createElement("div");
    meta.className = "meta";
    const which = item.main_car === false ? "other car in the photo" : "main car";
    meta.textContent = `${which} · ${item.view || "?"} · ${item.quality || "?"} · crowd agreement ${item.agreement ?? "?"} · detector ${item.confidence.toFixed(2)}`;
    card.append(frame, meta);
    if (item.model_top_k && item.model_top_k.length) {
      const model = document.createElement("div");
      model.className = "meta model";
      model.textContent = "model: " + item.model_top_k.map((s) => `${s.label} ${s.score.toFixed(2)}`).join(" · ");
      card.append(model);
    }
    if (item.note) {
      const note = document.createElement("div");
      note.className = "meta note";
      note.textContent = item.note;
      card.append(note);
    }
    card.addEventListener("click", () => { state.focus = index; toggle(index); });
    grid.append(card);
    loadImage(item.crop_id, img);
  }
  paint();
}

async function loadImage(cropId, img) {
  const response = await session.request(`api/crops/${encodeURIComponent(cropId)}/image`);
  if (!response.ok) { img.alt = "image missing"; return; }
  const url = URL.createObjectURL(await response.blob());
  state.urls.push(url);
  img.src = url;
}

function paint() {
  const cards = $("grid").children;
  for (const [index, card] of Array.from(cards).entries()) {
    card.classList.toggle("focused", index === state.focus);
    card.classList.toggle("selected", state.selected.has(state.items[index].crop_id));
    card.setAttribute("aria-selected", state.selected.has(state.items[index].crop_id));
  }
  $("confirm").disabled = state.selected.size === 0;
  $("wrong").disabled = $("reject").disabled = state.items.length === 0;
}

function toggle(index) {
  const id = state.items[index] && state.items[index].crop_id;
  if (!id) return;
  if (state.selected.has(id)) state.selected.delete(id); else state.selected.add(id);
  paint();
}

function selectAll() {
  const all = state.items.every((item) => state.selected.has(item.crop_id));
  state.selected = all ? new Set() : new Set(state.items.map((item) => item.crop_id));
  paint();
}

async function decide(body, text) {
  try {
    const result = await session.json("api/decisions", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(Object.assign({ variant: state.variant }, body)),
    });
    showProgress(result.progress);
    say(text);
    await refresh(true);
  } catch (error) {
    if (error.message !== "refused") say(error.message, true);
  }
}

function confirmSelected() {
  if (!state.selected.size) return;
  const ids = Array.from(state.selected);
  decide({ approve: ids }, `${ids.length} confirmed as ${state.variant}`);
}

function focusedId() {
  return state.items[state.focus] && state.items[state.focus].crop_id;
}

function openCorrection() {
  if (!focusedId()) return;
  $("correct-form").hidden = false;
  $("correct-class").value = "";
  $("correct-class").focus();
}

function closeCorrection() {
  $("correct-form").hidden = true;
  $("correct-class").blur();
}

function saveCorrection(event) {
  event.preventDefault();
  const id = focusedId();
  const name = $("correct-class").value.trim();
  if (!id || !name) return;
  closeCorrection();
  decide({ corrections: { [id]: name } }, `${id} corrected to ${name}`);
}

function rejectFocused() {
  const id = focusedId();
  if (id) decide({ reject: [id] }, `${id} marked not usable`);
}

async function undo() {
  try {
    const result = await session.json("api/undo", { method: "POST" });
    showProgress(result.progress);
    say(`undone: ${result.undone.decision_id}`);
    await refresh(true);
  } catch (error) {
    if (error.message !== "refused") say(error.message, true);
  }
}

function moveFocus(delta) {
  if (!state.items.length) return;
  state.focus = Math.max(0, Math.min(state.items.length - 1, state.focus + delta));
  paint();
}

function columns() {
  const cards = $("grid").children;
  if (cards.length < 2) return 1;
  const top = cards[0].offsetTop;
  let n = 0;
  while (n < cards.length && cards[n].offsetTop === top) n++;
  return Math.max(1, n);
}

function nextVariant() {
  const names = Object.keys(state.variants);
  if (!names.length) return;
  state.variant = names[(names.indexOf(state.variant) + 1) % names.length];
  refresh(true);
}

document.addEventListener("keydown", (event) => {
  if ($("app").hidden) return;
  if (event.target === $("correct-class")) {
    if (event.key === "Escape") closeCorrection();
    return;
  }
  if (event.target.tagName === "INPUT") return;
  const keys = {
    ArrowRight: () => moveFocus(1), ArrowLeft: () => moveFocus(-1),
    ArrowDown: () => moveFocus(columns()), ArrowUp: () => moveFocus(-columns()),
    " ": () => toggle(state.focus), a: selectAll, y: confirmSelected, w: openCorrection,
    x: rejectFocused, u: undo, n: nextVariant,
  };
  const action = keys[event.key];
  if (action && !event.ctrlKey && !event.metaKey && !event.altKey) {
    event.preventDefault();
    action();
  }
});

$("select-all").addEventListener("click", selectAll);
$("confirm").addEventListener("click", confirmSelected);
$("wrong").addEventListener("click", openCorrection);
$("reject").addEventListener("click", rejectFocused);
$("undo").addEventListener("click", undo);
$("correct-form").addEventListener("submit", saveCorrection);
$("correct-cancel").addEventListener("click", closeCorrection);

session.onSignedIn = start;
session.onSignedOut = showLogin;
session.init();
