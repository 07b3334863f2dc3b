#!/usr/bin/env bash
# Install size of each documented combination of extras (README "Install"), measured in ONE fresh venv that
# grows step by step: core, +cpu, +generation, +ui, +dev. Each step prints pip's wall time and `du` of the venv.
# The first step starts with whatever pip cache the machine has (say which in the write-up).
# usage: bench/install_sizes.sh [WORKDIR]   (default /tmp/mmrag-sizes; needs ~8 GB free)
set -u
export PIP_DISABLE_PIP_VERSION_CHECK=1
R=${1:-/tmp/mmrag-sizes}
rm -rf "$R" && mkdir -p "$R"
git clone -q "$(git -C "$(dirname "$0")" rev-parse --show-toplevel)" "$R/src"
cd "$R/src" && git log --oneline -1
python3 -m venv "$R/v"
step() {  # name, pip arguments...
    local name=$1 t0 t1 rc
    shift
    t0=$(date +%s)
    nice -n 10 "$R/v/bin/pip" install -q "$@" >"$R/$name.log" 2>&1
    rc=$?
    t1=$(date +%s)
    echo "$name rc=$rc seconds=$((t1 - t0)) venv=$(du -sh "$R/v" | cut -f1) bytes=$(du -sb "$R/v" | cut -f1)"
}
step core -e .
step cpu -e ".[cpu]"
step generation -e ".[cpu,generation]"
step ui -e ".[cpu,generation,ui]"
step dev -e ".[cpu,generation,ui,dev]"
SP="$R/v/lib/python3.11/site-packages"
echo "CUDA parts of PyPI's torch:"
du -sh "$SP"/nvidia "$SP"/triton "$SP"/torch 2>/dev/null
"$R/v/bin/pip" list 2>/dev/null | grep -Ei "^(torch|torchvision|faiss-cpu|diffusers|streamlit) "
# A CPU-only torch for comparison: a local CPU wheel when one is on PIP_FIND_LINKS (PyPI has none).
wheel=$(ls /opt/wheels/torch-*+cpu-*.whl 2>/dev/null | head -1)
if [[ -n "$wheel" ]]; then
    python3 -m venv "$R/cpu"
    nice -n 10 "$R/cpu/bin/pip" install -q --no-deps "$wheel"
    echo "CPU torch alone ($(basename "$wheel")): $(du -sh "$R/cpu/lib/python3.11/site-packages/torch" | cut -f1)"
fi
