"""Worker ops for the server tests: the real ones, and `STALL`, which never returns."""

import time

from sciinstruct.integrations.grade_ops import score as real_score


def score(response, *args):
    if response == "STALL":
        time.sleep(3600)
    return real_score(response, *args)


OPS = {"score": score}
