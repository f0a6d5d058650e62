"""Processes of the transfer benchmark: started, watched and stopped by PID.

Every process the benchmark starts goes through `Proc`, which records it in
`LIVE` so that `stop_all` (run at exit and on SIGINT/SIGTERM) can stop what
is left: SIGTERM, then SIGKILL after a grace period, then reaped. Nothing is
ever stopped by name.
"""
import os
import signal
import socket
import subprocess
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")

# Processes started and not yet reaped.
LIVE = []


class Proc:
    """A child process we started; `wait` follows it until it exits, polling
    its anonymous memory, and keeps the rusage of its exit."""

    def __init__(self, name, argv, log_path, stdin=False, env=None):
        self.name = name
        self.argv = argv
        self.log_path = log_path
        self.log = open(log_path, "wb")
        self.t0 = time.monotonic()
        self.popen = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        self.pid = self.popen.pid
        self.status = None  # exit status (os.waitstatus_to_exitcode) once reaped
        self.rusage = None  # rusage of the reaped process
        self.peak_anon_kib = 0  # largest RssAnon seen while polling
        self.last_cpu = None  # utime+stime (s) from /proc/PID/stat at the last poll
        self.t_end = None  # monotonic time it exited (or signalled completion)
        self.io = {}  # /proc/PID/io at the last poll: rchar counts socket reads too
        LIVE.append(self)

    def send(self, line):
        """Writes one command line to its stdin."""
        self.popen.stdin.write((line + "\n").encode())
        self.popen.stdin.flush()

    def reap(self, block=False):
        """Reaps it if it has exited; returns True once it is reaped."""
        if self.status is not None:
            return True
        try:
            pid, st, ru = os.wait4(self.pid, 0 if block else os.WNOHANG)
        except ChildProcessError:
            self.status = -1
            self._forget()
            return True
        if pid == 0:
            return False
        self.t_end = self.t_end or time.monotonic()
        self.status = os.waitstatus_to_exitcode(st)
        self.rusage = ru
        self.popen.returncode = self.status
        self._forget()
        return True

    def _forget(self):
        if self in LIVE:
            LIVE.remove(self)
        try:
            self.log.close()
        except OSError:
            pass

    def poll_stats(self):
        """Reads RssAnon and CPU time from /proc while it runs."""
        try:
            with open("/proc/%d/status" % self.pid) as f:
                for line in f:
                    if line.startswith("RssAnon:"):
                        kib = int(line.split()[1])
                        self.peak_anon_kib = max(self.peak_anon_kib, kib)
                        break
            self.last_cpu = cpu_seconds(self.pid)
            with open("/proc/%d/io" % self.pid) as f:
                self.io = {k: int(v) for k, v in (line.split(":") for line in f)}
        except (OSError, ValueError, IndexError):
            pass

    def cpu(self):
        """CPU seconds (user + system): from the rusage of its exit if it was
        reaped on its own, else from the last /proc poll."""
        if self.rusage is not None and self.ended_on_its_own:
            return self.rusage.ru_utime + self.rusage.ru_stime
        return self.last_cpu

    ended_on_its_own = False

    def wait(self, timeout, done=None, interval=0.01, stats_every=0.02):
        """Follows it until it exits (or `done()` says it has finished),
        polling RssAnon every `stats_every` s. Returns "exit" or "done";
        raises TimeoutError after `timeout` s."""
        deadline = time.monotonic() + timeout
        next_stats = 0.0
        while True:
            now = time.monotonic()
            if now >= next_stats:
                self.poll_stats()
                next_stats = now + stats_every
            if done is not None and done():
                self.t_end = time.monotonic()
                self.poll_stats()
                return "done"
            if self.reap():
                self.ended_on_its_own = True
                return "exit"
            if now > deadline:
                raise TimeoutError("%s did not finish within %.0f s" % (self.name, timeout))
            time.sleep(interval)

    def tail(self, n=5):
        """The last lines of its output, for error messages."""
        try:
            with open(self.log_path, "rb") as f:
                lines = f.read().decode(errors="replace").strip().splitlines()
            return " | ".join(l.strip()[-200:] for l in lines[-n:])
        except OSError:
            return ""

    def stop(self, grace=5.0):
        """SIGTERM, then SIGKILL after `grace` s; always reaped."""
        if self.reap():
            return
        try:
            os.kill(self.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            if self.reap():
                return
            time.sleep(0.02)
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.reap(block=True)


def stop_all():
    for p in list(LIVE):
        p.stop()


def cpu_seconds(pid):
    """utime + stime of a live process, from /proc/PID/stat."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # fields[0] is the state (field 3); utime and stime are fields 14 and 15.
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def free_port():
    """A free TCP port on 127.0.0.1, picked by the OS."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def listening(port):
    """Whether some socket listens on TCP `port` (read from /proc/net/tcp, so
    no connection disturbs the listener)."""
    want = ":%04X" % port
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(path) as f:
                next(f)
                for line in f:
                    parts = line.split()
                    if parts[1].endswith(want) and parts[3] == "0A":
                        return True
        except OSError:
            pass
    return False


def wait_until(what, timeout, cond, interval=0.005):
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise TimeoutError("timed out after %.0f s waiting for %s" % (timeout, what))
        time.sleep(interval)
