"""Balance and predictability of the allocation methods (protocol/RANDOMIZATION.md "Simulation command").

Parses the contract's options and calls randomization.simulation.simulate, which runs the live
algorithms of randomization/allocation.py (never a copy).
"""

import json
import math

from django.core.management.base import BaseCommand, CommandError

from randomization import simulation
from randomization.allocation import DEFAULT_P, validate_p


def _numbers(kind, name):
    def parse(text):
        try:
            values = [kind(part) for part in text.replace(" ", "").split(",") if part != ""]
        except ValueError:
            raise CommandError(f"--{name}: expected {kind.__name__} values separated by commas, got {text!r}")
        if not values:
            raise CommandError(f"--{name}: no values given")
        if kind is float and not all(math.isfinite(v) for v in values):
            raise CommandError(f"--{name}: values must be finite numbers, got {text!r}")
        return values

    return parse


def _csv(values):
    return ",".join(f"{v:g}" for v in values)


class Command(BaseCommand):
    help = ("Simulate many trials with an allocation method and print balance and predictability "
            "(protocol/RANDOMIZATION.md).")

    def add_arguments(self, parser):
        parser.add_argument("--method", required=True, choices=simulation.METHODS)
        parser.add_argument("--p", type=float, default=DEFAULT_P,
                            help="minimization: probability of the preferred arm (default 0.8)")
        parser.add_argument("--block-sizes", default="4,6", help="blocks: sizes, e.g. 4,6 (default 4,6)")
        parser.add_argument("--patients", type=int, default=simulation.DEFAULT_PATIENTS)
        parser.add_argument("--reps", type=int, default=simulation.DEFAULT_REPS)
        parser.add_argument("--seed", type=int, default=simulation.DEFAULT_SEED)
        parser.add_argument("--subtype-probs", default=_csv(simulation.DEFAULT_SUBTYPE_PROBS),
                            help="luminal, HER2-positive, TN (default .6,.25,.15)")
        parser.add_argument("--lesion-probs", default=_csv(simulation.DEFAULT_LESION_PROBS),
                            help="1, 2-3 remaining lesions (default .5,.5)")
        parser.add_argument("--site-weights", default=_csv(simulation.DEFAULT_SITE_WEIGHTS),
                            help="one weight per site (default the 15 weights of RANDOMIZATION.md)")
        parser.add_argument("--json", action="store_true", help="print one JSON object")

    def handle(self, *args, **options):
        block_sizes = _numbers(int, "block-sizes")(options["block_sizes"])
        subtype_probs = _numbers(float, "subtype-probs")(options["subtype_probs"])
        lesion_probs = _numbers(float, "lesion-probs")(options["lesion_probs"])
        site_weights = _numbers(float, "site-weights")(options["site_weights"])
        method = options["method"]
        if method == "minimization":
            try:
                for warning in validate_p(options["p"]):
                    self.stderr.write(f"warning: {warning}")
            except ValueError as exc:
                raise CommandError(f"--p: {exc}")
        try:
            result = simulation.simulate(
                method=method, p=options["p"], block_sizes=block_sizes, patients=options["patients"],
                reps=options["reps"], seed=options["seed"], subtype_probs=subtype_probs,
                lesion_probs=lesion_probs, site_weights=site_weights,
            )
        except ValueError as exc:
            raise CommandError(str(exc))
        if options["json"]:
            self.stdout.write(json.dumps(result))
        else:
            self.stdout.write(simulation.format_table(result))
