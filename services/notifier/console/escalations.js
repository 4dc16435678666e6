// The escalations raised to the signed-in person, to acknowledge, and the recent notices.
// Server text goes in as text only.
"use strict";

(() => {
  const H = window.Helpdesk;
  const { $, el, t, timeEl } = H;
  const state = H.state;
  const NOTICES_KEPT = 8;

  function escalationItem(view) {
    const li = el("li", `escalation status-${view.status}`);
    li.dataset.escalationId = view.escalation_id;
    li.id = `escalation-${view.escalation_id}`;
    if (state.highlight === view.escalation_id) {
      li.classList.add("highlight");
      li.setAttribute("aria-current", "true");
    }
    const head = el("p", "escalation-head");
    head.append(el("strong", "reference", view.reference), " ", el("span", "metric", H.metricName(view.metric)));
    if (Number.isInteger(view.rung) && Number.isInteger(view.rungs)) {
      // Rungs count from 0 on the server; people count from 1.
      head.append(" · ", el("span", "rung", t("rung", { rung: view.rung + 1, rungs: view.rungs })));
    }
    li.append(head, el("p", "escalation-text", view.text));
    if (view.status === "open" && view.acknowledge_by) {
      const due = el("p", "acknowledge-by");
      due.append(t("acknowledge_by"), timeEl(view.acknowledge_by));
      li.append(due);
    }
    const status = el("p", "escalation-status");
    if (view.status === "open") {
      const button = H.button("acknowledge", t("acknowledge"), () => acknowledge(view.escalation_id, button));
      status.append(button);
    } else if (view.status === "acknowledged") {
      const who = view.acknowledged_by ? H.personName(view.acknowledged_by) : t("someone");
      status.append(t("acknowledged_by", { who }));
      if (view.acknowledged_at) status.append(t("at"), timeEl(view.acknowledged_at));
    } else {
      status.append(view.status);
    }
    li.append(status);
    if (view.ticket_id) {
      const open = H.button("open-ticket", t("open_ticket"), () => H.emit("open-ticket", view.ticket_id));
      const line = el("p", "escalation-open");
      line.append(open);
      li.append(line);
    }
    return li;
  }

  function renderEscalations() {
    H.emit("escalations");
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
      const view = await H.request("POST", new URL(`escalations/${encodeURIComponent(escalationId)}/acknowledge`, H.NOTIFIER));
      state.escalations.set(view.escalation_id, view);
      renderEscalations();
    } catch (error) {
      button.disabled = false;
      if (error instanceof H.Refused) H.refused();
      else if (error.status === 403) H.showMessage(t("escalation_not_yours"), "error");
      else if (error.status === 404) H.showMessage(t("escalation_gone"), "error");
      else H.failed(error);
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

  Object.assign(H, { acknowledge, renderEscalations, addNotice });
})();
