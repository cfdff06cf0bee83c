"""The free-text theme coder: inflection, negation, several themes, none, and evidence spans."""

from __future__ import annotations

import pytest

from tailoring.engine.coding import code_text, code_texts, evaluate, word_forms
from tailoring.model.coding import LabelledStatement, Lexicon, ThemeCode
from tailoring.model.content import ContentLibrary


def lexicon(*entries: dict) -> Lexicon:
    return Lexicon.model_validate({"entries": list(entries)})


SMALL = lexicon(
    {"id": "speed", "theme": "pace", "phrases": ["rush", "take ... time", "too short|long"]},
    {
        "id": "waits",
        "theme": "pace",
        "phrases": ["wait", "waiting list"],
        "unless": ["waiting room"],
    },
    {"id": "listening", "theme": "heard", "phrases": ["listen to", "feel heard"]},
    {"id": "judgement", "theme": "alliance", "phrases": ["judg*"]},
)


def themes(codes: list[ThemeCode]) -> list[str]:
    return [c.theme for c in codes]


def evidence(codes: list[ThemeCode]) -> dict[str, list[str]]:
    return {c.theme: [e.text for e in c.evidence] for c in codes}


@pytest.mark.parametrize(
    "text",
    [
        "The sessions were rushed.",
        "It never felt rushed.",
        "I was not rushed at all.",
        "She didn't rush me.",
        "Nobody was rushing anyone.",
        "Everything rushes past.",
        "RUSHED!",
    ],
)
def test_topic_not_valence_and_every_inflection(text: str) -> None:
    assert themes(code_text(SMALL, text)) == ["pace"]


@pytest.mark.parametrize(
    "text",
    [
        "I didn't feel listened to.",
        "I wasn’t listened to.",
        "She really listened to me.",
        "He never listens to anyone.",
        "I felt heard.",
        "I never felt heard.",
        "I did not feel heard.",
        "I felt really heard.",
        "I never really felt properly heard.",
    ],
)
def test_negations_and_degree_words_do_not_break_a_phrase(text: str) -> None:
    assert themes(code_text(SMALL, text)) == ["heard"]


def test_at_most_two_words_may_sit_inside_a_phrase() -> None:
    assert code_text(SMALL, "I felt not really ever heard.") == []


def test_irregular_verbs_match_their_base_form() -> None:
    assert evidence(code_text(SMALL, "She took her time.")) == {"pace": ["took her time"]}
    assert evidence(code_text(SMALL, "I felt heard")) == {"heard": ["felt heard"]}


def test_a_gap_allows_up_to_three_words() -> None:
    assert themes(code_text(SMALL, "They take all of the time they need.")) == ["pace"]
    assert code_text(SMALL, "Take a look at the clock and the time.") == []


def test_a_prefix_matches_every_word_that_starts_with_it() -> None:
    text = "He judged me; she was non-judgemental; judgement is everywhere."
    # A hyphen splits words, so the evidence is the word after it.
    assert evidence(code_text(SMALL, text)) == {"alliance": ["judged", "judgemental", "judgement"]}


def test_alternatives_in_a_slot() -> None:
    assert evidence(code_text(SMALL, "Sessions were too short")) == {"pace": ["too short"]}
    assert evidence(code_text(SMALL, "They went on too long")) == {"pace": ["too long"]}
    assert code_text(SMALL, "Too slow") == []


def test_two_themes_in_order_of_their_evidence() -> None:
    codes = code_text(SMALL, "He was judgemental and I never felt heard; it was rushed.")
    assert themes(codes) == ["alliance", "heard", "pace"]


def test_no_theme() -> None:
    assert code_text(SMALL, "The building was hard to find.") == []
    assert code_text(SMALL, "") == []
    assert code_text(SMALL, "   ...!?  ") == []


def test_evidence_spans_point_into_the_text() -> None:
    text = "Honestly?  I didn't feel listened to — and the whole thing felt RUSHED."
    codes = code_text(SMALL, text)
    assert evidence(codes) == {"heard": ["listened to"], "pace": ["RUSHED"]}
    for code in codes:
        for found in code.evidence:
            assert text[found.start : found.end] == found.text
    assert codes[0].evidence[0].entry == "listening"


def test_a_phrase_does_not_span_a_sentence_break() -> None:
    assert code_text(SMALL, "I wanted to listen. To be honest, no.") == []
    assert code_text(SMALL, "Take it. The time is now.") == []


def test_an_unless_phrase_cancels_matches_inside_it() -> None:
    assert code_text(SMALL, "The waiting room was cold.") == []
    text = "I waited in the waiting room; the waiting list is long."
    assert evidence(code_text(SMALL, text)) == {"pace": ["waited", "waiting list"]}


def test_overlapping_matches_keep_the_longest() -> None:
    assert evidence(code_text(SMALL, "I was on the waiting list.")) == {"pace": ["waiting list"]}


def test_repeated_evidence_is_each_kept() -> None:
    codes = code_text(SMALL, "Rushed, rushed, rushed.")
    assert [(e.start, e.end) for e in codes[0].evidence] == [(0, 6), (8, 14), (16, 22)]


def test_deterministic_and_batch_equals_one_by_one() -> None:
    texts = ["It felt rushed and nobody listened to me.", "", "Judged.", "I waited."]
    assert code_texts(SMALL, texts) == [code_text(SMALL, t) for t in texts]
    assert code_texts(SMALL, texts) == code_texts(SMALL, texts)
    copy = Lexicon.model_validate(SMALL.model_dump())
    assert code_texts(copy, texts) == code_texts(SMALL, texts)


def test_an_empty_lexicon_codes_nothing() -> None:
    assert code_text(Lexicon(), "It felt rushed.") == []


@pytest.mark.parametrize(
    ("base", "inflected"),
    [
        ("rush", ["rushed", "rushes", "rushing"]),
        ("listen", ["listened", "listening", "listens"]),
        ("judge", ["judged", "judging", "judges"]),
        ("hurry", ["hurried", "hurries", "hurrying"]),
        ("worry", ["worried", "worries", "worrying"]),
        ("stop", ["stopped", "stopping", "stops"]),
        ("agree", ["agreed", "agreeing", "agrees"]),
        ("cope", ["coped", "coping", "copes"]),
        ("use", ["used", "using", "uses"]),
        ("feel", ["felt", "feeling", "feels", "feelings"]),
        ("hear", ["heard", "hearing", "hears"]),
        ("take", ["took", "taken", "taking", "takes"]),
        ("session", ["sessions", "session's"]),
        ("therapy", ["therapies"]),
        ("teach", ["taught"]),
    ],
)
def test_word_forms_lead_back_to_the_base(base: str, inflected: list[str]) -> None:
    for word in inflected:
        assert base in word_forms(word), word


def test_word_forms_do_not_join_unrelated_words() -> None:
    assert "care" not in word_forms("car")
    assert "the" not in word_forms("thing")
    assert "need" in word_forms("needed")


def test_real_lexicon_codes_the_issue_examples(content: ContentLibrary) -> None:
    assert themes(code_text(content.lexicon, "It never felt rushed.")) == ["pace"]
    assert themes(code_text(content.lexicon, "I didn't feel listened to.")) == ["heard"]
    assert themes(code_text(content.lexicon, "The waiting room was nice.")) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("It was kind of rushed.", ["pace"]),
        ("She was a kind person.", ["alliance"]),
        ("The NHS trust sent a letter.", []),
        ("I trusted her.", ["alliance"]),
        ("Deep breathing helps me.", ["skills_agency"]),
        ("My GP practice referred me.", []),
        ("In the past few weeks I have been busy.", []),
        ("I live on my own with two cats.", []),
        ("I heard about the service from a friend.", []),
        ("I had a cold that week.", []),
    ],
)
def test_real_lexicon_leaves_common_false_alarms_out(
    content: ContentLibrary, text: str, expected: list[str]
) -> None:
    assert themes(code_text(content.lexicon, text)) == expected


def test_real_lexicon_covers_every_theme(content: ContentLibrary) -> None:
    assert {e.theme for e in content.lexicon.entries} == {t.id for t in content.themes}


def test_evaluate_counts_and_scores() -> None:
    statements = [
        LabelledStatement(text="It felt rushed.", themes=["pace"]),
        LabelledStatement(text="I waited and was judged.", themes=["pace", "heard"]),
        LabelledStatement(text="Nothing.", themes=[]),
    ]
    scores = {s.theme: s for s in evaluate(SMALL, statements).themes}
    assert (scores["pace"].true_positives, scores["pace"].f1) == (2, 1.0)
    heard = scores["heard"]
    assert (heard.true_positives, heard.false_negatives, heard.recall, heard.f1) == (0, 1, 0, 0)
    alliance = scores["alliance"]
    assert (alliance.false_positives, alliance.precision, alliance.f1) == (1, 0, 0)
    # Themes neither labelled nor suggested score 1: nothing to find, nothing wrong.
    assert scores["depth"].f1 == 1.0
    assert evaluate(SMALL, statements).macro_f1 == pytest.approx((1 + 0 + 0 + 3) / 6)
