"""Shared fixtures: real servers started once per test session (see servers.py):
redis_server, redis_sentinel, redis_cluster, postgres_instance and
postgres_server (its SQLAlchemy URL)."""

pytest_plugins = ["tests.servers"]
