"""DPO (objective: dpo): TRL's loss on a fixed batch, training that prefers the chosen answers, resuming
after kill -9 to the same adapter, a DPO adapter stacked on its SFT reference, and bad pair files."""

import json

import pytest
import torch
from safetensors.torch import load_file

from safemix.data.records import PreferencePair
from safemix.train import TrainConfig, train

DPO = dict(objective="dpo", batch_size=4, micro_batch_size=2, cutoff_len=96, learning_rate=2e-3, progress=False,
           save_every=1, lora_dropout=0.0)
REFUSAL = "I'm sorry, but I can't help with that. It could hurt people."


@pytest.fixture(scope="module")
def pairs_file(tmp_path_factory, shared_data):
    """Safety preference pairs built from real data: a harmful instruction, its safety demonstration
    (chosen) and a fixed compliant-sounding answer (rejected)."""
    from safemix.data import load_instructions

    safety = load_instructions("safety-tuned-llamas", shared_data).records[:12]
    rows = [{"prompt": r.instruction, "input": r.input, "chosen": r.output,
             "rejected": "Sure, here is exactly how to do that, step by step."} for r in safety]
    path = tmp_path_factory.mktemp("pairs") / "pairs.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.mark.slow
def test_the_loss_is_trl_dpo_loss_on_a_fixed_batch(smollm, tmp_path):
    from datasets import Dataset
    from peft import LoraConfig
    from trl import DPOConfig, DPOTrainer

    from safemix.formats import get_format
    from safemix.models import load_causal_lm
    from safemix.train.batches import collate
    from safemix.train.dpo import dpo_loss, encode_pair, sequence_logps

    ref, tok = smollm
    fmt = get_format("alpaca", tok)
    pairs = [PreferencePair("How do I pick a lock?", REFUSAL, "Sure: insert a tension wrench and rake the pins.", "a"),
             PreferencePair("Name a fruit.", "An apple.", "No.", "b"),
             PreferencePair("Summarise this.", "Cats sleep a lot.", "I refuse.", "c", input="Cats sleep most of the day.")]
    lora = LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM")
    data = Dataset.from_list([{"prompt": fmt.render(p.instruction, p.input, tok), "chosen": p.chosen,
                               "rejected": p.rejected} for p in pairs])
    trainer = DPOTrainer(model=load_causal_lm(ref), args=DPOConfig(output_dir=str(tmp_path / "trl"), beta=0.3,
                                                                   report_to=[], use_cpu=True, max_length=None),
                         train_dataset=data, processing_class=tok, peft_config=lora)
    model = trainer.model  # a new adapter: TRL's reference is the model with it switched off, as safemix's
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():  # move the policy away from the reference so the loss is not log 2
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.copy_(torch.randn(p.shape, generator=g) * 0.1)
    model.eval()
    ex = [encode_pair(p, fmt, tok, 128) for p in pairs]
    batch = collate([e.chosen for e in ex] + [e.rejected for e in ex], tok.pad_token_id)
    with torch.no_grad():
        theirs = trainer._compute_loss(model, {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"],
                                               "completion_mask": (batch["labels"] != -100).long()}, False)
        for labels_only in (True, False):
            policy = sequence_logps(model, batch, labels_only)
            with model.disable_adapter():
                reference = sequence_logps(model, batch, labels_only)
            ours = dpo_loss(policy, reference, 0.3).mean()
            assert abs(ours.item() - theirs.item()) < 1e-5, (labels_only, ours.item(), theirs.item())
    assert abs(theirs.item() - 0.6931) > 0.01  # the policy differs from the reference


@pytest.mark.slow
def test_dpo_prefers_the_chosen_answers_and_resumes_after_kill(smollm, pairs_file, tmp_path, train_killed):
    from safemix.train.dpo import DPORecipe

    cfg = TrainConfig(max_steps=4, **DPO)
    straight = train(cfg, pairs_file, tmp_path / "straight")
    manifest = json.loads((straight / "manifest.json").read_text())
    assert manifest["objective"] == "dpo" and manifest["reference"] is None and manifest["steps"] == 4
    losses = [json.loads(x)["loss"] for x in (straight / "train_log.jsonl").read_text().splitlines()]
    assert abs(losses[0] - 0.6931) < 0.01 and losses[-1] < losses[0] - 0.1, losses  # starts at log 2, learns

    out = tmp_path / "killed"
    config = tmp_path / "dropout.yaml"
    config.write_text("lora_dropout: 0.0\n")
    train_killed(["--objective", "dpo", "--data", pairs_file, "--max-steps", "4", "--batch-size", "4",
                  "--micro-batch-size", "2", "--cutoff-len", "96", "--lr", "2e-3", "--save-every", "1", "--config", config],
                 out, step=2)
    resumed = train(cfg, pairs_file, out, resume=True)
    a, b = (load_file(x / "adapter" / "adapter_model.safetensors") for x in (straight, resumed))
    assert a.keys() == b.keys() and a
    for k in a:
        torch.testing.assert_close(a[k], b[k], atol=1e-5, rtol=1e-4)
    assert [json.loads(x)["step"] for x in (resumed / "train_log.jsonl").read_text().splitlines()] == [1, 2, 3, 4]

    # the trained policy gives the refusals more probability, relative to the reference, than the compliance
    recipe = DPORecipe(cfg.model_copy(update={"max_steps": 1}), pairs_file, tmp_path / "probe")
    recipe.setup()
    from peft import set_peft_model_state_dict

    set_peft_model_state_dict(recipe.model, a)
    recipe.model.eval()
    with torch.no_grad():
        assert recipe.batch_loss(recipe.train_ex[:4]).item() / 4 < 0.6931 - 0.05


@pytest.mark.slow
def test_dpo_from_an_sft_reference_stacks_both_adapters(smollm, mixture_file, pairs_file, tmp_path):
    from safemix.generate import get_decoding, load_backend
    from safemix.models.adapter import adapter_fingerprint

    sft = train(TrainConfig(max_steps=2, batch_size=4, micro_batch_size=2, cutoff_len=96, learning_rate=1e-3,
                            progress=False), mixture_file, tmp_path / "sft")
    dpo = train(TrainConfig(max_steps=2, reference=str(sft), **DPO), pairs_file, tmp_path / "dpo")
    manifest = json.loads((dpo / "manifest.json").read_text())
    assert manifest["reference"]["adapter_fingerprint"] == adapter_fingerprint(sft / "adapter")
    losses = [json.loads(x)["loss"] for x in (dpo / "train_log.jsonl").read_text().splitlines()]
    assert abs(losses[0] - 0.6931) < 0.01  # the policy starts at its reference: the SFT model
    be, info, fmt = load_backend(None, dpo, None, False)
    answer = be.generate([fmt.render("Name a fruit.")], get_decoding("greedy", max_new_tokens=8))[0]
    assert answer.output_tokens > 0
    _, sft_info, _ = load_backend(None, sft, None, False)
    assert info["adapter_fingerprint"] not in (sft_info["adapter_fingerprint"], adapter_fingerprint(dpo / "adapter"))
    # the reference changed after the DPO training: loading the DPO adapter says so
    weights = sft / "adapter" / "adapter_model.safetensors"
    tensors = load_file(weights)
    from safetensors.torch import save_file

    save_file({k: v * 2 for k, v in tensors.items()}, str(weights))
    from safemix.errors import SafemixError

    with pytest.raises(SafemixError, match="changed since a DPO training started from it"):
        load_backend(None, dpo, None, False)


def test_bad_pair_files_and_settings_are_one_line_errors(run_cli, tmp_path, mixture_file):
    cases = {
        "missing.jsonl": ('{"prompt": "p", "chosen": "a"}\n', "missing field 'rejected'"),
        "same.jsonl": ('{"prompt": "p", "chosen": "a", "rejected": "a"}\n', "the same answer"),
        "empty.jsonl": ("", "no records"),
        "broken.jsonl": ('{"prompt": "p", "chosen": \n', "broken.jsonl"),
    }
    for name, (text, message) in cases.items():
        path = tmp_path / name
        path.write_text(text)
        code, out, err = run_cli("train", "--objective", "dpo", "--data", path, "--out", tmp_path / f"o-{name}",
                                 "--max-steps", "1")
        assert code == 2 and message in err and len(err.strip().splitlines()) == 1, (name, err)
        assert not (tmp_path / f"o-{name}").exists() and not (tmp_path / f"o-{name}.partial").exists()
    code, _, err = run_cli("train", "--objective", "dpo", "--method", "full", "--data", tmp_path / "same.jsonl",
                           "--out", tmp_path / "o", "--max-steps", "1")
    assert code == 2 and "method must be lora" in err
    code, _, err = run_cli("train", "--reference", tmp_path, "--data", mixture_file, "--out", tmp_path / "o", "--max-steps", "1")
    assert code == 2 and "set objective: dpo" in err
    good = tmp_path / "good.jsonl"
    good.write_text('{"prompt": "p", "chosen": "a", "rejected": "b"}\n')
    code, _, err = run_cli("train", "--objective", "dpo", "--reference", tmp_path, "--data", good, "--out", tmp_path / "o",
                           "--max-steps", "1")
    assert code == 2 and "not a finished safemix train output" in err and not (tmp_path / "o.partial").exists()
