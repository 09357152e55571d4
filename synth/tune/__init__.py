"""Tuning jobs: the parameters of the data (spec fields) and of training (hyperparameters)
searched the way SageMaker's automatic model tuning searches a model's, on Optuna.

``config`` reads and checks a job's config; ``space`` turns its ranges into Optuna
distributions and a trial's values into a build config and hyperparameters; ``storage`` keeps
the studies in a SQLite file beside the catalog; ``trial`` builds a trial's dataset and runs its
command; ``job`` runs a job to its end (resume, warm start, completion criteria); ``report``
describes a job and draws its picture. None of it imports Prefect.
"""
