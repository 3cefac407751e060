"""Each step records itself: the MLflow child run of a step is written where the step
runs (in its executor, on whichever orchestrator), under the pipeline run's parent run,
and the push step registers the version it pushed. The local runner keeps only what is
local: the console, the up-to-date skip, and the steps TFX's cache reused (they never
reach an executor)."""
