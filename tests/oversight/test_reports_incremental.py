"""The reports' numbers and the "not randomized" list patched with what each commit changed (issue 21:
oversight.reports._Numbers over oligami_site.dataversion.kept and its change log) are exactly what a full
computation gives: after random sequences of writes through the services, on a new day, after changes that
name no patient, and when commits land between the version read and the computation. These tests commit
for real (transactional database): the version and its log are written after a commit."""

import datetime as dt
import random

import pytest
import time_machine
from django.apps import apps
from django.core.cache import cache
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from oligami_site import dataversion
from oligami_site.exceptions import DomainError
from oligami_site.models import DataChange
from oversight import queries, reports
from registration import services as registration_services
from registration.models import PrimaryRegistration, ResponseEvaluation
from screening.models import Patient, Screening
from tests.factories import PASSWORD, PatientFactory
from tests.randomization.factories import minimization_config
from tests.registration.factories import make_eligible_screening, make_plans, record, register

pytestmark = pytest.mark.django_db(transaction=True)
DAY = dt.timedelta(days=1)


@pytest.fixture(autouse=True)
def kept_on(settings):
    settings.OLIGAMI_REPORTS_CACHE_SECONDS = 600
    cache.clear()
    dataversion.forget()  # a flushed database starts its counter again: no state of an earlier test may match
    yield
    cache.clear()
    dataversion.forget()


@pytest.fixture
def builds(monkeypatch):
    """How many times a scope's classification was built from scratch (not patched)."""
    counted = []
    original = reports._Numbers.build.__func__

    def build(cls, site_ids, today):
        counted.append(dataversion.scope_key(site_ids))
        return original(cls, site_ids, today)

    monkeypatch.setattr(reports._Numbers, "build", classmethod(build))
    return counted


def afresh(site_ids, today):
    """What the reports computed before they were kept: the flat rows of every patient, counted."""
    rows = reports.flow_rows(site_ids, today)
    listed = [(row.patient_id, row.box.value, row.reason)
              for row in reports.flow_rows(site_ids, today, exclude_randomized=True)
              if row.box in reports.NOT_RANDOMIZED]
    return reports.consort(rows), reports.accrual_counts(rows), listed


def plain(consort, accrual, listed):
    """Everything as plain dicts and lists: a zero count left behind would make them differ."""
    return (dict(consort.boxes), {box: dict(c) for box, c in consort.reasons.items()},
            dict(accrual), listed)


def assert_exact(scopes, today=None):
    today = today or timezone.localdate()
    for site_ids in scopes:
        consort, accrual = reports.report_numbers(site_ids, today)
        listed = reports.not_randomized_boxes(site_ids, today)
        assert plain(consort, accrual, listed) == plain(*afresh(site_ids, today)), site_ids


@pytest.fixture
def trial(site_a, site_b, coordinator_a, coordinator_b, data_manager):
    make_plans()
    minimization_config()
    return {"sites": [site_a, site_b], "users": {site_a.pk: coordinator_a, site_b.pk: coordinator_b},
            "scopes": [None, {site_a.pk}, {site_b.pk}, {site_a.pk, site_b.pk}], "dm": data_manager}


class Writes:
    """Audited writes through the services (and the factories that stand for the screening services)."""

    def __init__(self, trial, rng):
        self.trial, self.rng = trial, rng
        self.today = timezone.localdate()

    def user(self, patient):
        return self.trial["users"][patient.site_id]

    def pick(self, **filters):
        ids = sorted(Patient.objects.filter(**filters).values_list("pk", flat=True))
        return Patient.objects.get(pk=self.rng.choice(ids)) if ids else None

    def screen(self):
        make_eligible_screening(site=self.rng.choice(self.trial["sites"]),
                                on=self.today - self.rng.randint(80, 160) * DAY)

    def fail(self):
        make_eligible_screening(site=self.rng.choice(self.trial["sites"]), er="unknown")

    def register(self):
        patient = self.pick(stage=Patient.Stage.ELIGIBLE)
        if patient is not None:
            register(Screening.objects.filter(patient=patient).latest("number"), self.user(patient))

    def evaluate(self):
        patient = self.pick(stage=Patient.Stage.REGISTERED, response_evaluation__isnull=True)
        if patient is None:
            return
        on = PrimaryRegistration.objects.get(patient=patient).registration_date + 85 * DAY
        if on <= self.today:
            record(patient, self.user(patient), on, progression=self.rng.random() < 0.2)

    def randomize(self):
        patient = self.pick(stage=Patient.Stage.REGISTERED, response_evaluation__isnull=False)
        if patient is not None:
            evaluation = ResponseEvaluation.objects.get(patient=patient)
            registration_services.register_secondary(patient=patient, user=self.user(patient), password=PASSWORD,
                                                     registration_date=min(evaluation.date + 2 * DAY, self.today))

    def off_study(self):
        patient = self.pick(stage__in=[Patient.Stage.REGISTERED, Patient.Stage.RANDOMIZED])
        if patient is not None:
            registration_services.take_off_study(patient=patient, user=self.user(patient), date=self.today,
                                                 reason=self.rng.choice(["death", "consent_withdrawn"]))

    def query(self):  # a record the classification does not read: nothing to patch
        patient = self.pick()
        if patient is not None:
            queries.open_query(user=self.trial["dm"], patient=patient, text="?")

    def unscreened(self):  # a patient without a screening: not in the flow
        PatientFactory(site=self.rng.choice(self.trial["sites"]))


PATCHED = ("screen", "fail", "register", "evaluate", "randomize", "off_study", "query", "unscreened")


@pytest.mark.parametrize("seed", [1, 7])
def test_patched_numbers_equal_a_full_computation_after_random_writes(trial, builds, seed):
    rng = random.Random(seed)
    writes = Writes(trial, rng)
    for _ in range(6):  # something in every box to start with
        writes.screen()
    writes.fail()
    assert_exact(trial["scopes"])
    assert len(builds) == 4  # each scope built once
    done = []
    for _ in range(26):
        name = rng.choice(["register"] * 3 + ["evaluate"] * 3 + ["randomize"] * 3
                          + ["screen", "fail", "off_study", "off_study", "query", "unscreened"])
        before = dataversion.current()
        try:
            getattr(writes, name)()
        except DomainError as error:  # a service's refusal (a window, a date): nothing committed, nothing to see
            name += f" (refused: {type(error).__name__})"
        done.append(name if dataversion.current() > before else f"{name} (nothing)")
        assert_exact(trial["scopes"])
    assert len(builds) == 4, done  # every later version patched, none rebuilt
    assert {"register", "evaluate", "randomize"} <= set(done), done


def test_a_change_that_names_no_patient_or_a_new_day_rebuilds(trial, builds, site_a):
    writes = Writes(trial, random.Random(3))
    writes.screen()
    writes.fail()
    assert_exact([None])
    assert builds == ["all"]
    site_a.name_en = "Renamed"  # a site: its code orders the list, it belongs to no patient
    site_a.save()
    assert_exact([None])
    assert builds == ["all", "all"]
    make_plans()  # new versions of the plans (trial-wide configuration the classification reads)
    assert_exact([None])
    assert builds == ["all", "all", "all"]
    writes.screen()
    assert_exact([None])
    assert builds == ["all", "all", "all"]  # patched
    with time_machine.travel(timezone.now() + 130 * DAY):
        assert_exact([None], timezone.localdate())
    assert builds == ["all"] * 4  # statuses move with the date


def test_a_transaction_too_large_to_list_is_logged_as_everything(trial, builds, monkeypatch):
    writes = Writes(trial, random.Random(4))
    writes.screen()
    assert_exact([None])
    monkeypatch.setattr(dataversion, "MAX_RECORDS", 3)
    with transaction.atomic():
        for _ in range(3):
            writes.screen()
    version = dataversion.current()
    assert list(DataChange.objects.filter(version=version).values_list("model", "object_id")) == [("*", None)]
    assert_exact([None])
    assert builds == ["all", "all"]


def test_the_log_names_each_record_and_its_patient_with_the_version_it_produced(trial):
    before = DataChange.objects.count()  # the plans' versions
    with transaction.atomic():
        screening = make_eligible_screening(site=trial["sites"][0])
        assert DataChange.objects.count() == before  # nothing before the commit
    patient = screening.patient
    version = dataversion.current()
    logged = set(DataChange.objects.filter(version=version).values_list("model", "object_id", "patient_id"))
    assert ("screening.patient", patient.pk, None) in logged
    assert ("screening.screening", screening.pk, patient.pk) in logged
    assert ("screening.labpanel", screening.labs_id, patient.pk) in logged
    assert dataversion.changes(version - 1, version) == {dataversion.Change(*row) for row in logged}
    assert reports.changed_patients(dataversion.changes(version - 1, version)) == {patient.pk}
    with pytest.raises(RuntimeError), transaction.atomic():  # rolled back: no version, no log
        PatientFactory(site=trial["sites"][0])
        raise RuntimeError
    assert dataversion.current() == version and not DataChange.objects.filter(version__gt=version).exists()


def test_a_version_without_its_log_or_pruned_is_read_as_unknown(trial, builds, monkeypatch):
    writes = Writes(trial, random.Random(5))
    writes.screen()
    assert_exact([None])
    dataversion.bump()  # a bump that logged nothing (a process running older code, a bump by hand)
    version = dataversion.current()
    assert dataversion.changes(version - 1, version) is None
    assert_exact([None])
    assert builds == ["all", "all"]
    # The log is pruned as the counter moves on; a state older than what is kept is rebuilt.
    monkeypatch.setattr(dataversion, "KEEP_VERSIONS", 2)
    monkeypatch.setattr(dataversion, "PRUNE_EVERY", 1)
    old = dataversion.current()
    for _ in range(3):
        writes.fail()
    assert dataversion.changes(old, dataversion.current()) is None
    assert DataChange.objects.order_by("version").first().version == dataversion.current() - 1
    assert_exact([None])
    assert builds == ["all"] * 3


def test_commits_between_the_version_read_and_the_computation_are_not_lost(trial, builds, monkeypatch):
    """Writes committed after a reader read the version (before it read the log, or before it classified the
    patients) are seen by the next reader: they moved the counter past the version the state is stored at."""
    writes = Writes(trial, random.Random(6))
    for _ in range(3):
        writes.screen()
    assert_exact(trial["scopes"])
    read_version, read_log = dataversion.current, dataversion.changes
    pending = []

    def current_then_commit():
        version = read_version()
        while pending:
            pending.pop()()  # a write of another request commits now, after this reader read the version
        return version

    def changes_then_commit(after, through):
        logged = read_log(after, through)
        while pending:
            pending.pop()()
        return logged

    monkeypatch.setattr(dataversion, "current", current_then_commit)
    monkeypatch.setattr(dataversion, "changes", changes_then_commit)
    for step, (first, late) in enumerate([(writes.register, writes.screen), (writes.fail, writes.register),
                                          (writes.screen, writes.off_study), (writes.register, writes.fail)]):
        first()
        pending.append(late)
        today = timezone.localdate()
        reports.report_numbers(None, today)  # stored at a version older than `late`'s commit
        if step % 2:
            pending.append(writes.screen)
            reports.not_randomized_boxes({trial["sites"][0].pk}, today)
        assert not pending
        assert_exact(trial["scopes"])  # the next readers see it
    assert builds.count("all") == 1


def test_the_pages_show_the_patched_numbers(client, trial, builds):
    writes = Writes(trial, random.Random(7))
    for _ in range(4):
        writes.screen()
    client.force_login(trial["dm"])
    assert client.get(reverse("oversight:reports")).context["consort"].screened == 4
    writes.fail()
    writes.register()
    consort = client.get(reverse("oversight:reports")).context["consort"]
    assert consort.screened == 5 and consort.boxes[reports.Box.SCREEN_FAILED] == 1
    response = client.get(reverse("oversight:not_randomized"))
    assert response.context["total"] == 5
    assert builds == ["all"]


def test_the_flat_query_reads_only_the_tables_the_patch_knows():
    """A table joined into `flow_row_queryset` later must be declared in reports.FLOW_* (or the patch would miss
    its changes)."""
    sql = str(reports.flow_row_queryset(None).query).replace("`", '"')
    read = {model._meta.label_lower for model in apps.get_models()
            if f'"{model._meta.db_table}"' in sql or f" {model._meta.db_table}." in sql}
    known = {reports.FLOW_PATIENT, *reports.FLOW_PER_PATIENT, *reports.FLOW_TRIAL_WIDE}
    assert read and read <= known, read - known
    assert connection.vendor in ("sqlite", "postgresql")


# --- the CONSORT diagram past randomization (followup.selectors.after_randomization_of_sites) --------------


def test_patched_arm_flows_equal_a_full_computation_after_follow_up_writes(trial, site_a, site_b, coordinator_a,
                                                                           coordinator_b, data_manager, monkeypatch):
    from followup import selectors as followup_selectors
    from followup import services as followup_services
    from tests.followup.factories import day, randomized_patient

    built = []
    original = followup_selectors._KeptArmFlows.__init__

    def init(self, site_ids):
        built.append(dataversion.scope_key(site_ids))
        original(self, site_ids)

    monkeypatch.setattr(followup_selectors._KeptArmFlows, "__init__", init)
    today = timezone.localdate()

    def assert_arms_exact():
        for site_ids in trial["scopes"]:
            patients = Patient.objects.all() if site_ids is None else Patient.objects.filter(site_id__in=site_ids)
            assert followup_selectors.after_randomization_of_sites(site_ids, today) == \
                followup_selectors.after_randomization(patients), site_ids

    a1, b1 = randomized_patient(site_a, coordinator_a, arm="A"), randomized_patient(site_a, coordinator_a, arm="B")
    assert_arms_exact()
    b2 = randomized_patient(site_b, coordinator_b, arm="B")
    assert_arms_exact()
    writes = [
        lambda: followup_services.record_contamination(patient=a1, user=coordinator_a, data={
            "date": day(20), "modality": "surgery", "reason": "Demo"}),
        lambda: followup_services.record_mdt(patient=b1, user=coordinator_a, data={
            "lesion": followup_services.remaining_lesions(b1)[0].pk, "modality": "surgery", "start_date": day(14),
            "end_date": day(14), "completed_as_planned": True}),
        lambda: followup_services.record_withdrawal(patient=b2, user=coordinator_b,
                                                    data={"date": day(5), "kind": "treatment"}),
        lambda: followup_services.confirm_lost_to_follow_up(patient=b2, user=data_manager),
        lambda: followup_services.record_last_known_alive(patient=b1, user=coordinator_a, data={"date": day(30)}),
        lambda: followup_services.record_death(patient=b1, user=coordinator_a, data={"date": day(30),
                                                                                    "cause": "other"}),
        lambda: followup_services.record_withdrawal(patient=a1, user=coordinator_a,
                                                    data={"date": day(10), "kind": "all_data"}),
    ]
    for write in writes:
        write()
        assert_arms_exact()
    assert sorted(built) == sorted(dataversion.scope_key(s) for s in trial["scopes"])  # built once, then patched
    flows = followup_selectors.after_randomization_of_sites(None, today)
    assert flows["B"].lost == 1 and flows["B"].received == 1 and flows["A"].received == 0


def test_the_arm_flow_queries_read_only_the_tables_the_patch_knows(trial, site_a, coordinator_a):
    from followup import selectors as followup_selectors
    from tests.followup.factories import randomized_patient

    randomized_patient(site_a, coordinator_a)
    with CaptureQueriesContext(connection) as ctx:
        followup_selectors._arm_steps(Patient.objects.all())
    sql = " ".join(q["sql"] for q in ctx.captured_queries).replace("`", '"')
    read = {model._meta.label_lower for model in apps.get_models() if f'"{model._meta.db_table}"' in sql}
    known = {followup_selectors.ARM_FLOW_PATIENT, *followup_selectors.ARM_FLOW_PER_PATIENT}
    assert read and read <= known, read - known
