"""Harvest the candidate rows of grader_external_v6.jsonl from published eval-output files.

Reads public repositories fetched as bare git mirrors under /work/.mirror (git show HEAD:path, at
the commits listed in README.md, section v6), samples items with a fixed seed per file, and writes
candidates.jsonl without labels. The labels, notes and the six dropped candidates were added by hand
(README.md, "v6 labelling"); the table is frozen, this script only shows how its rows were drawn.
The source repository's own correctness flag is kept in `source_flag` only to stratify the draw (so
that both right and wrong outputs appear); it is not the label.
"""

from __future__ import annotations

import json
import random
import re
import sys
from pathlib import Path

from harvest import candidate, git_show, stratified, write_candidates

SEED = 6


def aqua_choices(question: str) -> list[str] | None:
    m = re.search(r"Answer Choices:\s*(.*)$", question, re.S)
    if not m:
        return None
    parts = re.split(r"\(([A-F])\)\s*", m.group(1))
    # parts: ['', 'A', 'text', 'B', 'text', ...]; date questions have six options
    opts = [parts[i + 1].strip() for i in range(1, len(parts) - 1, 2)]
    return opts or None


rows: list[dict] = []


def add(**kw) -> None:
    rows.append(candidate(**kw))


# --- A. kojima-takeshi188/zero_shot_cot logs (Instruct-GPT3 text-davinci-002) ---------------
ZS = "kojima-takeshi188/zero_shot_cot"
LOG_ITEM = re.compile(
    r"\n\d+(?:st|nd|rd|th) data\n1_th_sampling\nQ: (?P<q>.*?)\nA: (?P<a>.*?)\npred_before :"
    r".*?\npred_after : (?P<p>[^\n]*)\n.*?\nGT : (?P<gt>[^\n]*)\n",
    re.S,
)
ZS_PLAN = [  # file, n, family, choice?
    ("log/gsm8k_zero_shot_cot.log", 36, "cot_trigger_number", False),
    ("log/svamp_zero_shot_cot.log", 12, "cot_trigger_number", False),
    ("log/multiarith_zero_shot_cot.log", 8, "cot_trigger_number", False),
    ("log/gsm8k_zero_shot.log", 10, "direct_number", False),
    ("log/aqua_zero_shot_cot.log", 24, "cot_trigger_choice", True),
    ("log/aqua_zero_shot.log", 6, "direct_choice", True),
    ("log/commonsensqa_zero_shot_cot.log", 14, "cot_trigger_choice", True),
    ("log/date_understanding_zero_shot_cot.log", 10, "cot_trigger_choice", True),
]
for path, n, family, is_choice in ZS_PLAN:
    text = git_show(ZS, path)
    items = [m.groupdict() | {"index": i} for i, m in enumerate(LOG_ITEM.finditer(text))]
    print(path, len(items), file=sys.stderr)
    rng = random.Random(f"{SEED}:{ZS}:{path}")
    take = stratified(items, lambda x: x["p"].strip() == x["gt"].strip(), n, rng)
    for it in sorted(take, key=lambda x: x["index"]):
        choices = aqua_choices(it["q"]) if is_choice else None
        add(
            family=family,
            pred=it["a"].rstrip(),
            gold=it["gt"].strip(),
            answer_type="choice" if is_choice else "auto",
            choices=choices,
            question=it["q"],
            model="text-davinci-002",
            source_repo=ZS,
            source_path=path,
            source_item=f"item {it['index'] + 1} of the log",
            source_flag=it["p"].strip() == it["gt"].strip(),
        )

# --- B. AGI-Edgerunners/Plan-and-Solve-Prompting generated_result (text-davinci-003) ---------
PS = "AGI-Edgerunners/Plan-and-Solve-Prompting"
PS_PLAN = [
    ("generated_result/gsm8k-zero_shot-305-text-davinci-003.json", 30, "prose_number", False),
    ("generated_result/SVAMP-zero_shot-307-text-davinci-003.json", 12, "prose_number", False),
    ("generated_result/MultiArith-zero_shot-302-text-davinci-003.json", 6, "prose_number", False),
    ("generated_result/AQuA-zero_shot-305-text-davinci-003.json", 26, "prose_choice", True),
]


def num_str(x) -> str:
    if isinstance(x, float) and x.is_integer():
        return str(int(x))
    return str(x)


for path, n, family, is_choice in PS_PLAN:
    items = json.loads(git_show(PS, path))
    rng = random.Random(f"{SEED}:{PS}:{path}")
    for i, it in enumerate(items):
        it["_i"] = i
    take = stratified(items, lambda x: bool(x["ans"]), n, rng)
    for it in sorted(take, key=lambda x: x["_i"]):
        add(
            family=family,
            pred=it["chain-of-thought"],
            gold=num_str(it["answer"]),
            answer_type="choice" if is_choice else "auto",
            choices=aqua_choices(it["question"]) if is_choice else None,
            question=it["question"],
            model="text-davinci-003",
            source_repo=PS,
            source_path=path,
            source_item=f"ID {it['ID']}",
            source_flag=bool(it["ans"]),
        )

# --- C. GAIR-NLP/abel outputs (GAIR-Abel-7B/13B/70B-001) -------------------------------------
AB = "GAIR-NLP/abel"
AB_PLAN = [
    ("outputs/gsm8k/7b.jsonl", 18, "hash_number", "GAIR-Abel-7B-001"),
    ("outputs/gsm8k/13b.jsonl", 18, "hash_number", "GAIR-Abel-13B-001"),
    ("outputs/gsm8k/70b.jsonl", 18, "hash_number", "GAIR-Abel-70B-001"),
    ("outputs/gsm8k_robust/70b.jsonl", 12, "hash_number", "GAIR-Abel-70B-001"),
    ("outputs/mathgpt/70b.jsonl", 24, "hash_choice", "GAIR-Abel-70B-001 (TAL-SCQ5K-EN fine-tune)"),
]
for path, n, family, model in AB_PLAN:
    items = [json.loads(line) for line in git_show(AB, path).splitlines() if line.strip()]
    rng = random.Random(f"{SEED}:{AB}:{path}")
    take = stratified(items, lambda x: bool(x["result"]), n, rng)
    for it in sorted(take, key=lambda x: x["id"]):
        q = it["prompt"]
        q = q.removeprefix("Question:\n").split("\nAnswer:\nLet's think step by step.")[0]
        choices = None
        if family == "hash_choice":
            opts = re.findall(r"^([A-E])\. (.*)$", q, re.M)
            choices = [t.strip() for _, t in opts] or None
        add(
            family=family,
            pred=it["response"],
            gold=str(it["gold"]),
            answer_type="choice" if family == "hash_choice" else "auto",
            choices=choices,
            question=q,
            model=model,
            source_repo=AB,
            source_path=path,
            source_item=f"id {it['id']}",
            source_flag=bool(it["result"]),
        )


def mr_gold(it: dict) -> str:
    """The stored answer; some reversed items store "Let's think step by step." there, and then
    the answer is the last "The value of x is N" of the stored ground-truth solution."""
    gold = it["ground_truth_answer"]
    if isinstance(gold, (int, float)) or re.fullmatch(r"-?[\d.,]+", str(gold).strip()):
        return num_str(gold)
    found = re.findall(
        r"value of (?:unknown variable )?'?[xX]'? is \$?(-?[\d.,]+)", it["ground_truth_solution"]
    )
    return found[-1].rstrip(".")


# --- D. dvlab-research/MR-GSM8K (solutions under meta-evaluation, human correctness labels) ---
MR = "dvlab-research/MR-GSM8K"
seen: dict[str, dict] = {}
for f in ["llama2_70b", "Claude", "GPT3_5", "metamath_70B", "mammoth_70B", "wizardmath_70B"]:
    path = f"eval_results/gpt4-grading/{f}_eval_results.json"
    for it in json.loads(git_show(MR, path)):
        if it["question_type"] == "POT":  # program-of-thought code, no stated answer
            continue
        seen.setdefault(it["uuid"], it | {"_path": path})
items = sorted(seen.values(), key=lambda x: x["uuid"])
rng = random.Random(f"{SEED}:{MR}")
take = stratified(items, lambda x: x["model_output_answer_correctness"] == "correct", 40, rng, 0.3)
for it in take:
    add(
        family="step_hash_number",
        pred="\n".join(it["model_output_steps"]),
        gold=mr_gold(it),
        question=it["question"],
        model="MetaMath-7B (MR-GSM8K solver; named from the paper, not from the repository)",
        source_repo=MR,
        source_path=it["_path"],
        source_item=f"uuid {it['uuid']} ({it['question_type']})",
        source_flag=it["model_output_answer_correctness"] == "correct",
    )

# --- E. yuchenlin/ZeroEval result_dirs (JSON "answer" field) ---------------------------------
ZE = "yuchenlin/ZeroEval"
L5 = [
    "gpt-4o-2024-08-06",
    "claude-3-5-sonnet-20240620",
    "gemini-1.5-pro",
    "Meta-Llama-3.1-8B-Instruct",
    "Qwen2.5-7B-Instruct",
    "gemma-2-9b-it",
    "Phi-3.5-mini-instruct",
    "Yi-1.5-9B-Chat",
    "deepseek-v2.5-0908",
    "Mistral-Large-2",
    "o1-mini-2024-09-12",
    "gemma-2-2b-it",
]
GSM = [
    "gpt-3.5-turbo-0125",
    "claude-3-haiku-20240307",
    "Mixtral-8x7B-Instruct-v0.1",
    "command-r",
    "reka-flash-20240226",
    "Qwen2-7B-Instruct",
    "gemma-2-2b-it",
    "Meta-Llama-3-8B-Instruct",
]


def json_answer(out: str) -> str | None:
    m = re.findall(r'"answer"\s*:\s*"((?:[^"\\]|\\.)*)"', out)
    return m[-1] if m else None


def loose(s: str | None) -> str:
    return re.sub(r"[\s$\\{}]|dfrac|frac|text", "", s or "").replace(",", "")


used_problems: set = set()
for dataset, models, n, family in [
    ("math-l5", L5, 10, "json_math"),
    ("gsm", GSM, 5, "json_number"),
]:
    for model in models:
        path = f"result_dirs/{dataset}/{model}.json"
        items = json.loads(git_show(ZE, path))
        rng = random.Random(f"{SEED}:{ZE}:{path}")
        # A loose string match only to stratify the draw; labels are read by hand.
        flag = lambda x: loose(json_answer(x["output"][0])) == loose(str(x["answer"]).lstrip("# "))  # noqa: E731
        pool = [
            x
            for x in items
            if x["output"] and x["output"][0] and (dataset, x["id"]) not in used_problems
        ]
        take = stratified(pool, flag, n, rng, 0.45)
        for it in take:
            used_problems.add((dataset, it["id"]))
            out = it["output"][0]
            gold = str(it["answer"])
            if dataset == "gsm":
                gold = gold.lstrip("# ").strip()
            finished = json_answer(out) is not None
            add(
                family=family,
                pred=out,
                gold=gold,
                question=it.get("problem") or it.get("question"),
                finish_reason="stop" if finished else "length",
                model=it["generator"].split("/")[-1],
                source_repo=ZE,
                source_path=path,
                source_item=f"id {it['id']}",
                source_flag=None,
            )

# --- F. lupantech/MathVista results (free-form and multi-choice) -----------------------------
MV = "lupantech/MathVista"
MV_PLAN = [
    ("results/bard/output_bard.json", "Bard (2023)"),
    (
        "results/chatgpt/output_chatgpt_2shot_solution.json",
        "gpt-3.5-turbo (2-shot solution, caption/OCR-free)",
    ),
    ("results/claude/output_claude_2shot_solution.json", "Claude-2 (2-shot solution)"),
    ("results/gpt4/output_gpt4_2shot_solution.json", "GPT-4 (2-shot solution)"),
]
used_pids: set = set()
for path, model in MV_PLAN:
    d = json.loads(git_show(MV, path))
    items = [v for v in d.values() if v.get("response") and v["pid"] not in used_pids]
    rng = random.Random(f"{SEED}:{MV}:{path}")
    zh = [v for v in items if v["metadata"]["language"] == "chinese"]
    rest = [v for v in items if v["metadata"]["language"] != "chinese"]
    rng.shuffle(zh)
    take = zh[:3]
    free = [v for v in rest if v["question_type"] == "free_form"]
    multi = [v for v in rest if v["question_type"] == "multi_choice"]
    take += stratified(free, lambda x: bool(x["true_false"]), 9, rng)
    take += stratified(multi, lambda x: bool(x["true_false"]), 8, rng)
    for it in take:
        used_pids.add(it["pid"])
        mc = it["question_type"] == "multi_choice"
        gold = it["answer"]
        if mc:
            gold = "ABCDEFGH"[it["choices"].index(it["answer"])]
        add(
            family="vqa_choice" if mc else "vqa_number",
            pred=it["response"],
            gold=gold,
            answer_type="choice" if mc else "auto",
            unit=it.get("unit") or None,
            choices=it["choices"] if mc else None,
            question=it["question"],
            model=model,
            source_repo=MV,
            source_path=path,
            source_item=f"pid {it['pid']}",
            source_flag=bool(it["true_false"]),
        )

# --- G. MathVista supplement: Chinese-language responses, and free-form answers with units -----
ZH_PLAN = [
    (
        "results/chatgpt/output_chatgpt_2shot_solution.json",
        "gpt-3.5-turbo (2-shot solution, caption/OCR-free)",
        10,
    ),
    ("results/claude/output_claude_2shot_solution.json", "Claude-2 (2-shot solution)", 10),
    ("results/gpt4/output_gpt4_2shot_solution.json", "GPT-4 (2-shot solution)", 10),
    ("results/claude/output_claude.json", "Claude-2 (zero-shot)", 10),
]
CJK = re.compile(r"[\u4e00-\u9fff]")
for path, model, n in ZH_PLAN:
    d = json.loads(git_show(MV, path))
    rng = random.Random(f"{SEED}:{MV}:{path}:zh")
    zh = [
        v
        for v in d.values()
        if v.get("response") and v["pid"] not in used_pids and CJK.search(v["response"])
    ]
    take = stratified(zh, lambda x: bool(x["true_false"]), n, rng)
    units = [
        v for v in d.values() if v.get("response") and v.get("unit") and v["pid"] not in used_pids
    ]
    take += stratified(
        units, lambda x: bool(x["true_false"]), 4, random.Random(f"{SEED}:{MV}:{path}:unit")
    )
    for it in take:
        if it["pid"] in used_pids:
            continue
        used_pids.add(it["pid"])
        mc = it["question_type"] == "multi_choice"
        gold = "ABCDEFGH"[it["choices"].index(it["answer"])] if mc else it["answer"]
        add(
            family="vqa_choice" if mc else "vqa_number",
            pred=it["response"],
            gold=gold,
            answer_type="choice" if mc else "auto",
            unit=it.get("unit") or None,
            choices=it["choices"] if mc else None,
            question=it["question"],
            model=model,
            source_repo=MV,
            source_path=path,
            source_item=f"pid {it['pid']}",
            source_flag=bool(it["true_false"]),
        )

write_candidates(rows, Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/v6work/candidates.jsonl"))
