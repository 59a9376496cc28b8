"""Taking a deploy lock, releasing it first when its holder is gone from this bastion.

The rule (TTL and staleness, for both backends):

* a holder recorded on this bastion, in this boot, whose process no longer
  exists (pid gone, or reused by a process with another start time) is
  **stale**: its lock is released at once and the release is journalled;
* any other holder (another bastion, or one that cannot be told apart) keeps
  the lock until it releases it or, with etcd, its lease of
  :data:`LOCK_TTL` seconds runs out unrefreshed;
* ``force-unlock`` releases a lock whatever holds it, journalled as forced.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable

from jobtui.backend.contract import (
    Coordinator,
    JournalEntry,
    LockedError,
    LockOwner,
    OpKind,
    ServiceLock,
)
from jobtui.backend.coordination.identity import HolderState, holder_state

log = logging.getLogger(__name__)

LOCK_TTL = 30.0
"""Seconds an etcd deploy lock outlives a holder that stopped refreshing it.

The holder refreshes every third of it, so two refreshes may fail (an etcd
leader election takes a second or two, a network hiccup some more) before
the lease ends under a live operation; and a bastion that lost power or its
network blocks the service for at most half a minute. A holder on the same
bastion that died does not wait for it at all (see the module doc)."""


def take_lock(
    coordinator: Coordinator,
    service: str,
    owner: LockOwner,
    ttl: float = LOCK_TTL,
    *,
    clock: Callable[[], float],
) -> ServiceLock:
    """``coordinator.acquire``, after releasing (and journalling) a stale holder's lock.

    Raises ``LockedError`` when a live or remote holder has it.
    """
    try:
        lock = coordinator.acquire(service, owner, ttl)
    except LockedError as exc:
        holder = exc.holder
        if holder is None or holder_state(holder) is not HolderState.GONE:
            raise
        if not coordinator.break_lock(service, holder):
            raise  # someone else took it meanwhile: they are the holder now
        _journal_quietly(coordinator, service, holder, owner, clock())
        lock = coordinator.acquire(service, owner, ttl)
    else:
        if lock.replaced is not None:  # a local lock whose holder died holding it
            _journal_quietly(coordinator, service, lock.replaced, owner, clock())
    return lock


def _journal_quietly(
    coordinator: Coordinator, service: str, holder: LockOwner, owner: LockOwner, now: float
) -> None:
    # The lock is taken (or free): a journal that cannot be written must not leak it.
    try:
        record_unlock(coordinator, service, holder, owner, now, forced=False)
    except Exception:
        log.warning("the release of %s's stale lock was not journalled", service, exc_info=True)


def unlock_message(holder: LockOwner | None, *, forced: bool, by: LockOwner) -> str:
    """What the journal says about a lock released without its holder."""
    who = holder.describe() if holder is not None else "an unknown holder"
    if forced:
        return f"lock of {who} forced open by {by.user}@{by.host}"
    pid = holder.pid if holder is not None else "?"
    return f"stale lock of {who} released: pid {pid} is gone from {by.host}"


def record_unlock(
    coordinator: Coordinator,
    service: str,
    holder: LockOwner | None,
    by: LockOwner,
    now: float,
    *,
    forced: bool,
) -> JournalEntry:
    """Journal a lock released without its holder (one entry: its own operation)."""
    message = unlock_message(holder, forced=forced, by=by)
    return record_action(coordinator, OpKind.UNLOCK, service, by, now, message)


def record_action(
    coordinator: Coordinator,
    kind: OpKind,
    service: str,
    by: LockOwner,
    now: float,
    message: str,
    *,
    state: str = "done",
) -> JournalEntry:
    """Journal an action that is over as soon as it is done (one entry, its own op id):
    a lock released, ``read_only: true`` lifted with ``--read-write``."""
    entry = JournalEntry(
        uuid.uuid4().hex[:8], kind, service, by.user, (), None, None, state, now, 0.0, message,
        by.host,
    )  # fmt: skip
    coordinator.record(entry)
    return entry
