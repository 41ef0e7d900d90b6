// Login page: POST /api/auth/login sets the session cookie; the CSRF token it returns is kept
// in sessionStorage for the writes of this tab.
import { api, homeOf, setCsrfToken, $ } from "./lib.js";

/** Only our own console pages are valid `next` targets (no open redirect). */
function safeNext() {
  const next = new URLSearchParams(location.search).get("next") || "";
  return /^\/console(\/[\w\-/]*)?(\?[\w=&%-]*)?$/.test(next) && !next.startsWith("/console/login")
    ? next : null;
}

$("#login-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const err = $("#login-error");
  err.textContent = "";
  $("#login-submit").disabled = true;
  try {
    const res = await api("POST", "/api/auth/login", {
      username: $("#username").value.trim(), password: $("#password").value,
    });
    setCsrfToken(res.csrf_token);
    location.replace(safeNext() || homeOf(res.user));
  } catch (e) {
    err.textContent = e.status === 401 || e.status === 400
      ? "用户名或密码错误" : e.status === 429 ? "尝试次数过多,请稍后再试" : `登录失败:${e.message}`;
  } finally {
    $("#login-submit").disabled = false;
  }
});
$("#username").focus();
