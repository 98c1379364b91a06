"""Where follow-up sends the user after recording a death: the death's safety assessment (R1 needs the
causality, and the site's awareness starts the report clock). Registered in SafetyConfig.ready."""

from django.urls import reverse

from .models import AdverseEvent


def after_death(patient) -> str | None:
    if AdverseEvent.objects.filter(patient=patient, death__isnull=False).exists():
        return None
    return reverse("safety:death_assessment", kwargs={"pk": getattr(patient, "pk", patient)})
