"""Loads and validates content/, naming the file and field of each error."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from tailoring import settings
from tailoring.limits import CONTENT_FILE_MB, YAML_VALUES, InputRefused, read_text
from tailoring.model.coding import CodingEvaluation, Lexicon, LexiconEntry
from tailoring.model.content import (
    Adaptation,
    AllianceItem,
    ContentLibrary,
    Contraindication,
    PreferenceItem,
    Problem,
    Protocol,
    SocialDomain,
    Theme,
)
from tailoring.model.fhir import FhirPublication
from tailoring.model.measures import ExpectedChange, Measure, TrackingRules, WaitStandard
from tailoring.model.patient_content import (
    Barrier,
    OpenQuestion,
    PatientAllianceItem,
    PatientContent,
    PatientPreference,
    PatientWording,
    QuestionnaireSet,
)
from tailoring.model.scenario import Scenario

CONTENT_DIR = Path(__file__).resolve().parent.parent / "content"

LIST_FILES: dict[str, type[BaseModel]] = {
    "themes": Theme,
    "preferences": PreferenceItem,
    "social": SocialDomain,
    "alliance": AllianceItem,
    "adaptations": Adaptation,
    "problems": Problem,
    "contraindications": Contraindication,
    "waits": WaitStandard,
}


class ContentError(Exception):
    """Content that does not validate; ``problems`` lists 'file: field: message' lines."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("content does not validate:\n" + "\n".join(f"  {p}" for p in problems))


class _BoundedLoader(yaml.SafeLoader):
    """Safe YAML whose aliases cannot multiply: ten nested aliases of ten items each make ten
    billion values to validate from a few hundred bytes. Tools that write YAML use aliases for
    repeated values, so they are allowed up to YAML_VALUES values in all."""

    def construct_document(self, node: yaml.Node) -> Any:
        if _values(node, {}) > YAML_VALUES:
            raise yaml.constructor.ConstructorError(
                problem=f"its aliases (*name) make more than {YAML_VALUES:,} values: "
                "write the values out",
                problem_mark=node.start_mark,
            )
        return super().construct_document(node)


def _values(node: yaml.Node, counted: dict[int, int]) -> int:
    """How many values ``node`` stands for once every alias is expanded (each node counted once
    and its count reused, so this takes as long as the file is, not as the expansion)."""
    if id(node) in counted:
        return counted[id(node)]
    counted[id(node)] = 1  # a node that holds itself counts once
    if isinstance(node, yaml.SequenceNode):
        total = 1 + sum(_values(child, counted) for child in node.value)
    elif isinstance(node, yaml.MappingNode):
        total = 1 + sum(_values(k, counted) + _values(v, counted) for k, v in node.value)
    else:
        total = 1
    counted[id(node)] = total
    return total


def _read_yaml(path: Path, problems: list[str], name: str | None = None) -> Any:
    """The parsed file, or None with a problem naming the file (``name``, else its file name)."""
    name = name or path.name
    if not path.exists():
        problems.append(f"{name}: file is missing")
        return None
    try:
        return yaml.load(read_text(path, CONTENT_FILE_MB), Loader=_BoundedLoader)
    except InputRefused as exc:
        problems.append(str(exc).replace(str(path), name))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark else ""
        problems.append(f"{name}{where}: not valid YAML: {getattr(exc, 'problem', None) or exc}")
    except RecursionError:
        problems.append(f"{name}: nested too deeply to read; content needs a few levels")
    except ValueError:
        # PyYAML turns digits into an int; past 4,300 digits Python refuses.
        problems.append(f"{name}: holds a number too long to read; no content value needs one")
    return None


def _field_errors(file: str, prefix: str, exc: ValidationError) -> list[str]:
    lines: list[str] = []
    for err in exc.errors():
        loc = ".".join(str(part) for part in (prefix, *err["loc"]) if part != "")
        if not loc and err["type"] == "value_error":
            # A whole-file check lists 'field: message' parts; report each on its own line.
            message = str(err["msg"]).removeprefix("Value error, ")
            lines.extend(f"{file}: {part}" for part in message.split("; "))
            continue
        lines.append(f"{file}: {loc or '(top level)'}: {err['msg']}")
    return lines


Entry = TypeVar("Entry", bound=BaseModel)


def _validate_entries(file: str, raw: Any, model: type[Entry], problems: list[str]) -> list[Entry]:
    if not isinstance(raw, list):
        problems.append(f"{file}: expected a list of entries, got {type(raw).__name__}")
        return []
    entries = []
    for index, entry in enumerate(raw):
        label = entry.get("id", index) if isinstance(entry, dict) else index
        try:
            entries.append(model.model_validate(entry))
        except ValidationError as exc:
            problems.extend(_field_errors(file, f"[{label}]", exc))
    return entries


FileEntry = TypeVar("FileEntry", Protocol, Scenario, Measure)
# The tracking rules and the expected-change curves sit beside the measures but are not one.
RULES_FILE = "rules.yaml"
EXPECTED_FILE = "expected_change.yaml"


def _validate_folder(
    directory: Path, folder: str, model: type[FileEntry], problems: list[str]
) -> list[FileEntry]:
    """One entry per ``<folder>/*.yaml`` file, whose id must be the file name."""
    entries = []
    for path in sorted((directory / folder).glob("*.yaml")):
        if model is Measure and path.name in (RULES_FILE, EXPECTED_FILE):
            continue
        file = f"{folder}/{path.name}"
        raw = _read_yaml(path, problems, file)
        if raw is None:
            continue
        try:
            entry = model.model_validate(raw)
        except ValidationError as exc:
            problems.extend(_field_errors(file, "", exc))
            continue
        if entry.id != path.stem:
            problems.append(f"{file}: id: {entry.id!r} must match the file name {path.stem!r}")
        entries.append(entry)
    return entries


def load_content(directory: Path = CONTENT_DIR) -> ContentLibrary:
    """Read and validate every content file; raise ContentError listing all problems at once."""
    problems: list[str] = []
    library = _read_yaml(directory / "library.yaml", problems)
    parts: dict[str, Any] = {}
    if library is not None and not isinstance(library, dict):
        problems.append("library.yaml: expected a mapping with version and importance_labels")
        library = None
    for name, model in LIST_FILES.items():
        raw = _read_yaml(directory / f"{name}.yaml", problems)
        if raw is not None:
            parts[name] = _validate_entries(f"{name}.yaml", raw, model, problems)
    if not sorted((directory / "protocols").glob("*.yaml")):
        problems.append("protocols/: no protocol files")
    protocols = _validate_folder(directory, "protocols", Protocol, problems)
    # Scenarios are optional: a service may ship its content without teaching scenarios.
    scenarios = _validate_folder(directory, "scenarios", Scenario, problems)
    parts.update(_measures(directory, problems))
    parts["lexicon"] = _lexicon(directory, problems)
    parts["fhir"] = _fhir(directory, problems)
    parts["patient"] = _patient(directory, problems)
    if problems:
        raise ContentError(problems)
    try:
        return ContentLibrary.model_validate(
            {**library, **parts, "protocols": protocols, "scenarios": scenarios}
        )
    except ValidationError as exc:
        raise ContentError(_cross_file_errors(exc)) from None


def _cross_file_errors(exc: ValidationError) -> list[str]:
    """Name the file of each cross-reference error (its message starts with the section)."""
    lines = []
    for err in exc.errors():
        if err["loc"]:
            lines.append(f"library.yaml: {'.'.join(map(str, err['loc']))}: {err['msg']}")
            continue
        for part in str(err["msg"]).removeprefix("Value error, ").split("; "):
            section, _, rest = part.partition(".")
            if section == "scenarios":
                # "scenarios.<id>.<field>: <message>", and a scenario's id is its file name.
                scenario_id, _, field_message = rest.partition(".")
                lines.append(f"scenarios/{scenario_id}.yaml: {field_message}")
                continue
            if section == "protocols":
                file = f"protocols/{rest.split('.')[0].split(':')[0]}.yaml"
            elif section == "patient":
                file = f"patient/{rest.split('.')[0].split(':')[0]}.yaml"
            elif section in ("measures", "tracking") or part.startswith("measures:"):
                file = _measures_file(section, rest)
            else:
                file = f"{section}.yaml" if section in LIST_FILES else "content"
            lines.append(f"{file}: {part}")
    return lines


def _measures(directory: Path, problems: list[str]) -> dict[str, Any]:
    """The outcome measures (measures/*.yaml) and the tracking rules (measures/rules.yaml)."""
    measures = _validate_folder(directory, "measures", Measure, problems)
    if not measures:
        problems.append("measures/: no measure files")
    parts: dict[str, Any] = {"measures": measures}
    # Optional (a service's own, from `python -m tailoring expected-change`): without curves,
    # not-on-track uses the fixed rule of rules.yaml.
    expected = directory / "measures" / EXPECTED_FILE
    if expected.exists():
        file = f"measures/{EXPECTED_FILE}"
        raw = _read_yaml(expected, problems, file)
        if raw is not None:
            try:
                parts["expected_change"] = ExpectedChange.model_validate(raw)
            except ValidationError as exc:
                problems.extend(_field_errors(file, "", exc))
    file = f"measures/{RULES_FILE}"
    raw = _read_yaml(directory / "measures" / RULES_FILE, problems, file)
    if raw is None:
        return parts
    try:
        return {**parts, "tracking": TrackingRules.model_validate(raw)}
    except ValidationError as exc:
        problems.extend(_field_errors(file, "", exc))
        return parts


def _measures_file(section: str, rest: str) -> str:
    """The file of a cross-file measures error: 'measures.<id>…' or 'tracking.<field>…'."""
    if section == "tracking":
        return f"measures/{RULES_FILE}"
    if section == "measures":
        return f"measures/{rest.split('.')[0]}.yaml"
    return "measures/"


FHIR_FILE = "fhir.yaml"


def _fhir(directory: Path, problems: list[str]) -> FhirPublication | None:
    """Where the FHIR resources are published (fhir.yaml)."""
    raw = _read_yaml(directory / FHIR_FILE, problems)
    if raw is None:
        return None
    try:
        return FhirPublication.model_validate(raw)
    except ValidationError as exc:
        problems.extend(_field_errors(FHIR_FILE, "", exc))
        return None


LEXICON_FILE = "coding/lexicon.yaml"
EVALUATION_FILE = "coding/evaluation.yaml"


def _lexicon(directory: Path, problems: list[str]) -> Lexicon:
    """The coding lexicon; a content folder without one gets an empty lexicon that codes nothing."""
    path = directory / LEXICON_FILE
    if not path.exists():
        return Lexicon()
    raw = _read_yaml(path, problems, LEXICON_FILE)
    if raw is None:
        return Lexicon()
    entries = _validate_entries(LEXICON_FILE, raw, LexiconEntry, problems)
    try:
        return Lexicon(entries=entries)
    except ValidationError as exc:
        problems.extend(_field_errors(LEXICON_FILE, "", exc))
        return Lexicon()


def load_coding_evaluation(directory: Path = CONTENT_DIR) -> CodingEvaluation:
    """The coder's labelled statements (coding/evaluation.yaml); raise ContentError if invalid."""
    problems: list[str] = []
    raw = _read_yaml(directory / EVALUATION_FILE, problems, EVALUATION_FILE)
    if raw is not None:
        try:
            return CodingEvaluation.model_validate(raw)
        except ValidationError as exc:
            problems.extend(_field_errors(EVALUATION_FILE, "", exc))
    raise ContentError(problems)


PATIENT_DIR = "patient"
PATIENT_COMMON = "common.yaml"
PATIENT_FILES: dict[str, type[BaseModel]] = {
    "preferences": PatientPreference,
    "barriers": Barrier,
    "alliance": PatientAllianceItem,
    "open": OpenQuestion,
    "sets": QuestionnaireSet,
}


def _patient(directory: Path, problems: list[str]) -> PatientContent | None:
    """The patient questionnaires (patient/*.yaml); None for content without a patient folder."""
    folder = directory / PATIENT_DIR
    if not folder.is_dir():
        return None
    start = len(problems)
    file = f"{PATIENT_DIR}/{PATIENT_COMMON}"
    raw = _read_yaml(folder / PATIENT_COMMON, problems, file)
    wording = None
    if raw is not None:
        try:
            wording = PatientWording.model_validate(raw)
        except ValidationError as exc:
            problems.extend(_field_errors(file, "", exc))
    parts: dict[str, Any] = {"wording": wording}
    for name, model in PATIENT_FILES.items():
        file = f"{PATIENT_DIR}/{name}.yaml"
        raw = _read_yaml(folder / f"{name}.yaml", problems, file)
        if raw is not None:
            parts[name] = _validate_entries(file, raw, model, problems)
    if len(problems) > start:
        return None
    return PatientContent.model_validate(parts)


def content_dir() -> Path:
    """The content folder: TAILORING_CONTENT_DIR when set (a service's own content), else ours."""
    return settings.current().content_dir or CONTENT_DIR


def library(directory: Path | None = None) -> ContentLibrary:
    """The validated content library, loaded once per process and folder."""
    return _cached_library(directory or content_dir())


@lru_cache(maxsize=4)
def _cached_library(directory: Path) -> ContentLibrary:
    return load_content(directory)
