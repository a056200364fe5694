"""Worker ops for the server tests: the real ones, `STALL`, which never returns, and
`SLEEP <seconds>`, which takes that long before grading (a slow item on demand), and
`GATE <path>`, which waits until that file exists (an item held until the test lets it go)."""

import os
import time

# the real start-up too (the sandbox runs `warmup` before "ready"): a first item not measured cold
from sciinstruct.integrations.grade_ops import score as real_score
from sciinstruct.integrations.grade_ops import warmup  # noqa: F401


def score(response, *args):
    if response == "STALL":
        time.sleep(3600)
    if response.startswith("SLEEP "):  # its time in the worker is the sleep and the grading
        seconds = float(response.split()[1])
        time.sleep(seconds)
        row = real_score(response, *args)
        return {**row, "elapsed_s": row["elapsed_s"] + seconds}
    if response.startswith("GATE "):  # its time in the worker includes the wait
        start = time.monotonic()
        while not os.path.exists(response.split()[1]):
            time.sleep(0.01)
        row = real_score(response, *args)
        return {**row, "elapsed_s": round(time.monotonic() - start, 4)}
    return real_score(response, *args)


OPS = {"score": score}
