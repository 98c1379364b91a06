"""python manage.py run_checks [--date YYYY-MM-DD]: run the automatic checks once (beat runs them daily)."""

import json
from datetime import date

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from oversight import checks


class Command(BaseCommand):
    help = "Run the automatic data checks; open a data query for each new finding (never a duplicate)."

    def add_arguments(self, parser):
        parser.add_argument("--date", help="the day to check as (YYYY-MM-DD, Asia/Tokyo); default today")

    def handle(self, *args, **options):
        try:
            today = date.fromisoformat(options["date"]) if options["date"] else timezone.localdate()
        except ValueError:
            raise CommandError(f"--date must be YYYY-MM-DD, not {options['date']!r}") from None
        counts = checks.run(today=today)
        self.stdout.write(json.dumps({"date": today.isoformat(), "checks": counts}, sort_keys=True))
