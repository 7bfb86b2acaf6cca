"""The paper's studies: hyperparameter search, experiment suites and the few-shot experiment
(orchestration only: they call the engine's public functions)."""
