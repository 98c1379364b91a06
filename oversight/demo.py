"""Demo data of the roof: data queries in each state and a protocol deviation, so that the query list,
the worklist's summary, the deviations page and the monitoring report show something on `make run`.

Through the services, as the data manager `dm` and the site's coordinator. Idempotent: nothing is
created when a demo query (text starting with DEMO) already exists.
"""

from __future__ import annotations

from django.utils import timezone

from oligami_site.models import Membership, User
from registration.models import PrimaryRegistration

from . import checks, deviations, queries
from .models import DataQuery

DEMO = "DEMO"


def seed(*, stdout) -> None:
    if DataQuery.objects.filter(text__startswith=DEMO).exists():
        return
    data_manager = User.objects.filter(username="dm").first()
    registrations = list(PrimaryRegistration.objects.select_related("patient", "screening")
                         .order_by("patient__site__code", "number")[:3])
    if data_manager is None or len(registrations) < 3:
        return
    created = 0
    for n, registration in enumerate(registrations):
        patient = registration.patient
        coordinator = (User.objects.filter(memberships__site_id=patient.site_id, memberships__active=True,
                                           memberships__role=Membership.Role.COORDINATOR).order_by("username")
                       .first())
        query = queries.open_query(
            user=data_manager, patient=patient, record_type="screening", record_id=registration.screening_id,
            field="ecog", text=f"{DEMO}: ECOG 0 at screening, but the clinic note of the same day says 1. "
                               "Please check the source document.")
        created += 1
        if n >= 1 and coordinator is not None:
            queries.answer_query(user=coordinator, query=query,
                                 text=f"{DEMO}: checked against the source: ECOG 0 is right (note corrected).")
        if n == 2:
            queries.close_query(user=data_manager, query=query, text=f"{DEMO}: thank you.")
    first = registrations[0]
    coordinator = (User.objects.filter(memberships__site_id=first.patient.site_id, memberships__active=True,
                                       memberships__role=Membership.Role.COORDINATOR).order_by("username").first())
    if coordinator is not None:
        deviations.record_deviation(user=coordinator, site_id=first.patient.site_id, patient=first.patient, values={
            "date": min(first.registration_date, timezone.localdate()), "category": "data",
            "description": f"{DEMO}: the screening lab panel was entered from a copy, not the source report.",
            "impact_safety": "none", "impact_endpoint": "none",
            "corrective_action": "Values re-checked against the source report.", "preventive_action": ""})
    counts = checks.run(today=timezone.localdate())
    stdout.write(f"Demo data queries: {created} raised, automatic checks {counts}; one deviation.")
