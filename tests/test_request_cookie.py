"""The session cookie is found in the Cookie header as ``request.cookies``
finds it, whichever path (plain-header search or Werkzeug's parser) runs."""

from __future__ import annotations

import random

import pytest
from flask import Request

from flask_koasession.cookies import request_cookies

HEADERS = [
    "koa.sess=abc; koa.sess.sig=xyz",
    "a=1;koa.sess=2; koa.sess=3",  # the first of a name wins
    "koa.sess.sig=1; koa.sess=",
    "xkoa.sess=1; koa.sess=2",  # a longer name that ends in ours
    "koa.sess==x=",
    "koa.sess",  # a name without a value
    "x=1; koa.sess=a b",  # a space: Werkzeug drops the pair
    'koa.sess="q\\"uoted"',
    "  koa.sess=1",
    ";koa.sess=1",
    "koa.sess=1;",
    "a=1;  koa.sess=2",
    "koa.sess=\u00e9",
    "",
]


def _random_headers(count: int) -> list[str]:
    pieces = [*'ab=; "\\\t ,%.sig\u00e9', "koa.sess", "koa.sess.sig", "="]
    rng = random.Random(12)
    return [
        "".join(rng.choice(pieces) for _ in range(rng.randint(0, 12)))
        for _ in range(count)
    ]


def test_several_names_at_once() -> None:
    for header in HEADERS:
        request = Request.from_values(environ_base={"HTTP_COOKIE": header})
        names = ("koa.sess", "koa.sess.sig", "absent")
        expected = [request.cookies.get(name) for name in names]
        fresh = Request.from_values(environ_base={"HTTP_COOKIE": header})
        assert request_cookies(fresh, *names) == expected, header


@pytest.mark.parametrize("name", ["koa.sess", "koa.sess.sig"])
def test_same_value_as_request_cookiess(name: str) -> None:
    for header in HEADERS + _random_headers(3000):
        environ = {"HTTP_COOKIE": header}
        expected = Request.from_values(environ_base=environ).cookies.get(name)
        [found] = request_cookies(Request.from_values(environ_base=environ), name)
        assert found == expected, header


def test_request_class_with_its_own_cookies_is_asked() -> None:
    class Custom(Request):
        @property
        def cookies(self) -> dict[str, str]:  # type: ignore[override]
            return {"koa.sess": "from-the-subclass"}

    request = Custom.from_values(environ_base={"HTTP_COOKIE": "koa.sess=plain"})
    assert request_cookies(request, "koa.sess") == ["from-the-subclass"]
