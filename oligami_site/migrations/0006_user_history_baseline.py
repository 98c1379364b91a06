"""A first history row for every account that existed before its history (0005), with its groups and
permissions, so that the first role grant after deployment shows as a change (old -> new) on the trail
and not as a row with nothing to compare to (issue 13)."""

from django.db import migrations
from django.utils import timezone

REASON = "Account history starts (issue 13)"
FIELDS = ("id", "is_superuser", "username", "first_name", "last_name", "email", "is_staff", "is_active",
          "date_joined", "preferred_language")


def baseline(apps, schema_editor):
    User = apps.get_model("oligami_site", "User")
    HistoricalUser = apps.get_model("oligami_site", "HistoricalUser")
    HistoricalGroups = apps.get_model("oligami_site", "HistoricalUser_groups")
    HistoricalPermissions = apps.get_model("oligami_site", "HistoricalUser_user_permissions")
    started = set(HistoricalUser.objects.values_list("id", flat=True))
    now = timezone.now()
    for user in User.objects.exclude(pk__in=started).order_by("pk"):
        row = HistoricalUser.objects.create(history_date=now, history_type="~", history_change_reason=REASON,
                                            history_user=None, **{f: getattr(user, f) for f in FIELDS})
        for link in User.groups.through.objects.filter(user_id=user.pk):
            HistoricalGroups.objects.create(history=row, id=link.pk, user_id=user.pk, group_id=link.group_id)
        for link in User.user_permissions.through.objects.filter(user_id=user.pk):
            HistoricalPermissions.objects.create(history=row, id=link.pk, user_id=user.pk,
                                                 permission_id=link.permission_id)


class Migration(migrations.Migration):
    dependencies = [("oligami_site", "0005_user_history")]

    operations = [migrations.RunPython(baseline, migrations.RunPython.noop)]
