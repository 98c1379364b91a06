"""Reports: the CONSORT numbers add up (demo data and random trials: every screened patient in exactly one
terminal box), accrual by site, the non-randomized patients and why, who sees which sites' numbers, and
bounded queries."""

import datetime as dt
import io
import re
from collections import Counter

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from oligami_site.models import Signature
from oversight import reports
from oversight.reports import Box
from randomization.models import Allocation
from registration import selectors as registration_selectors
from registration import services as registration_services
from registration.models import OffStudy, PrimaryRegistration, ResponseEvaluation, SecondaryRegistration
from screening.models import LabPanel, Patient, Screening
from tests.factories import PASSWORD, MembershipFactory, PatientFactory
from tests.randomization.factories import minimization_config
from tests.registration.factories import bulk_patients, make_eligible_screening, make_plans, record, register

pytestmark = pytest.mark.django_db
DAY = dt.timedelta(days=1)
BREAKDOWN_BOXES = (Box.SCREEN_FAILED, Box.OFF_STUDY, Box.WINDOW_MISSED, Box.BEFORE_SECONDARY, Box.RANDOMIZED)


def assert_adds_up(consort, flows):
    """Every screened patient in exactly one terminal box; every breakdown sums to its box; the flow holds."""
    assert sum(n for _box, _label, n in consort.terminal()) == consort.screened == len(flows)
    assert Counter(f.box for f in flows) == +Counter({box: n for box, _l, n in consort.terminal()})
    for box in BREAKDOWN_BOXES:
        assert sum(n for _code, _label, n in consort.breakdown(box)) == consort.boxes[box], box
    assert consort.eligible + consort.boxes[Box.SCREENING] + consort.boxes[Box.SCREEN_FAILED] == consort.screened
    assert consort.primary_registered + consort.boxes[Box.ELIGIBLE] == consort.eligible
    assert consort.not_randomized_after_primary + consort.randomized == consort.primary_registered
    assert consort.arm("A") + consort.arm("B") == consort.randomized
    assert consort.screened >= consort.eligible >= consort.primary_registered >= consort.randomized >= 0
    reports.diagram(consort)  # draws from the same numbers


def assert_matches_the_database(consort, site_ids=None):
    def scoped(queryset, field="patient__site_id"):
        return queryset if site_ids is None else queryset.filter(**{f"{field}__in": site_ids})

    assert consort.screened == scoped(Patient.objects.filter(screenings__isnull=False).distinct(), "site_id").count()
    assert consort.boxes[Box.SCREEN_FAILED] == scoped(Patient.objects.filter(stage="screen_failed"), "site_id").count()
    assert consort.primary_registered == scoped(PrimaryRegistration.objects.all()).count()
    assert consort.boxes[Box.OFF_STUDY] == scoped(OffStudy.objects.all()).count()
    assert consort.randomized == scoped(Allocation.objects.all()).count()
    for arm in ("A", "B"):
        assert consort.arm(arm) == scoped(Allocation.objects.filter(arm=arm)).count()


def assert_flat_rows_agree(site_ids=None, today=None):
    """The reports page's flat rows (one values() query) place every patient as the full classification does."""
    today = today or timezone.localdate()
    # The same timeline from model instances (pages of one patient) and from plain values (worklist, reports).
    assert {p.pk: registration_selectors.timeline_of(p) for p in reports.flow_queryset(site_ids)} == {
        row["pk"]: registration_selectors.timeline_from_values(row) for row in reports.flow_row_queryset(site_ids)}
    flows = reports.flows_for(site_ids, today)
    rows = reports.flow_rows(site_ids, today)
    assert [(f.patient_id, f.site_id, f.box, f.reason, f.first_screening_date, f.primary_date, f.randomized_on)
            for f in flows] == [(r.patient_id, r.site_id, r.box, r.reason, r.first_screening_date, r.primary_date,
                                 r.randomized_on) for r in rows]
    assert reports.consort(rows) == reports.consort(flows)
    assert reports.accrual_counts(rows) == reports.accrual_counts(flows)
    not_randomized = reports.flow_rows(site_ids, today, exclude_randomized=True)
    assert [r.patient_id for r in not_randomized] == [f.patient_id for f in flows if f.box != Box.RANDOMIZED]
    # The list's rows (values only) show what the full classification gives.
    listed = reports.listed_flows([r.patient_id for r in not_randomized], today)
    full = {f.patient_id: f for f in flows}
    assert [r.patient_id for r in listed] == [r.patient_id for r in not_randomized]
    for row in listed:
        flow = full[row.patient_id]
        off_study = flow.patient.off_study if flow.box == Box.OFF_STUDY else None
        assert (row.box, row.reason, row.window_close, row.screening_number, row.site_code, row.registration_number,
                row.off_study_date) == (flow.box, flow.reason, flow.window_close, flow.patient.screening_number,
                                        flow.patient.site.code, flow.primary.number if flow.primary else None,
                                        off_study.date if off_study else row.off_study_date)
        if row.box == Box.SCREEN_FAILED:
            assert row.failed == flow.failed
        if row.box == Box.SCREENING:
            assert row.missing == flow.missing


def test_the_consort_numbers_add_up_for_the_demo_data(client, settings, data_manager):
    settings.OLIGAMI_DEMO_PASSWORD = "demo-password-for-tests"
    call_command("seed_demo", stdout=io.StringIO())
    flows = reports.flows_for(None)
    consort = reports.consort(flows)
    assert_adds_up(consort, flows)
    assert_matches_the_database(consort)
    assert consort.boxes[Box.SCREEN_FAILED] and consort.randomized and consort.boxes[Box.OFF_STUDY]
    assert consort.boxes[Box.WINDOW_MISSED] and consort.boxes[Box.BEFORE_SECONDARY]
    for days in (0, 30, 120):  # today and later days, when windows have opened, closed and labs gone stale
        assert_flat_rows_agree(None, timezone.localdate() + days * DAY)
    # The page shows the same numbers, as a diagram and as a table.
    data_manager.refresh_from_db()  # the seed set the demo password on "dm"
    client.force_login(data_manager)
    html = client.get(reverse("oversight:reports")).content.decode()
    assert '<svg id="consort-diagram"' in html and " style=" not in html
    assert f"Screened: n = {consort.screened}" in html and f"Randomized: n = {consort.randomized}" in html
    assert re.search(rf'id="consort-total">{consort.screened}<', html)


# --- random trials (hypothesis) -------------------------------------------------------------------------

KINDS = ("unscreened", "draft", "failed", "eligible", "registered", "off_study", "randomized")
CRITERIA = ("P5", "P9", "P16", "E7", "E13")


@st.composite
def patient_specs(draw):
    kind = draw(st.sampled_from(KINDS))
    spec = {"kind": kind, "site": draw(st.integers(0, 1)), "screened_days_ago": draw(st.integers(0, 400))}
    if kind == "failed":
        spec["failed"] = draw(st.lists(st.sampled_from(CRITERIA), unique=True, max_size=3))
    if kind in ("registered", "off_study"):
        spec["primary_days_ago"] = draw(st.integers(0, 220))
        spec["evaluation_day"] = draw(st.one_of(st.none(), st.integers(60, 140)))
    if kind == "randomized":  # secondary registered: evaluated, day 84 or later
        spec["primary_days_ago"] = draw(st.integers(84, 220))
        spec["evaluation_day"] = draw(st.integers(60, 84))
    if "primary_days_ago" in spec:
        spec["progression"] = draw(st.booleans())
        spec["off_reason"] = draw(st.sampled_from(OffStudy.Reason.values))
        spec["arm"] = draw(st.sampled_from(["A", "B"]))
    return spec


class Builder:
    """Cheap rows in any stage (straight to the ORM: test set-up, no services, no engine)."""

    def __init__(self, sites, user, plan, config):
        self.sites, self.user, self.plan, self.config = sites, user, plan, config
        self.today = timezone.localdate()
        self.sequence = 0

    def build(self, spec):
        stage = {"unscreened": "screening", "draft": "screening", "failed": "screen_failed", "eligible": "eligible",
                 "registered": "registered", "off_study": "off_study",
                 "randomized": "randomized"}[spec["kind"]]
        patient = PatientFactory(site=self.sites[spec["site"]], stage=stage)
        if spec["kind"] == "unscreened":
            return patient
        outcome = {"draft": "draft", "failed": "not_eligible"}.get(spec["kind"], "eligible")
        failed = spec.get("failed", [])
        screening = Screening.objects.create(
            patient=patient, number=1, screening_date=self.today - spec["screened_days_ago"] * DAY, outcome=outcome,
            verdict={"eligible": outcome == "eligible", "failed": [c for c in failed if c.startswith("P")],
                     "excluded_by": [c for c in failed if c.startswith("E")], "missing": []})
        if "primary_days_ago" not in spec:
            return patient
        primary_on = self.today - spec["primary_days_ago"] * DAY
        self.sequence += 1
        primary = PrimaryRegistration.objects.create(
            patient=patient, screening=screening, sequence=self.sequence, number=f"OLG-{self.sequence:05d}",
            registration_date=primary_on, verdict={}, engine_version="test", subtype="luminal", plan=self.plan,
            signature=self._signature(patient))
        evaluation = None
        evaluation_day = spec["evaluation_day"]
        if evaluation_day is not None and primary_on + evaluation_day * DAY <= self.today:
            evaluation = ResponseEvaluation.objects.create(
                patient=patient, date=primary_on + evaluation_day * DAY, overall_response="SD",
                progression=spec["progression"] and spec["kind"] == "registered", new_distant_metastasis=False,
                remaining_lesions=1, courses_given=3, mdt_since_primary=False, ecog=0,
                labs=LabPanel.objects.create(patient=patient, date=primary_on + evaluation_day * DAY))
        if spec["kind"] == "off_study":
            OffStudy.objects.create(patient=patient, date=self.today, reason=spec["off_reason"], details="x")
        if spec["kind"] == "randomized" and evaluation is not None:
            SecondaryRegistration.objects.create(
                patient=patient, primary=primary, registration_date=self.today, evaluation=evaluation, verdict={},
                engine_version="test", signature=self._signature(patient))
        if spec["kind"] == "randomized":
            Allocation.objects.create(
                config=self.config, sequence=patient.pk, patient=patient, arm=spec["arm"], method="minimization",
                algorithm_version="test", factors={"site": patient.site.code}, counts_before={},
                allocated_at=timezone.now(), user=self.user, signed_name="T", signed_at=timezone.now(),
                signature_meaning="m", prev_hash="0", hash=f"h{patient.pk}")
        return patient

    def _signature(self, patient):
        return Signature.objects.create(user=self.user, printed_name="T", signed_at=timezone.now(), meaning="m",
                                        kind="primary_registration", subject=patient.screening_number)


@given(specs=st.lists(patient_specs(), max_size=10))
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
def test_the_consort_numbers_add_up_for_random_trials(specs, site_a, site_b, coordinator_a):
    plan = make_plans()["luminal"] if not hasattr(site_a, "_plan") else site_a._plan
    site_a._plan = plan
    config = getattr(site_a, "_config", None) or minimization_config()
    site_a._config = config
    with transaction.atomic():
        builder = Builder([site_a, site_b], coordinator_a, plan, config)
        built = [(spec, builder.build(spec)) for spec in specs]
        for site_ids in (None, {site_a.pk}):
            flows = reports.flows_for(site_ids)
            consort = reports.consort(flows)
            assert_adds_up(consort, flows)
            assert_matches_the_database(consort, site_ids)
            assert_flat_rows_agree(site_ids)
        box_of = {f.patient.pk: f.box for f in reports.flows_for(None)}
        expected = {"draft": {Box.SCREENING}, "failed": {Box.SCREEN_FAILED}, "eligible": {Box.ELIGIBLE},
                    "off_study": {Box.OFF_STUDY},
                    "randomized": {Box.RANDOMIZED}, "registered": {Box.BEFORE_SECONDARY, Box.WINDOW_MISSED}}
        for spec, patient in built:
            if spec["kind"] == "unscreened":
                assert patient.pk not in box_of
            else:
                assert box_of[patient.pk] in expected[spec["kind"]], spec
        transaction.set_rollback(True)


# --- who sees what -----------------------------------------------------------------------------------------


@pytest.fixture
def two_sites(site_a, site_b, coordinator_a, coordinator_b):
    """Site A: one randomized today, one screen failure; site B: one off study and one eligible."""
    make_plans()
    minimization_config()
    today = timezone.localdate()
    patient = register(make_eligible_screening(site=site_a, on=today - 90 * DAY), coordinator_a).patient
    record(patient, coordinator_a, today - 2 * DAY, courses_given=3)
    registration_services.register_secondary(patient=patient, user=coordinator_a, password=PASSWORD)
    make_eligible_screening(site=site_a, er="unknown")  # P2: screen failure
    off = register(make_eligible_screening(site=site_b, on=today - 10 * DAY), coordinator_b).patient
    registration_services.take_off_study(patient=off, user=coordinator_b, date=today, reason="death")
    make_eligible_screening(site=site_b)
    return {"randomized": patient, "off": off}


def _this_month(response):
    return {(site.code if site else "total"): (screened, primary, randomized)
            for site, screened, primary, randomized in response.context["accrual"].this_month_rows()}


def test_reports_show_each_user_their_sites(client, two_sites, coordinator_a, monitor_a, coordinator_b,
                                            data_manager, statistician, no_role_user):
    url = reverse("oversight:reports")
    client.force_login(coordinator_a)
    response = client.get(url)
    consort = response.context["consort"]
    assert (consort.screened, consort.randomized, consort.boxes[Box.OFF_STUDY]) == (2, 1, 0)
    assert set(_this_month(response)) == {"SITEA", "total"}
    assert _this_month(response)["SITEA"][2] == 1  # randomized this month
    html = response.content.decode()
    assert "SITEB" not in html and two_sites["off"].screening_number not in html
    client.force_login(monitor_a)
    assert client.get(url).context["consort"].screened == 2
    client.force_login(coordinator_b)
    consort = client.get(url).context["consort"]
    assert (consort.screened, consort.randomized, consort.boxes[Box.OFF_STUDY]) == (2, 0, 1)
    for user in (data_manager, statistician):
        client.force_login(user)
        response = client.get(url)
        assert response.context["consort"].screened == 4 and response.context["trial_wide"]
        assert set(_this_month(response)) == {"SITEA", "SITEB", "total"}
    client.force_login(no_role_user)
    assert client.get(url).status_code == 404


def test_the_non_randomized_patients_and_why(client, two_sites, coordinator_a, data_manager, statistician):
    url = reverse("oversight:not_randomized")
    client.force_login(data_manager)
    response = client.get(url)
    flows = list(response.context["page"])
    assert {f.box for f in flows} == {Box.SCREEN_FAILED, Box.OFF_STUDY, Box.ELIGIBLE}
    html = response.content.decode()
    assert "P2: ER, PgR and HER2 known" in html and "Death" in html
    assert reverse("oversight:trail", args=[two_sites["off"].pk]) in html
    assert [f.box for f in client.get(url, {"box": "off_study"}).context["page"]] == [Box.OFF_STUDY]
    client.force_login(coordinator_a)
    flows = list(client.get(url).context["page"])
    assert [f.box for f in flows] == [Box.SCREEN_FAILED]
    assert two_sites["off"].screening_number not in client.get(url).content.decode()
    client.force_login(statistician)  # numbers only, no patient-level pages
    assert client.get(url).status_code == 404


def test_navigation_offers_reports_and_exports_by_role(client, coordinator_a, data_manager, statistician):
    for user, reports_link, exports_link in ((coordinator_a, True, False), (data_manager, True, True),
                                             (statistician, True, False)):
        client.force_login(user)
        html = client.get(reverse("home")).content.decode()
        assert (f'href="{reverse("oversight:reports")}"' in html) is reports_link, user
        assert (f'href="{reverse("oversight:exports")}"' in html) is exports_link, user


def _queries(client, url):
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def test_report_pages_have_bounded_queries(client, two_sites, site_a, coordinator_a, data_manager,
                                           django_assert_max_num_queries):
    client.force_login(data_manager)
    urls = [reverse("oversight:reports"), reverse("oversight:not_randomized")]
    few = {url: _queries(client, url) for url in urls}
    plan = PrimaryRegistration.objects.first().plan
    bulk_patients(site_a, 300, plan=plan, user=coordinator_a, today=timezone.localdate(), start=1000)
    MembershipFactory(site=site_a, role="monitor")
    for url in urls:
        with django_assert_max_num_queries(few[url]):
            response = client.get(url)
    assert response.context["total"] > 300
