"""Evaluation: question sets, metrics, the runner behind `newsqa eval`, HTML reports and run comparison."""
