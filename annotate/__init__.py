"""The review loop on Label Studio: labeling configs, review samples, pushing, webhooks, reconciliation."""
