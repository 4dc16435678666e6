"""The customer's self-help page: the articles offered for their request, each with a
"this solved it" button. Rendered with Jinja2, every value escaped."""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from pydantic import BaseModel

from services.kb.domain.articles import Article

_ENV = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
)
#: The page's words per language; English for any other.
WORDS = {
    "en": ("Answers to your request", "This solved it", "Thank you. Your request is closed."),
    "fa": ("پاسخ‌هایی برای درخواست شما", "مشکلم حل شد", "سپاسگزاریم. درخواست شما بسته شد."),
    "ru": ("Ответы на ваш запрос", "Это помогло", "Спасибо. Ваш запрос закрыт."),
    "el": ("Απαντήσεις στο αίτημά σας", "Αυτό το έλυσε", "Ευχαριστούμε. Το αίτημά σας έκλεισε."),
}
RTL = {"fa"}


class OfferedArticle(BaseModel):
    article_id: str
    language: str
    title: str
    body: str


class Offer(BaseModel):
    ticket_id: str
    reference: str
    language: str
    articles: list[OfferedArticle]
    solved_by: str | None = None


def offered_article(article: Article, language: str) -> OfferedArticle:
    chosen = language if language in article.translations else next(iter(article.translations))
    text = article.translations[chosen]
    return OfferedArticle(
        article_id=article.article_id, language=chosen, title=text.title, body=text.body
    )


def render(offer: Offer, token: str) -> str:
    heading, button, done = WORDS.get(offer.language, WORDS["en"])
    return _ENV.get_template("self_help.html").render(
        offer=offer,
        token=token,
        heading=heading,
        button=button,
        done=done if offer.solved_by else None,
        direction="rtl" if offer.language in RTL else "ltr",
    )


def thanks(ticket_id: str, language: str = "en") -> str:
    _, _, done = WORDS.get(language, WORDS["en"])
    return _ENV.get_template("thanks.html").render(done=done, ticket_id=ticket_id)
