"""The local broker's cluster id follows Kafka's own rule, so `kafka-storage format` takes it."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.local_kafka import new_cluster_id

pytestmark = pytest.mark.unit

URL_SAFE_22 = re.compile(r"[A-Za-z0-9_-]{22}")


def decoded(cluster_id: str) -> bytes:
    return base64.urlsafe_b64decode(cluster_id + "==")


def draws(*chunks: bytes) -> Iterator[bytes]:
    yield from chunks
    raise AssertionError("asked for more random bytes than the test provided")


def assert_valid(cluster_id: str) -> None:
    assert URL_SAFE_22.fullmatch(cluster_id), cluster_id
    assert not cluster_id.startswith("-"), cluster_id
    raw = decoded(cluster_id)
    assert len(raw) == 16
    assert raw[6] >> 4 == 4  # a version-4 UUID, like java.util.UUID.randomUUID()
    assert raw[8] >> 6 == 0b10
    assert base64.urlsafe_b64encode(raw).rstrip(b"=").decode() == cluster_id


def test_many_generated_ids_are_all_valid_and_none_starts_with_a_dash() -> None:
    # One id in 64 of the old rule (plain base64 of random bytes) started with '-'.
    ids = [new_cluster_id() for _ in range(20_000)]
    for cluster_id in ids:
        assert_valid(cluster_id)
    assert len(set(ids)) == len(ids)
    assert len({i[0] for i in ids}) == 63  # every first character but '-' occurs


@settings(max_examples=500)
@given(st.lists(st.binary(min_size=16, max_size=16), min_size=1, max_size=5))
def test_whatever_the_random_bytes_the_id_is_valid(chunks: list[bytes]) -> None:
    # A last chunk that cannot give a '-' (first byte 0x00), so the generator always ends.
    source = draws(*chunks, bytes(16))
    assert_valid(new_cluster_id(lambda _: next(source)))


def test_an_id_that_would_start_with_a_dash_is_drawn_again() -> None:
    dash_first = bytes([0xF8]) + bytes(15)  # 0b111110.. encodes as '-' in URL-safe base64
    assert base64.urlsafe_b64encode(dash_first).startswith(b"-")
    second = bytes(range(1, 17))
    source = draws(dash_first, second)
    cluster_id = new_cluster_id(lambda _: next(source))
    assert_valid(cluster_id)
    assert decoded(cluster_id)[:6] == second[:6]  # the second draw, with only the UUID bits set
