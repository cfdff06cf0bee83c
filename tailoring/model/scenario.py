"""Teaching scenarios: an invented patient, a planned protocol, and the reference answers and flags.

A scenario is content (``content/scenarios/<id>.yaml``). Its reference answers use the case-file
answer format, so the engine can be run on them; the flags it raises are the reference flags, each
with a teaching rationale. ``scenario_problems`` checks what a scenario refers to in the library.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field

from tailoring.model.answers import SECTIONS, Answers, answer_problems, unknown_problems
from tailoring.model.base import Identifier, Strict, ThemeId
from tailoring.model.measures import item_problems

if TYPE_CHECKING:
    # The library holds the scenarios and runs scenario_problems on each while it validates.
    from tailoring.model.content import ContentLibrary

# "SCEN-" + id must stay within the 32 characters of a case reference.
ScenarioId = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=27)]
Difficulty = Literal["introductory", "intermediate", "advanced"]
DIFFICULTIES: tuple[Difficulty, ...] = ("introductory", "intermediate", "advanced")
FlagId = Annotated[
    str,
    Field(
        pattern=r"^(pref|social|demand|format|alliance|indication)\.[a-z][a-z0-9_.]*$",
        description="A flag id as the engine raises it, e.g. 'social.housing'.",
    ),
]
Paragraph = Annotated[str, Field(min_length=20)]


class Vignette(Strict):
    """What the trainee reads about the patient: invented, with no names."""

    history: Paragraph = Field(description="Background, referral route and where care stands now.")
    presenting_problem: Paragraph
    social_situation: Paragraph = Field(description="Home, money, work, relationships, access.")
    own_words: Paragraph = Field(description="What the patient says, in their own words.")


class ReferenceFlag(Strict):
    """A flag the reference answers raise, and why a good clinician would notice it."""

    id: FlagId
    rationale: Paragraph = Field(
        description="Why it matters and what the study's patients said about it (2–3 sentences)."
    )


class Scenario(Strict):
    """An invented case for trainees to work through, with the answers and flags it expects."""

    id: ScenarioId = Field(description="The file name without .yaml.")
    title: str = Field(min_length=3, max_length=100)
    difficulty: Difficulty
    themes: list[ThemeId] = Field(min_length=1, description="Study themes the scenario teaches.")
    protocol_id: Identifier = Field(description="The protocol planned for the patient.")
    problem: Identifier = Field(description="The presenting problem (problems.yaml).")
    second_problem: Identifier | None = None
    sessions_available: int = Field(ge=1, le=60)
    assessment: dict[Identifier, dict[Identifier, int]] = Field(
        default_factory=dict,
        description="Measures answered at the assessment, by measure id then item id; the "
        "latest totals give the severity the indication rules read.",
    )
    vignette: Vignette
    reference: Answers = Field(description="The reference answers, in the case-file format.")
    reference_flags: list[ReferenceFlag] = Field(
        description="Exactly the flags the engine raises on the reference answers; may be empty."
    )
    teaching_points: list[Paragraph] = Field(min_length=1)

    def flag_ids(self) -> set[str]:
        return {f.id for f in self.reference_flags}

    def rationale(self, flag_id: str) -> str:
        return next(f.rationale for f in self.reference_flags if f.id == flag_id)


def scenario_problems(scenario: Scenario, content: ContentLibrary) -> list[str]:
    """Every way the scenario disagrees with the content library, each naming its field."""
    problems: list[str] = []
    protocol = next((p for p in content.protocols if p.id == scenario.protocol_id), None)
    if protocol is None:
        problems.append(f"protocol_id: unknown protocol {scenario.protocol_id!r}")
    elif scenario.sessions_available < protocol.sessions.min:
        # The engine would raise the sessions flag whatever the trainee answers: nothing to find.
        problems.append(
            f"sessions_available: {scenario.sessions_available} is below the "
            f"{protocol.sessions.min} sessions {protocol.id} needs; the sessions flag would be "
            "given, not found"
        )
    problems.extend(
        unknown_problems(content, problem=scenario.problem, second_problem=scenario.second_problem)
    )
    for measure_id, answers in scenario.assessment.items():
        try:
            measure = content.measure(measure_id)
        except KeyError:
            problems.append(f"assessment.{measure_id}: unknown measure")
            continue
        problems.extend(
            f"assessment.{measure_id}.{p}" for p in item_problems(measure, dict(answers))
        )
        if set(answers) != {i.id for i in measure.items}:
            problems.append(f"assessment.{measure_id}: answer every item, or leave it out")
    known_themes = {t.id for t in content.themes}
    for theme in scenario.themes:
        if theme not in known_themes:
            problems.append(f"themes: unknown theme {theme!r}")
    if len(set(scenario.themes)) != len(scenario.themes):
        problems.append("themes: a theme is listed twice")
    answered = 0
    for section in SECTIONS:
        for item_id, answer in getattr(scenario.reference, section).items():
            answered += 1
            problems.extend(
                "reference." + p.removeprefix("answers.")
                for p in answer_problems(content, section, item_id, answer)
            )
    if not answered:
        problems.append("reference: answers no checklist item")
    seen: set[str] = set()
    for flag in scenario.reference_flags:
        if flag.id in seen:
            problems.append(f"reference_flags: {flag.id!r} is listed twice")
        seen.add(flag.id)
        if not _flag_target_exists(content, flag.id):
            problems.append(f"reference_flags: {flag.id!r} names no checklist item")
    return problems


def _flag_target_exists(content: ContentLibrary, flag_id: str) -> bool:
    """Whether a flag id names an item the engine could flag (its id scheme, see engine/flags)."""
    kind, _, rest = flag_id.partition(".")
    if kind == "pref":
        return rest in {i.id for i in content.preferences}
    if kind == "social":
        return rest in {d.id for d in content.social}
    if kind == "alliance":
        return rest == "weak" or rest in {i.id for i in content.alliance}
    if kind == "indication":
        what, _, rule = rest.partition(".")
        if what == "contraindicated":
            return rule in {c.id for c in content.contraindications}
        return rest in {"no_problem", "not_indicated", "severity"}
    if kind in ("demand", "format"):
        domain_id, _, detail_id = rest.partition(".")
        domain = next((d for d in content.social if d.id == domain_id), None)
        return domain is not None and detail_id in {d.id for d in domain.details}
    return False
