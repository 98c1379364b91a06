"""The reports' cache (oligami_site.dataversion): reused while nothing changed, recomputed after any committed
audited write, on a new day, per scope; a rolled-back write does not count. These tests commit for real
(transactional database): the version moves after a commit, which a test's usual rolled-back transaction
never reaches."""

import datetime as dt

import pytest
import time_machine
from django.core.cache import cache
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation

from followup import reconsent
from followup import selectors as followup_selectors
from followup import services as followup_services
from followup.models import FollowupSettings
from oligami_site import dataversion
from oversight import monitoring, queries, reports, todo
from oversight.reports import Box
from registration import services as registration_services
from screening import consents
from screening.models import Patient
from tests.factories import PatientFactory, initial_consent_version
from tests.followup.factories import day, randomized_patient
from tests.randomization.factories import minimization_config
from tests.registration.factories import make_eligible_screening, make_plans, register

pytestmark = pytest.mark.django_db(transaction=True)
DAY = dt.timedelta(days=1)
V2_ON = dt.date(2026, 6, 1)  # a new consent version: after the test patients' consent (2026-02-20), before today


@pytest.fixture(autouse=True)
def reports_cache_on(settings):
    settings.OLIGAMI_REPORTS_CACHE_SECONDS = 600
    cache.clear()  # a flushed database starts its counter again: no entry of an earlier test may match
    dataversion.forget()
    yield
    cache.clear()
    dataversion.forget()


@pytest.fixture
def scene(site_a, site_b, coordinator_a, coordinator_b):
    make_plans()
    today = timezone.localdate()
    registered = register(make_eligible_screening(site=site_a, on=today - 10 * DAY), coordinator_a).patient
    make_eligible_screening(site=site_a, er="unknown")  # P2: screen failure
    make_eligible_screening(site=site_b)
    return {"registered": registered}


def classification_queries(ctx):
    """Queries that read the patients to classify them (the flat rows or the full flows)."""
    return [q["sql"] for q in ctx.captured_queries if 'FROM "screening_patient"' in q["sql"]]


def test_a_committed_audited_write_moves_the_version_and_a_rolled_back_one_does_not(site_a):
    before = dataversion.current()
    PatientFactory(site=site_a)  # one save, one historical record, one commit (autocommit)
    assert dataversion.current() == before + 1
    with pytest.raises(RuntimeError), transaction.atomic():
        PatientFactory(site=site_a)
        raise RuntimeError("rolled back")
    assert dataversion.current() == before + 1
    with transaction.atomic():  # several audited writes in one transaction: moved after the commit
        PatientFactory(site=site_a)
        PatientFactory(site=site_a)
        assert dataversion.current() == before + 1
    assert dataversion.current() > before + 1


def test_the_reports_page_reuses_its_numbers_until_a_write_commits(client, scene, data_manager, coordinator_a):
    url = reverse("oversight:reports")
    client.force_login(data_manager)
    first = client.get(url).context["consort"]
    assert (first.screened, first.boxes[Box.BEFORE_SECONDARY], first.boxes[Box.OFF_STUDY]) == (3, 1, 0)
    with CaptureQueriesContext(connection) as ctx:
        again = client.get(url).context["consort"]
    assert again == first and classification_queries(ctx) == []  # from the cache
    # A coordinator takes the patient off study (a service, its own transaction): the next view recomputes.
    registration_services.take_off_study(patient=scene["registered"], user=coordinator_a,
                                         date=timezone.localdate(), reason="death")
    with CaptureQueriesContext(connection) as ctx:
        after = client.get(url).context["consort"]
    assert classification_queries(ctx)
    assert (after.screened, after.boxes[Box.BEFORE_SECONDARY], after.boxes[Box.OFF_STUDY]) == (3, 0, 1)


def test_the_rendered_body_follows_writes_and_languages(client, scene, data_manager, coordinator_a):
    url = reverse("oversight:reports")
    data_manager.preferred_language = "en"
    data_manager.save()
    client.force_login(data_manager)
    english = client.get(url).content.decode()
    assert "CONSORT flow" in english and "Off study: n = 0" in english
    data_manager.preferred_language = "ja"
    data_manager.save()  # the user is not audited: the cached numbers stay, the body is rendered in Japanese
    japanese = client.get(url).content.decode()
    assert "CONSORTフロー" in japanese and "CONSORT flow" not in japanese
    registration_services.take_off_study(patient=scene["registered"], user=coordinator_a,
                                         date=timezone.localdate(), reason="death")
    data_manager.preferred_language = "en"
    data_manager.save()
    assert "Off study: n = 1" in client.get(url).content.decode()


def test_each_scope_and_each_day_has_its_own_numbers(client, scene, data_manager, coordinator_a, coordinator_b):
    url = reverse("oversight:reports")
    for user, screened in ((data_manager, 3), (coordinator_a, 2), (coordinator_b, 1), (data_manager, 3),
                           (coordinator_a, 2)):
        client.force_login(user)
        assert client.get(url).context["consort"].screened == screened, user
    # Statuses move with the date: day 127 after primary registration, without any write, the window is missed.
    client.force_login(coordinator_a)
    assert client.get(url).context["consort"].boxes[Box.WINDOW_MISSED] == 0
    with time_machine.travel(timezone.now() + 130 * DAY):
        client.force_login(coordinator_a)
        consort = client.get(url).context["consort"]
    assert consort.boxes[Box.WINDOW_MISSED] == 1 and consort.boxes[Box.BEFORE_SECONDARY] == 0


def test_the_not_randomized_list_follows_a_committed_write(client, scene, data_manager, coordinator_a):
    url = reverse("oversight:not_randomized")
    client.force_login(data_manager)
    boxes = sorted(f.box for f in client.get(url).context["page"])
    assert boxes == sorted([Box.BEFORE_SECONDARY, Box.SCREEN_FAILED, Box.ELIGIBLE])
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, {"box": "before_secondary"})
    assert [f.patient_id for f in response.context["page"]] == [scene["registered"].pk]
    assert len(classification_queries(ctx)) == 1  # only the page's patients, loaded in full
    registration_services.take_off_study(patient=scene["registered"], user=coordinator_a,
                                         date=timezone.localdate(), reason="death")
    assert list(client.get(url, {"box": "before_secondary"}).context["page"]) == []
    flows = list(client.get(url, {"box": "off_study"}).context["page"])
    assert [f.patient_id for f in flows] == [scene["registered"].pk] and response.context["total"] == 1


def test_the_cached_numbers_are_those_computed_afresh(client, scene, data_manager, settings):
    today = timezone.localdate()
    cached = reports.report_numbers(None, today)
    assert reports.report_numbers(None, today) == cached
    settings.OLIGAMI_REPORTS_CACHE_SECONDS = 0
    assert reports.report_numbers(None, today) == cached
    assert Patient.objects.count() == 3


def monitoring_queries(ctx):
    """Queries that count the monitoring report's measures (the screenings: screened, failure reasons)."""
    return [q["sql"] for q in ctx.captured_queries if 'FROM "screening_screening"' in q["sql"]]


def test_the_monitoring_report_is_served_from_the_cache_until_a_write_commits(client, scene, data_manager,
                                                                              coordinator_a, site_a):
    url, today = reverse("oversight:monitoring"), timezone.localdate()
    cutoff = {"cutoff": today.isoformat()}
    client.force_login(data_manager)
    first = client.get(url, cutoff).context["result"]
    assert (first.total.counts["screened"], first.total.counts["open_queries"]) == (3, 0)
    assert first.screen_failure_reasons == [("P2", 1)]
    with CaptureQueriesContext(connection) as ctx:
        again = client.get(url, cutoff).context["result"]
        csv_text = b"".join(client.get(reverse("oversight:monitoring_csv"), cutoff).streaming_content).decode()
    assert again == first and monitoring_queries(ctx) == []  # the page and its CSV: from the cache
    assert f"{site_a.code},2,1,0,0,0,0,0" in csv_text
    # A data manager raises a query (a service, its own transaction): the next request recomputes.
    queries.open_query(user=data_manager, patient=scene["registered"], text="?")
    with CaptureQueriesContext(connection) as ctx:
        after = client.get(url, cutoff).context["result"]
    assert monitoring_queries(ctx)
    assert after.total.counts["open_queries"] == 1 and after.total.counts["screened"] == 3
    assert after == monitoring.report(cutoff=today)  # what a fresh computation gives
    # Another cut-off is another entry, computed for itself.
    yesterday = {"cutoff": (today - DAY).isoformat()}
    assert client.get(url, yesterday).context["result"].total.counts["open_queries"] == 0


def test_the_cached_monitoring_report_is_per_scope_and_language(client, scene, data_manager, coordinator_a,
                                                                coordinator_b, site_a, site_b):
    url, today = reverse("oversight:monitoring"), timezone.localdate()
    for user, codes in ((data_manager, [site_a.code, site_b.code]), (coordinator_a, [site_a.code]),
                        (coordinator_b, [site_b.code]), (data_manager, [site_a.code, site_b.code])):
        client.force_login(user)
        result = client.get(url, {"cutoff": today.isoformat()}).context["result"]
        assert sorted(row.code for row in result.sites) == sorted(codes), user
    # The rows carry the sites' names in the reader's language: one entry per language.
    names = {}
    for language in ("en", "ja"):
        data_manager.preferred_language = language
        data_manager.save()  # the user is not audited: the version does not move, the language key does
        client.force_login(data_manager)
        result = client.get(url, {"cutoff": today.isoformat()}).context["result"]
        names[language] = next(row.name for row in result.sites if row.code == site_a.code)
    assert names == {"en": site_a.name_en, "ja": site_a.name_ja}
    assert monitoring.cached_report(cutoff=today, site_ids={site_b.pk}, today=today) == monitoring.report(
        cutoff=today, site_ids={site_b.pk})


@pytest.fixture
def survey_scene(site_a, site_b, coordinator_a, coordinator_b, data_manager):
    make_plans()
    minimization_config()
    FollowupSettings.objects.create(status_unknown_days=180)
    a1, a2 = randomized_patient(site_a, coordinator_a), randomized_patient(site_a, coordinator_a)
    b1 = randomized_patient(site_b, coordinator_b)
    survey = followup_services.open_survey(cutoff_date=day(185), user=data_manager)
    return {"a1": a1, "a2": a2, "b1": b1, "survey": survey}


def followup_queries(ctx):
    """Queries that read the patients' follow-up facts (survey_rows)."""
    return [q["sql"] for q in ctx.captured_queries if 'FROM "followup_assessment"' in q["sql"]]


def test_the_survey_rows_are_served_from_the_cache_until_a_write_commits(client, survey_scene, data_manager,
                                                                         coordinator_a, coordinator_b):
    survey, a1 = survey_scene["survey"], survey_scene["a1"]
    url = reverse("followup:survey", kwargs={"survey_id": survey.pk})
    client.force_login(data_manager)
    first = client.get(url)
    assert (first.context["total"], first.context["complete"]) == (3, 0)
    with CaptureQueriesContext(connection) as ctx:
        again = client.get(url)
        home = client.get(reverse("home")).content.decode()  # the to-do's completeness: the same entry
    assert followup_queries(ctx) == [] and (again.context["total"], again.context["complete"]) == (3, 0)
    assert "0 of 3" in home
    # A coordinator confirms a patient alive (a service, its own transaction): the page and the home recompute.
    followup_services.confirm_survey_entry(survey=survey, patient=a1, user=coordinator_a,
                                           data={"status": "alive", "last_known_alive": day(180),
                                                 "progression_since_last": False})
    with CaptureQueriesContext(connection) as ctx:
        after = client.get(url)
    assert followup_queries(ctx)
    assert (after.context["total"], after.context["complete"]) == (3, 1)
    assert "1 of 3" in client.get(reverse("home")).content.decode()
    today = timezone.localdate()
    assert followup_selectors.survey_rows_of_sites(survey, None, today) == followup_selectors.survey_rows(
        survey, Patient.objects.all())
    # Each scope has its own rows: a coordinator sees her site's patients only, from the cache or not.
    for user, shown in ((coordinator_b, {survey_scene["b1"].pk}), (coordinator_a, {a1.pk, survey_scene["a2"].pk}),
                        (coordinator_b, {survey_scene["b1"].pk})):
        client.force_login(user)
        assert {row.patient_id for row in client.get(url).context["rows"]} == shown, user


def windows_section(client):
    page = client.get(reverse("home")).content.decode()
    section = page[page.index('id="todo-windows"'):]
    return section[:section.index("</section>")]


def test_the_home_windows_section_is_served_from_the_cache_until_a_write_commits(client, site_a, coordinator_a,
                                                                                 data_manager):
    make_plans()
    today = timezone.localdate()
    missed = register(make_eligible_screening(site=site_a, on=today - 130 * DAY), coordinator_a).patient
    register(make_eligible_screening(site=site_a, on=today - 10 * DAY), coordinator_a)  # window not open yet
    first = todo.windows(data_manager, today)
    assert first.count == 1 and missed.screening_number in first.rows[0].text and first.rows[0].urgent
    with CaptureQueriesContext(connection) as ctx:
        again = todo.windows(data_manager, today)
    assert again == first and classification_queries(ctx) == []  # from the cache
    client.force_login(data_manager)
    assert missed.screening_number in windows_section(client)
    registration_services.take_off_study(patient=missed, user=coordinator_a, date=today, reason="death")
    with CaptureQueriesContext(connection) as ctx:
        after = todo.windows(data_manager, today)
    assert classification_queries(ctx) and after.count == 0 and after.rows == []
    assert missed.screening_number not in windows_section(client)


# --- the survival curves (followup.selectors.survival_curves) ---------------------------------------------


@pytest.fixture
def curves_scene(site_a, site_b, coordinator_a, coordinator_b):
    make_plans()
    minimization_config()
    a = randomized_patient(site_a, coordinator_a, arm="A")
    b = randomized_patient(site_a, coordinator_a, arm="B")
    other = randomized_patient(site_b, coordinator_b, arm="B")
    followup_services.record_assessment(patient=b, user=coordinator_a, data={"date": day(60), "progression": False})
    return {"a": a, "b": b, "other": other}


def curve_groups(response) -> dict[str, tuple[str, ...]]:
    """{chart: the groups of its lines} of a curves page."""
    return {chart["key"]: tuple(line["key"] for line in chart["picture"]["lines"])
            for chart in response.context["charts"]}


def os_events(response) -> int:
    return sum(line["events"] for line in response.context["charts"][0]["picture"]["lines"])


def test_the_survival_curves_are_served_from_the_cache_until_a_write_commits(client, curves_scene, statistician,
                                                                             coordinator_a, settings):
    url, today = reverse("followup:curves"), timezone.localdate()
    client.force_login(statistician)
    first = client.get(url)
    assert curve_groups(first) == {"os": ("A", "B"), "pfs": ("A", "B")} and first.context["data"].total == 3
    assert os_events(first) == 0
    with CaptureQueriesContext(connection) as ctx:
        again = client.get(url)
    assert followup_queries(ctx) == [] and classification_queries(ctx) == []  # from the cache
    assert [c["picture"] for c in again.context["charts"]] == [c["picture"] for c in first.context["charts"]]
    # A coordinator records a death (a service, its own transaction): the next request recomputes.
    followup_services.record_death(patient=curves_scene["a"], user=coordinator_a,
                                   data={"date": day(40), "cause": "other"})
    with CaptureQueriesContext(connection) as ctx:
        after = client.get(url)
    assert followup_queries(ctx) and os_events(after) == 1
    # The cached result is the one computed afresh, by arm and pooled, for every site and for one.
    for site_ids, by_arm in ((None, True), (None, False), ({curves_scene["a"].site_id}, False)):
        settings.OLIGAMI_REPORTS_CACHE_SECONDS = 600
        cached = followup_selectors.survival_curves(site_ids, by_arm=by_arm, today=today)
        assert followup_selectors.survival_curves(site_ids, by_arm=by_arm, today=today) == cached
        settings.OLIGAMI_REPORTS_CACHE_SECONDS = 0
        assert followup_selectors.survival_curves(site_ids, by_arm=by_arm, today=today) == cached
        patients = Patient.objects.all() if site_ids is None else Patient.objects.filter(site_id__in=site_ids)
        assert cached.data == followup_selectors.survival_data(patients, by_arm=by_arm)


def test_the_pooled_and_the_by_arm_curves_never_share_an_entry(client, curves_scene, statistician, data_manager,
                                                               coordinator_a):
    """Blinding (DESIGN.md): the data manager and the statistician both see every site, one pooled, the other by
    arm: whoever comes first, the other never gets that entry."""
    url = reverse("followup:curves")
    pooled, by_arm = {"os": ("all",), "pfs": ("all",)}, {"os": ("A", "B"), "pfs": ("A", "B")}
    for user, groups in ((data_manager, pooled), (statistician, by_arm), (data_manager, pooled),
                         (statistician, by_arm), (coordinator_a, pooled)):
        client.force_login(user)
        response = client.get(url)
        page = response.content.decode()
        assert curve_groups(response) == groups, user
        assert ('data-group="A"' in page) is (groups is by_arm) and ("by-arm-note" in page) is (groups is by_arm)
        assert response.context["data"].total == (2 if user == coordinator_a else 3), user
    assert set(cache.get("oligami:survival-curves-pooled:all")[1].data.os) == {"all"}
    assert set(cache.get("oligami:survival-curves-by-arm:all")[1].data.os) == {"A", "B"}
    # After a committed write, the pooled reader still never gets the arms (each entry recomputed for itself).
    followup_services.record_death(patient=curves_scene["a"], user=coordinator_a,
                                   data={"date": day(40), "cause": "other"})
    for user, groups in ((statistician, by_arm), (data_manager, pooled)):
        client.force_login(user)
        response = client.get(url)
        assert curve_groups(response) == groups and os_events(response) == 1, user


def test_the_cached_curves_are_labelled_in_the_readers_language(client, curves_scene, data_manager):
    url = reverse("followup:curves")
    names = {}
    for language in ("en", "ja", "en"):
        data_manager.preferred_language = language
        data_manager.save()  # the user is not audited: the version does not move, the entry is the same
        client.force_login(data_manager)
        response = client.get(url)
        names[language] = {line["label"] for chart in response.context["charts"]
                           for line in chart["picture"]["lines"]}
        page = response.content.decode()
        assert ("全患者" in page) is (language == "ja") and ("All patients" in page) is (language == "en")
    assert names == {"en": {"All patients"}, "ja": {"全患者"}}
    assert set(cache.get("oligami:survival-curves-pooled:all")[1].data.os) == {"all"}  # the entry: keys only
    assert {line["label"] for line in cache.get("oligami:survival-curves-pooled:all")[1].pictures["os"]["lines"]} \
        == {"all"}


# --- the data manager's home: re-consent (oversight.todo.reconsents) ----------------------------------------


def reconsent_section(client):
    page = client.get(reverse("home")).content.decode()
    section = page[page.index('id="todo-reconsent"'):]
    return section[:section.index("</section>")]


def test_the_home_reconsent_section_is_served_from_the_cache_until_a_write_commits(client, site_a, site_b,
                                                                                   coordinator_a, coordinator_b,
                                                                                   data_manager, settings):
    make_plans()
    minimization_config()
    initial_consent_version()
    a = randomized_patient(site_a, coordinator_a)
    b = randomized_patient(site_b, coordinator_b)
    today = timezone.localdate()
    assert todo.reconsents(today).count == 0  # 1.0 in force
    v2 = consents.add_version(version="2.0", effective_date=V2_ON, user=data_manager, reason="Revised")
    first = todo.reconsents(today)  # the new version (committed) moved the data version
    assert first.count == 2 and {row.text for row in first.rows} == {
        f"{a.screening_number} ({site_a.code})", f"{b.screening_number} ({site_b.code})"}
    assert {row.detail for row in first.rows} == {"on version 1.0"}
    with CaptureQueriesContext(connection) as ctx:
        again = todo.reconsents(today)
    assert again == first and classification_queries(ctx) == []  # from the cache: no patient read
    client.force_login(data_manager)
    section = reconsent_section(client)
    assert a.screening_number in section and b.screening_number in section
    # A coordinator records a's re-consent (a service, its own transaction): the next view recomputes.
    consents.record_reconsent(patient=a, document=v2, date=V2_ON + 9 * DAY, user=coordinator_a)
    with CaptureQueriesContext(connection) as ctx:
        after = todo.reconsents(today)
    assert classification_queries(ctx) and after.count == 1
    assert [row.text for row in after.rows] == [f"{b.screening_number} ({site_b.code})"]
    section = reconsent_section(client)
    assert a.screening_number not in section and b.screening_number in section
    # The cached rows are those computed afresh; the detail is translated at render, from the same entry.
    cached = todo._reconsent_rows(today)
    settings.OLIGAMI_REPORTS_CACHE_SECONDS = 0
    assert todo._reconsent_rows(today) == cached and todo.reconsents(today) == after
    assert [row.patient.pk for row in reconsent.awaiting(Patient.objects.all(), today)] == [b.pk]
    settings.OLIGAMI_REPORTS_CACHE_SECONDS = 600
    with translation.override("ja"):
        assert [row.detail for row in todo.reconsents(today).rows] == ["第1.0版"]


def test_deviation_suggestions_are_reused_until_a_committed_write_and_kept_per_language(site_a, coordinator_a,
                                                                                        data_manager):
    from oversight import deviations
    from screening import eligibility as rules

    make_plans()
    screening = make_eligible_screening(site=site_a, on=timezone.localdate() - 10 * DAY)
    registration = register(screening, coordinator_a)
    assert deviations.cached_suggestions(site_ids=None) == []
    with CaptureQueriesContext(connection) as ctx:
        assert deviations.cached_suggestions(site_ids=None) == []
    assert not [q for q in ctx.captured_queries if "registration_primaryregistration" in q["sql"]]  # reused
    labs = screening.labs
    labs.date = registration.registration_date - dt.timedelta(days=rules.LAB_WINDOW_DAYS + 1)  # P16 missed
    labs.save()  # committed (transactional test): the version moves, the next read searches again
    [found] = deviations.cached_suggestions(site_ids=None)
    with translation.override("ja"):
        [found_ja] = deviations.cached_suggestions(site_ids=None)
    assert found.rule == found_ja.rule == "labs_out_of_window" and found.text != found_ja.text
    assert deviations.cached_suggestions(site_ids={site_a.pk + 1000}) == []  # another scope, another entry
    deviations.record_deviation(user=data_manager, site_id=0, patient=registration.patient, rule=found.rule,
                                finding=found.finding, values={
                                    "date": registration.registration_date, "category": "eligibility",
                                    "description": "Labs out of window.", "impact_safety": "none",
                                    "impact_endpoint": "possible", "corrective_action": "", "preventive_action": ""})
    assert deviations.cached_suggestions(site_ids=None) == []  # recorded: no longer suggested
