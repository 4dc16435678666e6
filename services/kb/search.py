"""The search index each replica answers from: tantivy in memory, a field per language analysed
by `domain.analysis`, BM25 with the title weighted over the body, typos forgiven in short queries.

One document per translation of a published article. Writes are batched: `replace` and
`remove` queue changes, `commit` makes them visible to the next search.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import tantivy

from services.kb.domain.analysis import LANGUAGES, query_terms, spans
from services.kb.domain.articles import Translation
from services.kb.domain.snippets import fuzzy_distance, snippet

__all__ = ["Found", "Hit", "SearchIndex", "Translation", "Tuning"]


@dataclass(frozen=True)
class Tuning:
    """How matches are weighed; `config/kb/kb.yaml` sets them."""

    title_boost: float = 1.5
    tags_boost: float = 1.5
    #: Queries of at most this many terms also match words a typo or two away.
    fuzzy_max_terms: int = 3
    #: A typo match counts this much of an exact match of the same field.
    fuzzy_weight: float = 0.5
    snippet_chars: int = 200


@dataclass(frozen=True)
class Hit:
    article_id: str
    language: str
    title: str
    category: str | None
    score: float
    snippet: str


@dataclass(frozen=True)
class Found:
    """A search's outcome: the languages searched and the hits, best first."""

    languages: tuple[str, ...]
    hits: list[Hit] = field(default_factory=list)


def _fields(language: str) -> tuple[str, str, str]:
    return f"title_{language}", f"body_{language}", f"tags_{language}"


def _schema(languages: Sequence[str]) -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    for name in ("article_id", "language", "category"):
        builder.add_text_field(name, stored=True, tokenizer_name="raw")
    for language in languages:
        for name in _fields(language):
            # Terms come pre-analysed; the stored text is the author's own.
            builder.add_text_field(name, stored=True, index_option="position")
    return builder.build()


def _tokens(text: str, language: str) -> tantivy.PreTokenizedString:
    Token = tantivy.Token
    tokens = [
        Token(term, position, start, end) for term, start, end, position in spans(text, language)
    ]
    return tantivy.PreTokenizedString(text, tokens)


class SearchIndex:
    """Articles searchable in the languages it was built for."""

    def __init__(
        self,
        languages: Sequence[str] = LANGUAGES,
        tuning: Tuning | None = None,
        *,
        writer_memory: int = 64_000_000,
    ) -> None:
        unknown = set(languages) - set(LANGUAGES)
        if unknown:
            raise ValueError(f"no analysis for languages {sorted(unknown)}; have {LANGUAGES}")
        self.languages = tuple(languages)
        self.tuning = tuning or Tuning()
        self._schema = _schema(self.languages)
        self._index = tantivy.Index(self._schema)
        self._writer = self._index.writer(writer_memory, 1)

    def __len__(self) -> int:
        return int(self._index.searcher().num_docs)

    def document(self, translation: Translation) -> tantivy.Document:
        if translation.language not in self.languages:
            raise ValueError(f"language {translation.language!r} is not indexed")
        title, body, tags = _fields(translation.language)
        doc = tantivy.Document()
        doc.add_text("article_id", translation.article_id)
        doc.add_text("language", translation.language)
        if translation.category:
            doc.add_text("category", translation.category)
        doc.add_pre_tokenized_text(title, _tokens(translation.title, translation.language))
        doc.add_pre_tokenized_text(body, _tokens(translation.body, translation.language))
        tags_text = " ".join(translation.tags)
        doc.add_pre_tokenized_text(tags, _tokens(tags_text, translation.language))
        return doc

    def replace(self, article_id: str, translations: Iterable[Translation]) -> None:
        """Queue the article's translations in place of what was indexed for it."""
        self._writer.delete_documents_by_term("article_id", article_id)
        for translation in translations:
            self._writer.add_document(self.document(translation))

    def remove(self, article_id: str) -> None:
        self._writer.delete_documents_by_term("article_id", article_id)

    def clear(self) -> None:
        self._writer.delete_all_documents()

    def commit(self) -> None:
        """Make every queued change visible to searches."""
        self._writer.commit()
        self._index.reload()

    def _language_query(self, terms: list[str], language: str) -> tantivy.Query | None:
        title, body, tags = _fields(language)
        tuning = self.tuning
        fuzzy = len(terms) <= tuning.fuzzy_max_terms
        clauses: list[tuple[tantivy.Occur, tantivy.Query]] = []
        for term in terms:
            for name, boost in (
                (title, tuning.title_boost),
                (body, 1.0),
                (tags, tuning.tags_boost),
            ):
                exact = tantivy.Query.term_query(self._schema, name, term)
                clauses.append((tantivy.Occur.Should, tantivy.Query.boost_query(exact, boost)))
                distance = fuzzy_distance(term) if fuzzy else 0
                if distance and name != tags:
                    near = tantivy.Query.fuzzy_term_query(self._schema, name, term, distance)
                    weight = boost * tuning.fuzzy_weight
                    clauses.append((tantivy.Occur.Should, tantivy.Query.boost_query(near, weight)))
        return tantivy.Query.boolean_query(clauses) if clauses else None

    def search(
        self,
        text: str,
        languages: Sequence[str] | None = None,
        *,
        limit: int = 10,
        category: str | None = None,
    ) -> Found:
        """The best `limit` articles for `text`, searched in `languages` (default: all)."""
        chosen = tuple(lang for lang in (languages or self.languages) if lang in self.languages)
        terms = {lang: query_terms(text, lang) for lang in chosen}
        parts = [q for lang in chosen if (q := self._language_query(terms[lang], lang))]
        if not parts:
            return Found(chosen)
        query = tantivy.Query.boolean_query([(tantivy.Occur.Should, q) for q in parts])
        if category:
            only = tantivy.Query.term_query(self._schema, "category", category)
            query = tantivy.Query.boolean_query(
                [(tantivy.Occur.Must, query), (tantivy.Occur.Must, only)]
            )
        searcher = self._index.searcher()
        hits = []
        for score, address in searcher.search(query, limit).hits:
            doc = searcher.doc(address)
            language = str(doc.get_first("language"))
            title, body, _ = _fields(language)
            words = terms[language]
            fuzzy = words if len(words) <= self.tuning.fuzzy_max_terms else []
            hits.append(
                Hit(
                    article_id=str(doc.get_first("article_id")),
                    language=language,
                    title=doc.get_first(title) or "",
                    category=doc.get_first("category"),
                    score=round(float(score), 4),
                    snippet=snippet(
                        doc.get_first(body) or "",
                        language,
                        words,
                        fuzzy,
                        size=self.tuning.snippet_chars,
                    ),
                )
            )
        return Found(chosen, hits)
