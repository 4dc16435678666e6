// The reports page: charts (static SVG, shown as images of blob URLs, so nothing in one can run)
// and tables of the insights figures, each figure linked to the tickets behind it. Every value
// from the server goes into the page through textContent: a category or a reference that holds
// markup shows as text.
"use strict";

(() => {
  const TOKEN_KEY = "helpdesk.reports.token";
  const FILTERS = ["since", "until", "period", "team", "month"];
  // What the drill-downs call slow, unhappy and bounced around.
  const SLOW_HOURS = 8;
  const LOW_CSAT = 2;
  const MANY_TRANSFERS = 3;
  // The most rows /reports/tickets answers; the CSV has them all.
  const DRILL_LIMIT = 1000;
  const UNSPECIFIED = "(unspecified)";
  const LEVELS = ["category", "subcategory", "item"];
  const TARGET_NAMES = { first_response: "First response", next_reply: "Next reply", resolution: "Resolution" };
  const DASH = "—";

  const state = { token: null, filters: {}, blobs: [], loading: 0, drill: null };

  const $ = (id) => document.getElementById(id);

  class Refused extends Error {}

  class Failed extends Error {
    constructor(status, detail) {
      super(detail);
      this.status = status;
    }
  }

  // ---- small builders and formats -----------------------------------------------------------

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  const known = (v) => v !== null && v !== undefined;
  const percent = (rate) => (known(rate) ? `${(rate * 100).toFixed(0)}%` : DASH);
  const hours = (seconds) => (known(seconds) ? `${(seconds / 3600).toFixed(1)} h` : DASH);
  const decimal = (v) => (known(v) ? Number(v).toFixed(2) : DASH);
  const signed = (n) => (n > 0 ? `+${n}` : String(n));
  const points = (r) => (known(r) ? `${r > 0 ? "+" : ""}${(r * 100).toFixed(1)} pp` : DASH);

  function isoDay(date) {
    return date.toISOString().slice(0, 10);
  }

  function showMessage(text, kind) {
    const box = $("message");
    box.textContent = text || "";
    box.className = `message ${kind || "info"}`;
    box.hidden = !text;
  }

  // ---- the address: the token (read once, then dropped) and the filters ----------------------

  function defaults() {
    const now = new Date();
    const since = new Date(now.getTime() - 84 * 86400000);
    return { since: isoDay(since), until: "", period: "week", team: "", month: isoDay(now).slice(0, 7) };
  }

  function readFragment() {
    const params = new URLSearchParams(window.location.hash.slice(1));
    const token = params.get("token");
    if (token) sessionStorage.setItem(TOKEN_KEY, token);
    const filters = defaults();
    for (const name of FILTERS) if (params.has(name)) filters[name] = params.get(name) || "";
    state.filters = filters;
    writeFragment(); // the token must not linger in the address bar, the history or a link
    fillForm();
  }

  function writeFragment() {
    const params = new URLSearchParams();
    for (const name of FILTERS) if (state.filters[name]) params.set(name, state.filters[name]);
    const url = `${window.location.pathname}${window.location.search}#${params}`;
    history.replaceState(null, "", url);
  }

  function fillForm() {
    for (const name of FILTERS) $(name).value = state.filters[name] || "";
  }

  function readForm() {
    const filters = {};
    for (const name of FILTERS) filters[name] = $(name).value.trim();
    state.filters = filters;
  }

  // ---- the API ------------------------------------------------------------------------------

  function detailOf(body, status) {
    const detail = body && body.detail;
    if (typeof detail === "string") return detail;
    if (Array.isArray(detail)) return detail.map((issue) => issue.msg).join("; ");
    return `HTTP ${status}`;
  }

  async function api(path) {
    const response = await fetch(path, {
      headers: { Authorization: `Bearer ${state.token}` },
      cache: "no-store",
    });
    if (response.status === 401) throw new Refused("token refused");
    if (!response.ok) {
      let body = null;
      try {
        body = await response.json();
      } catch (_) {
        body = null;
      }
      throw new Failed(response.status, detailOf(body, response.status));
    }
    return response;
  }

  const json = async (path) => (await api(path)).json();

  // The query every request shares: the window (dates are UTC; "to" is included) and the team.
  function windowParams() {
    const f = state.filters;
    const params = { team: f.team };
    if (f.since) params.since = `${f.since}T00:00:00Z`;
    if (f.until) params.until = new Date(Date.parse(`${f.until}T00:00:00Z`) + 86400000).toISOString();
    return params;
  }

  function query(values) {
    const params = new URLSearchParams();
    for (const [name, value] of Object.entries(values)) {
      if (known(value) && value !== "") params.set(name, String(value));
    }
    return params;
  }

  // ---- the charts ---------------------------------------------------------------------------

  async function loadChart(img, run) {
    const values = { ...windowParams(), period: state.filters.period, month: state.filters.month };
    const name = encodeURIComponent(img.dataset.chart);
    const response = await api(`charts/${name}.svg?${query(values)}`);
    const svg = new Blob([await response.arrayBuffer()], { type: "image/svg+xml" });
    if (run !== state.loading) return;
    const url = URL.createObjectURL(svg);
    state.blobs.push(url);
    img.addEventListener("load", () => { img.dataset.state = "loaded"; }, { once: true });
    img.src = url;
  }

  function loadCharts(run) {
    state.blobs.forEach((url) => URL.revokeObjectURL(url));
    state.blobs = [];
    return [...document.querySelectorAll("img[data-chart]")].map((img) => {
      img.removeAttribute("src");
      img.dataset.state = "loading";
      return loadChart(img, run).catch((error) => {
        img.dataset.state = "failed";
        throw error;
      });
    });
  }

  // ---- drill-downs: the tickets behind a figure ----------------------------------------------

  function upTo(until) {
    return isoDay(new Date(Date.parse(until) - 1));
  }

  // A figure's drill-down: its window and group, and the conditions that pick its tickets.
  function drill(window, dimension, group, conditions, words) {
    if (dimension && !known(group)) return null; // "no team" is no group to ask for
    const params = { since: window.since, until: window.until, team: state.filters.team, ...conditions };
    if (dimension) Object.assign(params, { dimension, group });
    const who = dimension ? group : state.filters.team || "all teams you see";
    const caption = [who, words, `opened ${window.since.slice(0, 10)} to ${upTo(window.until)}`];
    return { params: query(params), caption, condition: Object.keys(conditions)[0] || "all" };
  }

  function figureDrill(dimension) {
    return (f, conditions, words) => drill(f, dimension, f.group, conditions, words);
  }

  function drillLink(text, target) {
    const link = el("a", "drill", text);
    link.href = `tickets?${target.params}`;
    link.dataset.condition = target.condition;
    link.title = `The tickets: ${target.caption.join(", ")}`;
    link.addEventListener("click", (event) => {
      event.preventDefault();
      showDrill(target);
    });
    return link;
  }

  const DRILL_COLUMNS = [
    { label: "Reference", value: (t) => t.reference || t.ticket_id, className: "long-text" },
    { label: "Opened", value: (t) => (t.opened_at ? t.opened_at.slice(0, 16).replace("T", " ") : DASH) },
    { label: "Status", value: (t) => t.status },
    { label: "Team", value: (t) => t.team || DASH },
    { label: "Agent", value: (t) => t.agent_id || DASH },
    {
      label: "Category",
      value: (t) => [t.category, t.subcategory, t.item].filter(known).join(" / ") || DASH,
      className: "long-text",
    },
    { label: "Priority", value: (t) => t.priority || DASH },
    { label: "First response", value: (t) => hours(t.first_response_business_seconds) },
    { label: "Time to resolve", value: (t) => hours(t.resolve_business_seconds) },
    { label: "Transfers", value: (t) => t.transfers },
    { label: "Reopened", value: (t) => t.reopened },
    { label: "CSAT", value: (t) => (known(t.csat_score) ? t.csat_score : DASH) },
    { label: "SLA first response", value: (t) => t.sla_first_response || DASH },
    { label: "SLA resolution", value: (t) => t.sla_resolution || DASH },
  ];

  async function showDrill(target) {
    state.drill = target;
    $("drill").hidden = false;
    $("drill-caption").textContent = `Loading the tickets: ${target.caption.join(" · ")}`;
    const table = $("drill-table");
    table.dataset.state = "loading";
    try {
      const rows = await json(`tickets?${target.params}`);
      if (state.drill !== target) return;
      fillTable(table, DRILL_COLUMNS, rows, "No tickets.");
      const more = rows.length >= DRILL_LIMIT ? ` (the first ${DRILL_LIMIT}; the CSV has them all)` : "";
      const count = rows.length === 1 ? "1 ticket" : `${rows.length} tickets`;
      $("drill-caption").textContent = `${count}${more}: ${target.caption.join(" · ")}`;
      table.dataset.state = "loaded";
      $("drill").scrollIntoView({ block: "start" });
    } catch (error) {
      table.dataset.state = "failed";
      failed(error);
    }
  }

  async function downloadCsv() {
    if (!state.drill) return;
    try {
      const blob = await (await api(`tickets.csv?${state.drill.params}`)).blob();
      const url = URL.createObjectURL(blob);
      const link = el("a");
      link.href = url;
      link.download = "tickets.csv";
      document.body.append(link);
      link.click();
      link.remove();
      window.setTimeout(() => URL.revokeObjectURL(url), 1000);
    } catch (error) {
      failed(error);
    }
  }

  // ---- tables -------------------------------------------------------------------------------

  // A column's value is text, or { text, drill } for a figure that opens its tickets.
  function fillTable(table, columns, rows, empty) {
    const head = el("thead");
    const heading = el("tr");
    for (const column of columns) {
      const th = el("th", null, column.label);
      th.scope = "col";
      if (column.help) th.title = column.help;
      heading.append(th);
    }
    head.append(heading);
    const body = el("tbody");
    for (const row of rows) {
      const tr = el("tr");
      columns.forEach((column, index) => {
        const cell = el(index === 0 ? "th" : "td");
        if (index === 0) cell.scope = "row";
        if (column.className) cell.className = column.className;
        const value = column.value(row);
        if (value && typeof value === "object") {
          if (value.className) cell.classList.add(value.className);
          cell.append(value.drill ? drillLink(value.text, value.drill) : document.createTextNode(String(value.text)));
        } else {
          cell.textContent = known(value) ? String(value) : DASH;
        }
        tr.append(cell);
      });
      if (known(row.group)) tr.dataset.group = row.group;
      body.append(tr);
    }
    if (!rows.length) {
      const tr = el("tr", "empty");
      const td = el("td", null, empty);
      td.colSpan = columns.length;
      tr.append(td);
      body.append(tr);
    }
    clearTable(table);
    table.append(head, body);
  }

  const linked = (text, target) => ({ text, drill: target });

  function trendColumns() {
    const at = figureDrill(null);
    return [
      { label: "Period", value: (f) => f.period },
      { label: "Tickets opened", value: (f) => linked(f.tickets, at(f, {}, "opened")) },
      { label: "Resolved", value: (f) => linked(percent(f.resolution_rate), at(f, { resolved: true }, "resolved")) },
      ...timeColumns(at),
      {
        label: "First-contact resolution",
        value: (f) => linked(percent(f.first_contact_resolution_rate), at(f, { first_contact_resolved: true }, "resolved at first contact")),
      },
      transfersColumn(at),
      csatColumn(at),
      backlogColumn(at, "Backlog at the end"),
    ];
  }

  function timeColumns(at) {
    return [
      {
        label: "First response, median",
        help: `In business hours; the link opens those over ${SLOW_HOURS} hours.`,
        value: (f) => linked(hours(f.first_response_business.median), at(f, { first_response_over_business_hours: SLOW_HOURS }, `first response over ${SLOW_HOURS} business hours`)),
      },
      {
        label: "Time to resolve, median",
        help: `In business hours; the link opens those over ${SLOW_HOURS} hours.`,
        value: (f) => linked(hours(f.resolve_business.median), at(f, { resolve_over_business_hours: SLOW_HOURS }, `resolved after over ${SLOW_HOURS} business hours`)),
      },
    ];
  }

  function transfersColumn(at) {
    return {
      label: "Transfers per ticket",
      help: `The link opens those transferred ${MANY_TRANSFERS} times or more.`,
      value: (f) => linked(decimal(f.transfers_per_ticket), at(f, { transfers_at_least: MANY_TRANSFERS }, `transferred ${MANY_TRANSFERS}+ times`)),
    };
  }

  function csatColumn(at) {
    return {
      label: "CSAT average",
      help: `1 to 5; the link opens the answers of ${LOW_CSAT} or lower.`,
      value: (f) => linked(`${decimal(f.csat_average)} (${f.csat_responses})`, at(f, { csat_at_most: LOW_CSAT }, `CSAT ${LOW_CSAT} or lower`)),
    };
  }

  function backlogColumn(at, label) {
    return {
      label,
      help: "Open tickets at the end; the link opens those opened in the window and not resolved.",
      value: (f) => linked(f.backlog, at(f, { resolved: false }, "not resolved")),
    };
  }

  function teamColumns(rows) {
    const at = figureDrill("team");
    const targets = [...new Set(rows.flatMap((f) => Object.keys(f.sla)))].sort();
    return [
      { label: "Team", value: (f) => f.group || "(no team)" },
      { label: "Tickets", value: (f) => linked(f.tickets, at(f, {}, "opened")) },
      ...targets.map((target) => ({
        label: `${TARGET_NAMES[target] || target} met`,
        help: "Share of the decided targets met; the link opens the breached ones.",
        value: (f) => {
          const t = f.sla[target];
          if (!t) return DASH;
          const text = `${known(t.percent_met) ? `${t.percent_met.toFixed(0)}%` : DASH} (${t.met} of ${t.met + t.breached})`;
          return linked(text, at(f, { breached: target }, `${TARGET_NAMES[target] || target} breached`));
        },
      })),
      timeColumns(at)[1],
      csatColumn(at),
      { label: "CSAT response rate", help: "Answers per resolved ticket.", value: (f) => percent(f.csat_response_rate) },
      backlogColumn(at, "Backlog"),
    ];
  }

  function agentColumns() {
    const at = figureDrill("agent");
    return [
      { label: "Agent", value: (f) => f.group || "(unassigned)" },
      { label: "Tickets", value: (f) => linked(f.tickets, at(f, {}, "opened")) },
      backlogColumn(at, "Backlog"),
      timeColumns(at)[0],
      transfersColumn(at),
      { label: "Reopened", value: (f) => linked(f.reopened, at(f, { reopened: true }, "reopened")) },
      csatColumn(at),
    ];
  }

  // The category tree as rows, each knowing its level and the drill-down group it stands for.
  function categoryRows(report) {
    const rows = [];
    const walk = (nodes, names) => {
      for (const node of nodes) {
        const path = [...names, node.name];
        rows.push({ node, depth: path.length, path });
        walk(node.children || [], path);
      }
    };
    walk(report.categories, []);
    return rows;
  }

  function monthWindow(month) {
    const start = new Date(`${month}-01T00:00:00Z`);
    const end = new Date(Date.UTC(start.getUTCFullYear(), start.getUTCMonth() + 1, 1));
    return { since: start.toISOString(), until: end.toISOString() };
  }

  function categoryColumns(report) {
    const window = monthWindow(report.month);
    const target = (row) => {
      // Tickets with no category cannot be asked for; a missing lower level is the level above.
      if (row.path[0] === UNSPECIFIED) return null;
      const group = row.path.filter((name) => name !== UNSPECIFIED).join("/");
      return drill(window, LEVELS[row.depth - 1], group, {}, LEVELS[row.depth - 1]);
    };
    return [
      { label: "Category", value: (r) => ({ text: r.node.name, className: `depth-${r.depth}` }) },
      { label: `Tickets in ${report.month}`, value: (r) => ({ text: String(r.node.count), drill: target(r) }) },
      { label: "Share", value: (r) => percent(r.node.share) },
      { label: `In ${report.previous_month}`, value: (r) => r.node.previous_count },
      { label: "Change", value: (r) => signed(r.node.change) },
      { label: "Share change", value: (r) => points(r.node.share_change) },
    ];
  }

  // Each table of the page: where its data comes from and how it is shown. A new section adds
  // an entry here, its <table> and <img data-chart> in index.html, and its chart in charts.py.
  const SECTIONS = [
    {
      table: "trend-table",
      path: () => `figures?${query({ ...windowParams(), period: state.filters.period })}`,
      rows: (figures) => figures,
      columns: trendColumns,
    },
    {
      table: "category-table",
      path: () => `categories?${query({ month: state.filters.month, team: state.filters.team })}`,
      rows: categoryRows,
      columns: (_rows, report) => categoryColumns(report),
      caption: (report) => `${report.tickets} tickets in ${report.month}, ${report.previous_tickets} in ${report.previous_month}. Each share is of the level above.`,
    },
    {
      table: "team-table",
      path: () => `figures?${query({ ...windowParams(), period: "all", dimension: "team" })}`,
      rows: (figures) => figures,
      columns: teamColumns,
    },
    {
      table: "agent-table",
      path: () => `figures?${query({ ...windowParams(), period: "all", dimension: "agent" })}`,
      rows: (figures) => [...figures].sort((a, b) => b.tickets - a.tickets || String(a.group).localeCompare(String(b.group))),
      columns: agentColumns,
    },
  ];

  async function loadSection(section, run) {
    const table = $(section.table);
    table.dataset.state = "loading";
    try {
      const data = await json(section.path());
      if (run !== state.loading) return;
      const rows = section.rows(data);
      fillTable(table, section.columns(rows, data), rows, table.dataset.empty);
      if (section.caption) {
        if (!known(table.dataset.caption)) table.dataset.caption = table.caption.textContent;
        table.caption.textContent = section.caption(data);
      }
      table.dataset.state = "loaded";
    } catch (error) {
      // Figures of the last filters under the new ones would be read as theirs: none at all.
      clearTable(table);
      table.dataset.state = "failed";
      throw error;
    }
  }

  function clearTable(table) {
    table.querySelectorAll("thead, tbody").forEach((part) => part.remove());
    if (table.caption && known(table.dataset.caption)) table.caption.textContent = table.dataset.caption;
  }

  // ---- loading, signing in and out ----------------------------------------------------------

  async function load() {
    state.loading += 1;
    const run = state.loading;
    writeFragment();
    showMessage("");
    $("drill").hidden = true;
    state.drill = null;
    const work = [...loadCharts(run), ...SECTIONS.map((section) => loadSection(section, run))];
    const results = await Promise.allSettled(work);
    const failure = results.find((r) => r.status === "rejected");
    if (failure && run === state.loading) failed(failure.reason);
  }

  function failed(error) {
    if (error instanceof Refused) {
      signOut();
      showMessage("Your token was refused (expired or not valid): sign in again.", "error");
    } else if (error instanceof Failed && error.status === 403) {
      // A team that is not theirs: they may pick another. No reports at all: another token.
      if (!state.filters.team) signOut();
      showMessage(`Not yours to see: ${error.message}.`, "error");
    } else if (error instanceof Failed && error.status === 422) {
      showMessage(`Those filters do not make a report: ${error.message}.`, "error");
    } else {
      showMessage(`Could not reach the help desk: ${error.message}`, "error");
    }
  }

  function signIn() {
    state.token = sessionStorage.getItem(TOKEN_KEY);
    if (!state.token) {
      showSignIn();
      return;
    }
    $("sign-in").hidden = true;
    $("reports").hidden = false;
    $("sign-out").hidden = false;
    load();
  }

  function signOut() {
    sessionStorage.removeItem(TOKEN_KEY);
    state.token = null;
    state.loading += 1;
    state.blobs.forEach((url) => URL.revokeObjectURL(url));
    state.blobs = [];
    document.querySelectorAll("img[data-chart]").forEach((img) => img.removeAttribute("src"));
    document.querySelectorAll("main table").forEach(clearTable);
    $("reports").hidden = true;
    $("sign-out").hidden = true;
    showSignIn();
  }

  function showSignIn() {
    $("sign-in").hidden = false;
    $("token-input").value = "";
    $("token-input").focus();
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
    $("filters").addEventListener("submit", (event) => {
      event.preventDefault();
      readForm();
      load();
    });
    $("drill-csv").addEventListener("click", downloadCsv);
    $("drill-close").addEventListener("click", () => {
      $("drill").hidden = true;
      state.drill = null;
    });
    window.addEventListener("hashchange", () => {
      readFragment();
      signIn();
    });
    readFragment();
    signIn();
  });
})();
