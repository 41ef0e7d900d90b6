// Member-unit workspace: the unit's orders (the API only returns this unit's; others are 404),
// overdue first, then urgent, then the nearest deadline; sign for, reply, request a return
// (第十一条(四)) or an extension, and the timeline. Live through `order.updated`.
import {
  CATEGORY_LABELS, FINAL_ORDER_STATES, ORDER_STATE_LABELS, $, api, attempt, el, fmtTime,
  requireUser, showUser, toast, unitsText,
} from "./lib.js";
import { HotlineSocket, connIndicator } from "./socket.js";
import { loadUnits } from "./units.js";

let user = null;
let orders = new Map(); // number -> order
let selected = null;
let unitNames = new Map(); // code -> short name

function unitName(code) { return unitNames.get(code) || code; }

const EVENT_LABELS = {
  created: "登记", dispatched: "派发", signed: "签收", replied: "答复", call_attached: "关联通话",
  return_requested: "申请退回", return_approved: "同意退回", return_rejected: "不同意退回",
  repeatedly_returned: "多次退回", extension_requested: "申请延时", extension_approved: "同意延时",
  extension_rejected: "不同意延时", reply_accepted: "答复认定", reply_sent_back: "答复退回重办",
  reply_overdue: "答复超期", sign_overdue: "签收超期", reminded: "催办", supervised: "督办",
  coordinated: "专题协调", escalated: "升级督办", notice_recorded: "约谈/通报", reopened: "核实整改",
  closed: "办结", evaluated: "评价", not_accepted: "不予受理", direct_answer: "直接解答",
  three_way_call: "三方通话办结", merged: "合并", linked: "关联工单",
};

/** This unit's assignment of the order. */
function mine(o) { return (o.assignments || []).find((a) => a.unit === user.unit_code); }

/** The deadline that matters to the unit now: sign-for until signed, then the reply limit. */
function deadline(o) {
  const a = mine(o);
  if (a && !a.signed_at) return a.sign_due;
  return o.reply_due || (a && a.sign_due) || null;
}

function isOverdue(o) {
  if (FINAL_ORDER_STATES.has(o.state)) return false;
  const a = mine(o);
  const d = deadline(o);
  return Boolean(o.reply_overdue || (a && a.sign_overdue) || (d && Date.parse(d) < Date.now()));
}

/** Overdue first, then urgent, then the nearest deadline, then the oldest. */
export function byUrgency(a, b) {
  const k = (o) => [isOverdue(o) ? 0 : 1, o.urgent ? 0 : 1,
    deadline(o) ? Date.parse(deadline(o)) : Infinity, Date.parse(o.created_at || 0)];
  const x = k(a), y = k(b);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return x[i] < y[i] ? -1 : 1;
  return 0;
}

async function load() {
  const all = $("#show-all").checked;
  const states = all ? "" : Object.keys(ORDER_STATE_LABELS)
    .filter((s) => !FINAL_ORDER_STATES.has(s)).join(",");
  const got = new Map();
  let cursor = null;
  for (let page = 0; page < 5; page++) { // at most 1000 orders on screen
    const qs = new URLSearchParams({ limit: "200" });
    if (states) qs.set("state", states);
    if (cursor) qs.set("cursor", cursor);
    const res = await api("GET", `/api/orders?${qs}`);
    for (const o of res.items || []) got.set(o.number, o);
    cursor = res.next_cursor;
    if (!cursor) break;
  }
  orders = got;
  render();
  if (selected && orders.has(selected)) await showDetail(selected);
}

function render() {
  const list = [...orders.values()].sort(byUrgency);
  $("#count").textContent = `共 ${list.length} 件`;
  $("#orders tbody").replaceChildren(...list.map((o) => el("tr", {
    class: `clickable${o.number === selected ? " selected" : ""}`,
    dataset: { number: o.number, state: o.state }, onclick: () => showDetail(o.number),
  },
  el("td", {}, o.number),
  el("td", { class: "order-state" }, o.state_label || ORDER_STATE_LABELS[o.state] || o.state),
  el("td", {}, o.category_label || CATEGORY_LABELS[o.category] || o.category),
  el("td", {}, o.topic || (o.content || "").slice(0, 24)),
  el("td", {}, fmtTime(deadline(o))),
  el("td", {}, isOverdue(o) ? el("span", { class: "badge overdue" }, "超期") : null,
    o.urgent ? el("span", { class: "badge urgent" }, "紧急") : null))));
}

async function showDetail(number) {
  selected = number;
  const n = encodeURIComponent(number);
  const [o, tl] = await Promise.all([api("GET", `/api/orders/${n}`),
    api("GET", `/api/orders/${n}/timeline`)]);
  orders.set(o.number, o);
  render();
  $("#detail-empty").classList.add("hidden");
  $("#detail-body").classList.remove("hidden");
  $("#d-title").textContent = `工单 ${o.number}${o.topic ? ` · ${o.topic}` : ""}`;
  $("#d-state").textContent = o.state_label || ORDER_STATE_LABELS[o.state];
  $("#d-category").textContent = o.category_label || CATEGORY_LABELS[o.category];
  const c = o.citizen || {};
  $("#d-citizen").textContent = [c.name, c.phone].filter(Boolean).join(" ") || "—";
  $("#d-address").textContent = [o.district, o.address].filter(Boolean).join(" ") || "—";
  $("#d-units").textContent = unitsText(o, unitName);
  const a = mine(o);
  $("#d-sign-due").textContent = fmtTime(a && a.sign_due);
  $("#d-reply-due").textContent = fmtTime(o.reply_due);
  $("#d-content").textContent = o.content || "";
  $("#btn-sign").disabled = !(a && !a.signed_at && o.state !== "closed");
  const lead = a && a.role === "lead";
  $("#btn-reply").disabled = !(lead && ["handling", "reopened"].includes(o.state));
  $("#btn-return").disabled = !(lead && ["dispatched", "handling"].includes(o.state)) || Boolean(o.pending);
  $("#btn-extend").disabled = !(lead && o.state === "handling") || Boolean(o.pending);
  $("#d-timeline").replaceChildren(...(tl.events || []).map((e) => el("li", {},
    el("b", {}, EVENT_LABELS[e.kind] || e.kind), " ", fmtTime(e.at), " ",
    el("span", { class: "muted" }, [e.actor && e.actor.name, e.actor && e.actor.unit]
      .filter(Boolean).join(" · ")),
    e.from_state !== e.to_state
      ? ` ${ORDER_STATE_LABELS[e.from_state] || e.from_state} → ${ORDER_STATE_LABELS[e.to_state] || e.to_state}` : "",
    e.data && (e.data.text || e.data.reason || e.data.basis || e.data.note)
      ? el("div", { class: "small" }, e.data.text || e.data.reason || e.data.basis || e.data.note) : null)));
}

/** Send an action with the version last seen (a stale one is a 409: reload and retry);
 *  on success the inputs that fed it are cleared. */
async function act(kind, body, okMsg, inputs = []) {
  const o = orders.get(selected);
  if (!o) return;
  const res = await attempt(() => api("POST", `/api/orders/${encodeURIComponent(o.number)}/${kind}`,
    { ...body, version: o.version }), okMsg);
  if (res) {
    for (const id of inputs) $(id).value = "";
  }
  await showDetail(o.number); // on a 409 too: show what changed meanwhile
}

function bind() {
  $("#show-all").addEventListener("change", () => attempt(load));
  $("#btn-refresh").addEventListener("click", () => attempt(load));
  $("#btn-sign").addEventListener("click", () => act("sign", {}, "已签收"));
  $("#btn-reply").addEventListener("click", () => {
    const text = $("#reply-text").value.trim();
    if (!text) return toast("请填写答复意见", true);
    return act("reply", { text }, "答复已提交", ["#reply-text"]);
  });
  $("#btn-return").addEventListener("click", () => {
    const basis = $("#return-basis").value.trim();
    if (!basis) return toast("申请退回须写明依据(第十一条(四))", true);
    return act("request_return", { basis, suggestion: $("#return-suggestion").value.trim() },
      "已申请退回", ["#return-basis", "#return-suggestion"]);
  });
  $("#btn-extend").addEventListener("click", () => {
    const reason = $("#ext-reason").value.trim();
    if (!reason) return toast("请填写延时理由", true);
    const due = $("#ext-due").value;
    const body = { reason };
    if (due) body.requested_due = new Date(due).toISOString();
    return act("request_extension", body, "已申请延时", ["#ext-reason", "#ext-due"]);
  });
}

async function onOrderUpdated(m) {
  // The server only sends this unit's orders; fetch the full view (masked for units).
  try {
    const o = await api("GET", `/api/orders/${encodeURIComponent(m.order_no)}`);
    orders.set(o.number, o);
    render();
    if (selected === o.number) await showDetail(o.number);
  } catch (e) {
    if (e.status === 404) { orders.delete(m.order_no); render(); }
  }
}

async function main() {
  user = await requireUser();
  showUser(user);
  try {
    unitNames = new Map((await loadUnits()).map((u) => [u.code, u.short || u.name]));
  } catch { /* codes instead of names */ }
  $("#unit-name").textContent = user.unit_code ? `单位:${unitName(user.unit_code)}` : "";
  bind();
  await load();
  const sock = new HotlineSocket(["orders"], connIndicator($("#conn")));
  sock.on("order.updated", onOrderUpdated)
    .on("error", (m) => toast(`服务器提示:${m.message}`, true));
  window.hotlineSocket = sock;
  sock.connect();
  // Deadlines pass while the page is open: re-sort every minute.
  setInterval(render, 60000);
  document.body.dataset.ready = "1";
}

main().catch((e) => { if (e.status !== 401) toast(`加载失败:${e.message}`, true); });
