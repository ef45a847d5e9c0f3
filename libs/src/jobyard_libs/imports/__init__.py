"""The feed import's rules: feed sources, import logs, postings (``jobs``). Parsing and
fetching feeds is :mod:`jobyard_libs.feeds`; applying a batch is the worker's.

Where a behaviour lives
-----------------------

=====================================================  ===========================================
one import: fetch, keep the raw copy, parse, batch,     ``pipeline.py`` (run by the worker's
queue; resume a stalled one                             ``run_feed`` actor or the scheduler)
one import per feed at a time; counts once per batch;   ``import_logs.py``
a run's finish, its abandonment
new / updated / unchanged postings; the content hash    ``jobs.py``, ``models.py`` (applied by
                                                        ``jobyard_worker.imports.service``)
which feeds run; their validators and last outcome      ``feed_sources.py``
the raw feed kept 7 days                                ``raw_feeds.py``
stored shapes; postings on their way in                 ``documents.py``
what the api answers: imports, jobs, feed sources      ``replies.py`` (read by the console too)
=====================================================  ===========================================
"""
