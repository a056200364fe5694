"""Harvest the candidate rows of grader_external_v9.jsonl from published eval-output files.

Reads public repositories fetched as bare git mirrors under /work/.mirror (git show HEAD:path, at
the commits listed in README.md, section v9), samples items with a fixed seed per file, and writes
the candidates in table order (`python bench/data/grader_v9_harvest.py OUT.jsonl`). With
`--table OUT.jsonl` it joins the hand labels of `grader_v9_labels.json` (candidate id -> label,
note, and finish_reason where a cut-off was read; a null label means the row was dropped) and
writes the frozen table itself. The loose flags below (the source's own flag, or "the last number
equals the reference") only stratify the draw, so that right and wrong outputs both appear; they
are never the label.
"""

from __future__ import annotations

import json
import random
import re
import sys
from pathlib import Path

from harvest import candidate, git_show, new_rows, stratified, write_candidates, write_table

SEED = 9
rows: list[dict] = []
NUM = re.compile(r"-?\d[\d,]*(?:\.\d+)?")


def add(**kw) -> None:
    rows.append(candidate(**kw))


def last_number_is(text: str, value: float) -> bool:
    nums = NUM.findall(text or "")
    try:
        return bool(nums) and abs(float(nums[-1].replace(",", "")) - value) < 1e-6
    except ValueError:
        return False


def fmt_number(x: float | int | str) -> str:
    """A reference stored as a float (18.0) is written as a benchmark would (18)."""
    if isinstance(x, float) and x.is_integer():
        return str(int(x))
    return str(x)


# --- A. PremiLab-Math/MathCheck: predictions of many models on the GSM and GEO checklists ---------
# Each results file is a list of {"question", "solution", "answer", "task_type", "question_type",
# "image", "model_prediction"}. "solving" items have a numeric answer (free form); the judging
# items' answers are verdict words ("Correct", "Incorrect", "Answerable", "Unanswerable").
MC = "PremiLab-Math/MathCheck"
MC_GSM = [  # (file stem, model, prompt) for the GSM result files present in the mirror
    ("gsm_checklist_chatglm3-6b_task_all_question_all_zeroshot", "chatglm3-6b", "zero-shot"),
    ("gsm_checklist_gemini-1.5-pro-latest_task_all_question_all_zeroshot", "gemini-1.5-pro", "zero-shot"),
    ("gsm_checklist_gpt-3.5-turbo_task_all_question_all_zeroshot", "gpt-3.5-turbo", "zero-shot"),
    ("gsm_checklist_gpt-4o-mini_task_all_question_all_zeroshot", "gpt-4o-mini", "zero-shot"),
    ("gsm_checklist_internlm2-math-20b_task_all_question_all_fewshot", "internlm2-math-20b", "few-shot"),
    ("gsm_checklist_o1-mini_task_all_question_all_zeroshot", "o1-mini", "zero-shot"),
    ("gpt-3.5-turbo-0613_task_all_question_all", "gpt-3.5-turbo-0613", "zero-shot"),
]  # fmt: skip
MC_GEO = [
    "Geo_checklist_claude-3-haiku-20240307", "Geo_checklist_claude-3-opus-20240229",
    "Geo_checklist_claude-3-sonnet-20240229", "Geo_checklist_cogvlm-2",
    "Geo_checklist_gemini-1.5-flash", "Geo_checklist_gemini-1.5-pro",
    "Geo_checklist_gpt-4-turbo-2024-04-09", "Geo_checklist_gpt-4-vision-preview",
    "Geo_checklist_gpt-4o", "Geo_checklist_internvl-1.5", "Geo_checklist_phi-3",
    "geo_checklist_claude-3-5-sonnet-20240620", "geo_checklist_llava1_6-mistral-7b-instruct",
    "geo_checklist_llava1_6-vicuna-7b-instruct", "geo_checklist_minicpm_v_v2_5_chat",
    "geo_checklist_minicpm_v_v2_6_chat", "geo_checklist_qwen2-vl-72B", "geo_checklist_qwen2-vl-7B",
]  # fmt: skip


def mc_items(path: str) -> list[tuple[int, dict]]:
    items = list(enumerate(json.loads(git_show(MC, path))))
    for _, e in items:  # the gpt-3.5-turbo-0613 file spells the key "asnwer"
        if "asnwer" in e:
            e["answer"] = e.pop("asnwer")
    return items


def mc_solving_flag(x: tuple[int, dict]) -> bool:
    return last_number_is(x[1]["model_prediction"], float(x[1]["answer"]))


def mc_judging_flag(x: tuple[int, dict]) -> bool:
    tail = (x[1]["model_prediction"] or "")[-60:].lower()
    return x[1]["answer"].lower() in tail and not (
        x[1]["answer"] in ("Correct", "Answerable")
        and ("in" + x[1]["answer"].lower()) in tail
        or x[1]["answer"] == "Answerable"
        and "unanswerable" in tail
    )


def mc_add(family: str, path: str, i: int, e: dict, model: str) -> None:
    q = e["question"]
    if e["task_type"] != "solving":
        q = q + "\n\nSolution to judge:\n" + e["solution"] if e.get("solution") else q
    add(
        family=family,
        pred=e["model_prediction"],
        gold=fmt_number(e["answer"]),
        question=q,
        model=model,
        source_repo=MC,
        source_path=path,
        source_item=f"[{i}] {e['task_type']}/{e['question_type']}"
        + (f" image {e['image']}" if e.get("image") else ""),
        source_flag=None,
    )


for stem, model, prompt in MC_GSM:
    path = f"results/{stem}_prediction.json"
    items = [x for x in mc_items(path) if x[1].get("model_prediction") and "answer" in x[1]]
    rng = random.Random(f"{SEED}:{MC}:{path}")
    solving = [x for x in items if x[1]["task_type"] == "solving"]
    for i, e in sorted(stratified(solving, mc_solving_flag, 10, rng), key=lambda x: x[0]):
        mc_add("gsm_checklist_solving", path, i, e, f"{model} ({prompt})")
    judging = [x for x in items if x[1]["task_type"] in ("outcome_judging", "answerable_judging")]
    for i, e in sorted(stratified(judging, mc_judging_flag, 2, rng), key=lambda x: x[0]):
        mc_add("checklist_judging", path, i, e, f"{model} ({prompt})")
for stem in MC_GEO:
    path = f"results/{stem}_task_all_question_all_zeroshot_prediction.json"
    items = [x for x in mc_items(path) if x[1].get("model_prediction") and "answer" in x[1]]
    rng = random.Random(f"{SEED}:{MC}:{path}")
    solving = [x for x in items if x[1]["task_type"] == "solving"]
    model = stem.split("_checklist_", 1)[1]
    for i, e in sorted(stratified(solving, mc_solving_flag, 2, rng), key=lambda x: x[0]):
        mc_add("geo_checklist_solving", path, i, e, f"{model} (zero-shot)")

# --- B. GAIR-NLP/factool: ChatGPT responses to GSM-Hard-style questions (large numbers) ----------
# datasets/math/math.jsonl: {"prompt", "response", "answer", "claims", "label"}: a GSM8K question
# with a number replaced by a large one (GSM-Hard style), the response (bare calculations, mostly
# with no answer phrase), "answer" = the answer read from the response (not a reference), and
# "label" = the dataset's verdict on the response. The file stores no reference, so the stored
# answer is the candidate's gold only as a placeholder: the reference of every row was worked out
# by hand from the question and is given in grader_v9_labels.json ("gold"), which overrides it.
FT = "GAIR-NLP/factool"
FT_PATH = "datasets/math/math.jsonl"
ft_items = [(i, json.loads(x)) for i, x in enumerate(git_show(FT, FT_PATH).splitlines()) if x]
rng = random.Random(f"{SEED}:{FT}:{FT_PATH}")
for i, e in sorted(stratified(ft_items, lambda x: x[1]["label"], 64, rng), key=lambda x: x[0]):
    add(
        family="gsm_hard_calculation",
        pred=e["response"],
        gold=e["answer"],
        question=e["prompt"],
        model="gpt-3.5-turbo (FacTool math set)",
        source_repo=FT,
        source_path=FT_PATH,
        source_item=f"line {i + 1}",
        source_flag=bool(e["label"]),
    )

# --- C. GAIR-NLP/ReasonEval: MATH solutions by Abel, WizardMath and GPT-4 (PRM800K) --------------
# mr-math_invalid_errors: MATH test problems with "ground_truth_answer" and a generator's whole
# "model_output" (numbered steps, "[Final solution] ... \boxed{}", Abel's "#### ans" tail) and its
# "model_output_answer_correctness". mr-math_redundant_errors: GPT-4 PRM800K generations stored
# only as steps ("model_output_step_format"); PRM800K separates steps by newlines and ends
# "# Answer\n\nX", so the steps are joined with "\n" (the only reconstruction in this table).
RE = "GAIR-NLP/ReasonEval"
RE_INV = "dataset/mr-math_invalid_errors.json"
RE_RED = "dataset/mr-math_redundant_errors.json"
inv = [(i, json.loads(x)) for i, x in enumerate(git_show(RE, RE_INV).splitlines()) if x.strip()]
for gen in sorted({e["generator"] for _, e in inv}):
    rng = random.Random(f"{SEED}:{RE}:{RE_INV}:{gen}")
    mine = [x for x in inv if x[1]["generator"] == gen]
    for _i, e in sorted(rng.sample(mine, min(18, len(mine))), key=lambda x: x[0]):
        add(
            family="math_numbered_steps",
            pred=e["model_output"],
            gold=e["ground_truth_answer"],
            question=e["question"],
            model=gen,
            source_repo=RE,
            source_path=RE_INV,
            source_item=f"id {e['id']}",
            source_flag=e["model_output_answer_correctness"] == "correct",
        )
red = [json.loads(x) for x in git_show(RE, RE_RED).splitlines() if x.strip()]
rng = random.Random(f"{SEED}:{RE}:{RE_RED}")
for e in sorted(rng.sample(red, 40), key=lambda e: e["id"]):
    add(
        family="prm800k_steps",
        pred="\n".join(s[0] for s in e["model_output_step_format"]),
        gold=e["ground_truth_answer"],
        question=e["question"],
        model=e["generator"],
        source_repo=RE,
        source_path=RE_RED,
        source_item=f"id {e['id']}",
        source_flag=None,
    )

# --- D. mattdepaolis/llm-evaluation: lm-evaluation-harness leaderboard runs with logged samples ---
# Each results.json logs one sample per task ("samples": task -> [{"doc", "target", "resps",
# "exact_match"}]). MATH-hard (Minerva prompt, "Final Answer: The final answer is $X$. I hope it is
# correct.") and BBH (3-shot CoT, "So the answer is ...") generations; GPQA and MMLU-Pro are
# log-likelihood samples, no text, and IFEval/MuSR have no reference of this kind: left out.
LE = "mattdepaolis/llm-evaluation"
# (the Ministral-8B run's results.json is absent from the mirror; its task reports show only
# "[ERROR: Could not decode response]" for MATH)
LE_RUNS = ["Qwen3-8B_2025-07-11_113749", "Qwen3-8B_2025-07-11_114748", "Qwen3-8B_2025-10-09_150315"]
for run in LE_RUNS:
    path = f"evaluations/{run}/results.json"
    for task, samples in json.loads(git_show(LE, path))["samples"].items():
        math = task.startswith("leaderboard_math_")
        if not (math or task.startswith("leaderboard_bbh_")):
            continue
        for s in samples:
            pred = s["resps"][0][0]
            if not isinstance(pred, str) or not pred.strip() or "[ERROR" in pred:
                continue
            q = s["doc"].get("problem") or s["doc"].get("input")
            choice = re.fullmatch(r"\(([A-R])\)", s["target"])
            opts = re.findall(r"^\(([A-R])\) (.*)$", q or "", re.M) if choice else []
            add(
                family="minerva_math_hard" if math else "bbh_cot_3shot",
                pred=pred,
                gold=choice.group(1) if choice else s["target"],
                answer_type="choice" if choice else "auto",
                choices=[t for _, t in opts] or None,
                question=q,
                model=f"{run.split('_')[0]} (lm-evaluation-harness, leaderboard)",
                source_repo=LE,
                source_path=path,
                source_item=f"samples[{task}][{s['doc_id']}]",
                source_flag=bool(s.get("exact_match")) if "exact_match" in s else None,
            )

rows[:] = new_rows(rows, "v9")  # exact duplicates of earlier tables or of this draw left out


if __name__ == "__main__":
    if sys.argv[1:2] == ["--table"]:
        write_candidates(rows, Path("/dev/null"))  # stamps the commits
        write_table(rows, "v9", Path(sys.argv[2]))
    else:
        write_candidates(rows, Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/v9work/cand.jsonl"))
