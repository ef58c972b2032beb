#!/usr/bin/env bash
# Install napari-vqmap (and, with --testing, its test tools) into the active Python
# environment, or into ./.venv when none is active. Uses the CPU build of torch.
set -euo pipefail
cd "$(dirname "$0")/.."

extras="all"
[[ "${1:-}" == "--testing" ]] && extras="testing"

if [[ -z "${VIRTUAL_ENV:-}" ]]; then
    [[ -d .venv ]] || python3 -m venv .venv
    # shellcheck disable=SC1091
    source .venv/bin/activate
fi

# Override with e.g. TORCH_SPEC="torch>=2.4" for another build of torch.
torch_pin="${TORCH_SPEC:-torch==2.13.0}"
# A local folder of wheels (as on our build machines) makes installs fast with uv.
if [[ -d /opt/wheels ]] && python -m pip install -q uv >/dev/null 2>&1; then
    python -m uv pip install -q --python "$(command -v python)" --find-links /opt/wheels \
        "$torch_pin" -e ".[${extras}]"
else
    python -m pip install -q "$torch_pin" -e ".[${extras}]"
fi
echo "napari-vqmap installed in $(command -v python)"
