"""Whether a protocol suits the case's problem: indications, severity and contraindications.

The rules, in words (the content they read says where each comes from):
- Severity is the latest complete total of the depression measure and of the case's anxiety
  measure, from any attended session (assessment included). The depression total is split as
  NICE NG222 does: below the measure's ``more_severe_from`` (PHQ-9 16) is less severe.
- A protocol is indicated when the main or the second problem is among its indications, and the
  circumstance it needs is recorded where it names one (couple therapy: difficulties with a
  partner).
- Its depression severity range is checked when the problem is measured by depression, or not
  recorded yet: a less-severe protocol with a more severe PHQ-9 is outside its range (discuss a
  step up), and the reverse. When the case records that the patient chose low intensity after
  discussion, more severe depression on a less-severe protocol is still outside its range, but
  the flag is a low reminder to review the choice at each session, not a call to step up.
- The anxiety total is checked the same way where the protocol declares a range for the case's
  anxiety measure (``anxiety_severity``: GAD-7, or a disorder-specific measure): when the
  problem is measured by anxiety, or not recorded yet. The patient's choice covers a total above
  that range as it covers more severe depression. A measure with no range is not checked.
- A contraindication holds when any of its details is recorded in its domain. A protocol that
  lists one that holds is contraindicated: it is never suggested, and its safe-looking fit does
  not matter. Actions that list it in ``withheld_when`` are never suggested either.
- Status, best first: indicated, no problem recorded, severity outside the range, not indicated,
  contraindicated. A missing problem is incompleteness, never a fit: with none recorded, only
  the severity and the contraindications are checked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tailoring.engine.describe import social_trigger
from tailoring.engine.outcomes import score_measure
from tailoring.model.answers import Answers
from tailoring.model.case import Case
from tailoring.model.content import (
    NOTE_IN_BRACKETS,
    ContentLibrary,
    DepressionSeverity,
    Protocol,
    SeverityRole,
    SocialRule,
    in_sentence,
)
from tailoring.model.measures import Measure
from tailoring.model.report import (
    CaseSeverity,
    Indication,
    IndicationStatus,
    MeasureSeverity,
    Trigger,
)
from tailoring.model.session import Session

STATUS_ORDER: tuple[IndicationStatus, ...] = (
    "indicated",
    "no_problem",
    "severity_outside",
    "not_indicated",
    "contraindicated",
)
NO_PROBLEM = "No presenting problem recorded: whether it is indicated is not checked."
CHOSEN = (
    "The patient chose it after discussing a step up (recorded in the case's plan): review the "
    "choice at each session."
)
SPLIT_WORDS = {"less_severe": "less severe", "more_severe": "more severe"}
ACRONYM = re.compile(r"\(([A-Z0-9-]+)\)")


def latest_severity(measure: Measure, sessions: list[Session]) -> MeasureSeverity | None:
    """The measure's latest complete total at an attended session, or None."""
    for session in reversed(sessions):
        if session.attendance != "attended" or measure.id not in session.measures:
            continue
        total = score_measure(measure, session.measures[measure.id]).total
        if total is None:
            continue
        split: DepressionSeverity | None = None
        if measure.more_severe_from is not None:
            split = "more_severe" if total >= measure.more_severe_from else "less_severe"
        return MeasureSeverity(
            measure_id=measure.id,
            short_name=measure.short_name,
            total=total,
            band=measure.band(total).label,
            session=session.number,
            split=split,
        )
    return None


def case_severity(content: ContentLibrary, case: Case) -> CaseSeverity:
    """Severity from the latest depression and anxiety totals of the case's sessions."""
    if not case.sessions:
        return CaseSeverity()
    return CaseSeverity(
        depression=latest_severity(
            content.measure(content.tracking.depression_measure), case.sessions
        ),
        anxiety=latest_severity(content.measure(case.anxiety_measure), case.sessions),
    )


def holds(rule: SocialRule, answers: Answers) -> bool:
    """Whether any of the rule's details is recorded in its domain."""
    answer = answers.social.get(rule.domain)
    return (
        answer is not None
        and answer.present != "no"
        and bool(set(rule.details) & set(answer.details))
    )


def met_contraindications(content: ContentLibrary, answers: Answers) -> dict[str, Trigger]:
    """Contraindications whose rule holds on the answers, each with the answer behind it."""
    return {
        rule.id: social_trigger(
            content.social_domain(rule.when.domain), answers.social[rule.when.domain]
        )
        for rule in content.contraindications
        if holds(rule.when, answers)
    }


def unmet_requirement(protocol: Protocol, answers: Answers) -> str | None:
    """Why a protocol that needs a circumstance (``only_when``) is not indicated, or None."""
    need = protocol.indications.only_when
    if need is None or holds(need, answers):
        return None
    return protocol.indications.only_when_why


def problems_of(case: Case) -> list[str]:
    return [p for p in (case.problem, case.second_problem) if p is not None]


def severity_checked(
    content: ContentLibrary, case: Case, role: SeverityRole = "depression"
) -> bool:
    """Whether a range on the measure of ``role`` applies: a problem measured by it, or none yet."""
    recorded = problems_of(case)
    return not recorded or any(role in content.problem(p).severity_from for p in recorded)


def severity_outside(
    content: ContentLibrary, case: Case, protocol: Protocol, severity: CaseSeverity
) -> str | None:
    """Why the depression severity is outside the protocol's range, or None when it is not."""
    wanted = protocol.indications.depression_severity
    found = severity.depression
    if wanted == "any" or found is None or found.split is None or found.split == wanted:
        return None
    if not severity_checked(content, case):
        return None
    return (
        f"{found.short_name} {found.total} ({found.band.lower()}, session {found.session}) is "
        f"{SPLIT_WORDS[found.split]} depression; {protocol.name} suits "
        f"{SPLIT_WORDS[wanted]} depression (NICE NG222)"
    )


@dataclass(frozen=True)
class Outside:
    """A latest total outside the range a protocol suits: which, which way and why."""

    found: MeasureSeverity
    above: bool
    why: str
    suffix: str = ""  # of the flag's id: none for depression, ".<measure id>" for anxiety


def anxiety_outside(
    content: ContentLibrary, case: Case, protocol: Protocol, severity: CaseSeverity
) -> Outside | None:
    """The anxiety total outside the range the protocol declares for its measure, or None."""
    found = severity.anxiety
    if found is None or not severity_checked(content, case, "anxiety"):
        return None
    limits = protocol.indications.anxiety_severity.get(found.measure_id)
    if limits is None:
        return None
    above = limits.max is not None and found.total > limits.max
    if not above and (limits.min is None or found.total >= limits.min):
        return None
    checked = "" if limits.source.checked else ", not checked here"
    return Outside(
        found,
        above,
        f"{found.short_name} {found.total} ({found.band.lower()}, session {found.session}) is "
        f"{'above' if above else 'below'} the range of {protocol.name}, "
        f"{limits.words(found.short_name)} ({limits.source.document}{checked})",
        f".{found.measure_id}",
    )


def severities_outside(
    content: ContentLibrary, case: Case, protocol: Protocol, severity: CaseSeverity
) -> list[Outside]:
    """Every latest total outside the protocol's range: depression, then anxiety."""
    outside = []
    why = severity_outside(content, case, protocol, severity)
    if why is not None:
        assert severity.depression is not None
        outside.append(
            Outside(severity.depression, severity.depression.split == "more_severe", why)
        )
    anxiety = anxiety_outside(content, case, protocol, severity)
    return [*outside, *([anxiety] if anxiety is not None else [])]


def chosen_after_discussion(case: Case, outside: Outside) -> bool:
    """Whether the patient's recorded choice of low intensity covers this total: it covers a
    total above the protocol's range, never one below it."""
    return case.low_intensity_chosen and outside.above


def indication(
    content: ContentLibrary, case: Case, protocol: Protocol, picture: Picture
) -> Indication:
    """Whether ``protocol`` suits the case, with the reasons when it does not fully."""
    ruled = [content.contraindication(c) for c in protocol.contraindications if c in picture.met]
    recorded = problems_of(case)
    outside = severities_outside(content, case, protocol, picture.severity)
    status: IndicationStatus
    if ruled:
        status = "contraindicated"
        reasons = [f"{c.title}: {c.why}" for c in ruled]
    elif recorded and not set(recorded) & set(protocol.indications.problems):
        status = "not_indicated"
        names = " or ".join(content.problem(p).title_in_sentence for p in recorded)
        reasons = [f"Not indicated for {names}: it is for {problem_list(content, protocol)}."]
    elif recorded and (unmet := unmet_requirement(protocol, case.answers)) is not None:
        status = "not_indicated"
        reasons = [unmet]
    elif outside:
        status = "severity_outside"
        chosen = any(chosen_after_discussion(case, o) for o in outside)
        reasons = [*(o.why for o in outside), *([CHOSEN] if chosen else [])]
    else:
        status = "indicated" if recorded else "no_problem"
        reasons = []
    if not recorded and status != "contraindicated":
        reasons.insert(0, NO_PROBLEM)
    return Indication(
        protocol_id=protocol.id, protocol_name=protocol.name, status=status, reasons=reasons
    )


def names_problem(protocol_name: str, title: str) -> bool:
    """Whether a protocol's name already names the problem, by its words or its acronym."""
    words = NOTE_IN_BRACKETS.sub("", title)
    names = [words.split(" (")[0], *ACRONYM.findall(words)]
    return any(re.search(rf"\b{re.escape(n)}\b", protocol_name, re.IGNORECASE) for n in names)


def plan_words(content: ContentLibrary, protocol: Protocol, problem_id: str | None) -> str:
    """The planned protocol and the problem it is for, as running text: "CBT for depression"
    (its name names the problem), "Interpersonal psychotherapy (IPT) for depression", and
    "CBT for anxiety disorders, presenting problem: panic disorder" where the name has a "for"
    of its own or the problem's title carries a note ("Other (record the detail ...)")."""
    if problem_id is None:
        return f"{protocol.name}, presenting problem not recorded"
    title = content.problem(problem_id).title
    if names_problem(protocol.name, title):
        return protocol.name
    if " for " in protocol.name or NOTE_IN_BRACKETS.search(title):
        return f"{protocol.name}, presenting problem: {in_sentence(title)}"
    return f"{protocol.name} for {in_sentence(title)}"


def problem_words(titles: list[str]) -> str:
    """Problem titles as a phrase: the first as it is (it follows a label), the second in the
    sentence, e.g. "Depression, with social anxiety disorder"."""
    return ", with ".join([titles[0], *(in_sentence(t) for t in titles[1:])]) if titles else ""


def problem_list(content: ContentLibrary, protocol: Protocol) -> str:
    return ", ".join(content.problem(p).title_in_sentence for p in protocol.indications.problems)


@dataclass(frozen=True)
class Picture:
    """What the indication rules read from a case, worked out once for every protocol."""

    severity: CaseSeverity
    met: dict[str, Trigger]

    def rules_out(self, protocol: Protocol) -> bool:
        """Whether a contraindication of the protocol holds."""
        return any(c in self.met for c in protocol.contraindications)


def case_picture(content: ContentLibrary, case: Case) -> Picture:
    return Picture(case_severity(content, case), met_contraindications(content, case.answers))


def withheld(content: ContentLibrary, picture: Picture) -> frozenset[str]:
    """Adaptations never to suggest: those a recorded contraindication makes unsafe."""
    return frozenset(a.id for a in content.adaptations if set(a.withheld_when) & set(picture.met))


def indication_matrix(content: ContentLibrary) -> list[dict[str, str]]:
    """One row per protocol, one column per problem: 'yes' where it is indicated, else ''.

    The depression and anxiety severity ranges, the contraindications and how many of the sources
    behind them were checked against the guideline's text follow, so a clinician can read every
    protocol's indications, and how far to trust them, in one place (content library, tests).
    """
    rows = []
    for protocol in content.protocols:
        row = {"protocol": protocol.name, "step": protocol.step.replace("_", " ")}
        for problem in content.problems:
            row[problem.title] = "yes" if problem.id in protocol.indications.problems else ""
        row["depression severity"] = protocol.indications.depression_severity.replace("_", " ")
        row["anxiety severity"] = ", ".join(
            limits.words(content.measure(m).short_name)
            for m, limits in protocol.indications.anxiety_severity.items()
        )
        row["contraindications"] = ", ".join(
            content.contraindication(c).title for c in protocol.contraindications
        )
        sources = [
            *protocol.sources,
            *(s for c in protocol.contraindications for s in content.contraindication(c).sources),
        ]
        row["sources checked"] = f"{sum(s.checked for s in sources)} of {len(sources)}"
        row["not checked here"] = "; ".join(
            dict.fromkeys(s.short for s in sources if not s.checked)
        )
        rows.append(row)
    return rows
