"""Invented caseloads for the demo database, the tests and the benchmarks: varied, never real.

``demo_cases(content, n, seed)`` draws ``n`` valid cases, the same for the same seed (and the
first ``k`` of ``n`` are the ``k`` cases of a smaller call). Everything is invented: therapist
names are fictional staff, references are DEMO-10001 upwards, and no free text is written.

The variety follows the brief, in round figures:
- Therapists: eight fictional staff; three Psychological Wellbeing Practitioners hold step 2
  protocols, five high-intensity therapists the rest. Caseloads are uneven, and one part-time
  trainee has a small one, so small numbers appear per therapist.
- Patients come in five loose types (wants skills and structure; wants depth and understanding;
  wants warm support; wants brisk practical help; trauma-focused), with preferences scattered
  around the type's centre. About two in three are planned a protocol that suits their type
  within the therapist's step; the rest any protocol of the step, so mismatches occur.
- Social context at rough prevalences (relationships 35%, work 30%, money 25%, physical health
  25%, housing 20%, housing twice as likely with money worries; safeguarding 3%).
- Courses: about 8% are waiting (no sessions); 12% are assessed but never start treatment; of
  those who start, about a third attend one treatment session only (the brief: for every person
  attending one session, two attend two or more). Of the rest, some are still in treatment and
  most have finished: about half recover, some improve without recovering, a quarter do not
  change, one in ten deteriorates. About one in ten starts below caseness. Sessions are weekly
  or fortnightly, with missed (8%) and cancelled (5%) appointments.
- Referrals and endings: every case has a referral date; the wait to the first appointment is
  within 6 weeks for about 70%, 6–18 weeks for about a quarter, longer for a few. Finished
  courses end ("completed", a few "stepped up"); most who attend one treatment session, or are
  assessed only, end too (dropped out, declined, referred on, moved); those still in treatment
  and a few of the others stay open.
- Measures (PHQ-9, the case's anxiety measure, WSAS) at attended sessions, a few missing or
  partial; the PHQ-9 risk item is above 0 at some point for about 5% of patients.
- Alliance checks at about three in four attended treatment sessions, with ruptures (more often
  in courses that go badly), about half of them repaired by the next session.
"""

from __future__ import annotations

import datetime
import random
from dataclasses import dataclass
from typing import Any

from tailoring.model.case import Case
from tailoring.model.content import ContentLibrary, PreferenceItem, Protocol
from tailoring.model.measures import NOT_APPLICABLE, Measure

FIRST_REFERENCE = 10001
START = datetime.date(2025, 4, 7)
REFERRAL_SPAN_DAYS = 330


@dataclass(frozen=True)
class Therapist:
    name: str
    high_intensity: bool
    share: float  # relative size of the caseload


THERAPISTS = (
    Therapist("A. Okafor", False, 1.3),
    Therapist("B. Lindqvist", False, 1.0),
    Therapist("C. Mensah", False, 0.8),
    Therapist("D. Hughes", True, 1.2),
    Therapist("E. Kowalska", True, 1.0),
    Therapist("F. Rahman", True, 1.0),
    Therapist("G. O'Neill", True, 0.7),
    Therapist("H. Tanaka (trainee)", True, 0.12),
)


@dataclass(frozen=True)
class PatientType:
    name: str
    share: float
    centres: dict[str, float]  # preference scale id → centre on 1–5
    goals: tuple[str, ...]
    formats: tuple[str, ...]
    suits: tuple[str, ...]  # protocol ids that usually fit this type


PATIENT_TYPES = (
    PatientType(
        "skills and structure",
        0.30,
        {
            "directiveness": 2,
            "structure": 1.8,
            "focus": 1.5,
            "emotional_intensity": 2,
            "challenge": 3,
            "practice": 4.2,
            "course_length": 1.6,
            "pace": 3.6,
        },
        ("symptom_relief", "skills"),
        ("in_person", "video", "phone", "digital"),
        ("gsh_cbt", "ba_step2", "dcbt", "cbt_depression", "cbt_anxiety"),
    ),
    PatientType(
        "depth and understanding",
        0.20,
        {
            "directiveness": 4,
            "structure": 4.2,
            "focus": 4.4,
            "emotional_intensity": 4,
            "challenge": 2.6,
            "practice": 1.8,
            "course_length": 4,
            "pace": 1.8,
        },
        ("understanding", "symptom_relief"),
        ("in_person", "video"),
        ("dit", "counselling_depression", "ipt"),
    ),
    PatientType(
        "warm support",
        0.25,
        {
            "directiveness": 3.5,
            "structure": 3.5,
            "focus": 2.6,
            "emotional_intensity": 2,
            "challenge": 1.4,
            "practice": 2,
            "course_length": 3,
            "pace": 1.6,
        },
        ("symptom_relief", "practical_change"),
        ("in_person", "phone", "video"),
        ("counselling_depression", "ipt", "ba_step2", "couple_therapy"),
    ),
    PatientType(
        "brisk practical help",
        0.15,
        {
            "directiveness": 2,
            "structure": 2,
            "focus": 1,
            "emotional_intensity": 1.5,
            "challenge": 3.2,
            "practice": 3,
            "course_length": 1.4,
            "pace": 4.5,
        },
        ("practical_change", "skills"),
        ("phone", "video", "digital", "group"),
        ("ba_step2", "gsh_cbt", "dcbt", "psychoed_group", "cbt_anxiety"),
    ),
    PatientType(
        "trauma-focused",
        0.10,
        {
            "directiveness": 2.5,
            "structure": 2.5,
            "focus": 3.4,
            "emotional_intensity": 3,
            "challenge": 2.5,
            "practice": 3,
            "course_length": 3.6,
            "pace": 2.4,
        },
        ("symptom_relief", "understanding"),
        ("in_person", "video"),
        ("emdr", "tf_cbt"),
    ),
)
SOCIAL_PREVALENCE = {
    "housing": 0.20,
    "money": 0.25,
    "work_benefits": 0.30,
    "caring": 0.15,
    "relationships": 0.35,
    "discrimination": 0.08,
    "culture_language": 0.08,
    "physical_health": 0.25,
    "access": 0.15,
    "communication": 0.08,
    "legal_immigration": 0.03,
    "substance_use": 0.10,
    "safeguarding": 0.03,
}
OTHER_DOMAIN_PREVALENCE = 0.05
# Course shapes: (share, name). Shares of all cases; "started" splits further below.
WAITING, ASSESSED_ONLY = 0.08, 0.12
ONE_SESSION_OF_STARTED = 0.33
IN_PROGRESS_OF_CONTINUING = 0.25
TRAJECTORIES = (("recover", 0.47), ("improve", 0.15), ("no_change", 0.28), ("deteriorate", 0.10))
MISSED, CANCELLED = 0.08, 0.05


def demo_cases(
    content: ContentLibrary, n: int, seed: int = 0, first: int = FIRST_REFERENCE
) -> list[Case]:
    """``n`` invented, valid cases with sessions; the same for the same seed.

    References are ``demo_reference(first)`` upwards: only they change with ``first``.
    """
    if n < 0:
        raise ValueError(f"n must be 0 or more, got {n}")
    therapists = _staff(content)
    return [
        Case.model_validate(
            {
                **_case(content, therapists, random.Random(seed * 1_000_003 + i)),
                "reference": demo_reference(first + i),
            },
            context={"content": content},
        )
        for i in range(n)
    ]


def demo_reference(number: int) -> str:
    """The reference of an invented case: DEMO- and a number, e.g. DEMO-10001."""
    return f"DEMO-{number}"


def _staff(content: ContentLibrary) -> list[tuple[Therapist, list[Protocol]]]:
    """Each therapist with the protocols of their step (step 2, or everything above it)."""
    low = [p for p in content.protocols if p.step == "step_2"]
    high = [p for p in content.protocols if p.step != "step_2"]
    staff = [(t, high if t.high_intensity else low) for t in THERAPISTS]
    return [(t, protocols) for t, protocols in staff if protocols]


def _pick(rng: random.Random, weighted: list[tuple[Any, float]]) -> Any:
    return rng.choices([v for v, _ in weighted], weights=[w for _, w in weighted])[0]


def _case(
    content: ContentLibrary,
    staff: list[tuple[Therapist, list[Protocol]]],
    rng: random.Random,
) -> dict[str, Any]:
    therapist, protocols = _pick(rng, [(s, s[0].share) for s in staff])
    kind = _pick(rng, [(t, t.share) for t in PATIENT_TYPES])
    suited = [p for p in protocols if p.id in kind.suits]
    protocol = rng.choice(suited if suited and rng.random() < 0.65 else protocols)
    available = protocol.sessions.max
    if rng.random() < 0.25:
        available = rng.randint(protocol.sessions.min, protocol.sessions.max)
    if rng.random() < 0.10:
        available = max(1, protocol.sessions.min - rng.randint(1, 3))
    full = rng.random() < 0.85
    return {
        "therapist": therapist.name,
        "protocol_id": protocol.id,
        "sessions_available": available,
        "step": "report" if full else rng.choice(["preferences", "social", "alliance"]),
        "anxiety_measure": _anxiety_measure(content).id,
        "answers": {
            "preferences": _preferences(content, kind, rng, full),
            "social": _social(content, rng, full),
            "alliance": _alliance_check(content, rng, full),
        },
        **_referral(*_sessions(content, protocol, available, therapist, rng), rng),
        # The first problem the protocol is for: no draw, so every other figure stays the same.
        "problem": protocol.indications.problems[0],
    }


# How each stage of a course ends: (reason, weight); None leaves the referral open.
ENDINGS: dict[str, list[tuple[str | None, float]]] = {
    "waiting": [(None, 0.9), ("declined", 0.1)],
    "assessed": [(None, 0.2), ("declined", 0.4), ("referred_on", 0.3), ("moved", 0.1)],
    "one": [(None, 0.3), ("dropped_out", 0.6), ("moved", 0.1)],
    "in_progress": [(None, 1.0)],
    "course": [("completed", 0.85), ("stepped_up", 0.1), ("other", 0.05)],
}
# Days from referral to the first appointment: (lowest, highest, weight).
WAITS = ((3, 42, 0.7), (43, 126, 0.25), (127, 200, 0.05))


def _referral(sessions: list[dict[str, Any]], stage: str, rng: random.Random) -> dict[str, Any]:
    """The sessions with a referral date and, by the course's stage, an ending."""
    low, high = _pick(rng, [((lo, hi), w) for lo, hi, w in WAITS])
    first = (
        datetime.date.fromisoformat(sessions[0]["date"])
        if sessions
        else START + datetime.timedelta(days=rng.randrange(REFERRAL_SPAN_DAYS))
    )
    referral = first - datetime.timedelta(days=rng.randint(low, high))
    fields: dict[str, Any] = {"sessions": sessions, "referral_date": referral.isoformat()}
    reason = _pick(rng, ENDINGS[stage])
    if reason is not None:
        last = datetime.date.fromisoformat(sessions[-1]["date"]) if sessions else referral
        fields["ending_date"] = (last + datetime.timedelta(days=rng.randint(0, 14))).isoformat()
        fields["ending_reason"] = reason
    return fields


def _anxiety_measure(content: ContentLibrary) -> Measure:
    anxiety = [m for m in content.measures if m.role == "anxiety"]
    return next((m for m in anxiety if m.id == "gad7"), anxiety[0])


# Walk-through answers ---------------------------------------------------------------------------


def _importance(rng: random.Random) -> int:
    return _pick(rng, [(0, 0.15), (1, 0.35), (2, 0.35), (3, 0.15)])


def _preferences(
    content: ContentLibrary, kind: PatientType, rng: random.Random, full: bool
) -> dict[str, Any]:
    answers = {}
    for item in content.preferences:
        if not full and rng.random() < 0.4:
            continue
        answers[item.id] = {"value": _preference(item, kind, rng), "importance": _importance(rng)}
    return answers


def _preference(item: PreferenceItem, kind: PatientType, rng: random.Random) -> Any:
    if item.kind == "scale":
        centre = kind.centres.get(item.id, 3.0)
        return min(5, max(1, round(rng.gauss(centre, 0.9))))
    options = item.options or []
    if item.kind == "choice":
        neutral = [o.id for o in options if o.neutral]
        others = [o.id for o in options if not o.neutral]
        if neutral and (not others or rng.random() < 0.85):
            return neutral[0]
        return rng.choice(others or neutral)
    liked = [o.id for o in options if o.id in (*kind.formats, *kind.goals)]
    picked = [o for o in liked if rng.random() < 0.7]
    picked += [o.id for o in options if o.id not in liked and rng.random() < 0.1]
    return picked or [rng.choice(liked or [o.id for o in options])]


def _social(content: ContentLibrary, rng: random.Random, full: bool) -> dict[str, Any]:
    answers: dict[str, Any] = {}
    for domain in content.social:
        if not full and rng.random() < 0.5:
            continue
        chance = SOCIAL_PREVALENCE.get(domain.id, OTHER_DOMAIN_PREVALENCE)
        if domain.id == "housing" and answers.get("money", {}).get("present") == "yes":
            chance *= 2
        if rng.random() >= chance:
            answers[domain.id] = {"present": "no"}
            continue
        details = [d.id for d in domain.details]
        answers[domain.id] = {
            "present": "yes",
            "maintains": _pick(rng, [("yes", 0.5), ("no", 0.3), ("unsure", 0.2)]),
            "helping": _pick(rng, [("yes", 0.3), ("no", 0.55), ("unsure", 0.15)]),
            "details": sorted(rng.sample(details, min(len(details), rng.randint(1, 2)))),
        }
    return answers


def _alliance_check(content: ContentLibrary, rng: random.Random, full: bool) -> dict[str, Any]:
    if not full and rng.random() < 0.5:
        return {}
    quality = rng.gauss(3.0, 0.6)
    return _alliance(content, rng, quality, rupture=1 if rng.random() < 0.08 else 0)


def _alliance(
    content: ContentLibrary, rng: random.Random, quality: float, rupture: int
) -> dict[str, Any]:
    """Ratings around ``quality`` (0–4), the reversed items mirrored, rupture signs as given."""
    answers = {}
    for item in content.alliance:
        if item.kind == "rupture":
            value = rupture if rupture and rng.random() < 0.7 else 0
        else:
            centre = item.max_value - quality if item.reverse else quality
            value = round(rng.gauss(centre, 0.5))
        answers[item.id] = {"value": min(item.max_value, max(0, value))}
    return answers


# Sessions ---------------------------------------------------------------------------------------


def _sessions(
    content: ContentLibrary,
    protocol: Protocol,
    available: int,
    therapist: Therapist,
    rng: random.Random,
) -> tuple[list[dict[str, Any]], str]:
    """An assessment, then a course of treatment shaped like the brief's attrition, and the
    course's stage: waiting, assessed (only), one (treatment session), in_progress or course."""
    roll = rng.random()
    if roll < WAITING:
        return [], "waiting"
    start = START + datetime.timedelta(days=rng.randrange(REFERRAL_SPAN_DAYS))
    # The change over a course runs over its planned length; a finished course may end early.
    length = max(2, available)
    if roll < WAITING + ASSESSED_ONLY:
        attended, stage = 0, "assessed"
    elif rng.random() < ONE_SESSION_OF_STARTED:
        attended, stage = 1, "one"
    elif rng.random() < IN_PROGRESS_OF_CONTINUING:
        attended, stage = rng.randint(2, max(2, length - 1)), "in_progress"
    else:
        attended = length = rng.randint(max(2, length * 2 // 3), length)
        stage = "course"
    course = _Course(content, therapist, rng, attended, length)
    weekly = protocol.step != "step_2" or rng.random() < 0.6
    return course.sessions(start, weekly), stage


class _Course:
    """One patient's course: severity from a baseline to an end point, and the alliance."""

    def __init__(
        self,
        content: ContentLibrary,
        therapist: Therapist,
        rng: random.Random,
        attended: int,
        length: int,
    ) -> None:
        self.content = content
        self.rng = rng
        self.attended = attended
        self.length = length  # treatment sessions over which the change happens
        self.depression = content.measure(content.tracking.depression_measure)
        self.anxiety = _anxiety_measure(content)
        functioning = content.tracking.functioning_measure
        self.functioning = content.measure(functioning) if functioning else None
        self.trajectory = _pick(rng, list(TRAJECTORIES))
        self.below_caseness = rng.random() < 0.10
        self.base = self._baseline(therapist)
        self.end = {m: self._end(m, b) for m, b in self.base.items()}
        self.risk_session = rng.randint(0, max(1, attended)) if rng.random() < 0.05 else None
        self.work_na = rng.random() < 0.15
        self.quality = rng.gauss(3.0, 0.5)
        going_badly = self.trajectory == "deteriorate" or attended == 1
        self.rupture_at = (
            rng.randint(1, max(1, attended)) if rng.random() < (0.3 if going_badly else 0.08) else 0
        )
        self.repaired = rng.random() < 0.5

    def _caseness(self, measure: Measure) -> float:
        return (measure.caseness or measure.max_total // 2) / measure.max_total

    def _change(self, measure: Measure) -> float:
        return (measure.reliable_change or measure.max_total // 5) / measure.max_total

    def _baseline(self, therapist: Therapist) -> dict[str, float]:
        rng = self.rng
        if self.below_caseness:
            return {
                m.id: rng.uniform(0.1, 0.9) * self._caseness(m)
                for m in (self.depression, self.anxiety)
            }
        centre = 17 / 27 if therapist.high_intensity else 14.5 / 27
        depression = min(1.0, max(0.15, rng.gauss(centre, 0.12)))
        anxiety = min(1.0, max(0.1, depression * rng.uniform(0.75, 1.15) + rng.gauss(0, 0.06)))
        return {self.depression.id: depression, self.anxiety.id: anxiety}

    def _end(self, measure_id: str, base: float) -> float:
        measure = self.content.measure(measure_id)
        rng, caseness, change = self.rng, self._caseness(measure), self._change(measure)
        if self.trajectory == "recover" and not self.below_caseness:
            return min(base - change * 0.5, caseness * rng.uniform(0.3, 0.9))
        if self.trajectory in ("recover", "improve"):
            return max(0.0, base - change * rng.uniform(1.1, 1.8))
        if self.trajectory == "deteriorate":
            return min(1.0, base + change * rng.uniform(1.1, 1.6))
        return min(1.0, max(0.0, base + rng.gauss(0, change * 0.3)))

    def _level(self, measure_id: str, progress: float) -> float:
        base, end = self.base[measure_id], self.end[measure_id]
        return min(1.0, max(0.0, base + (end - base) * progress + self.rng.gauss(0, 0.03)))

    def _items(self, measure: Measure, level: float, risk: int) -> dict[str, Any]:
        """Item answers adding up to about ``level`` of the measure's range."""
        rng = self.rng
        items = list(measure.items)
        values: dict[str, Any] = {}
        if measure.risk_item:
            values[measure.risk_item] = risk
            items = [i for i in items if i.id != measure.risk_item]
        if self.work_na:
            for item in items:
                if item.not_applicable:
                    values[item.id] = NOT_APPLICABLE
            items = [i for i in items if not i.not_applicable]
        top = measure.max_value
        total = round(level * top * len(items))
        base, extra = divmod(total, len(items))
        counts = [base] * len(items)
        for index in rng.sample(range(len(items)), extra):
            counts[index] += 1
        for _ in range(3):
            a, b = rng.randrange(len(items)), rng.randrange(len(items))
            if counts[a] > measure.min_value and counts[b] < top:
                counts[a] -= 1
                counts[b] += 1
        for item, value in zip(items, counts, strict=True):
            values[item.id] = min(top, max(measure.min_value, value))
        if rng.random() < 0.02:
            del values[rng.choice(items).id]
        return values

    def _measures(self, progress: float, risk: int) -> dict[str, Any]:
        if self.rng.random() < 0.05:
            return {}
        dep = self._level(self.depression.id, progress)
        measures = {
            self.depression.id: self._items(self.depression, dep, risk),
            self.anxiety.id: self._items(self.anxiety, self._level(self.anxiety.id, progress), 0),
        }
        if self.functioning is not None:
            level = min(1.0, max(0.0, dep * 0.8 + self.rng.gauss(0, 0.08)))
            measures[self.functioning.id] = self._items(self.functioning, level, 0)
        return measures

    def _session_alliance(self, treatment: int) -> dict[str, Any]:
        if self.rng.random() > 0.75:
            return {}
        quality, rupture = self.quality, 0
        ruptured = self.rupture_at and (
            treatment == self.rupture_at or (treatment > self.rupture_at and not self.repaired)
        )
        if ruptured:
            quality, rupture = quality - self.rng.uniform(1.0, 2.0), self.rng.choice([1, 2])
        return _alliance(self.content, self.rng, quality, rupture)

    def sessions(self, start: datetime.date, weekly: bool) -> list[dict[str, Any]]:
        rng = self.rng
        gap = datetime.timedelta(weeks=1 if weekly else 2)
        date = start
        if self.attended > 0 or rng.random() < 0.9:
            sessions = [self._attended(1, date, "assessment", 0.0, 0)]
        else:
            sessions = [_missed(1, date, "did_not_attend", "assessment")]
        if self.attended == 0:
            # Some who never start miss or cancel the first treatment appointment offered.
            if rng.random() < 0.5:
                date += gap
                sessions.append(_missed(2, date, rng.choice(["did_not_attend", "cancelled"])))
            return sessions
        attended = 0
        while attended < self.attended:
            date += gap
            number = len(sessions) + 1
            roll = rng.random()
            if attended and roll < MISSED + CANCELLED:
                status = "did_not_attend" if roll < MISSED else "cancelled"
                sessions.append(_missed(number, date, status))
                continue
            attended += 1
            risk = 1 if self.risk_session == attended else 0
            progress = (attended - 1) / max(1, self.length - 1)
            sessions.append(self._attended(number, date, "treatment", progress, attended, risk))
        if self.attended == 1:
            for _ in range(rng.choice([0, 1, 1, 2])):
                date += gap
                status = "did_not_attend" if rng.random() < 0.7 else "cancelled"
                sessions.append(_missed(len(sessions) + 1, date, status))
        return sessions

    def _attended(
        self,
        number: int,
        date: datetime.date,
        kind: str,
        progress: float,
        treatment: int,
        risk: int = 0,
    ) -> dict[str, Any]:
        return {
            "number": number,
            "date": date.isoformat(),
            "attendance": "attended",
            "kind": kind,
            "measures": self._measures(progress, risk),
            "alliance": self._session_alliance(treatment) if kind == "treatment" else {},
        }


def _missed(
    number: int, date: datetime.date, status: str, kind: str = "treatment"
) -> dict[str, Any]:
    return {"number": number, "date": date.isoformat(), "attendance": status, "kind": kind}
