"""Word count in Python, JavaScript and C through the Kafka pipeline: `weir build` makes each
example's component (with the toolchains scripts/guest-toolchains installs), one `weir serve`
runs the four word counts (Rust's included) as four jobs over the same input topic, and every
language's output topic must hold exactly the records, keys and values byte for byte, that
the Rust job writes, which must be the test's own reference counts. Uploaded to the API, each
component says its language."""

import json
import shutil
import subprocess
import sys

import pytest

from conftest import ROOT
from control import Runtime, cli, upload, word_count_bytes
from pool import Stream, Weir, create_topic, read_topic, unique

# Rust's char::is_alphanumeric as a regex (the Python example's table, which
# runtime/tests/all/languages.rs checks against Rust): the reference tokenizer.
sys.path.insert(0, str(ROOT / "examples" / "word-count-py"))
from alphanumeric import WORD  # noqa: E402

LANGUAGES = ("py", "js", "c")

# Both tests on one xdist worker (scripts/test runs `--dist loadgroup`), so they share the
# module's `components`: the second then finds the Python and JavaScript components in the
# compile cache. Split over two workers, each built its own components and compiled them at
# once with both cores busy (the cache did not help across builds): a debug build took 59 s
# for the JavaScript one, and an upload's reply came after the client's 60 s.
pytestmark = pytest.mark.xdist_group("languages")

# Words the languages' own Unicode tables would split or lower-case differently.
MULTILINGUAL = [
    "Ünïcode straße ÉTÉ l'été",
    "ΟΔΟΣ Σοφία ΣΑΣ",
    "नमस्ते दुनिया ภาษาไทย",
    "日本語のテキスト 한국어 x² ½ ٣٤",
    "İstanbul DİYARBAKIR",
]


@pytest.fixture(scope="module")
def components(weir, tmp_path_factory):
    """language -> the example's component, built by `weir build` in a copy of the example."""
    built = {}
    for lang in LANGUAGES:
        project = tmp_path_factory.mktemp(f"build-{lang}") / f"word-count-{lang}"
        shutil.copytree(ROOT / "examples" / f"word-count-{lang}", project,
                        ignore=shutil.ignore_patterns("build", "node_modules"))
        result = subprocess.run([weir, "build"], cwd=project, capture_output=True, text=True)
        assert result.returncode == 0, f"weir build of word-count-{lang} failed:\n{result.stderr}"
        built[lang] = project / "build" / f"word-count-{lang}.wasm"
    return built


def reference_counts(records, size_ms=10_000):
    """(window_start, word) -> count, words split and lower-cased as Rust's word count does."""
    counts = {}
    for _, ts, line in records:
        for word in WORD.findall(line):
            key = (ts - ts % size_ms, word.lower())
            counts[key] = counts.get(key, 0) + 1
    return counts


def latest(records):
    """Raw key bytes -> raw value bytes, the last per key (the output is at-least-once, keyed
    by (window, key), and a repeated result has the same value)."""
    return {key: value for key, value, _ in records}


def test_every_language_writes_the_rust_word_counts_records(broker, weir, tmp_path, components):
    name = unique("lang")
    lines = f"{name}-lines"
    create_topic(broker, lines, 3)
    outputs = {lang: f"{name}-{lang}-counts" for lang in ("rust", *LANGUAGES)}
    runtime = Weir(weir, broker, tmp_path, name, [lines], outputs["rust"])
    config = runtime.config.read_text()
    for lang in LANGUAGES:
        config += (f'\n[[job]]\nname = "{name}-{lang}"\nmodule = {json.dumps(str(components[lang]))}\n'
                   f'input = ["{lines}"]\noutput = "{outputs[lang]}"\nwindow = "tumbling:10s"\n'
                   f'commit_interval = "200ms"\n')
    runtime.config.write_text(config)

    stream = Stream(partitions=3, lines=900, seconds=40, seed=23)
    base = stream.records[0][1]
    stream.records += [(i % 3, base + 1000 * i, line) for i, line in enumerate(MULTILINGUAL)]
    stream.records.sort(key=lambda r: r[1])
    reference = reference_counts(stream.records)
    runtime.start()
    try:
        stream.publish(broker, lines)
        stream.close_windows(broker, lines)
        got = {}
        for lang, topic in outputs.items():
            records = read_topic(broker, topic, deadline=240,
                                 until=lambda rs: len({r[0] for r in rs}) >= len(reference))
            got[lang] = latest(records)
            assert got[lang], f"the {lang} job wrote nothing:\n{runtime.logs()}"
    finally:
        runtime.stop()

    # The Rust job is right: exactly the reference counts.
    rust = {(json.loads(k)["window_start"], json.loads(k)["key"]): json.loads(v)["value"]
            for k, v in got["rust"].items()}
    assert rust == reference, f"the Rust job is not the reference:\n{runtime.logs()}"
    assert any(word == "दुनिया" for _, word in rust), "the multilingual lines were counted"
    for lang in LANGUAGES:
        missing = {k: v for k, v in got["rust"].items() if got[lang].get(k) != v}
        extra = {k: v for k, v in got[lang].items() if k not in got["rust"]}
        assert not missing and not extra, (
            f"{lang} differs from Rust: {len(missing)} records missing or different "
            f"{list(missing.items())[:3]}, {len(extra)} extra {list(extra.items())[:3]}\n{runtime.logs()}")


def test_an_uploaded_module_says_its_language(broker, weir, tmp_path, components):
    """The API reads each component's language from its producers sections (and, for
    componentize-py's, from the CPython its modules link): the module record, `weir module
    list -o wide` and `inspect` show it, beside the SDK the module names itself."""
    rt = Runtime(weir, broker, tmp_path, "languages").wait_ready()
    try:
        expected = {"rust": "Rust", "py": "Python", "js": "JavaScript", "c": "C"}
        ids = {}
        for lang, language in expected.items():
            data = word_count_bytes() if lang == "rust" else components[lang].read_bytes()
            reply = upload(rt, data, unique(f"wc-{lang}"))
            assert reply.status in (200, 201), reply
            module = reply.json
            assert module["language"] == language, f"{lang}: {module}"
            assert module["processed_by"], f"{lang}: the tools that built it: {module}"
            ids[lang] = module["id"]
        listed = {m["id"]: m for m in rt.api("GET", "/v1/modules").json["modules"]}
        assert {lang: listed[i]["language"] for lang, i in ids.items()} == expected
        wide = cli(weir, rt, "module", "list", "-o", "wide").stdout
        for lang, language in expected.items():
            (row,) = [line for line in wide.splitlines() if ids[lang] in line]
            assert f"   {language}   " in row, row
        described = cli(weir, rt, "module", "inspect", ids["py"]).stdout
        assert "Language:  Python\n" in described, described
        assert "SDK:       weir-sdk-python/" in described, described
    finally:
        rt.stop()
