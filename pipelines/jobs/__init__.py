"""What sluice does besides a pipeline run, one module per job with one entry function
the CLI calls: batch prediction, monitoring served rows, schema inference, the version
table and rollback, with their input checks and readers."""
