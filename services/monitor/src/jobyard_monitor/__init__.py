"""The monitor: what the platform is doing, as Prometheus metrics and JSON for the console.

Where a behaviour lives
-----------------------

=====================================================  ===========================================
queue depth, live workers, the scheduler's leader       ``depth.py`` (read: ``jobyard_libs.queue.depth``)
feed health from real outcomes; task outcomes           ``activity.py`` (counts: ``jobyard_libs.tasks.stats``)
each worker process (Busy page)                         ``workers.py``
the replies (``/api/v1/stats``, ``/stats/series``)      ``app.py`` (models: ``jobyard_libs.monitoring``)
=====================================================  ===========================================
"""
