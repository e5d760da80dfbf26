"""Documents, dataset IO, stages and executors of the data pipeline."""
