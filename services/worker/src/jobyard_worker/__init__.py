"""The worker: Dramatiq actors for imports and tasks, and what each task kind runs.

Where a behaviour lives
-----------------------

=====================================================  ===========================================
one attempt: claim, run within its timeout, cancel,     ``tasks/service.py`` (``Executor``)
finish; a dead worker's attempt taken over
what a kind does                                        ``tasks/runners/<kind>.py``
completion webhooks                                     ``tasks/webhooks.py``
applying one import batch, counted once                 ``imports/service.py``
declaring actors; an outage requeues, not retries       ``actor_registry.py``
heartbeats and the worker's card                        ``heartbeat.py``
=====================================================  ===========================================
"""
