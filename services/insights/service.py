"""The insights service's use cases: fold a batch of events into ticket facts (raising the signs
of poor service it shows, arming the timers it calls for), fire the timers that fall due
(surveys, waits too long), take customers' survey answers, and answer the reports."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from services.insights.agent_watch import AgentWatch
from services.insights.config import InsightsRules
from services.insights.domain import monthly
from services.insights.domain.facts import TicketFact
from services.insights.domain.fold import apply
from services.insights.domain.followups import (
    TIMER_KINDS,
    FollowUpRules,
    TimerKind,
    signals_of,
    timers,
    wait_signal,
)
from services.insights.domain.surveys import Survey
from services.insights.domain.timers import Timer
from services.insights.outlets import Outlets
from services.insights.service_reports import ReportCases
from services.insights.service_surveys import SurveyCases
from services.insights.store import InsightsStore
from shared.agent_tokens import TokenKeys
from shared.business_calendar import Calendars
from shared.clock import Clock
from shared.consuming import Batch
from shared.events import (
    CustomerErased,
    Event,
    MonthlyReportReady,
    SurveyOffered,
    TicketAgentReplied,
    TicketOpened,
)
from shared.ids import derived_id
from shared.logging import get_logger

log = get_logger(__name__)

#: Languages the survey is written in; a ticket in another gets English.
SURVEY_LANGUAGES = ("en", "fa", "ru", "el")
#: The issuer of survey links' tokens (signed with the people's token secret).
SURVEY_ISSUER = "helpdesk-insights-survey"
#: Timers fired per round of the timer loop.
FIRE_BATCH = 100


class InsightsService(ReportCases, SurveyCases):
    def __init__(
        self,
        store: InsightsStore,
        rules: InsightsRules,
        clock: Clock,
        outlets: Outlets | None = None,
        *,
        survey_keys: TokenKeys | None = None,
        public_url: str | None = None,
        on_armed: Callable[[datetime], None] | None = None,
    ) -> None:
        self.store = store
        self.rules = rules
        self.calendars: Calendars = rules.calendars
        self.clock = clock
        self.outlets = outlets
        self.survey_keys = survey_keys
        self.public_url = public_url.rstrip("/") if public_url else None
        self.on_armed = on_armed or (lambda _at: None)
        self.agents = AgentWatch(store, rules, clock)
        surveys, signals = rules.surveys, rules.signals
        offering = survey_keys is not None and self.public_url is not None
        if not offering:
            log.warning("surveys.off", reason="no public URL or no token secret")
        self.follow = FollowUpRules(
            survey_delay=surveys.delay,
            survey_channels=surveys.channels if offering else frozenset(),
            low_score=surveys.low_score,
            queue_wait=signals.queue_wait,
            reply_wait=signals.reply_wait,
            transfers=signals.transfers,
            repeat_contact=signals.repeat_contact,
            website_only_max_words=signals.website_only_max_words,
        )

    # -- folding events --------------------------------------------------------------------------

    async def take(self, batch: Batch[Event]) -> None:
        """Fold the batch's events into their tickets' facts (one read, one bulk write), raise
        the signals they show, and bring the tickets' timers up to date."""
        tickets = {d.event.ticket_id for d in batch if d.event.ticket_id}
        repeats = {
            d.event.repeat_of
            for d in batch
            if isinstance(d.event, TicketOpened) and d.event.repeat_of
        }
        stored = await self.store.facts(tickets | repeats)
        folded: dict[str, TicketFact] = {}
        replies: list[TicketAgentReplied] = []
        for delivery in batch:
            with batch.isolate(delivery):
                event = delivery.event
                before = folded.get(event.ticket_id or "") or stored.get(event.ticket_id or "")
                fact = apply(before, event)
                if fact is before:
                    continue  # applied before: a redelivery
                repeat = event.repeat_of if isinstance(event, TicketOpened) else None
                earlier = (folded.get(repeat) or stored.get(repeat)) if repeat else None
                if earlier is not None and earlier.channel is not None:
                    fact = fact.model_copy(update={"repeat_channel": earlier.channel})
                for signal in signals_of(fact, event, self.follow, self.rules.phrases, before):
                    self._publish(batch, signal)
                folded[fact.ticket_id] = fact
                if isinstance(event, TicketAgentReplied):
                    replies.append(event)
        # Signals go out before the facts are saved: a crash in between folds the same events
        # again and raises the same ids (the consumers drop repeats); the other order could
        # save the fact and never raise its signal.
        await batch.flush()
        # Every ticket of the batch, changed or not: a redelivery after a crash between the
        # timers' write and the facts' arms what the first try did not.
        current = {t: f for t in tickets if (f := folded.get(t) or stored.get(t)) is not None}
        current.update(await self._rearm(current))
        held, agent_timers, agent_signals = await self.agents.after_fold(current, replies)
        current.update(held)
        if agent_timers:
            await self.store.set_timers(agent_timers)
            self._armed(agent_timers)
        if agent_signals and self.outlets is not None:
            await self.outlets.insights.publish_all(agent_signals)
        folded.update(current)
        changed = [f for tid, f in folded.items() if f is not stored.get(tid)]
        if changed:
            await self.store.save(changed)

    def _publish(self, batch: Batch[Event], event: Event) -> None:
        if self.outlets is not None:
            batch.publish(self.outlets.insights, event)

    async def _rearm(self, facts: dict[str, TicketFact]) -> dict[str, TicketFact]:
        """Write the timers whose due time or key changed (known from what each fact says it
        armed, so no read); the facts that now say so, to be saved after the timers."""
        changes: list[Timer] = []
        rearmed: dict[str, TicketFact] = {}
        for ticket_id, fact in facts.items():
            wanted = timers(fact, self.follow, self.calendars)
            marks: dict[str, str] = {
                kind: f"{due.key}|{due.due_at.isoformat()}" for kind, due in wanted.items()
            }
            if marks == fact.armed:
                continue
            for kind in TIMER_KINDS:
                if marks.get(kind) == fact.armed.get(kind):
                    continue
                due = wanted.get(kind)
                changes.append(Timer(ticket_id=ticket_id, kind=kind,
                                     due_at=due.due_at if due else None,
                                     key=due.key if due else None))  # fmt: skip
            rearmed[ticket_id] = fact.model_copy(update={"armed": marks})
        if changes:
            await self.store.set_timers(changes)
            self._armed(changes)
        return rearmed

    def _armed(self, timers: list[Timer]) -> None:
        armed = [t.due_at for t in timers if t.due_at is not None]
        if armed:
            self.on_armed(min(armed))

    # -- timers ----------------------------------------------------------------------------------

    async def fire_due(self) -> int:
        """Act on the timers due now: offer surveys, raise waits' signals. Returns how many
        timers were due (the loop goes on at once while there are more)."""
        now = self.clock.now()
        due = await self.store.due_timers(now, FIRE_BATCH)
        if not due:
            return 0
        facts = await self.store.facts({t.ticket_id for t in due if t.kind != "over_capacity"})
        surveys: list[Survey] = []
        events: list[Event] = []
        fired: list[Timer] = []
        moved: list[Timer] = []
        for timer in due:
            if timer.kind == "over_capacity":
                fired.append(timer)
                if timer.key not in timer.fired and (signal := await self.agents.fire(timer, now)):
                    events.append(signal)
                continue
            fact = facts.get(timer.ticket_id)
            wanted = timers(fact, self.follow, self.calendars).get(timer.kind) if fact else None
            if fact is None or wanted is None or timer.key in timer.fired:
                fired.append(timer)  # nothing is due any more: disarm
            elif wanted.key != timer.key or wanted.due_at > now:
                moved.append(Timer(ticket_id=timer.ticket_id, kind=timer.kind,
                                   due_at=wanted.due_at, key=wanted.key))  # fmt: skip
            else:
                fired.append(timer)
                if timer.kind == "survey":
                    survey, offered = self._survey(fact, now)
                    surveys.append(survey)
                    events.append(offered)
                else:
                    signal = wait_signal(fact, wanted, self._threshold(timer.kind), now)
                    if signal.team is not None or signal.agent_id is not None:
                        events.append(signal)  # (a ticket of nobody's has nobody to tell)
        if events and self.outlets is not None:
            # Out first, then recorded: a crash in between offers the same ids again.
            await self.outlets.insights.publish_all(events)
        if surveys:
            await self.store.offer_surveys(surveys)
        if moved:
            await self.store.set_timers(moved)
        await self.store.fired(fired)
        for event in events:
            log.info("insights.raised", event_type=event.event_type, ticket_id=event.ticket_id)
        return len(due)

    def _threshold(self, kind: TimerKind) -> timedelta:
        threshold = self.follow.queue_wait if kind == "queue_wait" else self.follow.reply_wait
        assert threshold is not None  # armed only when configured
        return threshold

    def _survey(self, fact: TicketFact, now: datetime) -> tuple[Survey, SurveyOffered]:
        assert self.survey_keys is not None and self.public_url is not None  # armed only then
        valid_for = self.rules.surveys.link_valid_for
        language = fact.language if fact.language in SURVEY_LANGUAGES else "en"
        token = self.survey_keys.issue(fact.ticket_id, ttl=valid_for, now=now)
        survey = Survey(
            ticket_id=fact.ticket_id,
            reference=fact.reference,
            customer_id=fact.customer_id,
            channel=fact.channel,
            language=language,
            team=fact.team,
            offered_at=now,
            expires_at=now + valid_for,
        )
        offered = SurveyOffered(
            event_id=derived_id("insights-survey", fact.ticket_id),
            ticket_id=fact.ticket_id,
            reference=fact.reference,
            customer_id=fact.customer_id,
            channel=fact.channel,
            language=language,
            link=f"{self.public_url}/survey/{token}",
            expires_at=survey.expires_at,
            occurred_at=now,
        )
        return survey, offered

    async def next_due(self) -> datetime | None:
        return await self.store.next_due()

    async def send_monthly_reports(self) -> list[str]:
        """Publish each manager's report of last month once it is due (the first working day
        of the month on their team's calendar); returns the reports sent (`manager:month`)."""
        rules = self.rules.monthly_report
        if not rules.enabled or self.outlets is None:
            return []
        now = self.clock.now()
        start = monthly.month_start(now)
        month = monthly.previous_month(start)
        managers: dict[str, list[str]] = {}
        for team in self.rules.directory.teams:
            managers.setdefault(team.manager.person_id, []).append(team.name)
        due = {
            manager: teams
            for manager, teams in managers.items()
            if now >= monthly.due_at(self.calendars.for_team(teams[0]), now, rules.after_opening)
        }
        # A desk that had no ticket yet by the month's end (a new deployment) has no report of
        # it to send; not recorded, so a history read later still brings it.
        if not due or not await self.store.any_opened_before(start):
            return []
        keys = {manager: f"{manager}:{month}" for manager in due}
        sent = await self.store.reports_sent(list(keys.values()))
        events: list[MonthlyReportReady] = []
        for manager, teams in due.items():
            if keys[manager] in sent:
                continue
            tree = await self.categories(month, frozenset(teams))
            events.append(
                MonthlyReportReady(
                    event_id=derived_id("insights-monthly", keys[manager]),
                    manager_id=manager,
                    month=month,
                    teams=teams,
                    tickets=tree.tickets,
                    previous_tickets=tree.previous_tickets,
                    lines=monthly.lines_of(tree),
                    link=f"{self.public_url}/reports/page" if self.public_url else None,
                    occurred_at=now,
                )
            )
        if events:
            await self.outlets.insights.publish_all(events)
            await self.store.report_sent([keys[e.manager_id] for e in events])
        return [keys[e.manager_id] for e in events]

    async def erase(self, event: CustomerErased) -> None:
        await self.store.forget_customer(event.ticket_ids, [event.customer_id, *event.customer_ids])
