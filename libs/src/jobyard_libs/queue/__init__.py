"""Dramatiq on Redis, as every service uses it: the broker, the contract, depth, liveness.
The worker's ``@actor`` registry is the worker's (:mod:`jobyard_worker.actor_registry`).

Where a behaviour lives
-----------------------

=====================================================  ===========================================
queue and actor names, message payloads                 ``contracts.py``
sending a message (with the request id)                 ``sender.py``
the broker, its namespace and options                   ``broker.py``
how much work a queue holds (ready, due, in flight)     ``depth.py`` (read by monitor and operator)
whether a worker is alive; whose work to take over      ``liveness.py``
=====================================================  ===========================================
"""
