"""Authorization matrix: every URL pattern x every role x own site / other site, against a table written here.

The scene: one fully populated patient at site A and one at site B (screened, primary registered,
evaluated, secondary registered and randomized, through the services). Every role requests every URL:
GET for all, and POST with an empty body for the URLs that write. The object URLs are asked for the
patient of site A and for the patient of site B, so each site role meets an object of its own site and
one of another site: the table is written for site A's patient, and for site B's patient a site-A role
must get what the coordinator of site B gets on site A's patient (404 for every object URL), and the
coordinator of site B what the coordinator of site A gets there.

A leak is any answer that differs from the table, and any page a site role may see that names a
patient of another site (screening or registration number), or any page of a statistician or a user
without a role that names a patient at all. 0 leaks.

The same walk checks Cache-Control (issue 13, oligami_site.middleware.NoStoreMiddleware): every answer to a
signed-in user says no-store, streamed CSV downloads included (tests/oligami_site/test_no_store.py has the
admin and the calendar feed). One walk, two rules: it used to be walked a second time for no-store.

The admin index is in the table. The admin's pages of accounts and roles (issue 13: users, their
passwords and history, memberships, groups, two-factor devices; list, add, change) have their own table
below (ADMIN_GET / ADMIN_POST), with the trial administrator (superuser) as a ninth role: only the
superuser may write there, data managers read users and memberships, nobody else gets in.
"""

import datetime as dt
import os
import re

import pytest
from django.contrib.auth.models import AnonymousUser
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from followup import services as followup_services
from registration import services as registration_services
from tests.factories import PASSWORD, MembershipFactory
from tests.registration.factories import JUDGED_ON, make_eligible_screening, make_plans, record, register

pytestmark = pytest.mark.django_db

ROLES = ("anonymous", "coordinator", "investigator", "monitor", "coordinator_other_site", "data_manager",
         "statistician", "no_role")

L = "login"  # a redirect to the login page (admin's own login page for the admin)
R = "redirect"  # a redirect elsewhere (after a form, to the latest step, to the page that applies)

# GET: url name -> answer of          anonymous, coordinator A, investigator A, monitor A, coordinator B,
#                                      data manager, statistician, user without role
# for the object URLs: the object is site A's patient (see the module docstring for site B's).
GET = {
    "home":                              (L, 200, 200, 200, 200, 200, 200, 200),
    "login":                             (200, R, R, R, R, R, R, R),
    "logout":                            (405, 405, 405, 405, 405, 405, 405, 405),
    "password_change":                   (L, 200, 200, 200, 200, 200, 200, 200),
    "password_change_done":              (L, 200, 200, 200, 200, 200, 200, 200),
    "set_user_language":                 (L, 405, 405, 405, 405, 405, 405, 405),
    # Password reset and activation (issue 13): open to everyone; a link that is not valid gets its page.
    "password_reset":                    (200, 200, 200, 200, 200, 200, 200, 200),
    "password_reset_done":               (200, 200, 200, 200, 200, 200, 200, 200),
    "password_reset_confirm":            (200, 200, 200, 200, 200, 200, 200, 200),
    "password_reset_complete":           (200, 200, 200, 200, 200, 200, 200, 200),
    "activate":                          (200, 200, 200, 200, 200, 200, 200, 200),
    "two_factor":                        (L, 200, 200, 200, 200, 200, 200, 200),
    "two_factor_setup":                  (L, 200, 200, 200, 200, R, R, 200),
    "two_factor_verify":                 (L, R, R, R, R, R, R, R),
    "locked_accounts":                   (L, 403, 403, 403, 403, 200, 403, 403),
    "set_language":                      (R, R, R, R, R, R, R, R),
    "sites":                             (L, 200, 200, 200, 200, 200, 403, 403),
    "site_detail":                       (L, 200, 200, 200, 404, 200, 403, 404),  # pk: the patient's site
    "site_approval":                     (L, 405, 405, 405, 405, 405, 405, 405),
    "site_change_status":                (L, 405, 405, 405, 405, 405, 405, 405),
    "site_enrolment_cap":                (L, 405, 405, 405, 405, 405, 405, 405),
    "site_enrolment_request":            (L, 405, 405, 405, 405, 405, 405, 405),
    "site_enrolment_decision":           (L, 405, 405, 405, 405, 405, 405, 405),
    "screening:patient_list":            (L, 200, 200, 200, 200, 200, 403, 403),
    "screening:patient_create":          (L, 200, 200, 403, 200, 403, 403, 403),
    "screening:patient_detail":          (L, 200, 200, 200, 404, 200, 404, 404),
    "screening:patient_correct":         (L, 200, 200, 403, 404, 200, 404, 404),  # registered: site sees refusal
    "screening:screening_create":        (L, R, R, 403, 404, 403, 404, 404),
    "screening:rescreen":                (L, 405, 405, 405, 405, 405, 405, 405),
    "screening:checklist":               (L, 200, 200, 200, 404, 200, 404, 404),
    "screening:screening_edit":          (L, R, R, 403, 404, 403, 404, 404),
    "screening:log":                     (L, 200, 200, 200, 200, 200, 403, 403),
    "screening:reconsent":               (L, 200, 200, 200, 404, 200, 404, 404),
    "screening:consent_documents":       (L, 200, 200, 200, 200, 200, 403, 403),
    "screening:consent_document_add":    (L, 405, 405, 405, 405, 405, 405, 405),
    "screening:log_csv":                 (L, 200, 200, 200, 200, 200, 403, 403),
    "registration:patient":              (L, 200, 200, 200, 404, 200, 404, 404),
    "registration:primary":              (L, 200, 200, 403, 404, 403, 404, 404),
    "registration:certificate":          (L, 200, 200, 200, 404, 200, 404, 404),
    "registration:randomization_certificate": (L, 200, 200, 200, 404, 200, 404, 404),
    "registration:evaluation":           (L, 200, 200, 403, 404, 403, 404, 404),
    "registration:secondary":            (L, 200, 200, 403, 404, 403, 404, 404),
    "registration:off_study":            (L, 200, 200, 403, 404, 403, 404, 404),
    "registration:evaluation_void":      (L, 403, 403, 403, 404, 200, 404, 404),  # data managers only
    "calendar":                          (L, 200, 200, 200, 200, 403, 403, 403),  # feed: membership sites only
    "calendar_feed":                     (200, 200, 200, 200, 200, 200, 200, 200),  # the token is the key
    "followup:patient":                  (L, 200, 200, 200, 404, 200, 404, 404),
    "followup:course":                   (L, 200, 200, 403, 404, 403, 404, 404),
    "followup:mdt":                      (L, 200, 200, 403, 404, 403, 404, 404),
    "followup:contamination":            (L, 200, 200, 403, 404, 403, 404, 404),
    "followup:assessment":               (L, 200, 200, 403, 404, 403, 404, 404),
    "followup:death":                    (L, 200, 200, 403, 404, 403, 404, 404),
    "followup:alive":                    (L, 200, 200, 403, 404, 403, 404, 404),
    "followup:withdrawal":               (L, 200, 200, 403, 404, 403, 404, 404),
    "followup:curves":                   (L, 200, 200, 200, 200, 200, 200, 403),
    "followup:surveys":                  (L, 200, 200, 200, 200, 200, 403, 403),
    "followup:survey":                   (L, 200, 200, 200, 200, 200, 403, 403),
    "followup:survey_entry":             (L, 200, 200, 403, 404, 403, 404, 404),
    "followup:lost":                     (L, 403, 403, 403, 403, R, 403, 403),
    "randomization:result":              (L, 200, 200, 200, 404, 200, 404, 404),
    # Issue 13: site staff and monitors see no arm counts; data managers the totals by arm; the statistician
    # the balance by site and factor and the allocation log with its internals.
    "randomization:balance":             (L, 404, 404, 404, 404, 200, 200, 404),
    "randomization:balance_csv":         (L, 404, 404, 404, 404, 200, 200, 404),
    "randomization:allocations_csv":     (L, 403, 403, 403, 403, 403, 200, 403),
    "oversight:trail":                   (L, 200, 200, 200, 404, 200, 404, 404),
    "oversight:reports":                 (L, 200, 200, 200, 200, 200, 200, 404),
    "oversight:not_randomized":          (L, 200, 200, 200, 200, 200, 404, 404),
    "oversight:exports":                 (L, 403, 403, 403, 403, 200, 403, 403),
    "oversight:export_analysis":         (L, 403, 403, 403, 403, 200, 403, 403),
    "oversight:data_dictionary":         (L, 403, 403, 403, 403, 200, 403, 403),
    "oversight:data_dictionary_csv":     (L, 403, 403, 403, 403, 200, 403, 403),
    "oversight:export_table":            (L, 403, 403, 403, 403, 200, 403, 403),
    "oversight:export_job_create":       (L, 405, 405, 405, 405, 405, 405, 405),
    "oversight:export_job":              (L, 403, 403, 403, 403, 200, 403, 403),  # the data manager's own job
    "oversight:export_job_download":     (L, 403, 403, 403, 403, 200, 403, 403),
    "queries:list":                      (L, 200, 200, 200, 200, 200, 403, 403),
    "queries:open":                      (L, 403, 403, 403, 403, 200, 403, 403),
    "queries:detail":                    (L, 200, 200, 200, 404, 200, 403, 403),  # pk: a query on the patient
    "queries:step":                      (L, 405, 405, 405, 405, 405, 405, 405),
    "deviations:list":                   (L, 200, 200, 200, 200, 200, 403, 403),
    "deviations:new":                    (L, 200, 200, 403, 200, 200, 403, 403),
    "deviations:detail":                 (L, 200, 200, 200, 404, 200, 403, 403),  # pk: a deviation of the patient
    "oversight:monitoring":              (L, 200, 200, 200, 200, 200, 403, 403),
    "oversight:monitoring_csv":          (L, 200, 200, 200, 200, 200, 403, 403),
    "oversight:cutoffs":                 (L, 403, 403, 403, 403, 200, 403, 403),
    "oversight:cutoff":                  (L, 403, 403, 403, 403, 200, 403, 403),  # pk: a declared cut-off
    "oversight:cutoff_snapshot":         (L, 403, 403, 403, 403, 404, 403, 403),  # not locked: no data set
    "safety:patient_events":             (L, 200, 200, 200, 404, 200, 404, 404),
    "safety:event_create":               (L, 200, 200, 403, 404, 403, 404, 404),
    "safety:death_assessment":           (L, 404, 404, 403, 404, 403, 404, 404),  # no death recorded
    "safety:event":                      (L, 200, 200, 200, 404, 200, 404, 404),  # event_id: the patient's AE
    "safety:event_edit":                 (L, 200, 200, 403, 404, 403, 404, 404),
    "safety:report_sign":                (L, 403, R, 403, 404, 403, 404, 404),  # the site investigator only
    "safety:report_acknowledge":         (L, 403, 403, 403, 403, R, 403, 403),  # the data managers only
    "safety:log":                        (L, 200, 200, 200, 200, 200, 403, 403),
    "safety:log_csv":                    (L, 200, 200, 200, 200, 200, 403, 403),
    "safety:frequency":                  (L, 200, 200, 200, 200, 200, 200, 403),
    "oversight:audit_search":            (L, 403, 403, 403, 403, 200, 403, 403),
    "oversight:export_analysis_with_arm": (L, 403, 403, 403, 403, 403, 200, 403),  # arm + endpoints: statistician
    "admin:index":                       (L, L, L, L, L, 200, 200, L),
}

# POST with an empty body, for the URLs that write: refused (login, 403, 404, 405) where not allowed;
# where allowed, the form comes back with its errors (200) or the view redirects with a message.
POST = {
    "login":                             (200, R, R, R, R, R, R, R),
    "password_change":                   (L, 200, 200, 200, 200, 200, 200, 200),
    "set_user_language":                 (L, R, R, R, R, R, R, R),
    "password_reset":                    (200, 200, 200, 200, 200, 200, 200, 200),  # no address: the form again
    "password_reset_confirm":            (200, 200, 200, 200, 200, 200, 200, 200),  # link not valid
    "activate":                          (200, 200, 200, 200, 200, 200, 200, 200),  # link not valid
    "set_language":                      (R, R, R, R, R, R, R, R),
    "two_factor":                        (L, R, R, R, R, R, R, R),
    "two_factor_setup":                  (L, 200, 200, 200, 200, R, R, 200),
    "two_factor_verify":                 (L, R, R, R, R, R, R, R),
    "locked_accounts":                   (L, 403, 403, 403, 403, R, 403, 403),
    "site_approval":                     (L, 403, 403, 403, 404, 200, 403, 404),  # data managers only
    "site_change_status":                (L, 403, 403, 403, 404, 200, 403, 404),
    # Enrolment caps (issue 17): the data centre sets the cap and decides; the site's editors ask (the scene's
    # sites are below their caps: the request is refused with a message, back to the site page).
    "site_enrolment_cap":                (L, 403, 403, 403, 404, 200, 403, 404),
    "site_enrolment_request":            (L, R, R, 403, 404, 403, 403, 404),
    "site_enrolment_decision":           (L, 403, 403, 403, 404, 200, 403, 404),
    "screening:patient_create":          (L, 200, 200, 403, 200, 403, 403, 403),
    "screening:screening_create":        (L, R, R, 403, 404, 403, 404, 404),
    "screening:patient_correct":         (L, 200, 200, 403, 404, 200, 404, 404),  # no reason: the form again
    "screening:rescreen":                (L, R, R, 403, 404, 403, 404, 404),
    "screening:screening_edit":          (L, R, R, 403, 404, 403, 404, 404),
    "screening:reconsent":               (L, 200, 200, 403, 404, 403, 404, 404),  # no version: the form again
    "screening:consent_document_add":    (L, 403, 403, 403, 403, 200, 403, 403),  # data managers only
    "registration:primary":              (L, 200, 200, 403, 404, 403, 404, 404),
    "registration:evaluation":           (L, 200, 200, 403, 404, 403, 404, 404),
    "registration:secondary":            (L, 200, 200, 403, 404, 403, 404, 404),
    "registration:off_study":            (L, 200, 200, 403, 404, 403, 404, 404),
    "registration:evaluation_void":      (L, 403, 403, 403, 404, 200, 404, 404),  # refused: no reason
    "followup:course":                   (L, 200, 200, 403, 404, 403, 404, 404),
    "followup:mdt":                      (L, 200, 200, 403, 404, 403, 404, 404),
    "followup:contamination":            (L, 200, 200, 403, 404, 403, 404, 404),
    "followup:assessment":               (L, 200, 200, 403, 404, 403, 404, 404),
    "followup:death":                    (L, 200, 200, 403, 404, 403, 404, 404),
    "followup:alive":                    (L, 200, 200, 403, 404, 403, 404, 404),
    "followup:withdrawal":               (L, 200, 200, 403, 404, 403, 404, 404),
    "followup:surveys":                  (L, 403, 403, 403, 403, 200, 403, 403),
    "followup:survey":                   (L, 403, 403, 403, 403, R, 403, 403),
    "followup:survey_entry":             (L, 200, 200, 403, 404, 403, 404, 404),
    "followup:lost":                     (L, 403, 403, 403, 403, R, 403, 403),
    "calendar":                          (L, R, R, R, R, 403, 403, 403),
    "queries:open":                      (L, 403, 403, 403, 403, 200, 403, 403),
    "oversight:export_job_create":       (L, 403, 403, 403, 403, R, 403, 403),  # no kind: back, nothing queued
    "queries:step":                      (L, R, R, 403, 404, R, 403, 403),  # step "answer", no text
    "deviations:new":                    (L, 200, 200, 403, 200, 200, 403, 403),
    "deviations:detail":                 (L, 200, 200, 403, 404, 200, 403, 403),
    "oversight:cutoffs":                 (L, 403, 403, 403, 403, 200, 403, 403),
    "oversight:cutoff":                  (L, 403, 403, 403, 403, 200, 403, 403),
    "safety:event_create":               (L, 200, 200, 403, 404, 403, 404, 404),
    "safety:death_assessment":           (L, 404, 404, 403, 404, 403, 404, 404),
    "safety:event_edit":                 (L, 200, 200, 403, 404, 403, 404, 404),
    "safety:report_sign":                (L, 403, R, 403, 404, 403, 404, 404),  # empty: refused with a message
    "safety:report_acknowledge":         (L, 403, 403, 403, 403, R, 403, 403),  # empty: refused with a message
    "logout":                            (L, L, L, L, L, L, L, L),  # sent last: it ends the session
}

OBJECT_ARGUMENTS = {"pk", "patient_id", "event_id", "report_id"}


def walk(patterns, prefix=""):
    """(route, url name) of every pattern; the admin as its index only."""
    for p in patterns:
        if isinstance(p, URLResolver):
            if p.app_name == "admin":
                yield prefix + str(p.pattern), "admin:index"
                continue
            namespace = f"{p.namespace}:" if p.namespace else ""
            for route, name in walk(p.url_patterns, prefix + str(p.pattern)):
                yield route, (namespace + name if name and not name.startswith("admin:") else name)
        elif isinstance(p, URLPattern):
            yield prefix + str(p.pattern), p.name


def url_names():
    return {name for _route, name in walk(get_resolver().url_patterns)}


def test_the_table_lists_every_url_pattern():
    names = url_names()
    assert None not in names, "every URL pattern needs a name to be in the authorization matrix"
    assert names == set(GET), f"add to the table: {sorted(names - set(GET))}; gone: {sorted(set(GET) - names)}"
    assert set(POST) <= set(GET)
    assert all(len(row) == len(ROLES) for row in (*GET.values(), *POST.values()))


# --- the scene --------------------------------------------------------------------------------------


def randomized_patient(site, user):
    """Screened, primary registered, evaluated, secondary registered and randomized (the services)."""
    screening = make_eligible_screening(site=site)
    patient = register(screening, user).patient
    record(patient, user, JUDGED_ON + dt.timedelta(days=85))
    registration_services.register_secondary(patient=patient, user=user, password=PASSWORD,
                                             registration_date=JUDGED_ON + dt.timedelta(days=86))
    patient.refresh_from_db()
    return patient


@pytest.fixture
def scene(site_a, site_b, coordinator_a, investigator_a, monitor_a, coordinator_b, data_manager, statistician,
          no_role_user, settings, tmp_path):
    from oversight import export_jobs
    from oversight.exports import TABLES
    from randomization.models import Allocation
    from registration import ical
    from tests.randomization.factories import minimization_config

    make_plans()
    minimization_config()
    patients = {"A": randomized_patient(site_a, coordinator_a), "B": randomized_patient(site_b, coordinator_b)}
    assert all(p.stage == "randomized" and Allocation.objects.filter(patient=p).exists() for p in patients.values())
    users = {"anonymous": None, "coordinator": coordinator_a, "investigator": investigator_a, "monitor": monitor_a,
             "coordinator_other_site": coordinator_b, "data_manager": data_manager, "statistician": statistician,
             "no_role": no_role_user}
    marks = {key: {p.screening_number, p.primary_registration.number} for key, p in patients.items()}
    from oversight import queries as data_queries

    query = {key: data_queries.open_query(user=data_manager, patient=p, text="Please check the ECOG.")
             for key, p in patients.items()}
    from oversight import cutoffs, deviations

    deviation = {key: deviations.record_deviation(
        user=data_manager, site_id=0, patient=p, values={
            "date": p.primary_registration.registration_date, "category": "schedule", "description": "Late.",
            "impact_safety": "none", "impact_endpoint": "none"}) for key, p in patients.items()}
    adverse_event, report = {}, {}
    investigators = {"A": investigator_a,
                     "B": MembershipFactory(site=site_b, role="investigator", user__username="pi_b").user}
    for key, p in patients.items():
        adverse_event[key], report[key] = _reported_event(p, users["coordinator"] if key == "A" else coordinator_b,
                                                          investigators[key])
    return {
        "patients": patients, "users": users, "marks": marks, "adverse_event": adverse_event, "report": report,
        "screening": {key: p.screenings.order_by("-number").first() for key, p in patients.items()},
        "feed_token": ical.issue_token(user=coordinator_a).token,
        "export_table": next(iter(TABLES)),
        "survey": followup_services.open_survey(cutoff_date=dt.date.today() - dt.timedelta(days=1),
                                                user=data_manager),
        "query": query,
        "export_job": _written_job(export_jobs, data_manager, next(iter(TABLES)), settings, tmp_path),
        "deviation": deviation,
        "cutoff": cutoffs.declare_cutoff(user=data_manager, cutoff_date=JUDGED_ON, purpose="Interim"),
        "enrolment_request": {key: _enrolment_request(p.site, user, data_manager) for key, p, user in
                              (("A", patients["A"], coordinator_a), ("B", patients["B"], coordinator_b))},
    }


def _enrolment_request(site, user, manager):
    """A request of the site at its cap, still pending, after the data centre raised the cap anyway (so the
    new-patient page stays open for the table's coordinators)."""
    from oligami_site import enrolment

    enrolment.set_cap(site=site, cap=1, user=manager, reason="Planned accrual")
    request = enrolment.request_more(site=site, user=user)
    enrolment.set_cap(site=site, cap=100, user=manager, reason="Raised")
    return request


def _reported_event(patient, user, investigator):
    """A Grade 4 adverse event during protocol treatment (R2b) with its first report signed (safety)."""
    from followup.models import SystemicCourse
    from safety import services as safety_services

    plan = patient.primary_registration.plan
    # The courses S1 read are recorded (issue 16): one more, ongoing, after the last of them.
    last = SystemicCourse.objects.filter(patient=patient).order_by("-number").first()
    followup_services.record_course(patient=patient, user=user, data={
        "plan": plan, "start_date": last.end_date if last else JUDGED_ON + dt.timedelta(days=3), "end_date": None,
        "dose_modified": False, "stopped_early": False})
    onset = JUDGED_ON + dt.timedelta(days=90)
    event = safety_services.record_event(patient=patient, user=user, data={
        "term": "Febrile neutropenia", "grade": 4, "onset_date": onset, "hospitalization_24h": True,
        "causality": "probable", "awareness": dt.datetime.combine(onset, dt.time(9), tzinfo=dt.UTC)})
    report = safety_services.sign_report(event=event, kind="first", narrative="Admitted.", user=investigator,
                                         password=PASSWORD)
    return event, report


def _written_job(export_jobs, user, kind, settings, folder) -> int:
    """A data manager's export job whose file the worker wrote (oversight/export_jobs.py)."""
    settings.EXPORT_DIR = folder
    return export_jobs.write(export_jobs.request_export(user=user, kind=kind).pk).pk


def arguments(name, route, scene, target):
    """URL kwargs for a route: the target patient's objects; other converters from the scene."""
    patient = scene["patients"][target]
    kwargs = {}
    for converter in re.findall(r"<(?:\w+:)?(\w+)>", route):
        if converter == "patient_id":
            kwargs[converter] = patient.pk
        elif converter == "pk" and name.startswith("site_"):
            kwargs[converter] = patient.site_id
        elif converter == "pk" and name in ("queries:detail", "queries:step"):
            kwargs[converter] = scene["query"][target].pk
        elif converter == "pk" and name.startswith("oversight:cutoff"):
            kwargs[converter] = scene["cutoff"].pk
        elif converter == "pk" and name == "deviations:detail":
            kwargs[converter] = scene["deviation"][target].pk
        elif converter == "event_id":
            kwargs[converter] = scene["adverse_event"][target].pk
        elif converter == "report_id":
            kwargs[converter] = scene["report"][target].pk
        elif converter == "request_pk":
            kwargs[converter] = scene["enrolment_request"][target].pk
        elif converter == "step":
            kwargs[converter] = "answer"
        elif converter == "pk":
            kwargs[converter] = scene["screening"][target].pk if name.startswith("screening:") and (
                "checklist" in name or "screening_edit" in name) else patient.pk
        elif converter == "token":
            kwargs[converter] = scene["feed_token"]  # for the reset and activation links: a token not valid
        elif converter == "uidb64":
            kwargs[converter] = "MQ"  # user id 1, base64
        elif converter == "table":
            kwargs[converter] = scene["export_table"]
        elif converter == "job":
            kwargs[converter] = scene["export_job"]
        elif converter == "survey_id":
            kwargs[converter] = scene["survey"].pk
        else:
            raise AssertionError(f"{name}: no value for <{converter}>: teach arguments() about it")
    return kwargs


def answer(response) -> object:
    if response.status_code in (301, 302, 303):
        return L if "login" in response["Location"].split("?")[0] else R
    return response.status_code


def body(response) -> str:
    content = b"".join(response.streaming_content) if response.streaming else response.content
    return content.decode("utf-8", errors="replace")


def expected(table, name, role, target):
    """The table is written for site A's patient; site B's is the mirror image for the site roles."""
    row = dict(zip(ROLES, table[name], strict=True))
    if target == "B" and role in ("coordinator", "investigator", "monitor"):
        return row["coordinator_other_site"]
    if target == "B" and role == "coordinator_other_site":
        return row["coordinator"]
    return row[role]


def foreign_marks(role, scene, target):
    """Numbers the role must never see: the other site's patient (site roles), every patient (no patient role)."""
    marks = scene["marks"]
    if role in ("coordinator", "investigator", "monitor"):
        return marks["B"]
    if role == "coordinator_other_site":
        return marks["A"]
    if role in ("statistician", "no_role", "anonymous"):
        return marks["A"] | marks["B"]
    return set()


@pytest.mark.parametrize("role", ROLES)
def test_authorization_matrix(client, scene, role):
    user = scene["users"][role]
    if user is not None:
        client.force_login(user)  # with the second factor for the data manager and the statistician
    client.raise_request_exception = False
    routes = sorted(walk(get_resolver().url_patterns), key=lambda item: item[1] == "logout")
    observed, leaks, tried = {}, [], 0
    without_no_store, downloads = [], 0
    for method, table in (("get", GET), ("post", POST)):
        for route, name in routes:
            if name not in table:
                continue
            has_object = bool(OBJECT_ARGUMENTS & set(re.findall(r"<(?:\w+:)?(\w+)>", route)))
            for target in ("A", "B") if has_object else ("A",):
                url = reverse(name, kwargs=arguments(name, route, scene, target))
                response = getattr(client, method)(url)
                tried += 1
                got, want = answer(response), expected(table, name, role, target)
                observed[(method, name, target)] = got
                if got != want:
                    leaks.append(f"{method.upper()} {url} ({name}, patient of site {target}): {got}, table says {want}")
                # Signed in: no copy of any answer stays in the browser (the logout's answer is to a signed-out user).
                if user is not None and name != "logout" and "no-store" not in response.get("Cache-Control", ""):
                    without_no_store.append(f"{method.upper()} {url} ({name}): {response.status_code} "
                                            f"Cache-Control={response.get('Cache-Control')!r}")
                downloads += response.streaming and response.status_code == 200
                if response.status_code == 200:
                    text = body(response)
                    # The feed's token is its owner's credential (coordinator A, calendar programs cannot log
                    # in): whoever holds it reads what coordinator A may read, never another site's patients.
                    reader = "coordinator" if name == "calendar_feed" else role
                    for mark in foreign_marks(reader, scene, target):
                        if mark in text:
                            leaks.append(f"{method.upper()} {url} ({name}) shows {mark} to {role}")
    if os.environ.get("MATRIX_PRINT"):
        print(role, "requests:", tried)
        for name in GET:
            print(role, name, {k: v for k, v in observed.items() if k[1] == name})
    assert tried >= len(GET)
    assert not leaks, f"{len(leaks)} leaks for {role}:\n" + "\n".join(leaks)
    assert not without_no_store, f"{len(without_no_store)} answers to {role} without no-store:\n" + "\n".join(
        without_no_store)
    if role == "data_manager":
        assert downloads >= 3  # the streamed exports were among the answers that said no-store


def test_the_leak_check_sees_the_numbers_where_they_are_allowed(client, scene):
    """The marks the matrix looks for do appear where they may: a missing leak is not a missing number."""
    client.force_login(scene["users"]["data_manager"])
    text = body(client.get(reverse("screening:patient_list"))) + body(client.get(reverse("oversight:export_analysis")))
    assert all(mark in text for mark in scene["marks"]["A"] | scene["marks"]["B"])
    client.force_login(scene["users"]["coordinator"])
    text = body(client.get(reverse("registration:patient", args=[scene["patients"]["A"].pk])))
    assert all(mark in text for mark in scene["marks"]["A"])


def test_anonymous_user_has_no_role():
    from oligami_site import access

    assert access.site_ids_for(AnonymousUser()) == set() and not access.is_data_manager(AnonymousUser())


# --- the admin's pages of accounts and roles (issue 13) ------------------------------------------------

ADMIN_ROLES = (*ROLES, "superuser")
F = 403
# GET: url name -> answer of  anonymous, coordinator A, investigator A, monitor A, coordinator B,
#                             data manager, statistician, user without role, superuser
# Object URLs are asked for site A's object and site B's (a coordinator's account, membership, device);
# nobody but the data centre reaches the admin, so the answers are the same for both.
ADMIN_GET = {
    "admin:oligami_site_user_changelist":       (L, L, L, L, L, 200, F, L, 200),
    "admin:oligami_site_user_add":              (L, L, L, L, L, F, F, L, 200),
    "admin:oligami_site_user_change":           (L, L, L, L, L, 200, F, L, 200),  # the data manager: read-only
    "admin:auth_user_password_change":          (L, L, L, L, L, F, F, L, 200),
    "admin:oligami_site_user_history":          (L, L, L, L, L, 200, F, L, 200),
    "admin:oligami_site_membership_changelist": (L, L, L, L, L, 200, F, L, 200),
    "admin:oligami_site_membership_add":        (L, L, L, L, L, F, F, L, 200),
    "admin:oligami_site_membership_change":     (L, L, L, L, L, 200, F, L, 200),
    "admin:oligami_site_membership_history":    (L, L, L, L, L, 200, 404, L, 200),  # no site: not found
    "admin:auth_group_changelist":              (L, L, L, L, L, F, F, L, 200),
    "admin:auth_group_add":                     (L, L, L, L, L, F, F, L, 200),
    "admin:auth_group_change":                  (L, L, L, L, L, F, F, L, 200),  # a trial role's group: read-only
    "admin:otp_totp_totpdevice_changelist":     (L, L, L, L, L, F, F, L, 200),
    "admin:otp_totp_totpdevice_add":            (L, L, L, L, L, F, F, L, F),  # the owner enrols, nobody else
    "admin:otp_totp_totpdevice_change":         (L, L, L, L, L, F, F, L, 200),  # read-only: removed, not edited
    "admin:otp_totp_totpdevice_delete":         (L, L, L, L, L, F, F, L, 200),  # the confirmation page
    # Accounts and memberships are never deleted (the audit trail names them), nor the roles' groups.
    "admin:oligami_site_user_delete":           (L, L, L, L, L, F, F, L, F),
    "admin:oligami_site_membership_delete":     (L, L, L, L, L, F, F, L, F),
    "admin:auth_group_delete":                  (L, L, L, L, L, F, F, L, F),
}
# POST with an empty body: refused, or the form back with its errors (200) for the superuser.
ADMIN_POST = {
    "admin:oligami_site_user_add":              (L, L, L, L, L, F, F, L, 200),
    "admin:oligami_site_user_change":           (L, L, L, L, L, F, F, L, 200),
    "admin:auth_user_password_change":          (L, L, L, L, L, F, F, L, 200),
    "admin:oligami_site_membership_add":        (L, L, L, L, L, F, F, L, 200),
    "admin:oligami_site_membership_change":     (L, L, L, L, L, F, F, L, 200),
    "admin:auth_group_add":                     (L, L, L, L, L, F, F, L, 200),
    "admin:auth_group_change":                  (L, L, L, L, L, F, F, L, F),
    "admin:otp_totp_totpdevice_add":            (L, L, L, L, L, F, F, L, F),
    "admin:otp_totp_totpdevice_change":         (L, L, L, L, L, F, F, L, F),
    "admin:otp_totp_totpdevice_delete":         (L, L, L, L, L, F, F, L, 200),  # no "post": asks again
    "admin:oligami_site_user_delete":           (L, L, L, L, L, F, F, L, F),
    "admin:oligami_site_membership_delete":     (L, L, L, L, L, F, F, L, F),
    "admin:auth_group_delete":                  (L, L, L, L, L, F, F, L, F),
}


@pytest.fixture
def admin_scene(site_a, site_b, coordinator_a, investigator_a, monitor_a, coordinator_b, data_manager, statistician,
                no_role_user):
    from django.contrib.auth.models import Group

    from oligami_site.access import TrialRole
    from oligami_site.models import Membership
    from tests.factories import UserFactory, confirmed_totp_device

    users = {"anonymous": None, "coordinator": coordinator_a, "investigator": investigator_a, "monitor": monitor_a,
             "coordinator_other_site": coordinator_b, "data_manager": data_manager, "statistician": statistician,
             "no_role": no_role_user, "superuser": UserFactory(username="root", is_superuser=True, is_staff=True)}
    return {
        "users": users,
        "user": {"A": coordinator_a.pk, "B": coordinator_b.pk},
        "membership": {key: Membership.objects.get(user=user).pk
                       for key, user in (("A", coordinator_a), ("B", coordinator_b))},
        "totpdevice": {"A": confirmed_totp_device(coordinator_a).pk, "B": confirmed_totp_device(coordinator_b).pk},
        "group": {"A": Group.objects.get(name=TrialRole.DATA_MANAGER).pk},
    }


def admin_url(name, scene, target):
    if name.endswith(("_changelist", "_add")):
        return reverse(name)
    model = "user" if name == "admin:auth_user_password_change" else name.split("_")[-2]
    return reverse(name, args=[scene[model][target]])


def test_admin_tables_list_every_page_of_accounts_and_roles():
    """Every admin URL of the models that hold accounts and roles is in the table (a new view: add it)."""
    from django.contrib import admin

    models = {"oligami_site.user", "oligami_site.membership", "auth.group", "otp_totp.totpdevice"}
    names = set()
    for model, model_admin in admin.site._registry.items():
        if model._meta.label_lower in models:
            names |= {f"admin:{p.name}" for p in model_admin.get_urls() if p.name}
    # Left out: a version of the history (read-only, test_history_readonly), the device's secret (hidden:
    # OTP_ADMIN_HIDE_SENSITIVE_DATA), the Django log history of groups and devices, the autocomplete.
    left_out = {"admin:oligami_site_user_simple_history", "admin:oligami_site_membership_simple_history",
                "admin:otp_totp_totpdevice_config", "admin:otp_totp_totpdevice_qrcode",
                "admin:auth_group_history", "admin:otp_totp_totpdevice_history",
                "admin:oligami_site_membership_autocomplete"}
    assert names - left_out - set(ADMIN_GET) == set(), "add to ADMIN_GET"
    assert set(ADMIN_POST) <= set(ADMIN_GET)
    assert all(len(row) == len(ADMIN_ROLES) for row in (*ADMIN_GET.values(), *ADMIN_POST.values()))


@pytest.mark.parametrize("role", ADMIN_ROLES)
def test_admin_matrix_of_accounts_and_roles(client, admin_scene, role):
    from oligami_site.models import Membership, User

    user = admin_scene["users"][role]
    if user is not None:
        client.force_login(user)
    client.raise_request_exception = False
    before = sorted(User.objects.values_list("username", "is_superuser", "is_staff", "password")), \
        sorted(Membership.objects.values_list("user_id", "site_id", "role", "active"))
    wrong, tried = [], 0
    for method, table in (("get", ADMIN_GET), ("post", ADMIN_POST)):
        for name, row in table.items():
            targets = ("A",) if name.endswith(("_changelist", "_add")) or "group" in name else ("A", "B")
            for target in targets:
                url = admin_url(name, admin_scene, target)
                got, want = answer(getattr(client, method)(url)), dict(zip(ADMIN_ROLES, row, strict=True))[role]
                tried += 1
                if got != want:
                    wrong.append(f"{method.upper()} {url} ({name}, site {target}): {got}, table says {want}")
    if os.environ.get("MATRIX_PRINT"):
        print(role, "admin requests:", tried)
    assert not wrong, f"{len(wrong)} answers differ for {role}:\n" + "\n".join(wrong)
    after = sorted(User.objects.values_list("username", "is_superuser", "is_staff", "password")), \
        sorted(Membership.objects.values_list("user_id", "site_id", "role", "active"))
    assert after == before  # empty posts change nothing, for anyone
