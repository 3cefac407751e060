"""The vocabulary every layer reads, at the bottom of the layers: the typed config
(config: the dataset, the candidates, the gates), the label rule, every step's id
(step_ids), and the user's files by content (sources). It imports nothing of sluice."""
