// The customer portal: sign in by a mailed link, read one's requests, reply, search the
// knowledge base. Every URL is relative to the page, which a gateway may serve under a
// prefix (/intake/portal); every customer value goes in as text, never as markup.
"use strict";

const WORDS = {
  en: {
    title: "Help desk", signOut: "Sign out", signInTitle: "Sign in",
    emailLabel: "Your email address", sendLink: "Send me a sign-in link",
    linkSent: "If we know this address, a sign-in link is on its way. It works once.",
    yourRequests: "Your requests", noTickets: "No requests yet.", replyLabel: "Write to us",
    fileLabel: "Attach a file (optional)", send: "Send", sent: "Sent. Thank you.",
    kbTitle: "Search our help articles", search: "Search", noArticles: "No article found.",
    surveyQuestion: "How satisfied are you with the help you received?", you: "You",
    surveyComment: "A comment (optional)", thanks: "Thank you for your answer.",
    failed: "Something went wrong. Please try again.",
    status: { open: "open", reopened: "reopened", pending: "waiting for you",
      on_hold: "on hold", resolved: "resolved", closed: "closed" },
  },
  fa: {
    title: "پشتیبانی", signOut: "خروج", signInTitle: "ورود",
    emailLabel: "نشانی ایمیل شما", sendLink: "پیوند ورود را برایم بفرست",
    linkSent: "اگر این نشانی را بشناسیم، پیوند ورود در راه است. فقط یک بار کار می‌کند.",
    yourRequests: "درخواست‌های شما", noTickets: "هنوز درخواستی ندارید.",
    replyLabel: "به ما بنویسید", fileLabel: "پیوست یک فایل (اختیاری)", send: "ارسال",
    sent: "فرستاده شد. سپاس.", kbTitle: "جست‌وجو در راهنماها", search: "جست‌وجو",
    noArticles: "راهنمایی پیدا نشد.", surveyQuestion: "از کمکی که دریافت کردید چقدر راضی هستید؟",
    surveyComment: "نظر شما (اختیاری)", thanks: "از پاسخ شما سپاسگزاریم.",
    you: "شما", failed: "مشکلی پیش آمد. لطفا دوباره تلاش کنید.",
    status: { open: "باز", reopened: "بازگشایی‌شده", pending: "در انتظار شما",
      on_hold: "معلق", resolved: "حل‌شده", closed: "بسته" },
  },
  ru: {
    title: "Служба поддержки", signOut: "Выйти", signInTitle: "Вход",
    emailLabel: "Ваш адрес электронной почты", sendLink: "Прислать ссылку для входа",
    linkSent: "Если этот адрес нам известен, ссылка для входа уже в пути. Она работает один раз.",
    yourRequests: "Ваши обращения", noTickets: "Обращений пока нет.",
    replyLabel: "Написать нам", fileLabel: "Приложить файл (необязательно)", send: "Отправить",
    sent: "Отправлено. Спасибо.", kbTitle: "Поиск по статьям помощи", search: "Найти",
    noArticles: "Статей не найдено.",
    surveyQuestion: "Насколько вы довольны полученной помощью?", you: "Вы",
    surveyComment: "Комментарий (необязательно)", thanks: "Спасибо за ответ.",
    failed: "Что-то пошло не так. Попробуйте ещё раз.",
    status: { open: "открыто", reopened: "открыто снова", pending: "ждёт вашего ответа",
      on_hold: "отложено", resolved: "решено", closed: "закрыто" },
  },
  el: {
    title: "Υποστήριξη", signOut: "Αποσύνδεση", signInTitle: "Σύνδεση",
    emailLabel: "Η διεύθυνση email σας", sendLink: "Στείλτε μου σύνδεσμο σύνδεσης",
    linkSent: "Αν γνωρίζουμε αυτή τη διεύθυνση, ο σύνδεσμος είναι καθ' οδόν. Λειτουργεί μία φορά.",
    yourRequests: "Τα αιτήματά σας", noTickets: "Δεν υπάρχουν αιτήματα ακόμη.",
    replyLabel: "Γράψτε μας", fileLabel: "Επισύναψη αρχείου (προαιρετικό)", send: "Αποστολή",
    sent: "Στάλθηκε. Ευχαριστούμε.", kbTitle: "Αναζήτηση στα άρθρα βοήθειας",
    search: "Αναζήτηση", noArticles: "Δεν βρέθηκε άρθρο.",
    surveyQuestion: "Πόσο ικανοποιημένοι είστε από τη βοήθεια που λάβατε;", you: "Εσείς",
    surveyComment: "Ένα σχόλιο (προαιρετικό)", thanks: "Ευχαριστούμε για την απάντησή σας.",
    failed: "Κάτι πήγε στραβά. Δοκιμάστε ξανά.",
    status: { open: "ανοιχτό", reopened: "άνοιξε ξανά", pending: "περιμένει εσάς",
      on_hold: "σε αναμονή", resolved: "επιλύθηκε", closed: "κλειστό" },
  },
};
const RTL = new Set(["fa", "ar", "he", "ur"]);

const state = { me: null, language: "en", ticketId: null };

/** A URL of the portal's API, relative to the page wherever it is served. */
function portalUrl(path) {
  return new URL("portal/api/" + path, document.baseURI);
}

/** The knowledge base's public API, through the same gateway: beside intake's root. */
function kbUrl(path) {
  return new URL("../kb/" + path, document.baseURI);
}

function words() {
  return WORDS[state.language] || WORDS.en;
}

function pickLanguage(preferred) {
  const candidates = [preferred, ...(navigator.languages || [navigator.language])];
  for (const tag of candidates) {
    const code = (tag || "").slice(0, 2).toLowerCase();
    if (WORDS[code]) return code;
  }
  return "en";
}

function applyWords() {
  const w = words();
  document.documentElement.lang = state.language;
  document.documentElement.dir = RTL.has(state.language) ? "rtl" : "ltr";
  for (const node of document.querySelectorAll("[data-text]")) {
    const text = w[node.dataset.text];
    if (typeof text === "string") node.textContent = text;
  }
  document.title = w.title;
}

function say(text) {
  document.getElementById("status").textContent = text || "";
}

function element(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (className) node.className = className;
  node.dir = "auto";
  return node;
}

async function call(url, options = {}) {
  const headers = new Headers(options.headers || {});
  if (options.method && options.method !== "GET" && state.me) {
    headers.set("X-CSRF-Token", state.me.csrf_token);
  }
  const answer = await fetch(url, { credentials: "same-origin", ...options, headers });
  if (answer.status === 401) {
    showSignIn();
    throw new Error("signed out");
  }
  if (!answer.ok) throw new Error("HTTP " + answer.status);
  return answer.json();
}

function showSignIn() {
  state.me = null;
  document.getElementById("desk").hidden = true;
  document.getElementById("sign-out").hidden = true;
  document.getElementById("sign-in").hidden = false;
}

async function signIn(event) {
  event.preventDefault();
  const email = document.getElementById("email").value;
  try {
    await fetch(new URL("portal/sign-in", document.baseURI), {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ email }),
    });
    say(words().linkSent);
  } catch (error) {
    say(words().failed);
  }
}

async function signOut() {
  try {
    await call(new URL("portal/sign-out", document.baseURI), { method: "POST" });
  } finally {
    showSignIn();
  }
}

async function loadTickets() {
  const tickets = await call(portalUrl("tickets"));
  const list = document.getElementById("tickets");
  list.replaceChildren();
  for (const ticket of tickets) {
    const item = document.createElement("li");
    item.dataset.ticketId = ticket.ticket_id;
    const button = element("button");
    button.type = "button";
    button.append(element("span", ticket.subject || ticket.reference));
    const status = words().status[ticket.status] || ticket.status;
    button.append(element("span", " · " + ticket.reference + " · " + status, "meta"));
    button.addEventListener("click", () => openTicket(ticket.ticket_id));
    item.append(button);
    list.append(item);
  }
  document.getElementById("no-tickets").hidden = tickets.length > 0;
}

function showSurvey(ticketId, survey) {
  const box = document.getElementById("survey");
  const scores = document.getElementById("survey-scores");
  scores.replaceChildren();
  box.hidden = !survey;
  if (!survey) return;
  for (let score = 1; score <= 5; score += 1) {
    const button = element("button", "★".repeat(score));
    button.type = "button";
    button.addEventListener("click", () => answerSurvey(ticketId, score));
    scores.append(button);
  }
}

async function answerSurvey(ticketId, score) {
  const comment = document.getElementById("survey-comment").value || null;
  try {
    await call(portalUrl("tickets/" + encodeURIComponent(ticketId) + "/survey"), {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ score, comment }),
    });
    document.getElementById("survey").hidden = true;
    say(words().thanks);
  } catch (error) {
    say(words().failed);
  }
}

async function openTicket(ticketId) {
  const ticket = await call(portalUrl("tickets/" + encodeURIComponent(ticketId)));
  state.ticketId = ticket.ticket_id;
  const w = words();
  const section = document.getElementById("ticket");
  section.hidden = false;
  section.lang = ticket.language || state.language;
  document.getElementById("ticket-subject").textContent = ticket.subject;
  document.getElementById("ticket-reference").textContent = ticket.reference;
  document.getElementById("ticket-status").textContent = w.status[ticket.status] || ticket.status;
  const messages = document.getElementById("messages");
  messages.replaceChildren();
  for (const message of ticket.messages) {
    const item = element("li", null, message.author);
    const who = message.author === "customer" ? w.you : message.name;
    const when = message.at ? new Date(message.at).toLocaleString(state.language) : "";
    item.append(element("p", who + (when ? " · " + when : ""), "meta"));
    const body = element("p", message.body, "body");
    body.dir = "auto";
    item.append(body);
    for (const file of message.attachments) {
      item.append(element("p", "📎 " + file.filename, "meta"));
    }
    messages.append(item);
  }
  showSurvey(ticket.ticket_id, ticket.survey);
}

// A reply enters as a contact and threads into its ticket a moment later: look again until it
// is there (or give up after a while; it shows the next time the ticket opens).
async function untilShown(ticketId, count) {
  for (let tries = 0; tries < 20; tries += 1) {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    if (state.ticketId !== ticketId) return;
    await openTicket(ticketId);
    if (document.getElementById("messages").children.length >= count) return;
  }
}

async function reply(event) {
  event.preventDefault();
  if (!state.ticketId) return;
  const form = new FormData(document.getElementById("reply-form"));
  const file = form.get("file");
  if (file && !file.name) form.delete("file");
  try {
    const path = "tickets/" + encodeURIComponent(state.ticketId) + "/reply";
    await call(portalUrl(path), { method: "POST", body: form });
    document.getElementById("reply-form").reset();
    say(words().sent);
    await untilShown(state.ticketId, document.getElementById("messages").children.length + 1);
  } catch (error) {
    say(words().failed);
  }
}

async function searchKb(event) {
  event.preventDefault();
  const url = kbUrl("articles/search");
  url.searchParams.set("q", document.getElementById("kb-query").value);
  url.searchParams.set("language", state.language);
  const list = document.getElementById("kb-results");
  list.replaceChildren();
  try {
    const answer = await fetch(url).then((r) => (r.ok ? r.json() : Promise.reject(r.status)));
    for (const result of answer.results) {
      const item = document.createElement("li");
      const button = element("button", result.title);
      button.type = "button";
      button.addEventListener("click", () => {
        // Named in the address (to keep or share) without a hashchange opening it twice.
        history.replaceState(null, "", "#" + new URLSearchParams({ article: result.article_id }));
        openArticle(result.article_id, answer.query_id);
      });
      item.append(button);
      list.append(item);
    }
    if (!answer.results.length) list.append(element("li", words().noArticles));
  } catch (error) {
    say(words().failed);
  }
}

async function openArticle(articleId, queryId, language) {
  const url = kbUrl("articles/" + encodeURIComponent(articleId));
  url.searchParams.set("language", language || state.language);
  if (queryId) url.searchParams.set("query_id", queryId);
  const answer = await fetch(url);
  if (!answer.ok) return;
  const article = await answer.json();
  document.getElementById("kb-article").hidden = false;
  document.getElementById("kb-article-title").textContent = article.title;
  document.getElementById("kb-article-body").textContent = article.body;
}

// `#article=<id>`, with `&language=<code>` where the link names the article's language.
function articleInFragment() {
  const fragment = new URLSearchParams(location.hash.slice(1));
  const id = fragment.get("article");
  return id ? { id, language: fragment.get("language") } : null;
}

function openArticleInFragment() {
  const article = articleInFragment();
  if (article) openArticle(article.id, null, article.language);
}

async function start() {
  document.getElementById("sign-in-form").addEventListener("submit", signIn);
  document.getElementById("sign-out").addEventListener("click", signOut);
  document.getElementById("reply-form").addEventListener("submit", reply);
  document.getElementById("kb-form").addEventListener("submit", searchKb);
  window.addEventListener("hashchange", openArticleInFragment);
  state.language = pickLanguage(null);
  applyWords();
  openArticleInFragment();
  try {
    state.me = await call(portalUrl("me"));
  } catch (error) {
    showSignIn();
    return;
  }
  state.language = pickLanguage(state.me.language);
  applyWords();
  document.getElementById("sign-in").hidden = true;
  document.getElementById("desk").hidden = false;
  document.getElementById("sign-out").hidden = false;
  await loadTickets();
}

document.addEventListener("DOMContentLoaded", start);
