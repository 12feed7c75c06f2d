"""A job's revision history end to end, through the `weir` CLI against a `weir serve` runtime on
the session's tansu broker: each revision says what it changed in the spec, field by field (a
limit, the batch size, the module; not only the module), and `weir job rollback --to-revision
N` returns to any kept revision as a new one, which says what it changed back."""

import json

import pytest

from control import cli, job_spec, serving, upload, word_count_bytes, word_count_variant
from pool import create_topic, unique


@pytest.fixture
def runtime(weir, broker, tmp_path):
    with serving(weir, broker, tmp_path, "revisions") as rt:
        yield rt


def changed(revision):
    return {c["field"]: (c.get("from"), c.get("to")) for c in revision["changes"]}


def test_each_revision_shows_its_whole_spec_change_and_rollback_returns_to_any_kept_one(weir, broker, runtime):
    rt = runtime
    source, job = unique("rv-in"), unique("rv-job")
    create_topic(broker, source, 1)
    v1 = upload(rt, word_count_bytes(), unique("wc")).json["id"]
    v2 = upload(rt, word_count_variant(job), unique("wc2")).json["id"]
    assert rt.api("POST", "/v1/jobs", job_spec(job, v1, [source], unique("rv-out"))).status == 201
    rt.jobs.append(job)

    cli(weir, rt, "job", "update", job, "--memory", "128MiB")
    cli(weir, rt, "job", "update", job, "--module", v2, "--batch-size", "64")
    history = json.loads(cli(weir, rt, "job", "history", job, "-o", "json").stdout)["history"]
    assert [h["revision"] for h in history] == [1, 2, 3]
    assert history[0]["changes"] == [] and history[0]["kept"] and history[1]["kept"], history
    assert not history[2]["kept"], "the current revision is not among the kept earlier ones"
    assert set(changed(history[1])) == {"limits.memory"}, history[1]
    assert changed(history[2]) == {"module": (v1, v2), "batch_size": (changed(history[2])["batch_size"][0], 64)}
    table = cli(weir, rt, "job", "history", job).stdout
    assert table.startswith("REVISION") and "CHANGES" in table and "(created)" in table, table
    assert f"module: {v1[:12]} -> {v2[:12]}" in table and "3 (current)" in table, table

    # Back to revision 1, past revision 2: a new revision 4 that changes back every field.
    back = json.loads(cli(weir, rt, "job", "rollback", job, "--to-revision", "1", "-o", "json").stdout)
    assert (back["revision"], back["spec"]["module"]) == (4, v1), back
    assert back["spec"]["batch_size"] == changed(history[2])["batch_size"][0] != 64, back["spec"]
    assert set(changed(back["history"][-1])) == {"module", "batch_size", "limits.memory"}, back["history"][-1]
    assert [h["revision"] for h in back["history"] if h["kept"]] == [1, 2, 3], \
        "the revision rolled back from stays kept, so it can be returned to"
    again = json.loads(cli(weir, rt, "job", "rollback", job, "--to-revision", "3", "-o", "json").stdout)
    assert (again["revision"], again["spec"]["module"], again["spec"]["batch_size"]) == (5, v2, 64), again

    missing = cli(weir, rt, "job", "rollback", job, "--to-revision", "99", check=False)
    assert missing.returncode == 1 and "revision_not_kept" in missing.stderr, missing.stderr
    assert "revisions 1, 2, 3, 4" in missing.stderr, missing.stderr
    status = cli(weir, rt, "job", "status", job).stdout
    assert "History:" in status and "5 (current)" in status, status
