// The agent's work-order desk: the draft form (prefilled on answer, filled from the transcript),
// registering the order linked to the call, its disposition (派发 / 直接解答 / 不予受理 /
// 三方通话), call control with a picked member unit, and the orders of this shift.
import {
  CATEGORY_LABELS, FINAL_ORDER_STATES, NOT_ACCEPTED_LABELS, ORDER_STATE_LABELS, $, api, attempt, el, toast, unitsText,
} from "./lib.js";
import { AGENT_API } from "./agentapi.js";
import { UnitPicker } from "./units.js";

const MY_ORDERS_KEY = "hotline.myorders";
const FIELDS = {
  category: "#f-category", topic: "#f-topic", name: "#f-name", phone: "#f-phone",
  address: "#f-address", district: "#f-district", content: "#f-content",
};

/** The IVR's matter type (its menu label, e.g. "投诉") → the order category. */
const CATEGORY_BY_LABEL = Object.fromEntries(Object.entries(CATEGORY_LABELS).map(([k, v]) => [v, k]));

/** Value of a draft field whatever name the drafting side used for it. */
function draftValue(draft, key) {
  const cit = draft.citizen || {};
  switch (key) {
    case "category": return CATEGORY_LABELS[draft.category] ? draft.category
      : CATEGORY_BY_LABEL[draft.matter_type];
    case "topic": return draft.topic || draft.summary;
    case "name": return draft.citizen_name || cit.name;
    case "phone": return draft.citizen_phone || draft.caller_phone || draft.phone || draft.caller
      || cit.phone;
    case "content": return draft.content || draft.text;
    default: return draft[key];
  }
}

export class OrderDesk {
  constructor(getCall) {
    this.getCall = getCall;
    this.callId = null;
    this.order = null; // the order registered for the current call: {number, version, state}
    this.suggestions = [];
    this.mine = new Map(); // number -> row data
  }

  async init() {
    this.picker = new UnitPicker($("#unit-search"), $("#unit-list"), () => this.renderPick());
    for (const sel of Object.values(FIELDS)) {
      for (const kind of ["input", "change"]) {
        $(sel).addEventListener(kind, (ev) => { ev.target.dataset.dirty = "1"; });
      }
    }
    for (const r of document.querySelectorAll("input[name=disp]")) {
      r.addEventListener("change", () => this.renderDisposition());
    }
    $("#na-reason").replaceChildren(...Object.entries(NOT_ACCEPTED_LABELS)
      .map(([v, l]) => el("option", { value: v }, l)));
    $("#btn-create").addEventListener("click", () => this.createOrder());
    $("#btn-kb-search").addEventListener("click", () => this.searchKb());
    $("#kb-query").addEventListener("keydown", (ev) => { if (ev.key === "Enter") this.searchKb(); });
    $("#btn-dispose").addEventListener("click", () => this.dispose());
    $("#btn-clear-units").addEventListener("click", () => this.picker.clear());
    $("#kb-article").addEventListener("change", () => {
      const a = this.suggestions.find((x) => String(x.id) === $("#kb-article").value);
      if (a && !$("#direct-answer").value) $("#direct-answer").value = a.snippet || a.title;
    });
    $("#btn-blind").addEventListener("click",
      () => this.withTarget((t) => AGENT_API.blindTransfer(t), "已转接"));
    $("#btn-attended").addEventListener("click",
      () => this.withTarget((t) => AGENT_API.attendedTransfer(t), "正在咨询转接,来电人等待中"));
    $("#btn-att-complete").addEventListener("click",
      () => attempt(AGENT_API.attendedComplete, "转接完成"));
    $("#btn-att-cancel").addEventListener("click",
      () => attempt(AGENT_API.attendedCancel, "已取消转接,回到来电人"));
    // 第十一条(二): 三方通话 with the unit; the agent may leave, citizen and unit stay.
    $("#btn-threeway").addEventListener("click",
      () => this.withTarget((t) => AGENT_API.threeWay(t), "正在接通三方通话"));
    $("#btn-hangup-mine").addEventListener("click",
      () => attempt(AGENT_API.leave, "已退出通话,来电人与单位继续通话"));
    this.renderDisposition();
    this.renderCallButtons();
    await Promise.all([attempt(() => this.picker.init()), this.loadMine()]);
  }

  // --- the call ---------------------------------------------------------------------------

  activeCallId() {
    const c = this.getCall();
    return c && c.status === "answered" ? c.call_id : null;
  }

  renderCallButtons() {
    const live = Boolean(this.activeCallId());
    for (const id of ["#btn-blind", "#btn-attended", "#btn-threeway", "#btn-hangup-mine",
      "#btn-att-complete", "#btn-att-cancel"]) {
      $(id).disabled = !live;
    }
  }

  /** Run a call-control request against the typed extension, else the picked member unit. */
  withTarget(fn, okMsg) {
    if (!this.activeCallId()) return toast("当前没有通话", true);
    const exten = $("#exten").value.trim();
    if (!exten && !this.picker.lead) return toast("请先选择成员单位或输入分机号", true);
    const t = exten ? { exten } : { unit_code: this.picker.lead };
    return attempt(() => fn(t), okMsg);
  }

  setSuggestions(kb) {
    this.suggestions = kb;
    $("#kb-article").replaceChildren(el("option", { value: "" }, "(选择知识条目)"),
      ...kb.map((a) => el("option", { value: a.id }, a.title)));
  }

  /** Published, currently valid articles matching the agent's words (GET /api/kb/search). */
  async searchKb() {
    const q = $("#kb-query").value.trim();
    if (!q) return;
    const res = await attempt(() => api("GET", `/api/kb/search?${new URLSearchParams({ q })}`));
    if (!res) return;
    const items = (res.items || []).map((a) => ({ ...a, unit: a.unit || a.unit_code }));
    this.setSuggestions(items);
    if (items.length) {
      $("#kb-article").value = String(items[0].id);
      $("#kb-article").dispatchEvent(new Event("change"));
    } else {
      toast("知识库中没有匹配的条目", true);
    }
  }

  useArticle(a) {
    document.querySelector("input[name=disp][value=direct_answer]").checked = true;
    this.renderDisposition();
    $("#kb-article").value = String(a.id);
    $("#direct-answer").value = a.snippet || a.title;
  }

  /** A new call rings: a clean form with the caller's number. */
  prepareForCall(msg) {
    this.callId = msg.call_id;
    this.order = null;
    for (const sel of Object.values(FIELDS)) { $(sel).value = ""; delete $(sel).dataset.dirty; }
    $("#f-category").value = "consultation";
    $("#f-phone").value = msg.caller || "";
    $("#draft-call").textContent = `来电 ${msg.caller || ""}`;
    $("#draft-order").textContent = "";
    this.renderCallButtons();
    this.renderDisposition();
  }

  /** On answer: the draft order prefilled from the IVR choice and the caller. */
  openDraft(callId, draft) {
    this.callId = callId;
    this.fill(draft);
    $("#draft-call").textContent = `通话 ${callId}`;
    this.renderCallButtons();
    $("#f-content").focus();
  }

  /** `draft.updated` from the transcript: fills only fields the agent has not typed in. */
  mergeDraft(callId, draft) {
    if (callId !== this.callId || this.order) return;
    this.fill(draft);
  }

  /** Put the draft's fields in the form, except those the agent has typed in. */
  fill(draft) {
    for (const [key, sel] of Object.entries(FIELDS)) {
      const v = draftValue(draft, key);
      const node = $(sel);
      if (v === undefined || v === null || v === "" || node.dataset.dirty) continue;
      node.value = String(v);
    }
    if (draft.urgent !== undefined) $("#f-urgent").checked = Boolean(draft.urgent);
    const unit = draft.suggested_unit || (draft.suggested_units || [])[0];
    if (unit && !this.picker.lead) this.picker.pick(typeof unit === "string" ? unit : unit.code);
  }

  clearCall() { this.callId = null; this.renderCallButtons(); $("#draft-call").textContent = ""; }

  callEnded() { this.renderCallButtons(); }

  // --- the order --------------------------------------------------------------------------

  async createOrder() {
    const content = $("#f-content").value.trim();
    if (!content) return toast("请填写诉求内容", true);
    const body = {
      channel: "phone", category: $("#f-category").value, content,
      urgent: $("#f-urgent").checked,
      citizen: { name: $("#f-name").value.trim() || null, phone: $("#f-phone").value.trim() || null,
        confidential: $("#f-confidential").checked },
    };
    for (const k of ["topic", "address", "district"]) {
      const v = $(FIELDS[k]).value.trim();
      if (v) body[k] = v;
    }
    if (this.callId) body.call_id = this.callId; // the order is linked to the call
    $("#btn-create").disabled = true;
    $("#draft-order").textContent = "";
    const o = await attempt(() => api("POST", "/api/orders", body));
    if (!o) { this.renderDisposition(); return undefined; }
    this.order = { number: o.number, version: o.version, state: o.state };
    $("#draft-order").textContent = `已登记工单 ${o.number}`;
    this.remember(o);
    this.renderDisposition();
    toast(`工单 ${o.number} 已登记`);
    return o;
  }

  disposition() { return document.querySelector("input[name=disp]:checked").value; }

  renderPick() {
    $("#pick-lead").textContent = this.picker.lead ? this.picker.nameOf(this.picker.lead) : "未选";
    $("#pick-co").textContent = this.picker.co.map((c) => this.picker.nameOf(c)).join("、") || "无";
    this.renderDisposition();
  }

  renderDisposition() {
    const d = this.disposition();
    $("#disp-direct").classList.toggle("hidden", d !== "direct_answer");
    $("#disp-notaccept").classList.toggle("hidden", d !== "not_accept");
    const needsUnit = d === "dispatch" || d === "three_way_call";
    const pending = Boolean(this.order && this.order.state === "intake");
    $("#btn-dispose").disabled = !(pending && (!needsUnit || this.picker.lead));
    // One order at a time: the registered one is disposed of before the next is registered.
    $("#btn-create").disabled = pending;
  }

  async dispose() {
    if (!this.order) return;
    const d = this.disposition();
    const body = { version: this.order.version };
    if (d === "dispatch") {
      body.lead = this.picker.lead;
      if (this.picker.co.length) body.co_units = this.picker.co;
    } else if (d === "direct_answer") {
      // 第十二条: a direct answer cites a published knowledge-base article.
      const aid = $("#kb-article").value;
      if (!aid) return toast("直接解答须引用知识库条目", true);
      body.answer = $("#direct-answer").value.trim();
      body.kb_article_id = Number(aid);
    } else if (d === "not_accept") {
      // 第十条: the citizen is told why and where to go instead.
      if (!$("#na-guidance").value.trim()) return toast("请填写告知来电人的引导意见", true);
      body.reason = $("#na-reason").value;
      body.guidance = $("#na-guidance").value.trim();
    } else if (d === "three_way_call") {
      body.unit = this.picker.lead;
      body.summary = $("#f-content").value.trim().slice(0, 500);
    }
    const num = encodeURIComponent(this.order.number);
    const o = await attempt(() => api("POST", `/api/orders/${num}/${d}`, body));
    if (!o) { await this.refreshOpen(); return; } // e.g. a 409: take the current version
    this.order = { number: o.number, version: o.version, state: o.state };
    this.remember(o);
    this.renderDisposition();
    toast(`工单 ${o.number}:${o.state_label || ORDER_STATE_LABELS[o.state]}`);
  }

  // --- orders of this shift ---------------------------------------------------------------

  remember(o) {
    this.mine.set(o.number, o);
    const keep = [...this.mine.keys()].slice(-30);
    sessionStorage.setItem(MY_ORDERS_KEY, JSON.stringify(keep));
    this.renderMine();
  }

  async loadMine() {
    let numbers = [];
    try { numbers = JSON.parse(sessionStorage.getItem(MY_ORDERS_KEY) || "[]"); } catch { /* */ }
    const got = await Promise.all(numbers.map((n) =>
      api("GET", `/api/orders/${encodeURIComponent(n)}`).catch(() => null)));
    for (const o of got) if (o) this.mine.set(o.number, o);
    this.renderMine();
  }

  /** Re-read the open orders of this shift (after a reconnect: `order.updated` messages sent
   *  while the socket was down are lost). */
  async refreshOpen() {
    const open = [...this.mine.values()].filter((o) => !FINAL_ORDER_STATES.has(o.state));
    const got = await Promise.all(open.map((o) =>
      api("GET", `/api/orders/${encodeURIComponent(o.number)}`).catch(() => null)));
    for (const o of got) {
      if (!o) continue;
      const cur = this.mine.get(o.number);
      if (cur && cur.version && o.version < cur.version) continue;
      this.mine.set(o.number, o);
      if (this.order && this.order.number === o.number) {
        this.order = { number: o.number, version: o.version, state: o.state };
        this.renderDisposition();
      }
    }
    this.renderMine();
  }

  onOrderUpdated(m) {
    const cur = this.mine.get(m.order_no);
    if (!cur) return;
    if (cur.version && m.version && m.version < cur.version) return; // stale
    this.mine.set(m.order_no, { ...cur, state: m.state, version: m.version, units: m.units,
      state_label: null });
    if (this.order && this.order.number === m.order_no) {
      this.order = { ...this.order, state: m.state, version: m.version };
      this.renderDisposition();
    }
    this.renderMine();
  }

  /** Pick an order of this shift still waiting for its disposition (e.g. after the next call
   *  rang before it was disposed of). */
  resume(o) {
    if (o.state !== "intake") return;
    this.order = { number: o.number, version: o.version, state: o.state };
    $("#draft-order").textContent = `当前工单 ${o.number}`;
    this.renderDisposition();
  }

  renderMine() {
    const rows = [...this.mine.values()].reverse().map((o) => el("tr", {
      dataset: { number: o.number, state: o.state },
      class: o.state === "intake" ? "clickable" : null,
      title: o.state === "intake" ? "点击继续处置该工单" : null,
      onclick: () => this.resume(o),
    },
      el("td", {}, o.number),
      el("td", { class: "order-state" }, o.state_label || ORDER_STATE_LABELS[o.state] || o.state),
      el("td", { class: "order-units" }, unitsText(o, (c) => this.picker.nameOf(c)))));
    $("#my-orders tbody").replaceChildren(...rows);
  }
}
