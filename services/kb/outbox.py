"""The knowledge base's publishers: one per event it publishes, all on its own topic; each both
documents its event in the AsyncAPI document and is the only way that event goes out."""

from __future__ import annotations

from dataclasses import dataclass

from shared.consuming import ConsumerKit
from shared.events import (
    Event,
    KbArticleChanged,
    KbDeflected,
    KbFeedback,
    KbSearched,
    KbSelfHelpOffered,
    KbSuggested,
)
from shared.publishing import Publisher


@dataclass(frozen=True)
class Outbox:
    """A publisher per event: `KbService` publishes through these and nothing else."""

    suggested: Publisher
    searched: Publisher
    feedback: Publisher
    offered: Publisher
    deflected: Publisher
    changed: Publisher

    @classmethod
    def on(cls, kit: ConsumerKit, topic: str) -> Outbox:
        def declare(schema: type[Event]) -> Publisher:
            title = str(schema.model_fields["event_type"].default)
            summary = (schema.__doc__ or "").strip().split("\n", 1)[0]
            return kit.publisher(topic, schema, title=title, description=summary)

        return cls(
            suggested=declare(KbSuggested),
            searched=declare(KbSearched),
            feedback=declare(KbFeedback),
            offered=declare(KbSelfHelpOffered),
            deflected=declare(KbDeflected),
            changed=declare(KbArticleChanged),
        )
