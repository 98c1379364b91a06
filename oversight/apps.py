from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OversightConfig(AppConfig):
    name = "oversight"
    verbose_name = _("Oversight")

    def ready(self):
        from oligami_site import signatures

        from . import cutoffs

        # What the data lock signs: its kind and meaning, declared to the core's e-signatures.
        signatures.register(kinds=cutoffs.SIGNATURE_KINDS, meanings=cutoffs.SIGNATURE_MEANINGS)
