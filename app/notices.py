"""The notifications at the end of operations: one per operation, one per group of them."""

from __future__ import annotations

from collections.abc import Sequence

from textual.notifications import SeverityLevel

from jobtui.app.screens.rollout import Operation, overall_line
from jobtui.backend.contract import OpKind, OpResult, Outcome


def outcome_notice(op: Operation, result: OpResult) -> tuple[str, SeverityLevel]:
    """The notification at the end of ``op``: what happened and, on failure, why."""
    failed = [h for h in result.hosts if not h.ok]
    reason = result.message or "; ".join(f"{h.host}: {h.reason}" for h in failed if h.reason)
    if result.outcome is Outcome.DONE:
        return f"{op.title}: done.", "information"
    if result.outcome is Outcome.ABORTED:
        return f"{op.title}: aborted. Hosts already done keep the new version.", "warning"
    if result.outcome is Outcome.LOCKED:
        return f"{op.title}: refused, {reason or 'the service is locked'}.", "error"
    if result.outcome is Outcome.CHANGED:
        return (
            f"{op.title}: not started — {op.service} changed since the plan was shown "
            f"({reason}). Here is the new plan.",
            "warning",
        )
    kept = ""
    if op.kind in (OpKind.DEPLOY, OpKind.ROLLBACK):
        kept = " The previous version keeps serving."
    return f"{op.title}: failed — {reason or 'no reason given'}.{kept}", "error"


def group_notice(ops: Sequence[Operation]) -> tuple[str, str, SeverityLevel]:
    """The one notification at the end of several operations launched together:
    a title summing them up, one line per service, and the worst severity."""
    lines: list[str] = []
    worst: SeverityLevel = "information"
    rank = {"information": 0, "warning": 1, "error": 2}
    for op in ops:
        if op.result is None:
            continue
        text, severity = outcome_notice(op, op.result)
        lines.append(text)
        if rank[severity] > rank[worst]:
            worst = severity
    title = overall_line(ops).plain.split(" ", 1)[1]  # without the icon
    return title, "\n".join(lines), worst
