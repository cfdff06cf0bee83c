"""Scores the overall fit of many cases against every protocol at once, with numpy.

The figures are exactly those of ``protocol_fit(content, case, protocol).overall``: the same
per-dimension rules (engine/fit.py), the same rounding to one decimal, per dimension and overall,
and the same cap when a hard mismatch is raised (engine/flags/case.py, ``demand_flags``). Cases and
protocols are first laid out as arrays (``case_matrix``, ``protocol_matrix``, plain loops over
the answers); ``overall_fits`` then scores every pair by broadcasting, with no loop over cases.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import get_args

import numpy as np

from tailoring.engine.fit import (
    GOAL_SCORES,
    HARD_MISMATCH_CAP,
    ZERO_FIT_DISTANCE,
    is_answered,
    weight_of,
)
from tailoring.model.answers import chosen_options
from tailoring.model.case import Case
from tailoring.model.content import (
    SCALE_MAX,
    SCALE_MIN,
    ContentLibrary,
    DemandId,
    FormatId,
    PreferenceItem,
    TimeId,
)

FORMATS: tuple[str, ...] = get_args(FormatId)
TIMES: tuple[str, ...] = get_args(TimeId)
DEMANDS: tuple[str, ...] = get_args(DemandId)
SCALE_POINTS = np.arange(SCALE_MIN, SCALE_MAX + 1, dtype=float)
# Far above the error of 10·x for x up to 100 (about 1e-13), far below the gap to a real tie.
NEAR_HALF = 1e-9


@dataclass(frozen=True)
class CaseMatrix:
    """N cases as arrays; columns follow the content's order of items, formats and demands."""

    positions: np.ndarray  # N×S float: scale point 1–5, NaN where unanswered
    weights: np.ndarray  # N×D float: importance 0–3 of each compared dimension, 0 if unanswered
    formats: np.ndarray  # N×5 bool: formats the patient can use (FORMATS order)
    times: np.ndarray  # N×3 bool: times the patient can attend (TIMES order)
    goals: np.ndarray  # N×G int: 1 where the goal is chosen (validation refuses repeats)
    conflicts: np.ndarray  # N×6 bool: demands the patient's circumstances clash with (DEMANDS)

    def __len__(self) -> int:
        return len(self.weights)


@dataclass(frozen=True)
class ProtocolMatrix:
    """K protocols as arrays, in the content's order."""

    ids: tuple[str, ...]
    low: np.ndarray  # K×S float: lowest scale point each protocol can stretch to
    high: np.ndarray  # K×S float: highest scale point
    default_format: np.ndarray  # K int: index of the usual format in FORMATS
    formats: np.ndarray  # K×5 bool: formats offered
    times: np.ndarray  # K×3 bool: the fixed hours it meets at; all True when agreed per patient
    goals: np.ndarray  # K×G float: how well each goal is served, 0/50/100
    demands: np.ndarray  # K×6 bool: demands the protocol makes


@dataclass(frozen=True)
class _Layout:
    """Which compared item is which: the columns the matrices are built on."""

    dimensions: list[PreferenceItem]
    scales: list[str]
    goal_ids: list[str]


def _layout(content: ContentLibrary) -> _Layout:
    dimensions = content.compared_items
    for compare in ("format", "availability", "goals"):
        items = [i.id for i in dimensions if i.compare == compare]
        if len(items) > 1:
            raise ValueError(
                f"batch scoring supports one {compare!r} item, the content has {', '.join(items)}"
            )
    goal_items = [i for i in dimensions if i.compare == "goals"]
    return _Layout(
        dimensions=dimensions,
        scales=[i.id for i in dimensions if i.compare == "position"],
        goal_ids=goal_items[0].option_ids() if goal_items else [],
    )


def case_matrix(content: ContentLibrary, cases: list[Case]) -> CaseMatrix:
    """Lay out the answers of ``cases`` that the overall fit depends on."""
    layout = _layout(content)
    # One flat row of numbers per case, split into the matrices at the end: filling numpy
    # arrays item by item would cost more than reading the answers.
    widths = [
        len(layout.scales),
        len(layout.dimensions),
        len(FORMATS),
        len(TIMES),
        len(layout.goal_ids),
    ]
    starts = np.cumsum([0, *widths]).tolist()
    weight_at, format_at, time_at, goal_at, demand_at = starts[1:]
    dimension_of = {item.id: (d, item.compare) for d, item in enumerate(layout.dimensions)}
    scale_col = {item_id: s for s, item_id in enumerate(layout.scales)}
    format_col = {f: format_at + j for j, f in enumerate(FORMATS)}
    time_col = {t: time_at + j for j, t in enumerate(TIMES)}
    goal_col = {g: goal_at + j for j, g in enumerate(layout.goal_ids)}
    demand_col = {d: demand_at + j for j, d in enumerate(DEMANDS)}
    clashes = {
        (domain.id, detail.id): [demand_col[d] for d in detail.conflicts_with]
        for domain in content.social
        for detail in domain.details
        if detail.conflicts_with
    }
    blank = [np.nan] * weight_at + [0.0] * (demand_at + len(DEMANDS) - weight_at)

    def row_of(case: Case) -> list[float]:
        row = blank.copy()
        for item_id, answer in case.answers.preferences.items():
            dimension = dimension_of.get(item_id)
            if dimension is None or not is_answered(answer):
                continue
            d, compare = dimension
            row[weight_at + d] = weight_of(answer)
            chosen = chosen_options(answer.value)
            if compare == "position":
                assert isinstance(answer.value, int)
                row[scale_col[item_id]] = answer.value
            elif compare == "format":
                for f in chosen:
                    row[format_col[f]] = 1.0
            elif compare == "availability":
                for t in chosen:
                    row[time_col[t]] = 1.0
            else:
                for g in chosen:
                    row[goal_col[g]] += 1
        for domain_id, social in case.answers.social.items():
            if social.present == "yes":
                for detail_id in social.details:
                    for col in clashes.get((domain_id, detail_id), []):
                        row[col] = 1.0
        return row

    rows = []
    for case in cases:
        try:
            rows.append(row_of(case))
        except KeyError as exc:
            raise ValueError(
                f"case {case.reference}: unknown option {exc.args[0]!r}; "
                "validate cases against the content first"
            ) from None
    table = np.array(rows, dtype=float).reshape(len(cases), len(blank))
    return CaseMatrix(
        positions=table[:, :weight_at],
        weights=table[:, weight_at:format_at],
        formats=table[:, format_at:time_at] > 0,
        times=table[:, time_at:goal_at] > 0,
        goals=table[:, goal_at:demand_at].astype(np.int64),
        conflicts=table[:, demand_at:] > 0,
    )


def protocol_matrix(content: ContentLibrary) -> ProtocolMatrix:
    """Lay out every protocol's range on each scale, formats, goals and demands."""
    layout = _layout(content)
    protocols = content.protocols
    return ProtocolMatrix(
        ids=tuple(p.id for p in protocols),
        low=np.array([[p.profile[s].low for s in layout.scales] for p in protocols], dtype=float),
        high=np.array([[p.profile[s].high for s in layout.scales] for p in protocols], dtype=float),
        default_format=np.array([FORMATS.index(p.default_format) for p in protocols]),
        formats=np.array([[f in p.formats for f in FORMATS] for p in protocols]),
        times=np.array(
            [[p.fixed_hours is None or t in p.fixed_hours.times for t in TIMES] for p in protocols]
        ),
        goals=np.array(
            [[GOAL_SCORES[p.goals.get(g, 0)] for g in layout.goal_ids] for p in protocols],
            dtype=float,
        ),
        demands=np.array([[d in p.demands for d in DEMANDS] for p in protocols]),
    )


def overall_fits(content: ContentLibrary, cm: CaseMatrix, pm: ProtocolMatrix) -> np.ndarray:
    """N×K overall fits, as ``protocol_fit(...).overall`` gives them; NaN where that is None."""
    layout = _layout(content)
    expected = {
        "case positions": (cm.positions.shape[1], len(layout.scales)),
        "case weights": (cm.weights.shape[1], len(layout.dimensions)),
        "case goals": (cm.goals.shape[1], len(layout.goal_ids)),
        "protocol ranges": (pm.low.shape[1], len(layout.scales)),
        "protocol goals": (pm.goals.shape[1], len(layout.goal_ids)),
    }
    for what, (got, want) in expected.items():
        if got != want:
            raise ValueError(f"{what}: {got} columns, the content has {want}")
    n, k = len(cm), len(pm.ids)
    weighted = np.zeros((n, k))
    total = np.zeros((n, 1))
    # One dimension at a time, in the engine's order, so the weighted sum adds up in the same
    # order as the engine's and its rounding to one decimal lands on the same side. An unanswered
    # or weightless dimension adds 0.0, which leaves the sum exactly as skipping it does.
    for d, item in enumerate(layout.dimensions):
        if item.compare == "position":
            s = layout.scales.index(item.id)
            fit, answered = _position_fits(cm.positions[:, s], pm.low[:, s], pm.high[:, s])
        elif item.compare == "format":
            fit, answered = _format_fits(cm.formats, pm)
        elif item.compare == "availability":
            fit, answered = _time_fits(cm.times, pm.times)
        else:
            fit, answered = _goal_fits(cm.goals, pm.goals)
        weight = np.where(answered, cm.weights[:, d : d + 1], 0.0)
        weighted += np.multiply(fit, weight, out=fit)
        total += weight
    preference = np.full((n, k), np.nan)
    np.divide(weighted, total, out=preference, where=total > 0)
    preference = round_1(preference)
    hard = (cm.conflicts.astype(float) @ pm.demands.T.astype(float)) > 0
    return np.where(hard, np.minimum(preference, HARD_MISMATCH_CAP), preference)


def _position_fits(
    points: np.ndarray, low: np.ndarray, high: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Fit 0–100 (N×K, 0 where unanswered) of N patient points against K ranges.

    The rule is applied to the five points of the scale against every range, then looked up
    for each case: the same figures as applying it per case, without rounding N×K of them.
    """
    answered = ~np.isnan(points)
    valid = np.isin(points[answered], SCALE_POINTS)
    if not valid.all():
        raise ValueError(f"scale points must be whole numbers {SCALE_MIN}–{SCALE_MAX}")
    grid = SCALE_POINTS[:, None]
    distance = np.maximum(low - grid, 0) + np.maximum(grid - high, 0)
    fit = round_1(100.0 * np.maximum(0.0, 1 - distance / ZERO_FIT_DISTANCE))
    table = np.vstack([np.zeros((1, len(low))), fit])
    row = np.where(answered, points - SCALE_MIN + 1, 0).astype(np.intp)
    return table[row], answered[:, None]


def _format_fits(accepted: np.ndarray, pm: ProtocolMatrix) -> tuple[np.ndarray, np.ndarray]:
    """100 when the usual format or another one offered is acceptable, else 0 (N×K)."""
    usual = accepted[:, pm.default_format]
    other = (accepted.astype(float) @ pm.formats.T.astype(float)) > 0
    # any() over an axis is an array; asarray says so to the type checker at no cost.
    return np.where(usual | other, 100.0, 0.0), np.asarray(accepted.any(axis=1, keepdims=True))


def _time_fits(free: np.ndarray, meets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """100 when the patient can attend at a time the protocol meets, else 0 (N×K).

    A protocol whose times are agreed with the patient meets at every time, so any answer fits.
    """
    overlap = (free.astype(float) @ meets.T.astype(float)) > 0
    return np.where(overlap, 100.0, 0.0), np.asarray(free.any(axis=1, keepdims=True))


def _goal_fits(chosen: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean score of the goals chosen (N×K, 0 where none): sums of 0/50/100 are exact."""
    count = chosen.sum(axis=1, keepdims=True)
    fit = np.zeros((len(chosen), len(scores)))
    np.divide(chosen @ scores.T, count, out=fit, where=count > 0)
    return round_1(fit), count > 0


def round_1(x: np.ndarray) -> np.ndarray:
    """Python's ``round(x, 1)`` elementwise: the exact value, rounded half to even.

    ``np.round`` multiplies by 10 first and can land on a false tie: 66.65 is stored a little
    above 66.65, so Python gives 66.7, but 66.65 × 10 rounds to 666.5 and numpy gives 66.6.
    Only values whose tenfold is that close to a half need the exact decision.
    """
    tenfold = x * 10
    whole: np.ndarray = np.rint(tenfold)
    near = np.abs(np.abs(tenfold - whole) - 0.5) < NEAR_HALF
    whole[near] = _exact_tenfold_round(x[near])
    whole /= 10
    return whole


def _exact_tenfold_round(x: np.ndarray) -> np.ndarray:
    """10·x rounded half to even on its exact value, which is kept as s + t.

    8x and 2x are exact, so s = 8x + 2x and its rounding error t (Fast2Sum) are exactly 10x.
    s − floor(s) is exact, and so is subtracting 0.5 from it unless the fraction is below 0.25
    (the result is then clearly negative); so the sign of adding t is the sign of the exact one.
    """
    eight, two = 8.0 * x, 2.0 * x
    s = eight + two
    t = two - (s - eight)
    whole = np.floor(s)
    beyond_half = (s - whole - 0.5) + t
    up = (beyond_half > 0) | ((beyond_half == 0) & (np.fmod(whole, 2) != 0))
    rounded: np.ndarray = whole + up
    return rounded
