// Supervisor wallboard (SPEC R3.4): calls waiting, longest wait, agents per state, service level
// (answered within 15 s / answered) and abandoned calls today, per queue, live from `queue.stats`
// and `agent.state`; listen / whisper / barge on an agent's call.
import {
  AGENT_STATE_LABELS, QUEUE_LABELS, $, attempt, el, fmtDuration, localSince, queueName, requireUser, showUser, toast,
} from "./lib.js";
import { HotlineSocket, connIndicator } from "./socket.js";
import { AGENT_API } from "./agentapi.js";

const agents = new Map(); // username -> last agent.state
let lastStatsAt = 0;
const STATES = ["available", "ringing", "on_call", "wrap_up", "paused"];
const SPY_LABELS = { listen: "监听", whisper: "耳语", barge: "强插" };

function pct(x) {
  return typeof x === "number" && Number.isFinite(x) ? `${(x * 100).toFixed(1)}%` : "—";
}

function setTile(id, text, alert = false) {
  const t = $(id);
  t.querySelector(".n").textContent = text;
  t.classList.toggle("alert", alert);
}

function onQueueStats(msg) {
  const queues = msg.queues || [];
  lastStatsAt = Date.now();
  let waiting = 0, longest = 0, answered = 0, abandoned = 0, slWeighted = 0;
  const rows = queues.map((q) => {
    waiting += q.waiting || 0;
    longest = Math.max(longest, q.longest_wait_s || 0);
    answered += q.answered_today || 0;
    abandoned += q.abandoned_today || 0;
    slWeighted += (q.service_level_today || 0) * (q.answered_today || 0);
    const a = q.agents || {};
    return el("tr", { dataset: { queue: q.queue } },
      el("td", {}, queueName(q.queue)), el("td", { class: "waiting" }, q.waiting || 0),
      el("td", {}, fmtDuration(q.longest_wait_s)),
      ...STATES.map((s) => el("td", { class: `agents-${s}` }, a[s] || 0)),
      el("td", {}, q.answered_today || 0), el("td", { class: "abandoned" }, q.abandoned_today || 0),
      el("td", { class: "sl" }, q.answered_today ? pct(q.service_level_today) : "—"));
  });
  $("#queues tbody").replaceChildren(...(rows.length ? rows
    : [el("tr", {}, el("td", { colspan: 11, class: "muted" }, "暂无队列数据"))]));
  setTile("#t-waiting", String(waiting), waiting > 0);
  setTile("#t-longest", fmtDuration(longest), longest > 60);
  // Service level over all queues, weighted by answered calls; red under 80 %.
  const sl = answered ? slWeighted / answered : null;
  setTile("#t-sl", sl === null ? "—" : pct(sl), sl !== null && sl < 0.8);
  setTile("#t-answered", String(answered));
  setTile("#t-abandoned", String(abandoned), abandoned > 0);
  $("#updated").textContent = `更新于 ${new Date().toLocaleTimeString("zh-CN", { hour12: false })}`;
}

function onAgentState(msg) {
  if (!msg.username) return;
  agents.set(msg.username, { ...msg, sinceMs: localSince(msg.since, msg.ts) });
  renderAgents();
}

function spyButtons(a) {
  const live = a.state === "on_call" && a.agent_id !== undefined;
  return Object.entries(SPY_LABELS).map(([mode, label]) => el("button", {
    class: `spy-${mode}`, disabled: !live,
    title: live ? `${label} ${a.username} 的通话` : "该坐席不在通话中",
    onclick: () => attempt(() => AGENT_API.monitor(a.agent_id, mode), `已发起${label}`),
  }, label));
}

function renderAgents() {
  const order = { on_call: 0, ringing: 1, wrap_up: 2, available: 3, paused: 4, logged_out: 5 };
  const list = [...agents.values()].sort((a, b) =>
    (order[a.state] ?? 9) - (order[b.state] ?? 9) || a.username.localeCompare(b.username));
  $("#agents tbody").replaceChildren(...list.map((a) => el("tr", { dataset: { username: a.username } },
    el("td", {}, a.username), el("td", {}, a.extension || "—"),
    el("td", {}, el("span", { class: `badge ${a.state}` }, AGENT_STATE_LABELS[a.state] || a.state)),
    el("td", { class: "since", dataset: { since: a.sinceMs } }, fmtDuration((Date.now() - a.sinceMs) / 1000)),
    el("td", {}, a.reason || ""), el("td", {}, (a.queues || []).map((q) => QUEUE_LABELS[q] || q).join("、")),
    el("td", { class: "row" }, ...spyButtons(a)))));
}

function tick() {
  for (const td of document.querySelectorAll("#agents td.since")) {
    td.textContent = fmtDuration((Date.now() - Number(td.dataset.since)) / 1000);
  }
  if (lastStatsAt && Date.now() - lastStatsAt > 30000) {
    $("#updated").textContent = "数据已超过 30 秒未更新";
  }
}

async function main() {
  const user = await requireUser();
  showUser(user);
  if (!["supervisor", "admin", "auditor"].includes(user.role)) {
    toast("监控墙仅供班长使用", true);
  }
  // Auditors may watch the wallboard but not the agents' own topic (docs/websocket.md).
  const topics = user.role === "auditor" ? ["wallboard"] : ["wallboard", "agent"];
  const sock = new HotlineSocket(topics, connIndicator($("#conn")));
  sock.on("queue.stats", onQueueStats).on("agent.state", onAgentState)
    .on("error", (m) => toast(`服务器提示:${m.message}`, true));
  window.hotlineSocket = sock;
  sock.connect();
  setInterval(tick, 1000);
  document.body.dataset.ready = "1";
}

main().catch((e) => { if (e.status !== 401) toast(`加载失败:${e.message}`, true); });
