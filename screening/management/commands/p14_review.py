"""python manage.py p14_review: the screenings whose verdict the round-2 P14 migration kept.

Migration screening 0002 marked a blank initial-treatment part "not given" where a recurrent patient's
screening relied on that reading (screening/p14_review.py). This lists each such screening still as the
migration left it (no later change by a site), with its verdict now and the verdict it would get if the
blank were read as not recorded, so the data centre can ask the site to confirm or correct the parts.
One line per screening, then the count; exit 0.
"""

from django.core.management.base import BaseCommand
from django.db.models import Max

from screening import eligibility as rules
from screening.models import Screening
from screening.p14_review import REASON, inferred_parts, verdict_if_blank_not_recorded


def _summary(verdict: rules.Verdict) -> str:
    if verdict.eligible:
        return "eligible"
    failed, missing, excluded = (",".join(ids) or "-" for ids in (verdict.failed, verdict.missing,
                                                                   verdict.excluded_by))
    return f"not eligible (failed {failed}; missing {missing}; excluded by {excluded})"


class Command(BaseCommand):
    help = "List the screenings whose P14 verdict the round-2 migration kept (blank part read as not given)."

    def handle(self, *args, **options):
        history = Screening.history.model.objects
        migrated = history.filter(history_change_reason=REASON).values("id").annotate(at=Max("history_id"))
        latest = dict(history.filter(id__in=[m["id"] for m in migrated]).values("id").annotate(
            last=Max("history_id")).values_list("id", "last"))
        still = [m["id"] for m in migrated if latest.get(m["id"]) == m["at"]]
        screenings = (Screening.objects.filter(pk__in=still).select_related("patient", "labs")
                      .prefetch_related("lesions").order_by("patient__screening_number", "number"))
        count = 0
        for screening in screenings:
            now = rules.evaluate(screening.to_primary_facts())
            blank = verdict_if_blank_not_recorded(screening)
            self.stdout.write(
                f"{screening.patient.screening_number} screening {screening.number} "
                f"[{screening.patient.stage}] not given (inferred): {', '.join(inferred_parts(screening))}; "
                f"P14 {now.criterion('P14').status} -> {blank.criterion('P14').status}; "
                f"now {_summary(now)}; if blank were not recorded {_summary(blank)}")
            count += 1
        self.stdout.write(f"{count} screening(s) kept their verdict through the P14 migration "
                          f"and would change if a blank were read as not recorded.")
