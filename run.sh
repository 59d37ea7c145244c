#!/usr/bin/env bash
# Set up the course in a local virtual environment, then open it or test it.
#
#   ./run.sh course            set up, then open your copy of the lessons in JupyterLab
#   ./run.sh course zh         the same for the Chinese edition (lessons/zh/ → my-lessons-zh/; or GPTLAB_LANG=zh)
#   ./run.sh test [ARGS...]    set up, then run every test (ARGS go to pytest)
#
# Environment:
#   PYTHON=python3.12          the interpreter that creates .venv (3.11 or newer)
#   GPTLAB_VENV=.venv          where the virtual environment lives (created, or reused if it exists)
#   GPTLAB_TORCH_INDEX=URL     opt-in: install torch from this index instead of PyPI, e.g.
#                              https://download.pytorch.org/whl/cpu for a small CPU-only build on Linux
#                              (PyPI's Linux torch is a multi-GB CUDA build). Off by default.
set -euo pipefail
cd "$(dirname "$0")"

TORCH_VERSION=2.13.0
venv=${GPTLAB_VENV:-.venv}
python=${PYTHON:-python3}
mode=${1:-}
case "$mode" in
  course|test) shift ;;
  *) echo "usage: ./run.sh course | ./run.sh test [pytest args]" >&2; exit 2 ;;
esac

if [ ! -x "$venv/bin/python" ]; then
  "$python" - <<'PY' || { echo "gptlab needs Python 3.11 or newer; set PYTHON=/path/to/python3.11" >&2; exit 1; }
import sys; sys.exit(sys.version_info < (3, 11))
PY
  "$python" -m venv "$venv"
fi
pip=("$venv/bin/python" -m pip --disable-pip-version-check)

# torch first and pinned: a bare `torch` requirement would pull a multi-GB CUDA build on Linux.
if ! "$venv/bin/python" -c "import sys, torch; sys.exit(torch.__version__.split('+')[0] != '$TORCH_VERSION')" 2>/dev/null; then
  index=()
  [ -n "${GPTLAB_TORCH_INDEX:-}" ] && index=(--index-url "$GPTLAB_TORCH_INDEX")
  "${pip[@]}" install "${index[@]}" "torch==$TORCH_VERSION"
fi

if [ "$mode" = course ]; then
  "${pip[@]}" install -q -e .
  exec "$venv/bin/gptlab" course "$@"
fi

"${pip[@]}" install -q -e ".[test]"
# One torch thread per test worker: two workers on two cores, no oversubscription.
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 PYTHONHASHSEED=0
"$venv/bin/gptlab" lessons --check
exec "$venv/bin/python" -m pytest -n "${GPTLAB_TEST_WORKERS:-auto}" --dist loadscope --nbval-lax \
  tests lessons solutions "$@"
