"""Summarise a step's RunMetadata written by the network bench.

    SNN_BENCH_TRACE=/tmp/step.pb target/release/deps/network-* --child cuba tfexec
    ~/.cache/snn/pytools-*/bin/python scripts/trace_step.py /tmp/step.pb [--ops]

Prints how many nodes TensorFlow executed per step (the graph after
Grappler) by op type and, when the step ran on TensorFlow's default
executor (the single-threaded one keeps no timings), the wall span of the
step and, with --ops, each op's start and duration in microseconds.
Needs only the `tensorboard` package (its copy of TensorFlow's protos).
"""
import collections
import sys

from tensorboard.compat.proto import config_pb2


def main(path, show_ops):
    md = config_pb2.RunMetadata()
    with open(path, "rb") as f:
        md.ParseFromString(f.read())
    nodes = [n for g in md.partition_graphs for n in g.node]
    print(f"nodes executed per step: {len(nodes)}")
    print(collections.Counter(n.op for n in nodes).most_common())
    rows = [
        (ns.all_start_micros, ns.all_end_rel_micros, ns.node_name)
        for d in md.step_stats.dev_stats
        for ns in d.node_stats
    ]
    if not rows:
        print("no op timings (the single-threaded executor keeps none)")
        return
    rows.sort()
    t0 = rows[0][0]
    span = max(start + took for start, took, _ in rows) - t0
    print(f"step span {span} us, ops' own time {sum(r[1] for r in rows)} us")
    if show_ops:
        for start, took, name in rows:
            print(f"{start - t0:6d} {took:5d} {name}")


if __name__ == "__main__":
    main(sys.argv[1], "--ops" in sys.argv[2:])
