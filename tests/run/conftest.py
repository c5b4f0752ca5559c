"""A real single-node SLURM cluster for the executor tests: munge, MariaDB + slurmdbd (submitit reads
job states with sacct, which needs accounting), slurmctld and slurmd, every daemon bound to
127.0.0.1 and kept in one temporary folder, each daemon stopped through its pid file there. munged has its own
key, pid and log files there too, but its socket is munge's default one (``/run/munge``, made when missing):
Slurm 22.05's ``sacctmgr`` ignores ``AuthInfo=socket=`` for its connection to slurmdbd. A munged already
answering on that socket is used as it is, and left running. Needs root and Debian's packages (``.ci/run`` installs
them); :func:`start` raises :class:`Unavailable` saying what is missing."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

SOCKET = "/run/munge/munge.socket.2"  # munge's default socket
DAEMONS = ("munged", "mariadbd", "mariadb-install-db", "slurmdbd", "slurmctld", "slurmd", "sacctmgr", "sbatch")


class Unavailable(RuntimeError):
    pass


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(what: str, check, timeout: float = 60.0) -> None:
    end = time.time() + timeout
    while time.time() < end:
        if check():
            return
        time.sleep(0.5)
    raise Unavailable(f"{what} did not come up within {timeout:.0f} s")


def _ok(*cmd, env=None) -> bool:
    return subprocess.run(cmd, capture_output=True, env=env).returncode == 0


class Cluster:
    def __init__(self, root: Path):
        self.root = root
        self.env = {**os.environ, "SLURM_CONF": str(root / "slurm.conf")}

    def start(self) -> "Cluster":
        if os.geteuid() != 0:
            raise Unavailable("a test SLURM cluster needs root")
        missing = [d for d in DAEMONS if not shutil.which(d)]
        if missing:
            raise Unavailable(f"not installed: {', '.join(missing)} (.ci/run installs them with apt-get)")
        r = self.root
        for d in ("state", "spool", "log", "db"):
            (r / d).mkdir(parents=True, exist_ok=True)
        self._munge()
        self._database()
        node = subprocess.run(["slurmd", "-C"], capture_output=True, text=True, check=True).stdout.split()
        facts = dict(x.split("=", 1) for x in node if "=" in x)
        host, cpus = facts["NodeName"], int(facts["CPUs"])
        memory = int(int(facts["RealMemory"]) * 0.8)
        ctld, slurmd, dbd = _free_port(), _free_port(), self.dbd_port
        (r / "slurm.conf").write_text(f"""ClusterName=safemix-test
SlurmctldHost={host}(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation={r}/state
SlurmdSpoolDir={r}/spool
SlurmctldPidFile={r}/slurmctld.pid
SlurmdPidFile={r}/slurmd.pid
SlurmctldLogFile={r}/log/slurmctld.log
SlurmdLogFile={r}/log/slurmd.log
SlurmctldPort={ctld}
SlurmdPort={slurmd}
CommunicationParameters=NoInAddrAny,NoCtldInAddrAny
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/linux
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStoragePort={dbd}
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
MpiDefault=none
NodeName={host} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={memory} State=UNKNOWN
PartitionName=debug Nodes={host} Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
""")
        dbd_conf = r / "slurmdbd.conf"
        dbd_conf.write_text(f"""AuthType=auth/munge
DbdHost=localhost
DbdAddr=127.0.0.1
DbdPort={dbd}
CommunicationParameters=NoInAddrAny
SlurmUser=root
PidFile={r}/slurmdbd.pid
LogFile={r}/log/slurmdbd.log
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort={self.db_port}
StorageUser=slurm
StoragePass=safemix-test
StorageLoc=slurm_acct_db
""")
        dbd_conf.chmod(0o600)
        subprocess.run(["slurmdbd"], env=self.env, check=True)
        _wait("slurmdbd", lambda: _ok("sacctmgr", "-n", "list", "cluster", env=self.env))
        subprocess.run(["sacctmgr", "-i", "add", "cluster", "safemix-test"], env=self.env, capture_output=True)
        subprocess.run(["slurmctld"], env=self.env, check=True)
        subprocess.run(["slurmd"], env=self.env, check=True)
        _wait("the SLURM node", lambda: "idle" in subprocess.run(["sinfo", "-h", "-o", "%t"], env=self.env,
                                                                   capture_output=True, text=True).stdout)
        return self

    def _munge(self) -> None:
        """A munged for this cluster: a fresh key, its pid and log files in the cluster's folder."""
        if _ok("munge", "-n"):
            return
        r = self.root
        key = r / "munge.key"
        key.write_bytes(os.urandom(128))
        key.chmod(0o600)
        Path(SOCKET).parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["munged", "--force", f"--socket={SOCKET}", f"--pid-file={r}/munged.pid", f"--key-file={key}",
                        f"--log-file={r}/log/munged.log", f"--seed-file={r}/munged.seed"], check=True, capture_output=True)
        _wait("munged", lambda: _ok("munge", "-n"))

    def _database(self) -> None:
        r = self.root
        self.db_port, self.dbd_port = _free_port(), _free_port()
        subprocess.run(["mariadb-install-db", "--user=root", f"--datadir={r}/db", "--auth-root-authentication-method=normal"],
                       capture_output=True, check=True)
        sock = r / "mysql.sock"
        self.db = subprocess.Popen(["mariadbd", "--user=root", f"--datadir={r}/db", f"--socket={sock}",
                                    "--bind-address=127.0.0.1", f"--port={self.db_port}", f"--pid-file={r}/mysql.pid"],
                                   stdout=open(r / "log" / "mysql.log", "w"), stderr=subprocess.STDOUT)
        sql = ["mariadb", f"--socket={sock}", "-u", "root", "-e"]
        _wait("MariaDB", lambda: _ok(*sql, "select 1"))
        subprocess.run(sql + ["CREATE USER 'slurm'@'127.0.0.1' IDENTIFIED BY 'safemix-test'; "
                              "GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';"], check=True, capture_output=True)

    def stop(self) -> None:
        if shutil.which("scontrol"):  # where SLURM is not installed, start() said so and there is nothing to stop
            subprocess.run(["scontrol", "shutdown"], env=self.env, capture_output=True)
        pids = []
        for pid_file in ("slurmd.pid", "slurmctld.pid", "slurmdbd.pid", "munged.pid"):
            try:
                pids.append(int((self.root / pid_file).read_text()))
                os.kill(pids[-1], 15)
            except (OSError, ValueError):
                pass

        def gone(pid: int) -> bool:
            try:
                os.kill(pid, 0)
            except OSError:
                return True
            return Path(f"/proc/{pid}/status").read_text().find("State:\tZ") >= 0  # exited, not yet reaped

        try:
            _wait("the SLURM daemons' exit", lambda: all(map(gone, pids)), timeout=30)
        except Unavailable:
            pass
        if getattr(self, "db", None):
            self.db.terminate()
            self.db.wait(30)


@pytest.fixture(scope="module")
def slurm(tmp_path_factory):
    """A started single-node cluster (skipped, saying why, where it cannot run)."""
    cluster = Cluster(tmp_path_factory.mktemp("slurm"))
    try:
        cluster.start()
    except Unavailable as exc:
        cluster.stop()
        pytest.skip(f"no SLURM cluster: {exc}")
    yield cluster
    cluster.stop()
