"""The attacks of the red-team suite, by class (see `tests.security.redteam`).

Classes: 1 header injection (nested encodings in every echoed field), 2 echo and
backscatter, 4 commands borrowed from someone else's subject, 5 replay, 6
strangers reshaping cases, 7 impersonating the bot's own copy, 8 ids that
count; and those that already held: F From tricks, A Authentication-Results
tricks, Q tags in quoted or forwarded text, R replies to the bot's own mail.
"""

from __future__ import annotations

import json
import re

from bot.mail.msgids import own_case_id
from tests.helpers import ALEX, CONDUCT, MAYA, REPORTER, SAM
from tests.security.redteam import (
    ACK_SUBJECT,
    ATTACKER,
    ATTACKER_NAME,
    GENUINE_DKIM_B,
    KIM,
    KIM_NAME,
    PAYLOAD,
    PHISH,
    PHRASE_A0,
    PHRASE_V1,
    PHRASE_V2,
    SUBJECT_V1,
    SUBJECT_V2,
    Attack,
    Outcome,
    World,
    auth_results,
    check_headers,
    decoded_text,
    folded,
    member_mail,
    nest,
    old,
    raw_mail,
)

V1, V2, A0 = "v1@mail.example", "v2@victim.example", "a0@attacker.example"
GENUINE_ID = "genuine@example.org"
# The scene is set "yesterday" (wave 0 runs with --now a day back), so that the
# attacks' run sends today's digest after filing them.
SETUP_DATE = old(1 + 10 / 1440)
SECRET = "test-secret"


# ---------------------------------------------------------------- wave 0: the world

def setup_mail() -> list[bytes]:
    """Two victims' reports, the attacker's own report, one genuine signed member mail."""
    return [
        raw_mail([("From", f"Jo Reporter <{REPORTER}>"), ("To", CONDUCT),
                  ("Subject", SUBJECT_V1), ("Message-ID", f"<{V1}>")],
                 f"Hello,\n\n{PHRASE_V1}.\n", date=SETUP_DATE),
        raw_mail([("From", f"{KIM_NAME} <{KIM}>"), ("To", CONDUCT),
                  ("Subject", SUBJECT_V2), ("Message-ID", f"<{V2}>")],
                 f"Hi,\n\n{PHRASE_V2}.\n", date=SETUP_DATE),
        raw_mail([("From", f"{ATTACKER_NAME} <{ATTACKER}>"), ("To", CONDUCT),
                  ("Subject", "Complaint about moderators"), ("Message-ID", f"<{A0}>")],
                 f"{PHRASE_A0}.\n", date=SETUP_DATE),
        genuine_mail(),
    ]


def genuine_mail(mid: str = GENUINE_ID, subject: str = f"Re: {SUBJECT_V2} #safety yes") -> bytes:
    """Alex's genuine, DKIM-signed command mail on Kim's case (as our MX stored it)."""
    dkim = ("v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.org; s=s1;"
            " h=from:to:subject:date:message-id:in-reply-to;"
            " bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=;"
            f" {GENUINE_DKIM_B}")
    return member_mail(ALEX, "Alex Smith", subject, mid, in_reply_to=V2, date=SETUP_DATE,
                       body="Marking the safety risk.\n", extra=[("DKIM-Signature", dkim)])


def prepend(raw: bytes, *lines: str) -> bytes:
    """`lines` above `raw`, then our MX's fresh Authentication-Results on top of all."""
    top = [f"Authentication-Results: {auth_results()}", *lines]
    return ("\r\n".join(top) + "\r\n").encode() + raw


# ---------------------------------------------------------------- checks

def injection_failed(out: Outcome, attack: Attack) -> None:
    """The hostile text reached no header, no recipient, no sent mail at all."""
    sender = attack_sender(attack)
    mails = out.mails_to(sender) if sender else []
    assert mails, f"no acknowledgement went to {sender}: the vector was not exercised"
    for mail in out.sent:
        assert PHISH not in [r.lower() for r in mail.rcpt_tos]
        assert "phish" not in decoded_text(mail.content).lower()
    for mail in mails:
        check_headers(mail.content)
        msg_subject = _subject(mail.content)
        assert msg_subject == ACK_SUBJECT, msg_subject


def member_echo_failed(out: Outcome, attack: Attack) -> None:
    """The transcript echoing a member's hostile subject has clean headers."""
    transcripts = [m for m in out.mails_to(MAYA)
                   if attack.mid in m.content.decode("ascii", "replace")]
    assert transcripts, "no transcript answered the member's mail"
    for mail in transcripts:
        check_headers(mail.content)
        assert "phish" not in _subject(mail.content).lower()


def echo_failed(words: tuple[str, ...]) -> object:
    def check(out: Outcome, attack: Attack) -> None:
        sender = attack_sender(attack)
        mails = out.mails_to(sender)
        assert mails, "no acknowledgement: the vector was not exercised"
        for mail in mails:
            text = decoded_text(mail.content).lower()
            assert _subject(mail.content) == ACK_SUBJECT
            for word in words:
                assert word.lower() not in text, word
        for mail in out.sent:
            assert not {r.lower() for r in mail.rcpt_tos} & {"replyto@phish.example"}
    return check


def alert_names_no_one(out: Outcome, attack: Attack) -> None:
    alerts = [m for m in out.sent if "never reached" in _subject(m.content)]
    assert alerts, "no alert: the vector was not exercised"
    for mail in alerts:
        assert {r.lower() for r in mail.rcpt_tos} <= {MAYA, ALEX, SAM}
        text = decoded_text(mail.content).lower()
        for word in (ATTACKER, ATTACKER_NAME.lower(), "liar-xyz", "jo reporter",
                     SUBJECT_V1.lower()):
            assert word not in text, word


def reply_threads(out: Outcome, attack: Attack) -> None:
    kind, case_id = out.inbound[attack.mid]
    assert case_id == out.case_id(V1) and kind == "inbound"
    assert len(out.mails_to(REPORTER)) == 1  # no second acknowledgement


def held(out: Outcome, attack: Attack) -> None:
    out.assert_held(attack.mid)


def held_because(fragment: str) -> object:
    def check(out: Outcome, attack: Attack) -> None:
        out.assert_held(attack.mid)
        reasons = [json.loads(d).get("reason", "") for k, m, _c, d in out.events
                   if m == attack.mid and k == "command_held"]
        assert any(fragment in r for r in reasons), reasons
    return check


def no_effect(out: Outcome, attack: Attack) -> None:
    out.assert_no_effect(attack.mid)
    assert out.status(V1) == "Ongoing" and out.status(V2) == "Ongoing"


def borrowed_held(out: Outcome, attack: Attack) -> None:
    held_because("never saw")(out, attack)  # type: ignore[operator]
    assert out.status(V1) == "Ongoing"


def not_merged(*report_ids: str) -> object:
    def check(out: Outcome, attack: Attack) -> None:
        out.assert_no_effect(attack.mid)
        ids = {out.case_id(r) for r in report_ids}
        assert len(ids) == len(report_ids)
        for cid in ids:
            assert out.cases[cid][2] is None, "merged"
        assert "possible_link" in out.kinds_for(attack.mid)
    return check


def not_threaded_or_joined(accomplice: str) -> object:
    def check(out: Outcome, attack: Attack) -> None:
        out.assert_no_effect(attack.mid)
        _kind, case_id = out.inbound[attack.mid]
        assert case_id != out.case_id(V1), "a forged member From threaded into the case"
        assert accomplice not in [a for _c, a in out.participants]
    return check


def no_participant(accomplice: str) -> object:
    def check(out: Outcome, attack: Attack) -> None:
        out.assert_no_effect(attack.mid)
        assert accomplice not in [a for _c, a in out.participants]
    return check


def raw_mid(attack: Attack) -> str:
    """The Message-ID the attack's mail carries."""
    match = re.search(rb"\nMessage-ID: <([^>]+)>", b"\n" + attack.raw)
    assert match is not None
    return match.group(1).decode()


def not_own(out: Outcome, attack: Attack) -> None:
    mid = raw_mid(attack)
    kind, _case_id = out.inbound[mid]
    assert kind != "own"
    assert "own_id_impersonated" in out.kinds_for(mid)
    assert "sent_copy_filed" not in out.kinds_for(mid)
    assert out.status(V1) == "Ongoing"


def forged_own_not_threaded(out: Outcome, attack: Attack) -> None:
    kind, case_id = out.inbound[raw_mid(attack)]
    assert kind != "own" and case_id != out.case_id(V1)


def ids_opaque(out: Outcome, attack: Attack) -> None:
    for mid in out.world.ack_ids.values():
        assert re.fullmatch(r"cocbot\.[a-z2-7]{34}@example\.org", mid), mid
        case_id = own_case_id(SECRET, mid)
        assert case_id is not None and f".{case_id}." not in mid


def ids_unrelated(out: Outcome, attack: Attack) -> None:
    first, second = out.world.ack_ids[REPORTER], out.world.ack_ids[KIM]
    # Consecutive cases: still told apart by the bot, not by anyone else.
    assert own_case_id(SECRET, second) == own_case_id(SECRET, first) + 1  # type: ignore[operator]
    # The opaque part only ("cocbot.<opaque>@domain"): the domain is the same on both.
    a, b = (mid.split("@", 1)[0].split(".", 1)[1] for mid in (first, second))
    common = len([1 for x, y in zip(a, b, strict=True) if x == y])
    # Random base32 agrees in about one place in 32: 8 or more of 34 is odds of 1 in 60,000,
    # while ids derived from a counter would share most of their characters.
    assert len(a) >= 26 and common < 8, (a, b)
    assert own_case_id("another-secret", first) is None


def link_shown_in_transcript(out: Outcome, attack: Attack) -> None:
    transcripts = [m for m in out.mails_to(MAYA)
                   if attack.mid in m.content.decode("ascii", "replace")]
    assert transcripts
    text = decoded_text(transcripts[-1].content)
    assert "Possible link" in text and out.world.codes[V1] in text


def attack_sender(attack: Attack) -> str | None:
    head = attack.raw.split(b"\r\n\r\n", 1)[0].replace(b"\r\n ", b" ")
    match = re.search(r"\nFrom: [^\n]*<([^>]+)>", "\n" + head.decode("utf-8", "replace"))
    return match.group(1).lower() if match else None


def _subject(content: bytes) -> str:
    import email
    import email.policy
    return str(email.message_from_bytes(content, policy=email.policy.default)["Subject"])


# ---------------------------------------------------------------- builders

def stranger_report(n: int, *, subject: str = "A report", name: str = "Pat Stranger",
                    extra: tuple[tuple[str, str], ...] = (), mid: str = "",
                    extra_mime: str | None = None, body: str = "Something happened.\n",
                    raw_name: str | None = None) -> object:
    sender = f"atk{n}@attacker.example"

    def build(world: World) -> bytes:
        from_value = f"{raw_name} <{sender}>" if raw_name is not None else f"{name} <{sender}>"
        headers = [("From", from_value), ("To", CONDUCT), ("Subject", subject),
                   ("Message-ID", mid or f"<atk{n}-report@attacker.example>"), *extra]
        return raw_mail(headers, body, extra_mime=extra_mime)
    return build


def on_v1(sender: str, name: str, tags: str = "#resolve", *, authenticated: bool = False,
          ar: str | None = None, from_value: str | None = None,
          extra_top: tuple[str, ...] = (), extra: tuple[tuple[str, str], ...] = ()) -> object:
    """A command mail on Jo's case, from whoever, with or without our MX's results."""
    def build(world: World) -> bytes:
        lines = []
        if ar is not None:
            lines.append(f"Authentication-Results: {ar}")
        elif authenticated:
            lines.append(f"Authentication-Results: {auth_results(sender.split('@')[1])}")
        lines += list(extra_top)
        headers = [(k, v) for k, v in (ln.split(": ", 1) for ln in lines)]
        headers += [("From", from_value or f"{name} <{sender}>"), ("To", CONDUCT),
                    ("Subject", f"Re: {world.tag(V1)} {SUBJECT_V1} {tags}"),
                    ("Message-ID", "<MID>"), ("In-Reply-To", f"<{V1}>"),
                    ("References", f"<{V1}>"), *extra]
        return raw_mail(headers, "Closing this.\n")
    return build


def singleton(field: str, value: str) -> object:
    """A signed member command mail the bot never saw, with one field prepended."""
    def build(world: World) -> bytes:
        mail = member_mail(SAM, "Sam Jones", f"Re: {world.tag(V1)} {SUBJECT_V1} #resolve", "MID",
                           in_reply_to=V1, to=CONDUCT, authenticated=False,
                           extra=[("Cc", ALEX), ("Reply-To", SAM), ("Sender", SAM)])
        return prepend(mail, f"{field}: {value}")
    return build


def _fmt(mid: str) -> str:
    return f"<{mid}>"


def _attacks() -> list[Attack]:
    attacks: list[Attack] = []

    def add(name: str, cls: str, build: object, check: object, wave: int = 1) -> None:
        attacks.append(Attack(name, cls, build, check, wave))  # type: ignore[arg-type]

    # ---- 1: header injection through nested encodings, in every echoed field
    n = 0
    for label, value in [
        ("subject b64 level 1", nest(PAYLOAD, 1)),
        ("subject b64 level 2", nest(PAYLOAD, 2)),
        ("subject b64 level 3", nest(PAYLOAD, 3)),
        ("subject b64 level 4", nest(PAYLOAD, 4)),
        ("subject q level 2", nest(PAYLOAD, 2, "q")),
        ("subject q level 3", nest(PAYLOAD, 3, "q")),
        ("subject mixed b q b level 3", nest(PAYLOAD, 3, "bq")),
        ("subject folded b64 level 3", folded(PAYLOAD, 3)),
        ("subject folded mixed level 3", folded(PAYLOAD, 3, "qb")),
        ("subject folded q level 2", folded(PAYLOAD, 2, "q")),
    ]:
        n += 1
        add(f"injection {label}", "1", stranger_report(n, subject=value), injection_failed)
    for label, value in [
        ("display name level 1", nest(PAYLOAD, 1)),
        ("display name level 2", nest(PAYLOAD, 2)),
        ("display name level 3", nest(PAYLOAD, 3, "bq")),
        ("display name folded level 3", folded(PAYLOAD, 3)),
    ]:
        n += 1
        add(f"injection {label}", "1", stranger_report(n, raw_name=value), injection_failed)
    for label, value in [("attachment name level 2", nest(PAYLOAD, 2)),
                         ("attachment name folded level 3", folded(PAYLOAD, 3))]:
        n += 1
        mime = (f'Content-Type: application/octet-stream; name="{value}"\r\n'
                f'Content-Disposition: attachment; filename="{value}"\r\n'
                "Content-Transfer-Encoding: base64")
        add(f"injection {label}", "1", stranger_report(n, extra_mime=mime), injection_failed)
    n += 1
    add("injection message id encoded word", "1",
        stranger_report(n, mid=f"<{nest(PAYLOAD, 2)}@attacker.example>"), injection_failed)
    n += 1
    add("injection references encoded word", "1",
        stranger_report(n, extra=(("References", f"<{nest(PAYLOAD, 3)}@attacker.example>"),)),
        injection_failed)
    n += 1
    add("injection cc display name level 3", "1",
        stranger_report(n, extra=(("Cc", f"{nest(PAYLOAD, 3)} <friend@attacker.example>"),)),
        injection_failed)
    add("injection member command argument level 3", "1",
        on_v1(MAYA, "Maya Chen", f"#contact {nest(PAYLOAD, 3)}", authenticated=True),
        member_echo_failed)
    add("injection member subject folded level 3", "1",
        on_v1(MAYA, "Maya Chen", f"#status {folded(PAYLOAD, 3)}", authenticated=True),
        member_echo_failed)

    # ---- 2: echo and backscatter to a forged sender
    add("echo alarming subject to a third party", "2",
        stranger_report(30, subject="URGENT wire the money to evil.example today",
                        body="Call +1 555 0100 now.\n"),
        echo_failed(("wire the money", "evil.example", "555 0100")))
    add("echo display name carrying a link", "2",
        stranger_report(31, raw_name='"Click https://evil.example/login now"'),
        echo_failed(("evil.example", "click")))
    add("echo reply-to redirect", "2",
        stranger_report(32, extra=(("Reply-To", "replyto@phish.example"),)),
        echo_failed(("replyto@phish.example",)))

    add("stranger reply citing a message the group never saw", "2",
        lambda w: raw_mail([("From", f"{ATTACKER_NAME} <{ATTACKER}>"), ("To", CONDUCT),
                            ("Subject", f"Re: {SUBJECT_V1} Jo Reporter LIAR-XYZ"),
                            ("Message-ID", "<MID>"), ("In-Reply-To", "<ghost@attacker.example>"),
                            ("References", f"{_fmt(V1)} <ghost@attacker.example>")]),
        alert_names_no_one)

    add("reporter's reply to the fixed-subject acknowledgement still threads", "2",
        lambda w: raw_mail([("From", f"Jo Reporter <{REPORTER}>"), ("To", CONDUCT),
                            ("Subject", f"Re: {ACK_SUBJECT}"), ("Message-ID", "<MID>"),
                            ("In-Reply-To", _fmt(w.ack_ids[REPORTER]))], "One more detail.\n"),
        reply_threads)

    # ---- 4: commands borrowed from someone else's subject
    add("borrowed resolve and contact via reply-all", "4",
        lambda w: member_mail(MAYA, "Maya Chen",
                              f"Re: Re: {w.tag(V1)} {SUBJECT_V1} #resolve #contact Mallory",
                              "MID", in_reply_to="direct-1@attacker.example",
                              references=["direct-1@attacker.example"]),
        borrowed_held)
    add("borrowed recuse via references only", "4",
        lambda w: member_mail(ALEX, "Alex Smith", f"Re: {w.tag(V1)} {SUBJECT_V1} #recuse",
                              "MID", references=["direct-2@attacker.example"]),
        borrowed_held)
    add("borrowed safety on another case", "4",
        lambda w: member_mail(SAM, "Sam Jones", f"Re: {w.tag(V2)} {SUBJECT_V2} #safety no",
                              "MID", in_reply_to="direct-3@attacker.example"),
        held_because("never saw"))

    # ---- 5: replay
    for field_name, value in [
        ("Message-ID", "<MID>"),
        ("In-Reply-To", _fmt(V2)),
        ("References", _fmt(V2)),
        ("Date", "Mon, 1 Jan 2024 00:00:00 +0000"),
        ("From", f"Maya Chen <{MAYA}>"),
        ("Sender", f"<{MAYA}>"),
        ("To", "sam@example.net"),
        ("Cc", f"<{ATTACKER}>"),
        ("Subject", "Re: anything #resolve"),
        ("Reply-To", f"<{ATTACKER}>"),
    ]:
        add(f"replay prepended {field_name}", "5", singleton(field_name, value),
            held_because("more than one"))
    add("replay genuine mail under a prepended Message-ID", "5",
        lambda w: prepend(genuine_mail(), "Message-ID: <MID>"), held_because("more than one"))
    add("replay same signed content under another Message-ID", "5",
        lambda w: prepend(genuine_mail(mid="MID")), held_because("seen before"))
    add("replay old command mail", "5",
        lambda w: member_mail(ALEX, "Alex Smith", f"Re: {w.tag(V2)} {SUBJECT_V2} #resolve",
                              "MID", in_reply_to=V2, date=old(10)),
        held_because("days ago"))
    add("replay command mail dated in the future", "5",
        lambda w: member_mail(ALEX, "Alex Smith", f"Re: {w.tag(V2)} {SUBJECT_V2} #resolve",
                              "MID", in_reply_to=V2, date=old(-2)),
        held_because("future"))

    # ---- 6: strangers reshape cases
    add("tie own case to a victim's case", "6",
        lambda w: raw_mail([("From", f"{ATTACKER_NAME} <{ATTACKER}>"), ("To", CONDUCT),
                            ("Subject", "Re: my complaint"), ("Message-ID", "<MID>"),
                            ("In-Reply-To", _fmt(A0)), ("References", f"{_fmt(V1)} {_fmt(A0)}")]),
        not_merged(V1, A0))
    add("tie two victims' cases", "6",
        lambda w: raw_mail([("From", "Other <other@attacker.example>"), ("To", CONDUCT),
                            ("Subject", "Re: both"), ("Message-ID", "<MID>"),
                            ("References", f"{_fmt(V1)} {_fmt(V2)}")]),
        not_merged(V1, V2))
    add("forged member From with case tag adds accomplice", "6",
        on_v1(MAYA, "Maya Chen", "", extra=(("Cc", "accomplice1@attacker.example"),),
              extra_top=()),
        no_participant("accomplice1@attacker.example"))
    add("forged member From by subject tag only", "6",
        lambda w: raw_mail([("From", f"Maya Chen <{MAYA}>"), ("To", CONDUCT),
                            ("Cc", "accomplice2@attacker.example"),
                            ("Subject", f"{w.tag(V1)} adding our colleague"),
                            ("Message-ID", "<MID>")]),
        not_threaded_or_joined("accomplice2@attacker.example"))
    add("forged member From with foreign authserv by subject tag", "6",
        lambda w: raw_mail([("Authentication-Results",
                             auth_results(authserv="mx.attacker.example")),
                            ("From", f"Maya Chen <{MAYA}>"), ("To", CONDUCT),
                            ("Cc", "accomplice3@attacker.example"),
                            ("Subject", f"{w.tag(V1)} adding our colleague"),
                            ("Message-ID", "<MID>")]),
        not_threaded_or_joined("accomplice3@attacker.example"))
    add("stranger reply in thread adds accomplice", "6",
        lambda w: raw_mail([("From", f"{ATTACKER_NAME} <{ATTACKER}>"), ("To", CONDUCT),
                            ("Cc", "accomplice4@attacker.example"),
                            ("Subject", f"Re: {SUBJECT_V1}"), ("Message-ID", "<MID>"),
                            ("In-Reply-To", _fmt(V1))]),
        no_participant("accomplice4@attacker.example"))
    add("stranger sends merge command", "6",
        lambda w: raw_mail([("From", f"{ATTACKER_NAME} <{ATTACKER}>"), ("To", CONDUCT),
                            ("Subject", f"Re: {w.tag(A0)} #merge {w.codes[V1].replace(' ', '-')}"),
                            ("Message-ID", "<MID>"), ("In-Reply-To", _fmt(A0))]),
        no_effect)
    add("member reply-all inherits a stranger's tie", "6",
        lambda w: member_mail(MAYA, "Maya Chen", "Re: my complaint", "MID",
                              in_reply_to="tie-own-case-to-a-victim-s-case@attacker.example",
                              references=[V1, A0,
                                          "tie-own-case-to-a-victim-s-case@attacker.example"]),
        not_merged(V1, A0), wave=2)
    add("ids handed to a member directly", "6",
        lambda w: member_mail(SAM, "Sam Jones", "Re: two threads", "MID",
                              in_reply_to="direct-4@attacker.example",
                              references=[V1, V2, "direct-4@attacker.example"]),
        not_merged(V1, V2))
    add("link shown in the next member transcript", "6",
        lambda w: member_mail(MAYA, "Maya Chen", f"Re: {w.tag(A0)} #status", "MID",
                              in_reply_to=A0),
        link_shown_in_transcript, wave=2)

    # ---- 7: impersonating the bot's own copy
    add("own id of a victim's acknowledgement", "7",
        lambda w: raw_mail([("From", f"Conduct <{CONDUCT}>"), ("To", CONDUCT),
                            ("Subject", f"Re: {SUBJECT_V1} #resolve"),
                            ("Message-ID", _fmt(w.ack_ids[REPORTER]))]),
        not_own)
    add("own id of the attacker's own acknowledgement", "7",
        lambda w: raw_mail([("From", f"Conduct <{CONDUCT}>"), ("To", CONDUCT),
                            ("Subject", ACK_SUBJECT),
                            ("Message-ID", _fmt(w.ack_ids[ATTACKER])),
                            ("In-Reply-To", _fmt(V1))], "Hi,\n\nThank you so much.\n"),
        not_own)
    add("forged own id with a bad mac", "7",
        lambda w: raw_mail([("From", f"Conduct <{CONDUCT}>"), ("To", CONDUCT),
                            ("Subject", "copy"),
                            ("Message-ID", f"<cocbot.{'a' * 34}@example.org>")]),
        forged_own_not_threaded)

    # ---- 8: ids that count (checks on what the bot sent in wave 0)
    add("acknowledgement ids carry no case number", "8", None, ids_opaque)
    add("ids of consecutive cases look unrelated", "8", None, ids_unrelated)

    # ---- F: From tricks; A: Authentication-Results tricks (held for years, kept held)
    add("display name is a member address", "F",
        on_v1(ATTACKER, "", from_value=f'"{MAYA}" <{ATTACKER}>',
              ar=auth_results("attacker.example")), held)
    add("two From headers", "F",
        on_v1(MAYA, "Maya Chen", authenticated=True,
              extra_top=(f"From: {ATTACKER_NAME} <{ATTACKER}>",)), held)
    add("From with two mailboxes", "F",
        on_v1(MAYA, "", from_value=f"Maya Chen <{MAYA}>, <{ATTACKER}>", authenticated=True), held)
    add("encoded word hiding a member address", "F",
        on_v1(ATTACKER, "", from_value=f"{nest(MAYA, 1)} <{ATTACKER}>",
              ar=auth_results("attacker.example")), held)
    add("Sender is a member, From is not", "F",
        on_v1(ATTACKER, ATTACKER_NAME, ar=auth_results("attacker.example"),
              extra=(("Sender", MAYA),)), no_effect)
    add("member From without Authentication-Results", "F", on_v1(MAYA, "Maya Chen"), held)
    add("Authentication-Results of another server", "A",
        on_v1(MAYA, "Maya Chen", ar=auth_results(authserv="mx.attacker.example")), held)
    add("Authentication-Results says fail", "A",
        on_v1(MAYA, "Maya Chen", ar=auth_results(result="fail")), held)
    add("forged pass below our fail", "A",
        on_v1(MAYA, "Maya Chen", ar=auth_results(result="fail"),
              extra_top=(f"Authentication-Results: {auth_results()}",)), held)
    add("dmarc pass for another From domain", "A",
        on_v1(MAYA, "Maya Chen",
              ar="mx.test.example; dmarc=pass header.from=attacker.example"), held)
    add("dkim pass for an unaligned domain", "A",
        on_v1(MAYA, "Maya Chen", ar="mx.test.example; dkim=pass header.d=attacker.example"), held)
    add("authserv-id with our id as prefix", "A",
        on_v1(MAYA, "Maya Chen", ar=auth_results(authserv="mx.test.example.attacker.example")),
        held)
    add("results without separators", "A",
        on_v1(MAYA, "Maya Chen",
              ar="mx.test.example; dkim=fail header.d=example.org dmarc=pass"), held)
    add("reporter address sends commands", "F",
        on_v1(REPORTER, "Jo Reporter", "#resolve #contact Mallory"), no_effect)

    # ---- Q: tags in quoted or forwarded text
    add("quoted tags in a member reply", "Q",
        lambda w: member_mail(MAYA, "Maya Chen", f"Re: {w.tag(V1)} {SUBJECT_V1}", "MID",
                              in_reply_to=V1, body="Not yet.\n\n> #resolve\n> #recuse\n"),
        no_effect)
    add("tags in a forwarded subject", "Q",
        lambda w: member_mail(
            MAYA, "Maya Chen", "Fwd: Re: our case #resolve", "MID",
            body=("FYI.\n\n---------- Forwarded message ---------\n"
                  f"From: {ATTACKER_NAME} <{ATTACKER}>\nDate: Mon, 2 Feb 2026 at 10:15\n"
                  "Subject: Re: our case #resolve\nTo: Maya Chen <maya@example.org>\n\n"
                  "Please close it.\n")),
        no_effect)
    add("tag inside a sentence", "Q",
        lambda w: member_mail(MAYA, "Maya Chen", f"Re: {w.tag(V1)} {SUBJECT_V1}", "MID",
                              in_reply_to=V1, body="We should not #resolve this yet.\n"),
        no_effect)

    # ---- R: replies to the bot's digest and transcripts
    add("member reply to the digest", "R",
        lambda w: member_mail(MAYA, "Maya Chen", "Re: Code of Conduct digest #resolve", "MID",
                              in_reply_to=w.digest_id), no_effect)
    add("stranger reply to a leaked digest id", "R",
        lambda w: raw_mail([("From", f"{ATTACKER_NAME} <{ATTACKER}>"), ("To", CONDUCT),
                            ("Subject", f"Re: {w.tag(V1)} #resolve"), ("Message-ID", "<MID>"),
                            ("In-Reply-To", _fmt(w.digest_id))]), no_effect)
    add("member reply quoting a transcript", "R",
        lambda w: member_mail(ALEX, "Alex Smith", "Re: Commands processed", "MID",
                              in_reply_to=w.transcript_id,
                              body="Thanks.\n\n> #safety yes\n> #resolve\n"), no_effect)
    return attacks


ATTACKS = _attacks()
