from click.testing import CliRunner

from b24sync import __version__
from b24sync.cli import main


def test_version_is_printed() -> None:
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"b24sync, version {__version__}"


def test_help_documents_exit_codes() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    assert "130 interrupted" in result.output


# --- validate, schema, plan ------------------------------------------------------------------------

import json  # noqa: E402
from pathlib import Path  # noqa: E402

from b24sync.planning.model import Plan  # noqa: E402

GOOD = "version: 1\nname: p\nsteps:\n  - {id: a, method: crm.item.add, params: {t: '{{ vars.who }}'}}\n"


def _files(tmp_path: Path) -> tuple[str, str]:
    good = tmp_path / "good.yaml"
    good.write_text("version: 1\nname: p\nvars: {who: Ann}\n" + GOOD.split("\n", 2)[2])
    bad = tmp_path / "bad.yaml"
    bad.write_text(GOOD)
    return str(good), str(bad)


def test_validate_prints_ok_for_good_files_and_every_problem_of_bad_ones(tmp_path: Path) -> None:
    good, bad = _files(tmp_path)
    result = CliRunner().invoke(main, ["validate", good, bad])
    assert result.exit_code == 2
    assert result.stdout == f"{good}: ok\n"
    assert result.stderr == f"{bad}:4:47: steps[0].params.t: no key 'who' (the mapping is empty)\n"


def test_validate_accepts_vars_from_the_command_line(tmp_path: Path) -> None:
    _, bad = _files(tmp_path)
    result = CliRunner().invoke(main, ["validate", bad, "--var", "who=Bob"])
    assert (result.exit_code, result.stdout) == (0, f"{bad}: ok\n")


def test_a_malformed_var_is_a_usage_error(tmp_path: Path) -> None:
    good, _ = _files(tmp_path)
    result = CliRunner().invoke(main, ["validate", good, "--var", "who"])
    assert result.exit_code == 2
    assert result.stderr == "b24sync: error: --var expects NAME=VALUE, got 'who'\n"


def test_schema_prints_the_pipeline_json_schema() -> None:
    result = CliRunner().invoke(main, ["schema"])
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert "steps" in schema["required"]


def test_plan_json_is_written_to_out_and_reads_back_as_a_plan(tmp_path: Path) -> None:
    good, _ = _files(tmp_path)
    out = tmp_path / "plan.json"
    result = CliRunner().invoke(main, ["plan", good, "--format", "json", "--out", str(out)])
    assert result.exit_code == 0, result.stderr
    assert out.read_text() == result.stdout
    plan = Plan.model_validate_json(result.stdout)
    assert plan.pipeline.path == good
    assert [c.query for c in plan.commands()] == ["crm.item.add?t=Ann"]


def test_plan_text_never_shows_a_secret_value(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(
        "version: 1\nname: p\nsteps:\n"
        "  - {id: a, method: crm.item.add, params: {auth_note: \"Bearer {{ secret('B24_TOKEN') }}\"}}\n"
    )
    for output_format in ("text", "json"):
        result = CliRunner().invoke(
            main, ["plan", str(path), "--format", output_format], env={"B24_TOKEN": "s3cr3t-value"}
        )
        assert result.exit_code == 0
        assert "s3cr3t-value" not in result.output
    assert 'auth_note="Bearer ***"' in CliRunner().invoke(main, ["plan", str(path)]).stdout


def test_plan_of_an_invalid_pipeline_prints_the_validate_messages(tmp_path: Path) -> None:
    _, bad = _files(tmp_path)
    planned = CliRunner().invoke(main, ["plan", bad])
    validated = CliRunner().invoke(main, ["validate", bad])
    assert planned.exit_code == 2
    assert planned.stderr == validated.stderr != ""
