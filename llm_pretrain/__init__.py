"""llm-pretrain: raw crawls and documents in, a pretraining corpus and a trained model out."""

__version__ = "0.1.0"
