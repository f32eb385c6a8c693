"""Analysis: the value taxonomy, contingency tables with adjusted residuals, descriptive results."""
