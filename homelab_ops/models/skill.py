"""The skill catalogue's shape: what ``recommend`` can point a person (or the cycle) at.

A skill is one routine with the exact command that runs it: a read-only routine
(diagnose, audit, netcheck, status), a change (deploy, back up, the cycle's playbooks) or
advice. The catalogue is data (``recommend/skills.json``), validated here on load, so a
broken file names the file and the field instead of failing somewhere later.

Command templates: ``{service}`` is filled with a service name resolved against what
really runs (one argv element, never a shell); ``<...>`` is left for the person to fill
in (a stack file, an inventory), so a skill whose command holds one never runs from
``recommend --run``.
"""

from __future__ import annotations

import re
import shlex
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from homelab_ops.models.categories import CATEGORIES
from homelab_ops.models.decision import Risk

Category = Literal[CATEGORIES]  # type: ignore[valid-type]
SLOTS = ("service",)
_SLOT = re.compile(r"\{(\w+)\}")
_FILL_IN = re.compile(r"<[^>\s]+>")


class Skill(BaseModel):
    """One catalogue entry."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=r"^[a-z][a-z0-9-]*$")
    category: Category
    title: str = Field(min_length=3)
    when: str = Field(min_length=3)  # when it applies, shown as the reason's tail
    risk: Risk
    read_only: bool
    command: str  # "homelab-ops ..." or "pyinfra ..." with {service} / <fill-in>
    playbook: str | None = None  # the cycle playbook (loop/playbooks.py) it runs
    examples: tuple[str, ...] = Field(min_length=3)  # phrasings (from the learn split)

    @field_validator("command")
    @classmethod
    def _command(cls, value: str) -> str:
        argv = shlex.split(value)
        if not argv or argv[0] not in ("homelab-ops", "pyinfra"):
            raise ValueError("must start with homelab-ops or pyinfra")
        unknown = set(_SLOT.findall(value)) - set(SLOTS)
        if unknown:
            raise ValueError(f"unknown placeholders {sorted(unknown)} (known: {SLOTS})")
        return value

    @model_validator(mode="after")
    def _runnable(self) -> Skill:
        if self.read_only and self.argv[0] != "homelab-ops":
            raise ValueError("a read-only skill must be a homelab-ops command")
        return self

    @property
    def argv(self) -> list[str]:
        return shlex.split(self.command)

    @property
    def slots(self) -> tuple[str, ...]:
        """The placeholders ``recommend`` fills from the text."""
        return tuple(dict.fromkeys(_SLOT.findall(self.command)))

    @property
    def fill_ins(self) -> tuple[str, ...]:
        """What the person must fill in before the command can run."""
        return tuple(_FILL_IN.findall(self.command))


class Catalogue(BaseModel):
    """The whole file: skills, the lexicon words only recommend needs, the acceptance
    threshold (chosen on the learn split) and the learning's prior."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: int
    threshold: float = Field(gt=0, lt=1)  # least text score to recommend at all
    handoff: float = Field(gt=0, lt=1)  # least text score for ask to hand a question over
    # an ask answer this near its intent's examples is a question, not a task: the
    # recommender is not even scored (no task of the learn split came above 0.71)
    ask_sure: float = Field(0.8, gt=0, le=1)
    task_openers: tuple[str, ...] = ()  # "how do i ...": a question that asks for a task
    prior: tuple[float, float] = (2.0, 2.0)  # Beta(alpha, beta) of a skill's success
    weight: float = Field(0.5, ge=0, le=1)  # how much the success rate moves the ranking
    lexicon: dict[str, list[str]] = Field(default_factory=dict)
    skills: tuple[Skill, ...]

    @model_validator(mode="after")
    def _unique(self) -> Catalogue:
        ids = [s.id for s in self.skills]
        twice = sorted({i for i in ids if ids.count(i) > 1})
        if twice:
            raise ValueError(f"skill ids used twice: {twice}")
        missing = set(CATEGORIES) - {s.category for s in self.skills}
        if missing:
            raise ValueError(f"categories without a skill: {sorted(missing)}")
        return self

    def skill(self, skill_id: str) -> Skill | None:
        return next((s for s in self.skills if s.id == skill_id), None)
