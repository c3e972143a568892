"""Find where the author's own text ends in a reply.

Mail clients append the message being answered below (or, rarely, above) the new
text.  Later stages (the ``[+ Name]`` / ``[- Name]`` recipient notes in particular)
must only look at what the author wrote, because a note quoted from an earlier
message says nothing about the recipients of this one.

`html_to_text` flattens an HTML body so that quoted HTML stays recognisable as
quoted ("> " prefixes); `top_lines` cuts a plain-text body at the first quote,
attribution, forward header or signature; `top_text` picks the better source.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

__all__ = ["html_to_text", "top_lines", "top_text"]

# Elements that start a new line; anything else is inline and flows into the line.
_BLOCK_TAGS = frozenset(
    {
        "address", "article", "aside", "blockquote", "body", "center", "dd", "details",
        "dialog", "div", "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form",
        "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "html", "li", "main", "nav",
        "ol", "p", "pre", "section", "summary", "table", "tbody", "tfoot", "thead", "tr",
        "ul",
    }
)  # fmt: skip

# Content that is never part of the readable message.  Not <head> itself: mailers
# often omit </head>, and skipping it would swallow the whole body.
_SKIP_TAGS = frozenset({"noscript", "script", "style", "template", "title"})

# Containers that clients put around the message being replied to.  Once one opens,
# the rest of the document is the earlier conversation, including anything after
# the container closes (Outlook puts the quoted body *after* divRplyFwdMsg).
_QUOTE_CLASSES = frozenset({"gmail_quote", "yahoo_quoted", "moz-cite-prefix"})
_QUOTE_IDS = frozenset({"divrplyfwdmsg", "appendonsend"})

_WS_RE = re.compile(r"[ \t\n\r\f\v]+")  # not \s: a non-breaking space is deliberate


class _TextExtractor(HTMLParser):
    """Collects text lines from HTML, prefixing quoted lines with "> "."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self._cur: list[str] = []
        self._cur_has_content = False
        self._cur_depth = 0
        self._skip = 0
        self._pre = 0
        self._quote_depth = 0
        self._after_quote = False

    @property
    def _depth(self) -> int:
        return self._quote_depth + (1 if self._after_quote else 0)

    def _flush(self, *, force: bool) -> None:
        """End the current line; `force` keeps it even when empty (``<br>``)."""
        if not self._cur_has_content and not force:
            self._cur = []
            return
        depth = self._cur_depth if self._cur_has_content else self._depth
        text = "".join(self._cur).replace("\xa0", " ").rstrip()
        prefix = "> " * depth
        self.lines.append((prefix + text).rstrip())
        self._cur = []
        self._cur_has_content = False

    def _add(self, text: str) -> None:
        if not text:
            return
        if not self._cur_has_content:
            # The quote level of a line is the one in force where its text starts.
            self._cur_depth = self._depth
        self._cur.append(text)
        self._cur_has_content = True

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_TAGS:
            self._skip += 1
            return
        if tag == "br":
            self._flush(force=True)
            return
        if tag in _BLOCK_TAGS:
            self._flush(force=False)
        attr = {k.lower(): (v or "") for k, v in attrs}
        classes = set(attr.get("class", "").split())
        if classes & _QUOTE_CLASSES or attr.get("id", "").lower() in _QUOTE_IDS:
            self._after_quote = True
        if tag == "blockquote":
            self._quote_depth += 1
        elif tag == "pre":
            self._pre += 1
        elif tag in ("td", "th") and self._cur_has_content:
            self._cur.append("\t")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS:
            self._skip = max(0, self._skip - 1)
            return
        if tag in _BLOCK_TAGS:
            self._flush(force=False)
        if tag == "blockquote":
            self._quote_depth = max(0, self._quote_depth - 1)
        elif tag == "pre":
            self._pre = max(0, self._pre - 1)

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        if self._pre:
            parts = data.replace("\r\n", "\n").split("\n")
            for i, part in enumerate(parts):
                if i:
                    self._flush(force=True)
                self._add(part)
            return
        text = _WS_RE.sub(" ", data)
        # Whitespace between tags is one space at most, and none at a line start.
        if not self._cur_has_content or (self._cur and self._cur[-1].endswith(" ")):
            text = text.lstrip(" ")
        self._add(text)

    def close(self) -> None:
        super().close()
        self._flush(force=False)


def html_to_text(html: str) -> str:
    """Flatten an HTML mail body to plain text, marking quoted parts with "> ".

    Block elements and ``<br>`` become line breaks, ``<blockquote>`` contents get
    one "> " per nesting level, script, style and title are dropped and entities are
    decoded.  Gmail's ``gmail_quote``, Yahoo's ``yahoo_quoted``, Thunderbird's
    ``moz-cite-prefix`` and Outlook's ``divRplyFwdMsg`` / ``appendonsend`` blocks,
    and everything after them, count as quoted too.
    """
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    return "\n".join(parser.lines)


# Attribution lines: "On <date>, <who> wrote:" and its translations.  A digit is
# required so that ordinary prose ("On reflection, Sam wrote:") does not end the text.
_ATTRIBUTION_RE = re.compile(
    r"""^(?:On|Le|El|Il|Em|Op|Am|Den|På|W\ dniu|Dnia)\s.*\d.*
        (?:wrote|a\ écrit|escribió|ha\ scritto|escreveu|schreef|schrieb|skrev|napisał)
        .*:$""",
    re.VERBOSE | re.IGNORECASE,
)
# Clients without a date: "Maya Chen <maya@example.org> wrote:".
_BARE_ATTRIBUTION_RE = re.compile(r"^.{0,200}<[^<>\s]+@[^<>\s]+>\s*(?:wrote|a écrit)\s*:$", re.I)
_ATTRIBUTION_START_RE = re.compile(r"^(?:On|Le|El|Il|Em|Op|Am|Den|På|W dniu|Dnia)\s", re.I)

# The attribution shape most clients share whatever the language: a date or time,
# the quoted author's address in angle brackets, then at most a verb and a colon.
# Gmail in Finnish ("pe 20. lokakuuta 2017 klo 17.50 John Coe <a@b> kirjoitti:"),
# Russian ("ср, 30 апр. 2025 г. в 15:19, John Doe <a@b>:"), Norwegian ("... skrev
# Test user <a@b>:"), Polish ("... <a@b> napisał(a):") and the date-first forms of
# other clients ("2017-11-24 16:32 GMT+01:00 Name <a@b>:") all match.  The verb list
# is closed so that "... <maya@example.org> Agenda:" in someone's own text does not.
_ADDRESS_ATTRIBUTION_RE = re.compile(
    r"""^.{0,250}<[^<>\s]*@[^<>\s]+\s*>\s*
        (?:wrote|a\ écrit|escribió|ha\ scritto|escreveu|schreef|schrieb|skrev|napisał(?:\(a\))?
          |napisała|kirjoitti|написал(?:\(а\)|а)?|írta|yazdı|skrive|skriver)?\s*:$""",
    re.VERBOSE | re.IGNORECASE,
)
# A date or a time, as the shape above requires (a year, or "15:19" / "17.50").
_DATE_OR_TIME_RE = re.compile(r"\b(?:19|20)\d{2}\b|\b\d{1,2}[:.]\d{2}\b")

_SEPARATOR_RES = (
    re.compile(
        r"^-{2,}\s*(?:Original Message|Ursprüngliche Nachricht|Message d'origine"
        r"|Mensaje original|Messaggio originale|Oorspronkelijk bericht|Mensagem original"
        r"|Alkuperäinen viesti|Oprindelig meddelelse|Opprinnelig melding"
        r"|Ursprungligt meddelande|Wiadomość oryginalna|Исходное сообщение)\s*-{2,}$",
        re.IGNORECASE,
    ),
    re.compile(
        r"^-{2,}\s*(?:Forwarded message|Weitergeleitete Nachricht|Message transféré"
        r"|Mensaje reenviado|Messaggio inoltrato|Doorgestuurd bericht"
        r"|Mensagem encaminhada|Пересылаемое сообщение|Videresendt melding)\s*-{2,}$",
        re.IGNORECASE,
    ),
    re.compile(
        r"^(?:Begin forwarded message|Anfang der weitergeleiteten Nachricht"
        r"|Début du message réexpédié)\s*:$",
        re.IGNORECASE,
    ),
    re.compile(r"^_{10,}$"),
)

# The one-line signatures phones and mobile apps append ("Sent from my iPhone",
# "Get Outlook for iOS<https://aka.ms/...>", "Gesendet von Outlook für Android").
# Only a whole short line counts, so a sentence that starts the same way does not.
_MOBILE_SIGNATURE_RE = re.compile(
    r"""^(?:Sent\ from\ (?:my\ )?\S+(?:\ \S+){0,3}
        |Get\ Outlook\ for\ (?:iOS|Android)
        |Gesendet\ (?:von|mit)\ (?:meinem\ )?\S+(?:\ \S+){0,3}
        |Von\ meinem\ \S+(?:\ \S+){0,2}\ gesendet
        |Envoyé\ (?:à\ partir\ )?de\ (?:mon\ )?\S+(?:\ \S+){0,3}
        |Inviato\ da\ (?:il\ mio\ )?\S+(?:\ \S+){0,3}
        |Enviado\ (?:desde|do|de)\ (?:mi\ |meu\ |o\ meu\ )?\S+(?:\ \S+){0,3}
        |Verzonden\ (?:met|vanaf|van)\ (?:mijn\ )?\S+(?:\ \S+){0,3}
        |(?:Sendt|Skickat)\ fr(?:a|ån)\ (?:min\ )?\S+(?:\ \S+){0,3}
        |Wysłane\ z\ \S+(?:\ \S+){0,3}
        |Lähetetty\ \S+(?:\ \S+){0,3}
        |Отправлено\ (?:с|из)\ \S+(?:\ \S+){0,3}
        )\s*(?:<https?://[^<>\s]+>)?$""",
    re.VERBOSE | re.IGNORECASE,
)

# Outlook (and Outlook-converted) header blocks: "From: ..." then "Sent:"/"Date:"...
# The optional asterisks are how bold labels survive an HTML to text conversion.
_HEADER_FROM_RE = re.compile(
    r"^\*?(?:From|Von|De|Van|Da|Od|От|Fra|Från|Lähettäjä)\s?:\*?\s*\S", re.IGNORECASE
)
_HEADER_NEXT_RE = re.compile(
    r"^\*?(?:Sent|Date|To|Subject|Gesendet|Datum|An|Betreff|Envoyé|À|A|Objet|Sujet|Verzonden"
    r"|Aan|Onderwerp|Enviado|Para|Asunto|Assunto|Inviato|Oggetto|Wysłano|Do|Temat|Отправлено"
    r"|Кому|Тема|Sendt|Til|Emne|Skickat|Till|Ämne|Lähetetty|Vastaanottaja|Aihe)\s?:\*?",
    re.IGNORECASE,
)
# Labels some webmails put above "From:" ("Message du : 12/12/2016 13:20").
_HEADER_LEAD_RE = re.compile(r"^\*?(?:Message du|Date|Sent|Datum)\s?:\*?\s*\S", re.I)
# Decoration between the author's text and the quote ("====", "-----").
_RULE_RE = re.compile(r"^[=_\-*~]{3,}$")


def _is_attribution(line: str, following: str | None) -> bool:
    """True when `line` (possibly wrapped onto `following`) introduces a quote."""
    stripped = line.strip()
    if _ATTRIBUTION_RE.match(stripped) or _BARE_ATTRIBUTION_RE.match(stripped):
        return True
    if _is_address_attribution(stripped):
        return True
    if following is None or not stripped:
        return False
    # Clients wrap long attributions at ~76 columns; only accept the join when the
    # second half is what finishes the attribution, not some later sentence.
    nxt = following.strip()
    if not nxt.endswith(":") or stripped.endswith(":") or len(nxt) > 80:
        return False
    joined = f"{stripped} {nxt}"
    if _ATTRIBUTION_START_RE.match(stripped) and _ATTRIBUTION_RE.match(joined):
        return True
    # A next line that is a whole attribution by itself is found on its own turn;
    # the first half of a wrapped one carries the date ("pe 20. lokakuuta 2017 klo").
    if _is_address_attribution(nxt) or not _DATE_OR_TIME_RE.search(stripped):
        return False
    # "<test@example.com" + ">:" rejoins without the space the wrap introduced.
    return _is_address_attribution(joined) or _is_address_attribution(stripped + nxt)


def _is_address_attribution(line: str) -> bool:
    """The language-neutral attribution: a date or time, an address, a colon."""
    return bool(_ADDRESS_ATTRIBUTION_RE.match(line) and _DATE_OR_TIME_RE.search(line))


def _is_header_block(lines: list[str], i: int) -> bool:
    """True when lines[i] starts a forwarded/replied header block."""
    line = lines[i].strip()
    if _HEADER_FROM_RE.match(line):
        return any(_HEADER_NEXT_RE.match(nxt.strip()) for nxt in lines[i + 1 : i + 3])
    if _HEADER_LEAD_RE.match(line) and i + 1 < len(lines):
        return bool(_HEADER_FROM_RE.match(lines[i + 1].strip())) and _is_header_block(lines, i + 1)
    return False


def _starts_quote(lines: list[str], i: int) -> bool:
    """True when lines[i] is where quoted, forwarded or signature material begins."""
    line = lines[i].strip()
    if line.startswith(">"):
        return True
    # "-- " is the standard signature marker; many clients drop the trailing space.
    if line == "--":
        return True
    if any(rx.match(line) for rx in _SEPARATOR_RES):
        return True
    if len(line) <= 120 and _MOBILE_SIGNATURE_RE.match(line):
        return True
    following = lines[i + 1] if i + 1 < len(lines) else None
    return _is_attribution(line, following) or _is_header_block(lines, i)


def _drop_trailing_rules(out: list[str]) -> list[str]:
    """Remove a decorative rule ("====") left just above where the quote began."""
    end = len(out)
    while end and not out[end - 1].strip():
        end -= 1
    if not end or not _RULE_RE.match(out[end - 1].strip()):
        return out
    while end and (not out[end - 1].strip() or _RULE_RE.match(out[end - 1].strip())):
        end -= 1
    # Keep one blank line where there was one, as for any other cut.
    return out[:end] + ([""] if end < len(out) and end else [])


def top_lines(text: str) -> list[str]:
    """The author's own lines: everything before the first quoted or forwarded part.

    Stops at a line starting with ">", an attribution ("On ... wrote:", also
    wrapped over two lines, "Le ... a écrit :", "Am ... schrieb ...:", and in any
    language the "<date> <name> <address>:" shape), an original/forwarded message
    separator, a header block ("From:/Sent:", "De :/Envoyé :", "Von:/Gesendet:"...),
    an underscore rule, a phone's one-line signature ("Sent from my iPhone") or the
    "-- " signature separator.  Trailing whitespace is stripped from each line;
    blank lines are kept; a decorative rule just above the cut is dropped.
    """
    lines = text.splitlines()
    out: list[str] = []
    for i, line in enumerate(lines):
        if _starts_quote(lines, i):
            return _drop_trailing_rules(out)
        out.append(line.rstrip())
    return out


def top_text(text: str, html: str | None) -> list[str]:
    """`top_lines` of the plain-text body, or of the HTML body when the text is empty."""
    if text.strip() or html is None:
        return top_lines(text)
    return top_lines(html_to_text(html))
