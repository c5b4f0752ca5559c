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
