"""Completion webhooks: what a finished execution's POST to its task's ``webhookUrl`` says.

The notification is queued (``tasks.send_webhook``) by the execution lifecycle when an
execution finishes, so whoever finished it never waits on someone else's server, and
delivery is retried with backoff. The worker POSTs this body, signed with the task's own
webhook secret (``X-Jobyard-Timestamp``, ``X-Jobyard-Signature``).
"""

from __future__ import annotations

from jobyard_libs.tasks.documents import Execution


def webhook_body(execution: Execution) -> dict[str, object]:
    return {
        "event": "execution.finished",
        "executionId": str(execution.id),
        "taskId": str(execution.task_id),
        "status": execution.status.value,
        "attempts": execution.attempts,
        "result": execution.result,
        "error": execution.error,
        "completedAt": execution.completed_at.isoformat() if execution.completed_at else None,
    }
