"""E-mail a user the one-time activation link (issue 13; oligami_site.accounts): a new account sets its
password, and a trial-wide role enrols its authenticator app; an account that has a password (e.g. a lost
phone) confirms it and enrols again. The link is not printed: it goes to the account's own mailbox only."""

from django.core.management.base import BaseCommand, CommandError

from oligami_site import accounts
from oligami_site.models import User


class Command(BaseCommand):
    help = "E-mail USERNAME the one-time activation link."

    def add_arguments(self, parser):
        parser.add_argument("username")

    def handle(self, *args, username, **options):
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No account with the username {username!r}.")
        try:
            accounts.send_activation(user=user)
        except accounts.AccountError as error:
            raise CommandError(str(error.message)) from error
        self.stdout.write(f"Activation link e-mailed to {user.email} (valid {accounts.ACTIVATION_VALID_HOURS} hours).")
