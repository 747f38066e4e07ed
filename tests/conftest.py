# --- store-layer fixtures (tests/servers.py) -----------------------------------
# Real servers, started once per test session: redis_server, redis_sentinel,
# redis_cluster, postgres_instance, postgres_server (its SQLAlchemy URL).
pytest_plugins = ["tests.servers"]
# --- end of store-layer fixtures -------------------------------------------------
