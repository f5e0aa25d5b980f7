"""Reading a Prometheus exposition back into numbers, for the telemetry tests."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """{(sample name, labels): value} of every sample in the exposition."""
    out: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def total(text: str, name: str, **labels: str) -> float:
    """The sum of `name` over every series whose labels include `labels`."""
    want = set(labels.items())
    return sum(v for (n, ls), v in samples(text).items() if n == name and want <= ls)


def label_names(text: str) -> set[str]:
    return {k for (_, ls) in samples(text) for k, _ in ls}


def family_names(text: str) -> set[str]:
    """Every sample name (with _total, _bucket, _count, _sum suffixes) in the exposition."""
    return {n for (n, _) in samples(text)}
