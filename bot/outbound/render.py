"""Mail templates: jinja2 in a sandbox, and header values that cannot inject headers.

A template is ``templates/<name>.txt.j2``: its first line is ``Subject: ...``, then
a blank line, then the plain-text body.  An optional ``templates/<name>.html.j2``
holds an HTML part (autoescaped; the text templates are not, they are plain text).

Everything from outside (subjects, display names, anything a reporter wrote) is
passed in as *context data*, never as template source, and the environment is
sandboxed and strict: a missing variable is an error, not an empty string.
Header values are sanitised here, at render time, so that no value can carry a
CR/LF into the header block (see `clean_header`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from jinja2 import (
    FileSystemLoader,
    StrictUndefined,
    Template,
    TemplateNotFound,
    select_autoescape,
)
from jinja2.sandbox import SandboxedEnvironment

from bot.core.config import Config
from bot.core.resources import templates_dir
from bot.outbound.safeheaders import plain_text

# The project's templates/ folder, used when the config names none.
# Longest header value we keep; a subject longer than this is cut (folding copes
# with length, this only bounds what an attacker can make us carry around).
MAX_HEADER_CHARS = 500


class TemplateError(Exception):
    """A template is missing or malformed (no Subject line, undefined variable...)."""


@dataclass(frozen=True)
class RenderedMail:
    """A rendered template: clean subject, text body, optional HTML body."""

    subject: str
    text: str
    html: str | None = None


@lru_cache(maxsize=8)
def _environment(folder: str) -> SandboxedEnvironment:
    return SandboxedEnvironment(
        loader=FileSystemLoader(folder),
        undefined=StrictUndefined,
        # Only the HTML part is escaped; plain text must stay as written.
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default=False,
                                     default_for_string=False),
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def environment(config: Config) -> SandboxedEnvironment:
    """The (cached) sandboxed jinja2 environment on the configured templates folder."""
    return _environment(str(templates_dir(config)))


def clean_header(value: object, *, limit: int = MAX_HEADER_CHARS) -> str:
    """`value` as a safe one-line header value.

    Encoded-words are decoded to a fixed point (a word that decodes to another
    word is decoded again), then CR, LF, TAB and every other control or format
    character (Unicode categories Cc, Cf, Zl, Zp, including NEL and the
    line/paragraph separators) become a space, runs of whitespace collapse to
    one space, and the result is cut to `limit` characters.  Encoding and
    folding are `bot.outbound.safeheaders`' job at serialisation.
    """
    return plain_text(value, limit=limit)


def _split_source(env: SandboxedEnvironment, name: str) -> tuple[str, str]:
    """The subject line's and the body's template source (split before rendering,
    so that a line break inside a value can never move text between the two)."""
    assert env.loader is not None
    try:
        source, _filename, _uptodate = env.loader.get_source(env, name)
    except TemplateNotFound:
        raise TemplateError(f"template {name!r} not found") from None
    first, _, rest = source.partition("\n")
    first = first.rstrip("\r")
    if not first.startswith("Subject:"):
        raise TemplateError(f"template {name!r}: first line must be 'Subject: ...'")
    if rest.strip() and not rest.startswith(("\n", "\r\n")):
        raise TemplateError(f"template {name!r}: a blank line must follow the subject")
    return first[len("Subject:"):], rest.lstrip("\r\n")


@lru_cache(maxsize=256)
def _compiled(env: SandboxedEnvironment, source: str) -> Template:
    # Keyed by the source text, so an edited template file is compiled afresh;
    # compiling took a quarter of the time of a burst of reminders.
    return env.from_string(source)


def _render(env: SandboxedEnvironment, name: str, source: str, context: dict[str, Any]) -> str:
    try:
        return _compiled(env, source).render(**context)
    except Exception as exc:  # jinja2 raises several types; all mean "cannot render"
        raise TemplateError(f"template {name!r}: {type(exc).__name__}: {exc}") from exc


def render_mail(config: Config, template: str, context: dict[str, Any]) -> RenderedMail:
    """Render templates/`template`.txt.j2 (and .html.j2 if present) with `context`."""
    env = environment(config)
    name = f"{template}.txt.j2"
    subject_src, body_src = _split_source(env, name)
    subject = clean_header(_render(env, name, subject_src, context))
    body = _render(env, name, body_src, context).strip("\r\n") + "\n"
    html: str | None = None
    try:
        html_tpl = env.get_template(f"{template}.html.j2")
    except TemplateNotFound:
        html_tpl = None
    if html_tpl is not None:
        try:
            html = html_tpl.render(**context)
        except Exception as exc:
            raise TemplateError(f"template {template!r} (html): {type(exc).__name__}: "
                                f"{exc}") from exc
    return RenderedMail(subject=subject, text=body, html=html)
