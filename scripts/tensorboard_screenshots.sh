#!/usr/bin/env bash
# Redraw the README's two TensorBoard screenshots: the op graph of the
# basal-ganglia example (docs/img/tensorboard-graph.png) and its firing-rate
# scalars (docs/img/tensorboard-scalars.png), as TensorBoard draws them in
# headless Chromium. Not part of `cargo test`.
#
# Needs Debian's Chromium (`apt-get install chromium`) and TensorBoard: the
# venv the interop tests make (tensorboard 2.21.0 in snn's cache folder) is
# used when it is there, otherwise one is made in a temporary folder.
set -euo pipefail
cd "$(dirname "$0")/.."

chromium=${CHROMIUM:-$(command -v chromium || true)}
if [ -z "$chromium" ]; then
    echo "no chromium: install Debian's package (apt-get install chromium) or set CHROMIUM" >&2
    exit 1
fi

work=$(mktemp -d)
server=""
cleanup() {
    if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

cache=${SNN_TF_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/snn}
python=$cache/pytools-numpy-tensorboard-2.21.0/bin/python
if [ ! -f "$cache/pytools-numpy-tensorboard-2.21.0/SNN_COMPLETE" ]; then
    python3 -m venv "$work/venv"
    "$work/venv/bin/python" -m pip install --quiet tensorboard==2.21.0
    python=$work/venv/bin/python
fi

# The example writes graphs/basal_ganglia; TensorBoard gets a folder with
# that one run.
cargo run --release --quiet --example basal_ganglia > /dev/null
mkdir -p "$work/logs"
cp -r graphs/basal_ganglia "$work/logs/"

port=$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$python" -m tensorboard.main --logdir "$work/logs" --host 127.0.0.1 --port "$port" \
    > "$work/tensorboard.log" 2>&1 &
server=$!
"$python" - "$port" <<'PY'
import json, sys, time, urllib.request
deadline = time.time() + 120
while True:
    try:
        url = 'http://127.0.0.1:%s/data/runs' % sys.argv[1]
        if json.loads(urllib.request.urlopen(url, timeout=10).read()):
            break
    except OSError:
        pass
    if time.time() > deadline:
        sys.exit('tensorboard listed no run within 120 s')
    time.sleep(0.5)
PY

shoot() { # URL fragment, output file
    "$chromium" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
        --disable-background-networking --disable-component-update --disable-sync \
        --user-data-dir="$work/chromium" --hide-scrollbars --window-size=1600,1000 \
        --virtual-time-budget=30000 --screenshot="$2" \
        "http://127.0.0.1:$port/$1" > "$work/chromium.log" 2>&1
    echo "wrote $2"
}
mkdir -p docs/img
shoot "#graphs&run=basal_ganglia" docs/img/tensorboard-graph.png
shoot "#scalars&_smoothingWeight=0" docs/img/tensorboard-scalars.png
