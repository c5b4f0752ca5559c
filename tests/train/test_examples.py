from safemix.data import Instruction
from safemix.formats import ALPACA_NO_INPUT, ALPACA_WITH_INPUT, get_format
from safemix.train import IGNORE, encode_all, encode_example

REC = Instruction("Name a colour.", "", "Blue.", "t", "t:0")


def test_exact_label_positions(smollm):
    _, tok = smollm
    fmt = get_format("alpaca")
    ex = encode_example(REC, fmt, tok, cutoff_len=256)
    prompt_ids = tok(ALPACA_NO_INPUT.format(instruction="Name a colour."), add_special_tokens=True)["input_ids"]
    answer_ids = tok("Blue.", add_special_tokens=False)["input_ids"]
    assert ex.input_ids == prompt_ids + answer_ids + [tok.eos_token_id]
    assert ex.labels == [IGNORE] * len(prompt_ids) + answer_ids + [tok.eos_token_id]
    # the first labelled position is exactly where the response starts
    assert ex.labels.index(answer_ids[0]) == len(prompt_ids)


def test_train_on_inputs_and_no_eos(smollm):
    _, tok = smollm
    fmt = get_format("alpaca")
    ex = encode_example(REC, fmt, tok, 256, train_on_inputs=True, add_eos=False)
    assert ex.labels == ex.input_ids and ex.input_ids[-1] != tok.eos_token_id


def test_input_template_and_truncation(smollm):
    _, tok = smollm
    fmt = get_format("alpaca")
    rec = Instruction("Summarise.", "A long text. " * 50, "Short.", "t", "t:1")
    assert fmt.render(rec.instruction, rec.input) == ALPACA_WITH_INPUT.format(instruction="Summarise.", input=rec.input)
    assert encode_example(rec, fmt, tok, cutoff_len=32) is None  # prompt fills the cutoff: nothing to learn
    kept, dropped = encode_all([REC, rec], fmt, tok, cutoff_len=48)
    assert len(kept) == 1 and dropped == 1 and len(kept[0]) <= 48


def test_chat_format_uses_model_template(smollm):
    _, tok = smollm
    fmt = get_format("chat", tok)
    text = fmt.render("Hi there", "", tok)
    assert text.startswith("<|im_start|>system") and text.endswith("<|im_start|>assistant\n")
    assert fmt.describe()["name"] == "chat" and fmt.describe() != get_format("alpaca").describe()
