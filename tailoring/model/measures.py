"""Pydantic models of the outcome measures (PHQ-9, GAD-7, WSAS…) and the tracking rules."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StrictInt, model_validator

from tailoring.model.base import Identifier, Strict

MeasureRole = Literal["depression", "anxiety", "functioning"]
MEASURE_ROLES: tuple[MeasureRole, ...] = ("depression", "anxiety", "functioning")
NOT_APPLICABLE: Literal["na"] = "na"
# One item's answer in a case file: a value, not answered yet (None), or "not applicable".
ItemValue = StrictInt | None | Literal["na"]
Loinc = Annotated[str, Field(pattern=r"^\d{1,7}-\d$", description="A LOINC code, e.g. 44249-1.")]
# Answer codes (LA…) are checked for their form only: their check digit is not the mod-10 of the
# digits that LOINC's question codes use.
LoincAnswer = Annotated[
    str, Field(pattern=r"^LA\d{1,8}-\d$", description="A LOINC answer code, e.g. LA6568-5.")
]


def loinc_check_digit(number: str) -> int:
    """LOINC's mod-10 check digit of the part before the dash (the Luhn scheme)."""
    total = 0
    for position, char in enumerate(reversed(number)):
        digit = int(char) * (2 if position % 2 == 0 else 1)
        total += digit // 10 + digit % 10
    return (10 - total % 10) % 10


def loinc_problems(code: str | None) -> list[str]:
    if code is None:
        return []
    number, _, check = code.partition("-")
    if loinc_check_digit(number) != int(check):
        return [f"{code} fails the LOINC check digit"]
    return []


class MeasureOption(Strict):
    """One answer an item offers, with the value it scores."""

    value: int = Field(ge=0, le=100)
    label: str
    loinc: LoincAnswer | None = Field(
        None, description="LOINC's code of this answer; give one on every option or on none."
    )


class MeasureItem(Strict):
    """One question of a measure."""

    id: Identifier
    text: str
    not_applicable: str | None = Field(
        None, description="Label of a 'not applicable' answer; only items with one accept 'na'."
    )
    loinc: Loinc | None = Field(
        None,
        description="LOINC's code of the question; every item of a measure with "
        "LOINC panel codes needs one.",
    )
    other_loinc_answers: dict[LoincAnswer, int] = Field(
        default_factory=dict,
        description="LOINC answer codes other systems send for this item besides the options' "
        "own, with the value each scores (read on import only).",
    )


class Band(Strict):
    """A range of totals with its label, e.g. 10–14 moderate."""

    min: int = Field(ge=0)
    max: int = Field(ge=0)
    label: str


class MeasureCodes(Strict):
    """LOINC codes of the whole questionnaire (panel) and of its total score."""

    panel: Loinc
    total: Loinc
    not_recorded: list[Loinc] = Field(
        default_factory=list,
        description="Questions of LOINC's panel that this measure leaves out; a response "
        "that answers them is imported without them.",
    )


class Measure(Strict):
    """A questionnaire scored by summing its items, with bands and outcome thresholds."""

    id: Identifier
    name: str
    short_name: str
    role: MeasureRole
    measures: str = Field(description="What the questionnaire measures.")
    source: str = Field(description="Where it comes from and on what terms it is used.")
    question: str = Field(description="The question every item answers.")
    options: list[MeasureOption] = Field(min_length=2)
    items: list[MeasureItem] = Field(min_length=1)
    bands: list[Band] = Field(min_length=1)
    caseness: int | None = Field(
        None, description="A total at or above this is 'at caseness' (NHS Talking Therapies)."
    )
    reliable_change: int | None = Field(
        None, description="A change of at least this many points is reliable."
    )
    more_severe_from: int | None = Field(
        None,
        description="A total at or above this is 'more severe' (NICE NG222's split of "
        "depression at PHQ-9 16); below it, 'less severe'.",
    )
    risk_item: Identifier | None = Field(
        None, description="An item whose answer above 0 prompts the local risk procedure."
    )
    loinc: MeasureCodes | None = None

    @property
    def min_value(self) -> int:
        return self.options[0].value

    @property
    def max_value(self) -> int:
        return self.options[-1].value

    @property
    def min_total(self) -> int:
        return self.min_value * len(self.items)

    @property
    def max_total(self) -> int:
        return self.max_value * len(self.items)

    @model_validator(mode="after")
    def _consistent(self) -> Measure:
        problems: list[str] = []
        values = [o.value for o in self.options]
        if values != sorted(set(values)):
            problems.append("options: values must be distinct and ascending")
        ids = [i.id for i in self.items]
        if len(set(ids)) != len(ids):
            problems.append("items: duplicate id")
        problems.extend(
            f"items.{i}: id must start with {self.id}_"
            for i in ids
            if not i.startswith(f"{self.id}_")
        )
        if all(i.not_applicable for i in self.items):
            problems.append("items: at least one item must be scored (not all 'not applicable')")
        problems.extend(self._band_problems())
        for name in ("caseness", "reliable_change", "more_severe_from"):
            value = getattr(self, name)
            if value is not None and not self.min_total < value <= self.max_total:
                problems.append(f"{name}: {value} is outside {self.min_total + 1}–{self.max_total}")
        if self.role != "functioning":
            problems.extend(
                f"{name}: a {self.role} measure needs one for the outcome definitions"
                for name in ("caseness", "reliable_change")
                if getattr(self, name) is None
            )
        if self.risk_item is not None and self.risk_item not in ids:
            problems.append(f"risk_item: {self.risk_item!r} is not an item")
        problems.extend(self._loinc_problems())
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def _loinc_problems(self) -> list[str]:
        """Check digits, and codes that could not tell two questions or two answers apart."""
        problems: list[str] = []
        for item in self.items:
            problems.extend(f"items.{item.id}.loinc: {p}" for p in loinc_problems(item.loinc))
        answer_codes = [o.loinc for o in self.options]
        if any(answer_codes) and not all(answer_codes):
            problems.append("options: give a LOINC answer code on every option or on none")
        if len(set(answer_codes)) < len(answer_codes) and all(answer_codes):
            problems.append("options: the LOINC answer codes must differ")
        values = {o.value for o in self.options}
        for item in self.items:
            for code, value in item.other_loinc_answers.items():
                where = f"items.{item.id}.other_loinc_answers.{code}"
                if value not in values:
                    problems.append(f"{where}: {value} is not the value of an option")
                if code in answer_codes:
                    problems.append(f"{where}: already the code of an option")
        if self.loinc is None:
            problems.extend(
                f"items.{item.id}: other_loinc_answers need the measure's loinc codes"
                for item in self.items
                if item.other_loinc_answers
            )
            return problems
        panel = [self.loinc.panel, self.loinc.total, *self.loinc.not_recorded]
        problems.extend(f"loinc.panel: {p}" for p in loinc_problems(self.loinc.panel))
        problems.extend(f"loinc.total: {p}" for p in loinc_problems(self.loinc.total))
        problems.extend(f"loinc.not_recorded: {p}" for c in panel[2:] for p in loinc_problems(c))
        problems.extend(
            f"items.{item.id}.loinc: a measure with LOINC panel codes needs one on every item"
            for item in self.items
            if item.loinc is None
        )
        codes = [*panel, *(i.loinc for i in self.items if i.loinc)]
        problems.extend(
            f"loinc: {code} is given twice"
            for code in sorted({c for c in codes if codes.count(c) > 1})
        )
        return problems

    def _band_problems(self) -> list[str]:
        """Bands must cover every total from the lowest to the highest, without gaps or overlaps."""
        problems = [f"bands: {b.min}–{b.max} is empty" for b in self.bands if b.min > b.max]
        expected = self.min_total
        for band in self.bands:
            if band.min != expected:
                problems.append(f"bands: {band.label!r} starts at {band.min}, expected {expected}")
            expected = band.max + 1
        if expected - 1 != self.max_total:
            problems.append(f"bands: the last band ends at {expected - 1}, not {self.max_total}")
        return problems

    def item(self, item_id: str) -> MeasureItem:
        for item in self.items:
            if item.id == item_id:
                return item
        raise KeyError(f"unknown item {item_id!r} of {self.short_name}")

    def band(self, total: int) -> Band:
        for band in self.bands:
            if band.min <= total <= band.max:
                return band
        span = f"{self.min_total}–{self.max_total}"
        raise ValueError(f"{total} is outside {self.short_name}'s {span}")

    def severity(self, total: int) -> float:
        """How far up the bands ``total`` falls: 0 in the lowest band, 1 in the highest.

        Screens colour a total by this, so that the colour follows severity whatever a measure's
        number of bands (PHQ-9 has five, GAD-7 four, WSAS three).
        """
        band = self.band(total)
        return self.bands.index(band) / max(len(self.bands) - 1, 1)

    def option_label(self, value: int) -> str:
        return next(o.label for o in self.options if o.value == value)


def item_problems(measure: Measure, answers: dict[str, ItemValue]) -> list[str]:
    """Why answers do not fit a measure, each starting with the item id (empty when they fit)."""
    problems = []
    allowed = {o.value for o in measure.options}
    for item_id, value in answers.items():
        try:
            item = measure.item(item_id)
        except KeyError:
            problems.append(f"{item_id}: unknown item of {measure.short_name}")
            continue
        if value == NOT_APPLICABLE:
            if item.not_applicable is None:
                problems.append(f"{item_id}: 'not applicable' is not allowed on this item")
        elif value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            problems.append(f"{item_id}: expected a whole number, got {value!r}")
        elif value is not None and value not in allowed:
            span = f"{measure.min_value}–{measure.max_value}"
            problems.append(f"{item_id}: {value} is outside {span}")
    return problems


class TrackingRules(Strict):
    """Choices that turn session records into flags; see content/measures/rules.yaml for why."""

    depression_measure: Identifier = Field(description="Measure of the depression outcome.")
    functioning_measure: Identifier | None = Field(
        None, description="Measure of functioning, shown beside the outcomes."
    )
    finished_min_treatment_sessions: int = Field(
        ge=1, le=60, description="Attended treatment sessions that make a finished course."
    )
    not_on_track_after_treatment_sessions: int = Field(
        ge=1, le=60, description="No reliable improvement after this many is 'not on track'."
    )
    alliance_drop_points: float = Field(
        gt=0, le=100, description="A fall of the 0–100 alliance score that counts as a rupture."
    )
    alliance_min_ratings: int = Field(
        ge=1, le=20, description="Ratings a session needs for its alliance score to be compared."
    )
    early_until_treatment_sessions: int = Field(
        ge=1, le=60, description="The start of a course lasts until this many are attended."
    )


class ExpectedPoint(Strict):
    """Where patients who started in one band stood at one treatment appointment."""

    appointment: int = Field(ge=1, description="The k-th attended treatment appointment.")
    expected: float = Field(description="The median score at that appointment.")
    boundary: float = Field(
        description="The score at the curve's percentile: above it, a patient is not on track."
    )
    cases: int = Field(ge=1, description="Finished courses scored at that appointment.")


class ExpectedCurve(Strict):
    """The expected change of one measure for patients who started within a range of scores."""

    measure: Identifier
    start_min: int = Field(ge=0)
    start_max: int = Field(ge=0)
    label: str = Field(description="The measure's band the range is, e.g. 'Moderate'.")
    points: list[ExpectedPoint]


class ExpectedChange(Strict):
    """Expected-change curves with a failure boundary (content/measures/expected_change.yaml)."""

    source: str = Field(description="Which finished courses the curves were computed from.")
    computed_on: str = Field(description="When, as an ISO date.")
    percentile: float = Field(gt=50, lt=100, description="The boundary's percentile.")
    min_cases: int = Field(ge=1, description="Fewest courses behind a point.")
    curves: list[ExpectedCurve] = Field(default_factory=list)

    def curve(self, measure_id: str, first: int) -> ExpectedCurve | None:
        """The curve of patients who started where ``first`` is, or None."""
        for curve in self.curves:
            if curve.measure == measure_id and curve.start_min <= first <= curve.start_max:
                return curve
        return None

    def point(self, measure_id: str, first: int, appointment: int) -> ExpectedPoint | None:
        """The point for a patient who started at ``first``, or None where there is none."""
        curve = self.curve(measure_id, first)
        if curve is None:
            return None
        return next((p for p in curve.points if p.appointment == appointment), None)


WaitId = Literal["first_appointment", "first_treatment", "second_treatment"]
WAIT_IDS: tuple[WaitId, ...] = ("first_appointment", "first_treatment", "second_treatment")


class WaitStandard(Strict):
    """A waiting-time standard: the share of cases that must wait at most so long
    (content/waits.yaml)."""

    id: Identifier
    label: str
    wait: WaitId
    within_days: int = Field(ge=0, le=3650)
    target: float = Field(gt=0, le=1, description="The share that must meet it, e.g. 0.75.")
    source: str
