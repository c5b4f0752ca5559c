import contextlib

import pytest
import torch

import safemix.generate.hf as hf
import safemix.train.recipe as recipe
from safemix.generate import get_decoding, load_backend
from safemix.generate.hf import HFBackend
from safemix.models.attention import attention_kernels
from safemix.train import TrainConfig, train
from safemix.train.recipe import SFTRecipe


def test_attention_stays_off_cudnn_on_a_gpu_unless_asked():
    """cuDNN attention plans each new shape on first use (on an H100: generation's first passes 1.8-4.3x,
    LoRA steps 3.4-4.2x slower): generation and training keep a GPU's attention on the other kernels, and
    leave the CPU and the flags as they were."""
    assert HFBackend.cudnn_attention is False and SFTRecipe.cudnn_attention is False
    cuda = torch.backends.cuda
    before = cuda.cudnn_sdp_enabled()
    with attention_kernels("cuda", False):
        assert not cuda.cudnn_sdp_enabled()
        assert cuda.flash_sdp_enabled() and cuda.mem_efficient_sdp_enabled() and cuda.math_sdp_enabled()
    assert cuda.cudnn_sdp_enabled() == before
    for device, cudnn in (("cpu", False), ("cuda", True)):
        with attention_kernels(device, cudnn):
            assert cuda.cudnn_sdp_enabled() == before


def _spy(module, monkeypatch) -> tuple[list, list]:
    """Replace ``module.attention_kernels`` by a wrapper of the real one; (its calls, the contexts open now)."""
    calls, open_ = [], []

    @contextlib.contextmanager
    def spy(device, cudnn=False):
        calls.append((device, cudnn))
        with attention_kernels(device, cudnn):
            open_.append(True)
            try:
                yield
            finally:
                open_.pop()

    monkeypatch.setattr(module, "attention_kernels", spy)
    return calls, open_


def test_every_generation_forward_runs_inside_the_attention_choice(smollm, monkeypatch):
    calls, open_ = _spy(hf, monkeypatch)
    be, _, fmt = load_backend("smollm2-135m", None, "alpaca", False)
    forward, inside = be.model.forward, []
    monkeypatch.setattr(be.model, "forward", lambda *a, **kw: inside.append(bool(open_)) or forward(*a, **kw))
    prompts = [fmt.render("Name a colour.", ""), fmt.render("Name a fruit.", "")]
    for preset in ("greedy", "paper"):
        be.generate(prompts, get_decoding(preset, 3))
    assert calls == [("cpu", False)] * 2 and len(inside) > 4 and all(inside)


@pytest.mark.slow
def test_every_training_step_runs_inside_the_attention_choice(smollm, mixture_file, tmp_path, monkeypatch):
    calls, open_ = _spy(recipe, monkeypatch)
    loss_sum, inside = SFTRecipe.loss_sum, []
    monkeypatch.setattr(SFTRecipe, "loss_sum", lambda self, batch: inside.append(bool(open_)) or loss_sum(self, batch))
    train(TrainConfig(max_steps=2, batch_size=4, micro_batch_size=2, cutoff_len=64, progress=False), mixture_file,
          tmp_path / "out")
    assert calls == [("cpu", False)] and len(inside) == 4 and all(inside)
