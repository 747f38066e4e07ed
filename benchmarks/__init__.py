"""Benchmarks of flask-koasession beside Flask's and Flask-Session's sessions.

Run ``python -m benchmarks`` (or ``benchmarks/run``) from the repository root;
``python -m benchmarks --help`` lists the sections and options. Figures are
printed, never asserted: see ``docs/performance.rst``.
"""
