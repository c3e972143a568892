"""The configuration checked against the working group's manual, beyond its syntax.

`Config` validation (bot.core.config) accepts any well-formed file, so unit
tests and tools can build small configurations.  The bot itself needs more
before it may act on a real inbox, and `cocbot check-config` and `cocbot run`
refuse to go on without it:

- "The committee will consist of at least three members" and has a chair
  (Working Group Manual, Membership): with fewer, or with no chair, nobody
  gets the digest and the chair's reminders go nowhere;
- a way to authenticate members (`[auth]`): without it every command is held
  and members' own mail is acknowledged as if it were a report;
- `[status]` bounds the running bot can meet (an idle inbox is read at least
  every `imap.idle_seconds`), so `cocbot status` does not cry wolf.

Each problem is one line that starts with the key to fix.
"""

from __future__ import annotations

from bot.core.config import Config

MIN_MEMBERS = 3


def roster_problems(config: Config) -> list[str]:
    """What in `config` contradicts the manual or leaves members unauthenticated."""
    problems: list[str] = []
    count = len(config.members)
    if count < MIN_MEMBERS:
        problems.append(
            f"members: {count} member(s) configured; the working group manual asks for at "
            f"least {MIN_MEMBERS} (add [[members]] tables)")
    if not config.chairs:
        problems.append('members: no chair; give at least one member role = "chair" '
                        "(the chair gets the digest and the reminders)")
    if config.members and not auth_configured(config):
        problems.append(
            "auth.authserv_id: missing; without [auth] no member's command or forward can be "
            "authenticated (set it to the authserv-id your receiving server writes in "
            "Authentication-Results)")
    return problems


def auth_configured(config: Config) -> bool:
    """True when the configuration names a source of Authentication-Results to trust."""
    return bool(config.auth.authserv_id.strip() or config.auth.microsoft_receiving_host.strip())


def bounds_problems(config: Config) -> list[str]:
    """`[status]` bounds a healthy bot would break."""
    problems: list[str] = []
    silence = config.status.max_intake_silence_minutes * 60
    if config.intake.source == "imap":
        slowest = max(config.imap.idle_seconds, config.imap.poll_seconds)
        if silence <= slowest:
            problems.append(
                f"status.max_intake_silence_minutes: {config.status.max_intake_silence_minutes:g}"
                f" min is not longer than the bot's quietest interval ({slowest} s, "
                "imap.idle_seconds / imap.poll_seconds); a healthy idle bot would look silent")
    return problems


def config_problems(config: Config) -> list[str]:
    """Everything `check-config` and `run` refuse beyond the syntax, one line each."""
    return [*roster_problems(config), *bounds_problems(config)]
