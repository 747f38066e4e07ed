"""Interop tests: flask-koasession against the real koa-session, over real HTTP."""
