"""Ordinary words that are also names, and when such a word is written as a name.

A reporter called "Dana Report" must not turn "we received a report" into a
warning, yet "Hi Report," or "Dana Report" must still count.  A name part that
is an ordinary word counts only where it is written as a name: capitalised and
not at the start of a sentence, or right next to another part of the same name.
"""

from __future__ import annotations

import re

# Frequent English words that are also given names or surnames, plus the words of
# the group's own letters.  The hygiene policy's ``ignore_words`` adds to these.
_WORD_LIST = """
able about act action after again age all also always and angel april art august autumn
baker bank banks bar bell bird bishop black bloom blue bond born bottom bow brand bright
brook brown bush butler call can candy care carter case chance chase cherry clay cliff
close coach cook cooper cross crown dale dawn day dean dear do don down drake duke early
east echo ever fair faith fall field fields fish fisher flower ford forest fox frank free
gale game gardner garden glass gold golden good grace grand grant gray green grey grove
guy hall hand happy hardy harp hart hay heart heath high hill hills holly honey hope hunt
hunter ivy jack jade jay jewel joy june just keen kind king knight lake lamb land lane
last law lee light lily little lock long love lucky major march mark marsh mason may
meadow meet mercy might mill miller moon moore more morning new news night noble north
oak ocean page park parker parks pat pearl penny pierce pike piper pool poor pope porter
post power price prince queen rain ray read reed report rich ridge river robin rock rose
ruby rush sage salt sand savage say scott sea shepherd short shy silver sky small smith
snow south spring star steel stone storm story street strong sue summer sun swift taylor
then thorn tiny todd town true turner vale wade walker wall ward warren waters way weaver
well wells west white will wilde win winter wise wolf wood woods word wren york young
"""
ORDINARY_WORDS = frozenset(_WORD_LIST.split())

_SENTENCE_END = set(".!?:;>\u2022*-\"'([")


def written_as_name(text: str, start: int, end: int, other_parts: frozenset[str]) -> bool:
    """True when text[start:end] (an ordinary-word name part) is written as a name.

    Next to another part of the same name (either side, any case) always counts;
    otherwise it must be capitalised and not begin a sentence or a line.
    """
    before = text[:start].rstrip(" \t")
    after = text[end:].lstrip(" \t")
    prev = re.search(r"([^\W_]+)$", before)
    nxt = re.match(r"([^\W_]+)", after)
    if (prev and prev.group(1).lower() in other_parts) or \
            (nxt and nxt.group(1).lower() in other_parts):
        return True
    word = text[start:end]
    if not word[:1].isupper():
        return False
    if not before or before.endswith("\n"):
        return False
    return before[-1] not in _SENTENCE_END
