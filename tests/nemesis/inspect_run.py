"""Looks into the broker of a kept nemesis run (a failed run keeps run.json, results.jsonl and
the broker's SQLite data in its tmp_path): committed offsets of the job's groups, and for every
repartition partition the last watermark marker of each (upstream, epoch).

    .venv/bin/python tests/nemesis/inspect_run.py RUN_DIR

It starts the run's tansu on a free port and stops it at the end. Marker decoding follows
runtime/src/shuffle/mod.rs (see `nemesis.decode_shuffle`); records it cannot decode are counted."""

import json
import pathlib
import subprocess
import sys

from confluent_kafka import Consumer, TopicPartition

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from nemesis import ROOT, e2e, last_markers, read_to_end  # noqa: E402


def main(run_dir):
    run_dir = pathlib.Path(run_dir)
    run = json.loads((run_dir / "run.json").read_text())
    job = run["job"]
    data, port = run_dir / "broker", e2e.free_port()
    script = ROOT / "scripts" / "test-broker"
    subprocess.run([script, "start", data, str(port)], check=True)
    broker = f"127.0.0.1:{port}"
    try:
        print(f"job {job}: seed {run['seed']}, faults {run['faults']}")
        inputs, repartition = f"{job}-in", f"weir.{job}.repartition"
        for group, topic in [(f"weir.{job}", inputs), (f"weir.{job}.reduce", repartition)]:
            c = Consumer({"bootstrap.servers": broker, "group.id": group, "enable.auto.commit": False})
            try:
                meta = c.list_topics(topic, timeout=10).topics.get(topic)
                if meta is None or meta.error is not None:
                    continue
                parts = sorted(meta.partitions)
                committed = c.committed([TopicPartition(topic, p) for p in parts], timeout=10)
                ends = [c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in parts]
                print(f"group {group} on {topic}: committed {[tp.offset for tp in committed]} of ends {ends}")
            finally:
                c.close()
        records = read_to_end(broker, repartition)
        for p in sorted({r[3] for r in records}):
            mine = [r for r in records if r[3] == p]
            markers, undecoded = last_markers(mine)
            print(f"repartition partition {p} ({len(mine)} records, {undecoded} not decoded):")
            for (upstream, epoch), (offset, watermark, session, n, partials) in sorted(markers.items()):
                print(f"  {upstream} epoch {epoch}: last marker at offset {offset}: watermark {watermark}, "
                      f"earliest open session {session}; markers {n}, partials {partials}")
    finally:
        subprocess.run([script, "stop", data], check=True)


if __name__ == "__main__":
    main(sys.argv[1])
