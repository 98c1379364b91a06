from django.core.management.base import BaseCommand

from followup.demo import seed as seed_followup
from oligami_site.demo import demo_password, seed_core, seed_enrolment_caps, seed_site_statuses
from oversight.demo import seed as seed_oversight
from randomization.demo import seed as seed_randomization
from registration.demo import seed as seed_registration
from screening.demo import seed as seed_screening

# Each trial app adds its demo data through a seeder called here, in dependency order.
# The randomization set-up comes before registration: secondary registration randomizes at once.
# A site closes to accrual last, once its patients are in (it then takes no new patient); another gets its
# enrolment cap then too, at the patients it has screened.
SEEDERS = [seed_screening, seed_randomization, seed_registration, seed_followup, seed_oversight, seed_site_statuses,
           seed_enrolment_caps]


class Command(BaseCommand):
    help = "Create demo sites, users and patients (idempotent: a second run changes nothing)."

    def handle(self, *args, **options):
        password, generated = demo_password()
        logins = seed_core(password)
        for seeder in SEEDERS:
            seeder(stdout=self.stdout)
        self.stdout.write(self.style.SUCCESS("Demo data ready. Logins:"))
        for username, what in logins:
            self.stdout.write(f"  {username:<14} {what}")
        note = " (generated now; kept in var/demo-password.txt)" if generated else ""
        self.stdout.write(f"  password: {password}{note}")
        self.stdout.write("  dm and stat use two-factor authentication: at first login press \"E-mail me the set-up "
                          "link\"; the link arrives as a file in var/mail/ (README).")
