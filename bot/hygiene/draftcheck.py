"""The checks a draft passes before a second member can approve it.

The communications guidelines ("Anonymizing Reports", "Structure of
Communication with Reported Parties") ask, for mail to the reported party,
administrators or moderators:

- no names, usernames or addresses of the reporter or witnesses, also not in
  quoted or attached text (`identity` findings);
- timestamps generalised ("Generalize specific timestamps that could identify
  participants": `time` findings);
- no unique phrasing quoted from the report (`copied` findings: long runs of
  words shared with the reporter's own mails, by word n-grams);
- for the reported party, the four parts: description of behaviour, impact,
  behavioural modifications expected, consequences (`parts` findings), each
  present as a heading or a checklist line;
- gender-neutral language when the case records that preference (`pronoun`).

`check_draft` is pure (texts and facts in, findings out); `case_facts` gathers
the facts of a case from the store.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from sqlmodel import Session, col, select

from bot.core.events import EventKind
from bot.hygiene.identity import (
    OWN_TEXT,
    WHOLE_TEXT,
    Identity,
    IdentityPattern,
    find_identity,
    fold,
    identity_patterns,
    message_texts,
    reporter_identity,
)
from bot.mail.message import ParsedMessage
from bot.mail.parse import ParseError, parse_message
from bot.mail.quoting import html_to_text, top_lines
from bot.store.models import Case, Event, InboundMessage

# A run of this many words shared with the reporter's own mail is "copied".
NGRAM_WORDS = 8

# The four parts, as the guidelines name them, and the words that mark each as a
# heading ("Impact:", "## Consequences") or a checklist line ("[x] impact: ...").
PARTS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("behaviour", "description of behaviour",
     ("description of behaviour", "description of behavior", "description", "behaviour",
      "behavior", "what happened")),
    ("impact", "impact of that behaviour", ("impact",)),
    ("expectations", "behavioural modifications expected",
     ("behavioural modifications expected", "behavioral modifications expected",
      "expected changes", "expectations", "what we expect", "what we ask", "going forward",
      "expected behaviour", "expected behavior")),
    ("consequences", "consequences", ("consequences", "consequence")),
)
# A heading or checklist line: optional bullet, number, "#", "[x]", bold marks.
_LINE_LEAD = r"^\s*(?:[-*•]\s*|\d+[.)]\s*|#+\s*|\[[xX✓ ]\]\s*|\*\*)*"

GENDERED = ("he", "him", "his", "himself", "she", "her", "hers", "herself", "mr", "mrs", "ms",
            "sir", "madam")
_GENDERED_RE = re.compile(r"\b(" + "|".join(GENDERED) + r")\b\.?", re.IGNORECASE)

_MONTHS = (r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
           r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)")
_TIME_RES = (
    re.compile(r"\b(?:[01]?\d|2[0-3])[:.][0-5]\d(?:\s*(?:am|pm|h|uhr))?\b", re.IGNORECASE),
    re.compile(r"\b(?:1[0-2]|0?[1-9])\s*(?:am|pm|a\.m\.|p\.m\.)(?!\w)", re.IGNORECASE),
    re.compile(r"\b(?:19|20)\d\d-[01]\d-[0-3]\d\b"),
    re.compile(r"\b[0-3]?\d[./][01]?\d[./](?:19|20)?\d\d\b"),
    re.compile(r"\b[0-3]?\d(?:st|nd|rd|th)?\s+(?:of\s+)?" + _MONTHS + r"\b", re.IGNORECASE),
    re.compile(r"\b" + _MONTHS + r"\.?\s+[0-3]?\d(?:st|nd|rd|th)?\b(?!\s*(?:people|min))",
               re.IGNORECASE),
)
# The guidance a #letter skeleton puts in square brackets, left in by mistake.
_PLACEHOLDER_RE = re.compile(r"\[[A-Z][^\]\n]{24,}\]")
_WORD_RE = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")


SENT_TEXT = "text to be sent"
_PLACE_WORDS = {OWN_TEXT: "draft's own text"}


@dataclass(frozen=True)
class Finding:
    """One problem in a draft: its kind and a sentence for the author."""

    kind: str  # identity | time | copied | parts | pronoun | placeholder
    text: str


@dataclass(frozen=True)
class CaseFacts:
    """What the checks need to know about the case."""

    reporter: Identity = field(default_factory=Identity)
    witnesses: tuple[Identity, ...] = ()
    reporter_texts: tuple[str, ...] = ()
    neutral: bool = False
    min_name_part: int = 3
    ignore_words: tuple[str, ...] = ()
    reporter_addresses: frozenset[str] = field(default_factory=frozenset)


def _words(text: str) -> list[str]:
    return [fold(w) for w in _WORD_RE.findall(text)]


def copied_runs(draft_text: str, sources: Iterable[str], n: int = NGRAM_WORDS) -> list[str]:
    """Runs of at least `n` words of `draft_text` that also occur in one of `sources`.

    Compared on folded words (case, accents and punctuation ignored); each run is
    returned once, as the draft's words, longest first.
    """
    grams: set[tuple[str, ...]] = set()
    for source in sources:
        words = _words(source)
        grams.update(tuple(words[i:i + n]) for i in range(len(words) - n + 1))
    if not grams:
        return []
    raw_words = _WORD_RE.findall(draft_text)
    words = [fold(w) for w in raw_words]
    covered = [False] * len(words)
    for i in range(len(words) - n + 1):
        if tuple(words[i:i + n]) in grams:
            for j in range(i, i + n):
                covered[j] = True
    runs: list[str] = []
    i = 0
    while i < len(words):
        if covered[i]:
            j = i
            while j < len(words) and covered[j]:
                j += 1
            runs.append(" ".join(raw_words[i:j]))
            i = j
        else:
            i += 1
    return sorted(runs, key=len, reverse=True)


def exact_times(text: str) -> list[str]:
    """Clock times and calendar dates written in `text` (each once, in order)."""
    found: list[tuple[int, str]] = []
    for rx in _TIME_RES:
        found.extend((m.start(), m.group(0).strip()) for m in rx.finditer(text))
    out: list[str] = []
    for _pos, value in sorted(found):
        if value not in out:
            out.append(value)
    return out


def missing_parts(text: str) -> list[str]:
    """Which of the four parts have neither a heading nor a checklist line in `text`."""
    lines = [line.strip() for line in text.splitlines()]
    missing: list[str] = []
    for _key, label, words in PARTS:
        alternatives = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
        rx = re.compile(_LINE_LEAD + r"(?:" + alternatives + r")\b[^\n]{0,40}?(?::|\*\*|$)",
                        re.IGNORECASE)
        if not any(rx.match(line) and len(line) <= 120 for line in lines):
            missing.append(label)
    return missing


def gendered_words(text: str) -> list[str]:
    """Gendered pronouns and titles in `text`, each once, as written."""
    out: list[str] = []
    for match in _GENDERED_RE.finditer(text):
        word = match.group(1)
        if word.lower() not in (w.lower() for w in out):
            out.append(word)
    return out


def _identity_findings(texts: Sequence[tuple[str, str]], who: str,
                       patterns: Sequence[IdentityPattern]) -> list[Finding]:
    found: dict[str, list[str]] = {}
    for where, text in texts:
        for what in find_identity(text, patterns):
            places = found.setdefault(what, [])
            if where not in places:
                places.append(where)
    out: list[Finding] = []
    for what, places in found.items():
        # The own text sits inside the whole body and the text to be sent: name
        # the most specific place, in words that suit the author and the approver.
        if OWN_TEXT in places or WHOLE_TEXT in places:
            places = [p for p in places if p != SENT_TEXT]
        if OWN_TEXT in places:
            places = [p for p in places if p != WHOLE_TEXT]
        shown = [_PLACE_WORDS.get(p, p) for p in places]
        out.append(Finding("identity", f"the {who}'s {what} appears (in the "
                                       f"{', '.join(shown)})"))
    return out


def check_draft(pm: ParsedMessage, body: str, facts: CaseFacts, *, to_reporter_only: bool,
                to_reported_party: bool) -> list[Finding]:
    """Every finding for a draft: `pm` is the draft as filed, `body` the text to send.

    Identity, times and copied phrasing are not findings in a draft that goes
    to the reporter alone (their own name and words are theirs); the four parts
    are checked only for a reported party.
    """
    findings: list[Finding] = []
    texts = [(where, text) for where, text in message_texts(pm)]
    # What will be sent is `body`; the draft's own text (with its Draft-To lines)
    # is searched too, through message_texts, so nothing is missed either way.
    texts.append((SENT_TEXT, body))
    def patterns(identity: Identity) -> list[IdentityPattern]:
        return identity_patterns(identity, min_name_part=facts.min_name_part,
                                 ignore_words=facts.ignore_words)

    if not to_reporter_only:
        findings += _identity_findings(texts, "reporter", patterns(facts.reporter))
    for witness in facts.witnesses:
        findings += _identity_findings(texts, "witness", patterns(witness))
    # The checks below read what will be sent (subject included); times, the four
    # parts and pronouns only the author's own part of it (a quoted mail's
    # attribution date or headings are not the author's).
    sent = f"{pm.subject}\n{body}"
    own = "\n".join(top_lines(body))
    if not to_reporter_only:
        times = exact_times(f"{pm.subject}\n{own}")
        if times:
            findings.append(Finding("time", "exact times or dates: " + ", ".join(times[:5])
                                    + " (the guidelines ask to generalise them)"))
        for run in copied_runs(sent, facts.reporter_texts)[:3]:
            words = run.split()
            shown = " ".join(words[:6]) + (" ..." if len(words) > 6 else "")
            findings.append(Finding("copied", f"{len(words)} words copied from the reporter's "
                                    f"own mail: \"{shown}\""))
    placeholders = _PLACEHOLDER_RE.findall(own)
    if placeholders:
        first = placeholders[0][:40] + ("..." if len(placeholders[0]) > 40 else "")
        findings.append(Finding("placeholder", f"{len(placeholders)} bracketed placeholder"
                                f"{'' if len(placeholders) == 1 else 's'} from the skeleton "
                                f"left in, e.g. {first}"))
    if to_reported_party:
        for label in missing_parts(own):
            findings.append(Finding("parts", f"no \"{label}\" part (a heading or a checklist "
                                    "line)"))
    if facts.neutral:
        words = gendered_words(f"{pm.subject}\n{own}")
        if words:
            findings.append(Finding("pronoun", "gendered words where the case asks for neutral "
                                    "language: " + ", ".join(words[:8])))
    return findings


def _message_text(raw: bytes, *, whole: bool) -> str:
    try:
        pm = parse_message(raw)
    except ParseError:
        return ""
    text = pm.text_body or ""
    if not text.strip() and pm.html_body:
        text = html_to_text(pm.html_body)
    return text if whole else "\n".join(top_lines(text))


def witnesses(session: Session, case: Case) -> list[Identity]:
    """The witnesses recorded with #witness on `case`."""
    out: list[Identity] = []
    for ev in session.exec(select(Event).where(
            Event.case_id == case.id, Event.kind == EventKind.WITNESS_RECORDED)
            .order_by(col(Event.id))).all():
        name = str(ev.data.get("name") or "")
        addr = str(ev.data.get("address") or "")
        out.append(Identity(names=(name,) if name else (), addresses=(addr,) if addr else ()))
    return out


def neutral_language(session: Session, case: Case) -> bool:
    """True when the latest #neutral on `case` asked for gender-neutral language."""
    ev = session.exec(select(Event).where(
        Event.case_id == case.id, Event.kind == EventKind.NEUTRAL_LANGUAGE_SET)
        .order_by(col(Event.id).desc())).first()
    return bool(ev is not None and ev.data.get("on", True))


def case_facts(session: Session, case: Case, *, min_name_part: int,
               ignore_words: Iterable[str]) -> CaseFacts:
    """The facts of `case` the draft checks use (reporter, witnesses, their texts)."""
    reporter = reporter_identity(session, case)
    addrs = {a.lower() for a in reporter.addresses}
    texts: list[str] = []
    rows = session.exec(select(InboundMessage).where(InboundMessage.case_id == case.id)
                        .order_by(col(InboundMessage.id))).all()
    for row in rows:
        if (row.from_address or "").lower() in addrs:
            # The report itself is the reporter's whole text; later replies, their own part.
            texts.append(_message_text(row.raw, whole=row.kind == "report"))
    return CaseFacts(reporter=reporter, witnesses=tuple(witnesses(session, case)),
                     reporter_texts=tuple(texts), neutral=neutral_language(session, case),
                     min_name_part=min_name_part, ignore_words=tuple(ignore_words),
                     reporter_addresses=frozenset(addrs))
