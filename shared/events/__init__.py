"""Event contracts, one frozen pydantic model per event, a discriminated union per topic."""

from pydantic import TypeAdapter

from shared.events.agents import AgentEvent, AgentPresenceChanged, Presence
from shared.events.contacts import (
    AttachmentInfo,
    CallRecord,
    ChatMessage,
    ContactEvent,
    ContactReceived,
    EmailMessage,
)
from shared.events.customers import CustomerErased, CustomerEvent, CustomerMerged
from shared.events.deadletter import DeadLettered
from shared.events.envelope import Event
from shared.events.insights import (
    CategoryLine,
    InsightsEvent,
    MonthlyReportReady,
    SignalKind,
    SignalRaised,
    SurveyOffered,
)
from shared.events.kb import (
    ArticleMatch,
    KbArticleChanged,
    KbDeflected,
    KbEvent,
    KbFeedback,
    KbSearched,
    KbSelfHelpOffered,
    KbSuggested,
)
from shared.events.notifications import (
    EscalationAcknowledged,
    NotificationDelivered,
    NotificationEvent,
    NotificationFailed,
    NotificationPushed,
)
from shared.events.routing import (
    QueueOrder,
    RoutingEvent,
    TicketAssigned,
    TicketEscalated,
    TicketQueued,
    TicketRouted,
    TicketTransferred,
    TicketTransfersExceeded,
    TransferCause,
)
from shared.events.sla import (
    SlaBreached,
    SlaEvent,
    SlaMet,
    SlaPaused,
    SlaRecomputed,
    SlaResumed,
    SlaStarted,
    SlaWarning,
)
from shared.events.tickets import (
    TicketAgentReplied,
    TicketContactAppended,
    TicketCsatReceived,
    TicketEscalationRequested,
    TicketEvent,
    TicketNoteAdded,
    TicketOpened,
    TicketPriorityChanged,
    TicketStatusChanged,
    TicketTransferRequested,
)

contact_events: TypeAdapter[ContactReceived] = TypeAdapter(ContactEvent)
ticket_events: TypeAdapter[TicketEvent] = TypeAdapter(TicketEvent)
routing_events: TypeAdapter[RoutingEvent] = TypeAdapter(RoutingEvent)
agent_events: TypeAdapter[AgentPresenceChanged] = TypeAdapter(AgentEvent)
customer_events: TypeAdapter[CustomerMerged | CustomerErased] = TypeAdapter(CustomerEvent)
sla_events: TypeAdapter[SlaEvent] = TypeAdapter(SlaEvent)
kb_events: TypeAdapter[KbEvent] = TypeAdapter(KbEvent)
notification_events: TypeAdapter[NotificationEvent] = TypeAdapter(NotificationEvent)
insights_events: TypeAdapter[SurveyOffered | SignalRaised | MonthlyReportReady] = TypeAdapter(
    InsightsEvent
)

__all__ = [
    "AgentEvent",
    "AgentPresenceChanged",
    "ArticleMatch",
    "AttachmentInfo",
    "CallRecord",
    "CategoryLine",
    "ChatMessage",
    "ContactEvent",
    "ContactReceived",
    "CustomerErased",
    "CustomerEvent",
    "CustomerMerged",
    "DeadLettered",
    "EmailMessage",
    "EscalationAcknowledged",
    "Event",
    "InsightsEvent",
    "KbArticleChanged",
    "KbDeflected",
    "KbEvent",
    "KbFeedback",
    "KbSearched",
    "KbSelfHelpOffered",
    "KbSuggested",
    "MonthlyReportReady",
    "NotificationDelivered",
    "NotificationEvent",
    "NotificationFailed",
    "NotificationPushed",
    "Presence",
    "QueueOrder",
    "RoutingEvent",
    "SignalKind",
    "SignalRaised",
    "SlaBreached",
    "SlaEvent",
    "SlaMet",
    "SlaPaused",
    "SlaRecomputed",
    "SlaResumed",
    "SlaStarted",
    "SlaWarning",
    "SurveyOffered",
    "TicketAgentReplied",
    "TicketAssigned",
    "TicketContactAppended",
    "TicketCsatReceived",
    "TicketEscalated",
    "TicketEscalationRequested",
    "TicketEvent",
    "TicketNoteAdded",
    "TicketOpened",
    "TicketPriorityChanged",
    "TicketQueued",
    "TicketRouted",
    "TicketStatusChanged",
    "TicketTransferRequested",
    "TicketTransferred",
    "TicketTransfersExceeded",
    "TransferCause",
    "contact_events",
    "customer_events",
    "insights_events",
    "kb_events",
    "notification_events",
    "routing_events",
    "sla_events",
    "ticket_events",
]
