// The agent console: sign-in, the signed-in person's queue, and the live channel (SSE) that
// keeps it, the escalations (escalations.js) and the open ticket (workspace.js) current.
// Every piece of server text goes into the page through textContent: customer text such as a
// subject is untrusted and must show literally, never as markup.
"use strict";

(() => {
  const H = window.Helpdesk;
  const { $, el, t } = H;
  const COLOUR_WORD = { green: "sla_on_track", amber: "sla_at_risk", red: "sla_overdue" };
  const metricName = (metric) => (metric ? t(`metric_${metric}`) : "");

  const state = Object.assign(H.state, {
    tickets: new Map(), // ticket_id -> TicketRow
    escalations: new Map(), // escalation_id -> EscalationView
    source: null,
    retryDelay: 1000,
    retryTimer: null,
    loading: null, // the /board request in flight
    reloadWanted: false,
    buffered: null, // stream events that arrive while /board is loading
    highlight: null,
    wantedTicket: null, // the ticket the address names (`#ticket=<id>`)
    ticker: null,
  });
  const Refused = H.Refused;
  const api = (method, path) => H.request(method, new URL(path, H.NOTIFIER));
  const showMessage = H.showMessage;

  function setLive(status) {
    const live = $("live");
    live.dataset.status = status;
    live.textContent = t(`live_${status}`);
    live.className = `live live-${status === "live" ? "on" : status === "offline" ? "off" : "retry"}`;
  }

  // ---- token and address -------------------------------------------------------------------

  function readFragment() {
    const params = new URLSearchParams(window.location.hash.slice(1));
    state.highlight = params.get("escalation");
    state.wantedTicket = params.get("ticket");
    const token = params.get("token");
    if (token) {
      sessionStorage.setItem(H.TOKEN_KEY, token);
      // The token must not linger in the address bar, the history or a copied link.
      params.delete("token");
      const rest = params.toString();
      const url = window.location.pathname + window.location.search + (rest ? `#${rest}` : "");
      history.replaceState(null, "", url);
    }
  }

  function refused() {
    signOut();
    showMessage(t("token_refused"), "error");
  }

  function failed(error) {
    if (error instanceof Refused) refused();
    else if (error.status === 403) {
      signOut();
      showMessage(t("token_unknown"), "error");
    } else showMessage(t("unreachable", { error: error.message }), "error");
  }

  // ---- sign in and out ----------------------------------------------------------------------

  async function signIn() {
    state.token = sessionStorage.getItem(H.TOKEN_KEY);
    if (!state.token) {
      showSignIn();
      return;
    }
    $("sign-in").hidden = true;
    disconnect();
    window.clearInterval(state.ticker);
    try {
      state.person = await api("GET", "me");
    } catch (error) {
      failed(error);
      return;
    }
    H.applyLanguage(H.chooseLanguage(state.person));
    showPerson(state.person);
    showMessage("");
    $("console").hidden = false;
    render();
    state.ticker = window.setInterval(tick, 1000);
    connect();
    loadBoard();
    H.emit("signed-in", state.person);
  }

  function signOut() {
    sessionStorage.removeItem(H.TOKEN_KEY);
    fetch(new URL("live-session", H.NOTIFIER), { method: "DELETE", credentials: "same-origin" }).catch(() => {});
    disconnect();
    window.clearInterval(state.ticker);
    Object.assign(state, { token: null, person: null, ticker: null, buffered: null });
    state.tickets.clear();
    state.escalations.clear();
    render();
    H.emit("signed-out");
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
    state.loading = api("GET", "board")
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

  async function connect() {
    disconnect();
    setLive("connecting");
    // EventSource cannot send headers, and a token must sit in no URL: the token is handed over
    // once, and the notifier keeps it in an HttpOnly cookie sent to the stream alone.
    const token = state.token;
    try {
      await H.request("POST", new URL("live-session", H.NOTIFIER), { credentials: "same-origin" });
    } catch (error) {
      if (error instanceof Refused) refused();
      else scheduleReconnect();
      return;
    }
    if (state.token !== token || state.source) return;
    const source = new EventSource(new URL("events", H.NOTIFIER));
    state.source = source;
    source.addEventListener("open", () => {
      if (state.source !== source) return;
      setLive("live");
      state.retryDelay = 1000;
      // Whatever happened while the stream was down comes back with a fresh board.
      loadBoard();
      H.emit("reconnected");
    });
    source.addEventListener("error", () => {
      if (state.source !== source) return;
      setLive("reconnecting");
      if (source.readyState === EventSource.CLOSED) {
        // The browser gives up on a refused stream; find out whether the token is the reason.
        source.close();
        state.source = null;
        api("GET", "me").then(scheduleReconnect, (error) => {
          if (error instanceof Refused) refused();
          else scheduleReconnect();
        });
      }
    });
    for (const type of ["ticket", "escalation", "notice", "ticket_view"]) {
      source.addEventListener(type, (event) => {
        let data;
        try {
          data = JSON.parse(event.data);
        } catch (_) {
          return;
        }
        if (type === "ticket_view") H.emit("ticket-changed", data);
        else if (state.buffered) state.buffered.push([type, data]);
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
      H.renderEscalations();
    } else if (type === "notice") H.addNotice(data);
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
    if (!sla) return { colour: "none", label: t("sla_no_target"), time: "—", overdue: false };
    const metric = metricName(sla.metric);
    const due = sla.due_at ? Date.parse(sla.due_at) : null;
    const paused = t("sla_paused");
    if (sla.paused) return { colour: sla.colour, label: paused, metric, time: paused, overdue: false };
    const word = (colour) => (COLOUR_WORD[colour] ? t(COLOUR_WORD[colour]) : colour);
    if (due === null) return { colour: sla.colour, label: word(sla.colour), metric, time: "—", overdue: false };
    const left = (due - now) / 1000;
    const overdue = left <= 0 || sla.breached;
    const colour = overdue ? "red" : sla.colour;
    const time = left <= 0 ? t("overdue_by", { time: H.duration(-left) }) : H.duration(left);
    return { colour, label: sla.breached ? t("sla_breached") : word(colour), metric, time, overdue };
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
    if (state.openTicket === row.ticket_id) tr.classList.add("selected");
    tr.tabIndex = 0;
    tr.addEventListener("click", () => H.emit("open-ticket", row.ticket_id));
    tr.addEventListener("keydown", (event) => {
      if (event.key === "Enter") H.emit("open-ticket", row.ticket_id);
    });
    const ref = el("th", "reference", row.reference);
    ref.scope = "row";
    tr.append(ref, el("td", "subject", row.subject), el("td", "customer", row.customer));
    const priority = el("td", "priority");
    const badge = el("span", `badge ${String(row.priority || "none").toLowerCase()}`, row.priority || "—");
    priority.append(badge);
    tr.append(priority, el("td", "category", row.category || "—"), el("td", "status", statusWord(row.status)));
    const assignee = row.assignee_id ? personName(row.assignee_id, row.assignee_name) : t("queued");
    tr.append(el("td", `assignee${row.assignee_id ? "" : " queued"}`, assignee));
    const sla = el("td", "sla");
    sla.append(el("span", "sla-label"), " ", el("span", "sla-metric"), " ", el("span", "sla-time"));
    fillSla(sla, row.sla, now);
    tr.append(sla);
    return tr;
  }

  function personName(personId, name) {
    if (state.person && personId === state.person.person_id) return t("you", { name: state.person.name });
    return name || personId;
  }

  function statusWord(status) {
    return status ? t(`status_${status}`) : "—";
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

  // What escalations.js, workspace.js and actions.js use of this one.
  Object.assign(H, { personName, metricName, refused, failed, renderQueue: renderTickets });

  function render() {
    renderTickets();
    H.renderEscalations();
    if (!state.token) $("notices").replaceChildren();
  }

  // ---- start --------------------------------------------------------------------------------

  document.addEventListener("DOMContentLoaded", () => {
    $("sign-in").addEventListener("submit", (event) => {
      event.preventDefault();
      const token = $("token-input").value.trim();
      if (!token) return;
      sessionStorage.setItem(H.TOKEN_KEY, token);
      showMessage("");
      signIn();
    });
    $("sign-out").addEventListener("click", () => {
      signOut();
      showMessage(t("signed_out"), "info");
    });
    $("ui-language").addEventListener("change", (event) => H.keepLanguage(event.target.value));
    H.on("language", () => {
      setLive($("live").dataset.status || "offline");
      if (state.token) render();
    });
    window.addEventListener("hashchange", () => {
      readFragment();
      if (sessionStorage.getItem(H.TOKEN_KEY) !== state.token) signIn();
      else {
        H.renderEscalations();
        H.emit("fragment");
      }
    });
    readFragment();
    H.applyLanguage(H.chooseLanguage(null));
    signIn();
  });
})();
