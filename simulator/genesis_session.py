"""One user's Genesis sessions as a timeline: commands, orchestrator requests, agent replies."""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from simulator import genesis_content as content
from simulator.genesis_model import Draft, new_uuid
from simulator.genesis_wire import command_event, flat_event, nested_event, traceparent

PREFIX = "Genesis.Session."
# (stage, what its generation request asks for, what the agents propose and the user confirms)
STAGES: tuple[tuple[str, str, str], ...] = (
    ("INITIAL_PROMPT", "Seed", "Theme"),
    ("WORLDVIEW", "World", "World"),
    ("CHARACTERS", "Character", "Character"),
    ("PLOT_OUTLINE", "Plot", "Plot"),
    ("FINISHED", "Details", "Details"),
)
NEXT_STAGE = {s[0]: n[0] for s, n in itertools.pairwise(STAGES)}

# Natural delays in seconds, before the run's pacing scales them all alike.
ORCHESTRATOR_DELAY = (0.005, 0.05)
AGENT_LATENCY = (0.8, 4.0)
EVALUATION_DELAY = (0.1, 0.6)
BURST_GAP = (0.05, 0.3)
MAX_ATTEMPTS = 3  # a proposal, then at most two regenerations
PASS_SCORE = 0.7


@dataclass(frozen=True, slots=True)
class Pace:
    """How one user's natural timeline is stretched and how often it turns hostile."""

    scale: float  # run seconds per natural second
    think_time_s: tuple[float, float]
    burst_probability: float
    foreign_probability: float  # per command: the client payload names another user


@dataclass(slots=True)
class _Session:
    session_id: str
    novel_id: str
    prompt: str
    preferences: dict[str, Any]
    stage: str = "INITIAL_PROMPT"
    requested: str = "Seed"  # what the stage's generation request asks for
    subject: str = "Theme"  # what the agents propose and the user confirms
    iteration: int = 0
    corr: str | None = None  # the correlation id of the user message being answered
    trace: str | None = None


class UserWalk:
    """Sessions of one user, one after another, as drafts in non-decreasing `at`."""

    def __init__(
        self, rng: random.Random, hostile: random.Random, owner: str, users: int, pace: Pace
    ) -> None:
        self.rng = rng
        self.hostile = hostile  # a separate stream, so hostility never reshapes good traffic
        self.owner = owner
        self.users = users
        self.pace = pace
        self.t = rng.uniform(0.0, pace.think_time_s[1])  # natural time; users start staggered

    def drafts(self) -> Iterator[Draft]:
        """The user's traffic, forever; the caller stops at the run's end."""
        while True:
            yield from self._session()

    @property
    def at(self) -> float:
        return self.t * self.pace.scale

    def _wait(self, span: tuple[float, float]) -> None:
        self.t += self.rng.uniform(*span)

    def _session(self) -> Iterator[Draft]:
        rng, think = self.rng, self.pace.think_time_s
        s = _Session(new_uuid(rng), new_uuid(rng), content.user_prompt(rng), {})
        s.preferences = content.preferences(rng)
        if rng.random() < 0.3:
            yield self._started(s)
            self._wait(ORCHESTRATOR_DELAY)
        for stage in STAGES:
            s.stage, s.requested, s.subject = stage
            s.iteration = 0
            yield from self._message(s, "REQUEST")
            yield from self._agents(s, chance=0.85)
            for _ in range(rng.choice((0, 0, 1, 1, 2))):
                self._wait(think)
                yield from self._message(s, "REVISE")
                yield from self._agents(s, chance=0.6)
            if rng.random() < self.pace.burst_probability:
                for _ in range(rng.randint(2, 4)):  # quick edits, not waiting for the agents
                    self._wait(BURST_GAP)
                    yield from self._message(s, "REVISE")
            self._wait(think)
            yield from self._message(s, "CONFIRM")
            if rng.random() < 0.6:
                self._wait(ORCHESTRATOR_DELAY)
                result = self._stage_result(s)
                yield result
                if result.expect.kind == "stage_failed":
                    return
            if rng.random() < 0.04:  # the user walks away mid-session
                return
            self._wait(think)

    def _stage_result(self, s: _Session) -> Draft:
        """The orchestrator closes the stage: on to the next one, or now and then a failure."""
        result: dict[str, Any] = {"stage": s.stage}
        if self.rng.random() < 0.08:
            result["error"] = "agent pipeline exhausted"
            fields = {"result": result}
            return self._unowned(s, "Stage.Failed", "orchestrator", fields, kind="stage_failed")
        result["next_stage"] = NEXT_STAGE.get(s.stage)
        fields = {"result": result}
        return self._unowned(s, "Stage.Confirmed", "orchestrator", fields, kind="stage_confirmed")

    def _started(self, s: _Session) -> Draft:
        return nested_event(
            self.rng,
            at=self.at,
            event_type=PREFIX + "Started",
            session_id=s.session_id,
            user_id=self.owner,
            payload={
                "novel_id": s.novel_id,
                "stage": s.stage,
                "content": {"initial_input": s.prompt, "preferences": s.preferences},
            },
            correlation_id=new_uuid(self.rng),
            kind="nested_started",
        )

    def _message(self, s: _Session, action: str) -> Iterator[Draft]:
        """One user message: the gateway's command, then the orchestrator's reaction to it."""
        rng = self.rng
        s.iteration += 1
        s.corr = None if rng.random() < 0.05 else new_uuid(rng)
        s.trace = traceparent(rng) if rng.random() < 0.5 else None
        client: dict[str, Any] = {
            "session_id": s.session_id,
            "stage": s.stage,
            "context": {"iteration_number": s.iteration, "novel_id": s.novel_id},
        }
        data: dict[str, Any] = {"stage": s.stage, "iteration_number": s.iteration}
        command = s.subject
        if action == "REQUEST":
            if s.stage == "INITIAL_PROMPT":
                client["user_input"] = s.prompt
                client["preferences"] = data["preferences"] = s.preferences
            else:
                client["user_input"] = f"Generate the {s.subject.lower()}."
                client["requirements"] = data["requirements"] = content.requirements(rng, s.stage)
            event_type, kind, command = f"{s.requested}.Requested", "request", s.requested
        elif action == "REVISE":
            client["user_input"] = content.tweak(rng)
            if s.stage == "INITIAL_PROMPT":
                client["theme_preferences"] = {"tone": rng.choice(content.TONES)}
                event_type, kind = "Theme.Revised", "revision"
            else:
                client["requirements"] = content.requirements(rng, s.stage)
                event_type, kind = f"{s.subject}.Updated", "update"
        else:
            client["user_feedback"] = data["user_feedback"] = content.feedback(rng)
            client["modifications"] = {} if rng.random() < 0.6 else {"note": content.tweak(rng)}
            event_type, kind = f"{s.subject}.Confirmed", "user_confirm"
        if "user_input" in client:
            data["user_input"] = client["user_input"]
        hijack = self.hostile.random() < self.pace.foreign_probability
        if hijack:
            client["user_id"] = self._someone_else()
        yield command_event(
            rng,
            at=self.at,
            session_id=s.session_id,
            user_id=self.owner,
            command_type=f"{command.upper()}_{action}",
            client_payload=client,
            correlation_id=s.corr,
            trace=s.trace,
            kind="foreign_user" if hijack else "command",
        )
        self._wait(ORCHESTRATOR_DELAY)
        yield flat_event(
            rng,
            at=self.at,
            event_type=PREFIX + event_type,
            session_id=s.session_id,
            source="orchestrator",
            user_id=self.owner,
            metadata_user=False,
            fields={"session_id": s.session_id, "input": data, "timestamp": ""},
            correlation_id=s.corr,
            trace=s.trace,
            kind=kind,
            owner=self.owner,
        )

    def _someone_else(self) -> str:
        if self.users == 1:
            return "2"
        other = self.hostile.randrange(1, self.users)
        return str(other + 1 if other >= int(self.owner) else other)

    def _agents(self, s: _Session, *, chance: float) -> Iterator[Draft]:
        """AI agents propose, an evaluator scores; low scores regenerate, then fail."""
        rng = self.rng
        if rng.random() >= chance:
            return
        agent, subject = f"{s.subject.lower()}-agent", s.subject
        for attempt in range(1, MAX_ATTEMPTS + 1):
            self._wait(AGENT_LATENCY)
            proposal = content.proposal(rng, subject)
            score = round(rng.betavariate(5, 2), 3)
            if subject == "Theme" and rng.random() < 0.25:
                yield self._nested_proposal(s, proposal, attempt, score)
            else:
                fields = {"content": proposal, "attempt": attempt}
                yield self._unowned(s, f"{subject}.Proposed", agent, fields, kind="agent_proposal")
            self._wait(EVALUATION_DELAY)
            if score >= PASS_SCORE:
                yield self._unowned(
                    s, f"{subject}.Confirmed", agent, {"score": score}, kind="agent_confirmed"
                )
                return
            if attempt < MAX_ATTEMPTS:
                fields = {"score": score, "attempt": attempt, "reason": "quality below threshold"}
                yield self._unowned(
                    s, f"{subject}.RegenerationRequested", agent, fields, kind="agent_regeneration"
                )
            else:
                fields = {"score": score, "attempts": attempt}
                yield self._unowned(s, f"{subject}.Failed", agent, fields, kind="agent_failed")

    def _nested_proposal(
        self, s: _Session, proposal: dict[str, Any], attempt: int, score: float
    ) -> Draft:
        return nested_event(
            self.rng,
            at=self.at,
            event_type=PREFIX + "Theme.Proposed",
            session_id=s.session_id,
            user_id=self.owner,
            payload={
                "novel_id": s.novel_id,
                "content": proposal,
                "generation_metadata": content.generation_metadata(self.rng, attempt),
                "quality_score": score,
            },
            correlation_id=s.corr or new_uuid(self.rng),
            kind="nested_proposal",
        )

    def _unowned(
        self, s: _Session, event_type: str, source: str, fields: dict[str, Any], *, kind: str
    ) -> Draft:
        """An agent's or orchestrator's event that names no user: routed by session owner."""
        return flat_event(
            self.rng,
            at=self.at,
            event_type=PREFIX + event_type,
            session_id=s.session_id,
            source=source,
            user_id=None,
            metadata_user=False,
            fields={"session_id": s.session_id, **fields},
            correlation_id=s.corr,
            trace=s.trace,
            kind=kind,
            owner=self.owner,
        )
