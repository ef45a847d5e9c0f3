"""The task engine's rules: tasks, executions, dead letters. Every service that runs or
shows tasks uses these; what only the worker does (running a kind) is in the worker.

Where a behaviour lives
-----------------------

=====================================================  ===========================================
a status change, and what it sets off (event, counts,   ``lifecycle.py`` (the writes: ``transitions``)
webhook); cancel; claim by a worker
a failed attempt: retry after backoff, or dead; replay  ``outcomes.py`` (the delay: ``backoff.py``)
what a task may carry and who may submit a kind         ``kinds/`` (runners: ``jobyard_worker.tasks.runners``)
when a recurring task runs next (cron, zones, DST)      ``schedule.py``
work runs only for an owner who may run it now          ``rights.py``
queueing an execution's message; lost messages          ``dispatch.py``
stored shapes; reads; owner scope                       ``documents.py``, ``repository.py``
counts and run times per minute (charts, monitor)       ``stats.py``
a running attempt's log lines                           ``live_logs.py``
one process's engine, wired                             ``engine.py``
what the api answers: tasks, executions, dead letters  ``replies.py`` (read by the console too)
=====================================================  ===========================================
"""
