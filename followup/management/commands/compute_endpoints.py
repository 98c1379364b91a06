"""python manage.py compute_endpoints FILE [FILE ...] (protocol/FOLLOWUP.md, "The compute_endpoints command").

One JSON line per file on stdout, in order: {"case": path, "os_days", "os_event", "pfs_days", "pfs_event",
"problems"}. A malformed file prints {"case": path, "error": "..."} in its place; the other files are
still computed and the command exits non-zero at the end. Same pure function as the pages, the export
and the Kaplan-Meier pictures: followup/endpoints.py.
"""

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from followup.endpoints import CaseFormatError, compute, loads_case


class Command(BaseCommand):
    help = "Compute overall survival and progression-free survival (F1-F5) from JSON files, one line per file."

    def add_arguments(self, parser):
        parser.add_argument("files", nargs="+", metavar="FILE", help="one JSON file per patient")

    def handle(self, *args, files, **options):
        malformed = 0
        for name in files:
            try:
                text = Path(name).read_text(encoding="utf-8")
                facts = loads_case(text)
            except (OSError, UnicodeDecodeError) as exc:
                line = {"case": name, "error": f"unreadable: {exc.__class__.__name__}: {exc}"}
            except CaseFormatError as exc:
                line = {"case": name, "error": str(exc)}
            else:
                line = {"case": name, **compute(facts).as_dict()}
            if "error" in line:
                malformed += 1
            self.stdout.write(json.dumps(line, ensure_ascii=False))
        if malformed:
            raise CommandError(f"{malformed} of {len(files)} files malformed")
