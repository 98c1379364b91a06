"""Receivers of core events this app must act on (connected in RegistrationConfig.ready).

The core cannot import this app (docs/architecture.md, the arrows), and memberships are changed in the core's
admin; so the calendar feed hears of an ended membership through Django's model signals. The receivers
only call the service that does the work (registration.ical.revoke_for_ended_membership).
"""

from oligami_site.models import Membership

from . import ical

_BEFORE = "_oligami_membership_before"


def membership_before_save(sender, instance, **kwargs):
    """Remember whether the membership was in force, and where, before this save."""
    before = None
    if instance.pk is not None:
        before = Membership.objects.filter(pk=instance.pk).values("active", "site_id", "user_id").first()
    setattr(instance, _BEFORE, before)


def membership_saved(sender, instance, created, **kwargs):
    """Ended (deactivated, or moved to another site or user): the user's feed is revoked (issue 13)."""
    before = getattr(instance, _BEFORE, None)
    if created or not before or not before["active"]:
        return
    if not instance.active or before["site_id"] != instance.site_id or before["user_id"] != instance.user_id:
        # In the same transaction as the change of the membership: both happen, or neither.
        ical.revoke_for_ended_membership(user_id=before["user_id"])


def membership_deleted(sender, instance, **kwargs):
    if instance.active:
        ical.revoke_for_ended_membership(user_id=instance.user_id)
