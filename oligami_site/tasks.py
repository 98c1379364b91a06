from celery import shared_task


@shared_task
def ping():
    """Health check for operations and for the round-trip test: proves a worker consumed a task."""
    return "pong"
