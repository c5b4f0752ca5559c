"""Any data set through ``datasets``: local Parquet, Arrow and CSV files, chat-message lists, a local
dataset folder through the Hub path (hf:FOLDER, no network), column mappings, and one-line errors."""

import json

import pytest

from safemix.data import load_instructions, load_suite, mix
from safemix.errors import SafemixError

datasets = pytest.importorskip("datasets", reason="the [hf] extra (datasets) is not installed")

ROWS = [{"prompt": f"Question {i}?", "response": f"Answer {i}.", "extra": i} for i in range(6)]


def test_parquet_arrow_and_csv_with_and_without_a_mapping(tmp_path):
    ds = datasets.Dataset.from_list(ROWS)
    ds.to_parquet(str(tmp_path / "d.parquet"))
    ds.to_csv(str(tmp_path / "d.csv"), index=False)
    ds.save_to_disk(str(tmp_path / "saved"))
    arrow = next((tmp_path / "saved").glob("*.arrow"))
    for spec in (tmp_path / "d.parquet", tmp_path / "d.csv", arrow):
        loaded = load_instructions(str(spec))
        assert [(r.instruction, r.output) for r in loaded.records] == [(r["prompt"], r["response"]) for r in ROWS]
        assert loaded.provenance()["records"] == 6 and len(loaded.provenance()["sha256"]) == 64
    mapped = load_instructions(f"{tmp_path / 'd.parquet'}?instruction=response&output=prompt")  # an explicit mapping
    assert mapped.records[0].instruction == "Answer 0." and mapped.records[0].output == "Question 0?"
    suite = load_suite(f"{tmp_path / 'd.parquet'}?prompt=prompt")
    assert [p.prompt for p in suite.records][:2] == ["Question 0?", "Question 1?"] and suite.name == "d"


def test_chat_messages_take_the_first_user_turn_and_its_answer(tmp_path):
    f = tmp_path / "chat.jsonl"
    f.write_text("".join(json.dumps({"conversations": [{"role": "system", "content": "be nice"},
                                                       {"role": "user", "content": f"hi {i}"},
                                                       {"role": "assistant", "content": f"hello {i}"},
                                                       {"role": "user", "content": "more"}]}) + "\n" for i in range(3)))
    loaded = load_instructions(f"{f}?messages=conversations")
    assert [(r.instruction, r.output) for r in loaded.records] == [(f"hi {i}", f"hello {i}") for i in range(3)]


def test_a_local_dataset_folder_through_the_hub_path_goes_into_the_manifest(tmp_path):
    folder = tmp_path / "my-org-data"
    folder.mkdir()
    datasets.Dataset.from_list([{"instruction": f"Do {i}", "input": "", "output": f"Done {i}"} for i in range(30)]
                               ).to_parquet(str(folder / "train.parquet"))
    other = tmp_path / "safety-set"
    other.mkdir()
    datasets.Dataset.from_list([{"prompt": f"Bad {i}", "response": "I can't help with that."} for i in range(8)]
                               ).to_parquet(str(other / "train.parquet"))
    general = load_instructions(f"hf:{folder}")
    safety = load_instructions(f"hf:{other}:train")
    assert len(general.records) == 30 and general.records[0].output == "Done 0" and len(safety.records) == 8
    m = mix(general, safety, 10, [0, 5], seed=1)[1].manifest
    assert m["general"]["source"] == f"hf:{folder}" and m["general"]["split"] == "train"
    assert m["general"]["sha256"] == general.provenance()["sha256"]  # the data set's fingerprint


def test_a_hub_id_loads_from_a_datasets_cache_built_here(tmp_path, monkeypatch):
    """The real Hub-id path offline: ``hf:ORG/NAME`` resolves from the ``datasets`` cache, laid out
    as a download leaves it (ORG___NAME/CONFIG/VERSION/HASH), here built from a local Parquet file."""
    import glob
    import os
    import uuid

    import huggingface_hub.constants
    from datasets.packaged_modules.parquet.parquet import Parquet

    # datasets was imported at collection, before the session's offline environment: say it here too
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    name = f"t{uuid.uuid4().hex[:8]}"
    datasets.Dataset.from_list(ROWS).to_parquet(str(tmp_path / "train.parquet"))
    cache = datasets.config.HF_DATASETS_CACHE  # the tests' own cache (conftest), read by load_dataset
    Parquet(cache_dir=str(cache), dataset_name=name, data_files={"train": str(tmp_path / "train.parquet")},
            hash="0123abcd").download_and_prepare()
    os.rename(os.path.join(cache, name), os.path.join(cache, f"safemix-test___{name}"))
    for config in glob.glob(os.path.join(cache, f"safemix-test___{name}", "default-*")):
        os.rename(config, os.path.join(os.path.dirname(config), "default"))  # as a Hub download names it
    loaded = load_instructions(f"hf:safemix-test/{name}:train")
    assert [(r.instruction, r.output) for r in loaded.records] == [(r["prompt"], r["response"]) for r in ROWS]
    prov = loaded.provenance()
    assert prov["source"] == f"hf:safemix-test/{name}" and prov["split"] == "train" and prov["sha256"]
    with pytest.raises(SafemixError, match=f"'hf:safemix-test/{name}x': cannot load with datasets"):
        load_instructions(f"hf:safemix-test/{name}x")  # not cached, and offline: one line


def test_bad_sources_are_one_line_errors(tmp_path):
    datasets.Dataset.from_list([{"a": 1, "b": "x"}]).to_parquet(str(tmp_path / "odd.parquet"))
    with pytest.raises(SafemixError, match=r"odd.parquet: no instruction/output, prompt/response or messages columns"):
        load_instructions(str(tmp_path / "odd.parquet"))
    datasets.Dataset.from_list([{"prompt": "q", "response": ""}]).to_parquet(str(tmp_path / "empty.parquet"))
    with pytest.raises(SafemixError, match=r"empty.parquet: record 0: column 'response' is empty or not text"):
        load_instructions(str(tmp_path / "empty.parquet"))
    with pytest.raises(SafemixError, match=r"bad column mapping 'colour=x'"):
        load_instructions(f"{tmp_path / 'empty.parquet'}?colour=x")
    with pytest.raises(SafemixError, match=r"cannot load with datasets"):
        load_instructions(f"hf:{tmp_path / 'no-such-folder'}")


def test_csv_prompt_files_stay_on_safemix_reader(tmp_path):
    """A CSV of prompts with ids and labels reads as before (no datasets needed, columns kept)."""
    f = tmp_path / "mine.csv"
    f.write_text("id,prompt,label\nx1,How do I bake bread?,safe\nx2,How do I pick a lock?,unsafe\n")
    suite = load_suite(str(f))
    assert [(p.id, p.label) for p in suite.records] == [("mine:x1", "safe"), ("mine:x2", "unsafe")]
    assert suite.provenance()["source"] == "user file"
