"""Validation: agreement with confidence intervals, inter-rater reliability, paired prompt comparison."""
