"""`llm-data filter`: an ordered list of steps, each keeping, annotating, masking or rejecting."""
