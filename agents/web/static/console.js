// Agent console (SPEC R3.2): agent state and queue controls, the screen-pop of a ringing call,
// the draft order that opens on answer and fills from live transcript lines.
import {
  AGENT_STATE_LABELS, CATEGORY_LABELS, ORDER_STATE_LABELS, QUEUE_LABELS, $, api, attempt, el, fmtDuration,
  fmtTime, localSince, queueName, requireUser, showUser, toast,
} from "./lib.js";
import { HotlineSocket, connIndicator } from "./socket.js";
import { AGENT_API } from "./agentapi.js";
import { OrderDesk } from "./console_order.js";

// Safety net besides `order.updated`: re-read this shift's open orders now and then.
const OPEN_ORDERS_REFRESH_MS = 60000;

const state = {
  user: null,
  agent: { state: "logged_out", since: Date.now(), reason: null, queues: [] },
  call: null, // {call_id, caller, …, status: "ringing" | "answered" | "ended", poppedAt}
  queues: [], // queues this agent may log in to
  notAgent: false, // the user has no agent registration (no phone): no queue controls
};

/** The agent's registration, live state and the queues it can log in to. */
async function loadAgent() {
  let me = null;
  try {
    me = await AGENT_API.me();
  } catch (e) {
    if (e.status === 404) {
      toast("当前用户尚未登记为坐席,请联系管理员", true);
      state.notAgent = true;
      renderAgentState();
      return;
    }
    throw e;
  }
  if (me.live) onAgentState(me.live);
  let names = [...(me.intended_queues || [])];
  try {
    const stats = await AGENT_API.queueStats();
    names = [...new Set([...names, ...(stats.queues || []).map((q) => q.queue)])];
  } catch { /* the picker keeps the agent's own queues */ }
  state.queues = names.sort();
  $("#queue-pick").replaceChildren(el("option", { value: "" }, "全部队列"),
    ...state.queues.map((q) => el("option", { value: q }, queueName(q))));
}

// --- agent state ------------------------------------------------------------------------

function renderAgentState() {
  const a = state.agent;
  const badge = $("#agent-state");
  badge.className = `badge ${a.state}`;
  badge.dataset.state = a.state;
  badge.textContent = AGENT_STATE_LABELS[a.state] || a.state;
  const queues = (a.queues || []).map((q) => QUEUE_LABELS[q] || q).join("、");
  $("#state-reason").textContent = [a.reason ? `原因:${a.reason}` : "",
    queues ? `队列:${queues}` : ""].filter(Boolean).join(" ");
  const out = a.state === "logged_out";
  $("#btn-queue-login").disabled = !out || state.notAgent;
  $("#btn-queue-logout").disabled = out || state.notAgent;
  $("#btn-pause").disabled = out || a.state === "paused" || state.notAgent;
  $("#btn-unpause").disabled = a.state !== "paused" || state.notAgent;
}

function onAgentState(msg) {
  // Supervisors also receive other agents' states: only ours drives this header.
  if (msg.username && msg.username !== state.user.username) return;
  state.agent = { state: msg.state, since: localSince(msg.since, msg.ts),
    reason: msg.reason || null, queues: msg.queues || [] };
  renderAgentState();
}

function tick() {
  $("#state-time").textContent = fmtDuration((Date.now() - state.agent.since) / 1000);
  const c = state.call;
  if (c && c.status === "ringing") {
    $("#pop-wait").textContent = fmtDuration((c.wait_s || 0) + (Date.now() - c.poppedAt) / 1000);
  }
}

// --- screen-pop -------------------------------------------------------------------------

function ivrText(ivr) {
  if (!ivr) return "—";
  const path = Array.isArray(ivr.path) ? ivr.path.join(" → ") : ivr.path;
  return [ivr.choice_label || ivr.choice, path && path !== ivr.choice ? `(${path})` : ""]
    .filter(Boolean).join(" ") || "—";
}

function orderRow(o) {
  const overdue = o.overdue || o.reply_overdue ? el("span", { class: "badge overdue" }, "超期") : null;
  const open = o.open !== false && !["closed", "not_accepted", "merged"].includes(o.state);
  return el("tr", { dataset: { number: o.order_no || o.number } },
    el("td", {}, o.order_no || o.number),
    el("td", {}, el("span", { class: `badge${open ? " open" : ""}` },
      o.state_label || ORDER_STATE_LABELS[o.state] || o.state), overdue),
    el("td", {}, o.category_label || CATEGORY_LABELS[o.category] || o.category || ""),
    el("td", { title: o.summary || o.topic || "" }, o.summary || o.topic || ""),
    el("td", {}, fmtTime(o.deadline || o.reply_due)));
}

/** Open ones first (the server already sorts; keep it stable if it did not). */
function openFirst(orders) {
  const isOpen = (o) => o.open !== false && !["closed", "not_accepted", "merged"].includes(o.state);
  return [...orders].sort((a, b) => Number(isOpen(b)) - Number(isOpen(a)));
}

function renderEarlierOrders(list) {
  const orders = openFirst(list);
  $("#pop-orders-count").textContent = String(orders.length);
  $("#pop-orders tbody").replaceChildren(...orders.map(orderRow));
}

function renderSuggestions(kb) {
  $("#pop-kb").replaceChildren(...(kb.length ? kb.map((a) => el("li", {
    dataset: { id: a.id }, title: a.snippet || "", onclick: () => desk.useArticle(a),
  }, a.title, a.unit ? el("span", { class: "muted" }, `(${a.unit})`) : null))
    : [el("li", { class: "muted" }, "无推荐")]));
  desk.setSuggestions(kb);
}

/** The server left out a look-up that did not answer within the pop's 50 ms budget: fetch the
 *  caller's orders, then knowledge-base articles for the latest open one (or the IVR choice). */
async function completePartialPop(msg) {
  const still = () => state.call && state.call.call_id === msg.call_id;
  let orders = msg.orders || [];
  if (msg.caller && !orders.length) {
    try {
      const res = await api("GET", `/api/orders?${new URLSearchParams({ phone: msg.caller, limit: "20" })}`);
      orders = res.items || [];
      if (still()) renderEarlierOrders(orders);
    } catch (e) { toast(`历史工单查询失败:${e.message}`, true); }
  }
  if ((msg.suggestions || []).length || !still()) return;
  const open = openFirst(orders).find((o) => o.open !== false && !["closed", "not_accepted", "merged"].includes(o.state));
  const q = (open && (open.summary || open.topic)) || (msg.ivr && msg.ivr.choice_label) || "";
  if (!q) return;
  try {
    const res = await api("GET", `/api/kb/search?${new URLSearchParams({ q, limit: "5" })}`);
    if (still()) renderSuggestions((res.items || []).map((a) => ({ ...a, unit: a.unit || a.unit_code })));
  } catch { /* suggestions are a help, not a must */ }
}

function showPop(msg) {
  state.call = { ...msg, status: "ringing", poppedAt: Date.now() };
  $("#no-call").classList.add("hidden");
  const pop = $("#pop");
  pop.classList.remove("hidden", "answered");
  $("#pop-caller").textContent = msg.caller || "(未显示号码)";
  $("#pop-status").textContent = "振铃中";
  $("#pop-status").className = "badge ringing";
  $("#pop-dnid").textContent = msg.dnid || "—";
  $("#pop-queue").textContent = msg.queue ? queueName(msg.queue) : "—";
  $("#pop-ivr").textContent = ivrText(msg.ivr);
  $("#pop-lang").textContent = (msg.ivr && msg.ivr.language) || "—";
  $("#pop-wait").textContent = fmtDuration(msg.wait_s);
  $("#pop-call-id").textContent = msg.call_id;
  renderEarlierOrders(msg.orders || []);
  renderSuggestions(msg.suggestions || []);
  if (msg.partial) completePartialPop(msg);
  $("#transcript").replaceChildren();
  desk.prepareForCall(msg);
  // When the pop was on screen (epoch ms): the browser tests compare it with the AMI event.
  document.body.dataset.popAt = String(Date.now());
}

function onAnswered(msg) {
  if (!state.call || state.call.call_id !== msg.call_id) {
    // Answered without a pop seen (e.g. the tab reconnected mid-call): open what we know.
    showPop({ call_id: msg.call_id, caller: msg.caller });
  }
  state.call.status = "answered";
  $("#pop").classList.add("answered");
  $("#pop-status").textContent = `通话中(等待 ${fmtDuration(msg.hold_s)})`;
  $("#pop-status").className = "badge on_call";
  desk.openDraft(msg.call_id, msg.draft || {});
}

const CANCEL_REASONS = { abandoned: "来电人已挂机", answered_elsewhere: "已由其他坐席接听",
  no_answer: "未接听,已转其他坐席" };

function onRingCancelled(msg) {
  if (!state.call || state.call.call_id !== msg.call_id || state.call.status !== "ringing") return;
  toast(`来电 ${state.call.caller || ""} 已取消:${CANCEL_REASONS[msg.reason] || msg.reason}`);
  state.call = null;
  $("#pop").classList.add("hidden");
  $("#no-call").classList.remove("hidden");
  desk.clearCall();
}

function onEnded(msg) {
  if (!state.call || state.call.call_id !== msg.call_id) return;
  state.call.status = "ended";
  const how = msg.disposition === "transferred" ? "已转接" : "已挂机";
  $("#pop-status").textContent = `${how}(通话 ${fmtDuration(msg.talk_s)})`;
  $("#pop-status").className = "badge wrap_up";
  desk.callEnded();
}

function onTranscript(msg) {
  if (!state.call || state.call.call_id !== msg.call_id) return;
  const box = $("#transcript");
  const who = msg.speaker === "agent" ? "坐席" : "市民";
  // A partial line is replaced by the next partial or the final line of the same speaker.
  const partial = box.querySelector(`.partial.${msg.speaker === "agent" ? "agent" : "citizen"}`);
  const line = el("div", { class: `${msg.speaker === "agent" ? "agent" : "citizen"}${msg.final ? "" : " partial"}` },
    `[${fmtDuration(msg.start_s)}] ${who}:${msg.text}`);
  if (partial) partial.replaceWith(line); else box.append(line);
  box.scrollTop = box.scrollHeight;
}

// --- start ------------------------------------------------------------------------------

const desk = new OrderDesk(() => state.call);

async function main() {
  state.user = await requireUser();
  showUser(state.user);
  renderAgentState();
  $("#btn-queue-login").addEventListener("click", () => {
    const one = $("#queue-pick").value;
    const queues = one ? [one] : state.queues;
    if (!queues.length) return toast("没有可签入的队列", true);
    return attempt(() => AGENT_API.queueLogin(queues), "已签入队列");
  });
  $("#btn-queue-logout").addEventListener("click", () => attempt(AGENT_API.queueLogout, "已签出队列"));
  $("#btn-pause").addEventListener("click",
    () => attempt(() => AGENT_API.pause($("#pause-reason").value), "已示忙"));
  $("#btn-unpause").addEventListener("click", () => attempt(AGENT_API.unpause, "已示闲"));
  await attempt(loadAgent);
  const indicator = connIndicator($("#conn"));
  let connects = 0;
  const sock = new HotlineSocket(["agent", "orders"], (up) => {
    indicator(up);
    if (up && ++connects > 1) desk.refreshOpen(); // a reconnect: catch up on missed updates
  });
  sock.on("agent.state", onAgentState)
    .on("call.ringing", showPop)
    .on("call.answered", onAnswered)
    .on("call.ring_cancelled", onRingCancelled)
    .on("call.ended", onEnded)
    .on("transcript.line", onTranscript)
    .on("draft.updated", (m) => desk.mergeDraft(m.call_id, m.draft || {}))
    .on("order.updated", (m) => desk.onOrderUpdated(m))
    .on("error", (m) => toast(`服务器提示:${m.message}`, true));
  window.hotlineSocket = sock; // for diagnostics and the browser tests
  const deskReady = desk.init(); // its form and picker exist before the first message
  sock.connect();
  await deskReady;
  setInterval(tick, 1000);
  setInterval(() => desk.refreshOpen(), OPEN_ORDERS_REFRESH_MS);
  document.body.dataset.ready = "1";
}

main().catch((e) => { if (e.status !== 401) toast(`加载失败:${e.message}`, true); });
