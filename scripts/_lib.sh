# Shared pieces of the project's scripts. Source it, do not run it:
#
#     source "$(dirname "$0")/_lib.sh"
#
# It sets ROOT (the checkout) and defines:
#
#   ensure_apt PACKAGE[:PROBE]...   install the Debian packages that are missing
#   ensure_venv DIR [PIP ARGS...]   a virtual environment with those packages
#   use_venv DIR                    put DIR/bin first on PATH
#   ensure_node_modules DIR         `npm ci` in DIR when its lock file changed
#   check_node_version MIN          fail unless `node` is at least MIN
#   step TITLE COMMAND...           run one check with a header and its time
#
# Everything works as root, or as a user with sudo (asked for only when a
# Debian package is missing). The system's Python is never changed: Python
# packages go into virtual environments made from /usr/bin/python3.
# shellcheck shell=bash

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# pip and npm: quiet, no prompts, no nagging.
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1
export npm_config_fund=false npm_config_audit=false npm_config_update_notifier=false

say() { printf '==> %s\n' "$*" >&2; }
die() {
  printf 'error: %s\n' "$*" >&2
  exit 1
}

# Run a command as root: directly when we are root, else through sudo.
as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null; then
    sudo "$@"
  else
    die "installing Debian packages needs root: run as root, or install sudo (needed: $*)"
  fi
}

# ensure_apt PACKAGE[:PROBE]...
#
# Install each Debian PACKAGE that is missing, with one `apt-get update` first
# (once per script run). PROBE tells whether it is there: a command on PATH
# (`node`) or an absolute path, globs allowed (`/usr/lib/postgresql/*/bin/initdb`).
# Without a PROBE, dpkg's record of PACKAGE is checked. A probe lets another
# package provide the same thing (NodeSource's nodejs brings its own npm).
_apt_updated=""
ensure_apt() {
  local spec package probe missing=()
  for spec in "$@"; do
    package=${spec%%:*}
    probe=""
    [ "$package" = "$spec" ] || probe=${spec#*:}
    if [ -z "$probe" ]; then
      dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q ' installed$' && continue
    elif [[ $probe == /* ]]; then
      compgen -G "$probe" >/dev/null && continue
    else
      command -v "$probe" >/dev/null && continue
    fi
    missing+=("$package")
  done
  ((${#missing[@]})) || return 0
  command -v apt-get >/dev/null ||
    die "missing: ${missing[*]}. These scripts install them with apt-get (Debian 12); install them yourself on this system."
  say "Installing Debian packages: ${missing[*]}"
  if [ -z "$_apt_updated" ]; then
    as_root apt-get update -qq
    _apt_updated=1
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

# The interpreter virtual environments are made from: $KOA_PYTHON when set,
# else Debian's /usr/bin/python3 (never whatever `python3` is first on PATH:
# a pyenv or conda Python there would give a different environment).
base_python() {
  local python=${KOA_PYTHON:-/usr/bin/python3}
  [ -x "$python" ] || die "$python not found: install python3 (apt-get install python3) or set KOA_PYTHON"
  "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' ||
    die "$python is $("$python" -V 2>&1); flask-koasession needs Python 3.11 or later (set KOA_PYTHON)"
  printf '%s\n' "$python"
}

# ensure_venv DIR [PIP ARGS...]
#
# Make DIR a virtual environment (from base_python) holding what
# `pip install PIP ARGS...` installs, run from ROOT. scripts/venvs.py does it,
# once Debian's python3-venv is there: the install runs only when its inputs
# changed since the last one with the same arguments (the arguments,
# pyproject.toml, every argument that names a file, the environment's Python),
# so a rerun costs a hash, and several scripts can share one DIR with
# different arguments. Examples:
#
#     ensure_venv .venv -e '.[dev]'
#     ensure_venv .venv-flask-lowest -e '.[test]' 'flask==3.0.0' 'werkzeug==3.0.0'
ensure_venv() {
  local python
  python=$(base_python)
  if ! "$python" -c 'import ensurepip, venv' 2>/dev/null; then
    [ "$python" = /usr/bin/python3 ] ||
      die "$python cannot make virtual environments (no ensurepip/venv module)"
    ensure_apt python3-venv
  fi
  "$python" "$ROOT/scripts/venvs.py" ensure "$@" || exit 1
}

# use_venv DIR: run the tools of DIR (python, pytest, ruff...) from now on.
use_venv() {
  VIRTUAL_ENV=$(cd "$1" && pwd)
  export VIRTUAL_ENV PATH="$VIRTUAL_ENV/bin:$PATH"
  unset PYTHONHOME
}

# check_node_version MIN: fail with the fix unless `node` is at least MIN (x.y).
check_node_version() {
  local min=$1 have
  have=$(node -p 'process.versions.node' 2>/dev/null) || die "node not found: apt-get install nodejs"
  node -e '
    const [have, min] = process.argv.slice(1).map((v) => v.split(".").map(Number));
    process.exit(have[0] > min[0] || (have[0] === min[0] && have[1] >= min[1]) ? 0 : 1);
  ' "$have" "$min" || die "node $have is too old: the interop suite needs Node.js $min or later"
}

# ensure_node_modules DIR: `npm ci` in DIR (from its committed package-lock.json)
# when the lock file or Node's major version changed since the last install.
ensure_node_modules() {
  local dir=$1 stamp inputs
  stamp="$dir/node_modules/.koa-installed"
  inputs=$( (
    cat "$dir/package-lock.json"
    node -p 'process.versions.node.split(".")[0]'
  ) | sha256sum | cut -d' ' -f1)
  if [ "$(cat "$stamp" 2>/dev/null)" = "$inputs" ]; then
    return 0
  fi
  say "Installing the Node packages of $dir (npm ci)"
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error) || die "npm ci in $dir failed"
  printf '%s\n' "$inputs" >"$stamp"
}

# step TITLE COMMAND...: run one check, with a header and how long it took.
step() {
  local title=$1 start rc=0
  shift
  say "$title"
  start=$SECONDS
  "$@" || rc=$?
  if [ "$rc" -ne 0 ]; then
    say "$title: FAILED (exit $rc, $((SECONDS - start)) s)"
    return "$rc"
  fi
  say "$title: ok ($((SECONDS - start)) s)"
}
