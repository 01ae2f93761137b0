#!/usr/bin/env bash
# Creates, or reuses, the Python virtualenv with the Synapse that masctl's integration tests
# start (tests/it/synapse/). `.ci/run` calls it before `cargo test`; run it by hand to get the
# Synapse-backed tests locally (without it they are skipped, with the reason printed).
#
# Where: $MASCTL_SYNAPSE_VENV, or ${XDG_CACHE_HOME:-~/.cache}/masctl/synapse-venv. The tests
# look in the same place. The venv is reused while it holds exactly tests/synapse/requirements.txt
# (a copy is kept in the venv as the "ready" stamp, written last); otherwise it is rebuilt.
# Needs python3 >= 3.10 with the venv module, and access to PyPI (or a pip mirror) on a rebuild.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
requirements="$here/requirements.txt"
venv="${MASCTL_SYNAPSE_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/masctl/synapse-venv}"
stamp="$venv/masctl-requirements.txt"
python="${PYTHON:-python3}"

ready() {
  [[ -x "$venv/bin/python" ]] && cmp -s "$requirements" "$stamp" \
    && "$venv/bin/python" -c 'import synapse.app.homeserver' 2>/dev/null
}

mkdir -p "$(dirname "$venv")"
# Two checkouts (or two CI jobs sharing a cache) must not build the same venv at once.
exec 9>"$venv.lock"
flock 9

if ready; then
  echo "synapse venv: reusing $venv ($("$venv/bin/python" -c 'import synapse; print(synapse.__version__)'))"
  exit 0
fi

if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 10))'; then
  echo "synapse venv: $python is $("$python" --version 2>&1); Synapse needs Python 3.10 or newer (set PYTHON=…)" >&2
  exit 1
fi

echo "synapse venv: creating $venv"
started=$SECONDS
# A venv cannot be moved (its scripts hold absolute paths), so it is built in place; the stamp,
# written last, is what marks it complete.
rm -rf "$venv"
"$python" -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check --no-input -r "$requirements"
"$venv/bin/python" -c 'import synapse.app.homeserver'
cp "$requirements" "$stamp"
echo "synapse venv: ready in $((SECONDS - started))s ($("$venv/bin/python" -c 'import synapse; print(synapse.__version__)'))"
