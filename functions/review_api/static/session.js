// skillforge static app: the sign-in and API session shared by the review page and the dashboard.
// A page sets `session.onSignedIn` (start the page) and `session.onSignedOut(reason)` (show the login),
// then calls `session.init()`. The token (local token or Cognito id token) lives in sessionStorage.
"use strict";

const TOKEN_KEY = "skillforge-review-token";
const $ = (id) => document.getElementById(id);

const session = {
  token: null,
  onSignedIn: () => {},
  onSignedOut: () => {},

  signOut(reason) {
    sessionStorage.removeItem(TOKEN_KEY);
    session.token = null;
    session.onSignedOut(reason);
  },

  // fetch with the bearer token; a 401/403 signs out and throws "refused"
  async request(path, options = {}) {
    const headers = Object.assign({}, options.headers || {});
    if (session.token) headers["Authorization"] = "Bearer " + session.token;
    const response = await fetch(path, Object.assign({}, options, { headers }));
    if (response.status === 401 || response.status === 403) {
      const body = await response.json().catch(() => ({}));
      session.signOut(body.error || "refused");
      throw new Error("refused");
    }
    return response;
  },

  async json(path, options = {}) {
    const response = await session.request(path, options);
    const body = await response.json();
    if (!response.ok) throw new Error(body.error || response.statusText);
    return body;
  },

  async init() {
    const params = new URLSearchParams(window.location.hash.slice(1));
    const idToken = params.get("id_token");
    if (idToken) {
      sessionStorage.setItem(TOKEN_KEY, idToken);
      history.replaceState(null, "", window.location.pathname);
    }
    $("login-form").addEventListener("submit", (event) => {
      event.preventDefault();
      session.token = $("token").value.trim();
      sessionStorage.setItem(TOKEN_KEY, session.token);
      session.onSignedIn();
    });
    const config = await fetch("config.json").then((r) => r.json()).catch(() => ({}));
    if (config.login_url) {
      $("cognito").hidden = false;
      $("cognito-link").href = config.login_url;
    }
    session.token = sessionStorage.getItem(TOKEN_KEY);
    if (session.token) session.onSignedIn(); else session.signOut("");
  },
};
