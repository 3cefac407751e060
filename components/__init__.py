"""The pipeline's own steps (the DAG's nodes: baseline, data_gate, evaluate,
infra_validate, push), each a decorated TFX component whose body calls plain functions:
the gates' logic in gates/, the layouts of artifacts on disk in artifacts/, the fast
executors behind TFX's stock steps in executors/, and what each step reports in reports/
(which sits above the steps)."""
