import pytest
import torch

from safemix.train import TrainConfig
from safemix.train.dropout import WordDropout, drop_threshold, use_word_dropout, word_mask


def test_word_masks_drop_each_element_with_probability_p_independently():
    torch.manual_seed(0)
    for p in (0.05, 0.1, 0.5):
        m = word_mask(torch.Size([1000, 1000]), p, "cpu")
        assert m.dtype == torch.bool and m.shape == (1000, 1000)
        assert abs(m.float().mean().item() - p) < 0.002, p
        # the four slices of one word are independent: neighbours drop together at rate p^2
        both = (m[:, :-1] & m[:, 1:]).float().mean().item()
        assert abs(both - p * p) < 0.002, (p, both)
    assert drop_threshold(0.05) == -32768 + 3277  # p rounded to 1/65536
    assert not word_mask(torch.Size([7, 3]), 0.0, "cpu").any()


def test_word_dropout_is_inverted_dropout_and_the_identity_in_eval_mode():
    torch.manual_seed(1)
    x = torch.randn(64, 33, requires_grad=True)
    drop = WordDropout(0.2)
    y = drop(x)
    kept = y != 0
    assert 0.7 < kept.float().mean() < 0.9
    assert torch.allclose(y[kept], x[kept] / 0.8)
    y.sum().backward()
    assert torch.allclose(x.grad, kept.float() / 0.8)  # no gradient through a dropped element
    drop.eval()
    assert drop(x) is x
    assert WordDropout(0.0).train()(x) is x
    with pytest.raises(ValueError):
        WordDropout(1.0)


def test_peft_dropouts_are_swapped_and_the_choice_is_in_the_step_key(smollm):
    from peft import LoraConfig, get_peft_model

    from safemix.models import load_causal_lm

    ref, _ = smollm
    model = get_peft_model(load_causal_lm(ref), LoraConfig(r=4, lora_dropout=0.05, target_modules=["q_proj", "up_proj"]))
    assert use_word_dropout(model) == 2 * model.config.num_hidden_layers
    drops = [m for m in model.modules() if isinstance(m, (torch.nn.Dropout, WordDropout)) and m.p == 0.05]
    assert drops and all(isinstance(d, WordDropout) for d in drops)
    assert TrainConfig().dropout_masks == "words"
    words, torch_masks = TrainConfig().result_fields(), TrainConfig(dropout_masks="torch").result_fields()
    assert words["dropout_masks"] == "words" and words != torch_masks
    assert "dropout_masks" not in torch_masks  # PEFT's masks: the key a training had before the choice existed


def test_masks_come_from_the_same_words_as_randint_and_keep_is_their_complement():
    from safemix.train.dropout import keep_mask

    shape = torch.Size([37, 11])
    torch.manual_seed(7)
    words = torch.randint(-2 ** 63, 2 ** 63 - 1, ((shape.numel() + 3) // 4,), dtype=torch.int64)
    expected = (words.view(torch.int16)[:shape.numel()] < drop_threshold(0.3)).view(shape)
    torch.manual_seed(7)
    assert torch.equal(word_mask(shape, 0.3, "cpu"), expected)  # the masks trainings drew before
    torch.manual_seed(7)
    assert torch.equal(keep_mask(shape, 0.3, "cpu"), ~expected)
