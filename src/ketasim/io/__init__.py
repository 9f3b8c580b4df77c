"""Files in and out: NONMEM-style event tables, results tables."""

from ketasim.io.nonmem import (
    EventRecord,
    Individual,
    IndividualPart,
    individual_inputs,
    individual_parts,
    individual_segments,
    read_event_table,
)

__all__ = [
    "EventRecord",
    "Individual",
    "IndividualPart",
    "individual_inputs",
    "individual_parts",
    "individual_segments",
    "read_event_table",
]
