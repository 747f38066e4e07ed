"""SQLAlchemyStore on a real PostgreSQL server against the store contract;
outages and restarts."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from devkit.servers import PostgresServer, free_port
from flask_koasession.exceptions import SessionStoreError
from flask_koasession.stores import SQLAlchemyStore
from tests.store_contract import PAYLOAD, SQLContract, fetch, put


class TestPostgresStore(SQLContract):
    @pytest.fixture
    def database_url(self, postgres_server: str) -> str:
        return postgres_server

    def test_unreachable_server_is_a_store_error(self) -> None:
        url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/none"
        url += "?connect_timeout=2"
        with pytest.raises(SessionStoreError) as made:
            SQLAlchemyStore(url)
        assert (made.value.operation, made.value.key) == ("create_table", None)
        assert isinstance(made.value.__cause__, sa.exc.OperationalError)
        store = SQLAlchemyStore(url, create_table=False)
        calls = {
            "get": lambda: fetch(store, "k"),
            "set": lambda: put(store, "k", PAYLOAD),
            "destroy": lambda: store.destroy("k"),
            "cleanup": store.cleanup,
        }
        try:
            for operation, call in calls.items():
                with pytest.raises(SessionStoreError) as caught:
                    call()
                error = caught.value
                assert (error.store, error.operation) == ("SQLAlchemyStore", operation)
                assert error.key == (None if operation == "cleanup" else "k")
                assert isinstance(error.__cause__, sa.exc.OperationalError)
        finally:
            store.close()

    def test_server_restart(
        self, store: SQLAlchemyStore, postgres_instance: PostgresServer
    ) -> None:
        put(store, "key", PAYLOAD)
        postgres_instance.stop()
        try:
            with pytest.raises(SessionStoreError) as caught:
                fetch(store, "key")
            assert isinstance(caught.value.__cause__, sa.exc.OperationalError)
        finally:
            postgres_instance.start()
        # The pool replaces its broken connections; the data survived.
        assert fetch(store, "key") == PAYLOAD


class TestPostgresPortableStatements(TestPostgresStore):
    """Every test again with the portable statements that other dialects
    (MySQL...) get: a conditional save that finds the row changed reads it
    with a second statement, a create and an upsert are two."""

    portable = True
