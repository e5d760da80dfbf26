"""`llm-data dedup`: exact and MinHash near-duplicate removal, incremental through an index."""
