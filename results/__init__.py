"""Results: contingency tables with adjusted residuals between extracted features, and descriptive results."""
