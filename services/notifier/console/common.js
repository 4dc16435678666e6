// What the workspace's scripts share: where the APIs are, the words, DOM builders, and requests
// with the agent's token. Server text only ever enters the page as text (textContent).
"use strict";

window.Helpdesk = (() => {
  // The page is `<root>/console`, where <root> is the notifier's own root when it is served
  // directly and `/notifier/` behind the gateway; the other services sit beside it there.
  const NOTIFIER = new URL(".", window.location.href);
  const GATEWAY = new URL("../", NOTIFIER);
  const TOKEN_KEY = "helpdesk.console.token";
  const LANGUAGE_KEY = "helpdesk.console.language";
  const WORDS = window.HelpdeskWords || { en: {} };
  const RTL = new Set(["fa", "ar", "he", "ur"]);

  const state = { token: null, person: null, language: "en" };
  const hooks = new Map(); // name -> [listener]

  const $ = (id) => document.getElementById(id);

  class Refused extends Error {}

  class Answered extends Error {
    constructor(status, detail, where) {
      super(detail || `${where} answered HTTP ${status}`);
      this.status = status;
      this.detail = detail;
    }
  }

  // ---- words --------------------------------------------------------------------------------

  function t(key, values) {
    const table = WORDS[state.language] || WORDS.en;
    let text = table[key] !== undefined ? table[key] : WORDS.en[key] !== undefined ? WORDS.en[key] : key;
    for (const [name, value] of Object.entries(values || {})) text = text.split(`{${name}}`).join(String(value));
    return text;
  }

  // The agent's own choice on this browser, else the directory's, else the browser's, else English.
  function chooseLanguage(person) {
    const wanted = [localStorage.getItem(LANGUAGE_KEY), person && person.language, navigator.language, "en"];
    for (const code of wanted) {
      const base = code ? String(code).toLowerCase().split("-")[0] : null;
      if (base && WORDS[base]) return base;
    }
    return "en";
  }

  function applyLanguage(language) {
    state.language = language;
    const root = document.documentElement;
    root.lang = language;
    root.dir = RTL.has(language) ? "rtl" : "ltr";
    for (const node of document.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
    for (const node of document.querySelectorAll("[data-i18n-placeholder]")) {
      node.setAttribute("placeholder", t(node.dataset.i18nPlaceholder));
    }
    document.title = t("title");
    const picker = $("ui-language");
    if (picker) picker.value = language;
    emit("language", language);
  }

  function keepLanguage(language) {
    localStorage.setItem(LANGUAGE_KEY, language);
    applyLanguage(language);
  }

  // ---- DOM ----------------------------------------------------------------------------------

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function button(className, text, onClick) {
    const node = el("button", className, text);
    node.type = "button";
    if (onClick) node.addEventListener("click", onClick);
    return node;
  }

  function timeEl(iso) {
    const node = el("time", null, iso ? new Date(iso).toLocaleString(state.language) : "—");
    if (iso) node.dateTime = iso;
    return node;
  }

  function duration(totalSeconds) {
    const s = Math.max(0, Math.floor(totalSeconds));
    const h = Math.floor(s / 3600);
    const m = Math.floor((s % 3600) / 60);
    const sec = s % 60;
    return `${h}:${String(m).padStart(2, "0")}:${String(sec).padStart(2, "0")}`;
  }

  function showMessage(text, kind) {
    const box = $("message");
    box.textContent = text || "";
    box.className = `message ${kind || "info"}`;
    box.hidden = !text;
  }

  // ---- requests -----------------------------------------------------------------------------

  // `url` is always one this page built (a URL object under NOTIFIER or GATEWAY).
  async function request(method, url, options = {}) {
    const headers = { Authorization: `Bearer ${state.token}`, Accept: "application/json" };
    if (options.body !== undefined) headers["Content-Type"] = "application/json";
    if (options.key) headers["Idempotency-Key"] = options.key;
    const response = await fetch(url, {
      method,
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      cache: "no-store",
      // No cookie goes with a request, except where one is set (the live stream's).
      credentials: options.credentials || "omit",
    });
    if (response.status === 401) throw new Refused("token refused");
    if (!response.ok) throw new Answered(response.status, await problem(response), `${method} ${url.pathname}`);
    if (options.blob) return response.blob();
    return response.status === 204 ? null : response.json();
  }

  // The words of a refusal: `{"detail": "..."}`, or a 422's list of issues.
  async function problem(response) {
    try {
      const answer = await response.json();
      if (typeof answer.detail === "string") return answer.detail;
      if (Array.isArray(answer.detail)) {
        return answer.detail.map((i) => [...(i.loc || []).slice(1), i.msg].filter(Boolean).join(": ")).join("; ");
      }
    } catch (_) {
      // Not JSON: the status says enough.
    }
    return null;
  }

  // A fresh Idempotency-Key. `randomUUID` exists only in secure contexts (https, localhost);
  // a desk reached over plain http on its own network gets one built from random bytes.
  function newKey() {
    if (crypto.randomUUID) return crypto.randomUUID();
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  // ---- hooks between the scripts ------------------------------------------------------------

  function on(name, listener) {
    if (!hooks.has(name)) hooks.set(name, []);
    hooks.get(name).push(listener);
  }

  function emit(name, ...args) {
    for (const listener of hooks.get(name) || []) listener(...args);
  }

  return {
    NOTIFIER, GATEWAY, TOKEN_KEY, state, $, t, chooseLanguage, applyLanguage, keepLanguage,
    el, button, timeEl, duration, showMessage, request, newKey, Refused, Answered, on, emit,
  };
})();
