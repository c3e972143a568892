"""`cocbot digest`: print the daily digest (dry run) or send it now."""

from __future__ import annotations

from typing import Any

import click


@click.command("digest")
@click.option("--dry-run", is_flag=True,
              help="Print the digest(s) that would be sent; claim and send nothing.")
@click.option("--now", "now_text", metavar="ISO-8601",
              help="Act as if it were this moment (naive means UTC).")
@click.option("--to", "to", multiple=True, metavar="EMAIL",
              help="Only the digest for this member (repeatable).")
@click.pass_obj
def digest_cmd(state: Any, dry_run: bool, now_text: str | None, to: tuple[str, ...]) -> None:
    """Print (--dry-run) or send today's digest to the chair(s) now.

    Without --dry-run the digest is claimed for today (so the scheduler sends
    no second one), queued even if it is empty, and delivered at once.
    """
    from bot.cli.common import fail, parse_now
    from bot.clocks.digest import build_digests, send_digests
    from bot.outbound.render import render_mail
    from bot.store.db import session_scope

    now = parse_now(now_text)
    app = state.app(now)
    config = app.config
    for addr in to:
        if config.member_for(addr) is None:
            fail(f"--to: {addr} is not a member's address", code=2)
    only = [m.email for m in (config.member_for(a) for a in to) if m is not None]
    moment = app.now_utc()
    if dry_run:
        with session_scope(app.engine) as session:
            digests = build_digests(session, app, moment, only)
        if not digests:
            click.echo("no digest recipients")
        for digest in digests:
            rendered = render_mail(config, "digest", digest.context(config))
            state_note = " (nothing to say: would not be sent)" if digest.empty and not (
                config.schedule.digest_when_empty) else ""
            click.echo(f"To: {digest.recipient}{state_note}")
            click.echo(f"Subject: {rendered.subject}")
            click.echo("")
            click.echo(rendered.text)
        return
    from bot.outbound.sender import deliver_due

    queued = send_digests(app, moment, force=True, only=only)
    sent = deliver_due(app) if queued else 0
    click.echo(f"queued {queued} digest(s), sent {sent} mail(s)")
