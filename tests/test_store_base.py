"""What store writers build on: TextStore and ConditionalTextStore (stores of
the docs' shape, run against the store contract), the detection of
conditional writes, decode_payload, and the optional dependencies imported
only with their store."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import typing as t

import pytest

from flask_koasession import codec
from flask_koasession.codec import dumps_json
from flask_koasession.stores import (
    ConditionalTextStore,
    MemoryStore,
    SessionStore,
    TextStore,
    is_conditional,
)
from tests.store_contract import (
    FORGED_MARKERS,
    NOT_SESSIONS,
    PAYLOAD,
    SESSION_PAYLOAD,
    ConditionalContract,
    FakeClock,
    StoreContract,
    put,
)

# -- TextStore -------------------------------------------------------------------


class DictStore(TextStore):
    """The custom store of the docs (``stores/base.py``, ``docs/stores.rst``),
    with a clock to inject: a whole store in a dozen lines."""

    def __init__(
        self, *, session_ttl: int | None = None, clock: t.Callable[[], float]
    ) -> None:
        super().__init__(session_ttl=session_ttl)
        self.clock = clock
        self.entries: dict[str, tuple[str, float | None]] = {}

    def read_text(self, key: str) -> str | None:
        text, deadline = self.entries.get(key, (None, None))
        if deadline is not None and deadline <= self.clock():
            return None
        return text

    def write_text(self, key: str, text: str, ttl: float | None) -> None:
        deadline = None if ttl is None else self.clock() + ttl
        self.entries[key] = (text, deadline)

    def destroy(self, key: str) -> None:
        self.entries.pop(key, None)


class TestTextStore(StoreContract):
    """A TextStore subclass keeps the whole contract."""

    @pytest.fixture
    def make_store(self, clock: FakeClock) -> t.Callable[..., SessionStore]:
        return lambda **kwargs: DictStore(clock=clock, **kwargs)

    @pytest.fixture
    def write_raw(self, store: DictStore) -> t.Callable[[str, bytes], None]:
        def write(key: str, raw: bytes) -> None:
            store.entries[key] = (raw.decode("utf-8", "replace"), None)

        return write

    def test_writes_the_json_text_with_its_ttl_in_seconds(
        self, store: DictStore, clock: FakeClock
    ) -> None:
        put(store, "key", PAYLOAD, 3_610_500)
        put(store, "browser", SESSION_PAYLOAD, "session")
        assert store.entries == {
            "key": (dumps_json(PAYLOAD), clock.now + 3610.5),
            "browser": (dumps_json(SESSION_PAYLOAD), None),
        }

    def test_a_subclass_must_write_the_three_methods(self) -> None:
        class Incomplete(TextStore):
            def read_text(self, key: str) -> str | None:
                return None

        with pytest.raises(TypeError, match="write_text"):
            Incomplete()  # type: ignore[abstract]


class LockedDictStore(ConditionalTextStore):
    """The docs' store with conditional writes (``docs/stores.rst``): the
    three text methods more, each under one lock."""

    def __init__(
        self, *, session_ttl: int | None = None, clock: t.Callable[[], float]
    ) -> None:
        super().__init__(session_ttl=session_ttl)
        self.clock = clock
        self.entries: dict[str, tuple[str, float | None]] = {}
        self.lock = threading.Lock()

    def read_text(self, key: str) -> str | None:
        text, deadline = self.entries.get(key, (None, None))
        if deadline is not None and deadline <= self.clock():
            return None
        return text

    def write_text(self, key: str, text: str, ttl: float | None) -> None:
        deadline = None if ttl is None else self.clock() + ttl
        with self.lock:
            self.entries[key] = (text, deadline)

    def destroy(self, key: str) -> None:
        with self.lock:
            self.entries.pop(key, None)

    def create_text(self, key: str, text: str, ttl: float | None) -> bool:
        with self.lock:
            if self.read_text(key) is not None:
                return False
            deadline = None if ttl is None else self.clock() + ttl
            self.entries[key] = (text, deadline)
            return True

    def replace_text(
        self, key: str, expected: str | bytes, text: str, ttl: float | None
    ) -> t.Literal[True] | str | None:
        with self.lock:
            current = self.read_text(key)
            if current != expected:
                return current  # another request saved, or None: gone
            deadline = None if ttl is None else self.clock() + ttl
            self.entries[key] = (text, deadline)
            return True

    def delete_text(
        self, key: str, expected: str | bytes
    ) -> t.Literal[True] | str | None:
        with self.lock:
            current = self.read_text(key)
            if current != expected:
                return current
            del self.entries[key]
            return True


class TestConditionalTextStore(ConditionalContract):
    """A ConditionalTextStore subclass keeps the whole contract, conditional
    writes included."""

    @pytest.fixture
    def make_store(self, clock: FakeClock) -> t.Callable[..., SessionStore]:
        return lambda **kwargs: LockedDictStore(clock=clock, **kwargs)

    @pytest.fixture
    def write_raw(self, store: LockedDictStore) -> t.Callable[[str, bytes], None]:
        def write(key: str, raw: bytes) -> None:
            store.entries[key] = (raw.decode("utf-8", "replace"), None)

        return write

    def test_a_subclass_must_write_the_text_methods(self) -> None:
        class Incomplete(ConditionalTextStore):
            def read_text(self, key: str) -> str | None:
                return None

            def write_text(self, key: str, text: str, ttl: float | None) -> None:
                pass

            def destroy(self, key: str) -> None:
                pass

        with pytest.raises(TypeError, match="create_text"):
            Incomplete()  # type: ignore[abstract]


# -- detecting conditional writes --------------------------------------------------


def test_conditional_writes_are_detected_from_the_class() -> None:
    assert is_conditional(MemoryStore())
    assert is_conditional(LockedDictStore(clock=FakeClock()))
    assert not is_conditional(DictStore(clock=FakeClock()))

    class Plain:
        def get(self, key: str, max_age: t.Any, *, rolling: bool) -> None:
            return None

        def set(self, *args: t.Any, **kwargs: t.Any) -> None:
            pass

        def destroy(self, key: str) -> None:
            pass

    assert not is_conditional(Plain())


def test_half_a_capability_is_refused() -> None:
    class Half(DictStore):
        def get_entry(self, key: str, max_age: t.Any, *, rolling: bool) -> None:
            return None

        def create(self, key: str, data: t.Any, max_age: t.Any) -> bool:
            return False

    with pytest.raises(TypeError) as caught:
        is_conditional(Half(clock=FakeClock()))
    message = str(caught.value)
    assert "Half has get_entry, create but not compare_and_set" in message
    assert "compare_and_delete" in message


# -- decoding --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "error", [TypeError, AttributeError, KeyError, IndexError, UnicodeError]
)
def test_any_decoding_error_is_a_miss(
    monkeypatch: pytest.MonkeyPatch, error: type[Exception]
) -> None:
    # Whatever a codec raises on a stored value (a custom tag, a future
    # marker...), the entry is no session: never an error for the request.
    def failing(text: str) -> t.Any:
        raise error("damaged")

    monkeypatch.setattr(codec, "loads_json", failing)
    assert codec.decode_payload('{"views":1}') is None
    assert codec.decode_payload(b'{"views":1}') is None


@pytest.mark.parametrize(
    "raw",
    [
        *NOT_SESSIONS.values(),
        *(raw.decode("utf-8", "replace") for raw in NOT_SESSIONS.values()),
    ],
)
def test_decode_payload_of_non_sessions(raw: str | bytes) -> None:
    assert codec.decode_payload(raw) is None


@pytest.mark.parametrize("raw", list(FORGED_MARKERS.values()), ids=list(FORGED_MARKERS))
def test_decode_payload_of_forged_markers(raw: bytes) -> None:
    loaded = codec.decode_payload(raw)
    assert loaded is None or type(loaded) is dict


# -- packaging ------------------------------------------------------------------------


def test_stores_import_without_optional_dependencies() -> None:
    code = textwrap.dedent(
        """
        import sys
        sys.modules["redis"] = None  # makes "import redis" fail
        sys.modules["sqlalchemy"] = None
        import flask_koasession
        from flask_koasession.stores import MemoryStore, SessionStore
        for name, extra in (("RedisStore", "redis"), ("SQLAlchemyStore", "sqlalchemy")):
            try:
                getattr(__import__("flask_koasession.stores").stores, name)
            except ImportError as error:
                assert f"flask-koasession[{extra}]" in str(error), error
            else:
                raise AssertionError(name + " imported without its dependency")
        print("ok")
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.stdout.strip() == "ok", result.stderr
