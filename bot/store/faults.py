"""Telling a database outage from a bad message.

An outage (the server gone or restarting, SQLite's "database is locked", a
full disk) rolls the transaction back whole: the message is retried later,
never quarantined.  A value the database cannot hold is the message's fault:
it is quarantined, or intake would stop on it forever.
"""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, PendingRollbackError

# PostgreSQL reports some limits a single value breaks (an index row too large) as
# OperationalError, like an outage; retrying such a message would stop intake forever.
_MESSAGE_SQLSTATE_CLASSES = ("54",)  # program_limit_exceeded


def caused_by_message(exc: OperationalError) -> bool:
    """True when the error comes from this message's values, not from the database's health."""
    sqlstate = getattr(exc.orig, "sqlstate", None)
    return isinstance(sqlstate, str) and sqlstate[:2] in _MESSAGE_SQLSTATE_CLASSES


def database_outage(exc: BaseException) -> bool:
    """True when `exc` says the database is unwell rather than that this message is bad.

    A connection lost mid-transaction (PostgreSQL killed or restarted), SQLite's
    "database is locked", a full disk: all retried, never quarantined.
    """
    if isinstance(exc, PendingRollbackError):
        return True
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, OperationalError | InterfaceError):
        return not (isinstance(exc, OperationalError) and caused_by_message(exc))
    return False


def describe_db_error(exc: BaseException) -> str:
    """One line saying what is wrong with the database, without statement parameters."""
    orig = getattr(exc, "orig", None) or exc
    text = " ".join(str(orig).split("\n", 1)[0].split())
    return text[:200] or type(orig).__name__


