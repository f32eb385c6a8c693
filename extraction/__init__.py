"""LLM pre-labelling: prompt sets and versions, the LLM client (live, batch, replay), parsing, runs, cost."""
