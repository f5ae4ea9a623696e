"""Headless Chromium with the network off, for what a user sees in a browser."""

import shutil
import subprocess
from pathlib import Path

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
BROWSER = next(filter(None, map(shutil.which, BROWSERS)), None)
NO_BROWSER = "no headless Chromium to draw the page in: `apt-get install chromium` (Debian, Ubuntu) or put one on PATH"

# Where no network namespace can be made, every request goes to a proxy that refuses it (loopback too)
# and every host name fails to resolve.
NO_NETWORK_FLAGS = ("--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>",
                    "--host-resolver-rules=MAP * ~NOTFOUND")


def _own_network_namespace() -> tuple[str, ...]:
    """`unshare` into a network namespace with only a loopback that is down, where the kernel allows."""
    unshare = shutil.which("unshare")
    if unshare and subprocess.run([unshare, "-rn", "true"], capture_output=True).returncode == 0:
        return (unshare, "-rn")
    return ()


def dump_dom(url: str, profile: Path, offline: bool = True) -> str:
    """The page's DOM once its scripts have run (up to 20 s of the page's virtual time)."""
    command = [BROWSER, "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={profile}",
               "--virtual-time-budget=20000", "--dump-dom", url]
    if offline:
        command = [*_own_network_namespace(), *command[:1], *NO_NETWORK_FLAGS, *command[1:]]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout
