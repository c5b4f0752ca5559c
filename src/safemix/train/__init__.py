"""The train stage: LoRA / full / QLoRA supervised fine-tuning, and DPO on preference pairs."""

from .config import TrainConfig
from .dpo import DPORecipe  # registers the dpo objective
from .examples import IGNORE, Example, encode_all, encode_example
from .recipe import SFTRecipe, is_finished, train

__all__ = ["TrainConfig", "IGNORE", "Example", "encode_all", "encode_example", "SFTRecipe", "DPORecipe", "is_finished",
           "train"]
