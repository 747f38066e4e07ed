"""What the tests and the benchmarks both use to run against real servers.

A development package of the checkout, never shipped in the wheel of
flask-koasession (``[tool.hatch.build.targets.wheel]`` lists only
``flask_koasession``). It imports no pytest, since the benchmarks run with the
``[bench]`` extra alone, and neither ``tests`` nor ``benchmarks``: both import
it, from the repository root (where ``pytest`` and ``python -m benchmarks``
run, and which an editable install puts on ``sys.path``).

- :mod:`devkit.servers`: throw-away ``redis-server`` (plain, Sentinel,
  Cluster) and PostgreSQL processes on free loopback ports.
- :mod:`devkit.traffic`: what a block of code asks of Redis (``MONITOR``),
  PostgreSQL (a relay that reads the wire protocol) and SQLite (the
  library's trace callback).
- :mod:`devkit.payloads`: session data that both use (a large cart).
"""
