"""The experiment engine: the sweep of cells, run resumably in parallel, and its results table."""

from enso.engine.runner import describe_plan, load_results, run_experiment

__all__ = ["describe_plan", "load_results", "run_experiment"]
