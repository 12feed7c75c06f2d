"""Weir's promise under faults: a word-count job on a pool of `weir serve` processes, on a real
broker, while runtimes are killed (-9), terminated, paused past their session timeout, added
and removed, writes every (window, word) of the input with its exact count, nothing else, and
never two different counts for one (window, word). At-least-once: a result may be written twice,
always with the same value. See nemesis.py for how the input and the faults are made."""

from nemesis import Options, Run


def test_nemesis(case, options, broker, weir, tmp_path, report):
    window, shuffle, seed = case
    address, control = broker
    run = Run(seed, Options(window=window, shuffle=shuffle == "on", **options), address, control, weir, tmp_path)
    run.execute()
    line = run.line()
    print(line)
    report(line)
    assert not run.failed(), "\n" + run.details()
