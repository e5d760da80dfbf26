"""`python -m llm_pretrain.train ...` is `llm-train ...`: `torchrun -m llm_pretrain.train`."""

from llm_pretrain.entry import train

if __name__ == "__main__":
    train()
