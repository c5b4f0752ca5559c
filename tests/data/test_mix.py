import json

import numpy as np
import pytest

from safemix.data import Instruction, build_mixtures, load_instructions, mix, write_mixtures
from safemix.errors import SafemixError


def _records(n, source):
    return [Instruction(f"{source} question {i}", "", f"answer {i}", source, f"{source}:{i}") for i in range(n)]


def test_nested_and_shared_general():
    general, safety = _records(50, "g"), _records(30, "s")
    ms = build_mixtures(general, safety, 20, [0, 5, 10, 30], seed=3)
    assert [len(m.records) for m in ms] == [20, 25, 30, 50]
    assert all(m.general_ids == ms[0].general_ids for m in ms)
    for small, big in zip(ms, ms[1:]):
        assert big.safety_ids[: small.k] == small.safety_ids
        # the smaller mixture's order is the larger one's order restricted to its examples
        kept = {r.id for r in small.records}
        assert [r.id for r in big.records if r.id in kept] == [r.id for r in small.records]
    assert {r.source for r in ms[-1].records[:50]} == {"g", "s"}  # shuffled, not appended


def test_seed_changes_selection_and_same_seed_repeats():
    general, safety = _records(50, "g"), _records(30, "s")
    a = build_mixtures(general, safety, 20, [10], seed=1)[0]
    b = build_mixtures(general, safety, 20, [10], seed=1)[0]
    c = build_mixtures(general, safety, 20, [10], seed=2)[0]
    assert a.alpaca_json() == b.alpaca_json() and a.safety_ids != c.safety_ids


@pytest.mark.parametrize("n,ks,message", [
    (51, [0], "n_general=51 but the general set has 50"),
    (10, [31], "k=31 but the safety set has 30"),
    (10, "1,x", "comma-separated integers"),
    (10, [-1], "integers >= 0"),
])
def test_bounds(n, ks, message):
    with pytest.raises(SafemixError, match=message):
        build_mixtures(_records(50, "g"), _records(30, "s"), n, ks, seed=1)


def _fake_embed(texts):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(len(texts), 8)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.mark.parametrize("strategy", ["maxmin", "cluster"])
def test_embedding_strategies_are_nested_and_distinct(strategy):
    general, safety = _records(40, "g"), _records(60, "s")
    ms = build_mixtures(general, safety, 10, [5, 20, 60], seed=1, strategy=strategy, embed=_fake_embed)
    assert ms[1].safety_ids[:5] == ms[0].safety_ids and len(set(ms[2].safety_ids)) == 60
    rand = build_mixtures(general, safety, 10, [20], seed=1)[0]
    assert set(ms[1].safety_ids) != set(rand.safety_ids)


def test_maxmin_spreads_over_clusters():
    """Two tight clusters of very different size: max-min picks from both within the first two."""
    safety = _records(40, "s")
    x = np.zeros((40, 2), dtype=np.float32)
    x[:38] = [1, 0]
    x[38:] = [0, 1]
    picked = build_mixtures(_records(5, "g"), safety, 0, [2], seed=5, strategy="maxmin", embed=lambda t: x)[0]
    assert {int(i.split(":")[1]) >= 38 for i in picked.safety_ids} == {True, False}


def test_unknown_strategy():
    with pytest.raises(SafemixError, match="unknown selection strategy 'best'"):
        build_mixtures(_records(5, "g"), _records(5, "s"), 1, [1], seed=1, strategy="best")


def test_real_mixtures_byte_identical_with_manifests(shared_data, tmp_path, run_cli):
    args = ["data", "mix", "--general", "gpteacher-roleplay", "--safety", "safety-tuned-llamas", "--n-general", "1000",
            "--k", "0,100,300", "--seed", "1", "--data-dir", shared_data]
    for out in ("a", "b"):
        code, stdout, _ = run_cli(*args, "--out", tmp_path / out)
        assert code == 0, stdout
    files = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert files == ["k0.json", "k0.manifest.json", "k100.json", "k100.manifest.json", "k300.json", "k300.manifest.json"]
    for name in files:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    k300 = json.loads((tmp_path / "a" / "k300.json").read_text())
    manifest = json.loads((tmp_path / "a" / "k300.manifest.json").read_text())
    assert len(k300) == 1300 and set(k300[0]) == {"instruction", "input", "output"}
    assert manifest["counts"] == {"general": 1000, "safety": 300, "total": 1300}
    assert manifest["safety"]["sha256"] == "7dde08acf87f10cf74fd1b76f56538eae8e413ae8e6b09e3f7bcd97769058dbe"
    assert manifest["seed"] == 1 and manifest["strategy"] == "random" and manifest["leakage"]["checked"]
    k100 = json.loads((tmp_path / "a" / "k100.manifest.json").read_text())
    assert manifest["safety_ids"][:100] == k100["safety_ids"]
    assert manifest["general_ids_sha256"] == k100["general_ids_sha256"]


def test_real_cluster_strategy_covers_topics(shared_data):
    """The cluster strategy on the real demonstrations with the real encoder is nested and seeded."""
    g = load_instructions("gpteacher-roleplay", shared_data)
    s = load_instructions("safety-tuned-llamas", shared_data)
    a = mix(g, s, 10, [20, 100], seed=1, strategy="cluster")
    b = mix(g, s, 10, [20, 100], seed=1, strategy="cluster")
    assert a[1].safety_ids[:20] == a[0].safety_ids and a[1].manifest == b[1].manifest


def test_mix_errors_write_nothing(shared_data, tmp_path, run_cli):
    code, _, err = run_cli("data", "mix", "--general", "gpteacher-roleplay", "--n-general", "10", "--k", "0,5000",
                           "--data-dir", shared_data, "--out", tmp_path / "x")
    assert code == 2 and err.strip() == "error: k=5000 but the safety set has 2483 examples"
    assert not (tmp_path / "x").exists()
    bad = tmp_path / "bad.json"
    bad.write_text('[{"instruction": "a", "output": "b"}, {"instruction": "c"}]')
    code, _, err = run_cli("data", "mix", "--general", bad, "--safety", bad, "--n-general", "1", "--k", "1",
                           "--out", tmp_path / "y", "--leakage", "off")
    assert code == 2 and err.count("\n") == 1 and f"{bad}: record 1: missing field 'output'" in err
    assert not (tmp_path / "y").exists()


def test_write_is_atomic(tmp_path, monkeypatch):
    """A crash in the middle of writing leaves every file whole (old or new), and no temp files."""
    import json
    import os

    def built(seed):
        ms = build_mixtures(_records(5, "g"), _records(5, "s"), 5, [0, 2], seed=seed)
        for m in ms:  # the typed manifest's required fields (mix() fills the rest)
            m.manifest = {"k": m.k, "n_general": 5, "seed": seed, "strategy": "random", "counts": {"total": len(m.records)}}
        return ms

    write_mixtures(built(1), tmp_path)
    names = ["k0.json", "k0.manifest.json", "k2.json", "k2.manifest.json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == names
    old = {n: (tmp_path / n).read_text() for n in names}
    real, calls = os.replace, []

    def crash_on_second(src, dst):
        calls.append(dst)
        if len(calls) == 2:
            raise OSError("simulated crash")
        real(src, dst)

    monkeypatch.setattr(os, "replace", crash_on_second)
    with pytest.raises(OSError, match="simulated crash"):
        write_mixtures(built(2), tmp_path)
    monkeypatch.setattr(os, "replace", real)
    assert sorted(p.name for p in tmp_path.iterdir()) == names  # no temp file left behind
    changed = [n for n in names if (tmp_path / n).read_text() != old[n]]
    assert len(changed) == 1  # the one rename that happened; every file parses
    assert all(json.loads((tmp_path / n).read_text()) is not None for n in names)
