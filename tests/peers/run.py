"""Run Flask's, Flask-Login's and Flask-WTF's own test suites on this extension.

Each peer's sdist is fetched from PyPI with pip (cached in ``.peers/``, which
git ignores: their code is never part of this repository), installed with this
package (editable) into a virtual environment of its own, and its test suite
is run twice: on Flask's own session (the baseline), and with
``koa_peers_plugin`` installing ``KoaSession`` on every app the suite creates.

A test that passes on the baseline and fails with the extension must be named,
with the reason, in ``expected_failures.toml``; a named test that passes (or
that does not pass on the baseline) is an error too, so the list stays exact.
Prints a summary table; exits 1 when the outcomes and the list disagree.

Usage: ``python3 tests/peers/run.py [--verbose]`` (``scripts/test-peers``).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
import tomllib
import typing as t
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(REPO / "scripts"))
import venvs  # noqa: E402  (scripts/venvs.py: how every script makes its venv)

CACHE = REPO / ".peers"
VENV = CACHE / "venv"
PYTHON = VENV / "bin" / "python"
REQUIREMENTS = HERE / "requirements.txt"
EXPECTED = HERE / "expected_failures.toml"

#: Words that mark a Flask test as being about the session (matched anywhere
#: in its id, module and parametrization included, as ``pytest -k`` would).
SESSION_WORDS = ("session", "flash", "cookie", "vary")


@dataclasses.dataclass(frozen=True)
class Peer:
    #: The table name in expected_failures.toml.
    name: str
    title: str
    requirement: str

    @property
    def sdist_dir(self) -> Path:
        return CACHE / "sdists" / self.requirement

    @property
    def source_dir(self) -> Path:
        return CACHE / "src" / self.requirement


PEERS = (
    Peer("flask", "Flask", "flask==3.1.3"),
    Peer("flask-login", "Flask-Login", "flask-login==0.6.3"),
    Peer("flask-wtf", "Flask-WTF", "flask-wtf==1.3.0"),
)

Outcomes = dict[str, str]


# -- set-up ------------------------------------------------------------------


def pip(*args: str) -> None:
    """Run the peers' pip quietly; show its output only when it fails."""
    command = [str(PYTHON), "-m", "pip", "--disable-pip-version-check", *args]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode:
        sys.stdout.write(result.stdout + result.stderr)
        raise SystemExit(f"peers: failed: {' '.join(command)}")


def sdist(peer: Peer) -> Path:
    """The peer's sdist, downloaded from PyPI on first use."""
    found = sorted(peer.sdist_dir.glob("*.tar.gz"))
    if not found:
        print(f"peers: downloading the {peer.requirement} sdist", flush=True)
        pip("download", "--quiet", "--no-deps", "--no-binary=:all:",
            "--no-build-isolation", "--dest", str(peer.sdist_dir),
            peer.requirement)  # fmt: skip
        found = sorted(peer.sdist_dir.glob("*.tar.gz"))
    if len(found) != 1:
        raise SystemExit(f"peers: expected one sdist in {peer.sdist_dir}: {found}")
    return found[0]


def extract(peer: Peer, archive: Path) -> None:
    shutil.rmtree(peer.source_dir, ignore_errors=True)
    with tarfile.open(archive) as tar:
        # Plain files and folders inside the target only, links left out
        # (Debian 12's Python predates extractall's filter argument).
        members = [m for m in tar.getmembers() if m.isfile() or m.isdir()]
        for member in members:
            if member.name.startswith("/") or ".." in member.name.split("/"):
                raise SystemExit(f"peers: {archive.name}: refusing {member.name}")
        tar.extractall(peer.source_dir, members)
    (top,) = peer.source_dir.iterdir()  # the sdist's one top-level folder
    for entry in top.iterdir():
        entry.rename(peer.source_dir / entry.name)
    top.rmdir()


def set_up() -> None:
    """Make the environment when what it is made from changed (see venvs.py).

    Its inputs: the pinned requirements, this package's pyproject.toml and
    this file (PEERS). The peers are installed without build isolation, with
    the build back-ends that the requirements hold.
    """
    try:
        venvs.ensure(
            VENV,
            ["--no-deps", "--requirement", str(REQUIREMENTS)],
            inputs=[Path(__file__)],
            fresh=True,
            then=install_peers,
        )
    except venvs.VenvError as error:
        raise SystemExit(f"peers: {error}") from None


def install_peers() -> None:
    archives = [sdist(peer) for peer in PEERS]
    for peer, archive in zip(PEERS, archives, strict=True):
        extract(peer, archive)
    pip("install", "--quiet", "--no-deps", "--no-build-isolation",
        *map(str, archives), "--editable", str(REPO))  # fmt: skip
    pip("check")


# -- running -----------------------------------------------------------------


@dataclasses.dataclass
class Run:
    peer: Peer
    mode: t.Literal["off", "on"]
    outcomes: Outcomes = dataclasses.field(default_factory=dict)
    messages: dict[str, str] = dataclasses.field(default_factory=dict)
    seconds: float = 0.0

    @property
    def log(self) -> Path:
        return CACHE / "results" / f"{self.peer.name}-{self.mode}.log"


def run_suite(run: Run) -> Run:
    """Run one peer's whole suite, in its source folder, with its own config."""
    results = CACHE / "results"
    results.mkdir(parents=True, exist_ok=True)
    (CACHE / "tmp").mkdir(exist_ok=True)  # pytest makes --basetemp, not its parent
    report = results / f"{run.peer.name}-{run.mode}.json"
    report.unlink(missing_ok=True)
    command = [
        str(PYTHON), "-m", "pytest", "-p", "koa_peers_plugin",
        f"--koa-session={run.mode}", f"--koa-report={report}",
        "-p", "no:cacheprovider", "-rfE", "--tb=short",
        f"--basetemp={CACHE / 'tmp' / f'{run.peer.name}-{run.mode}'}",
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(HERE), "PYTHONDONTWRITEBYTECODE": "1"}
    start = time.perf_counter()
    with run.log.open("w") as log:
        code = subprocess.run(
            command,
            cwd=run.peer.source_dir,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            timeout=300,
            check=False,
        ).returncode
    run.seconds = time.perf_counter() - start
    # 0: all passed, 1: some failed; anything else means the run itself broke.
    if code not in (0, 1) or not report.is_file():
        raise SystemExit(f"peers: pytest exited {code}; see {run.log}")
    data = json.loads(report.read_text())
    installed = data["apps_with_koa_session"]
    if (run.mode == "on") != (installed > 0):
        raise SystemExit(f"peers: KoaSession was installed on {installed} apps"
                         f" with --koa-session={run.mode}")  # fmt: skip
    run.outcomes = data["outcomes"]
    run.messages = data["messages"]
    return run


# -- comparing ---------------------------------------------------------------


def load_expected() -> dict[str, dict[str, str]]:
    expected = tomllib.loads(EXPECTED.read_text())
    names = {peer.name for peer in PEERS}
    for suite, entries in expected.items():
        if suite not in names:
            raise SystemExit(f"peers: {EXPECTED.name}: unknown suite {suite!r}")
        for test, reason in entries.items():
            if not isinstance(reason, str) or not reason.strip():
                raise SystemExit(f"peers: {EXPECTED.name}: {test}: give a reason")
    return expected


@dataclasses.dataclass
class Verdict:
    """One peer suite's comparison with its list of expected failures."""

    #: Pass on the baseline, fail with the extension, listed: (test, reason).
    expected: list[tuple[str, str]]
    #: Pass on the baseline, fail with the extension, not listed.
    unexpected: list[str]
    #: Listed but not a regression (passes now, or not on the baseline).
    stale: list[tuple[str, str]]


def compare(base: Outcomes, koa: Outcomes, listed: dict[str, str]) -> Verdict:
    regressions = sorted(
        test
        for test, outcome in base.items()
        if outcome == "passed" and koa.get(test) != "passed"
    )
    return Verdict(
        expected=[(test, listed[test]) for test in regressions if test in listed],
        unexpected=[test for test in regressions if test not in listed],
        stale=[
            (test, koa.get(test, "missing"))
            for test in sorted(listed)
            if test not in regressions
        ],
    )


def score(outcomes: Outcomes, select: t.Callable[[str], bool]) -> str:
    chosen = [outcome for test, outcome in outcomes.items() if select(test)]
    ran = [outcome for outcome in chosen if outcome != "skipped"]
    text = f"{ran.count('passed')}/{len(ran)}"
    skipped = len(chosen) - len(ran)
    return f"{text} ({skipped} skipped)" if skipped else text


def is_session_test(test: str) -> bool:
    return any(word in test.lower() for word in SESSION_WORDS)


def table(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True))
             + " |" for row in rows]  # fmt: skip
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="list every expected failure"
    )
    args = parser.parse_args(argv)
    started = time.perf_counter()
    set_up()
    expected = load_expected()
    prepared = time.perf_counter()

    runs = [Run(peer, mode) for peer in PEERS for mode in ("off", "on")]
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        done = {(r.peer.name, r.mode): r for r in pool.map(run_suite, runs)}

    header = ("suite", "on Flask's session", "with this extension", "listed",
              "unexpected", "stale")  # fmt: skip
    rows: list[tuple[str, ...]] = [header]
    problems: list[str] = []
    for peer in PEERS:
        base, koa = done[peer.name, "off"], done[peer.name, "on"]
        verdict = compare(base.outcomes, koa.outcomes, expected.get(peer.name, {}))
        groups: list[tuple[str, t.Callable[[str], bool]]] = [
            (peer.title, lambda test: True)
        ]
        if peer.name == "flask":
            groups = [
                ("Flask, session/flash/cookie/vary tests", is_session_test),
                ("Flask, whole suite", lambda test: True),
            ]
        for title, select in groups:
            counts = [
                str(sum(map(select, items)))
                for items in (
                    [test for test, _ in verdict.expected],
                    verdict.unexpected,
                    [test for test, _ in verdict.stale],
                )
            ]
            rows.append((title, score(base.outcomes, select),
                         score(koa.outcomes, select), *counts))  # fmt: skip
        for test in verdict.unexpected:
            message = koa.messages.get(test, koa.outcomes.get(test, "missing"))
            problems.append(f"{peer.name}: {test}: fails, not listed: {message}")
        for test, outcome in verdict.stale:
            problems.append(
                f"{peer.name}: {test}: listed, but {outcome} with the extension"
                f" ({base.outcomes.get(test, 'missing')} on the baseline):"
                f" remove it from {EXPECTED.name} and the docs"
            )
        if args.verbose:
            for test, reason in verdict.expected:
                print(f"expected: {peer.name}: {test}: {reason}")

    print(table(rows))
    timings = ", ".join(
        f"{name} {mode} {run.seconds:.1f}s" for (name, mode), run in done.items()
    )
    print(
        f"peers: set-up {prepared - started:.1f}s; suites {timings};"
        f" total {time.perf_counter() - started:.1f}s (logs in .peers/results/)"
    )
    for problem in problems:
        print(f"peers: {problem}")
    if problems:
        print(f"peers: FAILED: the outcomes and {EXPECTED.name} disagree")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
