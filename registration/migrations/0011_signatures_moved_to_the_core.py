"""The e-signatures moved to the core (oligami_site 0008; issue 14): registration lets go of them.

- Database: the failure's patient keeps its column but loses its foreign-key constraint, because the core's
  SignatureFailure keeps the patient as a plain id (the core names no trial app; patients are never deleted).
- State only: the registrations' signature keys point at oligami_site.Signature (same table, so nothing
  changes in the database), and the four models leave registration's state. Safety's 0003 repoints its
  report's key before this runs (its `run_before`), so no state ever points at a model already gone.
"""

import django.db.models.deletion
from django.db import migrations, models


def _signature_key(*, history: bool):
    if history:
        return models.ForeignKey(blank=True, db_constraint=False, null=True,
                                 on_delete=django.db.models.deletion.DO_NOTHING, related_name='+',
                                 to='oligami_site.signature', verbose_name='signature')
    return models.OneToOneField(on_delete=django.db.models.deletion.PROTECT, related_name='+',
                                to='oligami_site.signature', verbose_name='signature')


class Migration(migrations.Migration):

    dependencies = [
        ('oligami_site', '0008_signatures_in_the_core'),
        ('registration', '0010_courses_given_derived'),
    ]

    operations = [
        migrations.AlterField(
            model_name='signaturefailure',
            name='patient',
            field=models.ForeignKey(blank=True, db_constraint=False, null=True,
                                    on_delete=django.db.models.deletion.PROTECT, related_name='+',
                                    to='screening.patient', verbose_name='patient'),
        ),
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.AlterField(model_name='primaryregistration', name='signature',
                                      field=_signature_key(history=False)),
                migrations.AlterField(model_name='historicalprimaryregistration', name='signature',
                                      field=_signature_key(history=True)),
                migrations.AlterField(model_name='secondaryregistration', name='signature',
                                      field=_signature_key(history=False)),
                migrations.AlterField(model_name='historicalsecondaryregistration', name='signature',
                                      field=_signature_key(history=True)),
                migrations.DeleteModel(name='HistoricalSignature'),
                migrations.DeleteModel(name='HistoricalSignatureFailure'),
                migrations.DeleteModel(name='Signature'),
                migrations.DeleteModel(name='SignatureFailure'),
            ],
        ),
    ]
