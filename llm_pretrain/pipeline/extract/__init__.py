"""`llm-data extract`: WARC, HTML, PDF, text and JSONL/Parquet inputs to documents."""
