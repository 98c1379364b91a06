"""Run the daily reminder job by hand: the same scan and digests as the Celery beat task.

    python manage.py send_reminders                      # today (Asia/Tokyo)
    python manage.py send_reminders --date 2026-04-01    # as if it were that day
    python manage.py send_reminders --dry-run            # print what would be sent, write nothing
"""

from datetime import date

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone, translation

from registration import reminders


def _parse_date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"--date must be a calendar date written YYYY-MM-DD (e.g. 2026-04-01), got {value!r}.")


class Command(BaseCommand):
    help = "Scan for due reminders and send the day's digest e-mails (the Celery beat job, run by hand)."

    def add_arguments(self, parser):
        parser.add_argument("--date", help="the day to run for, YYYY-MM-DD (default: today in Asia/Tokyo)")
        parser.add_argument("--dry-run", action="store_true", help="print what would be sent; write nothing")

    def handle(self, *args, **options):
        today = _parse_date(options["date"]) if options["date"] else timezone.localdate()
        if options["dry_run"]:
            self._dry_run(today)
            return
        scanned = reminders.scan(today=today)
        self.stdout.write(f"{today}: {scanned.due} reminders due, {scanned.created} new.")
        try:
            result = reminders.send_digests(today=today)
        except reminders.DeliveryFailed as exc:
            raise CommandError(f"Some digests were not sent (their notices stay pending and are retried): {exc}")
        reminders.record_run(scanned)  # the day has run: the hourly catch-up leaves it alone
        for line in result.sent:
            self.stdout.write(self.style.SUCCESS(f"  sent {line}"))
        for line in result.waiting:
            self.stdout.write(f"  {line}: today's digest was sent already; new notices go out tomorrow")
        for line in result.failed:
            self.stdout.write(self.style.ERROR(f"  not sent {line}"))
        if not (result.sent or result.waiting or result.failed):
            self.stdout.write("  nothing to send.")

    def _dry_run(self, today: date) -> None:
        planned = reminders.plan(today=today)
        self.stdout.write(f"{today}: dry run, nothing is written or sent.")
        if not planned:
            self.stdout.write("  nothing to send.")
        for digest in planned:
            name = digest.site.code if digest.site else "data managers"
            to = ", ".join(f"{u.email} ({u.preferred_language})" for u in digest.recipients) or "NO RECIPIENT"
            state = " (today's digest was sent already: waits for tomorrow)" if digest.blocked else ""
            self.stdout.write(f"  digest {name}{state} -> {to}")
            with translation.override("en"):
                rows = reminders.digest_rows(digest.notices, today)
            for row in rows:
                self.stdout.write(f"    {row.number:<12} {row.kind:<20} deadline {row.deadline} "
                                  f"(days left {row.days_left})")
