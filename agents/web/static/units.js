// Searchable member-unit picker (GET /api/workflow/units): click = lead unit (承办),
// shift-click or the "协办" checkbox = co-handling unit (协办).
import { api, el } from "./lib.js";

let cache = null;

/** Every member unit (loaded once per page). */
export async function loadUnits() {
  if (!cache) {
    const res = await api("GET", "/api/workflow/units");
    cache = (res.units || []).filter((u) => u.active !== false && u.kind !== "platform");
  }
  return cache;
}

/** Units whose name, short name, code or keywords contain every word of `query`. */
export function filterUnits(units, query) {
  const words = query.trim().toLowerCase().split(/\s+/).filter(Boolean);
  if (!words.length) return units;
  return units.filter((u) => {
    const hay = [u.name, u.short, u.code, ...(u.keywords || [])].join(" ").toLowerCase();
    return words.every((w) => hay.includes(w));
  });
}

export class UnitPicker {
  /** @param {HTMLInputElement} search @param {HTMLElement} list @param {() => void} onChange */
  constructor(search, list, onChange) {
    this.search = search;
    this.list = list;
    this.onChange = onChange;
    this.units = [];
    this.lead = null;
    this.co = [];
    search.addEventListener("input", () => this.render());
  }

  async init() {
    this.units = await loadUnits();
    this.render();
  }

  nameOf(code) {
    const u = this.units.find((x) => x.code === code);
    return u ? u.short || u.name : code;
  }

  pick(code, asCo) {
    if (asCo) {
      if (code !== this.lead && !this.co.includes(code)) this.co.push(code);
    } else {
      this.lead = code;
      this.co = this.co.filter((c) => c !== code);
    }
    this.render();
    this.onChange();
  }

  clear() { this.lead = null; this.co = []; this.render(); this.onChange(); }

  render() {
    const shown = filterUnits(this.units, this.search.value).slice(0, 60);
    this.list.replaceChildren(...shown.map((u) => el("div", {
      class: u.code === this.lead || this.co.includes(u.code) ? "picked" : null,
      dataset: { code: u.code }, title: `${u.name}(${u.code})  工作时间 ${u.working_hours || ""}`,
      onclick: (ev) => this.pick(u.code, ev.shiftKey),
    }, u.short || u.name, " ", el("span", { class: "muted small" }, u.code),
    el("button", {
      type: "button", class: "small co-btn", title: "设为协办单位",
      onclick: (ev) => { ev.stopPropagation(); this.pick(u.code, true); },
    }, "协办"))));
    if (!shown.length) this.list.replaceChildren(el("div", { class: "muted" }, "没有匹配的单位"));
  }
}
