"""Plain BM25, the baseline `make eval-kb` and `make bench-kb` measure the search against.

The same engine (tantivy) with its default analysis: words split at non-letters and
lowercased, no folding of letter forms or accents, no stemming, title and body weighed the
same, no typo tolerance. What differs from `services.kb.search` is the language analysis
and the weighting alone.
"""

from __future__ import annotations

from collections.abc import Iterable

import tantivy

from services.kb.domain.articles import Translation

_DEFAULT = (
    tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
    .filter(tantivy.Filter.remove_long(40))
    .filter(tantivy.Filter.lowercase())
    .build()
)


class PlainBM25:
    """Articles in one title and one body field, tantivy's `default` tokenizer."""

    def __init__(self, *, writer_memory: int = 64_000_000) -> None:
        builder = tantivy.SchemaBuilder()
        builder.add_text_field("article_id", stored=True, tokenizer_name="raw")
        builder.add_text_field("title", stored=True, tokenizer_name="default")
        builder.add_text_field("body", stored=True, tokenizer_name="default")
        self._schema = builder.build()
        self._index = tantivy.Index(self._schema)
        self._writer = self._index.writer(writer_memory, 1)

    def __len__(self) -> int:
        return int(self._index.searcher().num_docs)

    def add(self, translations: Iterable[Translation]) -> None:
        for t in translations:
            doc = tantivy.Document(article_id=t.article_id, title=t.title, body=t.body)
            self._writer.add_document(doc)

    def commit(self) -> None:
        self._writer.commit()
        self._index.reload()

    def search(self, text: str, *, limit: int = 10) -> list[tuple[str, float]]:
        """(article id, score) of the best `limit` articles, best first."""
        clauses = [
            (tantivy.Occur.Should, tantivy.Query.term_query(self._schema, name, term))
            for term in dict.fromkeys(_DEFAULT.analyze(text))
            for name in ("title", "body")
        ]
        if not clauses:
            return []
        searcher = self._index.searcher()
        found = searcher.search(tantivy.Query.boolean_query(clauses), limit).hits
        return [(str(searcher.doc(a).get_first("article_id")), float(s)) for s, a in found]
