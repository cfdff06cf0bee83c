"""Suggests the study's themes for a free-text answer, with the words that suggested each.

The coder is a lexicon of phrases per theme (content/coding/lexicon.yaml; the phrase syntax is in
tailoring/model/coding.py), matched word by word against the text:

- Inflection: a word of the text matches a lexicon word when it is that word or an inflection of
  it ("rushed", "rushing" and "rushes" match ``rush``; "felt" matches ``feel``). ``word_forms``
  lists the base forms a word may come from; it is a light suffix stripper with a table of
  irregular verbs, not a full stemmer, so it may propose forms that are not words, which is
  harmless as they only ever meet lexicon words.
- Topic, not valence: a negation never cancels a code. "It never felt rushed" is about pace and
  "I didn't feel listened to" is about being heard, so negations ("not", "never", "didn't") and
  a few degree words ("really", "properly") may sit between the words of a phrase without
  breaking it ("listened to" matches "not listened to"; "felt heard" matches "felt really heard").
- A phrase matches within one sentence (not across . ! ? ; or :).
- Evidence: each match is reported as it appears in the text with its character span, so a page
  can highlight it. Where matches of one theme overlap, the longest is kept.

Everything is deterministic and runs offline; nothing here reads files or logs text.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import get_args

from tailoring.model.base import ThemeId
from tailoring.model.coding import (
    GAP,
    GAP_WORDS,
    CodingScores,
    Evidence,
    LabelledStatement,
    Lexicon,
    ThemeCode,
    ThemeScore,
    phrase_slots,
)

THEME_IDS: tuple[ThemeId, ...] = get_args(ThemeId)

# Words, with inner apostrophes ("didn't", "therapist's"), and the punctuation that ends a
# sentence or clause, which no phrase spans. A hyphen splits words, as a space does.
_TOKEN = re.compile(r"[A-Za-z0-9]+(?:['’][A-Za-z]+)*|[.!?;:]")
_BREAKS = frozenset(".!?;:")

NEGATIONS = frozenset(
    {"not", "never", "no", "nor", "cannot", "hardly", "barely", "rarely", "scarcely"}
)
# Degree words that may also sit inside a phrase: "felt really heard", "listened properly to".
DEGREE_WORDS = frozenset(
    {
        "really", "properly", "actually", "genuinely", "truly", "fully", "always", "ever",
        "even", "just", "quite", "very", "so", "too", "particularly", "totally", "completely",
    }
)  # fmt: skip
# At most this many negations or degree words between two words of a phrase.
MAX_SKIPPED = 2

IRREGULAR = {
    "felt": "feel", "heard": "hear", "took": "take", "taken": "take", "gave": "give",
    "given": "give", "made": "make", "said": "say", "told": "tell", "understood": "understand",
    "thought": "think", "got": "get", "gotten": "get", "went": "go", "gone": "go", "left": "leave",
    "kept": "keep", "taught": "teach", "learnt": "learn", "brought": "bring", "spoke": "speak",
    "spoken": "speak", "spent": "spend", "began": "begin", "begun": "begin", "came": "come",
    "saw": "see", "seen": "see", "knew": "know", "known": "know", "found": "find", "dealt": "deal",
    "meant": "mean", "ran": "run", "sat": "sit", "stood": "stand", "fell": "fall", "lost": "lose",
    "held": "hold", "met": "meet", "paid": "pay", "sent": "send", "built": "build",
    "wrote": "write", "written": "write", "did": "do", "done": "do", "does": "do", "had": "have",
    "has": "have", "was": "be", "were": "be", "been": "be", "is": "be", "are": "be", "am": "be",
    "shook": "shake", "forgot": "forget", "forgotten": "forget", "hid": "hide", "hidden": "hide",
    "chose": "choose", "chosen": "choose", "drew": "draw", "drawn": "draw", "led": "lead",
    # Regular, but with stems too short for the -ing rule.
    "using": "use", "doing": "do", "going": "go", "being": "be", "seeing": "see",
}  # fmt: skip
_NO_DOUBLING = frozenset("lsz")


def word_forms(word: str) -> frozenset[str]:
    """The word, lower-cased, and the base forms it may be an inflection of."""
    w = word.lower().replace("’", "'")
    if w.endswith("'s"):
        w = w[:-2]
    forms = {w}
    if len(w) > 3 and w.endswith("s") and not w.endswith(("ss", "us", "is")):
        forms.add(w[:-1])
        if w.endswith("es"):
            forms.add(w[:-2])
        if len(w) > 4 and w.endswith("ies"):
            forms.add(w[:-3] + "y")
    for form in list(forms):
        if form in IRREGULAR:
            forms.add(IRREGULAR[form])
        if len(form) > 4 and form.endswith("ied"):
            forms.add(form[:-3] + "y")
        # A stem of two letters only after -ed: "used" is "use", but "thing" is not "the".
        for suffix, shortest in (("ing", 3), ("ed", 2)):
            stem = form[: -len(suffix)]
            if not form.endswith(suffix) or len(stem) < shortest:
                continue
            forms.update((stem, stem + "e"))
            if stem[-1] == stem[-2] and stem[-1] not in _NO_DOUBLING and stem[-1] not in "aeiou":
                forms.add(stem[:-1])
    return frozenset(forms)


def _skippable(word: str) -> bool:
    return word in NEGATIONS or word in DEGREE_WORDS or word.endswith("n't")


@dataclass(frozen=True)
class _Slot:
    """One slot of a compiled phrase: some words (with their inflections), prefixes, or a gap."""

    words: frozenset[str] = frozenset()
    prefixes: tuple[str, ...] = ()
    gap: bool = False


# Compared by identity: a phrase is hashed many times while a text is matched.
@dataclass(frozen=True, eq=False)
class _Phrase:
    theme: ThemeId
    entry: str
    slots: tuple[_Slot, ...]
    # An 'unless' phrase: it codes nothing, and cancels its entry's matches that lie inside it.
    unless: bool = False


def _compile_slot(text: str) -> _Slot:
    if text == GAP:
        return _Slot(gap=True)
    parts = text.split("|")
    return _Slot(
        words=frozenset(p for p in parts if not p.endswith("*")),
        prefixes=tuple(p[:-1] for p in parts if p.endswith("*")),
    )


@dataclass(frozen=True)
class _Starts:
    """What a word can start: one-word phrases whole, longer phrases by their second word."""

    whole: tuple[_Phrase, ...] = ()
    by_next: dict[str, tuple[_Phrase, ...]] = field(default_factory=dict)
    # Phrases whose second slot is a gap or has a prefix: tried at every start.
    other: tuple[_Phrase, ...] = ()


_NOTHING = _Starts()
# Words whose forms and phrases are memoised, at most.
_MEMO_MAX = 100_000


class _CompiledLexicon:
    """A lexicon laid out for matching: phrases indexed by the words their first slot accepts.

    The word forms and the phrases each word can start are memoised per word: the vocabulary of
    free text is small, so after the first few hundred statements nearly every word is known.
    """

    def __init__(self, lexicon: Lexicon) -> None:
        phrases: list[_Phrase] = []
        for entry in lexicon.entries:
            for phrase in entry.phrases:
                slots = tuple(_compile_slot(s) for s in phrase_slots(phrase))
                phrases.append(_Phrase(entry.theme, entry.id, slots))
            for phrase in entry.unless:
                slots = tuple(_compile_slot(s) for s in phrase_slots(phrase))
                phrases.append(_Phrase(entry.theme, entry.id, slots, unless=True))
        self.by_word: dict[str, list[_Phrase]] = {}
        self.by_prefix: list[tuple[str, _Phrase]] = []
        for compiled in phrases:
            first = compiled.slots[0]
            for word in first.words:
                self.by_word.setdefault(word, []).append(compiled)
            self.by_prefix.extend((prefix, compiled) for prefix in first.prefixes)
        self.starts: dict[str, _Starts] = {}
        self._forms: dict[str, frozenset[str]] = {}

    def forms(self, word: str) -> frozenset[str]:
        found = self._forms.get(word)
        if found is None:
            if len(self._forms) >= _MEMO_MAX:
                # A long-running app sees typos and numbers without end: start again.
                self._forms.clear()
                self.starts.clear()
            found = self._forms[word] = word_forms(word)
        return found

    def starting_with(self, word: str) -> _Starts:
        """The phrases whose first slot accepts ``word``, memoised in ``starts``."""
        candidates = [p for form in self.forms(word) for p in self.by_word.get(form, ())]
        candidates.extend(p for prefix, p in self.by_prefix if word.startswith(prefix))
        if not candidates:
            self.starts[word] = _NOTHING
            return _NOTHING
        whole, other = [], []
        by_next: dict[str, list[_Phrase]] = {}
        for phrase in dict.fromkeys(candidates):
            if len(phrase.slots) == 1:
                whole.append(phrase)
            elif phrase.slots[1].gap or phrase.slots[1].prefixes:
                other.append(phrase)
            else:
                for second in phrase.slots[1].words:
                    by_next.setdefault(second, []).append(phrase)
        found = self.starts[word] = _Starts(
            tuple(whole), {w: tuple(p) for w, p in by_next.items()}, tuple(other)
        )
        return found

    def find(self, words: list[str]) -> list[tuple[int, int, _Phrase]]:
        """(first word, last word, phrase) of every phrase that matches ``words``."""
        found = []
        known = self.starts
        for i, word in enumerate(words):
            starts = known.get(word)
            if starts is None:
                starts = self.starting_with(word)
            if starts is _NOTHING:
                continue
            for phrase in starts.whole:
                found.append((i, i, phrase))
            for phrase in starts.other:
                last = self.match(phrase.slots, 1, words, i + 1)
                if last >= 0:
                    found.append((i, last, phrase))
            if not starts.by_next:
                continue
            # Most longer phrases start with a common word ("my", "the"): look up the next word
            # rather than trying each phrase, with match's rule for the words between.
            tried: set[_Phrase] = set()
            for k in range(i + 1, min(i + MAX_SKIPPED + 2, len(words))):
                following = words[k]
                for form in self.forms(following):
                    for phrase in starts.by_next.get(form, ()):
                        if phrase in tried:
                            continue
                        tried.add(phrase)
                        last = self.match(phrase.slots, 2, words, k + 1)
                        if last >= 0:
                            found.append((i, last, phrase))
                if not _skippable(following):
                    break
        return found

    def match(self, slots: tuple[_Slot, ...], s: int, words: list[str], j: int) -> int:
        """Index of the last word matching slots[s:] from words[j] on, or -1 if they do not."""
        if s == len(slots):
            return j - 1
        slot = slots[s]
        if slot.gap:
            for k in range(j, min(j + GAP_WORDS, len(words)) + 1):
                last = self.match(slots, s + 1, words, k)
                if last >= 0:
                    return last
                if k < len(words) and words[k] in _BREAKS:
                    break
            return -1
        for k in range(j, min(j + MAX_SKIPPED + 1, len(words))):
            word = words[k]
            if slot.words & self.forms(word) or word.startswith(slot.prefixes):
                return self.match(slots, s + 1, words, k + 1)
            if not _skippable(word):
                return -1
        return -1


# Compiled lexicons, most recently used last. A Lexicon is frozen but not hashable, so it is
# kept here by identity with the lexicon itself (an id is only unique while its object lives).
_COMPILED: OrderedDict[int, tuple[Lexicon, _CompiledLexicon]] = OrderedDict()
_COMPILED_MAX = 8


def _compiled(lexicon: Lexicon) -> _CompiledLexicon:
    key = id(lexicon)
    cached = _COMPILED.get(key)
    if cached is not None and cached[0] is lexicon:
        _COMPILED.move_to_end(key)
        return cached[1]
    compiled = _CompiledLexicon(lexicon)
    _COMPILED[key] = (lexicon, compiled)
    if len(_COMPILED) > _COMPILED_MAX:
        _COMPILED.popitem(last=False)
    return compiled


def code_text(lexicon: Lexicon, text: str) -> list[ThemeCode]:
    """The themes the lexicon suggests for ``text``, in the order their first evidence appears."""
    compiled = _compiled(lexicon)
    # Words and sentence breaks; a break never matches a slot, so no phrase spans it.
    words = [w.lower().replace("’", "'") for w in _TOKEN.findall(text)]
    # Codes and 'unless' phrases alike.
    matches = compiled.find(words)
    if not matches:
        return []
    cancelled = [(p.entry, first, last) for first, last, p in matches if p.unless]
    found: dict[ThemeId, list[tuple[int, int, str]]] = {}
    for first, last, phrase in matches:
        if phrase.unless or (cancelled and _cancelled(phrase.entry, first, last, cancelled)):
            continue
        found.setdefault(phrase.theme, []).append((first, last, phrase.entry))
    spans = [m.span() for m in _TOKEN.finditer(text)]
    codes = []
    for theme, theme_matches in found.items():
        evidence = []
        for first, last, entry in _longest(theme_matches):
            start, end = spans[first][0], spans[last][1]
            evidence.append(Evidence(text=text[start:end], start=start, end=end, entry=entry))
        codes.append(ThemeCode(theme=theme, evidence=evidence))
    if len(codes) > 1:
        codes.sort(key=lambda c: (c.evidence[0].start, THEME_IDS.index(c.theme)))
    return codes


def _cancelled(entry: str, first: int, last: int, unless: list[tuple[str, int, int]]) -> bool:
    """Whether an 'unless' phrase of the same entry covers words first..last."""
    return any(e == entry and a <= first and last <= b for e, a, b in unless)


def _longest(matches: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """The matches in text order, keeping the longest (then the earliest) where they overlap."""
    if len(matches) == 1:
        return matches
    kept: list[tuple[int, int, str]] = []
    for first, last, entry in sorted(matches, key=lambda m: (m[0] - m[1], m[0])):
        if all(last < a or b < first for a, b, _ in kept):
            kept.append((first, last, entry))
    return sorted(kept)


def code_texts(lexicon: Lexicon, texts: Iterable[str]) -> list[list[ThemeCode]]:
    """``code_text`` of each text, in order."""
    return [code_text(lexicon, text) for text in texts]


def _ratio(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def evaluate(lexicon: Lexicon, statements: Sequence[LabelledStatement]) -> CodingScores:
    """Precision, recall and F1 of each theme over labelled statements, and their macro mean.

    A theme with no labels and no suggestions scores F1 = 1 (nothing to find, nothing wrong).
    """
    counts = {theme: [0, 0, 0] for theme in THEME_IDS}
    for statement in statements:
        suggested = {code.theme for code in code_text(lexicon, statement.text)}
        labelled = set(statement.themes)
        for theme in suggested & labelled:
            counts[theme][0] += 1
        for theme in suggested - labelled:
            counts[theme][1] += 1
        for theme in labelled - suggested:
            counts[theme][2] += 1
    scores = []
    for theme, (tp, fp, fn) in counts.items():
        precision = _ratio(tp, tp + fp)
        recall = _ratio(tp, tp + fn)
        f1 = 1.0 if tp + fp + fn == 0 else _ratio(2 * tp, 2 * tp + fp + fn)
        scores.append(
            ThemeScore(
                theme=theme,
                true_positives=tp,
                false_positives=fp,
                false_negatives=fn,
                precision=precision,
                recall=recall,
                f1=f1,
            )
        )
    return CodingScores(
        statements=len(statements),
        themes=scores,
        macro_f1=sum(s.f1 for s in scores) / len(scores),
    )
