"""The Prefect layer: flows and tasks that call ``synth``; the command line sits on top."""
