"""``--no-lock`` on the mutating verbs: act while etcd is down, after saying what it risks.

Without etcd no deploy lock can be taken and a mutating verb refuses. With
``--no-lock`` the verb first makes sure etcd really cannot be reached (when it
answers, the cluster lock is there: refused, one line), then names the risk
and asks (``--yes`` skips the question). What it then runs holds only this
bastion's lock, is journalled here with every entry marked, and is copied to
etcd's journal by the first jobtui that reaches etcd again (see
:mod:`jobtui.backend.coordination.unlocked`).
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from jobtui.config.errors import JobtuiError

if TYPE_CHECKING:
    from jobtui.backend.deploy import DetachedDeployer

EXIT_USAGE = 2


def risk(service: str, why: str) -> str:
    """What running without the cluster lock risks, in the operator's words."""
    return (
        f"jobtui: {why}\n"
        f"jobtui: --no-lock: {service} is changed holding only this bastion's lock. An operator "
        f"on another bastion can change {service} at the same time, and sees no lock and no "
        "journal of this until etcd is back (the journal is kept here and copied to etcd then)."
    )


def without_cluster_lock(deployer: DetachedDeployer, args: argparse.Namespace) -> int | None:
    """Switch ``deployer`` to this bastion's lock after the operator agreed; ``None`` to go
    on, else the exit code (nothing changed)."""
    from jobtui.app.cli_ops import _ask

    try:
        deployer.no_lock = True
    except JobtuiError as exc:
        print(f"jobtui: {exc}", file=sys.stderr)
        return EXIT_USAGE
    coordinator = deployer.local.coordinator
    why = str(getattr(coordinator, "reason", "") or "etcd cannot be reached")
    names = args.service if isinstance(args.service, list) else [args.service]
    service = ", ".join(names)
    print(risk(service, why), file=sys.stderr)
    return _ask(f"{args.verb} {service} without the cluster lock?", args)
