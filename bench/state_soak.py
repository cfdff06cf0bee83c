"""Soak: many random sequences in a real browser, on every page that records; how many differed.

Usage: .venv/bin/python bench/state_soak.py [--sequences 1000] [--actions 25] [--busy 0.3]
       [--seed 0] [--pages walkthrough,sessions,practice,review,patient] [--minutes M]
       [--traces test-artifacts/soak]

Sequences take the pages in turn (walk-through, sessions, practice, case review, the patient's
questionnaire) unless ``--pages`` names fewer.

Starts the app on a fresh SQLite database (as the e2e tests do), then runs the sequences of
tests/e2e/state_integrity.py: each compares the database with what the person gave and every
widget on the screen with the database. ``--busy`` is the share of sequences run while other
processes keep both cores busy. Prints one line per failing sequence (seed and actions, so it
replays with ``SEEDS=<seed> scripts/test tests/e2e/test_state_integrity.py``) and the totals.
The app runs with ``TAILORING_TRACE_WIDGETS=1``: for each failing sequence a file in
``--traces`` holds its actions with the time of day of each, and the server's log meanwhile
(every value the browser gave a bound widget, every value the server set), to follow a stray
or lost answer from the click to storage.
With ``--minutes`` it stops after the sequence that passes that time and prints the totals of the
sequences run, so a long soak can be spread over several runs with different ``--seed``s.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from playwright.sync_api import sync_playwright  # noqa: E402

from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, running_app  # noqa: E402
from tests.e2e.state_integrity import (  # noqa: E402
    Outcome,
    patient_sequence,
    practice_sequence,
    review_sequence,
    sessions_sequence,
    walkthrough_sequence,
)
from tests.e2e.test_state_regressions import busy_machine  # noqa: E402

SEQUENCES = {
    "walkthrough": walkthrough_sequence,
    "sessions": sessions_sequence,
    "practice": practice_sequence,
    "review": review_sequence,
    "patient": patient_sequence,
}


def write_trace(trace: Path, outcome: Outcome, logged: str) -> None:
    """The sequence's actions by time of day, what its browsers saw and the server's log."""
    trace.parent.mkdir(parents=True, exist_ok=True)
    trace.write_text(
        f"{outcome.report()}\n\nactions, by time of day:\n{outcome.timeline()}\n\n"
        "what the browsers saw (UTC):\n" + "\n".join(outcome.events) + "\n\n"
        f"server log:\n{logged}"
    )
    print(f"  trace: {trace}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sequences", type=int, default=1000)
    parser.add_argument("--actions", type=int, default=25)
    parser.add_argument("--busy", type=float, default=0.3, help="share run on a busy machine")
    parser.add_argument("--seed", type=int, default=0, help="first seed")
    parser.add_argument("--pages", default=",".join(SEQUENCES), help="pages, comma-separated")
    parser.add_argument("--minutes", type=float, default=None, help="stop after this long")
    parser.add_argument(
        "--traces",
        type=Path,
        default=REPO / "test-artifacts" / "soak",
        help="folder for the trace of each sequence that differs",
    )
    args = parser.parse_args()
    pages = args.pages.split(",")
    per_page = dict.fromkeys(pages, 0)

    choose_busy = random.Random(args.seed)
    started = time.monotonic()
    failed = differences = busy_runs = stopped = unaimed = 0
    with (
        tempfile.TemporaryDirectory() as work,
        # The server logs each widget value either side gives (tailoring/settings.py): a
        # sequence that differs is written with its timed actions beside that log.
        running_app(Path(work), env={"TAILORING_TRACE_WIDGETS": "1"}) as server,
        sync_playwright() as p,
    ):
        os.environ["TAILORING_DATABASE_URL"] = server.database_url
        from tailoring import services

        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        run = 0
        for n in range(args.sequences):
            if args.minutes is not None and time.monotonic() - started > args.minutes * 60:
                break
            run += 1
            seed = args.seed + n
            page = pages[n % len(pages)]
            sequence = SEQUENCES[page]
            busy = choose_busy.random() < args.busy
            busy_runs += busy
            log_start = len(server.log_text())
            try:
                if busy:
                    with busy_machine():
                        outcome = sequence(browser, server, services, seed, args.actions)
                else:
                    outcome = sequence(browser, server, services, seed, args.actions)
            except Exception as exc:  # the sequence could not go on: say which, and go on
                stopped += 1
                print(f"{page} seed {seed} stopped: {type(exc).__name__}: {exc}", flush=True)
                done = getattr(exc, "outcome", None)
                if done is not None:
                    logged = server.log_text()[log_start:]
                    write_trace(args.traces / f"{page}-{seed}-stopped.log", done, logged)
                continue
            unaimed += len(outcome.unaimed)
            if outcome.differences or outcome.unaimed:
                if outcome.differences:
                    failed += 1
                    per_page[page] += 1
                    differences += outcome.differences
                print(f"{page} " + ("busy " if busy else "") + outcome.report(), flush=True)
                # What the app logged meanwhile (answers refused as stale, several emptied at
                # once): a refusal the person was told of is not a silent loss.
                logged = server.log_text()[log_start:]
                for line in logged.splitlines():
                    if "WARNING" in line:
                        print(f"  server: {line}", flush=True)
                write_trace(args.traces / f"{page}-{seed}.log", outcome, logged)
            if (n + 1) % 10 == 0:
                print(
                    f"{n + 1} sequences, {failed} with differences "
                    f"({time.monotonic() - started:.0f} s)",
                    flush=True,
                )
        browser.close()
    minutes = (time.monotonic() - started) / 60
    print(
        f"sequences: {run} of {args.sequences} ({busy_runs} on a busy machine), "
        f"{args.actions} actions each; sequences with a difference: {failed}; "
        f"answers or widgets that differed: {differences}; sequences that could not go on: "
        f"{stopped}; answers changed by a click the sequence did not aim (not counted): "
        f"{unaimed}; {minutes:.1f} min; "
        "sequences with a difference by page: "
        + ", ".join(f"{page} {count}" for page, count in per_page.items())
    )


if __name__ == "__main__":
    main()
