"""The search index: BM25 per language, the title weighted over the body, typos forgiven in
short queries, categories, and snippets whose text is always escaped."""

from __future__ import annotations

from services.kb.domain.articles import Translation
from services.kb.domain.snippets import snippet, within
from services.kb.search import SearchIndex


def index(*translations: Translation) -> SearchIndex:
    built = SearchIndex()
    for t in translations:
        built.replace(t.article_id, [t])
    built.commit()
    return built


def en(article_id: str, title: str, body: str, **kw: object) -> Translation:
    return Translation(article_id, "en", title, body, **kw)  # type: ignore[arg-type]


def ids(found: object) -> list[str]:
    return [h.article_id for h in found.hits]  # type: ignore[attr-defined]


def test_a_word_in_the_title_outranks_the_same_word_in_the_body() -> None:
    built = index(
        en("body", "Account settings", "How to change the router channel and more words"),
        en("title", "Router keeps restarting", "Check the cable and more words here"),
    )
    assert ids(built.search("router", ["en"])) == ["title", "body"]


def test_short_queries_forgive_a_typo_but_exact_matches_rank_first() -> None:
    built = index(
        en("pw", "Reset your password", "Use the sign-in page."),
        en("other", "Passport photos", "Upload a passport photo."),
    )
    assert ids(built.search("pasword", ["en"]))[:1] == ["pw"]
    exact, near = built.search("password", ["en"]).hits
    assert exact.article_id == "pw" and exact.score > near.score


def test_long_queries_do_not_match_typos() -> None:
    built = index(en("pw", "Reset your password", "Use the sign-in page."))
    assert ids(built.search("how can I change my pasword today please", ["en"])) == []


def test_each_language_is_searched_with_its_own_analysis() -> None:
    built = index(
        Translation("fa-1", "fa", "کتاب‌های آموزشی", "راهنمای کامل"),
        Translation("el-1", "el", "Αλλαγή κωδικού", "Ο κωδικός πρόσβασης αλλάζει εδώ."),
        Translation("ru-1", "ru", "Сброс пароля", "Как сбросить пароль."),
    )
    assert ids(built.search("كتاب", ["fa"])) == ["fa-1"]
    assert ids(built.search("ΚΩΔΙΚΟΣ", ["el"])) == ["el-1"]
    assert ids(built.search("паролем", ["ru"])) == ["ru-1"]
    assert ids(built.search("паролем", ["en"])) == []
    assert ids(built.search("паролем")) == ["ru-1"]


def test_replacing_and_removing_an_article_takes_effect_at_commit() -> None:
    built = index(en("a", "Old title", "old words"))
    built.replace("a", [en("a", "New title", "fresh words")])
    assert ids(built.search("fresh", ["en"])) == []
    built.commit()
    assert ids(built.search("fresh", ["en"])) == ["a"]
    assert ids(built.search("old", ["en"])) == []
    built.remove("a")
    built.commit()
    assert len(built) == 0


def test_category_narrows_the_search() -> None:
    built = index(
        en("a", "Router help", "router", category="network"),
        en("b", "Router bills", "router", category="billing"),
    )
    assert ids(built.search("router", ["en"], category="billing")) == ["b"]


def test_html_in_an_article_is_escaped_in_its_snippet() -> None:
    body = 'Press <b>Reset</b> then <script>alert("x")</script> wait & "retry"'
    built = index(en("x", "<i>Reset</i> guide", body))
    [hit] = built.search("<b>reset</b>", ["en"]).hits
    assert "<script>" not in hit.snippet and "<b>" not in hit.snippet
    assert "&lt;script&gt;" in hit.snippet
    assert "<mark>Reset</mark>" in hit.snippet
    assert "&amp;" in hit.snippet
    assert hit.snippet.replace("<mark>", "").replace("</mark>", "").count("<") == 0


def test_a_query_made_of_markup_finds_nothing_and_breaks_nothing() -> None:
    built = index(en("x", "Guide", "plain text"))
    assert ids(built.search('"><img src=x onerror=alert(1)>', ["en"])) == []
    assert ids(built.search("AND OR NOT ( ) : * ~ ^", ["en"])) == []


def test_snippet_marks_typo_matches_and_keeps_the_authors_spelling() -> None:
    text = "Choose «Forgot password» on the sign-in page."
    assert "<mark>password</mark>" in snippet(text, "en", [], ["pasword"])
    persian = "اگر اتصال وای‌فای شما قطع می‌شود"
    assert "<mark>وای‌فای</mark>" in snippet(persian, "fa", ["وایفای"])


def test_edit_distance_counts_a_swap_as_one() -> None:
    assert within("passwrod", "password", 1)
    assert within("pasword", "password", 1)
    assert not within("passport", "password", 1)
