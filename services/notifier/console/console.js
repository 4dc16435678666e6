// The agent console: the signed-in person's queue and escalations, kept live over SSE.
// Every piece of server text goes into the page through textContent: customer text such as a
// subject is untrusted and must show literally, never as markup.
"use strict";

(() => {
  const TOKEN_KEY = "helpdesk.console.token";
  const NOTICES_KEPT = 8;
  const COLOUR_LABEL = { green: "on track", amber: "at risk", red: "overdue" };
  const METRIC_NAMES = {
    first_response: "first response",
    next_reply: "next reply",
    resolution: "resolution",
  };

  const state = {
    token: null,
    person: null,
    tickets: new Map(), // ticket_id -> TicketRow
    escalations: new Map(), // escalation_id -> EscalationView
    source: null,
    retryDelay: 1000,
    retryTimer: null,
    loading: null, // the /board request in flight
    reloadWanted: false,
    buffered: null, // stream events that arrive while /board is loading
    highlight: null,
    ticker: null,
  };

  const $ = (id) => document.getElementById(id);

  class Refused extends Error {}

  // ---- small DOM builders -------------------------------------------------------------------

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function timeEl(iso) {
    const node = el("time", null, iso ? new Date(iso).toLocaleString() : "—");
    if (iso) node.dateTime = iso;
    return node;
  }

  function clock(totalSeconds) {
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

  function setLive(status) {
    const live = $("live");
    live.textContent = status;
    live.className = `live live-${status === "live" ? "on" : status === "offline" ? "off" : "retry"}`;
  }

  // ---- token and API ------------------------------------------------------------------------

  function readFragment() {
    const params = new URLSearchParams(window.location.hash.slice(1));
    state.highlight = params.get("escalation");
    const token = params.get("token");
    if (token) {
      sessionStorage.setItem(TOKEN_KEY, token);
      // The token must not linger in the address bar, the history or a copied link.
      params.delete("token");
      const rest = params.toString();
      const url = window.location.pathname + window.location.search + (rest ? `#${rest}` : "");
      history.replaceState(null, "", url);
    }
  }

  async function api(method, path) {
    const response = await fetch(path, {
      method,
      headers: { Authorization: `Bearer ${state.token}`, Accept: "application/json" },
      cache: "no-store",
    });
    if (response.status === 401) throw new Refused("token refused");
    if (!response.ok) {
      const error = new Error(`${method} ${path} answered HTTP ${response.status}`);
      error.status = response.status;
      throw error;
    }
    return response.json();
  }

  function refused() {
    signOut();
    showMessage("Your token was refused (expired or not valid): sign in again.", "error");
  }

  function failed(error) {
    if (error instanceof Refused) refused();
    else if (error.status === 403) {
      signOut();
      showMessage("Your token names nobody this help desk knows: sign in with your own.", "error");
    } else showMessage(`Could not reach the help desk: ${error.message}`, "error");
  }

  // ---- sign in and out ----------------------------------------------------------------------

  async function signIn() {
    state.token = sessionStorage.getItem(TOKEN_KEY);
    if (!state.token) {
      showSignIn();
      return;
    }
    $("sign-in").hidden = true;
    disconnect();
    window.clearInterval(state.ticker);
    try {
      state.person = await api("GET", "/me");
    } catch (error) {
      failed(error);
      return;
    }
    showPerson(state.person);
    showMessage("");
    $("console").hidden = false;
    render();
    state.ticker = window.setInterval(tick, 1000);
    connect();
    loadBoard();
  }

  function signOut() {
    sessionStorage.removeItem(TOKEN_KEY);
    disconnect();
    window.clearInterval(state.ticker);
    Object.assign(state, { token: null, person: null, ticker: null, buffered: null });
    state.tickets.clear();
    state.escalations.clear();
    render();
    $("who").hidden = true;
    $("console").hidden = true;
    setLive("offline");
    showSignIn();
  }

  function showSignIn() {
    $("sign-in").hidden = false;
    $("token-input").value = "";
    $("token-input").focus();
  }

  function showPerson(person) {
    $("person-name").textContent = person.name;
    $("person-role").textContent = person.role;
    $("person-teams").textContent = (person.teams || []).join(", ");
    $("who").hidden = false;
  }

  // ---- the board and the stream -------------------------------------------------------------

  function loadBoard() {
    if (state.loading) {
      state.reloadWanted = true;
      return;
    }
    state.buffered = [];
    state.loading = api("GET", "/board")
      .then(applyBoard)
      .catch(failed)
      .finally(() => {
        const pending = state.buffered || [];
        state.loading = null;
        state.buffered = null;
        if (!state.token) return;
        pending.forEach(([type, data]) => applyEvent(type, data));
        if (state.reloadWanted) {
          state.reloadWanted = false;
          loadBoard();
        }
      });
  }

  function applyBoard(board) {
    if (!state.token) return;
    state.tickets.clear();
    state.escalations.clear();
    for (const row of board.tickets || []) if (row.open !== false) state.tickets.set(row.ticket_id, row);
    for (const view of board.escalations || []) state.escalations.set(view.escalation_id, view);
    render();
  }

  function connect() {
    disconnect();
    const source = new EventSource(`/events?token=${encodeURIComponent(state.token)}`);
    state.source = source;
    setLive("connecting");
    source.addEventListener("open", () => {
      if (state.source !== source) return;
      setLive("live");
      state.retryDelay = 1000;
      // Whatever happened while the stream was down comes back with a fresh board.
      loadBoard();
    });
    source.addEventListener("error", () => {
      if (state.source !== source) return;
      setLive("reconnecting");
      if (source.readyState === EventSource.CLOSED) {
        // The browser gives up on a refused stream; find out whether the token is the reason.
        source.close();
        state.source = null;
        api("GET", "/me").then(scheduleReconnect, (error) => {
          if (error instanceof Refused) refused();
          else scheduleReconnect();
        });
      }
    });
    for (const type of ["ticket", "escalation", "notice"]) {
      source.addEventListener(type, (event) => {
        let data;
        try {
          data = JSON.parse(event.data);
        } catch (_) {
          return;
        }
        if (state.buffered) state.buffered.push([type, data]);
        else applyEvent(type, data);
      });
    }
  }

  function scheduleReconnect() {
    if (!state.token) return;
    window.clearTimeout(state.retryTimer);
    state.retryTimer = window.setTimeout(connect, state.retryDelay);
    state.retryDelay = Math.min(state.retryDelay * 2, 15000);
  }

  function disconnect() {
    window.clearTimeout(state.retryTimer);
    if (state.source) state.source.close();
    state.source = null;
  }

  function applyEvent(type, data) {
    if (type === "ticket") applyTicket(data);
    else if (type === "escalation") {
      // A change may carry only what changed (status, who acknowledged): keep the rest.
      const held = state.escalations.get(data.escalation_id) || {};
      state.escalations.set(data.escalation_id, { ...held, ...data });
      renderEscalations();
    } else if (type === "notice") addNotice(data);
  }

  function applyTicket(row) {
    const held = state.tickets.get(row.ticket_id);
    if (held && Date.parse(held.updated_at) > Date.parse(row.updated_at)) return; // stale
    if (row.open === false) state.tickets.delete(row.ticket_id);
    else state.tickets.set(row.ticket_id, row);
    renderTickets();
  }

  // ---- the queue table ----------------------------------------------------------------------

  function slaView(sla, now) {
    if (!sla) return { colour: "none", label: "no target", time: "—", overdue: false };
    const metric = METRIC_NAMES[sla.metric] || sla.metric;
    const due = sla.due_at ? Date.parse(sla.due_at) : null;
    if (sla.paused) return { colour: sla.colour, label: "paused", metric, time: "paused", overdue: false };
    if (due === null) return { colour: sla.colour, label: COLOUR_LABEL[sla.colour], metric, time: "—", overdue: false };
    const left = (due - now) / 1000;
    const overdue = left <= 0 || sla.breached;
    const colour = overdue ? "red" : sla.colour;
    const time = left <= 0 ? `overdue ${clock(-left)}` : clock(left);
    return { colour, label: sla.breached ? "breached" : COLOUR_LABEL[colour] || colour, metric, time, overdue };
  }

  function sortKey(row, now) {
    const view = slaView(row.sla, now);
    const due = row.sla && row.sla.due_at ? Date.parse(row.sla.due_at) : Infinity;
    return [view.colour === "red" ? 0 : 1, due, row.reference || ""];
  }

  function compare(a, b) {
    for (let i = 0; i < a.length; i += 1) {
      if (a[i] < b[i]) return -1;
      if (a[i] > b[i]) return 1;
    }
    return 0;
  }

  function fillSla(cell, sla, now) {
    const view = slaView(sla, now);
    cell.className = `sla sla-${view.colour}${view.overdue ? " overdue" : ""}${sla && sla.paused ? " paused" : ""}`;
    cell.dataset.colour = view.colour;
    const label = cell.querySelector(".sla-label");
    const metric = cell.querySelector(".sla-metric");
    const time = cell.querySelector(".sla-time");
    if (label.textContent !== view.label) label.textContent = view.label;
    metric.textContent = view.metric || "";
    time.textContent = view.time;
  }

  function ticketRow(row, now) {
    const tr = el("tr");
    tr.dataset.ticketId = row.ticket_id;
    if (state.person && row.assignee_id === state.person.person_id) tr.classList.add("mine");
    const ref = el("th", "reference", row.reference);
    ref.scope = "row";
    tr.append(ref, el("td", "subject", row.subject), el("td", "customer", row.customer));
    const priority = el("td", "priority");
    const badge = el("span", `badge ${String(row.priority || "none").toLowerCase()}`, row.priority || "—");
    priority.append(badge);
    tr.append(priority, el("td", "category", row.category || "—"), el("td", "status", row.status));
    const assignee = row.assignee_id
      ? row.assignee_id === (state.person && state.person.person_id) ? `${state.person.name} (you)` : row.assignee_id
      : "queue";
    tr.append(el("td", `assignee${row.assignee_id ? "" : " queued"}`, assignee));
    const sla = el("td", "sla");
    sla.append(el("span", "sla-label"), " ", el("span", "sla-metric"), " ", el("span", "sla-time"));
    fillSla(sla, row.sla, now);
    tr.append(sla);
    return tr;
  }

  function renderTickets() {
    const now = Date.now();
    const rows = [...state.tickets.values()].sort((a, b) => compare(sortKey(a, now), sortKey(b, now)));
    const body = $("rows");
    body.replaceChildren(...rows.map((row) => ticketRow(row, now)));
    $("no-tickets").hidden = rows.length > 0;
  }

  // Once a second: count every deadline down and move rows whose colour changed.
  function tick() {
    const now = Date.now();
    const body = $("rows");
    for (const tr of body.rows) {
      const row = state.tickets.get(tr.dataset.ticketId);
      if (row) fillSla(tr.querySelector("td.sla"), row.sla, now);
    }
    const order = [...state.tickets.values()]
      .sort((a, b) => compare(sortKey(a, now), sortKey(b, now)))
      .map((row) => row.ticket_id);
    const shown = [...body.rows].map((tr) => tr.dataset.ticketId);
    if (order.join("\n") !== shown.join("\n")) renderTickets();
  }

  // ---- escalations and notices --------------------------------------------------------------

  function escalationItem(view) {
    const li = el("li", `escalation status-${view.status}`);
    li.dataset.escalationId = view.escalation_id;
    li.id = `escalation-${view.escalation_id}`;
    if (state.highlight === view.escalation_id) {
      li.classList.add("highlight");
      li.setAttribute("aria-current", "true");
    }
    const head = el("p", "escalation-head");
    head.append(el("strong", "reference", view.reference), " ", el("span", "metric", METRIC_NAMES[view.metric] || view.metric || ""));
    if (Number.isInteger(view.rung) && Number.isInteger(view.rungs)) {
      // Rungs count from 0 on the server; people count from 1.
      head.append(" · ", el("span", "rung", `rung ${view.rung + 1} of ${view.rungs}`));
    }
    li.append(head, el("p", "escalation-text", view.text));
    if (view.status === "open" && view.acknowledge_by) {
      const due = el("p", "acknowledge-by");
      due.append("Acknowledge by ", timeEl(view.acknowledge_by));
      li.append(due);
    }
    const status = el("p", "escalation-status");
    if (view.status === "open") {
      const button = el("button", "acknowledge", "Acknowledge");
      button.type = "button";
      button.addEventListener("click", () => acknowledge(view.escalation_id, button));
      status.append(button);
    } else if (view.status === "acknowledged") {
      const who = view.acknowledged_by === (state.person && state.person.person_id) ? `${state.person.name} (you)` : view.acknowledged_by || "someone";
      status.append(`acknowledged by ${who}`);
      if (view.acknowledged_at) status.append(" at ", timeEl(view.acknowledged_at));
    } else {
      status.append(view.status);
    }
    li.append(status);
    return li;
  }

  function renderEscalations() {
    const views = [...state.escalations.values()].sort(
      (a, b) => (a.status === "open" ? 0 : 1) - (b.status === "open" ? 0 : 1) || Date.parse(b.raised_at) - Date.parse(a.raised_at),
    );
    $("escalations").replaceChildren(...views.map(escalationItem));
    $("no-escalations").hidden = views.length > 0;
    const target = state.highlight && document.getElementById(`escalation-${state.highlight}`);
    if (target && !target.dataset.scrolled) {
      target.dataset.scrolled = "1";
      target.scrollIntoView({ block: "nearest" });
    }
  }

  async function acknowledge(escalationId, button) {
    button.disabled = true;
    try {
      const view = await api("POST", `/escalations/${encodeURIComponent(escalationId)}/acknowledge`);
      state.escalations.set(view.escalation_id, view);
      renderEscalations();
    } catch (error) {
      button.disabled = false;
      if (error instanceof Refused) refused();
      else if (error.status === 403) showMessage("That escalation is not yours to acknowledge.", "error");
      else if (error.status === 404) showMessage("That escalation no longer exists.", "error");
      else failed(error);
    }
  }

  function addNotice(notice) {
    const li = el("li", `notice kind-${notice.kind || "info"}`);
    li.append(timeEl(new Date().toISOString()), " ");
    const text = notice.text || "";
    if (notice.reference && !text.startsWith(notice.reference)) {
      li.append(el("strong", "reference", notice.reference), " ");
    }
    li.append(el("span", "text", text));
    const list = $("notices");
    list.prepend(li);
    while (list.children.length > NOTICES_KEPT) list.lastElementChild.remove();
  }

  function render() {
    renderTickets();
    renderEscalations();
    if (!state.token) $("notices").replaceChildren();
  }

  // ---- start --------------------------------------------------------------------------------

  document.addEventListener("DOMContentLoaded", () => {
    $("sign-in").addEventListener("submit", (event) => {
      event.preventDefault();
      const token = $("token-input").value.trim();
      if (!token) return;
      sessionStorage.setItem(TOKEN_KEY, token);
      showMessage("");
      signIn();
    });
    $("sign-out").addEventListener("click", () => {
      signOut();
      showMessage("Signed out.", "info");
    });
    window.addEventListener("hashchange", () => {
      readFragment();
      if (sessionStorage.getItem(TOKEN_KEY) !== state.token) signIn();
      else renderEscalations();
    });
    readFragment();
    signIn();
  });
})();
