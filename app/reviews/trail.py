"""The audit trail as sentences a person reads: who did what to which comment and bug."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.audit.models import AuditEvent

SUMMARY = -1
ACTORS = {"candidate": "The candidate", "system": "Redline", "cli": "An operator (command line)"}


def _comment(index: Any) -> str:
    if not isinstance(index, int):
        return "a comment"
    return "the summary" if index == SUMMARY else f"comment {index + 1}"


def _number(value: Any) -> str:
    return f"{value:.1f}" if isinstance(value, int | float) else "—"


def actor_name(event: AuditEvent, names: Mapping[int, str]) -> str:
    """The person behind an event by display name, or what the label stands for."""
    if event.actor_id is not None and event.actor_id in names:
        return names[event.actor_id]
    return ACTORS.get(event.actor_label, event.actor_label)


def describe(event: AuditEvent, names: Mapping[int, str]) -> str:
    """One event of a submission's trail as a sentence."""
    who = actor_name(event, names)
    before: dict[str, Any] = dict(event.before or {})
    after: dict[str, Any] = dict(event.after or {})
    action = event.action
    kind, _, verb = action.partition(".")
    if kind == "match":
        target = f"the match of {_comment(after.get('comment'))} to {after.get('bug')}"
        said = {
            "confirmed": f"confirmed {target}",
            "rejected": f"rejected {target}",
            "added": f"added a match of {_comment(after.get('comment'))} to {after.get('bug')}",
            "cleared": f"cleared the decision on {target}",
        }.get(verb, f"{verb} {target}")
        return (
            f"{who} {said}; total {_number(before.get('total'))} → {_number(after.get('total'))}."
        )
    if kind == "flag":
        flag = str(after.get("kind", "")).replace("_", " ")
        on = (
            "the review as a whole"
            if after.get("comment") == SUMMARY
            else _comment(after.get("comment"))
        )
        said = {"confirmed": "confirmed", "dismissed": "dismissed", "cleared": "cleared"}.get(
            verb, verb
        )
        return f"{who} {said} the {flag} red flag on {on}."
    if action == "dimension.overridden":
        dimension = str(after.get("dimension", "")).replace("_", " ")
        return (
            f"{who} set {dimension} to {_number(after.get('override'))} "
            f"(was {_number(before.get('value'))}): {after.get('reason') or 'no reason given'}."
        )
    if action == "dimension.override_cleared":
        dimension = str(after.get("dimension", "")).replace("_", " ")
        return f"{who} removed the override of {dimension}; it is {_number(after.get('value'))}."
    if action == "grade.finalized":
        return f"{who} finalized the grade at {_number(after.get('total'))}."
    if action == "grade.reopened":
        return f"{who} reopened the grade: {after.get('reason') or 'no reason given'}."
    if action == "candidate.revealed":
        return f"{who} revealed who the candidate is before the grade was final."
    if action == "submission.submitted":
        return f"The candidate submitted the review ({after.get('comments', '?')} comments)."
    if action == "submission.auto_submitted":
        return (
            f"The time ran out and the review was submitted as last saved "
            f"({after.get('comments', '?')} comments)."
        )
    if action == "auto_score.failed":
        return f"Auto-grading failed: {after.get('error') or 'no detail'}."
    return f"{who}: {action.replace('.', ' ').replace('_', ' ')}."
