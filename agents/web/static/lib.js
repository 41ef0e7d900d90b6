// Shared helpers of the console pages: the authenticated API client (session cookie plus the
// CSRF token kept in sessionStorage), the login guard, small DOM and formatting helpers.

const CSRF_KEY = "hotline.csrf";

/** An API error with the server's `{"error": {code, message, details}}` shape. */
export class ApiError extends Error {
  constructor(status, body) {
    const e = (body && body.error) || {};
    super(e.message || `HTTP ${status}`);
    this.status = status;
    this.code = e.code || "http_error";
    this.details = e.details;
  }
}

export function csrfToken() { return sessionStorage.getItem(CSRF_KEY) || ""; }
export function setCsrfToken(t) { if (t) sessionStorage.setItem(CSRF_KEY, t); }

/** Go to the login page, coming back here afterwards. */
export function toLogin() {
  const next = location.pathname + location.search;
  location.replace(`/console/login?next=${encodeURIComponent(next)}`);
}

/** Call the API; writes carry X-CSRF-Token; a 401 sends the browser to the login page. */
export async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  const init = { method, headers, credentials: "same-origin" };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  if (method !== "GET") headers["X-CSRF-Token"] = csrfToken();
  const resp = await fetch(path, init);
  let data = null;
  const text = await resp.text();
  if (text) { try { data = JSON.parse(text); } catch { data = { raw: text }; } }
  if (resp.status === 401 && !path.startsWith("/api/auth/login")) { toLogin(); }
  if (!resp.ok) throw new ApiError(resp.status, data);
  return data;
}

/** The logged-in user (GET /api/auth/me), or a redirect to the login page. Refreshes the CSRF
 *  token from the session so a reopened tab can still write. */
export async function requireUser() {
  const me = await api("GET", "/api/auth/me");
  setCsrfToken(me.csrf_token);
  return me.user;
}

export async function logout() {
  try { await api("POST", "/api/auth/logout"); } catch { /* already gone */ }
  sessionStorage.removeItem(CSRF_KEY);
  location.replace("/console/login");
}

/** Build an element: el("td", {class: "x", onclick: f}, "text", child). */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(node.dataset, v);
    else node.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

export const $ = (sel, root = document) => root.querySelector(sel);

let toastTimer = 0;
/** A short message in the corner; errors in red. */
export function toast(msg, isError = false) {
  let t = document.getElementById("toast");
  if (!t) { t = el("div", { id: "toast", role: "status" }); document.body.append(t); }
  t.textContent = msg;
  t.className = `show${isError ? " error" : ""}`;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { t.className = ""; }, isError ? 6000 : 3000);
}

/** Run an async UI action; show its error instead of throwing. */
export async function attempt(fn, okMsg) {
  try {
    const r = await fn();
    if (okMsg) toast(okMsg);
    return r;
  } catch (e) {
    // A 4xx names the offending field in its details; a 5xx from the exchange (502/503/504)
    // already carries Asterisk's reason in its message, its details (action, server) are for
    // the logs, not for the agent.
    const extra = e.details && e.status < 500 ? ` ${JSON.stringify(e.details)}` : "";
    toast(`操作失败:${e.message}${extra}`, true);
    return undefined;
  }
}

export function pad(n) { return String(n).padStart(2, "0"); }

/** 75 → "01:15", 3700 → "1:01:40". */
export function fmtDuration(seconds) {
  const s = Math.max(0, Math.floor(seconds || 0));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  return h ? `${h}:${pad(m)}:${pad(r)}` : `${pad(m)}:${pad(r)}`;
}

/** ISO instant → "11-28 14:05" in the browser's time zone (Asia/Shanghai in the centre). */
export function fmtTime(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return `${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

export const AGENT_STATE_LABELS = {
  logged_out: "未签入", available: "空闲", ringing: "振铃", on_call: "通话中",
  wrap_up: "话后处理", paused: "示忙",
};

export const CATEGORY_LABELS = {
  consultation: "咨询", complaint: "投诉", report: "举报", help: "求助", suggestion: "建议",
};

// 第九条 不予受理 reasons, (一)…(六) (the same labels as workflow/model.py).
export const NOT_ACCEPTED_LABELS = {
  out_of_jurisdiction: "(一) 非常州市行政管辖权范围内的事项",
  legal_procedure: "(二) 已进入或须通过信访、仲裁、复议、诉讼程序的事项",
  secrets_privacy: "(三) 涉及国家秘密、商业秘密、个人隐私的事项",
  insult_or_vague: "(四) 恶意侮辱诽谤或内容不具体、无法办理的事项",
  emergency: "(五) 110、119、120和水上救援等紧急救助事项",
  other: "(六) 其它不予受理事项",
};

/** Redirect target after login, by role. */
export function homeOf(user) {
  if (user.role === "unit_staff") return "/console/unit";
  if (user.role === "supervisor" || user.role === "admin") return "/console/wallboard";
  return "/console/";
}

/** Fill the page header with the user and a logout button. */
export function showUser(user) {
  const who = $("#who");
  if (who) {
    const ext = user.extension ? ` 分机 ${user.extension}` : "";
    const unit = user.unit_code ? ` · ${user.unit_code}` : "";
    who.textContent = `${user.display_name || user.username}(${user.username})${ext}${unit}`;
  }
  const out = $("#logout");
  if (out) out.addEventListener("click", logout);
}

export const ORDER_STATE_LABELS = {
  intake: "待处置", not_accepted: "不予受理", dispatched: "待签收", handling: "办理中",
  returned: "已退回待重派", replied: "待答复认定", callback: "待回访", reopened: "核实整改",
  closed: "已办结", merged: "已合并",
};

// Queues of asterisk-config/queues.conf by their Chinese names.
export const QUEUE_LABELS = {
  "hotline-general": "综合", "hotline-consult": "咨询", "hotline-complaint": "投诉",
  "hotline-report": "举报", "hotline-help": "求助", "hotline-suggest": "建议",
  "hotline-bizenv": "营商环境专席",
};

export function queueName(q) { return QUEUE_LABELS[q] ? `${QUEUE_LABELS[q]}(${q})` : q; }

export const FINAL_ORDER_STATES = new Set(["not_accepted", "closed", "merged"]);

const ASSIGNMENT_LABELS = {
  signed: "已签收", dispatched: "待签收", pending: "待签收", unsigned: "待签收",
  handling: "办理中", replied: "已答复", returned: "已退回",
};

/** "A 已签收, B 待签收" from an order's `assignments` (REST) or `units` (order.updated). */
export function unitsText(order, nameOf = (code) => code) {
  if (Array.isArray(order.units)) {
    return order.units.map((u) =>
      `${nameOf(u.unit_code)} ${ASSIGNMENT_LABELS[u.state] || u.state || ""}`).join(",") || "—";
  }
  return (order.assignments || []).map((a) =>
    `${nameOf(a.unit)}${a.role === "lead" ? "(主)" : ""} ${a.signed_at ? "已签收" : "待签收"}`)
    .join(",") || "—";
}

/** A server instant (epoch seconds, epoch ms or ISO 8601) → epoch ms. */
export function instantMs(v) {
  if (typeof v === "number") return v < 1e12 ? v * 1000 : v;
  const t = Date.parse(v || "");
  return Number.isNaN(t) ? null : t;
}

/** When a state began, on this browser's clock: the server's `since` shifted by the gap between
 *  the server's `ts` and now, so a skewed PC clock does not distort "time in state". */
export function localSince(since, ts) {
  const s = instantMs(since);
  if (s === null) return Date.now();
  const serverNow = instantMs(ts);
  return serverNow === null ? s : Date.now() - Math.max(0, serverNow - s);
}
