"""The production settings with the load benchmark's own Celery queue.

The benchmark's broker database may be shared with another benchmark's workers running at the same time: its
messages go to a queue of their own, which only the benchmark's drain workers read.
"""

from config.settings.production import *  # noqa: F403

CELERY_TASK_DEFAULT_QUEUE = "bench-webhook-load"
