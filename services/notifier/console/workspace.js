// The ticket panel: one ticket's header, SLA clocks, conversation, customer and suggested
// articles, opened from the queue, an escalation or a search and kept in the address as
// `#ticket=<id>`; refetched whenever the live channel says that ticket changed.
"use strict";

(() => {
  const H = window.Helpdesk;
  const { $, el, t, timeEl } = H;
  const state = H.state;
  const REPEAT_WINDOW_MS = 7 * 24 * 3600 * 1000;
  const STALE_RETRIES = 8;
  const ISO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d/;
  Object.assign(state, { openTicket: null, view: null, fetchedAt: 0, viewLoading: null, viewAgain: false });
  // The newest change the live channel announced for the open ticket, and the retries spent
  // on fetching a view older than it (announced before the view was written).
  const told = { at: null, retries: 0, missing: 0, timer: null };

  // ---- opening and closing ------------------------------------------------------------------

  function setFragmentTicket(ticketId) {
    const params = new URLSearchParams(window.location.hash.slice(1));
    if (ticketId) params.set("ticket", ticketId);
    else params.delete("ticket");
    const rest = params.toString();
    history.replaceState(null, "", window.location.pathname + window.location.search + (rest ? `#${rest}` : ""));
    state.wantedTicket = ticketId;
  }

  function request(ticketId) {
    if (!state.token) return;
    setFragmentTicket(ticketId);
    if (ticketId === state.openTicket) load();
    else open(ticketId);
  }

  // The address decides: a ticket named there is opened, one no longer named is closed.
  function sync() {
    if (!state.token) return;
    if (state.wantedTicket && state.wantedTicket !== state.openTicket) open(state.wantedTicket);
    else if (!state.wantedTicket && state.openTicket) close();
  }

  function open(ticketId) {
    Object.assign(state, { openTicket: ticketId, view: null, customerTickets: null });
    forget();
    $("no-ticket").hidden = true;
    $("ticket").hidden = false;
    $("console").classList.add("with-ticket");
    for (const id of ["ticket-reference", "ticket-subject", "ticket-language"]) $(id).textContent = "";
    for (const id of ["ticket-facts", "ticket-clocks", "timeline", "identities", "previous-tickets", "suggestions", "customer-facts"]) {
      $(id).replaceChildren();
    }
    $("customer-name").textContent = "";
    $("other-tickets").textContent = "";
    $("repeat-flag").hidden = true;
    $("customer-details").hidden = true;
    $("customer-missing").hidden = true;
    H.emit("ticket-opened", ticketId);
    H.renderQueue();
    // One column (a narrow screen): the ticket sits under the queue, so bring it into sight.
    if (!window.matchMedia("(min-width: 1100px)").matches) $("ticket").scrollIntoView({ block: "start" });
    load();
  }

  function forget() {
    window.clearTimeout(told.timer);
    Object.assign(told, { at: null, retries: 0, missing: 0, timer: null });
  }

  function close() {
    Object.assign(state, { openTicket: null, view: null });
    forget();
    $("ticket").hidden = true;
    $("no-ticket").hidden = false;
    $("console").classList.remove("with-ticket");
    if (state.token) H.renderQueue();
    H.emit("ticket-opened", null);
  }

  function load() {
    const ticketId = state.openTicket;
    if (!ticketId) return;
    if (state.viewLoading) {
      state.viewAgain = true;
      return;
    }
    $("ticket-loading").hidden = false;
    state.viewLoading = H.request("GET", new URL(`tickets/${encodeURIComponent(ticketId)}`, H.NOTIFIER))
      .then((view) => {
        if (state.openTicket !== ticketId) return;
        Object.assign(state, { view, fetchedAt: Date.now() });
        render();
        loadCustomer(view);
        againIfStale(view);
      })
      .catch((error) => {
        if (state.openTicket !== ticketId) return;
        if (error.status === 404 && onTheBoard(ticketId) && told.missing < STALE_RETRIES) {
          // Its row came first: the view is written in a later batch.
          told.missing += 1;
          told.timer = window.setTimeout(load, 250 * told.missing);
        } else if (error.status === 404) {
          H.showMessage(t("ticket_not_found"), "error");
          setFragmentTicket(null);
          close();
        } else H.failed(error);
      })
      .finally(() => {
        state.viewLoading = null;
        $("ticket-loading").hidden = true;
        if (state.viewAgain) {
          state.viewAgain = false;
          load();
        }
      });
  }

  function onTheBoard(ticketId) {
    if (state.tickets.has(ticketId)) return true;
    return [...state.escalations.values()].some((view) => view.ticket_id === ticketId);
  }

  function announced(data) {
    if (!data || data.ticket_id !== state.openTicket) return;
    if (data.updated_at && (!told.at || Date.parse(data.updated_at) > Date.parse(told.at))) {
      Object.assign(told, { at: data.updated_at, retries: 0 });
    }
    load();
  }

  function againIfStale(view) {
    window.clearTimeout(told.timer);
    if (!told.at || !view.updated_at || Date.parse(view.updated_at) >= Date.parse(told.at)) return;
    if (told.retries >= STALE_RETRIES) return;
    told.retries += 1;
    told.timer = window.setTimeout(load, 200 * told.retries);
  }

  // ---- the header and its clocks ------------------------------------------------------------

  function render() {
    const view = state.view;
    if (!view) return;
    $("ticket-reference").textContent = view.reference || view.ticket_id;
    $("ticket-subject").textContent = view.subject || "—";
    const language = $("ticket-language");
    language.textContent = view.language || "";
    language.hidden = !view.language;
    language.title = `${t("f_language")}: ${view.language || ""}`;
    const facts = [
      ["status", view.status ? t(`status_${view.status}`) : null],
      ["priority", view.priority],
      ["tier", view.tier],
      ["team", view.team],
      ["assignee", view.assignee_id ? view.assignee_name || view.assignee_id : t("queued")],
      ["category", [view.category, view.subcategory, view.item].filter(Boolean).join(" › ") || null],
      ["channel", view.channel],
    ];
    $("ticket-facts").replaceChildren(...facts.map(([key, value]) => fact(key, value)));
    renderClocks();
    renderTimeline(view);
    renderSuggestions(view);
    H.emit("ticket-shown", view);
  }

  function fact(key, value) {
    const group = el("div", "fact");
    const dd = el("dd", `fact-${key}`, value || "—");
    dd.id = `ticket-${key}`;
    if (key === "priority" && value) dd.classList.add("badge", value.toLowerCase());
    group.append(el("dt", null, t(`f_${key}`)), dd);
    return group;
  }

  function clockView(clock, now) {
    const metric = t(`metric_${clock.metric}`);
    if (clock.met) return { classes: ["clock-met", "met"], metric, label: t("sla_met"), time: "" };
    let left = null;
    if (clock.paused) left = clock.remaining_seconds;
    else if (clock.due_at) left = (Date.parse(clock.due_at) - now) / 1000;
    else if (typeof clock.remaining_seconds === "number") left = clock.remaining_seconds - (now - state.fetchedAt) / 1000;
    const time = left === null ? "—" : left <= 0 ? t("overdue_by", { time: H.duration(-left) }) : H.duration(left);
    if (clock.paused) return { classes: [`clock-${clock.colour || "none"}`, "paused"], metric, label: t("sla_paused"), time };
    if (clock.breached || (left !== null && left <= 0)) {
      return { classes: ["clock-red", "breached"], metric, label: t("sla_breached"), time };
    }
    const word = { green: "sla_on_track", amber: "sla_at_risk", red: "sla_overdue" }[clock.colour];
    return { classes: [`clock-${clock.colour || "none"}`], metric, label: word ? t(word) : "", time };
  }

  function renderClocks() {
    const view = state.view;
    const list = $("ticket-clocks");
    if (!view) return;
    const now = Date.now();
    const clocks = view.clocks || [];
    if (list.children.length !== clocks.length) {
      list.replaceChildren(...clocks.map(() => {
        const li = el("li", "clock");
        li.append(el("span", "clock-metric"), " ", el("span", "clock-label"), " ", el("span", "clock-time"));
        return li;
      }));
    }
    clocks.forEach((clock, index) => {
      const li = list.children[index];
      const shown = clockView(clock, now);
      li.dataset.metric = clock.metric;
      li.className = ["clock", ...shown.classes].join(" ");
      li.querySelector(".clock-metric").textContent = shown.metric;
      li.querySelector(".clock-label").textContent = shown.label;
      li.querySelector(".clock-time").textContent = shown.time;
    });
  }

  // ---- the conversation ---------------------------------------------------------------------

  function renderTimeline(view) {
    const list = $("timeline");
    if (view.direction === "rtl") list.setAttribute("dir", "rtl");
    else list.removeAttribute("dir");
    const entries = view.timeline || [];
    list.replaceChildren(...entries.map((entry) => timelineEntry(view, entry)));
    if (!entries.length) list.append(el("li", "empty", t("nothing_yet")));
  }

  function timelineEntry(view, entry) {
    const kind = ["message", "note", "event"].includes(entry.kind) ? entry.kind : "event";
    const li = el("li", `entry entry-${kind}`);
    li.dataset.kind = kind;
    if (entry.id) li.dataset.eventId = entry.id;
    if (kind === "message") li.classList.add(entry.direction === "out" ? "entry-out" : "entry-in");
    // The workspace's own words run in the page's direction, whatever the conversation's.
    const head = el("p", "entry-head");
    head.setAttribute("dir", document.documentElement.dir || "ltr");
    if (kind === "event") {
      li.setAttribute("dir", document.documentElement.dir || "ltr");
      head.append(timeEl(entry.at), " ", el("span", "event-type", eventName(entry.event_type)));
      if (entry.by_name || entry.by) head.append(" · ", el("span", "by", entry.by_name || entry.by));
      li.append(head);
      // The why first: routing decisions, transfers and escalations carry their reasons.
      const fields = Object.entries(entry.fields || {})
        .filter(([, value]) => value !== null && value !== "")
        .sort(([a], [b]) => (b === "reason") - (a === "reason"));
      if (fields.length) li.append(fieldLine(fields));
      if (entry.body) li.append(body("entry-body", entry.body));
      return li;
    }
    const who = entry.by_name || entry.by || (entry.direction === "in" ? view.customer || t("customer_said") : "");
    head.append(el("strong", "by", who));
    if (kind === "note") head.append(" · ", el("span", "note-label", t("note")));
    if (entry.channel) head.append(" · ", el("span", "channel", t("via", { channel: entry.channel })));
    head.append(" · ", timeEl(entry.at));
    li.append(head, body("entry-body", entry.body || ""));
    if (entry.quoted_text) li.append(folded("quoted", t("quoted"), entry.quoted_text));
    if (entry.signature) li.append(folded("signature", t("signature"), entry.signature));
    const attachments = entry.attachments || [];
    if (attachments.length) {
      const ul = el("ul", "attachments");
      ul.append(...attachments.map((a) => attachmentItem(view.ticket_id, a)));
      li.append(ul);
    }
    return li;
  }

  function body(className, text) {
    const node = el("div", className, text);
    node.setAttribute("dir", "auto");
    return node;
  }

  function folded(className, label, text) {
    const details = el("details", className);
    details.append(el("summary", null, label), body(`${className}-text`, text));
    return details;
  }

  function eventName(eventType) {
    return String(eventType || "").replace(/^ticket\./, "").replace(/[._]/g, " ");
  }

  function fieldLine(fields) {
    const p = el("p", "fields");
    fields.forEach(([key, value], index) => {
      if (index) p.append(" · ");
      const text = typeof value === "object" ? JSON.stringify(value) : fieldText(value);
      const span = el("span", "field");
      span.dataset.field = key;
      span.append(el("span", "field-name", key.replace(/_/g, " ")), ": ", el("bdi", "field-value", text));
      p.append(span);
    });
    return p;
  }

  function fieldText(value) {
    const when = typeof value === "string" && ISO_TIME.test(value) ? new Date(value) : null;
    return when && !Number.isNaN(when.getTime()) ? when.toLocaleString(state.language) : String(value);
  }

  function attachmentItem(ticketId, attachment) {
    const li = el("li", "attachment");
    const name = attachment.filename || attachment.stored_id || "?";
    const size = typeof attachment.size === "number" ? ` (${Math.max(1, Math.round(attachment.size / 1024))} KB)` : "";
    if (attachment.refused || !attachment.stored_id) {
      li.classList.add("refused");
      const reason = typeof attachment.refused === "string" ? attachment.refused : "—";
      li.append(el("bdi", "filename", name), " ", el("span", "refused-reason", t("attachment_refused", { reason })));
      return li;
    }
    const link = H.button("attachment-download", `${name}${size}`, () => download(ticketId, attachment, link));
    link.dataset.storedId = attachment.stored_id;
    li.append(link);
    return li;
  }

  // Downloads need the bearer token, which never goes into a URL: fetch, then save the blob.
  async function download(ticketId, attachment, button) {
    const path = `intake/tickets/${encodeURIComponent(ticketId)}/attachments/${encodeURIComponent(attachment.stored_id)}`;
    button.disabled = true;
    try {
      const blob = await H.request("GET", new URL(path, H.GATEWAY), { blob: true });
      const url = URL.createObjectURL(blob);
      const anchor = el("a");
      anchor.href = url;
      anchor.download = attachment.filename || attachment.stored_id;
      document.body.append(anchor);
      anchor.click();
      anchor.remove();
      window.setTimeout(() => URL.revokeObjectURL(url), 60_000);
    } catch (error) {
      if (error instanceof H.Refused) H.refused();
      else H.showMessage(t("attachment_failed", { name: attachment.filename, error: error.message }), "error");
    } finally {
      button.disabled = false;
    }
  }

  // ---- knowledge-base suggestions -----------------------------------------------------------

  // Where a customer reads the article: the portal's page, open to anyone, the article named in
  // the fragment (the knowledge base's own route answers JSON, for programs).
  function articleUrl(articleId, language) {
    const url = new URL("intake/portal", H.GATEWAY);
    const fragment = new URLSearchParams({ article: articleId });
    if (language) fragment.set("language", language);
    url.hash = fragment.toString();
    return url;
  }

  function renderSuggestions(view) {
    const list = $("suggestions");
    const suggestions = view.suggestions || [];
    list.replaceChildren(...suggestions.map((s) => {
      const li = el("li", "suggestion");
      li.dataset.articleId = s.article_id;
      const link = el("a", "article-title", s.title || s.article_id);
      link.href = articleUrl(s.article_id, s.language).href;
      link.target = "_blank";
      link.rel = "noopener noreferrer";
      if (s.language) link.setAttribute("hreflang", s.language);
      const meta = el("span", "muted", [s.language, typeof s.score === "number" ? s.score.toFixed(2) : null].filter(Boolean).join(" · "));
      const insert = H.button("insert-link", t("insert_link"), () => H.insertIntoReply(link.href));
      li.append(link, " ", meta, " ", insert);
      return li;
    }));
    if (!suggestions.length) list.append(el("li", "empty", t("no_suggestions")));
  }

  // ---- the customer -------------------------------------------------------------------------

  async function loadCustomer(view) {
    const missing = $("customer-missing");
    $("customer-name").textContent = view.customer || "";
    renderRepeat(view, state.customerTickets);
    if (!view.customer_id) {
      missing.hidden = false;
      return;
    }
    let customer;
    try {
      customer = await H.request("GET", new URL(`intake/customers/${encodeURIComponent(view.customer_id)}`, H.GATEWAY));
    } catch (error) {
      if (error instanceof H.Refused) H.refused();
      // Served without the gateway (or intake down): the ticket still works without this panel.
      else if (state.view === view) missing.hidden = false;
      return;
    }
    if (state.view !== view) return;
    missing.hidden = true;
    $("customer-details").hidden = false;
    renderCustomer(view, customer);
  }

  function renderCustomer(view, customer) {
    const plan = el("div", "fact");
    plan.append(el("dt", null, t("plan")), el("dd", "plan", customer.plan || view.plan || "—"));
    $("customer-facts").replaceChildren(plan);
    $("identities").replaceChildren(...(customer.identities || []).map((identity) => {
      const [kind, ...rest] = String(identity).split(":");
      const li = el("li", "identity");
      li.append(el("span", "identity-kind", kind), " ", el("bdi", "identity-value", rest.join(":")));
      return li;
    }));
    const others = (customer.tickets || []).filter((ticket) => ticket.ticket_id !== view.ticket_id);
    $("previous-tickets").replaceChildren(...others.map(previousTicket));
    if (!others.length) $("previous-tickets").append(el("li", "empty", t("no_previous")));
    $("other-tickets").textContent = customer.other_tickets ? t("other_teams", { count: customer.other_tickets }) : "";
    state.customerTickets = others;
    renderRepeat(view, others);
  }

  function previousTicket(ticket) {
    const li = el("li", "previous-ticket");
    li.dataset.ticketId = ticket.ticket_id;
    const openIt = H.button("previous-open", ticket.reference || ticket.ticket_id, () => request(ticket.ticket_id));
    const line = el("p", "previous-line");
    line.append(openIt, " ", el("bdi", "previous-subject", ticket.subject || ""));
    const meta = el("p", "muted");
    meta.append(t(`status_${ticket.status}`), " · ", ticket.channel || "", " · ", timeEl(ticket.opened_at));
    li.append(line, meta);
    for (const note of ticket.notes || []) {
      const p = el("p", "previous-note");
      p.append(el("span", "by", note.agent_id || ""), " ", timeEl(note.occurred_at), " ", body("previous-note-body", note.body || ""));
      li.append(p);
    }
    return li;
  }

  // A repeat: the ticket says so, or the customer opened another one in the last seven days.
  function renderRepeat(view, others) {
    const recent = (others || []).some((ticket) => Date.now() - Date.parse(ticket.opened_at) < REPEAT_WINDOW_MS);
    $("repeat-flag").hidden = !(view.repeat_of || view.follows_ticket_id || recent);
  }

  // ---- wiring -------------------------------------------------------------------------------

  H.on("open-ticket", request);
  H.on("fragment", sync);
  H.on("signed-in", sync);
  H.on("signed-out", () => {
    Object.assign(state, { openTicket: null, view: null });
    forget();
    $("console").classList.remove("with-ticket");
    $("ticket").hidden = true;
    $("no-ticket").hidden = false;
  });
  H.on("reconnected", load);
  H.on("ticket-changed", announced);
  H.on("language", () => render());
  H.openTicket = request;
  H.reloadTicket = load;
  document.addEventListener("DOMContentLoaded", () => {
    $("close-ticket").addEventListener("click", () => {
      setFragmentTicket(null);
      close();
    });
    window.setInterval(renderClocks, 1000);
  });
})();
