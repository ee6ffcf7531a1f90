"""The accumulator of {{name}}: the host opens one per run, feeds it events in batches, then
asks for the metrics."""

from typing import List, Self

from wit_world.exports import kpi
from wit_world.imports.types import Event, Invocation


class Accumulator(kpi.Accumulator):
    def __init__(self) -> None:
        self.count = 0

    @classmethod
    def open(cls, invocation: Invocation) -> Self:
        return cls()

    def add(self, events: List[Event]) -> None:
        self.count += len(events)

    def finish(self) -> List[kpi.Metric]:
        return [
            kpi.Metric(
                name="events",
                value=float(self.count),
                unit="count",
                numerator=None,
                denominator=None,
                denominator_name=None,
                dimensions=[],
            )
        ]
