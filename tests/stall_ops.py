"""Worker ops for the server tests: the real ones, `STALL`, which never returns, and
`SLEEP <seconds>`, which takes that long before grading (a slow item on demand)."""

import time

from sciinstruct.integrations.grade_ops import score as real_score


def score(response, *args):
    if response == "STALL":
        time.sleep(3600)
    if response.startswith("SLEEP "):  # its time in the worker is the sleep and the grading
        seconds = float(response.split()[1])
        time.sleep(seconds)
        row = real_score(response, *args)
        return {**row, "elapsed_s": row["elapsed_s"] + seconds}
    return real_score(response, *args)


OPS = {"score": score}
