"""Helpers shared by the snapdiff DAGs (runner.py). Not DAG files themselves:
.airflowignore keeps the DAG processor out of this package."""
