"""sciinstruct's grader inside RL frameworks: verl, OpenRLHF and TRL rewards, one scoring core.

- `sciinstruct.integrations.verl.compute_score` / `compute_score_batch`: verl's custom reward
  function (`custom_reward_function.path=pkg://sciinstruct.integrations.verl`);
- `sciinstruct.integrations.openrlhf.reward_func`: OpenRLHF's `--remote_rm_url` function;
- `sciinstruct.integrations.trl.shaped_reward` / `reward_funcs`: GRPOTrainer rewards;
- `sciinstruct serve-grader` (`sciinstruct.integrations.server`): the same scoring over HTTP,
  with a hard time limit per item, for clusters whose GPUs should not grade.

Each adapter takes the reward registry's names (`correctness`, `format`, `validity`,
`tanimoto`, ...) and weights, and every one scores through `scoring.score_many`, so a response
earns the same reward in every framework.
"""

from sciinstruct.integrations.reference import Reference, ReferenceError, parse_reference
from sciinstruct.integrations.scoring import RewardSelection, score_many, score_one

__all__ = [
    "Reference",
    "ReferenceError",
    "RewardSelection",
    "parse_reference",
    "score_many",
    "score_one",
]
