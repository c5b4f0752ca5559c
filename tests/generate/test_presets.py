from safemix.generate import get_decoding
from safemix.generate.vllm import lora_request_args, sampling_args


def test_paper_preset_matches_seed_repo():
    d = get_decoding("paper")
    assert (d.num_beams, d.do_sample, d.max_new_tokens) == (4, False, 128)
    assert (d.temperature, d.top_p, d.top_k) == (0.1, 0.75, 40)


def test_vllm_requests_without_vllm(tmp_path):
    a = lora_request_args(tmp_path / "k100" / "adapter")
    b = lora_request_args(tmp_path / "k300" / "adapter")
    assert a == lora_request_args(tmp_path / "k100" / "adapter")  # stable across calls
    assert a["lora_int_id"] > 0 and a["lora_int_id"] != b["lora_int_id"] and a["lora_name"] != b["lora_name"]
    assert a["lora_path"].endswith("k100/adapter")
    assert sampling_args(get_decoding("paper")) == ("beam", {"beam_width": 4, "max_tokens": 128})
    assert sampling_args(get_decoding("greedy", 64)) == ("sample", {"max_tokens": 64, "temperature": 0.0})
    kind, kw = sampling_args(get_decoding("sample", seed=5))
    assert kind == "sample" and kw["seed"] == 5 and kw["temperature"] == 0.7


def test_vllm_missing_extra_is_a_clear_error():
    import importlib.util

    import pytest

    from safemix.errors import MissingExtraError
    from safemix.generate.vllm import VLLMBackend

    if importlib.util.find_spec("vllm") is not None:
        pytest.skip("vllm is installed")
    with pytest.raises(MissingExtraError, match=r"pip install 'safemix\[vllm\]'"):
        VLLMBackend("m", None)


def test_one_vllm_engine_per_base_model_serves_every_point(tmp_path, monkeypatch):
    """Up to the engine boundary (no GPU here): every point's backend gets the one engine of its base
    model, created once with LoRA on, and sends its own adapter with each request. ``made`` stands in
    for ``vllm.LLM`` and records what the engine would be built with."""
    from safemix.generate import vllm as v

    monkeypatch.setattr(v, "_ENGINES", {})
    made = []

    def factory(**kw):
        made.append(kw)
        return object()

    base = v.engine("/models/llama-7b", True, factory=factory)
    assert v.engine("/models/llama-7b", True, factory=factory) is base  # k=100 and k=300 share it
    assert made == [{"model": "/models/llama-7b", "enable_lora": True, "max_lora_rank": 64}]
    full = v.engine(tmp_path / "full" / "model", False, factory=factory)  # a full fine-tune: its own engine
    assert full is not base and made[-1] == {"model": str(tmp_path / "full" / "model")}
    assert len(made) == 2


def test_the_engine_takes_the_configured_options_and_is_released_at_the_step_end(monkeypatch):
    """generate.vllm's options reach the engine; release_engines() drops every engine the process holds (its GPU memory
    goes back), so the next step builds its own. The engine boundary as above (no GPU here: vLLM's own shutdown and
    CUDA's release are not exercised)."""
    from safemix.config import RunConfig
    from safemix.generate import vllm as v

    monkeypatch.setattr(v, "_ENGINES", {})
    made = []
    cfg = RunConfig(name="x", model="smollm2-135m", data={"general": "g", "safety": "s", "n_general": 1, "k": [0]},
                    generate={"backend": "vllm", "vllm": {"gpu_memory_utilization": 0.5, "max_model_len": 2048}})
    first = v.engine("/m", True, factory=lambda **kw: made.append(kw) or object(), **cfg.generate.vllm.engine())
    assert made[0]["gpu_memory_utilization"] == 0.5 and made[0]["max_model_len"] == 2048
    assert v.release_engines() == 1 and not v._ENGINES
    again = v.engine("/m", True, factory=lambda **kw: made.append(kw) or object(), **cfg.generate.vllm.engine())
    assert again is not first and len(made) == 2
    import pytest

    with pytest.raises(ValueError, match="gpu_memory_utilization"):
        RunConfig(name="x", model="smollm2-135m", data={"general": "g", "safety": "s", "n_general": 1, "k": [0]},
                  generate={"backend": "vllm", "vllm": {"gpu_memory_utilization": 1.5}})
