"""The virtual environments of the project's scripts: made once, filled once.

The one mechanism behind ``ensure_venv`` (scripts/_lib.sh),
scripts/test-flask-versions and tests/peers/run.py. :func:`ensure` makes an
environment from a base interpreter when it is missing or broken, and runs
``pip install`` in it only when the inputs of that install changed since the
last one: the pip arguments, the environment's Python, where the checkout is,
pyproject.toml, every file an argument names (a wheel, a requirements file)
and the files the caller adds. A rerun costs a hash. Each set of arguments has
its own stamp in ``DIR/.koa-installed/``, so several scripts can share one
environment.

Standard library only, so that Debian's /usr/bin/python3 runs it as it is.
From bash (the base interpreter is the one that runs this file)::

    python3 scripts/venvs.py ensure DIR [PIP ARGS...]
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import typing as t
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: pip quiet and without prompts, also when run as root (CI).
PIP_ENV = {
    "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    "PIP_NO_INPUT": "1",
    "PIP_ROOT_USER_ACTION": "ignore",
}


class VenvError(Exception):
    """An environment could not be made or filled; the message says which."""


def say(message: str) -> None:
    print(f"==> {message}", file=sys.stderr, flush=True)


def shown(directory: Path) -> str:
    """The directory as the user knows it: relative to the checkout when inside."""
    return (
        os.path.relpath(directory, ROOT)
        if directory.is_relative_to(ROOT)
        else str(directory)
    )


def version_of(python: Path) -> str | None:
    """The environment's ``sys.version``, or None when its interpreter is gone."""
    try:
        result = subprocess.run(
            [python, "-c", "import sys; print(sys.version)"],
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError:
        return None
    return result.stdout if result.returncode == 0 else None


def fingerprint(
    version: str, pip_args: t.Sequence[str], inputs: t.Iterable[Path]
) -> str:
    """What an install is made from: when this changes, it is run again."""
    digest = hashlib.sha256()
    for text in (version, str(ROOT), *pip_args):
        digest.update(text.encode() + b"\0")
    named = [ROOT / arg for arg in pip_args if (ROOT / arg).is_file()]
    for path in (ROOT / "pyproject.toml", *named, *inputs):
        digest.update(str(path).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def create(directory: Path, python: str) -> None:
    say(f"Creating the virtual environment {shown(directory)} (from {python})")
    shutil.rmtree(directory, ignore_errors=True)
    if subprocess.run([python, "-m", "venv", directory], check=False).returncode:
        shutil.rmtree(directory, ignore_errors=True)
        raise VenvError(f"could not create the virtual environment {shown(directory)}")


def ensure(
    directory: Path,
    pip_args: t.Sequence[str],
    *,
    python: str = sys.executable,
    inputs: t.Iterable[Path] = (),
    fresh: bool = False,
    force: bool = False,
    then: t.Callable[[], object] | None = None,
) -> Path:
    """Make ``directory`` an environment holding ``pip install PIP_ARGS``.

    pip runs from the checkout, so ``-e '.[dev]'`` means this project.

    :param python: the interpreter the environment is made from.
    :param inputs: more files whose change calls for a new install (the
        calling script, when it holds what gets installed).
    :param fresh: install into a new environment rather than over the old
        one (for an environment of its own, not shared).
    :param force: install even when nothing changed.
    :param then: more set-up after pip, before the install is recorded.
    :return: the environment's ``python``.
    :raise VenvError: when making it or ``pip install`` failed.
    """
    directory = directory.absolute()
    venv_python = directory / "bin" / "python"
    key = hashlib.sha256("\0".join(pip_args).encode()).hexdigest()[:16]
    stamp = directory / ".koa-installed" / key
    version = version_of(venv_python)  # None: missing, or its interpreter gone
    recorded = stamp.read_text() if stamp.is_file() else None
    if version and not force and recorded == fingerprint(version, pip_args, inputs):
        return venv_python
    if version is None or fresh:
        create(directory, python)
        version = version_of(venv_python) or ""
    wanted = fingerprint(version, pip_args, inputs)
    say(f"Installing into {shown(directory)}: {' '.join(pip_args)}")
    install = [str(venv_python), "-m", "pip", "install", "-q", *pip_args]
    env = {**os.environ, **PIP_ENV}
    # pip's output only when it fails: its warnings (an index location that
    # a machine's pip.conf names and lacks, say) are noise in every CI log.
    done = subprocess.run(
        install, cwd=ROOT, env=env, check=False, capture_output=True, text=True
    )
    if done.returncode:
        sys.stderr.write(done.stdout + done.stderr)
        raise VenvError(
            f"pip install into {shown(directory)} failed"
            f" (arguments: {' '.join(pip_args)})"
        )
    if then is not None:
        then()
    stamp.parent.mkdir(exist_ok=True)
    stamp.write_text(wanted)
    return venv_python


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[0] != "ensure":
        print("usage: venvs.py ensure DIR [PIP ARGS...]", file=sys.stderr)
        return 2
    try:
        ensure(Path(argv[1]), argv[2:])
    except VenvError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
