"""python manage.py check_reportability FILE [FILE ...] (protocol/SAFETY.md, the contract).

One JSON line per file, in order: the decision (``reportable``, ``rule``, both deadlines in Asia/Tokyo
with the offset, or null) or ``{"case": path, "error": "..."}`` for a malformed file; the command exits
non-zero after all files when any was malformed. Same rules as the pages: safety/reportability.py;
the deadline lengths are the protocol defaults unless given.
"""

import json

from django.core.management.base import BaseCommand, CommandError

from safety.cases import check_file
from safety.reportability import FIRST_REPORT_HOURS, SECOND_REPORT_DAYS


def _positive(value: str) -> int:
    number = int(value)
    if number <= 0:
        raise ValueError(value)
    return number


class Command(BaseCommand):
    help = "Judge reportability case files (protocol/SAFETY.md): one JSON line per file."

    def add_arguments(self, parser):
        parser.add_argument("files", nargs="+", metavar="FILE", help="case files (JSON)")
        parser.add_argument("--first-report-hours", type=_positive, default=FIRST_REPORT_HOURS,
                            help=f"first report deadline in hours (default {FIRST_REPORT_HOURS})")
        parser.add_argument("--second-report-days", type=_positive, default=SECOND_REPORT_DAYS,
                            help=f"second report deadline in days (default {SECOND_REPORT_DAYS})")

    def handle(self, *args, files, first_report_hours, second_report_days, **options):
        malformed = 0
        for path in files:
            line = check_file(path, first_report_hours=first_report_hours, second_report_days=second_report_days)
            malformed += "error" in line
            self.stdout.write(json.dumps(line, ensure_ascii=False))
        if malformed:
            raise CommandError(f"{malformed} of {len(files)} case files malformed")
