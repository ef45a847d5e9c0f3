"""Workflows: steps that wait for steps (chains, fan-in, conditions), each step one
execution of a task kind, the graph's state in MongoDB beside the executions, so a
workflow survives any process dying.

Where a behaviour lives
-----------------------

=====================================================  ===========================================
a valid graph (ids, dependencies, cycles, size); when   ``models.py`` (pure: ``make test-unit``)
a step runs or is skipped; what a workflow came to;
a step's payload taking values from earlier results
how a workflow moves on: a step starts exactly once,    ``progress.py`` (run by the lifecycle when
ends with its execution; the reconciler after a crash  a step's execution ends, and the scheduler)
stored shapes; conditional updates; owner scope         ``documents.py``, ``repository.py``
what the api answers                                    ``replies.py``
submit, read, list, cancel                              ``jobyard_api.workflows``
=====================================================  ===========================================
"""
