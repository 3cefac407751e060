"""The tune_<candidate> step's search (components.tune is the step): an Optuna study
over the candidate's space, its trials trained by the candidate's framework adapter and
scored by the gate's own metric on a tuning split carved from the train split."""
