"""The data registry: every public data set safemix knows, pinned by source, revision and sha256.

safemix never ships these files. It reads a local copy from a data folder laid out like the
``local`` paths below, then the user cache, then downloads from ``url`` (checking sha256).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import SafemixError

STL = ("vinid/safety-tuned-llamas", "36a4b8d5c2177ed165bf61f59b590161394f7f12")
XST = ("paul-rottger/exaggerated-safety", "d7bb5bd738c1fcbc36edd83d5e7d1b71a3e2d84d")
HH = ("anthropics/hh-rlhf", "354e5c3cb8960630860dd5774a6ac2a58313bf4d")
GPT = ("teknium1/GPTeacher", "481075123c29854bddb82655badeef6a438f2436")


@dataclass(frozen=True)
class DatasetSpec:
    name: str  # registry id, lower case
    kind: str  # instructions | eval | xstest | xstest-completions | preferences
    local: str  # path inside a data folder
    source: str  # human-readable public source
    url: str  # download address (pinned revision where one exists)
    revision: str | None
    sha256: str | None  # None: not pinned (download needs allow_unpinned)
    licence: str
    description: str
    suite: str | None = None  # eval suite name, for kind == eval/xstest
    count: int | None = None  # expected number of records
    repeated_prompts: int = 0  # records that ask an earlier record's (prompt, input) again


def _gh(repo_rev: tuple[str, str], path: str) -> tuple[str, str, str]:
    repo, rev = repo_rev
    return f"github {repo}:{path}", f"https://raw.githubusercontent.com/{repo}/{rev}/{path}", rev


def _spec(name, kind, local, gh, path, sha, licence, description, suite=None, count=None, repeated_prompts=0):
    source, url, rev = _gh(gh, path)
    return DatasetSpec(name, kind, local, source, url, rev, sha, licence, description, suite, count, repeated_prompts)


_STL_EVAL = {
    "I-MaliciousInstructions": ("7a2bc751d49983800848050282aa2a84b3faa7044c3178228c49dd68df7d679f", 100),
    "I-CoNa": ("e07d92e376198e60ac1004902dc3fec46513ac70b08d855b4101288b8270d62a", 178),
    "I-Controversial": ("0590fc6ee97a39c6a43adc21fe5a4ccbf546ea52e89a32757db6ea3d46ce65c4", 40),
    "I-PhysicalSafetySafe": ("34c874532623e405fb574f0fa8d6b86cbecce0e3340f67b146a6a6bc2453bed6", 100),
    "I-PhysicalSafetyUnsafe": ("16324a2f1ded933e8c7a9f6c7d3924130f76260d03f9df2205e0a25c02de8aae", 100),
    "Q-Harm": ("ecc1d19030d41ad550a1e69996dc424074e3e45fb2fa5e8e44b46f294aea295a", 100),
    "I-Alpaca": ("30db84ee303df15b653566437ccf1a2fc837caac99a570915d720f65f041fe6d", 50),
}
_STL_REPEATS = {"I-MaliciousInstructions": 2}  # two of its 100 instructions repeat earlier ones word for word
_XST_COMPLETIONS = {
    "gpt4": "71af323af8ecdec0efae23992317721441d2cfedddedeef3248f842f4e15c9ca",
    "llama2orig": "cbc52550e8ba8197a3e3d97a5af078d27bae4766737cd62df80270126a87ffc6",
    "mistralinstruct": "6a146b65a5b96ec8249729bc2db459697175125998d7cbbcc88f7688ecf31dad",
}
_XST_STREVAL = {
    "gpt4": "5cc07ac42f62009d4ff33d9b5dc96c329d43ae8076db89712f7b56637368c5f7",
    "llama2orig": "538f284005f829af76fd48cbe82334ab1c593b8193b62421866cc56929cc9881",
    "mistralinstruct": "a1ad24b837a13380a88f9748b39663add74cd992d5841db782271490dcbb41d3",
}
_XST_GPTEVAL = {
    "gpt4": "ba3b1e79ace763998ecdb48bbec70e3a4d763d8402cbb740f58ed6d275fc324a",
    "llama2orig": "a918c4d0c7355da5c80ce73dd7bc79b20422148b265851afe1e53c08e472ce48",
    "mistralinstruct": "68adba2f51206f6ef30d3f5d755ef5e3f550b738b6f269220fca4067eb513794",
}

_SPECS: list[DatasetSpec] = [
    _spec("safety-tuned-llamas", "instructions",
          "safety-tuned-llamas/training/safety_only_data_Instructions.json",
          STL, "data/training/safety_only_data_Instructions.json",
          "7dde08acf87f10cf74fd1b76f56538eae8e413ae8e6b09e3f7bcd97769058dbe", "CC BY-NC 4.0",
          "the paper's safety demonstrations (harmful instruction + safe answer)", count=2483),
    *[
        _spec(suite.lower(), "eval", f"safety-tuned-llamas/evaluation/{suite}.json", STL,
              f"data/evaluation/{suite}.json", sha, "CC BY-NC 4.0",
              f"the paper's eval set {suite}", suite=suite, count=n, repeated_prompts=_STL_REPEATS.get(suite, 0))
        for suite, (sha, n) in _STL_EVAL.items()
    ],
    _spec("xstest", "xstest", "xstest/xstest_prompts.csv", XST, "xstest_prompts.csv",
          "11783fb294ed017473ee53c207d71f2161c7672c8d0b037501e78387f801cb5a", "CC BY 4.0",
          "XSTest v2: 250 safe prompts that look unsafe + 200 unsafe contrast prompts",
          suite="xstest", count=450),
    *[
        _spec(f"xstest-completions-{m}", "xstest-completions",
              f"xstest/completions/xstest_v2_completions_{m}.csv", XST,
              f"model_completions/xstest_v2_completions_{m}.csv", sha, "the models' own terms",
              f"XSTest answers of {m} with human labels (final_label)", count=450)
        for m, sha in _XST_COMPLETIONS.items()
    ],
    *[
        _spec(f"xstest-streval-{m}", "xstest-completions",
              f"xstest/labels/xstest_v2_completions_{m}_streval.csv", XST,
              f"evaluation/automated_evaluation_labels/xstest_v2_completions_{m}_streval.csv", sha,
              "the models' own terms", f"XSTest's published string-match labels for {m}", count=450)
        for m, sha in _XST_STREVAL.items()
    ],
    *[
        _spec(f"xstest-gpteval-{m}", "xstest-completions",
              f"xstest/labels/xstest_v2_completions_{m}_gpteval.csv", XST,
              f"evaluation/automated_evaluation_labels/xstest_v2_completions_{m}_gpteval.csv", sha,
              "the models' own terms", f"XSTest's published GPT-4-judge labels (gpt4_label) for {m}", count=450)
        for m, sha in _XST_GPTEVAL.items()
    ],
    _spec("hh-harmless", "preferences", "hh-rlhf/harmless-base-test.jsonl.gz", HH,
          "harmless-base/test.jsonl.gz",
          "ebfaaed21162a4de120ae85366075b34425e2a6303fac59b99555002f7016f03", "MIT",
          "Anthropic HH harmlessness preference pairs (test split)", count=2312),
    _spec("gpteacher-roleplay", "instructions",
          "gpteacher/roleplay-simple-deduped-roleplay-instruct.json", GPT,
          "Roleplay/roleplay-simple-deduped-roleplay-instruct.json",
          "b5d57a0d92162fd0b78988fe352e8512b435363919caf63efc3759d5a1555023", "MIT",
          "GPTeacher roleplay instructions (an offline stand-in for Alpaca)", count=1923),
    _spec("gpteacher-codegen", "instructions", "gpteacher/codegen-instruct.json", GPT,
          "Codegen/codegen-instruct.json",
          "8b0be81f22b86bccab30f573351b62efb3391da229d2ee817a65ce0abb08b29d", "MIT",
          "GPTeacher code instructions", count=4535),
    DatasetSpec(
        "alpaca-cleaned", "instructions", "alpaca-cleaned/alpaca_data_cleaned.json",
        "Hub yahma/alpaca-cleaned (github gururise/AlpacaDataCleaned)",
        "https://huggingface.co/datasets/yahma/alpaca-cleaned/resolve/main/alpaca_data_cleaned.json",
        None, None, "CC BY 4.0",
        "Alpaca-cleaned, the paper's general data (not pinned: no copy was available to hash)",
    ),
]

REGISTRY: dict[str, DatasetSpec] = {s.name: s for s in _SPECS}
PAPER_SUITES: tuple[str, ...] = tuple(_STL_EVAL)
SUITE_GROUPS: dict[str, tuple[str, ...]] = {
    "paper": PAPER_SUITES,
    "harm": tuple(s for s in PAPER_SUITES if s not in ("I-Alpaca", "I-PhysicalSafetySafe")),
    "xstest": ("xstest",),
    "all": PAPER_SUITES + ("xstest",),
}
# report groups whose prompts are harmful (XSTest splits into xstest-safe / xstest-unsafe): the
# suites where complying is the harm (harmful compliance) and harm judges' rates are read
HARMFUL_SUITES: tuple[str, ...] = SUITE_GROUPS["harm"] + ("xstest-unsafe",)
ALL_HARMFUL = "all-harmful"  # the report group of every answer to a harmful suite
SPLIT_SUITES = ("xstest",)  # suites whose prompts the report reads in halves by label (safe / unsafe)


def report_group(suite: str, label: str | None) -> str:
    """The group a prompt is read in: XSTest splits into xstest-safe / xstest-unsafe."""
    return f"{suite}-{label}" if suite in SPLIT_SUITES and label in ("safe", "unsafe") else suite


def get_spec(name: str) -> DatasetSpec:
    spec = REGISTRY.get(name.lower())
    if spec is None:
        known = ", ".join(sorted(REGISTRY))
        raise SafemixError(f"unknown data set '{name}' (known: {known}; or give a file path)")
    return spec


def expand_suites(names: str | list[str]) -> list[str]:
    """Turn 'paper,xstest' into suite registry names, in order, without repeats."""
    items = names.split(",") if isinstance(names, str) else list(names)
    out: list[str] = []
    for item in (i.strip() for i in items):
        if not item:
            continue
        group = next((g for k, g in SUITE_GROUPS.items() if k == item.lower()), None)
        for s in group or (item,):
            if s not in out:
                out.append(s)
    return out
