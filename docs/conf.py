"""Sphinx configuration for flask-koasession's documentation.

Build with warnings as errors::

    python -m sphinx -W --keep-going -b html docs docs/_build/html
"""

from __future__ import annotations

import importlib.util
import sys
import tomllib
from pathlib import Path

# Document the package from this checkout, installed or not.
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# This project's own Sphinx extensions.
sys.path.insert(0, str(ROOT / "docs" / "_ext"))

project = "flask-koasession"
author = "flask-koasession developers"
copyright = "2026, flask-koasession developers"
# The version, from pyproject.toml, so that it is written in one place.
with (ROOT / "pyproject.toml").open("rb") as _file:
    release = tomllib.load(_file)["project"]["version"]
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.viewcode",
    "peer_differences",
    "options_table",
]

# No intersphinx: the build works offline. Type hints go into the descriptions,
# where an unresolved name is plain text rather than a broken reference.
autodoc_typehints = "description"
autodoc_typehints_description_target = "documented"
autodoc_member_order = "bysource"
autodoc_preserve_defaults = True

# The optional store dependencies are mocked when absent, so the API page
# builds with only Sphinx installed next to the package.
autodoc_mock_imports = [
    name for name in ("redis", "sqlalchemy") if importlib.util.find_spec(name) is None
]

exclude_patterns = ["_build"]
templates_path: list[str] = []

html_theme = "alabaster"
html_title = "flask-koasession"
html_theme_options = {
    "description": "koa-session's sessions for Flask, wire-compatible with Koa",
    "fixed_sidebar": True,
}
html_static_path = ["_static"]
