"""The e-signatures move into the core (issue 14, the kit): Signature and SignatureFailure with their history.

State only: the tables stay where registration created them (the models keep their names with db_table
and the history's table_name), so every row, foreign key and history row stays as it is. Registration's
0011 drops the old models from its state and points its foreign keys here (safety's 0003 first, in state
only too). `SignatureFailure.patient` becomes the plain `patient_id` it always stored (the core names no
trial app); registration's 0011 drops its database constraint.
"""

import django.db.models.deletion
import oligami_site.models
import simple_history.models
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('oligami_site', '0007_counter'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.CreateModel(
                    name='HistoricalSignature',
                    fields=[
                        ('id', models.BigIntegerField(auto_created=True, blank=True, db_index=True, verbose_name='ID')),
                        ('printed_name', models.CharField(max_length=300, verbose_name='printed name')),
                        ('signed_at', models.DateTimeField(verbose_name='signed at')),
                        ('meaning', models.TextField(verbose_name='meaning')),
                        ('kind', models.CharField(choices=oligami_site.models.signature_kinds, max_length=32, verbose_name='signs')),
                        ('subject', models.CharField(help_text='The record signed, e.g. registration number and screening number.', max_length=200, verbose_name='signed record')),
                        ('history_id', models.AutoField(primary_key=True, serialize=False)),
                        ('history_date', models.DateTimeField(db_index=True)),
                        ('history_change_reason', models.CharField(max_length=100, null=True)),
                        ('history_type', models.CharField(choices=[('+', 'Created'), ('~', 'Changed'), ('-', 'Deleted')], max_length=1)),
                        ('history_user', models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                        ('user', models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='signer')),
                    ],
                    options={
                        'verbose_name': 'historical signature',
                        'verbose_name_plural': 'historical signatures',
                        'db_table': 'registration_historicalsignature',
                        'ordering': ('-history_date', '-history_id'),
                        'get_latest_by': ('history_date', 'history_id'),
                    },
                    bases=(simple_history.models.HistoricalChanges, models.Model),
                ),
                migrations.CreateModel(
                    name='HistoricalSignatureFailure',
                    fields=[
                        ('id', models.BigIntegerField(auto_created=True, blank=True, db_index=True, verbose_name='ID')),
                        ('attempted_at', models.DateTimeField(verbose_name='attempted at')),
                        ('kind', models.CharField(choices=oligami_site.models.signature_kinds, max_length=32, verbose_name='signs')),
                        ('patient_id', models.BigIntegerField(blank=True, db_index=True, null=True, verbose_name='patient')),
                        ('ip_address', models.GenericIPAddressField(blank=True, null=True, verbose_name='IP address')),
                        ('history_id', models.AutoField(primary_key=True, serialize=False)),
                        ('history_date', models.DateTimeField(db_index=True)),
                        ('history_change_reason', models.CharField(max_length=100, null=True)),
                        ('history_type', models.CharField(choices=[('+', 'Created'), ('~', 'Changed'), ('-', 'Deleted')], max_length=1)),
                        ('history_user', models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                        ('user', models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='user')),
                    ],
                    options={
                        'verbose_name': 'historical signature failure',
                        'verbose_name_plural': 'historical signature failures',
                        'db_table': 'registration_historicalsignaturefailure',
                        'ordering': ('-history_date', '-history_id'),
                        'get_latest_by': ('history_date', 'history_id'),
                    },
                    bases=(simple_history.models.HistoricalChanges, models.Model),
                ),
                migrations.CreateModel(
                    name='Signature',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('printed_name', models.CharField(max_length=300, verbose_name='printed name')),
                        ('signed_at', models.DateTimeField(verbose_name='signed at')),
                        ('meaning', models.TextField(verbose_name='meaning')),
                        ('kind', models.CharField(choices=oligami_site.models.signature_kinds, max_length=32, verbose_name='signs')),
                        ('subject', models.CharField(help_text='The record signed, e.g. registration number and screening number.', max_length=200, verbose_name='signed record')),
                        ('user', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='signer')),
                    ],
                    options={
                        'verbose_name': 'signature',
                        'verbose_name_plural': 'signatures',
                        'db_table': 'registration_signature',
                        'ordering': ['signed_at'],
                    },
                ),
                migrations.CreateModel(
                    name='SignatureFailure',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('attempted_at', models.DateTimeField(verbose_name='attempted at')),
                        ('kind', models.CharField(choices=oligami_site.models.signature_kinds, max_length=32, verbose_name='signs')),
                        ('patient_id', models.BigIntegerField(blank=True, db_index=True, null=True, verbose_name='patient')),
                        ('ip_address', models.GenericIPAddressField(blank=True, null=True, verbose_name='IP address')),
                        ('user', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='user')),
                    ],
                    options={
                        'verbose_name': 'signature failure',
                        'verbose_name_plural': 'signature failures',
                        'db_table': 'registration_signaturefailure',
                        'ordering': ['-attempted_at'],
                        'indexes': [models.Index(fields=['user', 'attempted_at'], name='sigfail_user_time')],
                    },
                ),
            ],
        ),
    ]
