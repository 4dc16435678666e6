// What an agent does from the workspace: act on the open ticket (intake), insert canned answers
// and article links (kb), set their presence (router) and search tickets (notifier). An action's
// result is not drawn here: the ticket redraws when its change comes back on the live channel.
"use strict";

(() => {
  const H = window.Helpdesk;
  const { $, el, t } = H;
  const state = H.state;

  // Which statuses each action fits: the same table intake enforces (409 otherwise).
  const ACTIVE = ["open", "reopened", "pending", "on_hold"];
  const CLOSED = ["resolved", "closed"];
  const FITS = {
    reply: ACTIVE,
    notes: [...ACTIVE, ...CLOSED],
    pending: ACTIVE.filter((s) => s !== "pending"),
    "on-hold": ACTIVE.filter((s) => s !== "on_hold"),
    resolve: ACTIVE,
    reopen: CLOSED,
    escalate: ACTIVE,
    transfer: ACTIVE,
    priority: ACTIVE,
  };
  // One key per ticket and action until it is answered, so a retry of the same click (after a
  // network failure) is taken once by intake.
  const keys = new Map();
  const canned = { language: undefined, items: [] };
  let shown = null; // the ticket whose inputs were last set from its view

  const trimmed = (id) => $(id).value.trim();
  const orNull = (text) => (text ? text : null);

  // Each action's body, read from its inputs; `null` when a required box is empty.
  const BODIES = {
    reply: () => (trimmed("reply-body") ? { body: $("reply-body").value } : null),
    notes: () => (trimmed("note-body") ? { body: $("note-body").value } : null),
    pending: () => ({ reason: orNull(trimmed("status-reason")) }),
    "on-hold": () => ({ reason: orNull(trimmed("status-reason")) }),
    reopen: () => ({ reason: orNull(trimmed("status-reason")) }),
    resolve: () => ({ reason: orNull(trimmed("status-reason")), resolution_note: orNull(trimmed("resolution-note")) }),
    escalate: () => (trimmed("escalate-reason") ? { to_tier: orNull($("escalate-tier").value), reason: trimmed("escalate-reason") } : null),
    transfer: () => (trimmed("transfer-team") && trimmed("transfer-reason")
      ? { to_team: trimmed("transfer-team"), to_agent_id: orNull(trimmed("transfer-agent")), reason: trimmed("transfer-reason") }
      : null),
    priority: () => (trimmed("priority-reason") ? { priority: $("priority-select").value, reason: trimmed("priority-reason") } : null),
  };
  // What an accepted action empties.
  const CLEARS = {
    reply: ["reply-body"],
    notes: ["note-body"],
    pending: ["status-reason"],
    "on-hold": ["status-reason"],
    reopen: ["status-reason"],
    resolve: ["status-reason", "resolution-note"],
    escalate: ["escalate-reason"],
    transfer: ["transfer-team", "transfer-agent", "transfer-reason"],
    priority: ["priority-reason"],
  };
  const BUTTONS = {
    reply: "send-reply", notes: "add-note", pending: "set-pending", "on-hold": "set-on-hold", reopen: "reopen-ticket",
    resolve: "resolve-ticket", escalate: "escalate-ticket", transfer: "transfer-ticket", priority: "change-priority",
  };

  // ---- acting on the ticket -----------------------------------------------------------------

  async function act(action) {
    const view = state.view;
    if (!view) return;
    const body = BODIES[action]();
    const button = $(BUTTONS[action]);
    if (body === null) {
      button.closest("form").reportValidity();
      return;
    }
    const slot = `${view.ticket_id}\n${action}`;
    if (!keys.has(slot)) keys.set(slot, H.newKey());
    const url = new URL(`intake/tickets/${encodeURIComponent(view.ticket_id)}/${action}`, H.GATEWAY);
    button.disabled = true;
    button.setAttribute("aria-busy", "true");
    H.showMessage(t("sending"), "info");
    try {
      await H.request("POST", url, { body, key: keys.get(slot) });
      keys.delete(slot);
      if (state.view && state.view.ticket_id === view.ticket_id) for (const id of CLEARS[action]) $(id).value = "";
      H.showMessage(t("sent"), "info");
    } catch (error) {
      if (error instanceof H.Refused) {
        H.refused();
        return;
      }
      if (error.status && error.status < 500) keys.delete(slot); // answered: a new click is a new action
      if ([403, 404, 409, 413, 422].includes(error.status)) H.showMessage(t("refused_action", { detail: error.message }), "error");
      else H.failed(error);
    } finally {
      button.removeAttribute("aria-busy");
      fit(state.view);
    }
  }

  // Buttons that do not fit the ticket's status are disabled, as intake would refuse them.
  function fit(view) {
    for (const [action, id] of Object.entries(BUTTONS)) {
      $(id).disabled = !view || !FITS[action].includes(view.status);
    }
    const escalation = view && openEscalation(view.ticket_id);
    $("acknowledge-ticket").disabled = !escalation;
    $("acknowledge-ticket").hidden = !escalation;
  }

  function openEscalation(ticketId) {
    for (const view of state.escalations.values()) {
      if (view.ticket_id === ticketId && view.status === "open") return view;
    }
    return null;
  }

  // ---- the reply box: canned answers and links ----------------------------------------------

  function insertIntoReply(text) {
    const box = $("reply-body");
    const start = box.selectionStart ?? box.value.length;
    const end = box.selectionEnd ?? start;
    box.setRangeText(text, start, end, "end");
    box.focus();
    box.dispatchEvent(new Event("input", { bubbles: true }));
  }

  async function loadCanned(language) {
    if (canned.language === language) return;
    canned.language = language;
    canned.items = [];
    showCanned();
    const url = new URL("kb/canned", H.GATEWAY);
    if (language) url.searchParams.set("language", language);
    try {
      const items = await H.request("GET", url);
      if (canned.language === language) canned.items = Array.isArray(items) ? items : [];
    } catch (error) {
      if (error instanceof H.Refused) H.refused();
      // Without the kb (or the gateway) the list stays empty; the reply box still works.
    }
    showCanned();
  }

  function showCanned() {
    const select = $("canned");
    const options = canned.items.map((item) => {
      const option = el("option", null, item.title || item.canned_id);
      option.value = item.canned_id;
      return option;
    });
    if (!options.length) options.push(el("option", null, t("canned_none")));
    select.replaceChildren(...options);
    select.disabled = !canned.items.length;
    $("insert-canned").disabled = !canned.items.length;
  }

  async function insertCanned() {
    const view = state.view;
    const cannedId = $("canned").value;
    if (!view || !cannedId) return;
    const firstArticle = document.querySelector("#suggestions .article-title");
    const known = {
      customer_name: view.customer,
      agent_name: state.person && state.person.name,
      reference: view.reference,
      subject: view.subject,
      article_link: firstArticle ? firstArticle.href : null,
    };
    const values = Object.fromEntries(Object.entries(known).filter(([, value]) => value));
    const button = $("insert-canned");
    button.disabled = true;
    try {
      const filled = await H.request("POST", new URL(`kb/canned/${encodeURIComponent(cannedId)}/fill`, H.GATEWAY), {
        body: { language: view.language || state.language, values },
      });
      insertIntoReply(filled.text);
    } catch (error) {
      if (error instanceof H.Refused) H.refused();
      else H.showMessage(t("refused_action", { detail: error.message }), "error");
    } finally {
      button.disabled = !canned.items.length;
    }
  }

  // ---- presence and search ------------------------------------------------------------------

  async function setPresence(select) {
    const presence = select.value;
    if (!presence || !state.person) return;
    const url = new URL(`router/agents/${encodeURIComponent(state.person.person_id)}/presence`, H.GATEWAY);
    select.disabled = true;
    try {
      await H.request("PUT", url, { body: { presence } });
      select.dataset.saved = presence;
      H.showMessage(t("presence_saved", { presence: t(`presence_${presence}`) }), "info");
    } catch (error) {
      select.value = select.dataset.saved || "";
      if (error instanceof H.Refused) H.refused();
      else H.showMessage(t("refused_action", { detail: error.message }), "error");
    } finally {
      select.disabled = false;
    }
  }

  async function search(query) {
    const list = $("search-results");
    if (!query) {
      list.replaceChildren();
      return;
    }
    const url = new URL("tickets", H.NOTIFIER);
    url.searchParams.set("q", query);
    url.searchParams.set("limit", "20");
    let found;
    try {
      found = await H.request("GET", url);
    } catch (error) {
      H.failed(error);
      return;
    }
    if ($("search-input").value.trim() !== query) return; // a newer search is under way
    list.replaceChildren(...found.map((row) => {
      const li = el("li", `search-result${row.open === false ? " closed" : ""}`);
      const button = H.button("search-open", null, () => H.openTicket(row.ticket_id));
      button.dataset.ticketId = row.ticket_id;
      button.append(
        el("strong", "reference", row.reference || row.ticket_id), " ",
        el("bdi", "subject", row.subject || ""), " ",
        el("span", "muted", [row.customer, row.status && t(`status_${row.status}`), row.priority].filter(Boolean).join(" · ")),
      );
      li.append(button);
      return li;
    }));
    if (!found.length) list.append(el("li", "empty", t("search_none")));
  }

  // ---- wiring -------------------------------------------------------------------------------

  H.insertIntoReply = insertIntoReply;
  H.on("ticket-opened", () => {
    shown = null;
    for (const ids of Object.values(CLEARS)) for (const id of ids) $(id).value = "";
    fit(null);
  });
  H.on("ticket-shown", (view) => {
    fit(view);
    // Only when the ticket first shows: a live redraw must not undo the agent's choice.
    if (shown !== view.ticket_id && view.priority) $("priority-select").value = view.priority;
    shown = view.ticket_id;
    loadCanned(view.language || state.language);
  });
  H.on("escalations", () => fit(state.view));
  H.on("signed-out", () => {
    keys.clear();
    canned.language = undefined;
    $("search-results").replaceChildren();
    $("presence").value = "";
  });

  document.addEventListener("DOMContentLoaded", () => {
    for (const form of document.querySelectorAll("#actions form[data-action]")) {
      form.addEventListener("submit", (event) => {
        event.preventDefault();
        act(form.dataset.action);
      });
    }
    // Enter in its reason box must not send the page anywhere: each status has its own button.
    $("status-form").addEventListener("submit", (event) => event.preventDefault());
    for (const button of document.querySelectorAll("#status-form button[data-action]")) {
      button.addEventListener("click", () => act(button.dataset.action));
    }
    // Changed words are a new action, not a retry of the last one.
    $("actions").addEventListener("input", (event) => {
      const form = event.target.closest("form");
      if (!form || !state.view) return;
      const actions = form.dataset.action ? [form.dataset.action] : ["pending", "on-hold", "reopen", "resolve"];
      for (const action of actions) keys.delete(`${state.view.ticket_id}\n${action}`);
    });
    $("insert-canned").addEventListener("click", insertCanned);
    $("acknowledge-ticket").addEventListener("click", (event) => {
      const escalation = state.view && openEscalation(state.view.ticket_id);
      if (escalation) H.acknowledge(escalation.escalation_id, event.currentTarget);
    });
    $("presence").addEventListener("change", (event) => setPresence(event.target));
    $("search").addEventListener("submit", (event) => {
      event.preventDefault();
      search($("search-input").value.trim());
    });
    fit(null);
    showCanned();
  });
})();
