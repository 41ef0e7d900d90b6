// REST routes of the agents backend (agents/http.py) used by the console and the wallboard,
// in one table so a renamed route is a one-line change.
import { api } from "./lib.js";

/** Body naming a transfer / three-way target: a member unit (its on-duty number, 第十三条) or
 *  an internal extension. */
function target(t) { return t.unit_code ? { unit_code: t.unit_code } : { exten: t.exten }; }

export const AGENT_API = {
  me: () => api("GET", "/api/agents/me"),
  queueStats: () => api("GET", "/api/queues/stats"),
  queueLogin: (queues) => api("POST", "/api/agents/me/login", { queues }),
  queueLogout: () => api("POST", "/api/agents/me/logout", {}),
  pause: (reason) => api("POST", "/api/agents/me/pause", { paused: true, reason }),
  unpause: () => api("POST", "/api/agents/me/pause", { paused: false }),
  // Call control of the agent's current call (第十一条(二) 三方通话).
  blindTransfer: (t) => api("POST", "/api/agents/me/call/blind-transfer", target(t)),
  attendedTransfer: (t) => api("POST", "/api/agents/me/call/attended-transfer", target(t)),
  attendedCancel: () => api("POST", "/api/agents/me/call/attended-transfer/cancel"),
  attendedComplete: () => api("POST", "/api/agents/me/call/attended-transfer/complete"),
  threeWay: (t) => api("POST", "/api/agents/me/call/three-way", target(t)),
  leave: () => api("POST", "/api/agents/me/call/leave"),
  // Supervisor: listen / whisper / barge on an agent's call.
  monitor: (agentId, mode) => api("POST", `/api/agents/${Number(agentId)}/monitor`, { mode }),
};
