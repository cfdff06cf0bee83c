"""Our measure questionnaires in a standard SDC renderer: LHC-Forms (the NLM's, from npm) in
Debian's chromium computes the PHQ-9, GAD-7 and WSAS totals itself from their calculatedExpression,
equal to ours, and the QuestionnaireResponses it writes import back onto the same case.

LHC-Forms is installed from npm into test-artifacts/lforms on the first run (about 40 s; later
runs reuse it). Loading order and the page's charset as FIELD-NOTES.md says: zone.js, then the web
component's modules, then, once ``LForms.Util`` exists, the R4B FHIR support.
"""

from __future__ import annotations

import functools
import json
import random
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tailoring import services
from tailoring.__main__ import main
from tailoring.engine.outcomes import score_measure
from tailoring.export.fhir import questionnaires
from tailoring.export.fhir.questionnaires import option_score, total_expression
from tailoring.model.case import Case
from tailoring.model.content import ContentLibrary
from tailoring.model.measures import NOT_APPLICABLE, ItemValue, Measure
from tests.e2e.conftest import REPO, new_page, screenshot

pytestmark = pytest.mark.e2e

LFORMS_VERSION = "40.1.3"
CACHE = REPO / "test-artifacts" / "lforms"
MEASURES = ("phq9", "gad7", "wsas")
NPM_SECONDS = 600

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>LHC-Forms</title>
<link rel="stylesheet" href="/lforms/webcomponent/styles.css"></head>
<body><div id="form"></div>
<script src="/lforms/webcomponent/assets/lib/zone.min.js"></script>
<script src="/lforms/webcomponent/runtime.js" type="module"></script>
<script src="/lforms/webcomponent/polyfills.js" type="module"></script>
<script src="/lforms/webcomponent/main.js" type="module"></script>
<script>
  const until = (ready) => new Promise((done) => {
    const check = () => (ready() ? done() : setTimeout(check, 50));
    check();
  });
  window.lformsReady = (async () => {
    await until(() => window.LForms && window.LForms.Util);
    const fhir = document.createElement("script");
    fhir.src = "/lforms/fhir/R4B/lformsFHIR.min.js";
    const loaded = new Promise((done, failed) => { fhir.onload = done; fhir.onerror = failed; });
    document.body.appendChild(fhir);
    await loaded;
  })();
  window.showForm = async (questionnaire) => {
    await window.lformsReady;
    await LForms.Util.addFormToPage(questionnaire, "form", {fhirVersion: "R4B"});
  };
  window.response = () => LForms.Util.getFormFHIRData(
    "QuestionnaireResponse", "R4B", document.getElementById("form"));
</script></body></html>
"""

# fhirpath.js, the FHIRPath engine inside LHC-Forms, on many responses at once.
EVALUATE = """
const [fhirpath, r4] = [process.argv[1], process.argv[1] + "/fhir-context/r4"].map(require);
const cases = JSON.parse(require("fs").readFileSync(0, "utf8"));
const totals = cases.map(({questionnaire, response, expression}) =>
  fhirpath.evaluate(response, expression, {resource: response, questionnaire}, r4));
process.stdout.write(JSON.stringify(totals));
"""


def installed_version() -> str | None:
    package = CACHE / "node_modules" / "lforms" / "package.json"
    if not package.exists():
        return None
    return json.loads(package.read_text(encoding="utf-8")).get("version")


@pytest.fixture(scope="module")
def lforms() -> Path:
    """LHC-Forms' built files, installed from npm into the test cache when missing."""
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip(
            "npm is not installed, and LHC-Forms comes from npm: apt-get install nodejs npm "
            "(scripts/test does)"
        )
    if installed_version() != LFORMS_VERSION:
        CACHE.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            [
                npm,
                "install",
                "--prefix",
                str(CACHE),
                "--no-audit",
                "--no-fund",
                "--loglevel=error",
                f"lforms@{LFORMS_VERSION}",
            ],
            capture_output=True,
            text=True,
            timeout=NPM_SECONDS,
            check=False,
        )
        if done.returncode != 0 or installed_version() != LFORMS_VERSION:
            pytest.fail(f"npm install lforms@{LFORMS_VERSION} failed:\n{done.stderr[-3000:]}")
    return CACHE / "node_modules" / "lforms" / "dist" / "lforms"


class _Files(SimpleHTTPRequestHandler):
    """The test page at /, LHC-Forms' files under /lforms/."""

    def __init__(self, *args: Any, dist: Path, **kwargs: Any) -> None:
        self.dist = dist
        super().__init__(*args, **kwargs)

    def do_GET(self) -> None:
        if self.path.split("?")[0] in ("/", "/index.html"):
            body = PAGE.encode("utf-8")
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        super().do_GET()

    def translate_path(self, path: str) -> str:
        relative = path.split("?")[0].removeprefix("/lforms/")
        target = (self.dist / relative).resolve()
        # Only LHC-Forms' own files: anything else is a 404.
        return str(target) if target.is_relative_to(self.dist) else str(self.dist / "missing")

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def renderer_url(lforms: Path) -> Iterator[str]:
    handler = functools.partial(_Files, dist=lforms.resolve())
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/"
    server.shutdown()
    server.server_close()


@pytest.fixture
def renderer(browser: Browser, renderer_url: str) -> Iterator[Page]:
    page = new_page(browser)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(renderer_url)
    page.evaluate("window.lformsReady")
    yield page
    page.context.close()
    assert errors == [], errors


def demo_case() -> Case:
    return services.parse_case_file(services.demo_case_paths()[-1].read_text(encoding="utf-8"))


def option_text(measure: Measure, item_id: str, value: ItemValue) -> re.Pattern[str]:
    """How LHC-Forms lists an answer: "2: Several days - 1" (the score after a scored one)."""
    if value == NOT_APPLICABLE:
        label = measure.item(item_id).not_applicable or ""
        return re.compile(rf"^\d+:\s+{re.escape(label)}$")
    return re.compile(rf"^\d+:\s+{re.escape(measure.option_label(int(value)))} - {value}$")


def fill(page: Page, measure: Measure, answers: dict[str, ItemValue]) -> None:
    """Answer every item as a person would: open its list, click the answer. The total stays
    empty until the last item is answered."""
    total = page.locator("[id='total/1']")
    for index, item in enumerate(measure.items):
        if index == len(measure.items) - 1:
            expect(total).to_have_value("")
        page.locator(f"[id='{item.id}/1']").click()
        options = page.locator("#completionOptions li")
        options.filter(has_text=option_text(measure, item.id, answers[item.id])).click()


@pytest.mark.parametrize("number", [2, 6])
def test_lhc_forms_computes_our_totals_and_its_responses_import_back(
    renderer: Page, content: ContentLibrary, tmp_path: Path, capsys, number: int
) -> None:
    case = demo_case()
    session = next(s for s in case.sessions if s.number == number)
    qs = questionnaires(content)
    responses = []
    for measure_id in MEASURES:
        measure = content.measure(measure_id)
        answers = session.measures[measure_id]
        ours = score_measure(measure, answers).total
        assert ours is not None
        renderer.evaluate("q => window.showForm(q)", qs.by_name[measure_id])
        fill(renderer, measure, answers)
        expect(renderer.locator("[id='total/1']")).to_have_value(str(ours))
        if number == 2:
            screenshot(renderer, f"sdc-lhc-forms-{measure_id}", full=False)
        response = renderer.evaluate("window.response()")
        assert response["questionnaire"] == qs.canonical(measure_id)
        assert response["item"][-1]["linkId"] == "total"
        assert response["item"][-1]["answer"] == [{"valueInteger": ours}]
        responses.append(response)

    stripped = case.model_dump(mode="json")
    stripped["sessions"][case.sessions.index(session)]["measures"] = {}
    case_file = tmp_path / "case.json"
    case_file.write_text(json.dumps(stripped), encoding="utf-8")
    bundle = tmp_path / "responses.json"
    bundle.write_text(
        json.dumps(
            {
                "resourceType": "Bundle",
                "type": "collection",
                "entry": [{"resource": r} for r in responses],
            }
        ),
        encoding="utf-8",
    )
    code = main(["fhir", "import", str(bundle), "--case", str(case_file), "--session", str(number)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    imported = services.parse_case_file(captured.out)
    assert imported == case
    totals = [
        score_measure(
            content.measure(m), imported.sessions[case.sessions.index(session)].measures[m]
        ).total
        for m in MEASURES
    ]
    assert totals == [r["item"][-1]["answer"][0]["valueInteger"] for r in responses]


def random_answers(measure: Measure, rng: random.Random) -> dict[str, ItemValue]:
    """Answers as a response may hold them: "not applicable" where an item allows it, and in
    about a third of them one item left out or left blank."""
    answers: dict[str, ItemValue] = {
        item.id: NOT_APPLICABLE
        if item.not_applicable and rng.random() < 0.3
        else rng.choice(measure.options).value
        for item in measure.items
    }
    if rng.random() < 0.35:
        item_id = rng.choice(measure.items).id
        if rng.random() < 0.5:
            del answers[item_id]
        else:
            answers[item_id] = None
    return answers


def bare_response(questionnaire: dict[str, Any], answers: dict[str, ItemValue]) -> dict[str, Any]:
    """A response as any system writes it: the option's coding alone, so the score must come
    from the questionnaire's ordinalValue, as weight() finds it."""
    items = []
    for item in questionnaire["item"][:-1]:
        if item["linkId"] not in answers:
            continue
        value = answers[item["linkId"]]
        entry: dict[str, Any] = {"linkId": item["linkId"]}
        for option in item["answerOption"]:
            if value is not None and option_score(option) == value:
                entry["answer"] = [{"valueCoding": option["valueCoding"]}]
        items.append(entry)
    return {"resourceType": "QuestionnaireResponse", "status": "completed", "item": items}


def test_fhirpath_js_gives_our_total_for_random_answers(lforms: Path, content) -> None:
    """The engine inside LHC-Forms, on 300 answer sets per measure: complete ones give our
    total, those with an item left out or blank give none, as score_measure does."""
    node = shutil.which("node")
    assert node is not None, "npm is here but node is not"
    rng = random.Random(17)
    qs = questionnaires(content).by_name
    cases, expected = [], []
    for measure in content.measures:
        for _ in range(300):
            answers = random_answers(measure, rng)
            cases.append(
                {
                    "questionnaire": qs[measure.id],
                    "response": bare_response(qs[measure.id], answers),
                    "expression": total_expression(measure),
                }
            )
            total = score_measure(measure, answers).total
            expected.append([] if total is None else [total])
    done = subprocess.run(
        [node, "-e", EVALUATE, str(CACHE / "node_modules" / "fhirpath")],
        input=json.dumps(cases),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout) == expected
    complete = sum(1 for e in expected if e)
    assert len(expected) // 2 < complete < len(expected)
