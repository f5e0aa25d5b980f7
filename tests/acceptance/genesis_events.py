"""Business events for scenarios, made with the simulator's own builders so both agree."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from simulator import genesis_content as content
from simulator.genesis_bad import bad_draft
from simulator.genesis_model import Draft, Expectation, new_uuid
from simulator.genesis_wire import command_event, flat_event, nested_event

PREFIX = "Genesis.Session."
OVERSIZE_BYTES = 70_000  # over the 64 KiB browser-message cap, under the record cap


class GenesisEvents:
    """Seeded makers of the platform's events; each returns an unrendered Draft."""

    def __init__(self, seed: int = 1) -> None:
        self.rng = random.Random(seed)

    def new_session(self) -> str:
        return new_uuid(self.rng)

    def command(
        self, session_id: str, user: str, *, claimed_user: str | None = None, first: bool = False
    ) -> Draft:
        """The API gateway's record of a user's command; `claimed_user` is a hostile client's."""
        client: dict[str, Any] = {
            "session_id": session_id,
            "stage": "INITIAL_PROMPT",
            "context": {"iteration_number": 1},
            "user_input": content.user_prompt(self.rng),
        }
        if first:
            client["preferences"] = content.preferences(self.rng)
        if claimed_user is not None:
            client["user_id"] = claimed_user
        return command_event(
            self.rng,
            at=0.0,
            session_id=session_id,
            user_id=user,
            command_type="SEED_REQUEST" if first else "THEME_REVISE",
            client_payload=client,
            correlation_id=new_uuid(self.rng),
            trace=None,
        )

    def orchestrator(
        self,
        session_id: str,
        user: str,
        event_type: str,
        *,
        extra: dict[str, Any] | None = None,
    ) -> Draft:
        """The orchestrator's reaction to a command: it names the user, data under `input`."""
        fields: dict[str, Any] = {
            "session_id": session_id,
            "input": {"stage": "WORLDVIEW", "user_input": "Generate the world."},
            "timestamp": "",
            **(extra or {}),
        }
        return flat_event(
            self.rng,
            at=0.0,
            event_type=event_type,
            session_id=session_id,
            source="orchestrator",
            user_id=user,
            metadata_user=False,
            fields=fields,
            correlation_id=new_uuid(self.rng),
            trace=None,
            kind="request",
            owner=user,
        )

    def agent_proposal(
        self, session_id: str, owner: str | None, *, subject: str = "Theme", correlated: bool = True
    ) -> Draft:
        """An AI agent's proposal: it names no user, so it is routed by the session's owner."""
        fields = {
            "session_id": session_id,
            "content": content.proposal(self.rng, subject),
            "attempt": 1,
        }
        return flat_event(
            self.rng,
            at=0.0,
            event_type=f"{PREFIX}{subject}.Proposed",
            session_id=session_id,
            source=f"{subject.lower()}-agent",
            user_id=None,
            metadata_user=False,
            fields=fields,
            correlation_id=new_uuid(self.rng) if correlated else None,
            trace=None,
            kind="agent_proposal",
            owner=owner,
            outcome=None if owner is not None else "invalid",
            reason=None if owner is not None else "no_user",
        )

    def nested_started(self, session_id: str, user: str) -> Draft:
        return nested_event(
            self.rng,
            at=0.0,
            event_type=PREFIX + "Started",
            session_id=session_id,
            user_id=user,
            payload={
                "novel_id": new_uuid(self.rng),
                "stage": "INITIAL_PROMPT",
                "content": {"initial_input": content.user_prompt(self.rng), "preferences": {}},
            },
            correlation_id=new_uuid(self.rng),
            kind="nested_started",
        )

    def bad(self, kind: str) -> Draft:
        """One of the simulator's bad kinds (bad_json, invalid_utf8, oversized, ...)."""
        return bad_draft(self.rng, at=0.0, users=50, oversize_bytes=OVERSIZE_BYTES, kind=kind)

    def damaged_command(self, damage: Callable[[dict[str, Any]], None], reason: str) -> Draft:
        """A user's command with one field damaged, which EventBridge must refuse as `reason`."""
        draft = self.command(self.new_session(), "42", first=True)
        damage(draft.body)
        if "created_at" in draft.body and draft.body["created_at"] != "":
            draft = replace(draft, stamp=())  # keep the damaged time as it is
        return replace(draft, expect=replace(draft.expect, outcome="invalid", reason=reason))

    def truncated(self) -> Draft:
        draft = self.command(self.new_session(), "42", first=True)
        expect = Expectation("invalid", None, None, None, None, "invalid_json", "bad_json")
        return replace(draft, expect=expect, mangle=lambda b: b[: len(b) // 2])

    def a_list(self) -> Draft:
        session_id = self.new_session()
        expect = Expectation("invalid", None, session_id, None, None, "not_an_object", "x")
        return Draft(0.0, session_id.encode(), (), expect, [{"event_id": "x"}, 2])
