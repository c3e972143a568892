"""Finding #tags: what counts as a tag, where, and which are new."""

from __future__ import annotations

from bot.commands.tags import (
    MAX_UNKNOWN,
    Tag,
    body_tags,
    new_tags,
    plan_tags,
    subject_tags,
    suggest,
)
from bot.mail.quoting import top_text

KNOWN = ("resolve", "reopen", "recuse", "contact", "onfile", "note", "status", "help",
         "safety", "harassment", "consequence")


def names(tags: list[Tag]) -> list[str]:
    return [t.name for t in tags]


def test_subject_tags_with_arguments_up_to_next_tag() -> None:
    tags = subject_tags("Re: [CoC home-shelf] Update #resolve board  #note spoke to  them")
    assert tags == [Tag("resolve", "board"), Tag("note", "spoke to them")]


def test_tag_names_are_lower_cased_and_may_have_digits_and_hyphens() -> None:
    assert names(subject_tags("#Resolve #re-open #x2")) == ["resolve", "re-open", "x2"]


def test_tag_followed_by_punctuation_still_counts() -> None:
    assert names(subject_tags("Done (#resolve).")) == []  # "(" before "#": not whitespace
    assert names(subject_tags("Done: #resolve.")) == ["resolve"]
    assert names(subject_tags("#recuse, sorry")) == ["recuse"]


def test_ticket_numbers_are_not_tags() -> None:
    assert subject_tags("Re: ticket #1234 and #42") == []


def test_c_sharp_is_not_a_tag() -> None:
    assert subject_tags("Re: C# code of the talk") == []
    assert subject_tags("F#resolve") == []


def test_url_fragments_are_not_tags() -> None:
    assert subject_tags("see https://example.org/page#resolve and example.org/#note") == []


def test_hash_with_odd_follow_up_is_not_a_tag() -> None:
    assert subject_tags("mail #resolve@example.org #a_b # space ##resolve") == []


def test_body_tags_only_at_the_top_on_their_own_lines() -> None:
    body = "\n\n#resolve local\n#note called the organiser\n\nThanks all, #reopen later\n#help\n"
    assert body_tags(top_text(body, None)) == [
        Tag("resolve", "local", "body"), Tag("note", "called the organiser", "body")]


def test_body_tag_after_text_is_ignored() -> None:
    assert body_tags(top_text("Hi all,\n#resolve\n", None)) == []


def test_quoted_tags_are_ignored() -> None:
    body = "> #resolve\n> #note x\n\nI agree.\n"
    assert body_tags(top_text(body, None)) == []
    reply = ("Sounds good.\n\nOn Mon, 2 Nov 2026 at 10:15, Maya <maya@example.org> wrote:\n"
             "#resolve\n")
    assert body_tags(top_text(reply, None)) == []


def test_tags_above_a_quote_count_but_not_those_in_it() -> None:
    body = "#safety yes\n\nOn Mon, 2 Nov 2026 at 10:15, Maya wrote:\n> #resolve\n"
    assert names(body_tags(top_text(body, None))) == ["safety"]


def test_forwarded_part_is_ignored() -> None:
    body = ("---------- Forwarded message ---------\nFrom: Pat <pat@x.example>\n"
            "Date: Mon, 2 Nov 2026\nSubject: x\n\n#resolve\n")
    assert body_tags(top_text(body, None)) == []


def test_html_only_body_uses_text_before_the_quote() -> None:
    html = ("<div>#note from html</div><div class=\"gmail_quote\">On Mon, 2 Nov 2026, "
            "Maya wrote:<blockquote>#resolve</blockquote></div>")
    assert body_tags(top_text("", html)) == [Tag("note", "from html", "body")]


def test_new_tags_drops_those_in_parent_subject() -> None:
    tags = subject_tags("Re: Re: [CoC home-shelf] report #resolve #safety no")
    fresh = new_tags(tags, ["Re: [CoC home-shelf] report #resolve"])
    assert fresh == [Tag("safety", "no")]


def test_reply_all_repeating_everything_has_nothing_new() -> None:
    parent = "Re: [CoC home-shelf] report #resolve board"
    assert new_tags(subject_tags("RE: " + parent), [parent]) == []


def test_changed_argument_is_new() -> None:
    fresh = new_tags(subject_tags("Re: x #resolve board"), ["x #resolve"])
    assert fresh == [Tag("resolve", "board")]


def test_new_tags_counts_repeats_and_keeps_body_tags() -> None:
    tags = [*subject_tags("Re: x #note a #note a"), Tag("resolve", "", "body")]
    fresh = new_tags(tags, ["x #note a", None])
    assert fresh == [Tag("note", "a"), Tag("resolve", "", "body")]


def test_no_parent_means_every_tag_is_new() -> None:
    assert names(new_tags(subject_tags("[CoC a-b] #resolve"), [None])) == ["resolve"]


def test_suggestion_for_typo() -> None:
    assert suggest("resolv", KNOWN) == "resolve"
    assert suggest("recsue", KNOWN) == "recuse"
    assert suggest("djangocon", KNOWN) is None


def test_plan_sorts_known_and_unknown_with_suggestions() -> None:
    plan = plan_tags(subject_tags("#resolv #status #djangocon"), KNOWN)
    assert [(i.tag.name, i.known, i.suggestion) for i in plan.items] == [
        ("resolv", False, "resolve"), ("status", True, None), ("djangocon", False, None)]
    assert plan.has_command and not plan.stopped


def test_plan_stops_after_five_unknown_tags() -> None:
    tags = subject_tags("#a1 #status #a2 #a3 #a4 #a5 #resolve #a6")
    plan = plan_tags(tags, KNOWN)
    assert plan.stopped
    assert names([i.tag for i in plan.items]) == ["a1", "status", "a2", "a3", "a4", "a5"]
    assert len(plan.unknown) == MAX_UNKNOWN


def test_exactly_five_unknown_at_the_end_is_not_stopping() -> None:
    plan = plan_tags(subject_tags("#resolve #a1 #a2 #a3 #a4 #a5"), KNOWN)
    assert not plan.stopped and len(plan.items) == 6


def test_same_tag_twice_in_one_message_runs_once() -> None:
    tags = [*subject_tags("#resolve"), Tag("resolve", "", "body")]
    assert len(plan_tags(tags, KNOWN).items) == 1


def test_the_case_tag_is_never_a_commands_argument() -> None:
    # Mail clients append the case tag after the member's tags; "#recuse [CoC x-y]"
    # must not read as "#recuse NAME" (which changes nothing).
    [tag] = subject_tags("Re: sprint #recuse [CoC home-shelf]")
    assert (tag.name, tag.args) == ("recuse", "")
    [tag] = subject_tags("Re: x #note called them [ coc: Home Shelf ] today")
    assert (tag.name, tag.args) == ("note", "called them today")
