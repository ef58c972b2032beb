#!/usr/bin/env bash
# Install napari-vqmap with its test tools and run the test suite.
# napari viewers need an X server: a real display is used when $DISPLAY is set, otherwise
# pytest-xvfb starts Xvfb. On Debian/Ubuntu as root, missing Xvfb/Qt libraries are installed.
set -euo pipefail
cd "$(dirname "$0")/.."

qt_debs=(xvfb libgl1 libegl1 libgl1-mesa-dri libxkbcommon-x11-0 libxcb-cursor0 libxcb-icccm4
    libxcb-image0 libxcb-keysyms1 libxcb-randr0 libxcb-render-util0 libxcb-shape0
    libxcb-xfixes0 libdbus-1-3 libfontconfig1)
if [[ -z "${DISPLAY:-}" ]] && command -v dpkg >/dev/null; then
    missing=()
    for deb in "${qt_debs[@]}"; do
        dpkg -s "$deb" >/dev/null 2>&1 || missing+=("$deb")
    done
    if ((${#missing[@]})); then
        if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
            echo "installing system packages for a virtual display: ${missing[*]}"
            apt-get update -qq
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
        else
            echo "warning: missing ${missing[*]}; napari tests may fail (install them as root)" >&2
        fi
    fi
fi

bash scripts/install.sh --testing
if [[ -z "${VIRTUAL_ENV:-}" ]]; then
    # shellcheck disable=SC1091
    source .venv/bin/activate
fi

export OMP_WAIT_POLICY=PASSIVE
xvfb_flag=()
[[ -n "${DISPLAY:-}" ]] && xvfb_flag=(--no-xvfb)
python -m pytest "${xvfb_flag[@]}" "$@"
