"""A corpus work folder that grows by batches: `llm-data refresh` and `llm-data status`."""
