import datetime as dt

import factory
from django.contrib.auth.models import Group

from oligami_site.models import Membership, Site, User

PASSWORD = "correct-horse-battery-staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = "Test"
    last_name = factory.Sequence(lambda n: f"User{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.org")
    preferred_language = "en"
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()

    @factory.post_generation
    def otp_device(obj, create, extracted, **kwargs):
        """Admin users have enrolled a second factor (production requires it before the admin opens), so
        staff and superusers get a confirmed TOTP device; `otp_device=False` for one who has not enrolled."""
        if create and (extracted if extracted is not None else (obj.is_staff or obj.is_superuser)):
            confirmed_totp_device(obj)


class SiteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Site
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"S{n:03d}")
    name_en = factory.LazyAttribute(lambda s: f"{s.code} Hospital")
    name_ja = factory.LazyAttribute(lambda s: f"{s.code}病院")
    # Open, on a complete approval record: what every test of screening and registration assumes.
    # Tests of the site statuses make pending sites with status="pending" and no approval.
    status = Site.Status.OPEN
    ethics_approval_date = dt.date(2025, 10, 1)
    approved_protocol_version = "1.0"
    head_permission_date = dt.date(2025, 10, 15)
    start_date = dt.date(2025, 11, 1)


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    site = factory.SubFactory(SiteFactory)
    role = Membership.Role.COORDINATOR


def trial_role_user(group_name, **kwargs):
    user = UserFactory(**kwargs)
    user.groups.add(Group.objects.get(name=group_name))
    if kwargs.get("otp_device") is not False:
        confirmed_totp_device(user)  # trial-wide roles must use a second factor (oligami_site.two_factor)
    return user


# ---- two-factor authentication ---------------------------------------------------------------------


def confirmed_totp_device(user):
    """The user's confirmed TOTP device (an authenticator app enrolled), created once."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    return device or TOTPDevice.objects.create(user=user, name="Test authenticator", confirmed=True)


def totp_token(device) -> str:
    """The code an authenticator app shows now for `device`, or (when this time step's code was used already:
    a code is good only once) the next one, which the verification accepts within its tolerance. Never an
    earlier step: if the clock turned to the next step before the server checks, it would fall outside."""
    import time

    from django_otp.oath import TOTP

    device.refresh_from_db()
    for offset in range(device.tolerance + 1):
        totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
        totp.time = time.time() + offset * device.step
        if totp.t() > device.last_t:
            return f"{totp.token():0{device.digits}d}"
    raise AssertionError("every code within the tolerance was used already: wait for the next time step")


# ---- screening -------------------------------------------------------------------------------------

from decimal import Decimal  # noqa: E402

from screening.models import ConsentDocument, LabPanel, Lesion, Patient, Screening  # noqa: E402

INITIAL_CONSENT_EFFECTIVE = dt.date(2000, 1, 1)


def initial_consent_version() -> ConsentDocument:
    """The tests' consent document version (P18, issue 17): in force from 2000 unless a test supersedes it."""
    return ConsentDocument.objects.get_or_create(version="1.0",
                                                 defaults={"effective_date": INITIAL_CONSENT_EFFECTIVE})[0]


class PatientFactory(factory.django.DjangoModelFactory):
    """A patient with the next screening number of her site (test set-up; the service does it live)."""

    class Meta:
        model = Patient

    site = factory.SubFactory(SiteFactory)
    sex = "female"
    birth_date = dt.date(1968, 7, 15)
    stage = Patient.Stage.SCREENING

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        site = kwargs["site"]
        sequence = (Patient.objects.filter(site=site).order_by("-sequence").values_list("sequence", flat=True)
                    .first() or 0) + 1
        kwargs.setdefault("sequence", sequence)
        kwargs.setdefault("screening_number", f"{site.code}-S{sequence:04d}")
        return super()._create(model_class, *args, **kwargs)


class LabPanelFactory(factory.django.DjangoModelFactory):
    """Normal values (the worked case p_base_luminal.json)."""

    class Meta:
        model = LabPanel

    patient = factory.SubFactory(PatientFactory)
    date = dt.date(2026, 2, 24)
    anc = Decimal("3200")
    hemoglobin = Decimal("12.1")
    platelets = Decimal("230000")
    bilirubin = Decimal("0.6")
    ast = Decimal("22")
    alt = Decimal("18")
    creatinine = Decimal("0.70")


class ScreeningFactory(factory.django.DjangoModelFactory):
    """Every primary fact of the eligible luminal worked case (p_base_luminal.json), judged 2026-03-02."""

    class Meta:
        model = Screening
        skip_postgeneration_save = True

    patient = factory.SubFactory(PatientFactory)
    number = 1
    screening_date = dt.date(2026, 3, 2)
    invasive_carcinoma = True
    metastasis_biopsied = False
    er, pgr, her2 = "positive", "positive", "negative"
    presentation_history, breast_tumour, bilateral, side = "none", "invasive", False, None
    invasive_proven_by_metastasis_biopsy = False
    diagnosed_as_recurrence = False
    ct_date, pet_date, brain_mri_date = dt.date(2026, 2, 18), dt.date(2026, 2, 20), dt.date(2026, 2, 19)
    other_distant_metastasis = False
    ecog = 0
    prior_metastasis_treatment = False
    radical_primary_surgery_since_metastasis_diagnosis = False
    other_cancer_therapy_within_5_years = False
    labs = factory.SubFactory(LabPanelFactory, patient=factory.SelfAttribute("..patient"))
    lvef_percent = Decimal("64")
    consent_date = dt.date(2026, 2, 20)
    consent_version = factory.LazyFunction(initial_consent_version)
    e1 = e2 = e3 = e4 = e5 = e6 = e7 = e8 = e9 = e10 = e11 = e12 = e13 = False

    @factory.post_generation
    def lesions(obj, create, extracted, **kwargs):
        """Two lesions (bone 18 mm, lung 12 mm) unless a list of field dicts is given."""
        if not create:
            return
        specs = extracted if extracted is not None else [
            {"organ": "bone", "diameter_mm": Decimal("18"), "mdt_feasible": True, "symptomatic": False,
             "three_consecutive_vertebrae": False, "bilsky_grade": "0", "femoral_head_neck_trochanter": False,
             "cortical_defect_over_one_third": False, "uncontrolled_pain": False},
            {"organ": "lung", "diameter_mm": Decimal("12"), "mdt_feasible": True, "symptomatic": False},
        ]
        for position, spec in enumerate(specs, start=1):
            Lesion.objects.create(screening=obj, position=position, **spec)
