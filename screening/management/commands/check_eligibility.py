"""python manage.py check_eligibility CASE.json [CASE2.json ...] (protocol/CASES.md).

One JSON verdict per line on stdout, `case` = the file's name; exit 0 when every case was evaluated
(eligible or not). A malformed or unreadable file is reported on stderr, naming the file and the
field, and makes the exit status non-zero; the other files are still evaluated. Same engine as the
screening forms: screening/cases.py parses, screening/eligibility.py decides.
"""

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from screening.cases import CaseFormatError, load_case, verdict_to_json_dict
from screening.eligibility import evaluate


class Command(BaseCommand):
    help = "Evaluate eligibility case files (protocol/CASES.md): one JSON verdict per line."

    def add_arguments(self, parser):
        parser.add_argument("files", nargs="+", metavar="CASE.json", help="case files to evaluate")

    def handle(self, *args, files, **options):
        malformed = []
        for name in files:
            path = Path(name)
            try:
                facts = load_case(path)
            except (CaseFormatError, ValueError, RecursionError) as exc:
                # CaseFormatError names the field. The plain ValueError / RecursionError come from the JSON
                # decoder itself (an integer of over 4300 digits, nesting too deep), which load_case does
                # not translate yet: still a malformed file, never a traceback.
                message = str(exc) if isinstance(exc, CaseFormatError) else f"invalid JSON: {exc}"
                if not message.startswith(str(path)):
                    message = f"{path}: {message}"
                self.stderr.write(f"malformed case file: {message}")
                malformed.append(name)
                continue
            verdict = verdict_to_json_dict(evaluate(facts), path.name)
            self.stdout.write(json.dumps(verdict, ensure_ascii=False))
        if malformed:
            raise CommandError(f"{len(malformed)} of {len(files)} case files malformed: {', '.join(malformed)}")
