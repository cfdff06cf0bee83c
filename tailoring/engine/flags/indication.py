"""Flag rules on the indication: the planned protocol contraindicated, not indicated, outside its
severity range, or no problem recorded (the rules themselves in tailoring/engine/indications.py,
whose module docstring says where each comes from)."""

from __future__ import annotations

from tailoring.engine.describe import actions
from tailoring.engine.flags.case import REVIEW, new_flag
from tailoring.engine.indications import (
    Outside,
    Picture,
    chosen_after_discussion,
    problem_list,
    problem_words,
    problems_of,
    severities_outside,
    unmet_requirement,
)
from tailoring.model.case import Case
from tailoring.model.content import ContentLibrary, Protocol, in_sentence
from tailoring.model.report import Flag, Trigger

# The actions these flags point to (content/adaptations.yaml).
CHOOSE_INDICATED = "choose_indicated_protocol"
RECORD_PROBLEM = "record_presenting_problem"
STEP_UP = "discuss_step_up"
SAFEGUARDING = "local_safeguarding_procedure"
REVIEW_CHOICE = "review_choice_each_session"


def indication_flags(
    content: ContentLibrary, case: Case, protocol: Protocol, picture: Picture
) -> list[Flag]:
    """Flags on the indication: contraindicated, not indicated, severity, no problem recorded."""
    met = picture.met
    flags = [
        new_flag(
            content,
            id=f"indication.contraindicated.{rule.id}",
            severity="high",
            theme=rule.theme,
            title=f"{protocol.name} is contraindicated: {in_sentence(rule.title)}",
            explanation=f"{rule.why} Choose another protocol"
            + (
                "; follow your local safeguarding procedure first. This app does not assess risk."
                if rule.safeguarding
                else "."
            ),
            triggers=[met[rule.id]],
            actions=actions(
                content, [*([SAFEGUARDING] if rule.safeguarding else []), CHOOSE_INDICATED]
            ),
        )
        for rule in (content.contraindication(c) for c in protocol.contraindications)
        if rule.id in met
    ]
    problem_trigger = Trigger(
        section="case",
        item_id="problem",
        question="Presenting problem",
        answer=problem_words([content.problem(p).title for p in problems_of(case)])
        or "not recorded",
    )
    if not problems_of(case):
        flags.append(
            new_flag(
                content,
                id="indication.no_problem",
                severity="low",
                theme="personalisation",
                title="No presenting problem recorded: the indication is not checked",
                explanation="Which protocols are indicated depends on the presenting problem. "
                "Until it is recorded, the report cannot say whether the plan suits it; this is "
                "incompleteness, not a fit.",
                triggers=[problem_trigger],
                actions=actions(content, [RECORD_PROBLEM]),
            )
        )
    elif (
        not set(problems_of(case)) & set(protocol.indications.problems)
        or unmet_requirement(protocol, case.answers) is not None
    ):
        flags.append(
            new_flag(
                content,
                id="indication.not_indicated",
                severity="high",
                theme="personalisation",
                title=f"{protocol.name} is not indicated for the recorded problem",
                explanation=f"{protocol.name} is for {problem_list(content, protocol)}. "
                + (unmet_requirement(protocol, case.answers) or "")
                + " A protocol that fits the patient's preferences but not their problem leaves "
                "the problem untreated: review the protocol.",
                triggers=[problem_trigger],
                actions=actions(content, [CHOOSE_INDICATED, REVIEW]),
            )
        )
    flags.extend(
        severity_flag(content, case, protocol, outside)
        for outside in severities_outside(content, case, protocol, picture.severity)
    )
    return flags


def severity_flag(
    content: ContentLibrary, case: Case, protocol: Protocol, outside: Outside
) -> Flag:
    """The flag of a severity outside the protocol's range: above it, discuss a step up (or,
    when the patient chose low intensity after discussion, review the choice); below, review."""
    found, above = outside.found, outside.above
    measured = Trigger(
        section="sessions",
        item_id=found.measure_id,
        question=f"Latest {found.short_name} total",
        answer=f"Session {found.session}: {found.total} ({found.band})",
    )
    if chosen_after_discussion(case, outside):
        return new_flag(
            content,
            id=f"indication.severity_chosen{outside.suffix}",
            severity="low",
            theme="pace",
            title=f"{found.short_name} {found.total}: above the range of {protocol.name}, "
            "chosen by the patient after discussion",
            explanation=f"{outside.why}. The patient chose to continue at this step after "
            "discussing a step up; review the choice and their progress at each session.",
            triggers=[
                measured,
                Trigger(
                    section="case",
                    item_id="low_intensity_chosen",
                    question="The patient chose low intensity after discussion",
                    answer="yes",
                ),
            ],
            actions=actions(content, [REVIEW_CHOICE]),
        )
    return new_flag(
        content,
        id=f"indication.severity{outside.suffix}",
        severity="high" if above else "medium",
        theme="pace",
        title=f"{found.short_name} {found.total}: severity "
        f"{'above' if above else 'below'} the range of {protocol.name}",
        explanation=f"{outside.why}. "
        + (
            "Discuss stepping up; if the patient chooses to continue at this step after "
            "discussion, record the choice in the case's plan and review progress closely."
            if above
            else "A less intensive protocol may suit; discuss it with the patient."
        ),
        triggers=[measured],
        actions=actions(content, [STEP_UP, REVIEW] if above else [REVIEW]),
    )
