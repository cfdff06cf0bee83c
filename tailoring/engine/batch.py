"""Scores the overall fit of many cases against every protocol at once, with numpy.

The figures are exactly those of ``protocol_fit(content, case, protocol).overall``: the same
per-dimension rules (engine/fit.py), the same rounding to one decimal, per dimension and overall,
and the same cap when a hard mismatch is raised (engine/flags.py, ``demand_flags``). Cases and
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
    compared_items,
    is_answered,
    weight_of,
)
from tailoring.model.case import Case
from tailoring.model.content import (
    SCALE_MAX,
    SCALE_MIN,
    ContentLibrary,
    DemandId,
    FormatId,
    PreferenceItem,
)

FORMATS: tuple[str, ...] = get_args(FormatId)
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
    goals: np.ndarray  # N×G int: times each goal is chosen (0 or 1 unless a file repeats one)
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
    goals: np.ndarray  # K×G float: how well each goal is served, 0/50/100
    demands: np.ndarray  # K×6 bool: demands the protocol makes


@dataclass(frozen=True)
class _Layout:
    """Which compared item is which: the columns the matrices are built on."""

    dimensions: list[PreferenceItem]
    scales: list[str]
    goal_ids: list[str]


def _layout(content: ContentLibrary) -> _Layout:
    dimensions = compared_items(content)
    for compare in ("format", "goals"):
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
    n = len(cases)
    positions = np.full((n, len(layout.scales)), np.nan)
    weights = np.zeros((n, len(layout.dimensions)))
    formats = np.zeros((n, len(FORMATS)), dtype=bool)
    goals = np.zeros((n, len(layout.goal_ids)), dtype=np.int64)
    conflicts = np.zeros((n, len(DEMANDS)), dtype=bool)
    scale_col = {item_id: s for s, item_id in enumerate(layout.scales)}
    format_col = {f: j for j, f in enumerate(FORMATS)}
    goal_col = {g: j for j, g in enumerate(layout.goal_ids)}
    demand_col = {d: j for j, d in enumerate(DEMANDS)}
    clashes = {
        (domain.id, detail.id): [demand_col[d] for d in detail.conflicts_with]
        for domain in content.social
        for detail in domain.details
        if detail.conflicts_with
    }
    for row, case in enumerate(cases):
        answers = case.answers
        for d, item in enumerate(layout.dimensions):
            answer = answers.preferences.get(item.id)
            if not is_answered(answer):
                continue
            assert answer is not None
            weights[row, d] = weight_of(answer)
            chosen = answer.value if isinstance(answer.value, list) else [answer.value]
            if item.compare == "position":
                positions[row, scale_col[item.id]] = answer.value
            elif item.compare == "format":
                formats[row, [format_col[f] for f in chosen]] = True
            else:
                for g in chosen:
                    goals[row, goal_col[g]] += 1
        for domain_id, social in answers.social.items():
            if social.present != "yes":
                continue
            for detail_id in social.details:
                conflicts[row, clashes.get((domain_id, detail_id), [])] = True
    return CaseMatrix(positions, weights, formats, goals, conflicts)


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
    return np.where(usual | other, 100.0, 0.0), accepted.any(axis=1, keepdims=True)


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
    whole = np.rint(tenfold)
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
    return whole + up
