"""The command line: assess a case, grade an attempt, print the schema, check content, demo data,
exchange cases and questionnaires as FHIR, manage the accounts of a team, migrate the database,
check the audit log, and show the settings."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from pydantic import ValidationError
from sqlalchemy.engine import make_url

from tailoring import limits, services, settings
from tailoring.accounts_cli import add_users_parser
from tailoring.content import ContentError, content_dir, load_content
from tailoring.database_cli import add_database_parsers
from tailoring.demo import demo_cases
from tailoring.engine.coding import code_texts
from tailoring.export import fhir
from tailoring.export.caseload import cases_csv
from tailoring.model.case import Case
from tailoring.model.content import ContentLibrary
from tailoring.model.fhir import FhirPublication

EXIT_INVALID = 2


def _read_case(path: str) -> Case | None:
    """The validated case file at ``path``, or None after saying on stderr what is wrong."""
    try:
        return services.parse_case_file(limits.read_text(Path(path)))
    except services.CaseFileError as exc:
        _print_problems(f"{path} is not a valid case file", exc.problems)
        return None


def _print_problems(what: str, problems: list[str]) -> None:
    """What is wrong, on stderr: one line for one problem, else a line for each."""
    if len(problems) == 1:
        print(f"{what}: {problems[0]}", file=sys.stderr)
        return
    print(f"{what}:", file=sys.stderr)
    for problem in problems:
        print(f"  {problem}", file=sys.stderr)


def _assess(args: argparse.Namespace) -> int:
    case = _read_case(args.case_file)
    if case is None:
        return EXIT_INVALID
    print(services.file_report_json(case))
    return 0


def _grade(args: argparse.Namespace) -> int:
    try:
        services.scenario(args.scenario_id)
    except KeyError as exc:
        known = ", ".join(s.id for s in services.scenarios())
        print(f"scenario_id: {exc.args[0]} (known: {known})", file=sys.stderr)
        return EXIT_INVALID
    attempt = _read_case(args.attempt_file)
    if attempt is None:
        return EXIT_INVALID
    try:
        result = services.grade_attempt(args.scenario_id, attempt)
    except ValueError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_INVALID
    print(result.model_dump_json(indent=2))
    return 0


def _schema(_: argparse.Namespace) -> int:
    print(json.dumps(services.case_schema(), indent=2))
    return 0


def _validate_content(args: argparse.Namespace) -> int:
    args.directory = args.directory or str(content_dir())
    try:
        lib = load_content(Path(args.directory))
    except ContentError as exc:
        print(f"content in {args.directory} does not validate:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return EXIT_INVALID
    stale = services.scenario_flag_problems(lib)
    if stale:
        print(f"content in {args.directory} does not validate:", file=sys.stderr)
        for problem in stale:
            print(f"  {problem}", file=sys.stderr)
        return EXIT_INVALID
    print(
        f"content {lib.version} is valid: {len(lib.themes)} themes, "
        f"{len(lib.preferences)} preference items, {len(lib.social)} social domains, "
        f"{len(lib.alliance)} alliance items, {len(lib.adaptations)} adaptations, "
        f"{len(lib.protocols)} protocols, {len(lib.scenarios)} scenarios, "
        f"{len(lib.measures)} measures"
    )
    return 0


def _demo(args: argparse.Namespace) -> int:
    if args.cases < 0:
        print("--cases: give 0 or more", file=sys.stderr)
        return EXIT_INVALID
    if args.into_db or args.database:
        return _demo_into_db(args)
    if args.if_new:
        print("--if-new: give --into-db or --database", file=sys.stderr)
        return EXIT_INVALID
    lib = services.content()
    cases = demo_cases(lib, args.cases, args.seed)
    if args.out and args.out.lower().endswith(".csv"):
        text = cases_csv(cases, lib)
    else:
        text = json.dumps([c.model_dump(mode="json") for c in cases], indent=2) + "\n"
    return _write_out(args.out, text, f"{len(cases)} invented cases")


def _expected_change(args: argparse.Namespace) -> int:
    if args.demo is not None and args.demo < 1:
        print("--demo: give 1 or more", file=sys.stderr)
        return EXIT_INVALID
    if args.database:
        os.environ["TAILORING_DATABASE_URL"] = args.database
    text = services.expected_change_yaml(
        args.demo, args.seed, percentile=args.percentile, min_cases=args.min_cases
    )
    return _write_out(args.out, text, "the expected-change curves")


def _write_out(out: str | None, text: str, what: str) -> int:
    """``text`` to the file ``out`` (saying so on stderr), or to stdout without one."""
    if not out:
        sys.stdout.write(text)
        return 0
    try:
        Path(out).write_text(text, encoding="utf-8")
    except OSError as exc:
        print(f"cannot write {out}: {exc}", file=sys.stderr)
        return EXIT_INVALID
    print(f"wrote {what} to {out}", file=sys.stderr)
    return 0


def _demo_into_db(args: argparse.Namespace) -> int:
    """Store the invented cases through the caseload import and compute their figures."""
    if args.database:
        os.environ["TAILORING_DATABASE_URL"] = args.database
    start = time.perf_counter()
    try:
        if args.if_new:
            ids = services.fill_new_demo_database(args.cases, args.seed)
        else:
            ids = services.store_demo_caseload(args.cases, args.seed)
    except (services.CaseFileError, services.StorageError) as exc:
        print(f"the demo cases were not stored: {exc}", file=sys.stderr)
        return EXIT_INVALID
    if ids is None:
        print("no demo cases stored: the database is not new (or TAILORING_DEMO is 0)")
        return 0
    stored = time.perf_counter() - start
    demo = len(ids) - args.cases
    what = f"the {demo} demo cases and " if demo else ""
    start = time.perf_counter()
    for first in range(0, len(ids), services.FIGURES_BATCH):
        services.compute_figures(ids[first : first + services.FIGURES_BATCH])
    print(
        f"stored {what}{args.cases} invented cases in {stored:.1f} s and computed their figures in "
        f"{time.perf_counter() - start:.1f} s"
    )
    return 0


def _fhir_content(args: argparse.Namespace) -> ContentLibrary | None:
    """The content, under the command's --canonical-base if it gives one (None after saying
    on stderr why the base is refused)."""
    lib = services.content()
    if args.canonical_base is None:
        return lib
    try:
        publication = FhirPublication(
            canonical_base=args.canonical_base, publisher=lib.fhir.publisher
        )
    except ValidationError as exc:
        message = str(exc.errors()[0]["msg"]).removeprefix("Value error, ")
        print(f"--canonical-base: {message}", file=sys.stderr)
        return None
    return lib.model_copy(update={"fhir": publication})


def _fhir_export(args: argparse.Namespace) -> int:
    lib = _fhir_content(args)
    case = _read_case(args.case_file)
    if lib is None or case is None:
        return EXIT_INVALID
    report = services.assess_case(case)
    sys.stdout.write(fhir.case_bundle_json(lib, case, report, datetime.now(UTC)))
    return 0


def _fhir_import(args: argparse.Namespace) -> int:
    if (args.case is None) != (args.session is None):
        print(
            "--case and --session go together: the case file and the session number "
            "that the responses belong to",
            file=sys.stderr,
        )
        return EXIT_INVALID
    lib = _fhir_content(args)
    if lib is None:
        return EXIT_INVALID
    text = limits.read_text(Path(args.bundle_file))
    if args.case is not None:
        return _fhir_import_onto_session(args, lib, text)
    try:
        case = fhir.read_case_bundle(lib, text)
    except fhir.FhirError as exc:
        _print_problems(
            f"{args.bundle_file} is not a FHIR bundle of a case we can import", exc.problems
        )
        return EXIT_INVALID
    print(services.file_case_json(case))
    return 0


def _fhir_import_onto_session(args: argparse.Namespace, lib: ContentLibrary, text: str) -> int:
    """Responses to measures (ours or LOINC's forms) put onto a session of a case file."""
    case = _read_case(args.case)
    if case is None:
        return EXIT_INVALID
    try:
        responses = fhir.read_measure_responses(lib, text)
        case = fhir.add_to_session(lib, case, args.session, responses)
    except fhir.FhirError as exc:
        _print_problems(f"{args.bundle_file} was not put onto session {args.session}", exc.problems)
        return EXIT_INVALID
    for response in responses:
        measure = lib.measure(response.measure_id)
        total = "incomplete" if response.total is None else f"total {response.total}"
        print(
            f"{response.label}: {measure.short_name} ({total}) put onto session {args.session}",
            file=sys.stderr,
        )
    print(services.file_case_json(case))
    return 0


def _fhir_questionnaires(args: argparse.Namespace) -> int:
    lib = _fhir_content(args)
    if lib is None:
        return EXIT_INVALID
    sys.stdout.write(fhir.questionnaire_bundle_json(lib))
    return 0


def _add_fhir(commands: argparse._SubParsersAction) -> None:
    fhir_parser = commands.add_parser(
        "fhir", help="FHIR R4B: export or import a case, or the questionnaires"
    )
    actions = fhir_parser.add_subparsers(dest="action", required=True)
    export = actions.add_parser("export", help="print a case file as a FHIR Bundle (JSON)")
    export.add_argument("case_file")
    export.set_defaults(run=_fhir_export)
    read = actions.add_parser(
        "import",
        help="print the case file of a FHIR Bundle; with --case and --session, the case file "
        "with a QuestionnaireResponse to PHQ-9 or GAD-7 (ours, or LOINC's 44249-1 or 69737-5 "
        "form as other systems send it; or a Bundle of such responses) put onto that session",
    )
    read.add_argument("bundle_file", help="a case Bundle, or the responses with --case")
    read.add_argument("--case", help="the case file the responses belong to")
    read.add_argument("--session", type=int, help="the session number they were answered at")
    read.set_defaults(run=_fhir_import)
    questionnaires = actions.add_parser(
        "questionnaires", help="print the content's questionnaires as a FHIR Bundle (JSON)"
    )
    questionnaires.set_defaults(run=_fhir_questionnaires)
    for action in (export, read, questionnaires):
        action.add_argument(
            "--canonical-base",
            metavar="URL",
            help="the canonical base of our questionnaires and codes for this command, "
            "instead of content/fhir.yaml's (e.g. https://fhir.your-service.nhs.uk/tailoring)",
        )


def _code_feedback(args: argparse.Namespace) -> int:
    # Coding time grows with the length of a line: a 10 MB line took minutes.
    text = limits.read_text(Path(args.file))
    limits.check_lines(text, what=args.file)
    lines = [line.removesuffix("\r") for line in text.split("\n")]
    if lines[-1] == "":
        lines.pop()
    coded = code_texts(services.content().lexicon, lines)
    rows = [
        json.dumps(
            {
                "text": line,
                "themes": [
                    {"id": code.theme, "evidence": [e.text for e in code.evidence]}
                    for code in codes
                ],
            }
        )
        for line, codes in zip(lines, coded, strict=True)
    ]
    sys.stdout.write("[\n" + ",\n".join(rows) + "\n]\n" if rows else "[]\n")
    return 0


def _settings(args: argparse.Namespace) -> int:
    if args.markdown:
        sys.stdout.write(settings.markdown_table())
        return 0
    values = settings.current().model_dump(mode="json")
    if values["database_url"]:
        # The URL's password is for the app, not for a terminal's scroll-back.
        url = make_url(values["database_url"])
        values["database_url"] = url.render_as_string(hide_password=True)
    print(json.dumps(values, indent=2))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tailoring", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    assess = commands.add_parser(
        "assess", help="print the fit report of a case file as JSON, with its outcomes"
    )
    assess.add_argument("case_file")
    assess.set_defaults(run=_assess)
    grade = commands.add_parser(
        "grade", help="grade an attempt (a case file) at a teaching scenario; print it as JSON"
    )
    grade.add_argument("scenario_id")
    grade.add_argument("attempt_file")
    grade.set_defaults(run=_grade)
    schema = commands.add_parser("schema", help="print the JSON Schema of a case file")
    schema.set_defaults(run=_schema)
    validate = commands.add_parser("validate-content", help="check every content file")
    validate.add_argument("--directory", help="the content folder (default: the app's)")
    validate.set_defaults(run=_validate_content)
    demo = commands.add_parser(
        "demo",
        help="invent a demo caseload: a JSON list of case files (or the CSV import format "
        "when --out ends in .csv)",
    )
    demo.add_argument("--cases", type=int, default=60, help="how many cases (default 60)")
    demo.add_argument("--seed", type=int, default=0, help="the same seed gives the same cases")
    where = demo.add_mutually_exclusive_group()
    where.add_argument("--out", help="write to this file instead of printing")
    where.add_argument(
        "--into-db",
        action="store_true",
        help="store the cases in the app's database (TAILORING_DATABASE_URL, else "
        "data/tailoring.db) through the caseload import, under references no case uses, "
        "and compute their figures",
    )
    where.add_argument("--database", help="as --into-db, into the database at this URL")
    demo.add_argument(
        "--if-new",
        action="store_true",
        help="with --into-db or --database: only into a new database (no cases, nothing in its "
        "audit log), and the demo cases the app loads first; nothing with TAILORING_DEMO=0 "
        "(scripts/run's first start on data/tailoring.db)",
    )
    demo.set_defaults(run=_demo)
    expected = commands.add_parser(
        "expected-change",
        help="compute expected-change curves with a failure boundary from the database's "
        "finished courses (or invented ones) as content/measures/expected_change.yaml",
    )
    expected.add_argument("--database", help="read the cases of the database at this URL")
    expected.add_argument("--demo", type=int, help="use this many invented demo cases instead")
    expected.add_argument("--seed", type=int, default=0, help="the demo cases' seed")
    expected.add_argument("--percentile", type=float, default=75.0, help="of the boundary")
    expected.add_argument(
        "--min-cases", type=int, default=20, help="fewest finished courses behind a point"
    )
    expected.add_argument("--out", help="write to this file instead of printing")
    expected.set_defaults(run=_expected_change)
    code_feedback = commands.add_parser(
        "code-feedback",
        help="suggest the study's themes for free text (UTF-8, one statement a line); "
        "print a JSON list, one object a line, with the words behind each theme",
    )
    code_feedback.add_argument("file")
    code_feedback.set_defaults(run=_code_feedback)
    _add_fhir(commands)
    shown = commands.add_parser(
        "settings",
        help="print the settings the environment gives (the database URL without its "
        "password; secrets.toml is read by the app only)",
    )
    shown.add_argument(
        "--markdown", action="store_true", help="print the README's table of every setting"
    )
    shown.set_defaults(run=_settings)
    add_users_parser(commands)
    add_database_parsers(commands)
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except (ContentError, limits.InputRefused, settings.SettingsError) as exc:
        # Name the problem, never the text: it may hold a patient's words.
        print(str(exc), file=sys.stderr)
        return EXIT_INVALID


if __name__ == "__main__":
    sys.exit(main())
