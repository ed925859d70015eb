#!/usr/bin/env bash
# Install genrelens with everything (tests, Dask, the lime/shap/captum references for the
# benchmarks, scikit-image for superpixels) into ./.venv, from nothing.
# The package accepts torch>=2.1,<3 (pyproject.toml); this script installs the tested pin,
# torch 2.13.0, first, so that nothing else pulls another build.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet "torch==2.13.0"
.venv/bin/python -m pip install --quiet -e ".[test,distributed,compare,superpixels]"
# The pretrained musicnn taggers (genrelens tag, get_model("MSD_musicnn"), ...): genrelens reads
# the wheel's TF1 checkpoint files with numpy and never imports its modules. --no-deps because
# the wheel's metadata asks for tensorflow>=1.14 and numpy<1.17, which would pull a TensorFlow
# build and downgrade numpy below what torch and librosa need; nothing of them is used.
.venv/bin/python -m pip install --quiet --no-deps "musicnn==0.1.0"
.venv/bin/python -c "import genrelens, torch; print('genrelens', genrelens.__version__, 'torch', torch.__version__)"
