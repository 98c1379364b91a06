"""python manage.py monitoring_report --cutoff YYYY-MM-DD [--format json|csv]: the central monitoring report."""

import csv
import json
import sys
from datetime import date

from django.core.management.base import BaseCommand, CommandError

from oversight import monitoring


class Command(BaseCommand):
    help = "Print the central monitoring report as of a cut-off date (per site and trial-wide)."

    def add_arguments(self, parser):
        parser.add_argument("--cutoff", required=True, help="cut-off date YYYY-MM-DD (Asia/Tokyo)")
        parser.add_argument("--format", choices=["json", "csv"], default="json")

    def handle(self, *args, **options):
        try:
            cutoff = date.fromisoformat(options["cutoff"])
        except ValueError:
            raise CommandError(f"--cutoff must be a date YYYY-MM-DD, not {options['cutoff']!r}") from None
        result = monitoring.report(cutoff=cutoff)
        if options["format"] == "json":
            self.stdout.write(json.dumps(result.as_dict(), ensure_ascii=False))
            return
        writer = csv.writer(self.stdout if self.stdout else sys.stdout, lineterminator="\n")
        keys = ["code", *monitoring.COUNT_KEYS, monitoring.PERCENT_KEY]
        writer.writerow(["cutoff", *keys])
        for row in [*(s.as_dict() for s in result.sites), {"code": "TOTAL", **result.total.as_dict(with_code=False)}]:
            writer.writerow([result.cutoff.isoformat(), *("" if row[k] is None else row[k] for k in keys)])
