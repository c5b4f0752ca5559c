"""The train stage: LoRA / full / QLoRA supervised fine-tuning."""

from .config import TrainConfig
from .examples import IGNORE, Example, encode_all, encode_example
from .recipe import SFTRecipe, is_finished, train

__all__ = ["TrainConfig", "IGNORE", "Example", "encode_all", "encode_example", "SFTRecipe", "is_finished", "train"]
