"""safemix: safety-tuning studies of instruction-following LLMs (Safety-Tuned LLaMAs, ICLR 2024)."""

__version__ = "0.1.0"
