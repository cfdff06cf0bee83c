"""Scores the free-text theme coder on its evaluation set and times it on 10,000 statements.

Run from the project folder: ``.venv/bin/python bench/coding.py`` (``--help`` for sizes).
Prints precision, recall and F1 per theme and macro-F1 on the held-out statements and on the
dev statements of content/coding/evaluation.yaml (the lexicon is tuned on dev only), then the
time to code 10,000 statements twice over: one-sentence statements (the evaluation statements
drawn at random, numbers changed), and longer answers (two or three of them joined), all seeded.
The lexicon is compiled afresh before each first run, whose time is printed apart. Wall and CPU
time are both printed: on a shared machine the CPU time is the steadier figure. Issue 9's
target: 10,000 statements in under 2 s. ``--errors`` lists the dev statements the coder misses.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tailoring.content import load_coding_evaluation, load_content  # noqa: E402
from tailoring.engine.coding import code_text, code_texts, evaluate  # noqa: E402
from tailoring.model.coding import CodingScores, LabelledStatement, Lexicon  # noqa: E402

TARGET_S = 2.0


def print_scores(name: str, scores: CodingScores) -> None:
    print(f"\n{name} ({scores.statements} statements)")
    print(f"  {'theme':<16} {'precision':>9} {'recall':>7} {'F1':>6} {'TP':>4} {'FP':>4} {'FN':>4}")
    for s in scores.themes:
        print(
            f"  {s.theme:<16} {s.precision:>9.3f} {s.recall:>7.3f} {s.f1:>6.3f} "
            f"{s.true_positives:>4} {s.false_positives:>4} {s.false_negatives:>4}"
        )
    print(f"  macro-F1 {scores.macro_f1:.3f}")


def print_errors(lexicon: Lexicon, statements: list[LabelledStatement]) -> None:
    print("\ndev statements coded differently from their labels")
    for statement in statements:
        codes = code_text(lexicon, statement.text)
        if {c.theme for c in codes} != set(statement.themes):
            found = {c.theme: [e.text for e in c.evidence] for c in codes}
            print(f"  {statement.text}\n    labels {sorted(statement.themes)}; coded {found}")


def timing_statements(
    statements: list[LabelledStatement], count: int, joined: tuple[int, ...], seed: int
) -> list[str]:
    """``count`` texts, each some evaluation statements (a number from ``joined``) in a row."""
    rng = random.Random(seed)
    texts = [s.text for s in statements]
    out = []
    for _ in range(count):
        text = " ".join(rng.sample(texts, rng.choice(joined)))
        out.append(" ".join(str(rng.randint(2, 40)) if w.isdigit() else w for w in text.split()))
    return out


def time_coding(lexicon: Lexicon, texts: list[str], name: str, runs: int) -> None:
    words = sum(len(t.split()) for t in texts)
    # A fresh copy has no compiled index yet: the first run includes compiling the lexicon.
    fresh = Lexicon.model_validate(lexicon.model_dump())
    start = time.perf_counter()
    coded = code_texts(fresh, texts)
    first = time.perf_counter() - start
    walls, cpus = [], []
    for _ in range(runs):
        start, cpu = time.perf_counter(), time.process_time()
        code_texts(fresh, texts)
        walls.append(time.perf_counter() - start)
        cpus.append(time.process_time() - cpu)
    median = statistics.median(walls)
    verdict = "PASS" if median < TARGET_S else "MISS"
    share = sum(1 for c in coded if c) / len(coded)
    print(
        f"\n{len(texts):,} {name} ({words / len(texts):.0f} words each, {share:.0%} given a "
        f"theme): first run {first:.3f} s (compiling, empty caches); median of {runs} "
        f"{median:.3f} s wall (runs {', '.join(f'{t:.3f}' for t in walls)}), "
        f"{statistics.median(cpus):.3f} s CPU; target < {TARGET_S:g} s: {verdict}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--statements", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=20261127)
    parser.add_argument("--errors", action="store_true", help="list the dev statements missed")
    args = parser.parse_args()
    print(f"load average at the start: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    lexicon = load_content().lexicon
    evaluation = load_coding_evaluation()
    phrases = sum(len(e.phrases) for e in lexicon.entries)
    print(f"lexicon: {len(lexicon.entries)} entries, {phrases} phrases")
    print_scores("held-out", evaluate(lexicon, evaluation.heldout))
    print_scores("dev", evaluate(lexicon, evaluation.dev))
    if args.errors:
        print_errors(lexicon, evaluation.dev)

    statements = evaluation.dev + evaluation.heldout
    for name, joined in (("statements", (1,)), ("answers of two or three statements", (2, 3))):
        texts = timing_statements(statements, args.statements, joined, args.seed)
        time_coding(lexicon, texts, name, args.runs)
    print(f"load average at the end: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
