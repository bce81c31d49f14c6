#!/usr/bin/env python3
"""`occ setup` end to end against a real dockerd, the wizard driven through a
pseudo-terminal (stdlib only: pty, os, select).

    setup-pty.py OCC_BIN SOURCE_DIR

1. Without a terminal and without --yes: explains, exits 64, writes nothing.
2. --yes --no-apply: writes the defaults (embedded build, port 3000).
3. The wizard on a pty: port, loopback, user + password (twice, never echoed;
   a mismatch asks again), workspace, pull an image (a local busybox test image); the state file holds
   a crypt hash and comments, and the service runs (docker inspect).
4. Re-run on that file: the prompts offer the current values (the port among
   them); a new port is written surgically, the user's own comment survives.

Uses a project name and ports unique to the run; removes what it created.
"""
import os
import pty
import select
import shutil
import subprocess
import sys
import tempfile

OCC, SRC = sys.argv[1], sys.argv[2]
PID = os.getpid()
PROJECT = "occ-setup-pty-%d" % PID
IMAGE = "occ-setup-pty:%d" % PID
PORT = 23200 + PID % 40
PORT2 = PORT + 40
PASSWORD = "pty-secret-%d" % PID
WAIT_S = 60  # liveness guard only: no timing is asserted


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    raise SystemExit(1)


def env_for(tmp):
    env = dict(os.environ)
    env.update(XDG_CONFIG_HOME=tmp + "/config", XDG_DATA_HOME=tmp + "/data",
               NO_COLOR="1", TERM="dumb")
    env.pop("DOCKER_HOST", None)
    return env


class Pty:
    """A child on a pseudo-terminal, with expect/send."""

    def __init__(self, argv, env):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            try:
                os.execvpe(argv[0], argv, env)
            finally:
                os._exit(127)
        self.buf = b""
        self.seen = b""

    def _read(self):
        r, _, _ = select.select([self.fd], [], [], WAIT_S)
        if not r:
            fail("no output from occ setup; so far:\n" + self.seen.decode(errors="replace"))
        try:
            data = os.read(self.fd, 4096)
        except OSError:
            data = b""
        self.buf += data
        self.seen += data
        return data

    def expect(self, text):
        want = text.encode()
        while want not in self.buf:
            if not self._read():
                fail("occ setup ended before %r; output:\n%s"
                     % (text, self.seen.decode(errors="replace")))
        self.buf = self.buf[self.buf.index(want) + len(want):]

    def prompt(self, text, answer):
        self.expect(text)
        os.write(self.fd, (answer + "\n").encode())

    def finish(self):
        while self._read():
            pass
        _, status = os.waitpid(self.pid, 0)
        os.close(self.fd)
        return os.waitstatus_to_exitcode(status), self.seen.decode(errors="replace")


def sh(cmd):
    return subprocess.run(cmd, shell=True, capture_output=True, text=True)


def cleanup(tmp):
    sh("ids=$(docker ps -aq --filter label=dev.opencode-cloud.project=%s); "
       "[ -z \"$ids\" ] || docker rm -f $ids; "
       "vols=$(docker volume ls -q --filter label=dev.opencode-cloud.project=%s); "
       "[ -z \"$vols\" ] || docker volume rm $vols; docker rmi %s" % (PROJECT, PROJECT, IMAGE))
    shutil.rmtree(tmp, ignore_errors=True)


def test_no_terminal(tmp, env):
    state = tmp + "/none.yaml"
    r = subprocess.run([OCC, "setup", "-f", state], stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, env=env, start_new_session=True)
    if r.returncode != 64:
        fail("setup without a terminal: exit %d, want 64\n%s" % (r.returncode, r.stderr))
    if "--yes" not in r.stderr or "terminal" not in r.stderr:
        fail("setup without a terminal does not explain what to run:\n" + r.stderr)
    if os.path.exists(state):
        fail("setup without a terminal wrote " + state)


def test_yes_defaults(tmp, env):
    state = tmp + "/defaults.yaml"
    r = subprocess.run([OCC, "setup", "--yes", "--no-apply", "-f", state],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, env=env)
    if r.returncode != 0:
        fail("setup --yes --no-apply: exit %d\n%s" % (r.returncode, r.stderr))
    text = open(state).read()
    for want in ("port: 3000", "context: embedded", 'bind: "127.0.0.1"', "users: []", "# "):
        if want not in text:
            fail("setup --yes: %r not in the state file:\n%s" % (want, text))
    r = subprocess.run([OCC, "validate", "-f", state], capture_output=True, text=True, env=env)
    if r.returncode != 0:
        fail("the state setup --yes wrote does not validate:\n" + r.stderr)


def wizard(tmp, env, state, workspace):
    p = Pty([OCC, "setup", "-f", state, "--name", PROJECT], env)
    p.prompt("Port to publish opencode on [3000]: ", str(PORT))
    p.prompt("from the network (n)? [l]: ", "l")
    p.prompt("First user name (empty: none, this machine only)", "alice")
    p.prompt("New password for alice: ", PASSWORD)
    p.prompt("Repeat the password for alice: ", PASSWORD + "-typo")
    p.expect("do not match")  # asked again, not aborted
    p.prompt("New password for alice: ", PASSWORD)
    p.prompt("Repeat the password for alice: ", PASSWORD)
    p.prompt("Host directory to mount as /home/alice/workspace (empty: none): ", workspace)
    p.prompt("or pull one (p)? [b]: ", "p")
    p.prompt("Image reference to pull [opencode-cloud:local]: ", IMAGE)
    p.expect("Summary")
    p.prompt("[y/N] ", "y")
    code, out = p.finish()
    if os.environ.get("SETUP_PTY_VERBOSE"):
        print(out)
    if code != 0:
        fail("the wizard: exit %d\n%s" % (code, out))
    if PASSWORD in out:
        fail("the password was echoed:\n" + out)
    if "opencode is running at http://127.0.0.1:%d/" % PORT not in out:
        fail("the wizard does not print the URL:\n" + out)
    text = open(state).read()
    if PASSWORD in text:
        fail("the plain password is in the state file")
    for want in ("port: %d" % PORT, 'name: "alice"', 'password_hash: "$', workspace,
                 "/home/alice/workspace", IMAGE, "# Who can log in"):
        if want not in text:
            fail("%r not in the state file:\n%s" % (want, text))
    if "build:" in text:
        fail("a pulled image got image.build:\n" + text)
    r = sh("docker inspect -f '{{.State.Running}} {{.Config.Image}}' " + PROJECT)
    if r.stdout.strip() != "true " + IMAGE:
        fail("the service is not running: " + r.stdout + r.stderr)
    r = sh("docker exec %s grep -c '^alice:' /etc/passwd" % PROJECT)
    if r.stdout.strip() != "1":
        fail("no account alice in the container: " + r.stdout + r.stderr)


def rerun(tmp, env, state, workspace):
    with open(state, "a") as f:
        f.write("# my own note: keep me\n")
    p = Pty([OCC, "setup", "-f", state], env)
    p.prompt("Port to publish opencode on [%d]: " % PORT, str(PORT2))
    p.prompt("from the network (n)? [l]: ", "")
    p.prompt("First user name (empty: none, this machine only) [alice]: ", "")
    p.prompt("Change the password of this existing user? (y/n) [n]: ", "")
    p.prompt("(empty: none) [%s]: " % workspace, "")
    p.prompt("or pull one (p)? [p]: ", "")
    p.prompt("Image reference to pull [%s]: " % IMAGE, "")
    p.expect("Summary")
    p.prompt("[y/N] ", "y")
    code, out = p.finish()
    if os.environ.get("SETUP_PTY_VERBOSE"):
        print(out)
    if code != 0:
        fail("the re-run: exit %d\n%s" % (code, out))
    text = open(state).read()
    for want in ("port: %d" % PORT2, "# my own note: keep me", "# Who can log in", 'name: "alice"'):
        if want not in text:
            fail("re-run: %r not in the state file:\n%s" % (want, text))
    if text.count("- name:") != 1 or text.count("- source:") != 1:
        fail("re-run duplicated a user or a mount:\n" + text)
    if not os.path.exists(state + ".bak"):
        fail("re-run kept no FILE.bak")
    r = sh("docker port %s 3000" % PROJECT)
    if ("127.0.0.1:%d" % PORT2) not in r.stdout:
        fail("the service is not on the new port: " + r.stdout + r.stderr)


def main():
    tmp = tempfile.mkdtemp(prefix="occ-setup-pty-")
    env = env_for(tmp)
    try:
        ctx, workspace = tmp + "/ctx", tmp + "/workspace"
        shutil.copytree(SRC + "/tests/images/busybox-httpd", ctx)
        shutil.copy("/bin/busybox", ctx)
        os.mkdir(workspace)
        r = sh("docker build -q -t %s %s" % (IMAGE, ctx))
        if r.returncode != 0:
            fail("cannot build the test image: " + r.stderr)
        state = tmp + "/state.yaml"
        test_no_terminal(tmp, env)
        test_yes_defaults(tmp, env)
        wizard(tmp, env, state, workspace)
        rerun(tmp, env, state, workspace)
    finally:
        cleanup(tmp)
    print("ok")


if __name__ == "__main__":
    main()
