"""What is on disk inside an artifact, read and written in one place: TFX's own layout
(tfx_layout), the model gate's evaluation record, and what the MLflow record keeps of a
step (kept)."""
