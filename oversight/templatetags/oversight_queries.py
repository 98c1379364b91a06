"""Data queries shown where people already look: the patient page, the worklist, the home page.

Inclusion tags, so that the pages of lower apps (registration's patient page and worklist) show the
roof's queries without importing it: templates are looked up at run time, and the layering of the
Python modules (registration never imports oversight) holds. One or two queries per tag.
"""

from django import template
from django.db.models import Count, Q
from django.utils import timezone

from oligami_site import access
from oligami_site.access import Action

from .. import checks, querystate, records
from ..models import DataQuery
from ..query_views import UNCLOSED, WAITING_FOR_SITE, overdue_filter

register = template.Library()


@register.inclusion_tag("oversight/queries/_patient_queries.html", takes_context=True)
def patient_queries(context, patient):
    user = context["request"].user
    today = timezone.localdate()
    rows = []
    if access.is_data_manager(user) or access.can(user, Action.VIEW, patient.site_id):
        for query in DataQuery.objects.filter(patient=patient).order_by("-opened_at", "-id"):
            status = querystate.Status(query.status)
            rows.append({"query": query, "field_label": records.field_label(query.record_type, query.field),
                         "question": checks.describe(query.rule, query.details) if query.rule else query.text,
                         "overdue": querystate.is_overdue(status, query.waiting_since, today)})
    return {"rows": rows, "patient": patient, "can_open": access.is_data_manager(user)}


@register.inclusion_tag("oversight/queries/_summary.html", takes_context=True)
def query_summary(context):
    """Counts of the user's not-closed queries: waiting for the site (and overdue), waiting for the data centre."""
    user = context["request"].user
    if not (access.is_data_manager(user) or access.has_any_site_role(user)):
        return {"show": False}
    today = timezone.localdate()
    scoped = access.scope(DataQuery.objects.filter(status__in=UNCLOSED), user, Action.VIEW,
                          site_field="patient__site")
    counts = scoped.aggregate(site=Count("pk", filter=Q(status__in=WAITING_FOR_SITE)),
                              overdue=Count("pk", filter=overdue_filter(today)),
                              data_centre=Count("pk", filter=Q(status=DataQuery.Status.ANSWERED)))
    return {"show": True, **counts, "data_manager": access.is_data_manager(user)}
