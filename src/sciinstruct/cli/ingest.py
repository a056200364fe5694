"""`sciinstruct ingest FILE --run RUN_DIR`."""

from __future__ import annotations

from pathlib import Path

import typer

from sciinstruct.errors import EXIT_BAD_INPUT


def register(app: typer.Typer) -> None:
    @app.command("ingest")
    def ingest_command(
        file: Path = typer.Argument(
            ..., help="JSONL, JSON array, CSV/TSV, Parquet, or a Hugging Face dataset directory."
        ),
        run: Path = typer.Option(..., "--run", "-r", help="Run directory (created if missing)."),
        map_: str = typer.Option(
            None,
            "--map",
            help="Field mapping OURS=THEIRS, comma separated, e.g. question=problem,answer=final.",
        ),
        fmt: str = typer.Option("auto", "--format", help="auto, jsonl, csv, parquet or hf."),
        split: str = typer.Option(None, "--split", help="Split of a Hugging Face DatasetDict."),
        source: str = typer.Option(
            None, "--source", help="Source name stored on each question (default: the file name)."
        ),
        subject: str = typer.Option(
            None, "--subject", help="Subject for rows that do not give one."
        ),
        answer_type: str = typer.Option(
            None, "--answer-type", help="Answer type for rows that do not give one."
        ),
        strict: bool = typer.Option(False, "--strict", help="Exit 2 when any row is rejected."),
    ) -> None:
        """Validate questions into RUN/questions.jsonl; refused rows go to RUN/rejected.jsonl with file, line, field and reason."""
        from sciinstruct.ingest import ingest, parse_mapping
        from sciinstruct.log import console, err_console
        from sciinstruct.rundir import RunDir

        rundir = RunDir(run)
        result = ingest(
            file,
            rundir,
            mapping=parse_mapping(map_),
            fmt=fmt,
            split=split,
            source=source,
            subject=subject,
            answer_type=answer_type,
        )
        for record in result.rejected[:5]:
            field = f" field '{record['field']}'" if record["field"] else ""
            err_console.print(
                f"rejected {record['file']}:{record['line']}{field}: {record['reason']}",
                highlight=False,
            )
        if len(result.rejected) > 5:
            err_console.print(
                f"... and {len(result.rejected) - 5} more in {rundir.rejected}", highlight=False
            )
        console.print(result.summary(str(file), rundir), highlight=False)
        if strict and result.rejected:
            raise typer.Exit(EXIT_BAD_INPUT)
