"""The expedited report's signature key points at the core's Signature (oligami_site 0008; issue 14).

State only: the table is the one registration created and the core keeps (db_table), so nothing changes in
the database. Runs before registration's 0011, which drops registration's Signature from the state.
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('oligami_site', '0008_signatures_in_the_core'),
        ('safety', '0002_adverse_event_rejudged'),
    ]
    run_before = [
        ('registration', '0011_signatures_moved_to_the_core'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.AlterField(
                    model_name='expeditedreport',
                    name='signature',
                    field=models.OneToOneField(on_delete=django.db.models.deletion.PROTECT, related_name='+',
                                               to='oligami_site.signature', verbose_name='signature'),
                ),
                migrations.AlterField(
                    model_name='historicalexpeditedreport',
                    name='signature',
                    field=models.ForeignKey(blank=True, db_constraint=False, null=True,
                                            on_delete=django.db.models.deletion.DO_NOTHING, related_name='+',
                                            to='oligami_site.signature', verbose_name='signature'),
                ),
            ],
        ),
    ]
