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
