"""`sciinstruct ingest FILE --run RUN_DIR`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from sciinstruct.errors import EXIT_BAD_INPUT


def register(app: typer.Typer) -> None:
    from sciinstruct.cli.options import build_config, config_options
    from sciinstruct.ingest import IngestOptions

    @app.command("ingest")
    @config_options(IngestOptions)
    def ingest_command(
        given: dict[str, Any],
        file: Path = typer.Argument(
            ..., help="JSONL, JSON array, CSV/TSV, Parquet, or a Hugging Face dataset directory."
        ),
        run: Path = typer.Option(..., "--run", "-r", help="Run directory (created if missing)."),
    ) -> None:
        """Validate questions into RUN/questions.jsonl; refused rows go to RUN/rejected.jsonl with file, line, field and reason."""
        from sciinstruct.ingest import ingest
        from sciinstruct.log import console, err_console
        from sciinstruct.rundir import RunDir

        options = build_config(IngestOptions, given)
        rundir = RunDir(run)
        result = ingest(file, rundir, options)
        for record in result.rejected[:5]:
            field = f" field '{record['field']}'" if record["field"] else ""
            err_console.print(
                f"rejected {record['file']}:{record['line']}{field}: {record['reason']}",
                highlight=False,
            )
        if result.rejected_count > 5:
            err_console.print(
                f"... and {result.rejected_count - 5} more in {rundir.rejected}", highlight=False
            )
        console.print(result.summary(str(file), rundir), highlight=False)
        if options.strict and result.rejected_count:
            raise typer.Exit(EXIT_BAD_INPUT)
