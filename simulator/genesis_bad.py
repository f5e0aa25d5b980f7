"""Bad traffic, each record in a session of its own, with the verdict EventBridge owes it."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from simulator import genesis_content as content
from simulator.genesis_model import Draft, Expectation, new_uuid
from simulator.genesis_wire import command_event, flat_event, traceparent

# Relative weights of the bad kinds made here; foreign_user is made inside real sessions.
WEIGHTS: dict[str, float] = {
    "bad_json": 0.15,
    "invalid_utf8": 0.08,
    "missing_event_id": 0.10,
    "bad_uuid": 0.10,
    "not_an_object": 0.05,
    "oversized": 0.05,
    "unknown_type": 0.15,
    "non_session": 0.10,
    "orphan_agent": 0.10,
}
FOREIGN_WEIGHT = 0.12  # foreign_user's share of all bad traffic
_LATIN1 = "@@latin1@@"  # swapped for bytes that are not UTF-8 after serialisation


def bad_draft(
    rng: random.Random, *, at: float, users: int, oversize_bytes: int, kind: str | None = None
) -> Draft:
    """One bad record of `kind` (else drawn by WEIGHTS), in a fresh session."""
    if kind is None:
        kind = rng.choices(list(WEIGHTS), weights=list(WEIGHTS.values()))[0]
    user = str(rng.randint(1, users))
    return _MAKERS[kind](rng, at, user, oversize_bytes)


def _command(
    rng: random.Random, at: float, user: str, *, user_input: str, kind: str, reason: str
) -> Draft:
    session_id = new_uuid(rng)
    client = {
        "session_id": session_id,
        "user_input": user_input,
        "stage": "INITIAL_PROMPT",
        "context": {"iteration_number": 1},
        "preferences": content.preferences(rng),
    }
    return command_event(
        rng,
        at=at,
        session_id=session_id,
        user_id=user,
        command_type="SEED_REQUEST",
        client_payload=client,
        correlation_id=new_uuid(rng),
        trace=traceparent(rng) if rng.random() < 0.5 else None,
        kind=kind,
        outcome="invalid",
        reason=reason,
    )


def _unparseable(draft: Draft, mangle: Callable[[bytes], bytes]) -> Draft:
    """The same record, damaged so that nothing in it can be trusted, ids included."""
    expect = replace(draft.expect, event_id=None, event_type=None, user_id=None)
    return replace(draft, expect=expect, mangle=mangle)


def _bad_json(rng: random.Random, at: float, user: str, _size: int) -> Draft:
    draft = _command(
        rng, at, user, user_input=content.user_prompt(rng), kind="bad_json", reason="invalid_json"
    )
    cut = rng.uniform(0.2, 0.9)
    manglers: tuple[Callable[[bytes], bytes], ...] = (
        lambda b: b[: int(len(b) * cut)],  # truncated mid-record
        lambda b: b[:-1] + b',"x":}',  # a dangling key
        lambda b: b.replace(b'"', b"'"),  # a Python repr, not JSON
    )
    return _unparseable(draft, rng.choice(manglers))


def _invalid_utf8(rng: random.Random, at: float, user: str, _size: int) -> Draft:
    text = f"{_LATIN1} {content.user_prompt(rng)}"
    draft = _command(rng, at, user, user_input=text, kind="invalid_utf8", reason="invalid_utf8")
    latin1 = "Café crème, déjà vu".encode("latin-1")
    return _unparseable(draft, lambda b: b.replace(_LATIN1.encode(), latin1))


def _missing_event_id(rng: random.Random, at: float, user: str, _size: int) -> Draft:
    draft = _command(
        rng,
        at,
        user,
        user_input=content.user_prompt(rng),
        kind="missing_event_id",
        reason="missing_field",
    )
    del draft.body["event_id"]
    return replace(draft, expect=replace(draft.expect, event_id=None))


def _bad_uuid(rng: random.Random, at: float, user: str, _size: int) -> Draft:
    draft = _command(
        rng, at, user, user_input=content.user_prompt(rng), kind="bad_uuid", reason="bad_uuid"
    )
    draft.body["event_id"] = f"evt-{rng.getrandbits(48):012x}"
    return replace(draft, expect=replace(draft.expect, event_id=draft.body["event_id"]))


def _not_an_object(rng: random.Random, at: float, _user: str, _size: int) -> Draft:
    session_id = new_uuid(rng)
    body: Any = rng.choice(([1, 2], "Genesis.Session.Started", 42, None, [{"event_id": "x"}]))
    expect = Expectation("invalid", None, session_id, None, None, "not_an_object", "not_an_object")
    return Draft(at, session_id.encode(), (), expect, body)


def _oversized(rng: random.Random, at: float, user: str, size: int) -> Draft:
    return _command(
        rng, at, user, user_input=content.filler(size), kind="oversized", reason="oversized"
    )


def _unknown_type(rng: random.Random, at: float, user: str, _size: int) -> Draft:
    session_id = new_uuid(rng)
    return flat_event(
        rng,
        at=at,
        event_type="Genesis.Session.Bogus.Thing",
        session_id=session_id,
        source="orchestrator",
        user_id=user,
        metadata_user=False,
        fields={"session_id": session_id, "input": {"note": "nobody asked for this"}},
        correlation_id=new_uuid(rng),
        trace=None,
        kind="unknown_type",
        owner=user,
    )


def _non_session(rng: random.Random, at: float, user: str, _size: int) -> Draft:
    novel_id = new_uuid(rng)
    draft = flat_event(
        rng,
        at=at,
        event_type="Genesis.Novel.Created",
        session_id=novel_id,
        source="novel-service",
        user_id=user,
        metadata_user=True,
        fields={"novel_id": novel_id, "title": content.proposal(rng, "Details")["title"]},
        correlation_id=None,
        trace=None,
        kind="non_session",
        owner=None,
        outcome="ignored",
        reason="not_session_event",
    )
    draft.body["aggregate_type"] = "Novel"
    return draft


def _orphan_agent(rng: random.Random, at: float, _user: str, _size: int) -> Draft:
    session_id = new_uuid(rng)  # never seen before: nobody can know whose it is
    subject = rng.choice(("Theme", "World", "Character", "Plot", "Details"))
    return flat_event(
        rng,
        at=at,
        event_type=f"Genesis.Session.{subject}.Proposed",
        session_id=session_id,
        source=f"{subject.lower()}-agent",
        user_id=None,
        metadata_user=False,
        fields={"session_id": session_id, "content": content.proposal(rng, subject)},
        correlation_id=new_uuid(rng),
        trace=None,
        kind="orphan_agent",
        owner=None,
        outcome="invalid",
        reason="no_user",
    )


_MAKERS: dict[str, Callable[[random.Random, float, str, int], Draft]] = {
    "bad_json": _bad_json,
    "invalid_utf8": _invalid_utf8,
    "missing_event_id": _missing_event_id,
    "bad_uuid": _bad_uuid,
    "not_an_object": _not_an_object,
    "oversized": _oversized,
    "unknown_type": _unknown_type,
    "non_session": _non_session,
    "orphan_agent": _orphan_agent,
}
