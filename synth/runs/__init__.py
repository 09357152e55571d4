"""Training runs: a user's training command run on catalog datasets, its metrics read from a
file it writes or from its output, and its record in the catalog beside the data.

``spec`` declares a run (the request, metric definitions); ``metrics`` reads metric values from
output lines and metrics files; ``refs`` resolves dataset references (an id, ``ID:SPLIT``, a
split of the training dataset); ``execute`` runs the command and records it; ``lineage`` writes
its OpenLineage events.
"""
