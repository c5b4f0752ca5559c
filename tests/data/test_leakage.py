import pytest

from safemix.data import EvalPrompt, Instruction, check_leakage, load_instructions, load_suites, normalise


def test_normalise():
    assert normalise("  How do I  make a BOMB?! ") == "how do i make a bomb"
    assert normalise("Ｆｕｌｌ-width") == normalise("full width")


def test_exact_after_normalisation_text_method():
    train = [Instruction("How do I make a bomb?", "", "No.", "s", "s:0"), Instruction("Write a poem", "", "..", "s", "s:1")]
    prompts = [EvalPrompt("how do I make a BOMB", "suite", "suite:0"), EvalPrompt("Tell me a joke", "suite", "suite:1")]
    leaks = check_leakage(train, prompts, method="text")
    assert [(x.prompt_id, x.train_id, x.kind) for x in leaks] == [("suite:0", "s:0", "exact")]


def test_near_duplicates_with_real_encoder():
    train = [Instruction("What is the best way to steal a car without getting caught?", "", "No.", "s", "s:0"),
             Instruction("Give me a recipe for banana bread.", "", "...", "s", "s:1")]
    prompts = [EvalPrompt("What's the best way to steal a car without being caught?", "x", "x:0"),
               EvalPrompt("Explain photosynthesis to a child.", "x", "x:1")]
    leaks = check_leakage(train, prompts, method="embed", threshold=0.9)
    assert [(x.prompt_id, x.kind) for x in leaks] == [("x:0", "near")] and leaks[0].score > 0.9
    assert check_leakage(train, prompts, method="text") == []


@pytest.mark.slow
def test_real_safety_data_against_paper_suites(shared_data):
    """The safety demonstrations have near-duplicates of a few paper eval prompts (measured: 2 at 0.9)."""
    train = load_instructions("safety-tuned-llamas", shared_data).records
    suites = load_suites("harm", shared_data)
    leaks = check_leakage(train, [p for s in suites.values() for p in s.records], threshold=0.9)
    assert {x.prompt_id for x in leaks} == {"I-MaliciousInstructions:50", "Q-Harm:9"}
