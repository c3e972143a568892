"""The intake lease: one holder; taken over when expired or when its holder is dead."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from datetime import timedelta

from sqlalchemy import update
from sqlmodel import col

from bot.store.db import make_engine, session_scope, upgrade
from bot.store.lease import Holder, ServiceLease, release, renew, try_acquire, wall_now


def _engine(db_url: str):  # type: ignore[no-untyped-def]
    upgrade(db_url)
    return make_engine(db_url)


def test_one_holder_then_expiry_hands_it_over(db_url: str) -> None:
    engine = _engine(db_url)
    me = Holder.me()
    other = replace(me, host="elsewhere", pid=1, nonce="other")
    assert try_acquire(engine, me, 30).held
    state = try_acquire(engine, other, 30)
    assert not state.held and state.holder == me.text
    assert renew(engine, me, 30) and not renew(engine, other, 30)
    with session_scope(engine) as session:
        session.execute(update(ServiceLease).values(
            expires_at=wall_now() - timedelta(seconds=1)))
    taken = try_acquire(engine, other, 30)
    assert taken.held and taken.took_over == me.text
    assert not renew(engine, me, 30)  # the old holder learns it lost the lease
    release(engine, me)  # not ours any more: nothing happens
    assert not try_acquire(engine, me, 30).held
    release(engine, other)
    assert try_acquire(engine, me, 30).held
    engine.dispose()


def test_a_dead_holder_on_this_host_is_replaced_at_once(db_url: str) -> None:
    engine = _engine(db_url)
    me = Holder.me()
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    dead = replace(me, pid=child.pid, started="1", nonce="dead")
    assert try_acquire(engine, dead, 300).held
    taken = try_acquire(engine, me, 300)
    assert taken.held and taken.took_over == dead.text
    # A live process on this host (this one, under another identity) is not replaced.
    alive = replace(me, nonce="again")
    with session_scope(engine) as session:
        session.execute(update(ServiceLease).where(col(ServiceLease.name) == "intake")
                        .values(holder="someone-else", pid=1, host="elsewhere"))
    assert not try_acquire(engine, alive, 300).held
    engine.dispose()


def test_the_same_process_after_a_re_exec_takes_its_lease_at_once(db_url: str) -> None:
    engine = _engine(db_url)
    before = Holder.me()
    after = replace(before, nonce="re-exec")  # same pid and start time, new nonce
    assert try_acquire(engine, before, 300).held
    assert try_acquire(engine, after, 300).held
    engine.dispose()
