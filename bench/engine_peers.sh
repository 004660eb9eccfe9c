#!/bin/sh
# The native engine beside qsim and QuEST (issue 14's peer benchmark): builds both outside the tree,
# builds pitboss, then runs bench/engine_peers.py (random layered circuits, QFT and GHZ at 20..26
# qubits, interleaved rounds, medians, ratios). Nothing of qsim's or QuEST's goes into the project:
# they are cloned into a work folder (default /tmp/pitboss-peers) from GitHub, or taken from
# checkouts you name.
#
#   bench/engine_peers.sh [--qsim-src DIR] [--quest-src DIR] [--work DIR] [engine_peers.py options]
#
# Needs g++ (qsim is C++ with OpenMP) and cmake; the machine's -march=native for all three.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
work=/tmp/pitboss-peers
qsim_src=
quest_src=
while [ $# -gt 0 ]; do
    case "$1" in
    --qsim-src) qsim_src=$2; shift 2 ;;
    --quest-src) quest_src=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    *) break ;;
    esac
done
mkdir -p "$work"

fetch() { # name url dir
    if [ -n "$3" ]; then
        echo "$3"
        return
    fi
    if [ ! -d "$work/$1-src" ]; then
        echo "engine_peers: cloning $2 into $work/$1-src" >&2
        git clone -q --depth 1 "$2" "$work/$1-src" >&2 || {
            echo "engine_peers: cannot clone $2: give a checkout with --$1-src DIR" >&2
            exit 1
        }
    fi
    echo "$work/$1-src"
}

qsim_src=$(fetch qsim https://github.com/quantumlib/qsim "$qsim_src")
quest_src=$(fetch quest https://github.com/QuEST-Kit/QuEST "$quest_src")

if [ ! -x "$work/qsim_base.x" ]; then
    echo "engine_peers: building qsim_base (float32, OpenMP, -march=native)" >&2
    g++ -O3 -march=native -fopenmp -o "$work/qsim_base.x" "$qsim_src/apps/qsim_base.cc"
fi
if [ ! -x "$work/quest_run" ]; then
    echo "engine_peers: building QuEST 4 (double, OpenMP, -march=native)" >&2
    cmake -S "$quest_src" -B "$work/quest-build" -DCMAKE_BUILD_TYPE=Release -DENABLE_MULTITHREADING=ON \
        -DCMAKE_C_FLAGS=-march=native -DCMAKE_CXX_FLAGS=-march=native >/dev/null
    cmake --build "$work/quest-build" -j"$(nproc)" >/dev/null
    lib=$(ls "$work"/quest-build/libQuEST.so.* | head -n 1)
    cc -O3 -march=native -I "$quest_src/quest/include" -I "$quest_src" -I "$work/quest-build/include" \
        "$here/peers/quest_run.c" -o "$work/quest_run" -Wl,-rpath,"$work/quest-build" "$lib"
fi

echo "engine_peers: building pitboss" >&2
cmake -S "$root" -B "$root/build" -DPITBOSS_PYTHON=/usr/bin/python3 >/dev/null
cmake --build "$root/build" -j"$(nproc)" --target pitboss-engine-run >/dev/null

exec /usr/bin/python3 "$here/engine_peers.py" --pitboss "$root/build/bin/pitboss-engine-run" \
    --qsim "$work/qsim_base.x" --quest "$work/quest_run" "$@"
