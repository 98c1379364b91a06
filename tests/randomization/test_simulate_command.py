"""simulate_randomization: the contract's options, --json, the table, and clear errors."""

import io
import json

import pytest
from django.core.management import CommandError, call_command

from randomization import simulation

KEYS = {
    "abs_diff_mean", "abs_diff_p95", "max_marginal_mean", "max_marginal_p95", "max_subtype_lesion_p95",
    "max_site_mean", "max_site_p95", "max_cell_mean", "max_cell_p95", "guess_design", "guess_site",
    "reps", "patients", "seed", "method", "p", "mcse",
}  # fmt: skip


def run(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command("simulate_randomization", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_json_is_one_object_equal_to_the_simulation():
    out, _ = run("--method", "minimization", "--p", "0.8", "--patients", "60", "--reps", "40", "--seed", "7", "--json")
    result = json.loads(out)
    assert set(result) == KEYS
    assert result == json.loads(json.dumps(simulation.simulate("minimization", p=0.8, patients=60, reps=40, seed=7)))
    assert (result["method"], result["p"], result["reps"], result["patients"], result["seed"]) == (
        "minimization", 0.8, 40, 60, 7)


def test_every_option_reaches_the_simulation():
    args = ("--method", "blocks", "--block-sizes", "2,4,6", "--patients", "50", "--reps", "30", "--seed", "3",
            "--subtype-probs", ".5,.3,.2", "--lesion-probs", ".4,.6", "--site-weights", "3,2,1", "--json")
    result = json.loads(run(*args)[0])
    expected = simulation.simulate("blocks", block_sizes=(2, 4, 6), patients=50, reps=30, seed=3,
                                   subtype_probs=(.5, .3, .2), lesion_probs=(.4, .6), site_weights=(3, 2, 1))
    assert result == json.loads(json.dumps(expected))
    assert result["p"] is None


def test_defaults_are_the_contracts(monkeypatch):
    seen = {}
    real = simulation.simulate

    def fake(**kwargs):
        seen.update(kwargs)
        return real(**{**kwargs, "reps": 2, "patients": 10})

    monkeypatch.setattr(simulation, "simulate", fake)
    run("--method", "minimization", "--json")
    assert seen == {"method": "minimization", "p": 0.8, "block_sizes": [4, 6], "patients": 240, "reps": 2000,
                    "seed": simulation.DEFAULT_SEED, "subtype_probs": [0.6, 0.25, 0.15], "lesion_probs": [0.5, 0.5],
                    "site_weights": [15, 12, 10, 9, 8, 7, 7, 6, 5, 5, 4, 4, 3, 3, 2]}


def test_table_without_json():
    out, _ = run("--method", "simple", "--patients", "40", "--reps", "20")
    assert out.startswith("simple: 20 reps x 40 patients")
    assert "total |A-B|" in out and "guess (site)" in out
    with pytest.raises(json.JSONDecodeError):
        json.loads(out)


def test_high_p_warns_on_stderr_and_keeps_stdout_json():
    out, err = run("--method", "minimization", "--p", "0.96", "--patients", "20", "--reps", "5", "--json")
    assert json.loads(out)["p"] == 0.96
    assert "warning" in err and "0.95" in err


@pytest.mark.parametrize("args, words", [
    (("--p", "1"), "deterministic"),
    (("--p", "0.5"), "refused"),
    (("--p", "nan"), "finite"),
    (("--block-sizes", "3,4", "--method", "blocks"), "even"),
    (("--block-sizes", "four"), "block-sizes"),
    (("--subtype-probs", ".5,.5"), "subtype_probs needs 3"),
    (("--lesion-probs=-1,2",), ">= 0"),
    (("--site-weights", ""), "site-weights"),
    (("--reps", "0"), "reps"),
    (("--patients", "-3"), "patients"),
])
def test_bad_options_are_clear_command_errors(args, words):
    if "--method" not in args:
        args = ("--method", "minimization", *args)
    if "--reps" not in args:
        args = (*args, "--reps", "1")
    with pytest.raises(CommandError) as failed:
        run(*args)
    assert words in str(failed.value)


@pytest.mark.parametrize("args", [(), ("--method", "adaptive"), ("--method", "simple", "--reps", "x")])
def test_missing_or_malformed_arguments_are_command_errors(args):
    with pytest.raises(CommandError):
        run(*args)
