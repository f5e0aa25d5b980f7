"""CPU per event of the bridge's triage alone: decode, filter, map and settle, no I/O at all.

The bridge spends most of its own CPU here (bench/bridge_path.py measures the whole path over
a real Redis, bench/bridge_cpu.py the whole process). This runs the container's Triager over
the bench's traffic (500 users, 2% bad) in batches of 1,000, as the pipeline does: decoded,
triaged in slices of 200, the owner-less events settled as if the index held no owner yet,
then taught what the publish script would answer. It reports per phase the best of
`--repeat` runs (a busy moment of a shared machine shows as spread, not as a result).

Run: `.venv/bin/python -m bench.triage_cpu --events 30000 --repeat 5`; to compare two
checkouts, run it with each one's interpreter (or `PYTHONPATH=<checkout>/src`), interleaved.
"""

from __future__ import annotations

import argparse
import statistics
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from application.triage import Triage
from domain.model import Partition, Record
from eventbridge.gc_tuning import gc_tuned
from eventbridge.triager import build_triager
from simulator.genesis import generate_n

BATCH = 1000
SLICE = 200  # application.bridge.pipeline.TRIAGE_SLICE
PARTITIONS = [Partition("bench", p) for p in range(6)]


@dataclass(frozen=True)
class Run:
    decode_us: float
    triage_us: float
    published_us: float

    @property
    def total_us(self) -> float:
        return self.decode_us + self.triage_us + self.published_us


def bench_records(n: int) -> list[Record]:
    """The bench's traffic as fetched records, in partitions by key as the producer puts them."""
    out: list[Record] = []
    offsets = [0] * len(PARTITIONS)
    for draft in generate_n(n, seed=3, users=500, bad_ratio=0.02):
        p = zlib.crc32(draft.key or b"") % len(PARTITIONS)
        out.append(Record(PARTITIONS[p], offsets[p], draft.key, draft.value, draft.headers, 1))
        offsets[p] += 1
    return out


def one_run(records: Sequence[Record]) -> Run:
    triager = build_triager()
    now = datetime.now(UTC)
    decoding = triaging = publishing = 0.0
    kept: object = None
    for start in range(0, len(records), BATCH):
        batch = records[start : start + BATCH]
        t0 = time.process_time()
        decoded = triager.decode(batch)
        t1 = time.process_time()
        triage: Triage | None = None
        for at in range(0, len(batch), SLICE):
            triage = triager.triage(decoded, now=now, part=slice(at, at + SLICE), into=triage)
        assert triage is not None
        if triage.asks:
            triager.settle(triage, {})  # the index had no owner: every claim is won
        t2 = time.process_time()
        owners = [m.user_id if m.teaches_owner else None for _, m in triage.deliver]
        triager.published(triage.deliver, owners)
        t3 = time.process_time()
        decoding += t1 - t0
        triaging += t2 - t1
        publishing += t3 - t2
        kept = (decoded, triage)  # a batch lives on while the next one is triaged, as in the bridge
    del kept
    per = 1e6 / len(records)
    return Run(decoding * per, triaging * per, publishing * per)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--events", type=int, default=30_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    records = bench_records(args.events)
    with gc_tuned():  # as the bridge process runs
        runs = [one_run(records) for _ in range(args.repeat)]
    best = min(runs, key=lambda r: r.total_us)
    median = statistics.median(r.total_us for r in runs)
    print(
        f"triage, {args.events:,} events: best {best.total_us:.2f} µs/event"
        f" (decode {best.decode_us:.2f}, triage+settle {best.triage_us:.2f},"
        f" published {best.published_us:.2f}), median {median:.2f}"
    )


if __name__ == "__main__":
    main()
