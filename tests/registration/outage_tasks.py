"""A task that holds a worker busy, loaded only by the outage test's worker (`celery worker -I`): it stands
for a long reminder job that is running when Redis dies (acks_late, like the reminder tasks)."""

import time
from pathlib import Path

from celery import shared_task


@shared_task(acks_late=True)
def hold(marker: str, seconds: float) -> str:
    Path(marker).touch()  # tells the test the worker is inside the task
    time.sleep(seconds)
    return "held"
