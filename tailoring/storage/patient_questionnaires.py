"""Patient questionnaires in SQL: links, the questionnaires each carries, the answers given
through them, and decisions about coded free text.

A link's code is never stored, only its hash (see tailoring/engine/patient_questionnaires.py,
which makes codes and decides expiry). Every write through a link first locks the link's row with
an ``UPDATE``, so two devices answering one questionnaire take turns, and an answer cannot slip
in after the link was completed, expired or revoked.

Over 500 lines as one module on purpose: links, their answers, the answer source and coded-text
decisions are one aggregate (each keyed by the case and the link), and half the module is the
queries that read them across a caseload.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, get_args

from sqlalchemy import (
    Connection,
    Row,
    Select,
    case,
    func,
    insert,
    or_,
    select,
    update,
)

from tailoring.model.base import ThemeId
from tailoring.model.patient_content import SESSION_SETS, SET_IDS, SetId
from tailoring.model.patient_questionnaires import (
    ANSWER_KEY,
    SOURCES,
    LinkQuestionnaire,
    PatientLink,
    Source,
)
from tailoring.storage.common import (
    ACTOR_LENGTH,
    check_choice,
    check_id,
    check_revision,
    checked_time,
    lock_case,
    require_case,
    to_json,
)
from tailoring.storage.errors import (
    LinkClosed,
    PatientLinkNotFound,
    StaleAnswer,
)
from tailoring.storage.tables import (
    answer_sources,
    cases,
    patient_answers,
    patient_link_questionnaires,
    patient_links,
    text_codes,
)

ITEM_KEY_LENGTH = 100
SOURCE_LENGTH = 160
# A text's source: a patient's answer through a link, or a free-text field of the therapist's.
SOURCE = re.compile(r"^(patient:\d+:[a-z0-9_.]+|therapist:[a-z0-9_.]+)$")
TOKEN_HASH = re.compile(r"^[0-9a-f]{64}$")
CodeDecisionKind = Literal["accepted", "rejected"]
CODE_DECISIONS: tuple[CodeDecisionKind, ...] = ("accepted", "rejected")
THEME_IDS: tuple[str, ...] = get_args(ThemeId)
LINK_FIELDS = tuple(c.name for c in patient_links.c if c.name != "token_hash")
# Links read at once per statement (their questionnaires are looked up by link id).
LINK_BATCH = 500


@dataclass(frozen=True)
class CaseLink:
    """A link with the case it belongs to: a line of completion tracking."""

    link: PatientLink
    reference: str
    therapist: str


@dataclass(frozen=True)
class PatientAnswer:
    """One stored answer: its payload (see tailoring/model/patient_questionnaires.py), when it
    was given, and its revision (how many times it was saved)."""

    payload: dict[str, Any]
    updated_at: datetime
    revision: int


@dataclass(frozen=True)
class CollectedAnswer(PatientAnswer):
    """The latest answer to one item of a set, with the link and session it came through."""

    link_id: int
    session_number: int | None
    completed: bool


@dataclass(frozen=True)
class RiskAnswer:
    """A risk item answered above 0 through a link, finished or not."""

    case_id: int
    reference: str
    therapist: str
    link_id: int
    session_number: int | None
    item_key: str
    value: int
    updated_at: datetime
    completed: bool


@dataclass(frozen=True)
class CodeDecision:
    """A clinician's decision about one theme suggested for one text."""

    id: int
    case_id: int
    source: str
    theme: str
    evidence: list[Any]
    decision: CodeDecisionKind
    decided_by: str
    decided_at: datetime


@dataclass(frozen=True)
class OpenAnswer:
    """A patient's free-text answer through a link, with the case and link it belongs to."""

    case_id: int
    therapist: str
    link_id: int
    set_id: SetId
    session_number: int | None
    item_key: str
    text: str
    updated_at: datetime

    @property
    def source(self) -> str:
        """The name of the text in coded-text decisions."""
        return f"patient:{self.link_id}:{self.item_key}"


class PatientQuestionnaireRepository:
    """Questionnaires sent to patients by link and what came back, stored beside the cases."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    # Links -----------------------------------------------------------------------------------

    def create_link(
        self,
        case_id: int,
        questionnaires: Mapping[SetId, int | None],
        token_hash: str,
        created_by: str,
        expires_at: datetime,
        now: datetime | None = None,
    ) -> PatientLink:
        """Store a new link carrying these questionnaires, in this order, and return it.

        ``questionnaires`` maps each set to its session number, required for the sets about a
        session and refused for the preference profile. ``token_hash`` is the hash of the code,
        never the code.
        """
        if not isinstance(questionnaires, Mapping) or not questionnaires:
            raise ValueError("a link carries one questionnaire or more: map each set to a session")
        for set_id, session_number in questionnaires.items():
            _check_questionnaire(set_id, session_number)
        if not isinstance(token_hash, str) or not TOKEN_HASH.match(token_hash):
            raise ValueError("token_hash must be a SHA-256 hash in lower-case hex")
        check_id("created_by", created_by, ACTOR_LENGTH)
        now = checked_time(now)
        if checked_time(expires_at) <= now:
            raise ValueError("expires_at must be in the future")
        lock_case(self._connection, case_id)
        link_id: int = self._connection.execute(
            insert(patient_links)
            .values(
                case_id=case_id,
                token_hash=token_hash,
                created_by=created_by,
                created_at=now,
                expires_at=expires_at,
            )
            .returning(patient_links.c.id)
        ).scalar_one()
        self._connection.execute(
            insert(patient_link_questionnaires),
            [
                {"link_id": link_id, "set_id": s, "position": i, "session_number": n}
                for i, (s, n) in enumerate(questionnaires.items())
            ],
        )
        return _link(self._connection, link_id)

    def link(self, link_id: int) -> PatientLink:
        """The link with this id (PatientLinkNotFound if there is none)."""
        return _link(self._connection, link_id)

    def links(self, case_id: int) -> list[PatientLink]:
        """Every link of the case, newest first, with how many items each has answered."""
        require_case(self._connection, case_id)
        rows = self._connection.execute(
            _links_query()
            .where(patient_links.c.case_id == case_id)
            .order_by(patient_links.c.id.desc())
        )
        return _as_links(self._connection, rows)

    def find_by_hash(self, token_hash: str) -> PatientLink | None:
        """The link whose code has this hash, or None: a patient's way in."""
        row = self._connection.execute(
            _links_query().where(patient_links.c.token_hash == token_hash)
        ).one_or_none()
        return None if row is None else _as_links(self._connection, [row])[0]

    def outstanding(
        self, therapist: str | None = None, now: datetime | None = None
    ) -> list[CaseLink]:
        """Links still waiting for the patient (not completed, revoked or expired) on active
        cases, of every therapist or of one, those expiring soonest first."""
        now = checked_time(now)
        p = patient_links.c
        query = _case_links_query(therapist).where(
            p.completed_at.is_(None), p.revoked_at.is_(None), p.expires_at > now
        )
        return self._case_links(query.order_by(p.expires_at, p.id))

    def returned_since_seen(self, therapist: str | None = None) -> list[CaseLink]:
        """Completed links the therapist has not looked at since, newest first."""
        p = patient_links.c
        query = _case_links_query(therapist).where(
            p.completed_at.is_not(None),
            p.revoked_at.is_(None),
            or_(p.seen_at.is_(None), p.seen_at < p.completed_at),
        )
        return self._case_links(query.order_by(p.completed_at.desc(), p.id.desc()))

    def mark_seen(self, link_id: int, now: datetime | None = None) -> PatientLink:
        """Record that the therapist has looked at the link's answers."""
        return self._set(link_id, seen_at=checked_time(now))

    def mark_opened(self, link_id: int, now: datetime | None = None) -> PatientLink:
        """Record the first time the patient opened the link (later openings change nothing)."""
        p = patient_links.c
        return self._set(link_id, opened_at=func.coalesce(p.opened_at, checked_time(now)))

    def extend(self, link_id: int, expires_at: datetime) -> PatientLink:
        """Set a new expiry (see engine.patient_questionnaires.extended_expiry); ValueError if
        revoked."""
        expires_at = checked_time(expires_at)
        row = _lock_link(self._connection, link_id)
        if row.revoked_at is not None:
            raise ValueError("a revoked link cannot be extended; create a new link instead")
        _update_link(self._connection, link_id, expires_at=expires_at)
        return _link(self._connection, link_id)

    def expire(self, link_id: int, now: datetime | None = None) -> PatientLink:
        """Make the link stop working now (an expiry already past is kept)."""
        now = checked_time(now)
        p = patient_links.c
        return self._set(link_id, expires_at=case((p.expires_at > now, now), else_=p.expires_at))

    def revoke(self, link_id: int, now: datetime | None = None) -> PatientLink:
        """Stop the link for good; its answers are no longer collected. Revoking twice keeps the
        first time."""
        p = patient_links.c
        return self._set(link_id, revoked_at=func.coalesce(p.revoked_at, checked_time(now)))

    # Answers ---------------------------------------------------------------------------------

    def save_answer(
        self,
        link_id: int,
        set_id: SetId,
        item_key: str,
        payload: dict[str, Any],
        now: datetime | None = None,
        expected_revision: int | None = None,
    ) -> int:
        """Insert or replace one answer, given in the link's questionnaire ``set_id``, and return
        its new revision (LinkClosed once completed, expired or revoked; ValueError if the link
        carries no such set; StaleAnswer if the stored answer is no longer at
        ``expected_revision``, 0 for none).

        The payload is stored as given: check it first with
        tailoring.model.patient_questionnaires.parse_answer. Saving also records the link as
        opened.
        """
        if not isinstance(item_key, str) or len(item_key) > ITEM_KEY_LENGTH:
            raise ValueError(f"item_key must be a string of at most {ITEM_KEY_LENGTH} characters")
        if not ANSWER_KEY.match(item_key):
            raise ValueError(f"{item_key!r} is not an answer key")
        if not isinstance(payload, dict):
            raise ValueError("payload must be a mapping")
        text = to_json(payload)
        now = checked_time(now)
        a = patient_answers.c
        key = (a.link_id == link_id, a.item_key == item_key)
        # The link stays locked until commit: saves of one link take turns.
        _open_for_answers(self._connection, link_id, now)
        _require_questionnaire(self._connection, link_id, set_id)
        _, revision = check_revision(
            self._connection, patient_answers, key, expected_revision, StaleAnswer
        )
        values = {"set_id": set_id, "payload": text, "updated_at": now, "revision": revision + 1}
        if revision:
            self._connection.execute(update(patient_answers).where(*key).values(**values))
        else:
            self._connection.execute(
                insert(patient_answers).values(link_id=link_id, item_key=item_key, **values)
            )
        return revision + 1

    def finish_questionnaire(
        self, link_id: int, set_id: SetId, now: datetime | None = None
    ) -> PatientLink:
        """Record that the patient is done with one questionnaire of the link; its answers can
        still change until the link is completed. Done twice keeps the first time; LinkClosed
        once the link stopped taking answers, ValueError if it carries no such set."""
        now = checked_time(now)
        _open_for_answers(self._connection, link_id, now)
        _require_questionnaire(self._connection, link_id, set_id)
        q = patient_link_questionnaires.c
        self._connection.execute(
            update(patient_link_questionnaires)
            .where(q.link_id == link_id, q.set_id == set_id)
            .values(done_at=func.coalesce(q.done_at, now))
        )
        return _link(self._connection, link_id)

    def answers(self, link_id: int) -> dict[str, PatientAnswer]:
        """The answers given through the link, by item key."""
        a = patient_answers.c
        _link(self._connection, link_id)
        rows = self._connection.execute(
            select(a.item_key, a.payload, a.updated_at, a.revision)
            .where(a.link_id == link_id)
            .order_by(a.item_key)
        )
        return {
            row.item_key: PatientAnswer(json.loads(row.payload), row.updated_at, row.revision)
            for row in rows
        }

    def complete(self, link_id: int, now: datetime | None = None) -> PatientLink:
        """Mark the questionnaire finished: its answers stop changing. Completing twice keeps
        the first time; LinkClosed if the link expired or was revoked first."""
        now = checked_time(now)
        state = _lock_link(self._connection, link_id)
        if state.completed_at is None:
            if _closed(state, now):
                raise LinkClosed()
            opened = func.coalesce(patient_links.c.opened_at, now)
            _update_link(self._connection, link_id, completed_at=now, opened_at=opened)
        return _link(self._connection, link_id)

    def collected_answers(self, case_id: int) -> dict[SetId, dict[str, CollectedAnswer]]:
        """The patient's latest answer to each item of each set, across the case's links.

        Completed and partly answered links both count, expired ones too (what was said was
        said); revoked links do not (a link revoked may have reached the wrong person).
        """
        a, p, q = patient_answers.c, patient_links.c, patient_link_questionnaires.c
        query = (
            select(
                a.set_id,
                a.item_key,
                a.payload,
                a.updated_at,
                a.revision,
                a.link_id,
                q.session_number,
                p.completed_at,
            )
            .join(patient_link_questionnaires, _asked_in())
            .join(patient_links, p.id == a.link_id)
            .where(p.case_id == case_id, p.revoked_at.is_(None))
            .order_by(a.updated_at, a.link_id)
        )
        collected: dict[SetId, dict[str, CollectedAnswer]] = {}
        require_case(self._connection, case_id)
        for row in self._connection.execute(query):
            collected.setdefault(row.set_id, {})[row.item_key] = CollectedAnswer(
                payload=json.loads(row.payload),
                updated_at=row.updated_at,
                revision=row.revision,
                link_id=row.link_id,
                session_number=row.session_number,
                completed=row.completed_at is not None,
            )
        return collected

    def risk_answers(
        self, item_keys: Sequence[str], therapist: str | None = None
    ) -> list[RiskAnswer]:
        """Every answer above 0 to these items through a link that was not revoked, on active
        real cases, finished or only partly answered, newest first."""
        if not item_keys:
            return []
        a, p, q = patient_answers.c, patient_links.c, patient_link_questionnaires.c
        query = (
            select(
                p.case_id,
                cases.c.reference,
                cases.c.therapist,
                a.link_id,
                q.session_number,
                a.item_key,
                a.payload,
                a.updated_at,
                p.completed_at,
            )
            .join(patient_link_questionnaires, _asked_in())
            .join(patient_links, p.id == a.link_id)
            .join(cases, cases.c.id == p.case_id)
            .where(
                a.item_key.in_(sorted(item_keys)),
                p.revoked_at.is_(None),
                cases.c.kind == "case",
                cases.c.status == "active",
            )
            .order_by(a.updated_at.desc(), a.link_id.desc())
        )
        if therapist is not None:
            query = query.where(cases.c.therapist == therapist)
        found = []
        for row in self._connection.execute(query):
            value = json.loads(row.payload).get("value")
            if isinstance(value, int) and not isinstance(value, bool) and value > 0:
                found.append(
                    RiskAnswer(
                        case_id=row.case_id,
                        reference=row.reference,
                        therapist=row.therapist,
                        link_id=row.link_id,
                        session_number=row.session_number,
                        item_key=row.item_key,
                        value=value,
                        updated_at=row.updated_at,
                        completed=row.completed_at is not None,
                    )
                )
        return found

    # Coded free text -------------------------------------------------------------------------

    def record_code_decision(
        self,
        case_id: int,
        source: str,
        theme: str,
        evidence: Sequence[Any],
        decision: CodeDecisionKind,
        decided_by: str,
        now: datetime | None = None,
    ) -> CodeDecision:
        """Keep a clinician's decision to accept or reject a theme suggested for a text.

        ``source`` is ``patient:<link id>:<item key>`` or ``therapist:<field>``; ``evidence`` the
        words that suggested the theme (JSON-ready). A later decision about the same source and
        theme supersedes this one; both are kept.
        """
        if not isinstance(source, str) or len(source) > SOURCE_LENGTH or not SOURCE.match(source):
            raise ValueError("source must be 'patient:<link id>:<item key>' or 'therapist:<field>'")
        check_choice("theme", theme, THEME_IDS)
        check_choice("decision", decision, CODE_DECISIONS)
        check_id("decided_by", decided_by, ACTOR_LENGTH)
        values: dict[str, Any] = {
            "case_id": case_id,
            "source": source,
            "theme": theme,
            "evidence": to_json(list(evidence)),
            "decision": decision,
            "decided_by": decided_by,
            "decided_at": checked_time(now),
        }
        lock_case(self._connection, case_id)
        code_id: int = self._connection.execute(
            insert(text_codes).values(**values).returning(text_codes.c.id)
        ).scalar_one()
        return CodeDecision(id=code_id, **{**values, "evidence": list(evidence)})

    def code_decisions(self, case_id: int) -> list[CodeDecision]:
        """The latest decision about each theme of each text of the case, by source and theme."""
        t = text_codes.c
        latest = (
            select(func.max(t.id))
            .where(t.case_id == case_id)
            .group_by(t.source, t.theme)
            .scalar_subquery()
        )
        require_case(self._connection, case_id)
        rows = self._connection.execute(
            select(text_codes).where(t.id.in_(latest)).order_by(t.source, t.theme)
        )
        return [
            CodeDecision(**{**row._mapping, "evidence": json.loads(row.evidence)}) for row in rows
        ]

    def patient_code_decisions(self, case_ids: Sequence[int] | None = None) -> list[CodeDecision]:
        """The latest decision about each theme of each patient text, of the given cases or of
        every case."""
        t = text_codes.c
        latest = select(func.max(t.id)).where(t.source.like("patient:%"))
        if case_ids is not None:
            latest = latest.where(t.case_id.in_(list(case_ids)))
        latest = latest.group_by(t.case_id, t.source, t.theme)
        rows = self._connection.execute(
            select(text_codes).where(t.id.in_(latest.scalar_subquery())).order_by(t.id)
        )
        return [
            CodeDecision(**{**row._mapping, "evidence": json.loads(row.evidence)}) for row in rows
        ]

    def open_answers(
        self,
        case_id: int | None = None,
        therapist: str | None = None,
        include_archived: bool = False,
    ) -> list[OpenAnswer]:
        """Every free-text answer given through a link that was not revoked, of one case or of
        the real cases of the caseload (active ones unless ``include_archived``), oldest first."""
        a, p, c = patient_answers.c, patient_links.c, cases.c
        q = patient_link_questionnaires.c
        query = (
            select(
                p.case_id,
                c.therapist,
                a.link_id,
                a.set_id,
                q.session_number,
                a.item_key,
                a.payload,
                a.updated_at,
            )
            .join_from(patient_answers, patient_link_questionnaires, _asked_in())
            .join(patient_links, p.id == a.link_id)
            .join(cases, c.id == p.case_id)
            .where(a.item_key.like("open.%"), p.revoked_at.is_(None), c.kind == "case")
            .order_by(a.updated_at, a.link_id, a.item_key)
        )
        if case_id is not None:
            query = query.where(p.case_id == case_id)
        elif not include_archived:
            query = query.where(c.status == "active")
        if therapist is not None:
            query = query.where(c.therapist == therapist)
        if case_id is not None:
            require_case(self._connection, case_id)
        answers = []
        for row in self._connection.execute(query):
            text = json.loads(row.payload).get("value")
            if isinstance(text, str) and text.strip():
                answers.append(
                    OpenAnswer(
                        row.case_id,
                        row.therapist,
                        row.link_id,
                        row.set_id,
                        row.session_number,
                        row.item_key,
                        text,
                        row.updated_at,
                    )
                )
        return answers

    # Which answers the fit uses --------------------------------------------------------------

    def answer_source(self, case_id: int) -> Source | None:
        """The answers the case's fit uses, or None while nobody has chosen."""
        s = answer_sources.c
        require_case(self._connection, case_id)
        chosen: Source | None = self._connection.execute(
            select(s.source).where(s.case_id == case_id)
        ).scalar_one_or_none()
        return chosen

    def answer_sources(self, case_ids: Sequence[int]) -> dict[int, Source]:
        """The answers each of these cases' fit uses, for those where somebody chose."""
        s = answer_sources.c
        chosen: dict[int, Source] = {}
        for start in range(0, len(case_ids), 500):  # bound the statement's parameters
            batch = list(case_ids[start : start + 500])
            rows = self._connection.execute(select(s.case_id, s.source).where(s.case_id.in_(batch)))
            chosen.update({case_id: source for case_id, source in rows})
        return chosen

    def set_answer_source(
        self, case_id: int, source: Source, chosen_by: str, now: datetime | None = None
    ) -> None:
        """Keep which answers the case's fit uses, who chose and when."""
        check_choice("source", source, SOURCES)
        check_id("chosen_by", chosen_by, ACTOR_LENGTH)
        values = {"source": source, "chosen_by": chosen_by, "chosen_at": checked_time(now)}
        lock_case(self._connection, case_id)
        changed = self._connection.execute(
            update(answer_sources).where(answer_sources.c.case_id == case_id).values(**values)
        )
        if not changed.rowcount:
            self._connection.execute(insert(answer_sources).values(case_id=case_id, **values))

    # Helpers ---------------------------------------------------------------------------------

    def _set(self, link_id: int, **values: Any) -> PatientLink:
        _update_link(self._connection, link_id, **values)
        return _link(self._connection, link_id)

    def _case_links(self, query: Select[Any]) -> list[CaseLink]:
        rows = list(self._connection.execute(query))
        links = _as_links(self._connection, rows)
        return [
            CaseLink(link, row.reference, row.therapist)
            for link, row in zip(links, rows, strict=True)
        ]


def _answered() -> Any:
    a = patient_answers.c
    return (
        select(func.count())
        .where(a.link_id == patient_links.c.id)
        .correlate(patient_links)
        .scalar_subquery()
        .label("answered")
    )


def _links_query() -> Select[Any]:
    return select(*(patient_links.c[name] for name in LINK_FIELDS), _answered())


def _case_links_query(therapist: str | None) -> Select[Any]:
    query = (
        _links_query()
        .add_columns(cases.c.reference, cases.c.therapist)
        .join_from(patient_links, cases, cases.c.id == patient_links.c.case_id)
        .where(cases.c.kind == "case", cases.c.status == "active")
    )
    if therapist is not None:
        query = query.where(cases.c.therapist == therapist)
    return query


def _as_links(connection: Connection, rows: Iterable[Row[Any]]) -> list[PatientLink]:
    """The links of these rows of ``_links_query``, each with its questionnaires."""
    rows = list(rows)
    carried = _questionnaires(connection, [row.id for row in rows])
    return [
        PatientLink(
            **{name: row._mapping[name] for name in (*LINK_FIELDS, "answered")},
            questionnaires=tuple(carried[row.id]),
        )
        for row in rows
    ]


def _questionnaires(
    connection: Connection, link_ids: Sequence[int]
) -> dict[int, list[LinkQuestionnaire]]:
    """The questionnaires of each of these links in their order, with how many items of each
    have an answer."""
    q, a = patient_link_questionnaires.c, patient_answers.c
    answered = (
        select(func.count())
        .where(a.link_id == q.link_id, a.set_id == q.set_id)
        .correlate(patient_link_questionnaires)
        .scalar_subquery()
    )
    found: dict[int, list[LinkQuestionnaire]] = {link_id: [] for link_id in link_ids}
    for start in range(0, len(link_ids), LINK_BATCH):  # bound the statement's parameters
        batch = list(link_ids[start : start + LINK_BATCH])
        rows = connection.execute(
            select(q.link_id, q.set_id, q.session_number, q.done_at, answered.label("answered"))
            .where(q.link_id.in_(batch))
            .order_by(q.link_id, q.position)
        )
        for row in rows:
            found[row.link_id].append(
                LinkQuestionnaire(
                    set_id=row.set_id,
                    session_number=row.session_number,
                    done_at=row.done_at,
                    answered=row.answered,
                )
            )
    return found


def _link(connection: Connection, link_id: int) -> PatientLink:
    row = connection.execute(_links_query().where(patient_links.c.id == link_id)).one_or_none()
    if row is None:
        raise PatientLinkNotFound()
    return _as_links(connection, [row])[0]


def _asked_in() -> Any:
    """An answer's questionnaire: the row of its link and set (for its session number)."""
    a, q = patient_answers.c, patient_link_questionnaires.c
    return (q.link_id == a.link_id) & (q.set_id == a.set_id)


def _check_questionnaire(set_id: Any, session_number: Any) -> None:
    """A set a link may carry, with a session number only for the sets about one session."""
    check_choice("set_id", set_id, SET_IDS)
    if set_id in SESSION_SETS:
        if isinstance(session_number, bool) or not isinstance(session_number, int):
            raise ValueError(f"a {set_id} questionnaire needs the number of its session")
        if session_number < 1:
            raise ValueError("session_number must be 1 or more")
    elif session_number is not None:
        raise ValueError(f"a {set_id} questionnaire belongs to no session")


def _require_questionnaire(connection: Connection, link_id: int, set_id: Any) -> None:
    """ValueError unless the link carries the questionnaire ``set_id``."""
    q = patient_link_questionnaires.c
    carried = connection.execute(
        select(q.set_id).where(q.link_id == link_id, q.set_id == set_id)
    ).one_or_none()
    if carried is None:
        raise ValueError(f"link {link_id} carries no {set_id!r} questionnaire")


def _update_link(connection: Connection, link_id: int, **values: Any) -> None:
    changed = connection.execute(
        update(patient_links).where(patient_links.c.id == link_id).values(**values)
    )
    if not changed.rowcount:
        raise PatientLinkNotFound()


def _lock_link(connection: Connection, link_id: int, **values: Any) -> Row[Any]:
    """Lock the link until commit, setting ``values`` if any, and return its state as it was
    (PatientLinkNotFound if there is none)."""
    p = patient_links.c
    row = connection.execute(
        update(patient_links)
        .where(p.id == link_id)
        .values(**(values or {"opened_at": p.opened_at}))
        .returning(p.expires_at, p.revoked_at, p.completed_at)
    ).one_or_none()
    if row is None:
        raise PatientLinkNotFound()
    return row


def _open_for_answers(connection: Connection, link_id: int, now: datetime) -> None:
    """Lock the link, record it as opened, and refuse it unless it still takes answers."""
    opened = func.coalesce(patient_links.c.opened_at, now)
    if _closed(_lock_link(connection, link_id, opened_at=opened), now):
        raise LinkClosed()


def _closed(state: Row[Any], now: datetime) -> bool:
    """Completed, revoked or expired: the answers can no longer change."""
    return state.revoked_at is not None or state.completed_at is not None or now >= state.expires_at
