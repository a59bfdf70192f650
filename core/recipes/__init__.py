"""Commands that drive a task's ordinary runs: cross-validation, hyperparameter search and the
learning-rate finder. Each is handed the command group it drives; none imports the CLI.
"""
