#!/usr/bin/python3
"""The native engine beside qsim and QuEST, on the same circuits, on this machine.

    bench/engine_peers.py --qsim DIR/qsim_base.x --quest DIR/quest_run [--qubits 20,22,24,26]
                          [--rounds 3] [--threads 2] [--circuits layered,deep,qft,ghz]

bench/engine_peers.sh builds the peers outside the tree and calls this. Each circuit is written in
three forms (OpenQASM 2 for pitboss, qsim's text format, a gate list for bench/peers/quest_run.c),
then every program runs it once per round, the programs interleaved, and the table shows the median
wall time of each process (allocation, first touch and all: the same for each) and pitboss's ratio
to each peer. Circuits:
  layered  5 layers of a random rotation (rx, ry or rz) on every qubit, then a CX ladder (even
           layers) or a CZ ladder (odd ones): 255 gates at 26 qubits
  deep     the same with 20 layers (pitboss skips the chunks of its state that hold only zeros,
           which gains most on the first layers: a deep circuit shows what is left without that)
  qft      the quantum Fourier transform (h and controlled phases, no final swaps)
  ghz      h, then a CX chain
"""
import argparse
import json
import math
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time


def layered(n, seed=7, layers=5):
    rng = random.Random(seed * 1000 + n)
    gates = []
    for layer in range(layers):
        for q in range(n):
            gates.append((rng.choice(["rx", "ry", "rz"]), (q,), rng.uniform(0, 2 * math.pi)))
        two = "cx" if layer % 2 == 0 else "cz"
        for q in range(n - 1):
            gates.append((two, (q, q + 1), None))
    return gates


def qft(n):
    gates = []
    for i in range(n - 1, -1, -1):
        gates.append(("h", (i,), None))
        for j in range(i - 1, -1, -1):
            gates.append(("cp", (j, i), math.pi / (1 << (i - j))))
    return gates


def ghz(n):
    return [("h", (0,), None)] + [("cx", (q, q + 1), None) for q in range(n - 1)]


def deep(n):
    return layered(n, layers=20)


CIRCUITS = {"layered": layered, "deep": deep, "qft": qft, "ghz": ghz}


def write_qasm(path, n, gates):
    lines = ["OPENQASM 2.0;", 'include "qelib1.inc";', f"qreg q[{n}];"]
    for name, qs, a in gates:
        args = f"({a!r})" if a is not None else ""
        lines.append(f"{name}{args} " + ", ".join(f"q[{q}]" for q in qs) + ";")
    open(path, "w").write("\n".join(lines) + "\n")


def write_qsim(path, n, gates):
    # qsim's format: a time (moment) per line; every gate its own moment keeps the order exact
    lines = [str(n)]
    for t, (name, qs, a) in enumerate(gates):
        lines.append(f"{t} {name} " + " ".join(map(str, qs)) + (f" {a!r}" if a is not None else ""))
    open(path, "w").write("\n".join(lines) + "\n")


def write_gates(path, n, gates):
    lines = [str(n)]
    for name, qs, a in gates:
        lines.append(f"{name} " + " ".join(map(str, qs)) + (f" {a!r}" if a is not None else ""))
    open(path, "w").write("\n".join(lines) + "\n")


def timed(cmd, env=None):
    t0 = time.perf_counter()
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    t = time.perf_counter() - t0
    if p.returncode != 0:
        raise SystemExit(f"{cmd[0]} failed ({p.returncode}): {p.stderr.strip()[:400]}")
    return t


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--pitboss", default=os.path.join(here, "..", "build", "bin", "pitboss-engine-run"))
    ap.add_argument("--qsim", help="qsim_base.x (bench/engine_peers.sh builds it)")
    ap.add_argument("--qsim-fuse", type=int, default=4, help="qsim's -f (max fused size)")
    ap.add_argument("--quest", help="quest_run (bench/engine_peers.sh builds it)")
    ap.add_argument("--quest-max-qubits", type=int, default=99,
                    help="run QuEST only up to this many qubits (it takes ~40 s a circuit at 26 here)")
    ap.add_argument("--qubits", default="20,22,24,26")
    ap.add_argument("--circuits", default="layered,deep,qft,ghz")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--pitboss-variants", default="double:,single:--precision single",
                    help="comma-separated label:extra-args for pitboss-engine-run, e.g. 'f4:--fuse 4,nofuse:--fuse 0'")
    args = ap.parse_args()

    sizes = [int(x) for x in args.qubits.split(",")]
    circuits = args.circuits.split(",")
    variants = []
    for v in args.pitboss_variants.split(","):
        label, _, extra = v.partition(":")
        variants.append((f"pitboss {label}".strip(), extra.split()))
    work = tempfile.mkdtemp(prefix="pitboss-peers-")
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    programs = [(label, lambda base, extra=extra: [args.pitboss, base + ".qasm", "--threads", str(args.threads)] + extra)
                for label, extra in variants]
    if args.qsim:
        programs.append(("qsim", lambda base: [args.qsim, "-c", base + ".qsim", "-t", str(args.threads), "-f", str(args.qsim_fuse)]))
    if args.quest:
        programs.append(("QuEST", lambda base: [args.quest, base + ".gates"]))

    results = {}
    total = len(circuits) * len(sizes) * args.rounds
    done = 0
    for circ in circuits:
        for n in sizes:
            gates = CIRCUITS[circ](n)
            base = os.path.join(work, f"{circ}{n}")
            write_qasm(base + ".qasm", n, gates)
            write_qsim(base + ".qsim", n, gates)
            write_gates(base + ".gates", n, gates)
            for r in range(args.rounds):
                order = programs if r % 2 == 0 else programs[::-1]  # interleaved, alternating order
                for label, cmd in order:
                    if label == "QuEST" and n > args.quest_max_qubits:
                        continue
                    results.setdefault((circ, n, label), []).append(timed(cmd(base), env))
                done += 1
                print(f"  [{done}/{total}] {circ} {n} qubits, round {r + 1}", file=sys.stderr, flush=True)

    labels = [p[0] for p in programs]
    head = f"{'circuit':<8} {'qubits':>6} {'gates':>6} " + " ".join(f"{l:>14}" for l in labels)
    peers = [l for l in labels if not l.startswith("pitboss")]
    ratio_cols = [(pl, peer) for pl in labels if pl.startswith("pitboss") for peer in peers]
    head += " " + " ".join(f"{(pl.replace('pitboss', 'pb') + '/' + peer):>16}" for pl, peer in ratio_cols)
    print(f"median wall seconds of {args.rounds} interleaved rounds, {args.threads} threads; ratio < 1: pitboss faster")
    print(head)
    for circ in circuits:
        for n in sizes:
            med = {l: statistics.median(results[(circ, n, l)]) for l in labels if (circ, n, l) in results}
            row = f"{circ:<8} {n:>6} {len(CIRCUITS[circ](n)):>6} " + " ".join(
                f"{med[l]:>14.3f}" if l in med else f"{'-':>14}" for l in labels)
            row += " " + " ".join(f"{med[pl] / med[peer]:>16.2f}" if peer in med else f"{'-':>16}" for pl, peer in ratio_cols)
            print(row)
    print(json.dumps({f"{c}/{n}/{l}": statistics.median(v) for (c, n, l), v in results.items()}), file=sys.stderr)


if __name__ == "__main__":
    main()
