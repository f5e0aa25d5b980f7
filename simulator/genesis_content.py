"""Plausible story material for Genesis events: user prompts and AI-agent proposals."""

from __future__ import annotations

import random
from typing import Any

GENRES = ("fantasy", "science fiction", "mystery", "romance", "thriller", "historical", "horror")
TONES = ("hopeful", "dark", "whimsical", "melancholic", "tense", "satirical", "lyrical")
SETTINGS = (
    "a drowned city of bell towers",
    "a generation ship a century from port",
    "a border town between two warring empires",
    "a Victorian observatory on a storm-bound island",
    "a desert caravan route haunted by mirages",
    "a near-future Lagos where memories are traded",
)
NAMES = ("Ada", "Bram", "Chiara", "Dmitri", "Esi", "Farid", "Greta", "Hiro", "Ines", "Jonah")
ROLES = ("protagonist", "antagonist", "mentor", "rival", "confidant", "trickster")
MOTIVES = (
    "to pay back a debt that cannot be paid in money",
    "to find the sister who vanished at sea",
    "to prove the old maps are lies",
    "to keep a promise made to the dead",
    "to escape the name they were born with",
)
THEMES = ("grief", "loyalty", "identity", "power", "forgiveness", "memory", "freedom", "belonging")
PROMPTS = (
    "A story about {m} set in {s}.",
    "I want a {g} novel where someone has {m}.",
    "Something {t}, in {s}, about {th}.",
    "A {t} {g} story exploring {th}.",
)
FEEDBACK = (
    "Looks good, go ahead.",
    "I like it, but make the ending less predictable.",
    "Great — keep the tone exactly like this.",
    "Fine, though the second character needs more depth.",
    "Yes. Use this.",
)
TWEAKS = (
    "Make it darker.",
    "Less romance, more politics.",
    "Can the mentor be a woman in her seventies?",
    "Move everything to winter.",
    "Add a twist in the middle.",
    "Shorter, punchier.",
)


def user_prompt(rng: random.Random) -> str:
    """The first thing a user types when starting a session."""
    template = rng.choice(PROMPTS)
    return template.format(
        m=rng.choice(MOTIVES),
        s=rng.choice(SETTINGS),
        g=rng.choice(GENRES),
        t=rng.choice(TONES),
        th=rng.choice(THEMES),
    )


def tweak(rng: random.Random) -> str:
    """A user's short revision request."""
    return rng.choice(TWEAKS)


def feedback(rng: random.Random) -> str:
    """A user's comment when confirming a stage's proposal."""
    return rng.choice(FEEDBACK)


def preferences(rng: random.Random) -> dict[str, Any]:
    """Preferences given with the initial prompt."""
    return {
        "genre": rng.choice(GENRES),
        "tone": rng.choice(TONES),
        "target_length": rng.choice(("short", "novella", "novel")),
        "language": rng.choice(("en", "en", "en", "de", "zh")),
    }


def requirements(rng: random.Random, stage: str) -> dict[str, Any]:
    """Stage-specific requirements a user attaches to a generation request."""
    if stage == "WORLDVIEW":
        return {"magic_system": rng.random() < 0.5, "technology_level": rng.choice(("low", "high"))}
    if stage == "CHARACTERS":
        return {"count": rng.randint(2, 6), "include_antagonist": rng.random() < 0.8}
    if stage == "PLOT_OUTLINE":
        return {"acts": rng.choice((3, 4, 5)), "structure": rng.choice(("three-act", "hero"))}
    return {"chapter_count": rng.randint(8, 40), "pov": rng.choice(("first", "third"))}


def _character(rng: random.Random) -> dict[str, Any]:
    return {
        "name": rng.choice(NAMES),
        "role": rng.choice(ROLES),
        "motivation": rng.choice(MOTIVES),
        "arc": f"from {rng.choice(THEMES)} to {rng.choice(THEMES)}",
    }


def proposal(rng: random.Random, subject: str) -> dict[str, Any]:
    """An AI agent's proposal for one stage subject (Theme, World, Character, Plot, Details)."""
    if subject == "Theme":
        return {
            "theme": rng.choice(THEMES),
            "genre": rng.choice(GENRES),
            "tone": rng.choice(TONES),
            "core_conflict": f"Someone has {rng.choice(MOTIVES)}.",
            "motifs": rng.sample(THEMES, 3),
        }
    if subject == "World":
        return {
            "setting": rng.choice(SETTINGS),
            "era": rng.choice(("ancient", "medieval", "industrial", "contemporary", "far future")),
            "locations": rng.sample(SETTINGS, 2),
            "rules": [f"Nobody may speak of {rng.choice(THEMES)} aloud."],
        }
    if subject == "Character":
        return {"characters": [_character(rng) for _ in range(rng.randint(2, 5))]}
    if subject == "Plot":
        acts = rng.randint(3, 5)
        return {
            "acts": [
                {"act": n, "summary": f"{rng.choice(NAMES)} confronts {rng.choice(THEMES)}."}
                for n in range(1, acts + 1)
            ],
            "twist": f"The {rng.choice(ROLES)} was {rng.choice(MOTIVES)[3:]} all along.",
        }
    return {
        "title": f"The {rng.choice(THEMES).title()} of {rng.choice(NAMES)}",
        "logline": f"In {rng.choice(SETTINGS)}, {rng.choice(NAMES)} must choose.",
        "chapter_count": rng.randint(8, 40),
        "style_guide": {"pov": rng.choice(("first", "third")), "tense": "past"},
    }


def generation_metadata(rng: random.Random, attempt: int) -> dict[str, Any]:
    """What a nested-format agent event says about how its content was produced."""
    return {
        "model": rng.choice(("gpt-4o", "claude-3-5-sonnet", "qwen2.5-72b")),
        "prompt_tokens": rng.randint(300, 2500),
        "completion_tokens": rng.randint(200, 1500),
        "latency_ms": rng.randint(800, 9000),
        "attempt": attempt,
    }


def filler(size: int) -> str:
    """`size` ASCII characters of prose, for oversized events."""
    unit = "The tide took the bell towers one by one. "
    return (unit * (size // len(unit) + 1))[:size]
