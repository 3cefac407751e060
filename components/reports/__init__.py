"""What each step reports (step_reports asks the step's own module, or tfx_steps and
training for TFX's stock steps and the Trainer): its key figures, its step-log line,
and what the MLflow record keeps (kept.Kept)."""
