"""Where an event's time goes: the hops of its way, from the processes' /metrics and the browser."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from prometheus_client.parser import text_string_to_metric_families

from simulator.load_report import percentile
from simulator.load_sse import Receipt

HOP_METRIC = "eventbridge_hop_seconds"
QUANTILES = (50, 95, 99)


@dataclass(frozen=True)
class Hop:
    """One hop: its name, and which process measures it under which `hop` label (`process`
    "browser": the load runner itself, from the SSE id and the time of receipt; "producer":
    the load runner's producer, from handing a record over to Kafka's acknowledgement)."""

    name: str
    process: str
    label: str


HOPS = (
    # Not a hop of the event's way but beside it: the broker answers the producer and the
    # consumer's waiting fetch at about the same moment, so "produce → fetched" near this
    # one is time spent in the producer, the broker and the machine, not in the bridge.
    Hop("produce → Kafka ack", "producer", ""),
    Hop("produce → fetched", "bridge", "produce_to_fetch"),
    Hop("fetched → Redis ack", "bridge", "fetch_to_redis_ack"),
    Hop("Redis ack → SSE write", "gateway", "redis_to_sse_write"),
    Hop("SSE write → client", "gateway", "sse_write_to_client"),
    Hop("Redis XADD → client", "browser", ""),
)


def histogram_quantiles(text: str, label: str) -> dict[str, float] | None:
    """The p50/p95/p99 (ms) of `eventbridge_hop_seconds{hop=label}` in a /metrics text, from
    its cumulative buckets by linear interpolation (as PromQL's histogram_quantile); None when
    the process does not expose it or observed nothing."""
    buckets: list[tuple[float, float]] = []
    for family in text_string_to_metric_families(text):
        if family.name != HOP_METRIC:
            continue
        for sample in family.samples:
            if sample.name.endswith("_bucket") and sample.labels.get("hop") == label:
                buckets.append((float(sample.labels["le"]), float(sample.value)))
    buckets.sort()
    if not buckets or buckets[-1][1] <= 0:
        return None
    return {f"p{q}": _quantile(buckets, q / 100) * 1000 for q in QUANTILES}


def _quantile(buckets: Sequence[tuple[float, float]], q: float) -> float:
    total = buckets[-1][1]
    rank = q * total
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in buckets:
        if count >= rank:
            if math.isinf(bound):
                return lower_bound  # past the last finite bucket: its bound, as PromQL says
            span = count - lower_count
            share = (rank - lower_count) / span if span else 1.0
            return lower_bound + (bound - lower_bound) * share
        lower_bound, lower_count = bound, count
    return lower_bound


def xadd_to_client_ms(received: Mapping[str, Sequence[Receipt]]) -> dict[str, float] | None:
    """From Redis's clock at XADD (the stream entry id, `<ms>-<seq>`) to the browser's receipt,
    per event (one machine, one clock)."""
    ms = [
        r.at * 1000 - int(r.stream_id.split("-", 1)[0])
        for receipts in received.values()
        for r in receipts
        if r.stream_id.split("-", 1)[0].isdigit()
    ]
    if not ms:
        return None
    return {f"p{q}": percentile(ms, q) for q in QUANTILES}


def produce_to_ack_ms(
    sent: Sequence[tuple[str, float]], acked: Sequence[tuple[str, float]]
) -> dict[str, float] | None:
    """From handing each record to the producer to Kafka's acknowledgement (wall clock)."""
    acked_at = dict(acked)
    ms = [(acked_at[e] - at) * 1000 for e, at in sent if e and e in acked_at]
    if not ms:
        return None
    return {f"p{q}": percentile(ms, q) for q in QUANTILES}


def hops_ms(
    metrics: Mapping[str, str],
    received: Mapping[str, Sequence[Receipt]],
    *,
    sent: Sequence[tuple[str, float]] = (),
    acked: Sequence[tuple[str, float]] = (),
) -> dict[str, dict[str, float] | None]:
    """Every hop's quantiles in ms, or None where no process measures it ("n/a")."""
    out: dict[str, dict[str, float] | None] = {}
    for hop in HOPS:
        if hop.process == "browser":
            out[hop.name] = xadd_to_client_ms(received)
        elif hop.process == "producer":
            out[hop.name] = produce_to_ack_ms(sent, acked)
        else:
            out[hop.name] = histogram_quantiles(metrics.get(hop.process, ""), hop.label)
    return out
