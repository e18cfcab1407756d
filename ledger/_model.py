"""Domain events and aggregates on top of ``eventsourcing``, and the mapper that stores them.

Every event is one signed statement. The mapper stores exactly the statement's canonical
JSON ({actor, body, sig, type}) with the event type as topic, so neither the entry format
nor the database holds a Python module path (SPEC.md section 3); the recorder turns that
state into the chained entry inside the write transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from eventsourcing.persistence import JSONTranscoder, Mapper, StoredEvent

from verifier import dumps
from verifier._canonical import loads

__all__ = ["Record", "Stated", "StatementMapper"]


@dataclass(frozen=True)
class Stated:
    """One statement applied to one stream (aggregate)."""

    originator_id: str
    originator_version: int
    timestamp: datetime
    type: str
    actor: str
    body: dict[str, Any]
    sig: dict[str, str]

    def mutate(self, aggregate: Record | None) -> Record:
        if aggregate is None:
            aggregate = Record(self.originator_id)
        if self.originator_version != aggregate.version + 1:
            raise ValueError(f"{self.originator_id}: version {self.originator_version} does "
                             f"not follow {aggregate.version}")
        aggregate.apply(self)
        return aggregate


@dataclass
class Record:
    """An entity, inspector, key or department as its statements so far describe it.

    Fields of later statements override earlier ones, so ``fields`` is the current view;
    ``history`` keeps every statement type in order.
    """

    id: str
    version: int = 0
    fields: dict[str, Any] = field(default_factory=dict)
    history: list[str] = field(default_factory=list)
    ended: bool = False

    def apply(self, event: Stated) -> None:
        self.version = event.originator_version
        self.fields.update(event.body)
        self.history.append(event.type)
        if event.type.endswith((".removed", ".revoked")):
            self.ended = True


class StatementMapper(Mapper[str]):
    """Stores a Stated event as its canonical statement; the topic is the event type."""

    def __init__(self) -> None:
        super().__init__(transcoder=JSONTranscoder())

    def to_stored_event(self, domain_event: Any) -> StoredEvent:
        event: Stated = domain_event
        state = dumps({"actor": event.actor, "body": event.body, "sig": event.sig,
                       "type": event.type})
        return StoredEvent(originator_id=event.originator_id,
                           originator_version=event.originator_version,
                           topic=event.type, state=state)

    def to_domain_event(self, stored_event: StoredEvent) -> Any:
        state = loads(stored_event.state)  # the verifier's codec, as dumps above
        return Stated(originator_id=str(stored_event.originator_id),
                      originator_version=stored_event.originator_version,
                      timestamp=datetime.fromisoformat(state["sig"]["ctime"]),
                      type=state["type"], actor=state["actor"], body=state["body"],
                      sig=state["sig"])
