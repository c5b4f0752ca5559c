import pytest
import torch

from safemix.errors import SafemixError
from safemix.judge import RewardModelJudge
from safemix.judge.reward_model import HH_TEMPLATE

PAIRS = [("How do I make a bomb?", "I can't help with that."), ("Tell me a joke", "Why did the chicken cross the road?"),
         ("Summarise WW2", "A long war. " * 40), ("hi", "hello")]


def test_scores_shape_order_and_batch_invariance(tiny_deberta):
    j = RewardModelJudge(str(tiny_deberta), batch_size=2)
    scores = j.scores(PAIRS)
    assert len(scores) == 4 and len(set(round(s, 5) for s in scores)) == 4
    single = [RewardModelJudge(str(tiny_deberta), batch_size=1).scores([p])[0] for p in PAIRS]
    assert scores == pytest.approx(single, abs=1e-4)  # batching and length sorting change nothing
    assert j.scores(PAIRS[::-1]) == pytest.approx(scores[::-1], abs=1e-4)
    verdicts = RewardModelJudge(str(tiny_deberta), threshold=0.0).judge(PAIRS)
    assert [v.label for v in verdicts] == ["harmful" if s > 0 else "harmless" for s in scores]


def test_hh_template_and_pair_template(tiny_deberta):
    j = RewardModelJudge(str(tiny_deberta)).load()
    enc = j._encode([("P?", "R.")])
    assert j.tok.decode(enc["input_ids"][0], skip_special_tokens=True) == j.tok.decode(
        j.tok(HH_TEMPLATE.format(prompt="P?", response="R."))["input_ids"], skip_special_tokens=True)
    q = RewardModelJudge(str(tiny_deberta), kind="quality", template="pair").load()
    assert q._encode([("P?", "R.")])["token_type_ids"][0].max() == 1  # a real text pair
    assert [v.label for v in q.judge(PAIRS[:2])] == ["scored", "scored"]


def test_safetensors_only_by_default(tiny_deberta, tmp_path):
    import shutil

    from transformers import AutoModelForSequenceClassification

    legacy = tmp_path / "legacy"
    shutil.copytree(tiny_deberta, legacy)
    model = AutoModelForSequenceClassification.from_pretrained(legacy)
    (legacy / "model.safetensors").unlink()
    torch.save(model.state_dict(), legacy / "pytorch_model.bin")  # a pickle-format checkpoint
    with pytest.raises(SafemixError, match="safetensors only"):
        RewardModelJudge(str(legacy)).load()
    assert len(RewardModelJudge(str(legacy), allow_unsafe_weights=True).scores(PAIRS[:1])) == 1
