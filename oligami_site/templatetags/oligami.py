"""Template filters of the core kit."""

from django import template

from oligami_site import reasons

register = template.Library()


@register.filter
def audit_reason(stored):
    """A history row's reason in the reader's language (oligami_site/reasons.py: system phrases only)."""
    return reasons.display(stored)
