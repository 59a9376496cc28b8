"""Deploy locks, instance registration and the deploy journal in etcd v3.

Key layout under the inventory's ``etcd.prefix`` (default ``/jobtui``); every
value is a JSON object:

``<prefix>/services/<service>/<host>``
    One running instance, for the load balancers (confd):
    ``{"address": "127.0.0.1", "port": 18080, "container": "web_1700000000",
    "version": "v2", "updated": 1700000000.5}`` — ``port`` is ``null`` for a
    service without one, ``updated`` is Unix time. Put when an instance starts
    or is replaced, deleted when it stops. A confd template ranges over
    ``getvs "<prefix>/services/<service>/*"`` and reads ``address`` and ``port``.

``<prefix>/locks/<service>``
    The service's deploy lock: ``{"user", "host", "pid", "since", "op",
    "start_time", "boot_id"}`` of the holder. Created only if absent (a
    transaction comparing the key's create revision with 0) and attached to a
    lease of the lock's TTL that the holder refreshes while it works; a holder
    that dies stops refreshing and its lock disappears with the lease. A holder
    on the same bastion that is gone is released at once (see
    :mod:`~jobtui.backend.coordination.stale`).

``<prefix>/journal/<time-ns, 20 digits>-<op_id>-<state>``
    One journal record: ``{"op_id", "kind", "service", "user", "bastion",
    "hosts", "from_version", "to_version", "state", "time", "duration",
    "message"}``. An operation writes ``started`` before it touches anything,
    then ``done``, ``failed``, ``aborted``, ``changed`` or ``recovered``. Keys
    sort by time, so the newest are read with a descending range.

Every call has a deadline (``timeout``); an etcd that cannot be reached raises
:class:`~jobtui.backend.coordination.factory.CoordinationError` instead of hanging.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import math
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from jobtui.backend.contract import Instance, JournalEntry, LockedError, LockOwner
from jobtui.backend.coordination.etcd_import import EtcdImportError, load_etcd3
from jobtui.backend.coordination.factory import (
    CoordinationError,
    LockLost,
    entry_from_json,
    entry_to_json,
    instance_from_json,
    instance_to_json,
    owner_from_json,
    owner_to_json,
)
from jobtui.config.models import EtcdConfig

T = TypeVar("T")

JOURNAL_PAGE = 200
"""Journal keys read per request while filtering by service."""


def parse_endpoint(endpoint: str) -> tuple[str, int]:
    """``host:port`` (optionally ``http://``, IPv6 in brackets) into host and port."""
    text = endpoint.strip()
    for scheme in ("http://", "https://"):
        if text.startswith(scheme):
            text = text[len(scheme) :]
    text = text.rstrip("/")
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port_text = rest.removeprefix(":")
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
    else:
        host, port_text = text, ""
    try:
        port = int(port_text) if port_text else 2379
    except ValueError:
        raise CoordinationError(f"etcd endpoint {endpoint!r} is not host:port") from None
    if not host or not 0 < port < 65536:
        raise CoordinationError(f"etcd endpoint {endpoint!r} is not host:port")
    return host, port


class EtcdCoordinator:
    """The :class:`~jobtui.backend.contract.Coordinator` on etcd v3 (see the module doc)."""

    def __init__(
        self, config: EtcdConfig, *, timeout: float = 5.0, local_locks: Path | None = None
    ) -> None:
        """``local_locks``: where this bastion's ``--no-lock`` operations hold their
        locks; a service held there is refused here too (see :meth:`acquire`)."""
        try:
            self._etcd3: Any = load_etcd3()
        except EtcdImportError as exc:
            raise CoordinationError(str(exc)) from exc
        # grpc has no type stubs; its error class is only needed to catch it.
        self._rpc_error: type[Exception] = importlib.import_module("grpc").RpcError
        errors = self._etcd3.exceptions
        self._lost = (errors.ConnectionFailedError, errors.ConnectionTimeoutError)
        self.config = config
        self.timeout = timeout
        self._base = config.prefix.rstrip("/")
        self._endpoints = [parse_endpoint(e) for e in config.endpoints]
        self._user, self._password = _credentials(config)
        self._guard = threading.Lock()
        self._client: Any = None
        self._endpoint = ""
        self._local_locks = local_locks

    # Keys.

    def instance_key(self, service: str, host: str) -> str:
        return f"{self._base}/services/{service}/{host}"

    def lock_key(self, service: str) -> str:
        return f"{self._base}/locks/{service}"

    def journal_key(self, entry: JournalEntry) -> str:
        return f"{self._base}/journal/{round(entry.time * 1e9):020d}-{entry.op_id}-{entry.state}"

    # Locks.

    def acquire(self, service: str, owner: LockOwner, ttl: float = 60.0) -> EtcdServiceLock:
        """Take the service's deploy lock or raise ``LockedError`` naming the holder.

        A ``--no-lock`` operation still running on this bastion (etcd came back
        meanwhile) holds only a local lock: it is the holder then.
        """
        local = self._unlocked_holder(service)
        if local is not None:
            raise LockedError(service, local)
        key, value = self.lock_key(service), owner_to_json(owner)
        lease_ttl = max(1, math.ceil(ttl))

        def attempt(client: Any) -> tuple[int | None, bytes | None]:
            lease = client.lease(lease_ttl)
            txn = client.transactions
            try:
                won, responses = client.transaction(
                    compare=[txn.create(key) == 0],
                    success=[txn.put(key, value, lease=lease.id)],
                    failure=[txn.get(key)],
                )
            except BaseException:
                _quietly(lambda: client.revoke_lease(lease.id))
                raise
            if won:
                return int(lease.id), None
            client.revoke_lease(lease.id)
            found = responses[0] if responses else []
            return None, (found[0][0] if found else None)

        lease_id, held_by = self._call(f"lock {service}", attempt)
        if lease_id is None:
            raise LockedError(service, owner_from_json(held_by) if held_by else None)
        return EtcdServiceLock(self, service, key, value, lease_id)

    def _unlocked_holder(self, service: str) -> LockOwner | None:
        if self._local_locks is None or not (self._local_locks / f"{service}.lock").exists():
            return None
        from jobtui.backend.coordination.local import LocalCoordinator

        return LocalCoordinator(self._local_locks.parent).holder(service)

    def ping(self) -> None:
        """Reach etcd once (``CoordinationError`` when no endpoint answers)."""
        self._call("answer", lambda c: c.status())

    def holder(self, service: str) -> LockOwner | None:
        value, _meta = self._call(
            f"read the lock of {service}", lambda c: c.get(self.lock_key(service))
        )
        return owner_from_json(value) if value else None

    def holders(self) -> dict[str, LockOwner]:
        """Service → holder of every lock held now, in one range read of the locks prefix."""
        prefix = f"{self._base}/locks/"
        found = self._call("read the locks", lambda c: list(c.get_prefix(prefix)))
        return {
            meta.key.decode()[len(prefix) :]: owner
            for value, meta in found
            if value and (owner := owner_from_json(value)) is not None
        }

    def break_lock(self, service: str, holder: LockOwner | None) -> bool:
        """Delete the lock if ``holder`` (any, when ``None``) still holds it; its lease goes too."""
        key = self.lock_key(service)

        def attempt(client: Any) -> bool:
            value, meta = client.get(key)
            if value is None:
                return True
            if holder is not None and owner_from_json(value) != holder:
                return False
            txn = client.transactions
            won, _ = client.transaction(
                compare=[txn.value(key) == value], success=[txn.delete(key)], failure=[]
            )
            lease_id = getattr(meta, "lease_id", 0)
            if won and lease_id:
                _quietly(lambda: client.revoke_lease(lease_id))
            return bool(won)

        return self._call(f"break the lock of {service}", attempt)

    # Instances.

    def register(self, instance: Instance) -> None:
        key = self.instance_key(instance.service, instance.host)
        value = instance_to_json(instance)
        self._call(f"register {instance.service} on {instance.host}", lambda c: c.put(key, value))

    def deregister(self, service: str, host: str) -> None:
        key = self.instance_key(service, host)
        self._call(f"deregister {service} on {host}", lambda c: c.delete(key))

    def put_instance_if_newer(
        self, service: str, host: str, instance: Instance | None, updated: float
    ) -> bool:
        """Set (or, with ``None``, delete) an instance key changed at ``updated`` unless
        etcd holds a newer change of it; whether it was applied."""
        key = self.instance_key(service, host)

        def attempt(client: Any) -> bool:
            value, _meta = client.get(key)
            if value is not None:
                stored = _updated(value)
                if stored is not None and stored >= updated:
                    return False
            if instance is None:
                client.delete(key)
            else:
                client.put(key, instance_to_json(instance, updated))
            return True

        return self._call(f"replay the instance of {service} on {host}", attempt)

    def instances(self, service: str) -> Sequence[Instance]:
        prefix = f"{self._base}/services/{service}/"
        found = self._call(f"list instances of {service}", lambda c: list(c.get_prefix(prefix)))
        result: list[Instance] = []
        for value, meta in found:
            host = meta.key.decode()[len(prefix) :]
            instance = instance_from_json(service, host, value)
            if instance is not None:
                result.append(instance)
        return sorted(result, key=lambda i: i.host)

    # Journal.

    def record(self, entry: JournalEntry) -> None:
        key, value = self.journal_key(entry), entry_to_json(entry)
        self._call(f"write the journal of {entry.service}", lambda c: c.put(key, value))

    def journal(self, service: str | None = None, limit: int = 50) -> Sequence[JournalEntry]:
        """Newest first; only ``service``'s entries when it is given."""
        start = f"{self._base}/journal/"
        end = f"{self._base}/journal0"  # '0' follows '/': the end of the prefix range
        found: list[JournalEntry] = []
        while len(found) < limit:
            # With a filter a page may hold fewer matches than asked: keep paging back.
            page = self._journal_page(start, end)
            for kv in page:
                entry = entry_from_json(kv.value)
                if entry is not None and (service is None or entry.service == service):
                    found.append(entry)
            if len(page) < JOURNAL_PAGE:
                break
            end = page[-1].key  # the range end is exclusive: continue below the oldest seen
        return found[:limit]

    def _journal_page(self, start: str, end: str | bytes) -> list[Any]:
        def read(client: Any) -> list[Any]:
            response = client.get_range_response(
                start, end, sort_order="descend", sort_target="key", limit=JOURNAL_PAGE
            )
            return list(response.kvs)

        return self._call("read the journal", read)

    def close(self) -> None:
        with self._guard:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    # Connection.

    @property
    def endpoint(self) -> str:
        """The endpoint in use, ``""`` before the first call."""
        return self._endpoint

    def _call(self, what: str, action: Callable[[Any], T]) -> T:
        client = self._connected()
        try:
            return action(client)
        except (self._etcd3.Etcd3Exception, self._rpc_error) as exc:
            if isinstance(exc, self._lost):
                # Forget the client so the next call tries every endpoint again.
                with self._guard:
                    if self._client is client:
                        self._client = None
                _quietly(client.close)
            raise CoordinationError(
                f"etcd {self._endpoint}: cannot {what}: {_reason(exc)}"
            ) from exc

    def _connected(self) -> Any:
        with self._guard:
            if self._client is not None:
                return self._client
            problems: list[str] = []
            for host, port in self._endpoints:
                try:
                    client = self._etcd3.client(
                        host, port, timeout=self.timeout, user=self._user, password=self._password
                    )
                except self._rpc_error as exc:  # authentication is the only call made here
                    problems.append(f"{host}:{port}: {_reason(exc)}")
                    continue
                try:
                    client.status()
                except (self._etcd3.Etcd3Exception, self._rpc_error) as exc:
                    problems.append(f"{host}:{port}: {_reason(exc)}")
                    _quietly(client.close)
                    continue
                self._client, self._endpoint = client, f"{host}:{port}"
                return client
            raise CoordinationError("etcd cannot be reached: " + "; ".join(problems))


class EtcdServiceLock:
    """A held deploy lock: a key attached to a lease that must be refreshed."""

    def __init__(
        self, coordinator: EtcdCoordinator, service: str, key: str, value: str, lease_id: int
    ) -> None:
        self.service, self.key, self.lease_id = service, key, lease_id
        self._coordinator, self._value = coordinator, value
        self._released = False
        self.replaced: LockOwner | None = None

    def refresh(self) -> None:
        """Extend the lease. ``LockLost`` when it expired or was revoked, or the lock key
        no longer holds our name (deleted from outside); ``CoordinationError`` when etcd
        cannot be asked (the lock may still be ours)."""

        def attempt(client: Any) -> tuple[list[Any], bytes | None]:
            responses = list(client.refresh_lease(self.lease_id))
            value, _meta = client.get(self.key)
            return responses, value

        responses, value = self._coordinator._call(f"refresh the lock of {self.service}", attempt)
        if not responses or responses[0].TTL <= 0:
            raise LockLost(
                f"the deploy lock of {self.service} expired (its lease ran out or was "
                "revoked); another operator may have taken it"
            )
        if value != self._value.encode():
            raise LockLost(
                f"the deploy lock of {self.service} is no longer ours (its key was deleted "
                "or taken over)"
            )

    def release(self) -> None:
        """Delete the lock if it is still ours, then revoke the lease (idempotent)."""
        if self._released:
            return
        self._released = True
        key, value = self.key, self._value

        def delete_if_ours(client: Any) -> None:
            txn = client.transactions
            client.transaction(
                compare=[txn.value(key) == value], success=[txn.delete(key)], failure=[]
            )

        self._coordinator._call(f"release the lock of {self.service}", delete_if_ours)
        # The lease may have expired already (NOT_FOUND): nothing is left to free then.
        lease_id = self.lease_id
        _quietly(lambda: self._coordinator._call("revoke", lambda c: c.revoke_lease(lease_id)))


def _updated(value: bytes) -> float | None:
    try:
        data = json.loads(value)
        return float(data["updated"])
    except (ValueError, TypeError, KeyError, UnicodeDecodeError):
        return None


def _credentials(config: EtcdConfig) -> tuple[str | None, str | None]:
    if config.password_env is None:
        if config.username is not None:
            raise CoordinationError("etcd.username is set but etcd.password_env is not")
        return None, None
    password = os.environ.get(config.password_env)
    if password is None:
        raise CoordinationError(f"etcd.password_env names {config.password_env}, which is not set")
    if config.username is None:
        raise CoordinationError("etcd.password_env is set but etcd.username is not")
    return config.username, password


def _reason(exc: BaseException) -> str:
    details = getattr(exc, "details", None)
    if callable(details):
        text = details()
        if text:
            return str(text)
    return str(exc) or type(exc).__name__


def _quietly(action: Callable[[], object]) -> None:
    # Best-effort cleanup: the caller reports the real problem, if any.
    with contextlib.suppress(Exception):
        action()
