import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator")

PROBE = textwrap.dedent("""
    import resource, sys, torch
    from safemix.models.cpu_memory import keep_freed_memory
    if sys.argv[1] == "cli":
        import safemix.cli
        safemix.cli.main(["--help"])
    faults = []
    for _ in range(4):  # a 64 MB tensor made, filled and freed, as logits are at each decoding step
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        torch.empty(16 * 2 ** 20).fill_(1.0)
        faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
    print(keep_freed_memory.cache_info().currsize, keep_freed_memory(), min(faults[1:]))
""")


def probe(how: str, env_off: bool = False) -> tuple[str, str, int]:
    import os

    env = dict(os.environ, SAFEMIX_KEEP_FREED_MEMORY="0" if env_off else "1")
    out = subprocess.run([sys.executable, "-c", PROBE, how], capture_output=True, text=True, env=env, check=True)
    called, kept, faults = out.stdout.split()[-3:]
    return called, kept, int(faults)


def test_the_command_line_keeps_freed_memory_so_a_large_tensor_faults_no_pages_again():
    called, kept, faults = probe("cli")
    assert (called, kept) == ("1", "True")  # the CLI had called it
    # 64 MB is 16,384 pages of 4 KiB: a tensor made again reuses them (not every time: a small allocation can
    # take the start of the freed block, and the next 64 MB go above it)
    assert faults < 1000


def test_without_it_each_large_tensor_faults_its_pages_in_again():
    called, kept, faults = probe("plain", env_off=True)
    assert (called, kept) == ("0", "False")
    assert faults > 8000  # every time
