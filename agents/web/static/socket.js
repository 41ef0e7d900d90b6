// The console's WebSocket client (docs/websocket.md): one socket per tab on /api/ws,
// authenticated by the session cookie; reconnects with exponential back-off (1 s doubling to
// 30 s) and re-subscribes. The server re-sends the current agent state (and a still-ringing
// call) after a reconnect, so nothing depends on messages missed while disconnected.

import { toLogin } from "./lib.js";

const MIN_DELAY_MS = 1000;
const MAX_DELAY_MS = 30000;
const PING_EVERY_MS = 25000;
// The back-off restarts from 1 s only once a connection has stayed up this long, so a server
// that accepts and drops at once (overloaded, restarting) is not hammered every second.
const STABLE_AFTER_MS = 5000;

export class HotlineSocket {
  /**
   * @param {string[]} topics what this tab wants (`agent`, `wallboard`, `orders`)
   * @param {(connected: boolean) => void} onStatus called when the connection goes up / down
   */
  constructor(topics, onStatus = () => {}) {
    this.topics = topics;
    this.onStatus = onStatus;
    this.handlers = new Map();
    this.delay = MIN_DELAY_MS;
    this.ws = null;
    this.closed = false;
    this.pingId = 0;
    this.pingTimer = 0;
    this.retryTimer = 0;
    this.stableTimer = 0;
    this.connects = 0;
  }

  /** Handle server messages of `type` ("*" for all). */
  on(type, fn) {
    if (!this.handlers.has(type)) this.handlers.set(type, []);
    this.handlers.get(type).push(fn);
    return this;
  }

  connect() {
    this.closed = false;
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const ws = new WebSocket(`${scheme}://${location.host}/api/ws`);
    this.ws = ws;
    let opened = false;
    ws.addEventListener("open", () => {
      opened = true;
      this.connects += 1;
      clearTimeout(this.stableTimer);
      this.stableTimer = setTimeout(() => { this.delay = MIN_DELAY_MS; }, STABLE_AFTER_MS);
      this.send({ type: "subscribe", topics: this.topics });
      clearInterval(this.pingTimer);
      this.pingTimer = setInterval(() => this.send({ type: "ping", id: ++this.pingId }),
        PING_EVERY_MS);
      this.onStatus(true);
    });
    ws.addEventListener("message", (ev) => {
      let msg;
      try { msg = JSON.parse(ev.data); } catch { return; }
      if (!msg || typeof msg.type !== "string") return;
      for (const key of [msg.type, "*"]) {
        for (const fn of this.handlers.get(key) || []) {
          try { fn(msg); } catch (e) { console.error("handler of", msg.type, e); }
        }
      }
    });
    ws.addEventListener("close", () => {
      clearInterval(this.pingTimer);
      clearTimeout(this.stableTimer);
      if (this.ws !== ws) return;
      this.onStatus(false);
      if (this.closed) return;
      if (!opened) {
        // A refused upgrade looks like any network error; if the session is gone the login
        // page is the answer, not a reconnect loop.
        fetch("/api/auth/me", { credentials: "same-origin" })
          .then((r) => { if (r.status === 401) { this.closed = true; toLogin(); } })
          .catch(() => {});
      }
      this.scheduleReconnect();
    });
    // A refused upgrade (e.g. 401) only shows as an error followed by close.
    ws.addEventListener("error", () => {});
  }

  scheduleReconnect() {
    clearTimeout(this.retryTimer);
    // Jitter (±20 %) so a hundred tabs do not reconnect in the same millisecond after a restart.
    const wait = this.delay * (0.8 + Math.random() * 0.4);
    this.lastWait = wait;
    this.retryTimer = setTimeout(() => this.connect(), wait);
    this.delay = Math.min(this.delay * 2, MAX_DELAY_MS);
  }

  send(msg) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) {
      this.ws.send(JSON.stringify(msg));
      return true;
    }
    return false;
  }

  close() {
    this.closed = true;
    clearTimeout(this.retryTimer);
    clearInterval(this.pingTimer);
    if (this.ws) this.ws.close();
  }
}

/** Show the connection state in an element (`.conn`, red when down). */
export function connIndicator(node) {
  return (up) => {
    if (!node) return;
    node.textContent = up ? "实时连接正常" : "连接中断,正在重连…";
    node.classList.toggle("down", !up);
  };
}
