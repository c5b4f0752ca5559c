import torch

from safemix.generate.hf import HFBackend
from safemix.models.attention import attention_kernels
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
