"""The former analysis app, kept as an app label with its migrations only: its models now live in ``taxonomy``
and ``results`` (same tables), and the history of ``analysis`` migrations must stay consistent."""
