"""Tries the bad inputs of issue 18, items 10–13, and counts those refused or caught cleanly.

Run from the project folder: ``.venv/bin/python bench/red_team_input.py`` (about 2 minutes;
``--database URL`` runs the stored-text checks against that database, e.g. a throwaway
PostgreSQL, instead of a temporary SQLite file). Each line says PASS or FAIL and why; the
totals by item come last, and the exit code is 1 if anything failed.

- Item 10: every command that reads a file, given a hostile one, must exit with code 2 within
  the time bound and print no traceback; so must the caseload check.
- Item 11: the upload limits agree, and a caseload naming another therapist is reported by row
  and field in the check.
- Item 12: free text with a NUL is stored without it, a 20 MB note is refused at once, and a
  NUL in a sign-in name or an audit filter is no database error.
- Item 13: each hidden or written-out identifier is found, and ordinary prose is left alone.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from collections import Counter
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BIG_INT = "9" * 5_000
DEEP = "[" * 100_000 + "]" * 100_000
CLI_SECONDS = 20
results: Counter[tuple[str, bool]] = Counter()


def report(item: str, name: str, ok: bool, why: str = "") -> None:
    results[(item, ok)] += 1
    print(f"{'PASS' if ok else 'FAIL'}  item {item}  {name}{f'  ({why})' if why else ''}")


def cli(item: str, name: str, *args: str) -> None:
    """The command must exit with 2 in time, with no traceback and a short message."""
    start = time.perf_counter()
    try:
        run = subprocess.run(
            [sys.executable, "-m", "tailoring", *args],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=CLI_SECONDS,
        )
    except subprocess.TimeoutExpired:
        report(item, name, False, f"still running after {CLI_SECONDS} s")
        return
    took = time.perf_counter() - start
    clean = run.returncode == 2 and "Traceback" not in run.stderr and run.stderr.count("\n") <= 3
    report(item, name, clean, f"exit {run.returncode}, {took:.1f} s: {run.stderr.strip()[:120]}")


def cli_inputs(folder: Path) -> None:
    def file(name: str, text: str) -> str:
        path = folder / name
        path.write_text(text, encoding="utf-8")
        return str(path)

    hostile = {
        "5,000-digit integer": file("bigint.json", f'{{"reference": "TT-1", "n": {BIG_INT}}}'),
        "arrays nested 100,000 deep": file("deep.json", DEEP),
        "objects nested 100,000 deep": file(
            "deep_obj.json", '{"a":' * 100_000 + "1" + "}" * 100_000
        ),
        "NaN": file("nan.json", '{"sessions_available": NaN}'),
        "a folder": str(folder),
    }
    big = folder / "big.json"
    big.write_bytes(b" " * (6 * 1024 * 1024))
    hostile["a 6 MB file"] = str(big)
    for what, path in hostile.items():
        for command in (
            ["assess"],
            ["grade", "cbt_anxiety_withdrawal"],
            ["fhir", "export"],
            ["fhir", "import"],
        ):
            cli("10", f"{' '.join(command)}: {what}", *command, path)
    line = file("line.txt", "I felt heard and rushed. " * 190_000)
    cli("10", "code-feedback: a 4.7 MB single line", "code-feedback", line)
    cli("10", "code-feedback: a folder", "code-feedback", str(folder))
    cli("10", "code-feedback: a 9.6 MB file", "code-feedback", file("big.txt", "x " * 5_000_000))
    for what, change in {
        "themes.yaml is a folder": lambda p: (p.unlink(), p.mkdir()),
        "themes.yaml nested 100,000 deep": lambda p: p.write_text(DEEP),
        "themes.yaml with a 5,000-digit number": lambda p: p.write_text(f"- n: {BIG_INT}\n"),
        "themes.yaml with an alias bomb": lambda p: p.write_text(
            "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
            + "".join(f"a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * 10)}]\n" for n in range(1, 9))
        ),
    }.items():
        content = folder / "content"
        shutil.rmtree(content, ignore_errors=True)
        shutil.copytree(ROOT / "content", content)
        change(content / "themes.yaml")
        cli("10", f"validate-content: {what}", "validate-content", "--directory", str(content))


def caseload_checks() -> None:
    from tailoring import limits, services
    from tailoring.auth import Actor
    from tailoring.demo import demo_cases
    from tailoring.export.caseload import cases_csv

    for what, text in {"5,000-digit integer": f"[{BIG_INT}]", "nested 100,000 deep": DEEP}.items():
        start = time.perf_counter()
        checked = services.check_caseload_file("caseload.json", text.encode())
        ok = checked.blocked and time.perf_counter() - start < 5
        report("10", f"caseload check: {what}", ok, checked.errors[0].message[:100])
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    upload = config["server"]["maxUploadSize"]
    report(
        "11",
        "server.maxUploadSize equals the stated caseload limit",
        upload == limits.UPLOAD_MB,
        f"{upload} MB",
    )
    lib = services.content()
    cases = [
        case.model_copy(update={"therapist": name})
        for case, name in zip(
            demo_cases(lib, 2, seed=3, first=40001), ["tess", "omar"], strict=True
        )
    ]
    with services.acting_as(Actor("tess", "Tess", frozenset({"therapist"}))):
        checked = services.check_caseload_file("caseload.csv", cases_csv(cases, lib).encode())
    fields = [(e.field, e.reference) for e in checked.errors]
    report(
        "11",
        "a case for another therapist is reported on its therapist field",
        fields == [("therapist", "DEMO-40002")],
        str(fields),
    )


def stored_text_checks() -> None:
    from tailoring import services

    case_id = services.import_case(services.demo_case_paths()[1].read_text(encoding="utf-8"))
    attempt(
        lambda: services.add_note(case_id, "Agreed\x00 a plan", "Re\x00view"),
        "a NUL in a supervision note",
    )
    stored = services.notes(case_id)[-1]
    report(
        "12",
        "the note is stored without the NUL",
        (stored.text, stored.action) == ("Agreed a plan", "Review"),
    )
    flag = services.flag_statuses(case_id)[0]
    attempt(
        lambda: services.decide_flag(case_id, flag.flag_id, "acknowledged", "ok\x00"),
        "a NUL in a flag reason",
    )
    start = time.perf_counter()
    try:
        services.add_note(case_id, "x" * 20_000_000)
        report("12", "a 20 MB note is refused", False, "it was stored")
    except services.TextTooLong as exc:
        report(
            "12",
            "a 20 MB note is refused",
            time.perf_counter() - start < 1,
            f"{time.perf_counter() - start:.3f} s: {exc}",
        )
    for name in ("te\x00ss", "x" * 100_000):
        try:
            services.sign_in(name, "password")
            report("12", "a sign-in with a bad name", False, "signed in")
        except services.LoginRefused:
            report("12", f"a sign-in with the name {name[:6]!r}… ({len(name):,} characters)", True)
        except Exception as exc:  # any other error is the failure counted
            report("12", "a sign-in with a bad name", False, f"{type(exc).__name__}: {exc}")
    attempt(
        lambda: services.audit_entries(actor="a\x00b", reference="C\x00D"),
        "a NUL in the audit filters",
    )
    attempt(
        lambda: services.accounts().add_user("nul.name", ["therapist"], "Tess\x00"),
        "a NUL in a display name",
    )


def attempt(call: Callable[[], object], what: str) -> None:
    try:
        call()
        report("12", what, True)
    except Exception as exc:  # any error is the failure counted
        report("12", what, False, f"{type(exc).__name__}: {str(exc)[:100]}")


def identifier_checks() -> None:
    import datetime

    from tailoring.engine.identifiers import find_identifiers

    today = datetime.date(2026, 11, 27)
    hidden = {
        "NHS number with non-breaking spaces": "943\u00a0476\u00a05919",
        "NHS number with zero-width spaces": "943\u200b476\u200b5919",
        "NHS number with dots": "943.476.5919",
        "email as 'name at domain'": "jo.bloggs at nhs.net",
        "email with (at)": "jo.bloggs (at) nhs.net",
        "email with [at] and [dot]": "jo [at] nhs [dot] net",
        "email with a zero-width space": "jo.bloggs\u200b@nhs.net",
        "email with an international domain": "anna@bücher.de",
        "phone number with dots": "07700.900.123",
        "postcode with a zero-width space": "SW1A\u200b1AA",
    }
    for what, text in hidden.items():
        found = [f.text for f in find_identifiers(f"Details: {text} today.", today)]
        report("13", what, found == [text], str(len(found)))
    for prose in ("She feels safest at home.", "Meet at 5.30 on Tuesday.", "Was at home.Then out."):
        report("13", f"prose left alone: {prose!r}", not find_identifiers(prose, today))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", help="a database URL for the stored-text checks")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        os.environ["TAILORING_DATABASE_URL"] = args.database or f"sqlite:///{folder}/red.db"
        os.environ["TAILORING_DEMO"] = "0"
        cli_inputs(Path(folder))
        caseload_checks()
        stored_text_checks()
        identifier_checks()
    print()
    for item in ("10", "11", "12", "13"):
        passed, failed = results[(item, True)], results[(item, False)]
        print(f"item {item}: {passed} of {passed + failed} refused or caught cleanly")
    return 1 if any(ok is False for _, ok in results) else 0


if __name__ == "__main__":
    sys.exit(main())
