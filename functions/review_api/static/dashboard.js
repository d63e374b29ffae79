// skillforge dashboard: catalog counts, skills, gate decisions, and the Make skill button.
// Same API, same token as the review page (local token or Cognito id token, in sessionStorage).
"use strict";

const STATUS_LABELS = {
  new: "new", labelling: "in labelling", labelled: "labelled", background: "background",
  in_review: "in review", verified: "verified", rejected: "rejected", model_labelled: "model labelled",
};
const state = { polling: null };

function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}

function showLogin(reason) {
  $("dashboard").hidden = true;
  $("login").hidden = false;
  $("login-error").textContent = reason || "";
}

function renderCatalog(catalog) {
  const statuses = catalog.crop_statuses;
  const head = $("catalog").querySelector("thead");
  const body = $("catalog").querySelector("tbody");
  const foot = $("catalog").querySelector("tfoot");
  head.replaceChildren(); body.replaceChildren(); foot.replaceChildren();
  const header = el("tr");
  header.append(el("th", "class"));
  for (const s of statuses) header.append(el("th", STATUS_LABELS[s] || s, "num"));
  header.append(el("th", "total", "num"));
  head.append(header);
  for (const [label, counts] of Object.entries(catalog.crops_by_class)) {
    const row = el("tr");
    row.dataset.class = label;
    row.append(el("td", label));
    let total = 0;
    for (const s of statuses) {
      const n = counts[s] || 0;
      total += n;
      const cell = el("td", n, n ? "num" : "num zero");
      cell.dataset.status = s;
      row.append(cell);
    }
    row.append(el("td", total, "num"));
    body.append(row);
  }
  const totals = el("tr");
  totals.id = "catalog-totals";
  totals.append(el("td", "all crops"));
  let all = 0;
  for (const s of statuses) {
    const n = catalog.crops_by_status[s] || 0;
    all += n;
    const cell = el("td", n, "num");
    cell.dataset.status = s;
    totals.append(cell);
  }
  totals.append(el("td", all, "num"));
  foot.append(totals);
  const images = catalog.images_by_status;
  $("images").textContent = "images: " + Object.entries(images).map(([k, v]) => `${v} ${k.replace("_", " ")}`).join(", ");
}

function renderSkills(skills) {
  const body = $("skills").querySelector("tbody");
  body.replaceChildren();
  for (const skill of skills) {
    for (const v of skill.version_rows) {
      const row = el("tr");
      row.dataset.skill = skill.skill;
      row.dataset.version = v.version;
      row.append(el("td", skill.skill), el("td", "v" + v.version, "num"), el("td", v.accuracy || "–", "num"),
        el("td", v.dataset_version));
      const stages = el("td");
      for (const stage of v.deployed_in) stages.append(el("span", stage, "stage"));
      row.append(stages, el("td", v.created_at.replace("T", " ").slice(0, 16)));
      body.append(row);
    }
  }
}

function renderGates(gates) {
  const body = $("gates").querySelector("tbody");
  body.replaceChildren();
  for (const g of gates) {
    const row = el("tr");
    const accuracy = (g.accuracy * 100).toFixed(1) + "%" + (g.current_accuracy !== null ? ` (was ${(g.current_accuracy * 100).toFixed(1)}%)` : "");
    const outcome = g.outcome + (g.override_by ? ` · accepted by ${g.override_by}` : "");
    row.append(el("td", g.skill), el("td", "v" + g.version, "num"), el("td", g.current_version ? "v" + g.current_version : "–", "num"),
      el("td", outcome, "outcome-" + g.outcome), el("td", accuracy, "num"), el("td", g.decided_at.replace("T", " ").slice(0, 16)));
    const link = el("td");
    if (g.report_url) {
      const a = el("a", "report.pdf");
      a.href = g.report_url;
      a.target = "_blank";
      a.rel = "noopener";
      link.append(a);
    }
    row.append(link);
    body.append(row);
  }
}

async function refresh() {
  const data = await session.json("api/dashboard");
  $("stage").textContent = "stage " + data.stage;
  renderCatalog(data.catalog);
  renderSkills(data.skills);
  renderGates(data.gates);
}

async function loadConfigs() {
  const data = await session.json("api/dashboard/configs");
  const select = $("config");
  select.replaceChildren();
  for (const name of data.configs) select.append(el("option", name));
  $("make-form").hidden = !data.can_make;
  $("make-hint").hidden = data.can_make;
  if (!data.can_make) $("make-hint").textContent = data.hint;
}

function showJob(job) {
  const text = job.state === "succeeded"
    ? `${job.config}: registered ${job.skill} v${job.skill_version} (${job.seconds} s)`
    : job.state === "failed"
      ? `${job.config}: failed after ${job.seconds} s: ${job.error}`
      : `${job.config}: ${job.step}… ${job.seconds} s`;
  $("job").textContent = text;
  $("job").className = job.state;
}

async function makeSkill(event) {
  event.preventDefault();
  $("make-skill").disabled = true;
  try {
    const job = await session.json("api/dashboard/make-skill", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ config: $("config").value }),
    });
    showJob(job);
    state.polling = setInterval(async () => {
      const now = await session.json("api/dashboard/jobs/" + job.job_id);
      showJob(now);
      if (now.state !== "running") {
        clearInterval(state.polling);
        $("make-skill").disabled = false;
        await refresh();
      }
    }, 1000);
  } catch (error) {
    $("job").textContent = error.message;
    $("job").className = "failed";
    $("make-skill").disabled = false;
  }
}

async function start() {
  $("login").hidden = true;
  $("dashboard").hidden = false;
  try {
    const me = await session.json("api/me");
    $("who").textContent = me.reviewer;
    await refresh();
    await loadConfigs();
  } catch (error) {
    if (error.message !== "refused") $("login-error").textContent = error.message;
  }
}

$("make-form").addEventListener("submit", makeSkill);

session.onSignedIn = start;
session.onSignedOut = showLogin;
session.init();
