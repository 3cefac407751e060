"""The gates' logic as plain functions over data, statistics and predictions: schema
anomalies, drift (features, label, spans, served rows), the drift reference, the model
metrics, the paired test of a promotion, the judgement on the reference's rows and
today's bounds. The steps call them; unit tests call them directly."""
