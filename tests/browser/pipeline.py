"""A real fwchain pipeline on loopback for the dashboard's browser tests.

Runs the real executables as scripts/demo does, smaller and faster: a Git repo with two tagged
firmware builds; vendor init; a mining ledger node; the vendor server; one gateway (plain HTTP
fetches); three `cam` devices and one `door` device provisioned. v1.0.0 is published and every
cam device installs it; v1.1.0 is published, cam-001 and cam-002 install it and cam-003's health
check fails, so it rolls back and stays on 1.0.0. Every process it starts is stopped by stop().
Waits are polls with deadlines (each poll is a real check, never a fixed pause).
"""

import hashlib
import json
import os
import re
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request


class PipelineError(RuntimeError):
    pass


# Set when the pipeline stops: every wait_for ends at once instead of running out its deadline.
STOPPING = threading.Event()


def wait_for(what, check, timeout=60.0, interval=0.05):
    """Polls check() until it returns something truthy, with a deadline; between checks it waits
    on STOPPING, so stopping the pipeline wakes every waiter."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise PipelineError("timed out waiting for " + what)
        if STOPPING.wait(interval):
            raise PipelineError("stopped while waiting for " + what)


class Pipeline:
    def __init__(self, bin_dir, work):
        self.bin = bin_dir
        self.work = work
        self.logs = os.path.join(work, "logs")
        os.makedirs(self.logs, exist_ok=True)
        self.procs = []
        self.ledger = None
        self.gateway = None

    # ------------------------------------------------------------------ processes

    def run(self, *args, ok=(0,)):
        """Runs one of our executables to completion; returns (exit code, stdout)."""
        cmd = [os.path.join(self.bin, args[0])] + [str(a) for a in args[1:]]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if p.returncode not in ok:
            raise PipelineError("%s exited %d:\n%s%s" % (" ".join(cmd), p.returncode, p.stdout,
                                                         p.stderr))
        return p.returncode, p.stdout

    def start(self, name, *args):
        """Starts a server, waits for its 'listening on HOST:PORT' line, returns its URL."""
        log_path = os.path.join(self.logs, name + ".log")
        cmd = [os.path.join(self.bin, args[0])] + [str(a) for a in args[1:]]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.procs.append(proc)
        # A thread copies the output into the log and signals the "listening on" line (or the
        # end of the output): the test waits on that event, it does not poll.
        found = {}
        ready = threading.Event()

        def copy():
            with open(log_path, "w") as log:
                for line in proc.stdout:
                    log.write(line)
                    log.flush()
                    m = re.match(r"listening on (\S+)", line)
                    if m and "url" not in found:
                        found["url"] = m.group(1)
                        ready.set()
            ready.set()

        threading.Thread(target=copy, daemon=True).start()
        if not ready.wait(60) or "url" not in found:
            with open(log_path) as f:
                raise PipelineError("%s did not start:\n%s" % (name, f.read()))
        return "http://" + found["url"]

    def stop(self):
        STOPPING.set()
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
        for p in self.procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.procs = []

    # ------------------------------------------------------------------ ledger API

    def get(self, path, **params):
        q = urllib.parse.urlencode({k: v for k, v in params.items() if v is not None})
        url = self.ledger + path + ("?" + q if q else "")
        with urllib.request.urlopen(url, timeout=30) as r:
            return json.load(r)

    def post(self, path, body):
        req = urllib.request.Request(self.ledger + path, data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, json.load(r)
        except urllib.error.HTTPError as e:
            return e.code, json.load(e)

    def search_all(self, **params):
        """Every result of GET /v1/search for these filters, newest first."""
        out, cursor = [], None
        while True:
            page = self.get("/v1/search", limit=1000, cursor=cursor, **params)
            out += page["results"]
            cursor = page["next_cursor"]
            if not cursor:
                return out

    # ------------------------------------------------------------------ the pipeline

    def git(self, *args):
        subprocess.run(["git", "-C", self.repo] + list(args), check=True, capture_output=True)

    def make_repo(self):
        self.repo = os.path.join(self.work, "firmware")
        subprocess.run(["git", "init", "-q", self.repo], check=True)
        self.git("config", "user.name", "Release CI")
        self.git("config", "user.email", "ci@acme.example")
        for n, (tag, notes) in enumerate([("v1.0.0", "First release: camera pipeline"),
                                          ("v1.1.0", "Night mode and security fixes")]):
            with open(os.path.join(self.repo, "fw.bin"), "wb") as f:
                f.write(os.urandom(128 * 1024))
            self.git("add", "fw.bin")
            self.git("commit", "-qm", "firmware " + tag)
            self.git("tag", "-a", tag, "-m", notes)

    def device_dir(self, device):
        return os.path.join(self.work, "devices", device)

    def installed(self, device):
        _, out = self.run("device-agent", "status", "--state", self.device_dir(device), "--json")
        return (json.loads(out).get("installed") or {}).get("version")

    def boot(self, device, *extra):
        rc, _ = self.run("device-agent", "boot", "--state", self.device_dir(device), "--gateway",
                         self.gateway, "--json", *extra, ok=(0, 10, 20))
        return rc

    def boot_until_installed(self, device, version):
        # Exit 0 = nothing offered yet (the gateway waits for confirmations), 10 = installed
        # into the other slot (the next boot commits it).
        wait_for(device + " to run " + version,
                 lambda: self.installed(device) == version or (self.boot(device) and False),
                 timeout=90, interval=0.2)

    def boot_until_rolled_back(self, device):
        wait_for(device + " to roll back",
                 lambda: self.boot(device, "--health-check", "false") == 20,
                 timeout=90, interval=0.2)

    def publish(self, tag):
        self.run("vendor-server", "publish", "--data", self.vendor_dir, "--repo", self.repo,
                 "--tag", tag, "--image", "tree:fw.bin", "--product", "cam", "--hardware",
                 "rev-b", "--ledger", self.ledger)

    def ledger_holds(self, device, state, version):
        return any(version is None or r["tx"]["ver"] == version for r in
                   self.search_all(device=device, type="update", state=state))

    def run_all(self):
        self.make_repo()
        self.vendor_dir = os.path.join(self.work, "vendor")
        _, out = self.run("vendor-server", "init", "--data", self.vendor_dir, "--vendor", "acme",
                          "--json")
        self.genesis = json.loads(out)["genesis_hash"]
        self.ledger_dir = os.path.join(self.work, "ledger")
        self.ledger = self.start(
            "ledger", "ledger", "node", "--data", self.ledger_dir, "--listen", "127.0.0.1:0",
            "--genesis", self.genesis, "--genesis-file",
            os.path.join(self.vendor_dir, "genesis.json"), "--mine", "--key",
            os.path.join(self.vendor_dir, "keys", "node.key"))
        vendor = self.start("vendor", "vendor-server", "serve", "--data", self.vendor_dir,
                            "--listen", "127.0.0.1:0", "--ledger", self.ledger,
                            "--bt-listen", "127.0.0.1:0")
        self.gateway = self.start(
            "gateway", "gateway", "run", "--data", os.path.join(self.work, "gateway"),
            "--vendor", vendor, "--ledger", self.ledger, "--listen", "127.0.0.1:0", "--root",
            os.path.join(self.vendor_dir, "metadata", "root", "1.json"), "--poll-interval", "1",
            "--bt-listen", "127.0.0.1:0", "--no-bittorrent")
        self.cams = ["cam-001", "cam-002", "cam-003"]
        for device, product in [(d, "cam") for d in self.cams] + [("door-001", "door")]:
            self.run("vendor-server", "provision", "--data", self.vendor_dir, "--device-id",
                     device, "--product", product, "--hardware", "rev-b", "--out",
                     self.device_dir(device), "--ledger", self.ledger)

        self.publish("v1.0.0")
        for d in self.cams:
            self.boot_until_installed(d, "1.0.0")
        self.publish("v1.1.0")
        for d in self.cams[:2]:
            self.boot_until_installed(d, "1.1.0")
        self.boot_until_rolled_back("cam-003")
        if self.installed("cam-003") != "1.0.0":
            raise PipelineError("cam-003 should be back on 1.0.0")

        # The reports travel device -> gateway -> ledger mempool -> a block.
        wait = [(d, "installed", "1.1.0") for d in self.cams[:2]]
        wait += [("cam-003", "installed", "1.0.0"), ("cam-003", "rolled-back", None)]
        for device, state, version in wait:
            def held():
                if self.ledger_holds(device, state, version):
                    return True
                self.boot(device)  # a boot also sends the reports still queued on the device
                return False
            wait_for("the ledger to record %s %s %s" % (device, state, version), held,
                     timeout=60, interval=0.5)

    # ------------------------------------------------------------------ a compromised device

    def device_report(self, device, reason, gateway, state="failed"):
        """An update tx signed with the device's own key, with free-text fields of our choice:
        what a compromised device can put on the ledger. Returns (tx, its id), not yet posted."""
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
        with open(os.path.join(self.device_dir(device), "device.key")) as f:
            key = json.load(f)
        signer = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(key["private"]))
        last = self.search_all(device=device)
        nonce = max(r["tx"]["nonce"] for r in last) + 1
        tx = {
            "type": "update", "sender": key["public"], "recipient": device,
            "ver": last[0]["tx"]["ver"], "verifier": last[0]["tx"]["verifier"],
            "state": state, "time": int(time.time()), "nonce": nonce,
            "body": {"product": "cam", "sequence": 2, "previous_sequence": 1,
                     "gateway": gateway, "reason": reason},
        }
        # Canonical form (docs/protocol.md): sorted keys, no whitespace, UTF-8.
        canonical = json.dumps(tx, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        tx["sig"] = signer.sign(canonical.encode()).hex()
        signed = json.dumps(tx, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        tx_id = hashlib.sha256(signed.encode()).hexdigest()
        return tx, tx_id

    def post_together(self, devices, reason):
        """Posts one report per device at the same moment, so that the miner's next block
        likely holds several; returns their ids once every one is mined."""
        from concurrent.futures import ThreadPoolExecutor
        txs = [self.device_report(d, reason, "gw-batch", state="up-to-date") for d in devices]
        with ThreadPoolExecutor(len(txs)) as pool:
            answers = list(pool.map(lambda t: self.post("/v1/tx", t[0]), txs))
        for status, body in answers:
            if status != 200:
                raise PipelineError("report refused: %d %s" % (status, body))
        ids = [tx_id for _, tx_id in txs]
        wait_for("the reports to be mined", lambda: all(
            self.get("/v1/tx/" + i)["confirmations"] >= 1 for i in ids), timeout=30)
        return ids
