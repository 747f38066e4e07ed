"""Redis client-side caching (redis-py ``cache_config``, RESP3) with RedisStore.

The store is used as it is; only the client it is given changes::

    client = redis.Redis(..., protocol=3, cache_config=CacheConfig())
    KoaSession(app, store=RedisStore(client))

redis-py then keeps ``GET`` replies in process, and Redis (``CLIENT
TRACKING``) tells it when a key it read changes, so that a read-only request
can be served without a round trip. Three things are shown:

1. whether redis-py accepts the server at all (it refuses Redis before 7.4);
2. cost and round trips of read and write requests: plain RESP2 client, RESP3
   client, RESP3 client with the cache;
3. coherence: after a write elsewhere (another app instance's request, a raw
   ``SET`` as a Koa app with koa-redis makes, a ``DEL``), the next read of the
   caching app must see it. Each is tried many times and stale reads counted.
"""

from __future__ import annotations

import contextlib
import json
import typing as t

import flask

from . import inprocess, servers
from .apps import Backends, build_app, redis_client
from .client import Browser

#: Trials of each coherence check.
TRIALS = 1000


def _dump() -> str:
    return json.dumps(dict(flask.session), sort_keys=True)


def check_server(url: str) -> str | None:
    """``None`` if redis-py caches against this server, else why not."""
    import redis
    from redis.cache import CacheConfig

    version = redis.Redis.from_url(url).info("server")["redis_version"]
    client = redis_client(url, protocol=3, cache_config=CacheConfig())
    try:
        client.get("koa-bench:probe")
    except redis.ConnectionError as error:
        return f"redis-py refuses Redis {version} for client-side caching: {error}"
    finally:
        client.close()
    return None


def coherence(url: str) -> list[tuple[str, int, int]]:
    """Stale reads of the caching app after each kind of write elsewhere.

    :return: ``(what, stale reads, trials)`` for each check.
    """
    import redis

    results = []
    with contextlib.ExitStack() as cleanup:
        backends = Backends(redis_url=url)
        cached_app = build_app("koa-redis-cached", backends, cleanup)
        other_app = build_app("koa-redis", backends, cleanup)
        for app in (cached_app, other_app):
            app.add_url_rule("/dump", view_func=_dump)
        raw = redis.Redis.from_url(url, decode_responses=True)
        cleanup.callback(raw.close)

        cached = Browser(cached_app)
        cached.get("/new")
        other = Browser(other_app)
        other.jar = cached.jar  # the same visitor, served by another worker
        key = cached.jar["koa.sess"]

        def read() -> dict[str, t.Any]:
            return t.cast(dict[str, t.Any], json.loads(cached.get("/dump").body))

        stale = dict.fromkeys(
            (
                "another app's write request",
                "a raw SET (a Koa app)",
                "own write request, then read",
                "a DEL (logout elsewhere)",
            ),
            0,
        )
        for trial in range(TRIALS):
            read()  # now cached
            other.get("/write")
            expected = json.loads(raw.get(key) or "{}").get("views")
            if read().get("views") != expected:
                stale["another app's write request"] += 1

            read()
            payload = json.loads(raw.get(key) or "{}")
            payload["koa"] = trial
            raw.set(key, json.dumps(payload), ex=86_410)
            if read().get("koa") != trial:
                stale["a raw SET (a Koa app)"] += 1

            read()
            cached.get("/write")
            expected = json.loads(raw.get(key) or "{}").get("views")
            if read().get("views") != expected:
                stale["own write request, then read"] += 1

        for _ in range(TRIALS):
            visitor = Browser(cached_app)
            visitor.get("/new")
            visitor.get("/read")  # now cached
            raw.delete(visitor.jar["koa.sess"])
            if json.loads(visitor.get("/dump").body):
                stale["a DEL (logout elsewhere)"] += 1
        results = [(what, count, TRIALS) for what, count in stale.items()]
    return results


def main(
    binary: str | None,
    *,
    requests: int,
    rounds: int,
    trim: float = 0.1,
    progress: t.Callable[[str], None] = lambda message: None,
) -> None:
    print("Redis client-side caching (redis-py cache_config, RESP3):")
    with servers.redis_server(binary) as url:
        refusal = check_server(url)
        if refusal is not None:
            print(f"  {refusal}.")
            print(
                "  Nothing to measure on this server: RedisStore needs no change,"
                " the server does (Debian 12 ships Redis 7.0). Rerun with"
                " --cache-redis-server PATH to a redis-server >= 7.4."
            )
            return
        results = inprocess.run(
            ["koa-redis", "koa-redis-resp3", "koa-redis-cached"], Backends(url),
            requests=requests, rounds=rounds, cases=("read", "write"), trim=trim,
            progress=progress,
        )  # fmt: skip
        inprocess.print_results(results, ("read", "write"))
        print()
        progress("coherence checks")
        print("Coherence: a read by the caching app right after a write elsewhere.")
        for what, count, trials in coherence(url):
            print(f"  {what}: {count} stale reads in {trials}")
